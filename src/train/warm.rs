//! A warm start for the item vectors: a truncated spectral embedding of the item-item
//! co-occurrence matrix, so that training starts from vectors that already place items bought by
//! the same users near each other, instead of from noise.
//!
//! `S_ij = C_ij / sqrt(C_ii C_jj)`, where `C_ij` counts the users (or, with a window, the windows
//! of consecutive training pairs of one user) that hold both items: the cosine similarity of the
//! items' columns, what the item-kNN baseline ranks by. A few rounds of subspace iteration
//! (`Q ← orth(S Q)`, from a seeded random start) find the span of its leading eigenvectors; the embedding is `E = S Q`, whose Gram matrix
//! `E Eᵀ = U Λ² Uᵀ` is the best rank-`dim` approximation of `S²` (the two-step similarity).
//! Rows are scaled to length `sqrt(dim)`, the length of a row of a default-initialised embedding.

use super::data::Dataset;
use crate::rng::Rng;

/// Rounds of subspace iteration: the leading eigenvalues of `S` are well separated from the bulk,
/// and the start only needs their span roughly.
const ROUNDS: usize = 4;

/// `items × dim` initial id vectors, row-major (see the module docs). Deterministic in `seed`.
///
/// `S` is never formed: with `X` the binary user (or window) × item matrix and `D` its item
/// counts, `S Q = D^-½ Xᵀ (X (D^-½ Q))`, two passes over the pairs, so the cost grows with the
/// pairs times `dim` and the memory with `(users + items) × dim`, not with `items²`.
///
/// `window`: 0 counts two items together when one user has both; `W > 0` only when they fall in
/// one of the user's windows of `W` consecutive training pairs, which start every `W / 2` pairs:
/// items up to `W / 2` places apart always share a window (in mid-history, two), items up to `W`
/// apart some of the time. Bought around the same time rather than ever.
pub fn cooccurrence_vectors(ds: &Dataset, dim: usize, window: usize, seed: u64) -> Vec<f32> {
    let n = ds.item_ids.len();
    let mut baskets: Vec<Vec<usize>> = Vec::new();
    for u in &ds.users {
        let seq: Vec<usize> =
            u.firsts[..u.firsts.len() - 2].iter().map(|&f| u.events[f as usize].item as usize).collect();
        if window == 0 || seq.len() <= window {
            baskets.push(seq);
        } else {
            let stride = (window / 2).max(1);
            let mut start = 0;
            loop {
                let end = (start + window).min(seq.len());
                baskets.push(seq[start..end].to_vec());
                if end == seq.len() {
                    break;
                }
                start += stride;
            }
        }
    }
    let mut count = vec![0f32; n];
    baskets.iter().flatten().for_each(|&i| count[i] += 1.0);
    let scale: Vec<f32> = count.iter().map(|&c| 1.0 / c.max(1.0).sqrt()).collect();
    // S Q, for Q row-major n × dim.
    let apply = |q: &[f32]| -> Vec<f32> {
        let mut out = vec![0f32; n * dim];
        let mut user = vec![0f32; dim];
        for items in &baskets {
            user.iter_mut().for_each(|x| *x = 0.0);
            for &i in items {
                let s = scale[i];
                user.iter_mut().zip(&q[i * dim..(i + 1) * dim]).for_each(|(u, x)| *u += s * x);
            }
            for &i in items {
                let s = scale[i];
                out[i * dim..(i + 1) * dim].iter_mut().zip(&user).for_each(|(o, u)| *o += s * u);
            }
        }
        out
    };
    let mut rng = Rng::new(seed ^ 0x3a7f_5eed);
    let mut q: Vec<f32> = (0..n * dim).map(|_| rng.normal_approx()).collect();
    orthonormalize_columns(&mut q, n, dim);
    let mut e = Vec::new();
    for round in 0..ROUNDS {
        e = apply(&q);
        if round + 1 < ROUNDS {
            q.clone_from(&e);
            orthonormalize_columns(&mut q, n, dim);
        }
    }
    let target = (dim as f32).sqrt();
    for row in e.chunks_mut(dim) {
        let mut norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 {
            // An item in no training pair (or none in a window with another item) has no
            // co-occurrence to go by: a seeded random row, like a default-initialised embedding.
            row.iter_mut().for_each(|x| *x = rng.normal_approx());
            norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        }
        row.iter_mut().for_each(|x| *x *= target / norm);
    }
    e
}

/// Modified Gram-Schmidt on the columns of a row-major `n × k` matrix (a column that vanishes
/// stays zero).
fn orthonormalize_columns(m: &mut [f32], n: usize, k: usize) {
    // Column-major copy: each column contiguous.
    let mut cols: Vec<f64> = vec![0.0; n * k];
    for i in 0..n {
        for j in 0..k {
            cols[j * n + i] = m[i * k + j] as f64;
        }
    }
    for j in 0..k {
        let (done, rest) = cols.split_at_mut(j * n);
        let col = &mut rest[..n];
        let before = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        for p in 0..j {
            let prev = &done[p * n..(p + 1) * n];
            let dot: f64 = prev.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
            col.iter_mut().zip(prev).for_each(|(x, p)| *x -= dot * p);
        }
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        // What is left of a column that lay in the span of the earlier ones is rounding noise
        // (the products come back in f32): zero it rather than normalise the noise.
        if norm > 1e-6 * before && norm > 0.0 {
            col.iter_mut().for_each(|x| *x /= norm);
        } else {
            col.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    for i in 0..n {
        for j in 0..k {
            m[i * k + j] = cols[j * n + i] as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_out_orthonormal() {
        let (n, k) = (40, 6);
        let mut rng = Rng::new(3);
        let mut m: Vec<f32> = (0..n * k).map(|_| rng.normal_approx()).collect();
        orthonormalize_columns(&mut m, n, k);
        for a in 0..k {
            for b in 0..k {
                let dot: f32 = (0..n).map(|i| m[i * k + a] * m[i * k + b]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "columns {a}, {b}: {dot}");
            }
        }
    }
}
