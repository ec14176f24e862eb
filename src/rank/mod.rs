//! Exact top-k retrieval by inner product (cosine similarity for unit vectors) over a [`Catalog`].
//!
//! ```
//! use localrec::catalog::synthetic::random_unit;
//! use localrec::rank::{Query, TopK};
//!
//! let catalog = random_unit(1000, 16, 4, 7);
//! let query = catalog.vector(3);
//! let mut topk = TopK::new(); // reusable scratch: no allocation per query once warm
//! let hits = topk.search(&catalog, &Query::new(&query, 5).exclude(&[3])).unwrap();
//! assert_eq!(hits.len(), 5);
//! assert!(hits.iter().all(|h| h.index != 3));
//! assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
//! ```
//!
//! The scan scores rows in blocks with a [`Kernel`] and keeps the best k in a bounded min-heap.
//! Filters (excluded rows, category allow-list) are checked inside the scan, only for rows whose score
//! would enter the heap, so they cost almost nothing and exactly `min(k, eligible rows)` hits return.
//! Order is by score, descending; equal scores are ordered by row index, ascending, so results are
//! deterministic. A NaN score (possible only if products overflow to inf - inf) ranks as -inf.
//!
//! A large f32 catalog (at least [`crate::catalog::SHADOW_MIN_VALUES`] values) is searched through
//! its int8 [`Shadow`]: the scan reads one byte per value, bounds each row's f32 score by its int8
//! score plus or minus a per-row error radius, and re-scores with the f32 kernel only the rows whose
//! upper bound reaches the k-th best lower bound. The hits, scores included, are bit for bit those of
//! the plain f32 scan (`tests/ranker.rs` checks it with every kernel, on data built to break a loose
//! bound); at 100k x 384 in Chromium it took 3.2 ms against 9.1 to 9.7 ms (`bench/kernels.mjs`).
//! [`TopK::bounded`] turns it off.
//!
//! An int8 catalog with a [`Refine`] plane is searched in two stages: the int8 scan keeps the best
//! `2k + 32` candidates, which are re-scored with both planes (close to f32 precision) before the best
//! k are returned. Scores returned are then the refined ones.

pub mod kernels;

pub use kernels::Kernel;

use crate::catalog::pq::{quantize_lut, BLOCK as PQ_BLOCK};
use crate::catalog::{Catalog, Pq, Refine, Shadow, Vectors, MAX_CATEGORY};
use crate::error::{Error, Result};

/// Rows scored per kernel call: big enough to amortize the call, small enough to stay in L1.
const BLOCK_ROWS: usize = 256;
/// Candidates kept beyond `2k` for re-scoring when the catalog has a refine plane.
const REFINE_EXTRA: usize = 32;

/// One result: a catalog row and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row index in the catalog (see [`Catalog::id`]).
    pub index: u32,
    /// Inner product of the query and the row.
    pub score: f32,
}

/// What to search for.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The query embedding; its length must equal the catalog's dimension.
    pub vector: &'a [f32],
    /// How many hits to return at most.
    pub k: usize,
    /// Rows never to return (already seen, blocked). Out-of-range rows are an error.
    pub exclude: &'a [u32],
    /// If set, only rows whose category code is in this list are eligible.
    pub categories: Option<&'a [u32]>,
    /// Added to the score of every row of a category code, inside the scan: positive boosts,
    /// negative buries. The hits are the top k of the offset scores, exactly, and their scores
    /// include the offsets. The last entry given for a code wins; ignored if the catalog has no
    /// category codes. Non-finite offsets are an error.
    pub offsets: &'a [(u32, f32)],
}

impl<'a> Query<'a> {
    /// Top `k` by inner product with `vector`, no filters.
    pub fn new(vector: &'a [f32], k: usize) -> Self {
        Query { vector, k, exclude: &[], categories: None, offsets: &[] }
    }

    /// Never return these rows.
    pub fn exclude(mut self, rows: &'a [u32]) -> Self {
        self.exclude = rows;
        self
    }

    /// Only return rows in these categories.
    pub fn categories(mut self, codes: &'a [u32]) -> Self {
        self.categories = Some(codes);
        self
    }

    /// Add these per-category offsets `(code, offset)` to the scores ([`Query::offsets`]).
    pub fn offsets(mut self, offsets: &'a [(u32, f32)]) -> Self {
        self.offsets = offsets;
        self
    }
}

/// Per-category score offsets for one search: the row codes, the offsets sorted by code, and the
/// largest offset that can raise a score (0 if all are buries), which lets the scan skip the
/// lookup for every row that could not enter the heap even with it.
#[derive(Clone, Copy)]
struct Offsets<'a> {
    codes: &'a [u32],
    table: &'a [(u32, f32)],
    lift: f32,
}

impl Offsets<'_> {
    #[inline]
    fn of(&self, row: usize) -> f32 {
        let code = self.codes[row];
        self.table.binary_search_by_key(&code, |e| e.0).map_or(0.0, |i| self.table[i].1)
    }
}

/// The offset of `row` (0 without offsets).
#[inline]
fn offset_of(offsets: Option<Offsets<'_>>, row: usize) -> f32 {
    offsets.map_or(0.0, |o| o.of(row))
}

/// A fixed-size bit set that is cleared by undoing exactly the bits that were set.
#[derive(Debug, Default, Clone)]
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn ensure(&mut self, bits: usize) {
        let words = bits.div_ceil(64);
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
    }
    #[inline]
    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    #[inline]
    fn unset(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }
    #[inline]
    fn get(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// "a ranks below b": lower score, or equal score and higher row index.
#[inline]
fn worse(a: &Hit, b: &Hit) -> bool {
    a.score < b.score || (a.score == b.score && a.index > b.index)
}

/// Top-k search state: the scratch buffers one query needs, reused across queries.
///
/// Create one per thread (or per worker) and call [`TopK::search`] for every query. After the first
/// query of a given k and catalog size it allocates nothing.
#[derive(Debug, Clone)]
pub struct TopK {
    kernel: Kernel,
    block: Vec<f32>,
    heap: Vec<Hit>,
    excluded: BitSet,
    allowed: BitSet,
    q16: Vec<i16>,
    /// Use a large f32 catalog's [`crate::catalog::Shadow`] (the bounded scan) when it has one.
    bounded: bool,
    /// The bounded scan's shortlist: rows whose upper bound reached the k-th lower bound so far.
    shortlist: Vec<(u32, f32)>,
    /// The bounded scan's per-row error radii for one block.
    radius: Vec<f32>,
    /// A pq query's float table, its byte table and every row's byte-table score.
    lut: Vec<f32>,
    /// The refine plane's float table ([`Catalog::residual`]).
    lut2: Vec<f32>,
    lut8: Vec<u8>,
    pq_scores: Vec<u16>,
    /// The query's offsets sorted by code (and, for a pq scan, in byte-table units).
    offsets: Vec<(u32, f32)>,
    offsets_pq: Vec<(u32, f32)>,
    /// The query on a projected catalog's axes.
    projected: Vec<f32>,
}

impl Default for TopK {
    fn default() -> Self {
        TopK::new()
    }
}

impl TopK {
    /// Search state using this build's fastest kernel ([`Kernel::BEST`]).
    pub fn new() -> Self {
        TopK::with_kernel(Kernel::BEST)
    }

    /// Search state using a given kernel (for tests and benchmarks).
    pub fn with_kernel(kernel: Kernel) -> Self {
        TopK {
            kernel,
            block: vec![0.0; BLOCK_ROWS],
            heap: Vec::new(),
            excluded: BitSet::default(),
            allowed: BitSet::default(),
            q16: Vec::new(),
            bounded: true,
            shortlist: Vec::new(),
            radius: vec![0.0; BLOCK_ROWS],
            lut: Vec::new(),
            lut2: Vec::new(),
            lut8: Vec::new(),
            pq_scores: Vec::new(),
            offsets: Vec::new(),
            offsets_pq: Vec::new(),
            projected: Vec::new(),
        }
    }

    /// Turns the bounded scan of large f32 catalogs on (the default) or off (a plain f32 scan, for
    /// benchmarks and tests: both return the same hits).
    pub fn bounded(mut self, on: bool) -> Self {
        self.bounded = on;
        self
    }

    /// The kernel this state scores with.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The best `min(k, eligible rows)` rows for `query`, best first.
    ///
    /// Errors: [`Error::DimensionMismatch`], [`Error::NonFiniteQuery`], [`Error::IndexOutOfRange`]
    /// for an excluded row past the end. The returned slice lives until the next search.
    pub fn search(&mut self, catalog: &Catalog, query: &Query) -> Result<&[Hit]> {
        let (n, dim) = (catalog.len(), catalog.dim());
        if query.vector.len() != dim {
            return Err(Error::DimensionMismatch { expected: dim, got: query.vector.len() });
        }
        if let Some(index) = query.vector.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFiniteQuery { index, value: query.vector[index] });
        }
        if let Some(&index) = query.exclude.iter().find(|&&r| r as usize >= n) {
            return Err(Error::IndexOutOfRange { index, len: n });
        }
        if let Some((code, b)) = query.offsets.iter().find(|(_, b)| !b.is_finite()) {
            return Err(Error::InvalidArgument(format!("the offset of category {code} is {b}, not a finite number")));
        }
        self.heap.clear();
        let k = query.k.min(n);
        if k == 0 {
            return Ok(&self.heap);
        }
        let cats = query.categories.map(|codes| (catalog.categories(), codes));
        if let Some((None, _)) = cats {
            // No category codes in the catalog: no row can match an allow-list.
            return Ok(&self.heap);
        }

        self.excluded.ensure(n);
        query.exclude.iter().for_each(|&r| self.excluded.set(r as usize));
        if let Some((_, codes)) = cats {
            self.allowed.ensure(MAX_CATEGORY as usize + 1);
            codes.iter().filter(|&&c| c <= MAX_CATEGORY).for_each(|&c| self.allowed.set(c as usize));
        }
        let row_codes = cats.and_then(|(c, _)| c);

        // The offsets sorted by code, the last given for a code kept (sorted by insertion: a rule
        // set holds a handful).
        self.offsets.clear();
        if catalog.categories().is_some() {
            for &(code, b) in query.offsets.iter().rev() {
                if let Err(i) = self.offsets.binary_search_by_key(&code, |e| e.0) {
                    self.offsets.insert(i, (code, b));
                }
            }
        }
        let offsets = std::mem::take(&mut self.offsets);
        let offs = match catalog.categories() {
            Some(codes) if offsets.iter().any(|e| e.1 != 0.0) => {
                Some(Offsets { codes, table: &offsets, lift: offsets.iter().fold(0f32, |m, e| m.max(e.1)) })
            }
            _ => None,
        };

        // A projected catalog is scanned on its axes: the query is projected once, and its score
        // with a stored row is its score with the row read back.
        let mut projected = std::mem::take(&mut self.projected);
        let vector = match catalog.projection() {
            Some(p) => {
                p.project(query.vector, &mut projected);
                &projected[..]
            }
            None => query.vector,
        };
        match (catalog.vectors(), catalog.shadow()) {
            (Vectors::F32(v), Some(shadow)) if self.bounded => {
                self.scan_bounded(vector, k, v, shadow, row_codes, offs);
            }
            (Vectors::Pq(pq), _) => match catalog.residual() {
                None => self.scan_pq(vector, k, pq, row_codes, offs),
                // With the refine plane, the pq scan keeps extra candidates, re-scored with both
                // levels (the float tables of each, summed).
                Some(second) => {
                    self.scan_pq(vector, (2 * k + REFINE_EXTRA).min(n), pq, row_codes, offs);
                    second.lut(vector, &mut self.lut2);
                    for hit in self.heap.iter_mut() {
                        let row = hit.index as usize;
                        let s = pq.score(&self.lut, row) + second.score(&self.lut2, row);
                        hit.score = if s.is_nan() { f32::NEG_INFINITY } else { s + offset_of(offs, row) };
                    }
                }
            },
            _ => self.scan(catalog, vector, k, row_codes, offs),
        }
        self.projected = projected;
        self.offsets = offsets;
        query.exclude.iter().for_each(|&r| self.excluded.unset(r as usize));
        if let Some((_, codes)) = cats {
            codes.iter().filter(|&&c| c <= MAX_CATEGORY).for_each(|&c| self.allowed.unset(c as usize));
        }
        self.heap.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        self.heap.truncate(k);
        Ok(&self.heap)
    }

    /// The plain scan: every row scored with the catalog's own element type, the best kept (and
    /// re-scored with the refine plane, if any). Leaves the best `k` in `self.heap`, unsorted (with a
    /// refine plane, the best `2k + 32` of the int8 scan, re-scored).
    fn scan(
        &mut self,
        catalog: &Catalog,
        vector: &[f32],
        k: usize,
        row_codes: Option<&[u32]>,
        offsets: Option<Offsets<'_>>,
    ) {
        let (n, dim) = (catalog.len(), catalog.stored_dim());
        // With a refine plane, the int8 scan keeps extra candidates, which are re-scored with both
        // planes below: the true top k is then among them with near certainty.
        let refine = catalog.refine();
        let scan_k = if refine.is_some() { (2 * k + REFINE_EXTRA).min(n) } else { k };
        self.heap.reserve(scan_k);
        let qscale = match catalog.vectors() {
            Vectors::Int8 { .. } => kernels::quantize_query(vector, &mut self.q16),
            _ => 0.0,
        };
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK_ROWS).min(n);
            let block = &mut self.block[..end - start];
            match catalog.vectors() {
                Vectors::F32(v) => self.kernel.scores_f32(vector, &v[start * dim..end * dim], block),
                Vectors::Int8 { values, scales } => self.kernel.scores_i8(
                    &self.q16,
                    qscale,
                    &values[start * dim..end * dim],
                    &scales[start..end],
                    block,
                ),
                Vectors::Pq(_) => unreachable!("pq tables are searched by scan_pq"),
            }
            let cats = row_codes.map(|c| (c, &self.allowed));
            select(&mut self.heap, scan_k, block, start, &self.excluded, cats, offsets);
            start = end;
        }

        if let (Some(refine), Vectors::Int8 { values, scales }) = (refine, catalog.vectors()) {
            for hit in self.heap.iter_mut() {
                let row = hit.index as usize;
                hit.score = refined_score(vector, row, dim, values, scales, refine) + offset_of(offsets, row);
            }
        }
    }

    /// The bounded scan of an f32 catalog through its int8 [`Shadow`]: each row's int8 score
    /// `a` and radius `e` bound its f32 score to `[a - e, a + e]`. The heap keeps the k best lower
    /// bounds; a row whose upper bound stays below the k-th of them cannot be in the f32 top k. The
    /// rows that can are re-scored with the f32 kernel, so the hits (scores included) are exactly
    /// the plain f32 scan's.
    fn scan_bounded(
        &mut self,
        vector: &[f32],
        k: usize,
        v: &[f32],
        shadow: &Shadow,
        row_codes: Option<&[u32]>,
        offsets: Option<Offsets<'_>>,
    ) {
        let (n, dim) = (shadow.scales.len(), vector.len());
        let qscale = kernels::quantize_query(vector, &mut self.q16);
        let l1: f32 = vector.iter().map(|x| x.abs()).sum();
        self.shortlist.clear();
        self.heap.reserve(k);
        let cats = row_codes.map(|c| (c, &self.allowed));
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK_ROWS).min(n);
            let block = &mut self.block[..end - start];
            self.kernel.scores_i8(
                &self.q16,
                qscale,
                &shadow.values[start * dim..end * dim],
                &shadow.scales[start..end],
                block,
            );
            // Lower bounds into the heap (NaN, from an overflow, ranks as -inf there)...
            let radius = &mut self.radius[..end - start];
            for (i, (a, e)) in block.iter_mut().zip(radius.iter_mut()).enumerate() {
                *e = shadow.radius(start + i, l1, qscale);
                *a -= *e;
            }
            select(&mut self.heap, k, block, start, &self.excluded, cats, offsets);
            // ...then the upper bounds (offset) that reach the k-th lower bound so far (it only
            // rises, so rows dropped here stay below it). A NaN bound is kept: its row is scored
            // exactly.
            let floor = if self.heap.len() < k { f32::NEG_INFINITY } else { self.heap[0].score };
            let lift = offsets.map_or(0.0, |o| o.lift);
            for (i, (lower, e)) in block.iter().zip(radius.iter()).enumerate() {
                let row = start + i;
                let mut upper = lower + 2.0 * e;
                if upper + lift < floor {
                    continue;
                }
                upper += offset_of(offsets, row);
                // A NaN bound compares false both ways: its row is kept.
                if upper.partial_cmp(&floor) != Some(std::cmp::Ordering::Less)
                    && !self.excluded.get(row)
                    && cats.is_none_or(|(codes, allowed)| allowed.get(codes[row] as usize))
                {
                    self.shortlist.push((row as u32, upper));
                }
            }
            start = end;
        }
        // Re-score what can still reach the final k-th lower bound, with the f32 kernel row by row
        // (each row's score is the same as in a block).
        let floor = if self.heap.len() < k { f32::NEG_INFINITY } else { self.heap[0].score };
        self.heap.clear();
        let mut score = [0.0f32];
        for &(row, upper) in &self.shortlist {
            if upper < floor {
                continue;
            }
            let r = row as usize;
            self.kernel.scores_f32(vector, &v[r * dim..(r + 1) * dim], &mut score);
            offer(&mut self.heap, k, Hit { index: row, score: score[0] + offset_of(offsets, r) });
        }
    }
}

impl TopK {
    /// The scan of a product-quantized table, in two passes. The first scores every row through the
    /// query's byte table with the kernel and keeps the k best; each byte-table score is within
    /// `m / 2` units of the float table's (scaled), plus float rounding, so a row can be in the
    /// float-table top k only if its byte score reaches the k-th best minus twice that. The second
    /// pass scores those rows with the float table ([`Pq::score`]): the hits are exactly the
    /// float-table scan's, whatever the kernel.
    ///
    /// With offsets, both passes add each row's offset (in byte-table units in the first), so the
    /// hits are exactly the float-table scan's plus offsets.
    fn scan_pq(&mut self, vector: &[f32], k: usize, pq: &Pq, row_codes: Option<&[u32]>, offsets: Option<Offsets<'_>>) {
        let (n, m) = (pq.rows(), pq.subspaces());
        pq.lut(vector, &mut self.lut);
        let cats = row_codes.map(|c| (c, &self.allowed));
        self.heap.reserve(k);
        // Without a usable byte table (no spread, or an overflow), every eligible row is scored
        // with the float table.
        let factor = quantize_lut(&self.lut, &mut self.lut8);
        let mut floor = f32::NEG_INFINITY;
        // The offsets in byte-table units.
        let mut table = std::mem::take(&mut self.offsets_pq);
        table.clear();
        if let (Some(o), Some(factor)) = (offsets, factor) {
            table.extend(o.table.iter().map(|&(c, b)| (c, b * factor)));
        }
        let units = offsets.map(|o| Offsets { codes: o.codes, table: &table, lift: o.lift * factor.unwrap_or(0.0) });
        let lift = units.map_or(0.0, |o| o.lift);
        if let Some(factor) = factor {
            self.pq_scores.resize(n.div_ceil(PQ_BLOCK) * PQ_BLOCK, 0);
            let mut start = 0;
            while start < n {
                let end = (start + BLOCK_ROWS).min(n);
                let padded = end.div_ceil(PQ_BLOCK) * PQ_BLOCK;
                let codes = &pq.blocked()[start / PQ_BLOCK * m * 16..padded / PQ_BLOCK * m * 16];
                let scores = &mut self.pq_scores[start..padded];
                self.kernel.scores_pq(&self.lut8, m, codes, scores);
                // Once the heap is full, a block whose best score does not beat its worst adds
                // nothing (a later row loses ties): most blocks stop here.
                let best = scores[..end - start].iter().copied().max().unwrap_or(0);
                if self.heap.len() < k || best as f32 + lift > self.heap[0].score {
                    let block = &mut self.block[..end - start];
                    block.iter_mut().zip(scores.iter()).for_each(|(b, &s)| *b = s as f32);
                    select(&mut self.heap, k, block, start, &self.excluded, cats, units);
                }
                start = end;
            }
            if self.heap.len() == k {
                // Rounding to bytes: at most 0.5 (plus 3e-5 of float error) per entry and row, so
                // two rows' byte-score gap is within m × 1.0001 units of their true gap. Summing m
                // float entries errs by at most m · 2^-24 · Σ|entry| per row; doubled, then doubled
                // again for safety.
                let sum_abs: f32 = self.lut.chunks_exact(16).map(|t| t.iter().fold(0f32, |a, &x| a.max(x.abs()))).sum();
                let rounding = m as f32 * sum_abs * factor / 4_194_304.0;
                floor = self.heap[0].score - (m as f32 * 1.01 + rounding + 2.0);
            }
        }
        self.heap.clear();
        // Rows whose byte score (plus offset) is below the floor are skipped, 32 at a time where
        // none reaches it.
        let skip = factor.is_some() && floor > f32::NEG_INFINITY;
        let mut start = 0;
        while start < n {
            let end = (start + PQ_BLOCK).min(n);
            if skip && (self.pq_scores[start..end].iter().copied().max().unwrap_or(0) as f32) + lift < floor {
                start = end;
                continue;
            }
            for row in start..end {
                if skip
                    && ((self.pq_scores[row] as f32) + lift < floor
                        || (units.is_some() && (self.pq_scores[row] as f32) + offset_of(units, row) < floor))
                {
                    continue;
                }
                if self.excluded.get(row) || cats.is_some_and(|(codes, allowed)| !allowed.get(codes[row] as usize)) {
                    continue;
                }
                let score = pq.score(&self.lut, row) + offset_of(offsets, row);
                offer(&mut self.heap, k, Hit { index: row as u32, score });
            }
            start = end;
        }
        self.offsets_pq = table;
    }
}

/// `query · (v1 * s1 + v2 * s2)` for one row of a refined int8 catalog, in f32, left to right (the
/// same in every kernel). NaN ranks as -inf, as in the scan.
pub fn refined_score(query: &[f32], row: usize, dim: usize, values: &[i8], scales: &[f32], refine: &Refine) -> f32 {
    let (v1, v2) = (&values[row * dim..(row + 1) * dim], &refine.values[row * dim..(row + 1) * dim]);
    let (s1, s2) = (scales[row], refine.scales[row]);
    let mut sum = 0.0f32;
    for ((q, &a), &b) in query.iter().zip(v1).zip(v2) {
        sum += q * (a as f32 * s1 + b as f32 * s2);
    }
    if sum.is_nan() {
        f32::NEG_INFINITY
    } else {
        sum
    }
}

/// Offers one block of scores (rows `first..first + block.len()`) to the heap of the best `k`.
#[inline]
fn select(
    heap: &mut Vec<Hit>,
    k: usize,
    block: &[f32],
    first: usize,
    excluded: &BitSet,
    cats: Option<(&[u32], &BitSet)>,
    offsets: Option<Offsets<'_>>,
) {
    let eligible =
        |row: usize| !excluded.get(row) && cats.is_none_or(|(codes, allowed)| allowed.get(codes[row] as usize));
    let mut i = 0;
    // Fill phase: take every eligible row until the heap holds k.
    while heap.len() < k && i < block.len() {
        let row = first + i;
        if eligible(row) {
            let score = if block[i].is_nan() { f32::NEG_INFINITY } else { block[i] };
            heap.push(Hit { index: row as u32, score: score + offset_of(offsets, row) });
            let last = heap.len() - 1;
            sift_up(heap, last);
        }
        i += 1;
    }
    if heap.len() < k {
        return;
    }
    // Steady state: rows arrive in ascending order, so a row can only beat the heap's worst hit with a
    // strictly higher score (on a tie the earlier row wins). NaN compares false and never enters.
    // With offsets, only a row that could pass with the largest one looks its own up.
    let mut threshold = heap[0].score;
    let lift = offsets.map_or(0.0, |o| o.lift);
    for (j, &score) in block.iter().enumerate().skip(i) {
        if score + lift > threshold {
            let row = first + j;
            let score = score + offset_of(offsets, row);
            if score > threshold && eligible(row) {
                heap[0] = Hit { index: row as u32, score };
                sift_down(heap, 0);
                threshold = heap[0].score;
            }
        }
    }
}

/// Offers one hit, scored out of row order, to the heap of the best `k` (NaN ranks as -inf).
fn offer(heap: &mut Vec<Hit>, k: usize, mut hit: Hit) {
    if hit.score.is_nan() {
        hit.score = f32::NEG_INFINITY;
    }
    if heap.len() < k {
        heap.push(hit);
        let last = heap.len() - 1;
        sift_up(heap, last);
    } else if worse(&heap[0], &hit) {
        heap[0] = hit;
        sift_down(heap, 0);
    }
}

fn sift_up(heap: &mut [Hit], mut i: usize) {
    while i > 0 {
        let parent = (i - 1) / 2;
        if worse(&heap[i], &heap[parent]) {
            heap.swap(i, parent);
            i = parent;
        } else {
            break;
        }
    }
}

fn sift_down(heap: &mut [Hit], mut i: usize) {
    let n = heap.len();
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut worst = i;
        if l < n && worse(&heap[l], &heap[worst]) {
            worst = l;
        }
        if r < n && worse(&heap[r], &heap[worst]) {
            worst = r;
        }
        if worst == i {
            return;
        }
        heap.swap(i, worst);
        i = worst;
    }
}
