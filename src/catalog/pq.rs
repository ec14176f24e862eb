//! Product quantization with 4-bit codes (element type `pq`): the compact catalog for large shops.
//!
//! A row of `dim` values is cut into `m` contiguous sub-vectors (sub-space `j` covers columns
//! `j·dim/m .. (j+1)·dim/m`), and each sub-vector is replaced by the index of the nearest of 16
//! centroids learnt for that sub-space (k-means, [`Pq::train`]). A row costs `m / 2` bytes: at 384
//! dimensions with the default `m = 128` (three columns per sub-space), 64 bytes instead of int8's 388.
//!
//! Scoring (Jégou, Douze and Schmid 2011, "Product quantization for nearest neighbor search"):
//! the query's inner product with every centroid is computed once per query, a lookup table of
//! `16·m` floats; a row's score is then the sum of `m` table entries picked by its codes. Sixteen
//! centroids rather than the classic 256 make the table lookup a SIMD shuffle (`i8x16.swizzle`
//! looks up 16 rows at once) once the table is quantized to bytes, the "fast scan" of André, Kermarrec
//! and Le Scouarnec 2015 ("Cache locality is not enough"), also used by Faiss's PQ fast-scan indexes;
//! 256-entry tables would need a gather, which wasm SIMD lacks. The byte-table score has a known
//! error bound, so the ranker re-scores with the float table every row that can still reach the top
//! k ([`crate::rank`]): the hits are exactly those of the float-table scan.
//!
//! In memory the codes are kept in the scan's layout only: blocks of [`BLOCK`] rows, and per block
//! and sub-space 16 bytes whose low nibbles are rows 0..16 of the block and high nibbles rows 16..32.

use crate::error::{Error, Result};
#[cfg(feature = "fixtures")]
use crate::rng::Rng;

/// Centroids per sub-space (4-bit codes).
pub const CENTROIDS: usize = 16;
/// Rows per block of the scan layout.
pub const BLOCK: usize = 32;
/// Most sub-spaces: the byte-table scores of a row sum in a u16 (`256 × 255 < 65536`).
pub const MAX_SUBSPACES: usize = 256;
/// The default number of sub-spaces for `dim` columns: three columns each (even, at least 2, at
/// most [`MAX_SUBSPACES`] and `dim`). 384 dimensions: 128 sub-spaces, 64 bytes a row. (On Online
/// Retail II's 384-dimension tower, four columns each lost 17% of Recall@10 against f32, three
/// columns 12%, two columns 5%; `examples/pq_quality.rs`.)
pub fn default_subspaces(dim: usize) -> usize {
    let m = (dim / 3).clamp(2, MAX_SUBSPACES);
    (m & !1).min(dim & !1).max(2)
}

/// A product-quantized table: `m` sub-spaces of 16 centroids and 4-bit codes, in the scan layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Pq {
    dim: usize,
    m: usize,
    rows: usize,
    /// `16 · dim` floats: sub-space `j`'s centroid `c` is `codebook[16·start(j) + c·len(j)..][..len(j)]`.
    codebook: Vec<f32>,
    /// `ceil(rows / 32) · m · 16` bytes, see the module documentation. Padding rows have code 0.
    blocked: Vec<u8>,
}

impl Pq {
    /// Builds a table from its codebook and its row-major codes (`rows · m / 2` bytes; byte `b` of a
    /// row holds sub-space `2b` in its low nibble and `2b + 1` in its high nibble), checking both.
    pub fn new(dim: usize, m: usize, codebook: Vec<f32>, codes: &[u8]) -> Result<Pq> {
        check_shape(dim, m)?;
        let per_row = m / 2;
        if codes.len() % per_row != 0 {
            return Err(Error::LengthMismatch {
                what: "pq codes",
                expected: codes.len().div_ceil(per_row) * per_row,
                got: codes.len(),
            });
        }
        let mut pq = Pq::with_rows(dim, m, codebook, codes.len() / per_row)?;
        pq.place_rows(0, codes);
        Ok(pq)
    }

    /// A table of `rows` rows, every code 0 until [`Pq::place_rows`] writes them: the decoder streams
    /// the file's codes into the scan layout this way, without a row-major copy in memory. Checks the
    /// shape and the codebook as [`Pq::new`] does.
    pub(crate) fn with_rows(dim: usize, m: usize, codebook: Vec<f32>, rows: usize) -> Result<Pq> {
        check_shape(dim, m)?;
        if codebook.len() != CENTROIDS * dim {
            return Err(Error::LengthMismatch { what: "pq codebook", expected: CENTROIDS * dim, got: codebook.len() });
        }
        if let Some(i) = codebook.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidCodebook { index: i as u32, value: codebook[i] });
        }
        let blocked = vec![0u8; rows.div_ceil(BLOCK) * m * 16];
        Ok(Pq { dim, m, rows, codebook, blocked })
    }

    /// Writes whole rows of row-major codes (`m / 2` bytes a row), the first being row `first`, into
    /// the scan layout. Each row is written once (codes are or-ed into zeroed nibbles).
    pub(crate) fn place_rows(&mut self, first: usize, codes: &[u8]) {
        let (m, per_row) = (self.m, self.m / 2);
        debug_assert!(codes.len() % per_row == 0 && first + codes.len() / per_row <= self.rows);
        for (i, row) in codes.chunks_exact(per_row).enumerate() {
            let r = first + i;
            let (base, lane, shift) = ((r / BLOCK) * m * 16, r % 16, if r % BLOCK < 16 { 0 } else { 4 });
            for (b, &byte) in row.iter().enumerate() {
                self.blocked[base + 2 * b * 16 + lane] |= (byte & 15) << shift;
                self.blocked[base + (2 * b + 1) * 16 + lane] |= (byte >> 4) << shift;
            }
        }
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of sub-spaces (two per byte of a row).
    pub fn subspaces(&self) -> usize {
        self.m
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The codebook (`16 · dim` floats).
    pub fn codebook(&self) -> &[f32] {
        &self.codebook
    }

    /// The codes in the scan layout (see the module documentation).
    pub fn blocked(&self) -> &[u8] {
        &self.blocked
    }

    /// First column of sub-space `j` (`j = m` gives `dim`).
    #[inline]
    pub fn start(&self, j: usize) -> usize {
        j * self.dim / self.m
    }

    /// The code of row `r` in sub-space `j`.
    #[inline]
    pub fn code(&self, r: usize, j: usize) -> u8 {
        let byte = self.blocked[((r / BLOCK) * self.m + j) * 16 + r % 16];
        if r % BLOCK < 16 {
            byte & 15
        } else {
            byte >> 4
        }
    }

    /// The row-major codes, as stored in a file (`rows · m / 2` bytes).
    pub fn codes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.rows * self.m / 2);
        (0..self.rows).for_each(|r| self.push_row_codes(r, &mut out));
        out
    }

    /// Appends row `r`'s `m / 2` code bytes, as stored in a file.
    pub fn push_row_codes(&self, r: usize, out: &mut Vec<u8>) {
        out.extend((0..self.m / 2).map(|b| self.code(r, 2 * b) | (self.code(r, 2 * b + 1) << 4)));
    }

    /// Same dimension, sub-spaces and codebook (bit for bit): codes mean the same in both.
    pub fn same_codebook(&self, other: &Pq) -> bool {
        self.dim == other.dim
            && self.m == other.m
            && self.codebook.iter().zip(&other.codebook).all(|(a, b)| a.to_bits() == b.to_bits())
    }

    /// A 64-bit fingerprint of the table (shape, codebook bits and codes): a refine plane names the
    /// table it was learnt for by it ([`super::PqResidual`]). FNV-1a over 64-bit words, so a 1M-row
    /// table's 64 MB take a few milliseconds.
    pub fn fingerprint(&self) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |w: u64| h = (h ^ w).wrapping_mul(PRIME);
        mix(self.dim as u64);
        mix(self.m as u64);
        mix(self.rows as u64);
        self.codebook.iter().for_each(|x| mix(x.to_bits() as u64));
        let words = self.blocked.chunks_exact(8);
        let tail = words.remainder();
        words.for_each(|w| mix(u64::from_le_bytes(w.try_into().expect("8 bytes"))));
        tail.iter().for_each(|&b| mix(b as u64));
        h
    }

    /// Row `r` rebuilt from its centroids.
    pub fn reconstruct(&self, r: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.dim);
        for j in 0..self.m {
            let (s, e) = (self.start(j), self.start(j + 1));
            let c = self.code(r, j) as usize;
            out.extend_from_slice(&self.codebook[CENTROIDS * s + c * (e - s)..][..e - s]);
        }
        out
    }

    /// The query's lookup table: `out[16·j + c]` = the query's sub-vector `j` · centroid `c`, summed
    /// left to right (the same in every kernel and engine).
    pub fn lut(&self, query: &[f32], out: &mut Vec<f32>) {
        out.clear();
        for j in 0..self.m {
            let (s, e) = (self.start(j), self.start(j + 1));
            let q = &query[s..e];
            for c in 0..CENTROIDS {
                let centroid = &self.codebook[CENTROIDS * s + c * (e - s)..][..e - s];
                let mut sum = 0.0f32;
                for (a, b) in q.iter().zip(centroid) {
                    sum += a * b;
                }
                out.push(sum);
            }
        }
    }

    /// Row `r`'s score through the float table: its `m` entries summed in sub-space order.
    #[inline]
    pub fn score(&self, lut: &[f32], r: usize) -> f32 {
        let base = (r / BLOCK) * self.m * 16 + r % 16;
        let high = r % BLOCK >= 16;
        let mut sum = 0.0f32;
        for j in 0..self.m {
            let byte = self.blocked[base + j * 16];
            let c = if high { byte >> 4 } else { byte & 15 };
            sum += lut[j * 16 + c as usize];
        }
        sum
    }

    #[cfg(feature = "fixtures")]
    /// Learns a codebook for `vectors` (row-major, `dim` columns) with `m` sub-spaces and encodes
    /// every row: k-means per sub-space (k-means++ seeding, `iters` Lloyd rounds on at most
    /// `sample` rows, an emptied cluster re-seeded with the farthest point), then each row's nearest
    /// centroid. Deterministic for a seed.
    pub fn train(vectors: &[f32], dim: usize, m: usize, iters: usize, sample: usize, seed: u64) -> Result<Pq> {
        check_shape(dim, m)?;
        let rows = vectors.len() / dim.max(1);
        let mut rng = Rng::new(seed);
        // A fixed random sample of rows for the Lloyd rounds (all rows if few).
        let mut picked: Vec<usize> = (0..rows).collect();
        if rows > sample {
            for i in 0..sample {
                let j = i + rng.below((rows - i) as u64) as usize;
                picked.swap(i, j);
            }
            picked.truncate(sample);
        }
        let mut codebook = vec![0.0f32; CENTROIDS * dim];
        let mut sub = Vec::new();
        for j in 0..m {
            let (s, e) = (j * dim / m, (j + 1) * dim / m);
            sub.clear();
            for &r in &picked {
                sub.extend_from_slice(&vectors[r * dim + s..r * dim + e]);
            }
            codebook[CENTROIDS * s..CENTROIDS * e].copy_from_slice(&kmeans(&sub, e - s, iters, &mut rng));
        }
        Pq::new(dim, m, codebook, &[])?.encode(vectors)
    }

    /// `vectors` (row-major, this table's dimension) encoded with this table's codebook: each
    /// sub-vector gets its nearest centroid. A new version of a catalog encoded with the old
    /// codebook can ship as a delta.
    pub fn encode(&self, vectors: &[f32]) -> Result<Pq> {
        let (dim, m) = (self.dim, self.m);
        if vectors.len() % dim != 0 {
            return Err(Error::LengthMismatch {
                what: "pq input values",
                expected: vectors.len() / dim * dim,
                got: vectors.len(),
            });
        }
        let rows = vectors.len() / dim;
        let mut codes = vec![0u8; rows * m / 2];
        for j in 0..m {
            let (s, e) = (self.start(j), self.start(j + 1));
            let centroids = &self.codebook[CENTROIDS * s..CENTROIDS * e];
            for r in 0..rows {
                let c = nearest(&vectors[r * dim + s..r * dim + e], centroids).0 as u8;
                codes[r * m / 2 + j / 2] |= if j % 2 == 0 { c } else { c << 4 };
            }
        }
        Pq::new(dim, m, self.codebook.clone(), &codes)
    }
}

pub(crate) fn check_shape(dim: usize, m: usize) -> Result<()> {
    if m < 2 || m % 2 != 0 || m > MAX_SUBSPACES || m > dim {
        return Err(Error::InvalidSubspaces { m: m.min(u32::MAX as usize) as u32, dim: dim as u32 });
    }
    Ok(())
}

/// The nearest centroid (index, squared distance); ties to the lower index.
fn nearest(x: &[f32], centroids: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.chunks_exact(x.len()).enumerate() {
        let d: f32 = x.iter().zip(centroid).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

#[cfg(feature = "fixtures")]
/// 16 centroids of `points` (`len` columns each), row-major. Fewer distinct points than 16 leave
/// duplicate centroids, which is harmless (a code is then never used).
fn kmeans(points: &[f32], len: usize, iters: usize, rng: &mut Rng) -> Vec<f32> {
    let n = points.len() / len;
    let mut centroids = vec![0.0f32; CENTROIDS * len];
    if n == 0 {
        return centroids;
    }
    let point = |i: usize| &points[i * len..(i + 1) * len];
    // k-means++ seeding.
    let mut dist: Vec<f32> = vec![f32::INFINITY; n];
    let first = rng.below(n as u64) as usize;
    centroids[..len].copy_from_slice(point(first));
    for c in 1..CENTROIDS {
        let prev = &centroids[(c - 1) * len..c * len];
        let mut total = 0.0f64;
        for (i, d) in dist.iter_mut().enumerate() {
            let e: f32 = point(i).iter().zip(prev).map(|(a, b)| (a - b) * (a - b)).sum();
            *d = d.min(e);
            total += *d as f64;
        }
        let mut target = rng.next_f32() as f64 * total;
        let mut pick = n - 1;
        for (i, &d) in dist.iter().enumerate() {
            target -= d as f64;
            if target < 0.0 {
                pick = i;
                break;
            }
        }
        centroids[c * len..(c + 1) * len].copy_from_slice(point(pick));
    }
    let mut sums = vec![0.0f64; CENTROIDS * len];
    for _ in 0..iters {
        sums.iter_mut().for_each(|s| *s = 0.0);
        let mut counts = [0usize; CENTROIDS];
        let mut far = (0usize, -1.0f32);
        for i in 0..n {
            let (c, d) = nearest(point(i), &centroids);
            counts[c] += 1;
            sums[c * len..(c + 1) * len].iter_mut().zip(point(i)).for_each(|(s, &x)| *s += x as f64);
            if d > far.1 {
                far = (i, d);
            }
        }
        for c in 0..CENTROIDS {
            let centroid = &mut centroids[c * len..(c + 1) * len];
            if counts[c] == 0 {
                // An empty cluster takes the point worst served so far.
                centroid.copy_from_slice(point(far.0));
                far.1 = -1.0;
            } else {
                let inv = 1.0 / counts[c] as f64;
                centroid.iter_mut().zip(&sums[c * len..(c + 1) * len]).for_each(|(x, s)| *x = (s * inv) as f32);
            }
        }
    }
    centroids
}

/// The byte table of a float table `lut` (`16·m` entries): per sub-space, entries shifted by their
/// minimum and scaled by one factor shared by all sub-spaces so that the widest sub-space spans
/// 0..=255, rounded to nearest. Returns the factor: a row's byte-table score is within
/// `m / 2` units (plus rounding) of `factor · (float score − Σ minima)`. `None` if the table is not
/// finite or has no spread (the caller then scores with the float table alone).
pub fn quantize_lut(lut: &[f32], out: &mut Vec<u8>) -> Option<f32> {
    out.clear();
    let mut widest = 0.0f32;
    for t in lut.chunks_exact(CENTROIDS) {
        let (lo, hi) = t.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        widest = widest.max(hi - lo);
    }
    if !(widest.is_finite() && widest > 0.0) || lut.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let factor = 255.0 / widest;
    for t in lut.chunks_exact(CENTROIDS) {
        let lo = t.iter().fold(f32::INFINITY, |lo, &x| lo.min(x));
        out.extend(t.iter().map(|&x| ((x - lo) * factor).round().clamp(0.0, 255.0) as u8));
    }
    Some(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_the_scan_layout() {
        let mut rng = Rng::new(3);
        for rows in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
            let m = 6;
            let codes: Vec<u8> = (0..rows * m / 2).map(|_| rng.next_u64() as u8).collect();
            let pq = Pq::new(12, m, vec![0.5; 16 * 12], &codes).unwrap();
            assert_eq!(pq.rows(), rows);
            assert_eq!(pq.codes(), codes, "rows {rows}");
        }
    }

    #[test]
    fn shapes_are_checked() {
        assert!(Pq::new(8, 3, vec![0.0; 128], &[]).is_err()); // odd m
        assert!(Pq::new(8, 10, vec![0.0; 128], &[]).is_err()); // m > dim
        assert!(Pq::new(8, 4, vec![0.0; 127], &[]).is_err()); // short codebook
        assert!(Pq::new(8, 4, vec![0.0; 128], &[0; 3]).is_err()); // partial row
        let mut cb = vec![0.0; 128];
        cb[5] = f32::NAN;
        assert!(Pq::new(8, 4, cb, &[]).is_err());
        assert_eq!(default_subspaces(384), 128);
        assert_eq!(default_subspaces(64), 20);
        assert_eq!(default_subspaces(3), 2);
        assert_eq!(default_subspaces(2048), 256);
    }

    #[test]
    fn training_beats_a_random_codebook_and_reconstructs_clustered_data() {
        // Rows drawn around 16 points per sub-space are recovered almost exactly.
        let (dim, m, rows) = (8, 4, 500);
        let mut rng = Rng::new(9);
        let centres: Vec<f32> = (0..16 * dim).map(|_| rng.gaussian()).collect();
        let mut v = Vec::new();
        for _ in 0..rows {
            for j in 0..m {
                let c = rng.below(16) as usize;
                let len = dim / m;
                for t in 0..len {
                    v.push(centres[c * dim + j * len + t] + 0.001 * rng.gaussian());
                }
            }
        }
        let pq = Pq::train(&v, dim, m, 20, 10_000, 1).unwrap();
        let err: f32 = (0..rows)
            .map(|r| {
                pq.reconstruct(r).iter().zip(&v[r * dim..(r + 1) * dim]).map(|(a, b)| (a - b).powi(2)).sum::<f32>()
            })
            .sum::<f32>()
            / rows as f32;
        assert!(err < 1e-3, "mean squared error {err}");
    }

    #[test]
    fn byte_table_stays_within_its_bound() {
        let mut rng = Rng::new(4);
        let lut: Vec<f32> = (0..16 * 10).map(|_| rng.gaussian()).collect();
        let mut q = Vec::new();
        let factor = quantize_lut(&lut, &mut q).unwrap();
        for (t, b) in lut.chunks_exact(16).zip(q.chunks_exact(16)) {
            let lo = t.iter().fold(f32::INFINITY, |a, &x| a.min(x));
            for (&x, &y) in t.iter().zip(b) {
                assert!(((x - lo) * factor - y as f32).abs() <= 0.5 + 1e-3);
            }
        }
        assert!(q.contains(&255));
        assert_eq!(quantize_lut(&[1.0; 32], &mut q), None);
        assert_eq!(quantize_lut(&[f32::INFINITY; 16], &mut q), None);
    }
}
