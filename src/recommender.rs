//! The façade the browser binding and the tests call: a catalogue, a user tower and the visitor's
//! history; record an interaction, get fresh recommendations.
//!
//! Work is reused across interactions: the user embedding is recomputed once per recorded
//! interaction (not per `recommend`), the ranker keeps its scratch buffers, and the set of seen
//! items is kept sorted for the exclusion filter.

use std::rc::Rc;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{Event, Kind, UserModel};
use crate::rank::{Query, TopK};
use crate::rerank::{Candidate, Ranker, Scratch, StageInput};

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
    /// catalogue cannot fill `k` slots under the cap, the best remaining items fill the rest.
    pub max_per_category: Option<usize>,
}

/// Why an item was recommended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The history item (catalogue row) closest to the recommended one, and what the visitor did
    /// with it: "because you viewed X".
    Because { item: u32, kind: Kind },
    /// Lifted by the item-item weights of the ranking stage: the history item (catalogue row) it is
    /// most often had with, and what the visitor did with that item: "often bought with X".
    Together { item: u32, kind: Kind },
    /// A cold-start answer: one of the catalogue's popular items.
    Popular,
}

/// One recommended item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    /// Catalogue row.
    pub index: u32,
    /// The ranking stage's score, or the inner product with the user embedding without a ranking
    /// stage (0 for cold-start answers).
    pub score: f32,
    pub reason: Reason,
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
    exclude: Vec<u32>,
    popular: Vec<u32>,
    stage: Option<Stage>,
}

/// The ranking stage and its reusable buffers.
#[derive(Debug)]
struct Stage {
    ranker: Rc<Ranker>,
    scratch: Scratch,
    candidates: Vec<Candidate>,
}

/// What [`Recommender::check_ranker`] found: the shipped self-check against this build's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankerCheck {
    /// The same rows, in the same order.
    pub same_rows: bool,
    /// The largest score difference over the expected rows.
    pub max_score_diff: f32,
}

impl Recommender {
    /// Checks that the tower reads vectors of the catalogue's dimension.
    pub fn new(catalog: Rc<Catalog>, model: UserModel) -> Result<Recommender> {
        if model.config().dim != catalog.dim() {
            return Err(Error::TowerCatalogMismatch { tower: model.config().dim, catalogue: catalog.dim() });
        }
        Ok(Recommender {
            catalog,
            model,
            topk: TopK::new(),
            events: Vec::new(),
            seen: Vec::new(),
            embedding: None,
            exclude: Vec::new(),
            popular: Vec::new(),
            stage: None,
        })
    }

    /// Adds (or with `None` removes) the ranking stage: the tower's candidates are then re-ranked
    /// with the item-item weights ([`crate::rerank`]). The ranker must cover this catalogue.
    pub fn set_ranker(&mut self, ranker: Option<Rc<Ranker>>) -> Result<()> {
        if let Some(r) = &ranker {
            r.check_catalog(&self.catalog)?;
        }
        self.stage = ranker.map(|ranker| Stage { ranker, scratch: Scratch::default(), candidates: Vec::new() });
        Ok(())
    }

    /// The ranking stage in use, if any.
    pub fn ranker(&self) -> Option<&Rc<Ranker>> {
        self.stage.as_ref().map(|s| &s.ranker)
    }

    /// Runs the self-check shipped in `ranker.bin` (a history and the trainer's top 10 for it, the
    /// history's items excluded) through this recommender's model and catalogue, without touching
    /// the visitor's history. `None` without a ranking stage or a self-check.
    pub fn check_ranker(&mut self) -> Result<Option<RankerCheck>> {
        let Some(stage) = self.stage.as_mut() else { return Ok(None) };
        let Some(check) = stage.ranker.check.clone() else { return Ok(None) };
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

    /// The recorded events, oldest first (catalogue rows).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The current user embedding (`None` before the first interaction).
    pub fn embedding(&self) -> Option<&[f32]> {
        self.embedding.as_deref()
    }

    /// The cold-start list (catalogue rows, best first) that [`Recommender::recommend`] answers
    /// with while the history is empty. Rows outside the catalogue are an error.
    pub fn set_popular(&mut self, rows: &[u32]) -> Result<()> {
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= self.catalog.len()) {
            return Err(Error::IndexOutOfRange { index: r, len: self.catalog.len() });
        }
        self.popular = rows.to_vec();
        Ok(())
    }

    /// Records an interaction with catalogue row `item` and updates the embedding at once.
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
    /// left the catalogue are skipped (the stored history keeps them). Returns how many were used.
    pub fn set_history_events(&mut self, events: &[crate::history::HistoryEvent]) -> Result<usize> {
        let rows: Vec<Event> = events
            .iter()
            .filter_map(|e| self.catalog.row_of(&e.id).map(|item| Event { item, kind: e.kind, time: e.time }))
            .collect();
        self.set_history(&rows)?;
        Ok(rows.len())
    }

    /// Forgets the history.
    pub fn clear(&mut self) {
        self.events.clear();
        self.seen.clear();
        self.embedding = None;
    }

    fn refresh(&mut self) -> Result<()> {
        self.embedding =
            if self.events.is_empty() { None } else { Some(self.model.embed(&self.catalog, &self.events)?) };
        Ok(())
    }

    /// The top `k` items for the current embedding, each with its [`Reason`], after the filters and
    /// the diversity cap of `options`. With no history: the popular list set by
    /// [`Recommender::set_popular`] (same filters), or [`Error::EmptyHistory`] if there is none.
    pub fn recommend(&mut self, options: &RecommendOptions<'_>) -> Result<Vec<Recommendation>> {
        // More than the catalogue cannot come back: a huge k must not size a buffer.
        let clamped = RecommendOptions { k: options.k.min(self.catalog.len()), ..options.clone() };
        let options = &clamped;
        self.exclude.clear();
        if options.exclude_seen {
            self.exclude.extend_from_slice(&self.seen);
        }
        self.exclude.extend_from_slice(options.exclude);
        self.exclude.sort_unstable();
        let cap = options.max_per_category.filter(|&c| c > 0 && self.catalog.categories().is_some());
        let Some(embedding) = self.embedding.as_deref() else {
            if self.popular.is_empty() {
                return Err(Error::EmptyHistory);
            }
            let cats = self.catalog.categories();
            let allowed = |r: &u32| {
                self.exclude.binary_search(r).is_err()
                    && options.categories.is_none_or(|want| cats.is_some_and(|c| want.contains(&c[*r as usize])))
            };
            let pool: Vec<(u32, f32)> = self.popular.iter().filter(|r| allowed(r)).map(|&r| (r, 0.0)).collect();
            return Ok(diversify(&pool, options.k, cap, cats)
                .0
                .into_iter()
                .map(|(index, score)| Recommendation { index, score, reason: Reason::Popular })
                .collect());
        };
        // With a diversity cap, rank a pool of candidates and widen it (x4) until the cap can be met
        // or the pool holds every candidate: a visitor deep in one category may need a wide pool.
        let mut want = if cap.is_some() { options.k.saturating_mul(DIVERSITY_POOL) } else { options.k };
        if let Some(stage) = self.stage.as_mut() {
            let ranker = stage.ranker.clone();
            loop {
                let input = StageInput {
                    catalog: &self.catalog,
                    embedding,
                    events: &self.events,
                    exclude: &self.exclude,
                    categories: options.categories,
                    min_tower: want,
                };
                let (ranked, exhausted) =
                    ranker.rank(&mut stage.scratch, &mut self.topk, &input, &mut stage.candidates)?;
                let pairs: Vec<(u32, f32)> = ranked.iter().map(|s| (s.row, s.score)).collect();
                let (chosen, capped_full) = diversify(&pairs, options.k, cap, self.catalog.categories());
                if capped_full || exhausted || cap.is_none() {
                    // The history's vectors are decoded only if some result needs "similar to".
                    let mut candidates = None;
                    let mut out = Vec::with_capacity(chosen.len());
                    for (index, score) in chosen {
                        let because = ranked.iter().find(|s| s.row == index).and_then(|s| s.because);
                        let reason = match because.and_then(|h| self.events.iter().rev().find(|e| e.item == h)) {
                            Some(e) => Reason::Together { item: e.item, kind: e.kind },
                            None => reason_for(
                                &self.catalog,
                                candidates.get_or_insert_with(|| self.reason_candidates()),
                                index,
                            ),
                        };
                        out.push(Recommendation { index, score, reason });
                    }
                    return Ok(out);
                }
                want = want.saturating_mul(4);
            }
        }
        loop {
            let mut query = Query::new(embedding, want).exclude(&self.exclude);
            if let Some(c) = options.categories {
                query = query.categories(c);
            }
            let hits: Vec<(u32, f32)> =
                self.topk.search(&self.catalog, &query)?.iter().map(|h| (h.index, h.score)).collect();
            let exhausted = hits.len() < want;
            let (chosen, capped_full) = diversify(&hits, options.k, cap, self.catalog.categories());
            if capped_full || exhausted || cap.is_none() {
                let candidates = self.reason_candidates();
                return Ok(chosen
                    .into_iter()
                    .map(|(index, score)| Recommendation {
                        index,
                        score,
                        reason: reason_for(&self.catalog, &candidates, index),
                    })
                    .collect());
            }
            want = want.saturating_mul(4);
        }
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
                out.push((e.item, e.kind, self.catalog.vector(e.item)));
            }
        }
        out
    }
}

/// The candidate most similar to catalogue row `row` (the newest one on ties).
fn reason_for(catalog: &Catalog, candidates: &[(u32, Kind, Vec<f32>)], row: u32) -> Reason {
    let target = catalog.vector(row);
    let mut best: Option<(f32, u32, Kind)> = None;
    for (item, kind, v) in candidates {
        let s: f32 = v.iter().zip(&target).map(|(a, b)| a * b).sum();
        if best.is_none_or(|(b, _, _)| s > b) {
            best = Some((s, *item, *kind));
        }
    }
    best.map_or(Reason::Popular, |(_, item, kind)| Reason::Because { item, kind })
}

/// Keeps the order of `ranked` but takes at most `cap` items per category. Returns the choice and
/// whether the cap alone filled `k` slots; if not, the best skipped items fill the remaining slots
/// (a soft cap, so the answer is never short when the catalogue has enough items).
fn diversify(ranked: &[(u32, f32)], k: usize, cap: Option<usize>, cats: Option<&[u32]>) -> (Vec<(u32, f32)>, bool) {
    let (Some(cap), Some(cats)) = (cap, cats) else { return (ranked.iter().take(k).copied().collect(), true) };
    let mut per: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(k);
    let mut skipped = Vec::new();
    for &(r, s) in ranked {
        if out.len() == k {
            break;
        }
        let n = per.entry(cats[r as usize]).or_insert(0);
        if *n < cap {
            *n += 1;
            out.push((r, s));
        } else {
            skipped.push((r, s));
        }
    }
    let full = out.len() == k;
    let missing = k.saturating_sub(out.len());
    out.extend(skipped.into_iter().take(missing));
    (out, full)
}
