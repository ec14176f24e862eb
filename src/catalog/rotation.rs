//! The principal axes of an item table, for the pq element type's rotation ([`super::Pq`]).
//!
//! A trained tower spreads its item vectors unevenly over the dimensions: on the shops measured here
//! most of the table's energy lies in a few dozen directions. Product quantization cuts the columns
//! into sub-spaces of equal size and gives each the same 16 centroids, so on the raw columns it spends
//! as many bits on nearly empty directions as on the ones that order the results. Rotating the table
//! onto its principal axes first (the eigenvectors of `XᵀX`, uncentred: inner products, not
//! distances, are what the scores keep) and keeping the strongest ones puts the bits where the energy
//! is: the idea of "Optimized Product Quantization" (Ge, He, Ke and Sun 2013), in its closed form.

use crate::error::{Error, Result};

/// A catalog stored on its principal axes: row `x` (the tower's `dim` values) is kept as
/// `y = A·x`, its coordinates on the first `space` axes (the rows of `A`, orthonormal), and read back
/// as `Aᵀ·y`. A query `q` is projected once (`A·q`), and its inner product with a stored row equals
/// `q · Aᵀy` exactly (up to float rounding): the scan scores the rows as the table read back.
///
/// Keeping the strongest axes drops the directions that hold little of the table (mostly noise the
/// scores do not need), and the rest then fits int8 at a fraction of the bytes: at 384 dimensions,
/// 60 axes in int8 are 64 bytes a row, the budget of the large-catalog table
/// ([`super::Catalog::to_projected_int8`], [`default_axes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    dim: usize,
    /// `space × dim`, row-major: axis `k` is `axes[k·dim..(k+1)·dim]`.
    axes: Vec<f32>,
}

/// The default number of axes for `dim` dimensions: `5·dim/32` rounded down to a multiple of 4 (at
/// least 4, at most `dim`), so that an int8 row with its scale takes about a sixth of int8's bytes:
/// 60 axes (64 bytes a row) at 384 dimensions, 8 (12 bytes) at 64.
pub fn default_axes(dim: usize) -> usize {
    ((dim * 5 / 32) & !3).max(4).min(dim)
}

impl Projection {
    /// A projection from its axes (`space × dim` values, row-major). The axes are not required to
    /// be orthonormal (a file is checked for shape and size; the exporter writes orthonormal ones),
    /// only `1 <= space <= dim` and finite values of at most 2 in size (a unit axis has none above 1),
    /// so that a finite query stays finite once projected.
    pub fn new(dim: usize, axes: Vec<f32>) -> Result<Projection> {
        if dim == 0 || axes.is_empty() || axes.len() % dim != 0 {
            return Err(Error::InvalidProjection("the axes are not a whole number of rows of the dimension"));
        }
        if axes.len() / dim > dim {
            return Err(Error::InvalidProjection("more axes than dimensions"));
        }
        if axes.iter().any(|x| x.is_nan() || x.abs() > 2.0) {
            return Err(Error::InvalidProjection(
                "a value is NaN, infinite or above 2 in size (axes are unit vectors)",
            ));
        }
        Ok(Projection { dim, axes })
    }

    #[cfg(feature = "fixtures")]
    /// The first `space` principal axes of `vectors` (row-major, `dim` columns; [`principal_axes`]).
    pub fn learn(vectors: &[f32], dim: usize, space: usize) -> Result<Projection> {
        if space == 0 || space > dim {
            return Err(Error::InvalidProjection("more axes than dimensions"));
        }
        let (_, axes) = principal_axes(vectors, dim);
        Projection::new(dim, axes[..space * dim].to_vec())
    }

    /// The same axes reordered for product quantization with `m` sub-spaces of contiguous columns:
    /// sub-space `j` gets axes `j, j + m, j + 2m, …`, so each holds a share of the strong axes and
    /// of the weak ones and their energies are balanced (the parametric solution of Ge et al.'s
    /// "Optimized Product Quantization" allocates eigenvalues to balance the sub-spaces' products;
    /// round-robin is its simple form). Needs `space` a multiple of `m`; else returned unchanged.
    pub fn interleaved(mut self, m: usize) -> Projection {
        let (space, dim) = (self.space(), self.dim);
        if m == 0 || space % m != 0 {
            return self;
        }
        let per = space / m;
        let mut axes = vec![0.0f32; self.axes.len()];
        for k in 0..space {
            let to = (k % m) * per + k / m;
            axes[to * dim..(to + 1) * dim].copy_from_slice(&self.axes[k * dim..(k + 1) * dim]);
        }
        self.axes = axes;
        self
    }

    /// The dimension of the rows and queries it projects (the tower's).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of axes: the dimension of the stored rows.
    pub fn space(&self) -> usize {
        self.axes.len() / self.dim
    }

    /// The axes, `space × dim` row-major.
    pub fn axes(&self) -> &[f32] {
        &self.axes
    }

    /// `out = A·x` (`space` values), each a dot product summed left to right.
    pub fn project(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(self.axes.chunks_exact(self.dim).map(|a| {
            let mut sum = 0.0f32;
            for (p, q) in a.iter().zip(x) {
                sum += p * q;
            }
            sum
        }));
    }

    /// `Aᵀ·y` (`dim` values): a stored row read back in the tower's space.
    pub fn lift(&self, y: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; self.dim];
        for (a, &c) in self.axes.chunks_exact(self.dim).zip(y) {
            out.iter_mut().zip(a).for_each(|(o, &p)| *o += c * p);
        }
        out
    }

    /// Every row of `vectors` (row-major, `dim` columns) projected, row-major.
    pub fn project_rows(&self, vectors: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(vectors.len() / self.dim * self.space());
        let mut row = Vec::new();
        for x in vectors.chunks_exact(self.dim) {
            self.project(x, &mut row);
            out.extend_from_slice(&row);
        }
        out
    }
}

#[cfg(feature = "fixtures")]
/// The eigen-decomposition of the `dim × dim` matrix `XᵀX / rows` of `vectors` (row-major, `dim`
/// columns): eigenvalues in decreasing order, and the matching unit eigenvectors as the rows of a
/// `dim × dim` row-major matrix. Cyclic Jacobi in f64 (at most 30 sweeps; converges in about ten at
/// 384 dimensions). Deterministic.
pub fn principal_axes(vectors: &[f32], dim: usize) -> (Vec<f64>, Vec<f32>) {
    let rows = vectors.len() / dim.max(1);
    let mut a = vec![0.0f64; dim * dim];
    for r in vectors.chunks_exact(dim) {
        for i in 0..dim {
            let x = r[i] as f64;
            if x == 0.0 {
                continue;
            }
            let row = &mut a[i * dim..(i + 1) * dim];
            for (j, &y) in r.iter().enumerate().skip(i) {
                row[j] += x * y as f64;
            }
        }
    }
    let scale = 1.0 / rows.max(1) as f64;
    for i in 0..dim {
        for j in i..dim {
            let v = a[i * dim + j] * scale;
            a[i * dim + j] = v;
            a[j * dim + i] = v;
        }
    }
    let (values, vectors) = jacobi(a, dim);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&x, &y| values[y].total_cmp(&values[x]).then(x.cmp(&y)));
    let mut axes = Vec::with_capacity(dim * dim);
    for &k in &order {
        // Column k of V, with a deterministic sign: its largest entry positive.
        let col: Vec<f64> = (0..dim).map(|i| vectors[i * dim + k]).collect();
        let big = col.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        axes.extend(col.iter().map(|x| (x * sign) as f32));
    }
    (order.iter().map(|&k| values[k]).collect(), axes)
}

#[cfg(feature = "fixtures")]
/// Eigenvalues (unordered) and eigenvectors (the columns of a row-major matrix) of the symmetric
/// matrix `a`.
fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let total: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _ in 0..30 {
        // Converged when the off-diagonal part is a 1e-9 share of the matrix (in norm): far below
        // what the f32 axes can hold.
        let mut off = 0.0f64;
        for i in 0..n {
            for j in i + 1..n {
                off += 2.0 * a[i * n + j] * a[i * n + j];
            }
        }
        if off <= total * 1e-18 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 || apq * apq <= total * 1e-30 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← JᵀAJ on rows and columns p and q.
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projection_keeps_inner_products_within_its_axes() {
        // Rows in a 3-d subspace of 8 dimensions: 3 axes keep them exactly.
        let dim = 8;
        let mut rng = crate::rng::Rng::new(3);
        let basis: Vec<Vec<f32>> = (0..3).map(|_| (0..dim).map(|_| rng.next_f32() - 0.5).collect()).collect();
        let mut rows = Vec::new();
        for _ in 0..50 {
            let c: Vec<f32> = (0..3).map(|_| rng.next_f32() - 0.5).collect();
            rows.extend((0..dim).map(|j| c.iter().zip(&basis).map(|(w, v)| w * v[j]).sum::<f32>()));
        }
        let p = Projection::learn(&rows, dim, 3).unwrap();
        assert_eq!((p.dim(), p.space()), (8, 3));
        let q: Vec<f32> = (0..dim).map(|i| i as f32 * 0.1 - 0.3).collect();
        let mut pq = Vec::new();
        p.project(&q, &mut pq);
        let mut y = Vec::new();
        for x in rows.chunks_exact(dim) {
            p.project(x, &mut y);
            let exact: f32 = x.iter().zip(&q).map(|(a, b)| a * b).sum();
            let stored: f32 = y.iter().zip(&pq).map(|(a, b)| a * b).sum();
            assert!((exact - stored).abs() < 1e-5, "{exact} vs {stored}");
            let back = p.lift(&y);
            assert!(back.iter().zip(x).all(|(a, b)| (a - b).abs() < 1e-5));
        }
        assert!(Projection::learn(&rows, dim, 9).is_err());
        assert!(Projection::new(dim, vec![0.0; 7]).is_err());
        assert!(Projection::new(2, vec![0.0; 6]).is_err());
        assert!(Projection::new(dim, vec![f32::NAN; 8]).is_err());
        assert_eq!((default_axes(384), default_axes(64), default_axes(8)), (60, 8, 4));
    }

    #[test]
    fn recovers_a_known_spectrum() {
        // Rows spread along three orthogonal directions with energies 9, 4 and 1 (after a rotation).
        let dim = 3;
        let (s, c) = (0.6f32, 0.8f32);
        let basis = [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]];
        let mut rows = Vec::new();
        for (k, w) in [3.0f32, 2.0, 1.0].iter().enumerate() {
            for sign in [1.0f32, -1.0] {
                rows.extend(basis[k].iter().map(|b| b * w * sign));
            }
        }
        let (values, axes) = principal_axes(&rows, dim);
        let expect = [9.0 / 3.0, 4.0 / 3.0, 1.0 / 3.0];
        for (v, e) in values.iter().zip(expect) {
            assert!((v - e).abs() < 1e-6, "{values:?}");
        }
        for k in 0..3 {
            let dot: f32 = axes[k * 3..k * 3 + 3].iter().zip(&basis[k]).map(|(a, b)| a * b).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-6, "axis {k}: {:?}", &axes[k * 3..k * 3 + 3]);
        }
    }
}
