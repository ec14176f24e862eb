//! Seeded synthetic catalogs for tests, the benchmark and the default demo data.
//! The repository ships no third-party data; everything here is generated from a seed.

use super::Catalog;
use crate::rng::Rng;

/// `n` random unit vectors of dimension `dim` (near-Gaussian coordinates, normalised), ids `item-0`,
/// `item-1`, ..., and category codes uniform in `0..categories` (none if `categories == 0`).
/// The same arguments give a bit-identical catalog on every platform, native or wasm
/// (see [`Rng::normal_approx`]).
pub fn random_unit(n: usize, dim: usize, categories: u32, seed: u64) -> Catalog {
    let mut rng = Rng::new(seed);
    let mut vectors = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let start = vectors.len();
        vectors.extend((0..dim).map(|_| rng.normal_approx()));
        normalize(&mut vectors[start..]);
    }
    let cats = (categories > 0).then(|| (0..n).map(|_| rng.below(categories as u64) as u32).collect());
    let ids: Vec<String> = (0..n).map(|i| format!("item-{i}")).collect();
    Catalog::from_f32(&ids, dim, vectors, cats).expect("generated catalog is valid by construction")
}

/// `n` rows of random 4-bit codes under a random codebook (`m` sub-spaces, near-Gaussian centroid
/// values), ids and category codes as [`random_unit`]'s: a pq table for speed tests, whose scores
/// mean nothing. Seeded, bit-identical on every platform.
pub fn random_pq(n: usize, dim: usize, m: usize, categories: u32, seed: u64) -> crate::Result<Catalog> {
    let mut rng = Rng::new(seed);
    let codebook: Vec<f32> = (0..16 * dim).map(|_| rng.normal_approx()).collect();
    // Rows are drawn 4,096 at a time straight into the scan layout (no row-major copy of the codes).
    let mut pq = super::Pq::with_rows(dim, m, codebook, n)?;
    let mut codes = Vec::with_capacity(4096 * m / 2);
    for first in (0..n).step_by(4096) {
        codes.clear();
        codes.extend((0..(n - first).min(4096) * m / 2).map(|_| rng.next_u64() as u8));
        pq.place_rows(first, &codes);
    }
    let cats = (categories > 0).then(|| (0..n).map(|_| rng.below(categories as u64) as u32).collect());
    let ids: Vec<String> = (0..n).map(|i| format!("item-{i}")).collect();
    Catalog::from_pq(&ids, pq, cats)
}

/// A random unit query vector of dimension `dim`.
pub fn random_unit_vector(dim: usize, rng: &mut Rng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.normal_approx()).collect();
    normalize(&mut v);
    v
}

/// Scales `v` to unit length (left unchanged if it is all zeros).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
