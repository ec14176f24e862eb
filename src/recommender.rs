//! The façade the browser binding and the tests call: a catalog, a user tower and the visitor's
//! history; record an interaction, get fresh recommendations.
//!
//! Work is reused across interactions: the user embedding is recomputed once per recorded
//! interaction (not per `recommend`), the ranker keeps its scratch buffers, and the set of seen
//! items is kept sorted for the exclusion filter.

use std::rc::Rc;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{EncodedHistory, Event, Kind, UserModel};
use crate::rank::{Query, TopK};
use crate::rerank::{sort_best_first, Candidate, RankingStage, Scored as Ranked, Scratch, StageInput};

/// How many raw events the recommender keeps in memory (oldest dropped first): the history's own
/// cap ([`crate::history::MAX_EVENTS`]). The tower reads the newest `max_len` distinct items and,
/// with a memory, the newest `memory` (its `reach()`); the rest is for "exclude what was seen". The
/// browser keeps fewer by default ([`crate::history::Bounds`]: 500 events of at most 90 days), so a
/// long memory fills only as far as the app's retention allows.
pub const MAX_EVENTS: usize = crate::history::MAX_EVENTS;

/// Options of [`Recommender::recommend`].
#[derive(Debug, Clone, Default)]
pub struct RecommendOptions<'a> {
    pub k: usize,
    /// Leave out every item in the history.
    pub exclude_seen: bool,
    /// Further rows to leave out.
    pub exclude: &'a [u32],
    /// Only these category codes, when given.
    pub categories: Option<&'a [u32]>,
    /// Diversity: at most this many results from one category (`None` or 0: no limit). If the
    /// catalog cannot fill `k` slots under the cap, the best remaining items fill the rest.
    pub max_per_category: Option<usize>,
}

/// How far dismissed items push the query away ([`Recommender::dismiss`]), in units of the user
/// embedding's length: the query is `e - DISMISS_WEIGHT · |e| · mean(dismissed vectors)`, so an
/// item loses score in proportion to its similarity to what the visitor dismissed (Rocchio's
/// negative feedback), inside the scan, and unrelated items keep theirs.
pub const DISMISS_WEIGHT: f32 = 0.5;

/// Most results one answer holds, and so most pins a rule set may hold (defined with the
/// manifest's rules, which it also bounds).
pub use crate::manifest::MAX_K;

/// Business rules applied to every recommendation ([`Recommender::set_rules`]), in catalog rows
/// and category codes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// Never recommended (a guardrail): left out inside the scan, like `exclude`.
    pub block: Vec<u32>,
    /// Added to the score of every item of a category code: positive boosts, negative buries. In
    /// the units of [`Recommendation::score`] (the ranking stage's score, or the inner product).
    pub boosts: Vec<(u32, f32)>,
    /// Items placed at fixed 0-based positions `(row, position)`. A pin obeys every filter (seen,
    /// blocked, dismissed, excluded, category); a position past the end of the list puts the item
    /// last.
    pub pins: Vec<(u32, u32)>,
}

/// Why an item was recommended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The history item (catalog row) closest to the recommended one, and what the visitor did
    /// with it: "because you viewed X".
    Because { item: u32, kind: Kind },
    /// Lifted by the item-item weights of the ranking stage: the history item (catalog row) it is
    /// most often had with, and what the visitor did with that item: "often bought with X".
    Together { item: u32, kind: Kind },
    /// A cold-start answer: one of the catalog's popular items.
    Popular,
    /// Placed by a pin of the [`Rules`].
    Pinned,
}

/// One recommended item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    /// Catalog row.
    pub index: u32,
    /// The ranking stage's score, or the inner product with the user embedding without a ranking
    /// stage (0 for cold-start answers and pins), plus the boost of its category ([`Rules`]).
    pub score: f32,
    pub reason: Reason,
}

/// What [`Recommender::explain`] returns: the tower's view of the history and each result's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The history as the tower reads it (slots newest first, kinds, recency buckets, the memory's
    /// rows and weights); `None` with an empty history.
    pub encoded: Option<EncodedHistory>,
    /// Attention weight of each slot for each head, `slots × heads`, row-major.
    pub attention: Vec<f32>,
    pub heads: usize,
    /// The user embedding, and the query the scan used (moved away from the dismissed items).
    pub embedding: Option<Vec<f32>>,
    pub query: Option<Vec<f32>>,
    pub results: Vec<ExplainedResult>,
    /// The tower's self-check through this item table: the largest difference from the trainer's
    /// embedding of its check history (`None` if the export ships no check, or if this table has
    /// fewer rows than that history names).
    pub tower_check: Option<f32>,
    /// The ranking stage's self-check ([`Recommender::check_ranking_stage`]).
    pub ranker_check: Option<RankerCheck>,
}

/// One result of [`Recommender::explain`] with its score per stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExplainedResult {
    pub recommendation: Recommendation,
    /// Inner product of the query and the item's vector (`None` for cold-start answers).
    pub tower: Option<f32>,
    /// The ranking stage's score, before the boost (`None` without a stage, cold start or a pin).
    pub stage: Option<f32>,
    /// The boost of its category ([`Rules`]).
    pub boost: f32,
}

/// How many candidates the diversity re-ranking looks at, per requested slot.
const DIVERSITY_POOL: usize = 8;

/// See the module docs.
#[derive(Debug)]
pub struct Recommender {
    catalog: Rc<Catalog>,
    model: UserModel,
    topk: TopK,
    events: Vec<Event>,
    seen: Vec<u32>,
    embedding: Option<Vec<f32>>,
    /// The embedding moved away from the dismissed items: what the scan searches with.
    query: Option<Vec<f32>>,
    exclude: Vec<u32>,
    popular: Vec<u32>,
    stage: Option<Stage>,
    rules: Rules,
    /// Dismissed rows ("not interested"), oldest first, each once.
    dismissed: Vec<u32>,
}

#[derive(Debug)]
struct Stage {
    ranker: Rc<RankingStage>,
    scratch: Scratch,
    candidates: Vec<Candidate>,
}

/// What [`Recommender::check_ranking_stage`] found: the shipped self-check against this build's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankerCheck {
    /// The same rows, in the same order.
    pub same_rows: bool,
    /// The largest score difference over the expected rows.
    pub max_score_diff: f32,
}

impl Recommender {
    /// Checks that the tower reads vectors of the catalog's dimension.
    pub fn new(catalog: Rc<Catalog>, model: UserModel) -> Result<Recommender> {
        if model.config().dim != catalog.dim() {
            return Err(Error::TowerCatalogMismatch { tower: model.config().dim, catalog: catalog.dim() });
        }
        Ok(Recommender {
            catalog,
            model,
            topk: TopK::new(),
            events: Vec::new(),
            seen: Vec::new(),
            embedding: None,
            query: None,
            exclude: Vec::new(),
            popular: Vec::new(),
            stage: None,
            rules: Rules::default(),
            dismissed: Vec::new(),
        })
    }

    /// Adds (or with `None` removes) the ranking stage: the tower's candidates are then re-ranked
    /// with the item-item weights ([`crate::rerank`]). The ranker must cover this catalog.
    pub fn set_ranking_stage(&mut self, ranker: Option<Rc<RankingStage>>) -> Result<()> {
        if let Some(r) = &ranker {
            r.check_catalog(&self.catalog)?;
        }
        self.stage = ranker.map(|ranker| Stage { ranker, scratch: Scratch::default(), candidates: Vec::new() });
        Ok(())
    }

    /// Attaches a pq table's refine plane ([`crate::catalog::PqResidual`]) to this recommender's
    /// catalog and re-embeds the history with the refined rows. In place when no one else holds
    /// the catalog (the browser binding makes sure of it), else on a copy. A plane that does not
    /// fit the table is refused and changes nothing.
    pub fn attach_residual(&mut self, plane: crate::catalog::PqResidual) -> Result<()> {
        match Rc::get_mut(&mut self.catalog) {
            Some(c) => c.attach_residual(plane)?,
            None => {
                let mut c = (*self.catalog).clone();
                c.attach_residual(plane)?;
                self.catalog = Rc::new(c);
            }
        }
        self.refresh()
    }

    /// The ranking stage in use, if any.
    pub fn ranking_stage(&self) -> Option<&Rc<RankingStage>> {
        self.stage.as_ref().map(|s| &s.ranker)
    }

    /// Runs the self-check shipped in `ranker.bin` (a history and the trainer's top 10 for it, the
    /// history's items excluded) through this recommender's model and catalog, without touching
    /// the visitor's history. `None` without a ranking stage or a self-check, and where the check
    /// does not apply: the trainer computed it over one item table ([`crate::rerank::SelfCheck::table`],
    /// int8 when the file does not say), so over another table ([`Catalog::precision`]), or with a
    /// refine plane attached (int8's or pq's), its top 10 is not this catalog's to match.
    pub fn check_ranking_stage(&mut self) -> Result<Option<RankerCheck>> {
        let Some(stage) = self.stage.as_mut() else { return Ok(None) };
        let Some(check) = stage.ranker.check.clone() else { return Ok(None) };
        if self.catalog.refine().is_some()
            || self.catalog.residual().is_some()
            || self.catalog.precision() != check.table.unwrap_or("int8")
        {
            return Ok(None);
        }
        let embedding = self.model.embed(&self.catalog, &check.events)?;
        let mut exclude: Vec<u32> = check.events.iter().map(|e| e.item).collect();
        exclude.sort_unstable();
        exclude.dedup();
        let input = StageInput {
            catalog: &self.catalog,
            embedding: &embedding,
            events: &check.events,
            exclude: &exclude,
            categories: None,
            min_tower: 0,
        };
        let ranker = stage.ranker.clone();
        let (ranked, _) = ranker.rank(&mut stage.scratch, &mut self.topk, &input, &mut stage.candidates)?;
        let same_rows = ranked.len() >= check.expected.len()
            && ranked.iter().zip(&check.expected).all(|(r, &(row, _))| r.row == row);
        let max_score_diff =
            ranked.iter().zip(&check.expected).map(|(r, &(_, s))| (r.score - s).abs()).fold(0f32, f32::max);
        Ok(Some(RankerCheck { same_rows, max_score_diff }))
    }

    pub fn catalog(&self) -> &Rc<Catalog> {
        &self.catalog
    }

    pub fn model_mut(&mut self) -> &mut UserModel {
        &mut self.model
    }

    /// The recorded events, oldest first (catalog rows).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The current user embedding (`None` before the first interaction).
    pub fn embedding(&self) -> Option<&[f32]> {
        self.embedding.as_deref()
    }

    /// The cold-start list (catalog rows, best first) that [`Recommender::recommend`] answers
    /// with while the history is empty. Rows outside the catalog are an error.
    pub fn set_popular(&mut self, rows: &[u32]) -> Result<()> {
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= self.catalog.len()) {
            return Err(Error::IndexOutOfRange { index: r, len: self.catalog.len() });
        }
        self.popular = rows.to_vec();
        Ok(())
    }

    /// Records an interaction with catalog row `item` and updates the embedding at once.
    pub fn record(&mut self, item: u32, kind: Kind, time: f64) -> Result<()> {
        if item as usize >= self.catalog.len() {
            return Err(Error::IndexOutOfRange { index: item, len: self.catalog.len() });
        }
        if !time.is_finite() {
            return Err(Error::NonFiniteTime(time));
        }
        self.events.push(Event { item, kind, time });
        if self.events.len() > MAX_EVENTS {
            let drop = self.events.len() - MAX_EVENTS;
            self.events.drain(..drop);
        }
        if let Err(pos) = self.seen.binary_search(&item) {
            self.seen.insert(pos, item);
        }
        self.refresh()
    }

    /// Replaces the whole history (a returning visitor's stored events) and recomputes once.
    pub fn set_history(&mut self, events: &[Event]) -> Result<()> {
        if let Some(e) = events.iter().find(|e| e.item as usize >= self.catalog.len()) {
            return Err(Error::IndexOutOfRange { index: e.item, len: self.catalog.len() });
        }
        if let Some(e) = events.iter().find(|e| !e.time.is_finite()) {
            return Err(Error::NonFiniteTime(e.time));
        }
        let start = events.len().saturating_sub(MAX_EVENTS);
        self.events = events[start..].to_vec();
        self.seen = self.events.iter().map(|e| e.item).collect();
        self.seen.sort_unstable();
        self.seen.dedup();
        self.refresh()
    }

    /// Replaces the history with a visitor's stored events (ids, oldest first); events whose item
    /// left the catalog are skipped (the stored history keeps them). Returns how many were used.
    pub fn set_history_events(&mut self, events: &[crate::history::HistoryEvent]) -> Result<usize> {
        let rows: Vec<Event> = events
            .iter()
            .filter_map(|e| self.catalog.row_of(&e.id).map(|item| Event { item, kind: e.kind, time: e.time }))
            .collect();
        self.set_history(&rows)?;
        Ok(rows.len())
    }

    /// Forgets the history and the dismissals.
    pub fn clear(&mut self) {
        self.events.clear();
        self.seen.clear();
        self.dismissed.clear();
        self.embedding = None;
        self.query = None;
    }

    fn refresh(&mut self) -> Result<()> {
        self.embedding =
            if self.events.is_empty() { None } else { Some(self.model.embed(&self.catalog, &self.events)?) };
        self.update_query();
        Ok(())
    }

    /// The scan's query: the embedding, moved away from the dismissed items ([`DISMISS_WEIGHT`]).
    fn update_query(&mut self) {
        self.query = self.embedding.as_ref().map(|e| {
            if self.dismissed.is_empty() {
                return e.clone();
            }
            let mut mean = vec![0f32; e.len()];
            for &row in &self.dismissed {
                mean.iter_mut().zip(self.catalog.vector(row)).for_each(|(m, v)| *m += v);
            }
            let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
            let step = DISMISS_WEIGHT * norm / self.dismissed.len() as f32;
            e.iter().zip(&mean).map(|(x, m)| x - step * m).collect()
        });
    }

    /// The query the scan uses: the embedding moved away from the dismissed items (`None` before
    /// the first interaction).
    pub fn query(&self) -> Option<&[f32]> {
        self.query.as_deref()
    }

    /// "Not interested": catalog row `row` is never recommended again (until [`Recommender::clear`]
    /// or [`Recommender::set_dismissed`]) and items similar to it lose score ([`DISMISS_WEIGHT`]).
    pub fn dismiss(&mut self, row: u32) -> Result<()> {
        if row as usize >= self.catalog.len() {
            return Err(Error::IndexOutOfRange { index: row, len: self.catalog.len() });
        }
        if !self.dismissed.contains(&row) {
            self.dismissed.push(row);
            self.update_query();
        }
        Ok(())
    }

    /// Replaces the dismissed rows (a returning visitor's stored dismissals, oldest first).
    pub fn set_dismissed(&mut self, rows: &[u32]) -> Result<()> {
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= self.catalog.len()) {
            return Err(Error::IndexOutOfRange { index: r, len: self.catalog.len() });
        }
        self.dismissed.clear();
        for &r in rows {
            if !self.dismissed.contains(&r) {
                self.dismissed.push(r);
            }
        }
        self.update_query();
        Ok(())
    }

    /// The dismissed rows, oldest first.
    pub fn dismissed(&self) -> &[u32] {
        &self.dismissed
    }

    /// Sets the business rules (replacing the previous ones). Rows outside the catalog and
    /// non-finite boosts are refused; a row pinned twice keeps its first pin.
    pub fn set_rules(&mut self, rules: Rules) -> Result<()> {
        let len = self.catalog.len();
        if let Some(&r) = rules.block.iter().chain(rules.pins.iter().map(|(r, _)| r)).find(|&&r| r as usize >= len) {
            return Err(Error::IndexOutOfRange { index: r, len });
        }
        if let Some((code, b)) = rules.boosts.iter().find(|(_, b)| !b.is_finite()) {
            return Err(Error::InvalidArgument(format!("the boost of category {code} is {b}, not a finite number")));
        }
        if rules.pins.len() > MAX_K {
            return Err(Error::InvalidArgument(format!("{} pins: at most {MAX_K}", rules.pins.len())));
        }
        let mut block = rules.block;
        block.sort_unstable();
        block.dedup();
        // The last boost given for a category wins.
        let mut boosts: Vec<(u32, f32)> = Vec::with_capacity(rules.boosts.len());
        for (code, b) in rules.boosts {
            match boosts.iter_mut().find(|(c, _)| *c == code) {
                Some(slot) => slot.1 = b,
                None => boosts.push((code, b)),
            }
        }
        boosts.retain(|&(_, b)| b != 0.0);
        let mut pins: Vec<(u32, u32)> = Vec::with_capacity(rules.pins.len());
        for (row, pos) in rules.pins {
            if !pins.iter().any(|&(r, _)| r == row) {
                pins.push((row, pos));
            }
        }
        // By position, stably (an insertion sort: at most MAX_K pins, and no sort routine of its own).
        for i in 1..pins.len() {
            let mut j = i;
            while j > 0 && pins[j - 1].1 > pins[j].1 {
                pins.swap(j - 1, j);
                j -= 1;
            }
        }
        self.rules = Rules { block, boosts, pins };
        Ok(())
    }

    /// The rules in use (normalized: blocked rows sorted, pins by position).
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The boost of catalog row `row`'s category (0 without one).
    pub fn boost_of(&self, row: u32) -> f32 {
        boost_of(&self.rules.boosts, self.catalog.categories(), row)
    }

    /// The top `k` items for the current embedding, each with its [`Reason`], after the filters,
    /// the [`Rules`] and the diversity cap of `options`. With no history: the popular list set by
    /// [`Recommender::set_popular`] (same filters and rules), or [`Error::EmptyHistory`] if there is
    /// none. Exactly `min(k, eligible items)` results come back.
    pub fn recommend(&mut self, options: &RecommendOptions<'_>) -> Result<Vec<Recommendation>> {
        // More than the catalog cannot come back: a huge k must not size a buffer.
        let k = options.k.min(self.catalog.len());
        self.exclude.clear();
        if options.exclude_seen {
            self.exclude.extend_from_slice(&self.seen);
        }
        self.exclude.extend_from_slice(options.exclude);
        self.exclude.extend_from_slice(&self.rules.block);
        self.exclude.extend_from_slice(&self.dismissed);
        self.exclude.sort_unstable();
        self.exclude.dedup();
        let cats = self.catalog.categories();
        let in_categories =
            |r: u32| options.categories.is_none_or(|want| cats.is_some_and(|c| want.contains(&c[r as usize])));
        // Pins obey every filter, and are then left out of the scan so they do not come back twice.
        let pins: Vec<(u32, u32)> = self
            .rules
            .pins
            .iter()
            .filter(|&&(r, _)| self.exclude.binary_search(&r).is_err() && in_categories(r))
            .take(k)
            .copied()
            .collect();
        if !pins.is_empty() {
            self.exclude.extend(pins.iter().map(|&(r, _)| r));
            self.exclude.sort_unstable();
        }
        let rest = k - pins.len();
        let mut out = if rest == 0 { Vec::new() } else { self.ranked(rest, options)? };
        for (row, pos) in pins {
            out.insert(
                (pos as usize).min(out.len()),
                Recommendation { index: row, score: 0.0, reason: Reason::Pinned },
            );
        }
        Ok(out)
    }

    /// Why the current recommendations are what they are: [`Recommender::recommend`] with
    /// `options`, plus the encoded history, the attention weights, each result's score per stage
    /// and both self-checks. The history is not touched.
    pub fn explain(&mut self, options: &RecommendOptions<'_>) -> Result<Explanation> {
        let recs = self.recommend(options)?;
        let (encoded, attention) = if self.events.is_empty() {
            (None, Vec::new())
        } else {
            let (_, encoded, attention) = self.model.embed_explained(&self.catalog, &self.events)?;
            (Some(encoded), attention)
        };
        let staged = self.stage.is_some();
        let results = recs
            .into_iter()
            .map(|r| {
                let boost = if r.reason == Reason::Pinned { 0.0 } else { self.boost_of(r.index) };
                let tower = self
                    .query
                    .as_ref()
                    .map(|q| q.iter().zip(self.catalog.vector(r.index)).map(|(a, b)| a * b).sum::<f32>());
                let ranked = !matches!(r.reason, Reason::Popular | Reason::Pinned);
                ExplainedResult {
                    recommendation: r,
                    tower,
                    stage: (staged && ranked).then_some(r.score - boost),
                    boost,
                }
            })
            .collect();
        // A check history the catalog cannot hold (a table other than the export's, with fewer
        // rows) has nothing to say about this table: reported as no check, not as explain's error.
        let tower_check = match self.model.self_check(&self.catalog) {
            Err(Error::IndexOutOfRange { .. } | Error::EmptyHistory) => None,
            other => other?,
        };
        let ranker_check = self.check_ranking_stage()?;
        Ok(Explanation {
            encoded,
            attention,
            heads: self.model.config().heads,
            embedding: self.embedding.clone(),
            query: self.query.clone(),
            results,
            tower_check,
            ranker_check,
        })
    }

    /// The best `k` rows outside `self.exclude`, after boosts and the diversity cap, with reasons.
    fn ranked(&mut self, k: usize, options: &RecommendOptions<'_>) -> Result<Vec<Recommendation>> {
        let catalog = self.catalog.clone();
        let cats = catalog.categories();
        let cap = options.max_per_category.filter(|&c| c > 0 && cats.is_some());
        let boosting = !self.rules.boosts.is_empty() && cats.is_some();
        let Some(query) = self.query.clone() else {
            if self.popular.is_empty() {
                return Err(Error::EmptyHistory);
            }
            let allowed = |r: &u32| {
                self.exclude.binary_search(r).is_err()
                    && options.categories.is_none_or(|want| cats.is_some_and(|c| want.contains(&c[*r as usize])))
            };
            let pool: Vec<Ranked> = self
                .popular
                .iter()
                .filter(|r| allowed(r))
                .map(|&row| Ranked { row, score: 0.0, because: None })
                .collect();
            // Within one boost, the popularity order stays.
            let pool = self.boosted_in_order(pool);
            return Ok(diversify(&pool, k, cap, cats)
                .0
                .into_iter()
                .map(|c| Recommendation { index: c.row, score: c.score, reason: Reason::Popular })
                .collect());
        };
        // With the tower alone, boosts are offsets inside the scan: its top k is already the boosted
        // top k. With the ranking stage, boosts apply to its scores.
        let in_scan = boosting && self.stage.is_none();
        // With a diversity cap or boosts after the stage, rank a pool of candidates and widen it
        // (x4) until the cap can be met and no item outside the pool could outscore the k-th choice
        // once boosted (its score is at most the pool's last plus the largest boost), or the pool
        // holds every candidate: a visitor deep in one category may need a wide pool.
        let boost_after = boosting && !in_scan;
        let max_boost = self.rules.boosts.iter().map(|b| b.1).fold(0f32, f32::max);
        let mut want = match (boost_after, cap) {
            (false, None) => k,
            _ => k.saturating_mul(DIVERSITY_POOL),
        };
        loop {
            let (pool, exhausted) = self.retrieve(&query, want, options.categories, in_scan)?;
            let last = pool.last().map_or(f32::NEG_INFINITY, |c| c.score);
            let pool = if boost_after { self.boosted(pool) } else { pool };
            let (chosen, capped_full) = diversify(&pool, k, cap, cats);
            let boost_settled =
                !boost_after || (chosen.len() == k && chosen.last().is_some_and(|c| c.score >= last + max_boost));
            if exhausted || (boost_settled && (capped_full || cap.is_none())) {
                // The history's vectors are decoded only if some result needs "similar to".
                let mut candidates = None;
                let mut out = Vec::with_capacity(chosen.len());
                for c in chosen {
                    let reason = match c.because.and_then(|h| self.events.iter().rev().find(|e| e.item == h)) {
                        Some(e) => Reason::Together { item: e.item, kind: e.kind },
                        None => {
                            reason_for(&self.catalog, candidates.get_or_insert_with(|| self.reason_candidates()), c.row)
                        }
                    };
                    out.push(Recommendation { index: c.row, score: c.score, reason });
                }
                return Ok(out);
            }
            want = want.saturating_mul(4);
        }
    }

    /// At least the best `want` candidates for `query` outside `self.exclude` (the ranking stage's
    /// whole list with a stage), best first, and whether that is every candidate there is. With
    /// `boosts` (the tower alone), the scan adds the rules' boosts to its scores.
    fn retrieve(
        &mut self,
        query: &[f32],
        want: usize,
        categories: Option<&[u32]>,
        boosts: bool,
    ) -> Result<(Vec<Ranked>, bool)> {
        if let Some(stage) = self.stage.as_mut() {
            let ranker = stage.ranker.clone();
            let input = StageInput {
                catalog: &self.catalog,
                embedding: query,
                events: &self.events,
                exclude: &self.exclude,
                categories,
                min_tower: want,
            };
            let (ranked, exhausted) = ranker.rank(&mut stage.scratch, &mut self.topk, &input, &mut stage.candidates)?;
            return Ok((ranked, exhausted));
        }
        let mut q = Query::new(query, want).exclude(&self.exclude);
        if boosts {
            q = q.offsets(&self.rules.boosts);
        }
        if let Some(c) = categories {
            q = q.categories(c);
        }
        let hits = self.topk.search(&self.catalog, &q)?;
        let exhausted = hits.len() < want;
        Ok((hits.iter().map(|h| Ranked { row: h.index, score: h.score, because: None }).collect(), exhausted))
    }

    /// Adds each candidate's category boost to its score; false (nothing done) without boosts.
    fn add_boosts(&self, pool: &mut [Ranked]) -> bool {
        if self.rules.boosts.is_empty() {
            return false;
        }
        let cats = self.catalog.categories();
        for c in pool {
            c.score += boost_of(&self.rules.boosts, cats, c.row);
        }
        true
    }

    /// `pool` with each score plus its category's boost, best first.
    fn boosted(&self, mut pool: Vec<Ranked>) -> Vec<Ranked> {
        if self.add_boosts(&mut pool) {
            sort_best_first(&mut pool);
        }
        pool
    }

    /// `pool` (all scores equal: the popular list) with each score set to its category's boost,
    /// the highest boost first, the list's order kept within one boost.
    fn boosted_in_order(&self, mut pool: Vec<Ranked>) -> Vec<Ranked> {
        if !self.add_boosts(&mut pool) {
            return pool;
        }
        let mut out = Vec::with_capacity(pool.len());
        // One pass per distinct boost, highest first (a handful of categories at most).
        let mut level = pool.iter().map(|c| c.score).fold(f32::NEG_INFINITY, f32::max);
        while out.len() < pool.len() {
            out.extend(pool.iter().filter(|c| c.score == level));
            level = pool.iter().map(|c| c.score).filter(|&s| s < level).fold(f32::NEG_INFINITY, f32::max);
        }
        out
    }

    /// The newest distinct history items the tower reads, newest first, with their kind and vector:
    /// the candidates for "because you ...", decoded once per `recommend`.
    fn reason_candidates(&self) -> Vec<(u32, Kind, Vec<f32>)> {
        let window = self.model.config().max_len;
        let mut out: Vec<(u32, Kind, Vec<f32>)> = Vec::with_capacity(window);
        for e in self.events.iter().rev() {
            if out.len() >= window {
                break;
            }
            if !out.iter().any(|c| c.0 == e.item) {
                // Stored vectors: on a projected table their inner products are those of the
                // rows read back (the exporter's axes are orthonormal), without reading any back.
                out.push((e.item, e.kind, self.catalog.stored_vector(e.item)));
            }
        }
        out
    }
}

/// The candidate most similar to catalog row `row` (the newest one on ties).
fn reason_for(catalog: &Catalog, candidates: &[(u32, Kind, Vec<f32>)], row: u32) -> Reason {
    let target = catalog.stored_vector(row);
    let mut best: Option<(f32, u32, Kind)> = None;
    for (item, kind, v) in candidates {
        let s: f32 = v.iter().zip(&target).map(|(a, b)| a * b).sum();
        if best.is_none_or(|(b, _, _)| s > b) {
            best = Some((s, *item, *kind));
        }
    }
    best.map_or(Reason::Popular, |(_, item, kind)| Reason::Because { item, kind })
}

/// The boost of row `row`'s category under `boosts` (0 without one).
fn boost_of(boosts: &[(u32, f32)], cats: Option<&[u32]>, row: u32) -> f32 {
    let Some(code) = cats.map(|c| c[row as usize]) else { return 0.0 };
    boosts.iter().find(|&&(c, _)| c == code).map_or(0.0, |&(_, b)| b)
}

/// Keeps the order of `ranked` but takes at most `cap` items per category. Returns the choice and
/// whether the cap alone filled `k` slots; if not, the best skipped items fill the remaining slots
/// (a soft cap, so the answer is never short when the catalog has enough items).
fn diversify(ranked: &[Ranked], k: usize, cap: Option<usize>, cats: Option<&[u32]>) -> (Vec<Ranked>, bool) {
    let (Some(cap), Some(cats)) = (cap, cats) else { return (ranked.iter().take(k).copied().collect(), true) };
    let mut per: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(k);
    let mut skipped = Vec::new();
    for &c in ranked {
        if out.len() == k {
            break;
        }
        let n = per.entry(cats[c.row as usize]).or_insert(0);
        if *n < cap {
            *n += 1;
            out.push(c);
        } else {
            skipped.push(c);
        }
    }
    let full = out.len() == k;
    let missing = k.saturating_sub(out.len());
    out.extend(skipped.into_iter().take(missing));
    (out, full)
}
