//! The second stage: the tower retrieves a few hundred candidates, a small learned scorer re-ranks
//! them from features the browser holds compactly (this module, plain Rust, the one place the
//! trainer and the browser compute them).
//!
//! Features of a candidate `c` for a visitor's history (distinct items `h`, newest first, `age` 0
//! for the newest; `b(h, c)` the weight of `c` among `h`'s exported item-item neighbours):
//!
//! | # | name | value |
//! |---|---|---|
//! | 0 | `tower` | the user tower's inner product with `c`'s vector |
//! | 1 | `tower-rank` | `1 / log2(2 + rank)` in the tower's list, 0 if the tower did not retrieve `c` |
//! | 2 | `recent` | `Σ (0.97^age + [h in the session]) · b(h, c)`: recency-weighted item-item |
//! | 3 | `short` | `Σ 0.8^age · b(h, c)` |
//! | 4 | `long` | `Σ b(h, c)`: the plain item-item score |
//! | 5 | `last` | `b(newest, c)` |
//! | 6 | `max` | `max_h b(h, c)` |
//! | 7 | `links` | `ln(1 + #{h : b(h, c) > 0})` |
//! | 8 | `strong` | `Σ 0.97^age · b(h, c)` over items carted or bought |
//! | 9 | `popularity` | `ln(1 + training interactions with c)` |
//! | 10 | `category` | share of the 10 newest history items in `c`'s category (0 without categories) |
//!
//! Candidates: the tower's top [`StageConfig::tower_candidates`] plus the best
//! [`StageConfig::neighbour_candidates`] by `recent` (items bought with what the visitor just had,
//! which a rank-limited dot-product tower misses), both under the same filters. The scorer
//! standardises the features and adds a linear term and a small ReLU layer ([`Scorer`]).
//!
//! `ranker.bin` (little-endian), validated whole before use:
//!
//! ```text
//! magic "LRRK" | version u32 = 3 | items u32 | features u32 = 11 | hidden u32
//! tower_candidates u32 | neighbour_candidates u32 | session_seconds f32 | max_history u32
//! mean f32[features] | scale f32[features] | linear f32[features]
//! w1 f32[hidden × features] | b1 f32[hidden] | w2 f32[hidden]
//! popularity f32[items]
//! counts varint[items] | neighbours varint[nnz] | weights bf16[nnz]
//! check: events u32, then per event item u32, kind u8, time f64; expected u32, then row u32, score f32
//! check table u8 (version 3 on): the item table the check was computed over, plain (no refine
//!   plane): 0 not recorded, 1 f32, 2 int8, 3 pq, 4 pca (`Catalog::precision`)
//! ```
//!
//! The neighbours: each item's count (LEB128), then each item's neighbours in ascending order, the
//! first as its row and each next one as the gap to the previous minus one (LEB128: two bytes for a
//! gap under 16,384), then every weight as bf16 in the same order. At 100,000 items × 32
//! neighbours that is about 4 bytes a neighbour where version 1's CSR (`offsets u32[items + 1] |
//! neighbours u32[nnz] | weights bf16[nnz]`) took 6.25; version 1 files are still read.
//!
//! Version 3 adds the check's table byte: the trainer's top 10 holds over that table only (int8
//! below 50,000 items, the compact table from there), so `Recommender::check_ranking_stage` skips the
//! check over any other table or with a refine plane. Versions 1 and 2 have no such byte and
//! read as "not recorded", which the check treats as int8 (what they were computed over); a
//! non-zero table with no check history is refused (it would not re-encode).

use crate::catalog::{Catalog, Vectors};
use crate::error::{Error, Result};
use crate::model::{Event, Kind};
use crate::rank::{Query, TopK};

pub const RANKER_MAGIC: [u8; 4] = *b"LRRK";
pub const RANKER_VERSION: u32 = 3;
pub const NUM_FEATURES: usize = 11;
pub const FEATURE_NAMES: [&str; NUM_FEATURES] =
    ["tower", "tower-rank", "recent", "short", "long", "last", "max", "links", "strong", "popularity", "category"];
/// Most neighbours one item may list.
pub const MAX_NEIGHBOURS: usize = 1024;
/// Widest hidden layer.
pub const MAX_HIDDEN: usize = 256;
/// Most candidates per stage source.
pub const MAX_CANDIDATES: u32 = 10_000;
/// Most distinct history items read.
pub const MAX_HISTORY: u32 = 10_000;
/// Most events in the self-check, and most expected results.
const MAX_CHECK: u32 = 10_000;
/// The self-check's table byte (version 3 on), by code; 0 is "not recorded".
const CHECK_TABLES: [&str; 4] = ["f32", "int8", "pq", "pca"];

const DECAY_RECENT: f32 = 0.97;
const DECAY_SHORT: f32 = 0.8;
const CATEGORY_WINDOW: usize = 10;

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidRanker(msg.into())
}

/// The stage's sizes and windows, fixed by the trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageConfig {
    /// Candidates taken from the tower's ranking.
    pub tower_candidates: u32,
    /// Candidates taken from the item-item scores (`recent`).
    pub neighbour_candidates: u32,
    /// History items within this many seconds of the newest event form the session.
    pub session_seconds: f32,
    /// Distinct history items read (newest first).
    pub max_history: u32,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig { tower_candidates: 200, neighbour_candidates: 100, session_seconds: 1800.0, max_history: 200 }
    }
}

/// Sparse item-item weights: per item, its neighbours and their weights (compressed rows).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Neighbours {
    offsets: Vec<u32>,
    items: Vec<u32>,
    weights: Vec<f32>,
}

impl Neighbours {
    /// From one list per item of `(neighbour, weight)`, kept in ascending neighbour order (the
    /// file's); weights are rounded to bf16 (the file's precision) so that what the trainer
    /// evaluates is what the browser reads. A neighbour listed twice is an error.
    pub fn from_rows(rows: &[Vec<(u32, f32)>]) -> Result<Neighbours> {
        let n = rows.len();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut items = Vec::new();
        let mut weights = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.len() > MAX_NEIGHBOURS {
                return Err(bad(format!("item {i} lists {} neighbours (at most {MAX_NEIGHBOURS})", row.len())));
            }
            for &(j, w) in row {
                if j as usize >= n || j as usize == i || !w.is_finite() {
                    return Err(bad(format!("item {i}: bad neighbour {j} (weight {w})")));
                }
                items.push(j);
                weights.push(bf16_round(w));
            }
            offsets.push(items.len() as u32);
        }
        let mut nb = Neighbours { offsets, items, weights };
        nb.sort_rows()?;
        Ok(nb)
    }

    /// Puts every row in ascending neighbour order (an insertion sort of pairs: a row holds a few
    /// dozen); a neighbour listed twice is an error.
    fn sort_rows(&mut self) -> Result<()> {
        for (i, w) in self.offsets.windows(2).enumerate() {
            let (start, end) = (w[0] as usize, w[1] as usize);
            for a in start + 1..end {
                let mut b = a;
                while b > start && self.items[b - 1] > self.items[b] {
                    self.items.swap(b - 1, b);
                    self.weights.swap(b - 1, b);
                    b -= 1;
                }
            }
            if let Some(w) = self.items[start..end].windows(2).find(|w| w[0] == w[1]) {
                return Err(bad(format!("item {i} lists neighbour {} twice", w[0])));
            }
        }
        Ok(())
    }

    /// Items covered.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Neighbours kept, all items together.
    pub fn nnz(&self) -> usize {
        self.items.len()
    }

    /// Item `i`'s neighbours and weights.
    pub fn row(&self, i: u32) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[i as usize] as usize, self.offsets[i as usize + 1] as usize);
        (&self.items[a..b], &self.weights[a..b])
    }
}

fn bf16_bits(x: f32) -> u16 {
    // Round to nearest even on the dropped 16 bits (inputs are finite).
    let b = x.to_bits();
    ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) as u16
}

fn bf16_round(x: f32) -> f32 {
    f32::from_bits((bf16_bits(x) as u32) << 16)
}

/// The learned scorer: standardised features `z = (x - mean) · scale`, then
/// `linear · z + w2 · relu(w1 z + b1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorer {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub linear: Vec<f32>,
    pub hidden: usize,
    /// `hidden × NUM_FEATURES`, row-major.
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
}

impl Scorer {
    /// A linear scorer with unit scaling.
    pub fn linear(weights: [f32; NUM_FEATURES]) -> Scorer {
        Scorer {
            mean: vec![0.0; NUM_FEATURES],
            scale: vec![1.0; NUM_FEATURES],
            linear: weights.to_vec(),
            hidden: 0,
            w1: vec![],
            b1: vec![],
            w2: vec![],
        }
    }

    pub fn standardise(&self, x: &[f32; NUM_FEATURES]) -> [f32; NUM_FEATURES] {
        let mut z = [0f32; NUM_FEATURES];
        for f in 0..NUM_FEATURES {
            z[f] = (x[f] - self.mean[f]) * self.scale[f];
        }
        z
    }

    pub fn score(&self, x: &[f32; NUM_FEATURES]) -> f32 {
        let z = self.standardise(x);
        let mut s: f32 = z.iter().zip(&self.linear).map(|(a, b)| a * b).sum();
        for j in 0..self.hidden {
            let row = &self.w1[j * NUM_FEATURES..(j + 1) * NUM_FEATURES];
            let h = row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + self.b1[j];
            if h > 0.0 {
                s += self.w2[j] * h;
            }
        }
        s
    }

    fn check(&self) -> Result<()> {
        let all =
            self.mean.iter().chain(&self.scale).chain(&self.linear).chain(&self.w1).chain(&self.b1).chain(&self.w2);
        if self.mean.len() != NUM_FEATURES
            || self.scale.len() != NUM_FEATURES
            || self.linear.len() != NUM_FEATURES
            || self.hidden > MAX_HIDDEN
            || self.w1.len() != self.hidden * NUM_FEATURES
            || self.b1.len() != self.hidden
            || self.w2.len() != self.hidden
        {
            return Err(bad("scorer shapes do not match"));
        }
        if let Some(v) = all.into_iter().find(|v| !v.is_finite()) {
            return Err(bad(format!("non-finite scorer weight {v}")));
        }
        Ok(())
    }
}

/// A history and the top 10 the trainer computed for it (excluding the history's items):
/// the browser's answer must match (`Recommender::check_ranking_stage`) over the same item table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelfCheck {
    pub events: Vec<Event>,
    pub expected: Vec<(u32, f32)>,
    /// The item table the check was computed over ([`Catalog::precision`]: `"f32"`, `"int8"`,
    /// `"pq"` or `"pca"`, without a refine plane); `None`: not recorded (files before version 3),
    /// read as `"int8"`. Another name is written as not recorded.
    pub table: Option<&'static str>,
}

/// The whole second stage, as exported in `ranker.bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingStage {
    pub config: StageConfig,
    pub scorer: Scorer,
    /// `ln(1 + interactions)` per item.
    pub popularity: Vec<f32>,
    pub neighbours: Neighbours,
    pub check: Option<SelfCheck>,
}

/// One distinct history item, as the features read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryItem {
    pub item: u32,
    /// The strongest thing done with it.
    pub kind: Kind,
    /// 0 for the newest distinct item.
    pub age: u32,
    /// Touched within the session window of the newest event.
    pub session: bool,
}

/// The distinct items of `events` (any order; ordered by time, stably), newest first, at most `max`.
pub fn history_items(events: &[Event], max: usize, session_seconds: f64) -> Vec<HistoryItem> {
    let mut order: Vec<u32> = (0..events.len() as u32).collect();
    let times: Vec<f64> = events.iter().map(|e| e.time).collect();
    crate::codec::order_by_time(&mut order, &times);
    let newest = order.last().map_or(0.0, |&i| events[i as usize].time);
    let mut out: Vec<HistoryItem> = Vec::new();
    for &i in order.iter().rev() {
        let e = events[i as usize];
        if let Some(h) = out.iter_mut().find(|h| h.item == e.item) {
            if e.kind > h.kind {
                h.kind = e.kind;
            }
            continue;
        }
        if out.len() == max {
            continue;
        }
        let session = newest - e.time <= session_seconds;
        out.push(HistoryItem { item: e.item, kind: e.kind, age: out.len() as u32, session });
    }
    out
}

/// Per-candidate sums over the history's neighbour lists.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    recent: f32,
    short: f32,
    long: f32,
    last: f32,
    max: f32,
    links: f32,
    strong: f32,
    /// The history item contributing most to `recent`, and its contribution.
    because: u32,
    because_w: f32,
    /// Position in the tower's list + 1 (0: not retrieved by the tower).
    tower_rank: u32,
}

/// Reusable buffers (one per recommender): nothing is allocated per call once warm.
#[derive(Debug, Default)]
pub struct Scratch {
    slot: Vec<u32>,
    accs: Vec<(u32, Acc)>,
    pool: Vec<(f32, u32, u32)>,
}

impl Scratch {
    fn reset(&mut self, n: usize) {
        if self.slot.len() != n {
            self.slot = vec![u32::MAX; n];
        }
        for &(row, _) in &self.accs {
            self.slot[row as usize] = u32::MAX;
        }
        self.accs.clear();
    }

    fn entry(&mut self, row: u32) -> &mut Acc {
        let s = self.slot[row as usize];
        if s == u32::MAX {
            self.slot[row as usize] = self.accs.len() as u32;
            self.accs.push((row, Acc::default()));
            let last = self.accs.len() - 1;
            &mut self.accs[last].1
        } else {
            &mut self.accs[s as usize].1
        }
    }
}

/// A candidate with its features and the history item that lifted it most (for the reason).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub row: u32,
    pub features: [f32; NUM_FEATURES],
    pub because: Option<u32>,
}

/// A re-ranked result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub row: u32,
    pub score: f32,
    /// The history item this result is most often had with, when item-item weights lifted it.
    pub because: Option<u32>,
}

/// Best first: score descending, then row ascending (one sort routine in the module for every
/// ranked list, stage or not).
pub fn sort_best_first(list: &mut [Scored]) {
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
}

/// Inner product of `embedding` with catalog row `row` (int8 rows dequantized, refine plane
/// included): one formula for every candidate, whichever source retrieved it. `embedding` is in the
/// stored space ([`Catalog::stored_query`]: projected once per ranking on a projected catalog).
pub fn row_dot(catalog: &Catalog, row: u32, embedding: &[f32]) -> f32 {
    let (d, r) = (catalog.stored_dim(), row as usize);
    match catalog.vectors() {
        Vectors::F32(v) => v[r * d..(r + 1) * d].iter().zip(embedding).map(|(a, b)| a * b).sum(),
        Vectors::Int8 { values, scales } => {
            let q: f32 = values[r * d..(r + 1) * d].iter().zip(embedding).map(|(&a, b)| a as f32 * b).sum();
            let mut s = q * scales[r];
            if let Some(refine) = catalog.refine() {
                let q: f32 = refine.values[r * d..(r + 1) * d].iter().zip(embedding).map(|(&a, b)| a as f32 * b).sum();
                s += q * refine.scales[r];
            }
            s
        }
        Vectors::Pq(_) => catalog.stored_vector(row).iter().zip(embedding).map(|(a, b)| a * b).sum(),
    }
}

/// What one two-stage ranking reads besides the ranker: the tower's output and the filters.
pub struct StageInput<'a> {
    pub catalog: &'a Catalog,
    pub embedding: &'a [f32],
    pub events: &'a [Event],
    /// Rows never returned, sorted.
    pub exclude: &'a [u32],
    /// Allowed category codes, when given.
    pub categories: Option<&'a [u32]>,
    /// Tower candidates wanted at least (a caller asking for more than the stage's default).
    pub min_tower: usize,
}

impl RankingStage {
    /// Checks the ranker against the catalog it will rank.
    pub fn check_catalog(&self, catalog: &Catalog) -> Result<()> {
        if self.neighbours.len() != catalog.len() || self.popularity.len() != catalog.len() {
            return Err(bad(format!(
                "ranker covers {} items, the catalog has {}",
                self.neighbours.len(),
                catalog.len()
            )));
        }
        Ok(())
    }

    /// The candidates of both sources with their features (the trainer fits on these; `rank`
    /// scores them). Returns `(candidates, tower list exhausted)`.
    pub fn candidates(
        &self,
        scratch: &mut Scratch,
        topk: &mut TopK,
        input: &StageInput<'_>,
        out: &mut Vec<Candidate>,
    ) -> Result<bool> {
        let catalog = input.catalog;
        let n = catalog.len();
        out.clear();
        scratch.reset(n);
        let cfg = &self.config;
        let history = history_items(input.events, cfg.max_history as usize, cfg.session_seconds as f64);
        let want = (cfg.tower_candidates as usize).max(input.min_tower);
        let mut query = Query::new(input.embedding, want).exclude(input.exclude);
        if let Some(c) = input.categories {
            query = query.categories(c);
        }
        let hits = topk.search(catalog, &query)?;
        let exhausted = hits.len() < want;
        for (i, h) in hits.iter().enumerate() {
            scratch.entry(h.index).tower_rank = i as u32 + 1;
        }
        for h in &history {
            if h.item as usize >= n {
                continue;
            }
            let decay = DECAY_RECENT.powi(h.age as i32);
            let recency = decay + if h.session { 1.0 } else { 0.0 };
            let short = DECAY_SHORT.powi(h.age as i32);
            let strong = matches!(h.kind, Kind::Cart | Kind::Purchase);
            let (items, weights) = self.neighbours.row(h.item);
            for (&c, &b) in items.iter().zip(weights) {
                let a = scratch.entry(c);
                let contribution = recency * b;
                a.recent += contribution;
                a.short += short * b;
                a.long += b;
                if h.age == 0 {
                    a.last += b;
                }
                a.max = a.max.max(b);
                if b > 0.0 {
                    a.links += 1.0;
                }
                if strong {
                    a.strong += decay * b;
                }
                if contribution > a.because_w {
                    a.because_w = contribution;
                    a.because = h.item;
                }
            }
        }
        let cats = catalog.categories();
        let allowed = |row: u32| {
            input.exclude.binary_search(&row).is_err()
                && input.categories.is_none_or(|want| cats.is_some_and(|c| want.contains(&c[row as usize])))
        };
        // The item-item source: the best `neighbour_candidates` by `recent` the tower did not bring
        // (selected over contiguous (score, slot) pairs).
        let pool = &mut scratch.pool;
        pool.clear();
        pool.extend(
            scratch
                .accs
                .iter()
                .enumerate()
                .filter(|(_, (_, a))| a.tower_rank == 0 && a.recent > 0.0)
                .map(|(i, (row, a))| (a.recent, *row, i as u32)),
        );
        let by_recent = |x: &(f32, u32, u32), y: &(f32, u32, u32)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
        let want = cfg.neighbour_candidates as usize;
        // The filters are checked on the best `2m` first (few of them are excluded); on all, only if
        // that leaves fewer than `m`.
        let first = (2 * want).min(pool.len());
        if first > 0 && first < pool.len() {
            pool.select_nth_unstable_by(first - 1, by_recent);
        }
        let filtered_all = first == pool.len();
        let mut kept = 0;
        for i in 0..first {
            if allowed(pool[i].1) {
                pool.swap(kept, i);
                kept += 1;
            }
        }
        if kept < want && !filtered_all {
            for i in first..pool.len() {
                if allowed(pool[i].1) {
                    pool.swap(kept, i);
                    kept += 1;
                }
            }
        }
        pool.truncate(kept);
        let m = want.min(pool.len());
        if m > 0 && m < pool.len() {
            pool.select_nth_unstable_by(m - 1, by_recent);
        }
        pool.truncate(m);
        pool.sort_by(by_recent);
        // Category shares of the newest history items.
        let mut recent_cats: Vec<u32> = Vec::new();
        if let Some(c) = cats {
            recent_cats.extend(
                history.iter().take(CATEGORY_WINDOW).filter(|h| (h.item as usize) < n).map(|h| c[h.item as usize]),
            );
        }
        let stored_query = catalog.stored_query(input.embedding);
        let feature = |row: u32, a: &Acc| {
            let rank = a.tower_rank;
            let cat_share = match cats {
                Some(c) if !recent_cats.is_empty() => {
                    recent_cats.iter().filter(|&&x| x == c[row as usize]).count() as f32 / recent_cats.len() as f32
                }
                _ => 0.0,
            };
            let features = [
                row_dot(catalog, row, &stored_query),
                if rank == 0 { 0.0 } else { 1.0 / ((rank + 1) as f32).log2() },
                a.recent,
                a.short,
                a.long,
                a.last,
                a.max,
                a.links.ln_1p(),
                a.strong,
                self.popularity[row as usize],
                cat_share,
            ];
            Candidate { row, features, because: (a.because_w > 0.0).then_some(a.because) }
        };
        for h in hits.iter() {
            let a = &scratch.accs[scratch.slot[h.index as usize] as usize].1;
            out.push(feature(h.index, a));
        }
        for &(_, _, i) in scratch.pool.iter() {
            let (row, a) = &scratch.accs[i as usize];
            out.push(feature(*row, a));
        }
        Ok(exhausted)
    }

    /// Both stages: candidates, scores, best first (ties by row). Returns `(ranked, tower list
    /// exhausted)`.
    pub fn rank(
        &self,
        scratch: &mut Scratch,
        topk: &mut TopK,
        input: &StageInput<'_>,
        candidates: &mut Vec<Candidate>,
    ) -> Result<(Vec<Scored>, bool)> {
        let exhausted = self.candidates(scratch, topk, input, candidates)?;
        let mut out: Vec<Scored> = candidates
            .iter()
            .map(|c| Scored { row: c.row, score: self.scorer.score(&c.features), because: c.because })
            .collect();
        sort_best_first(&mut out);
        Ok((out, exhausted))
    }

    /// `ranker.bin`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let u32s = |b: &mut Vec<u8>, v: &[u32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        let f32s = |b: &mut Vec<u8>, v: &[f32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        b.extend_from_slice(&RANKER_MAGIC);
        let s = &self.scorer;
        let c = &self.config;
        u32s(&mut b, &[RANKER_VERSION, self.popularity.len() as u32, NUM_FEATURES as u32, s.hidden as u32]);
        u32s(&mut b, &[c.tower_candidates, c.neighbour_candidates]);
        f32s(&mut b, &[c.session_seconds]);
        u32s(&mut b, &[c.max_history]);
        for v in [&s.mean, &s.scale, &s.linear, &s.w1, &s.b1, &s.w2, &self.popularity] {
            f32s(&mut b, v);
        }
        let nb = &self.neighbours;
        for w in nb.offsets.windows(2) {
            crate::codec::put_varint(&mut b, w[1] - w[0]);
        }
        for w in nb.offsets.windows(2) {
            let row = &nb.items[w[0] as usize..w[1] as usize];
            for (k, &j) in row.iter().enumerate() {
                crate::codec::put_varint(&mut b, if k == 0 { j } else { j - row[k - 1] - 1 });
            }
        }
        for &w in &self.neighbours.weights {
            b.extend_from_slice(&bf16_bits(w).to_le_bytes());
        }
        let check = self.check.clone().unwrap_or_default();
        u32s(&mut b, &[check.events.len() as u32]);
        for e in &check.events {
            u32s(&mut b, &[e.item]);
            b.push(e.kind as u8);
            b.extend_from_slice(&e.time.to_le_bytes());
        }
        u32s(&mut b, &[check.expected.len() as u32]);
        for &(row, score) in &check.expected {
            u32s(&mut b, &[row]);
            f32s(&mut b, &[score]);
        }
        // Without a history there is no check, and no table (the decoder refuses one).
        let table = match (check.events.is_empty(), check.table) {
            (false, Some(t)) => CHECK_TABLES.iter().position(|&x| x == t).map_or(0, |i| i as u8 + 1),
            _ => 0,
        };
        b.push(table);
        b
    }

    /// Parses and validates `ranker.bin`: every size bounded before it is allocated, every offset
    /// monotone and in range, every weight finite, nothing left over.
    pub fn decode(bytes: &[u8]) -> Result<RankingStage> {
        let mut r = Reader { b: bytes, at: 0 };
        if r.take(4, "magic")? != RANKER_MAGIC {
            return Err(bad("not a localrec ranker file (bad magic bytes)"));
        }
        let version = r.u32("version")?;
        if !(1..=RANKER_VERSION).contains(&version) {
            return Err(bad(format!(
                "unsupported ranker format version {version} (this build reads 1 to {RANKER_VERSION})"
            )));
        }
        let items = r.u32("items")? as usize;
        if items > crate::catalog::MAX_ROWS as usize {
            return Err(bad(format!("{items} items is too many")));
        }
        let features = r.u32("features")? as usize;
        if features != NUM_FEATURES {
            return Err(bad(format!("{features} features, this build computes {NUM_FEATURES}")));
        }
        let hidden = r.u32("hidden")? as usize;
        if hidden > MAX_HIDDEN {
            return Err(bad(format!("hidden layer of {hidden} (at most {MAX_HIDDEN})")));
        }
        let config = StageConfig {
            tower_candidates: r.u32("tower_candidates")?,
            neighbour_candidates: r.u32("neighbour_candidates")?,
            session_seconds: r.f32("session_seconds")?,
            max_history: r.u32("max_history")?,
        };
        if config.tower_candidates > MAX_CANDIDATES
            || config.neighbour_candidates > MAX_CANDIDATES
            || config.max_history > MAX_HISTORY
            || !(config.session_seconds.is_finite() && config.session_seconds >= 0.0)
        {
            return Err(bad(format!("stage settings out of range: {config:?}")));
        }
        let scorer = Scorer {
            mean: r.f32s(NUM_FEATURES, "mean")?,
            scale: r.f32s(NUM_FEATURES, "scale")?,
            linear: r.f32s(NUM_FEATURES, "linear")?,
            hidden,
            w1: r.f32s(hidden * NUM_FEATURES, "w1")?,
            b1: r.f32s(hidden, "b1")?,
            w2: r.f32s(hidden, "w2")?,
        };
        scorer.check()?;
        let popularity = r.f32s(items, "popularity")?;
        if let Some(p) = popularity.iter().find(|p| !p.is_finite()) {
            return Err(bad(format!("non-finite popularity {p}")));
        }
        let (offsets, nb_items) = if version == 1 {
            let offsets = r.u32s(items + 1, "offsets")?;
            if offsets[0] != 0 || offsets.windows(2).any(|w| w[1] < w[0] || (w[1] - w[0]) as usize > MAX_NEIGHBOURS) {
                return Err(bad("neighbour offsets are not monotone from 0"));
            }
            let nb_items = r.u32s(offsets[items] as usize, "neighbours")?;
            (offsets, nb_items)
        } else {
            r.neighbours(items)?
        };
        let nnz = offsets[items] as usize;
        let raw = r.take(nnz.checked_mul(2).ok_or_else(|| bad("size overflow"))?, "weights")?;
        let weights: Vec<f32> =
            raw.chunks_exact(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect();
        for i in 0..items {
            for k in offsets[i] as usize..offsets[i + 1] as usize {
                let (j, w) = (nb_items[k], weights[k]);
                if j as usize >= items || j as usize == i || !w.is_finite() {
                    return Err(bad(format!("item {i}: bad neighbour {j} (weight {w})")));
                }
            }
        }
        let n_events = r.u32("check events")?;
        if n_events > MAX_CHECK {
            return Err(bad("self-check too long"));
        }
        let mut events = Vec::with_capacity(n_events as usize);
        for _ in 0..n_events {
            let item = r.u32("check item")?;
            let kind = Kind::from_code(r.take(1, "check kind")?[0]).map_err(|e| bad(format!("self-check: {e}")))?;
            let time = f64::from_le_bytes(r.take(8, "check time")?.try_into().expect("8 bytes"));
            if item as usize >= items || !time.is_finite() {
                return Err(bad("self-check event out of range"));
            }
            events.push(Event { item, kind, time });
        }
        let n_expected = r.u32("check expected")?;
        if n_expected > MAX_CHECK {
            return Err(bad("self-check too long"));
        }
        let mut expected = Vec::with_capacity(n_expected as usize);
        for _ in 0..n_expected {
            let row = r.u32("check row")?;
            let score = r.f32("check score")?;
            if row as usize >= items || !score.is_finite() {
                return Err(bad("self-check result out of range"));
            }
            expected.push((row, score));
        }
        // Version 3's table byte (0: not recorded); earlier versions have none.
        let table = if version >= 3 {
            let code = r.take(1, "check table")?[0];
            if code as usize > CHECK_TABLES.len() {
                return Err(bad(format!("unknown self-check table code {code}")));
            }
            code.checked_sub(1).map(|c| CHECK_TABLES[c as usize])
        } else {
            None
        };
        if r.at != bytes.len() {
            return Err(bad(format!("{} unexpected trailing bytes", bytes.len() - r.at)));
        }
        // No history means no check: results without one would be dropped, so they are refused.
        if events.is_empty() && !expected.is_empty() {
            return Err(bad("self-check lists results but no history"));
        }
        if events.is_empty() && table.is_some() {
            return Err(bad("self-check names a table but no history"));
        }
        let check = (!events.is_empty()).then_some(SelfCheck { events, expected, table });
        let mut neighbours = Neighbours { offsets, items: nb_items, weights };
        if version == 1 {
            // Version 1 kept each list in the trainer's order; version 2's on is ascending.
            neighbours.sort_rows()?;
        }
        Ok(RankingStage { config, scorer, popularity, neighbours, check })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let left = self.b.len() - self.at;
        if n > left {
            return Err(bad(format!("truncated: {what} needs {n} bytes, {left} left")));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    /// `n` little-endian 4-byte words, decoded by `word`.
    fn words<T>(&mut self, n: usize, what: &str, word: fn([u8; 4]) -> T) -> Result<Vec<T>> {
        let raw = self.take(n.checked_mul(4).ok_or_else(|| bad("size overflow"))?, what)?;
        Ok(raw.chunks_exact(4).map(|c| word(c.try_into().expect("4 bytes"))).collect())
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(self.words(1, what, u32::from_le_bytes)?[0])
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(self.words(1, what, f32::from_le_bytes)?[0])
    }

    fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>> {
        self.words(n, what, u32::from_le_bytes)
    }

    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        self.words(n, what, f32::from_le_bytes)
    }

    fn varint(&mut self, what: &str) -> Result<u32> {
        crate::codec::read_varint(self.b, &mut self.at)
            .ok_or_else(|| bad(format!("{what}: truncated, or a number past 32 bits")))
    }

    /// Version 2's neighbour lists: the offsets they make and the neighbours, each list strictly
    /// ascending (so in range and free of repeats once the last is checked by the caller).
    fn neighbours(&mut self, items: usize) -> Result<(Vec<u32>, Vec<u32>)> {
        // Every count and neighbour takes a byte at least: sizes are bounded by what is left.
        if items > self.b.len() - self.at {
            return Err(bad("truncated: neighbour counts"));
        }
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0u32);
        let mut nnz = 0usize;
        for _ in 0..items {
            let c = self.varint("neighbour counts")? as usize;
            if c > MAX_NEIGHBOURS {
                return Err(bad(format!("an item lists {c} neighbours (at most {MAX_NEIGHBOURS})")));
            }
            nnz += c;
            offsets.push(nnz as u32);
        }
        if nnz > self.b.len() - self.at {
            return Err(bad("truncated: neighbours"));
        }
        let mut nb = vec![0u32; nnz];
        let mut k = 0;
        let bytes = self.b;
        // Below `fast`, a two-byte number cannot run past the end: no length checks there.
        let fast = bytes.len().saturating_sub(1);
        let mut at = self.at;
        for w in offsets.windows(2) {
            // The first is the row itself (a gap from -1).
            let mut next = 0u32;
            for _ in w[0]..w[1] {
                // One- and two-byte numbers inline (nearly all of them), longer ones the general way.
                let v = if at < fast && bytes[at] < 0x80 {
                    at += 1;
                    bytes[at - 1] as u32
                } else if at < fast && bytes[at + 1] < 0x80 && bytes[at + 1] != 0 {
                    at += 2;
                    (bytes[at - 2] & 0x7f) as u32 | (bytes[at - 1] as u32) << 7
                } else {
                    self.at = at;
                    let v = self.varint("neighbours")?;
                    at = self.at;
                    v
                };
                // A sum past u32::MAX wraps below `next` and is refused here; rows past the last
                // are refused by the caller.
                let j = next.wrapping_add(v);
                nb[k] = j;
                k += 1;
                if j < next {
                    return Err(bad("a neighbour past the last row"));
                }
                next = j.wrapping_add(1);
            }
        }
        self.at = at;
        Ok((offsets, nb))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest() {
        assert_eq!(bf16_round(1.0), 1.0);
        assert_eq!(bf16_round(-0.5), -0.5);
        let x = 0.123_456_7f32;
        assert!((bf16_round(x) - x).abs() <= x * (1.0 / 256.0));
    }

    #[test]
    fn history_items_are_distinct_newest_first_with_the_strongest_kind() {
        let ev = |item, kind, time| Event { item, kind, time };
        let events = [
            ev(1, Kind::Purchase, 10.0),
            ev(2, Kind::View, 5000.0),
            ev(1, Kind::View, 9000.0),
            ev(3, Kind::Cart, 8000.0),
        ];
        let h = history_items(&events, 10, 1800.0);
        let items: Vec<_> = h.iter().map(|x| (x.item, x.kind, x.age, x.session)).collect();
        assert_eq!(items, vec![(1, Kind::Purchase, 0, true), (3, Kind::Cart, 1, true), (2, Kind::View, 2, false)]);
        assert_eq!(history_items(&events, 2, 1800.0).len(), 2);
    }
}
