//! The item tower's tables, trained sparsely: a step reads only the rows its batch touches, as
//! leaf tensors gathered from tables kept here, and Adam updates only those rows ("lazy" Adam, as
//! TensorFlow Addons' `LazyAdam` and PyTorch's `SparseAdam` do for embeddings).
//!
//! Burn's embedding gradient is a dense `[rows, d]` table, and its Adam moves every row each step
//! (momentum carries rows the batch did not touch): at 100,000 items × 384 dimensions that is
//! 38 million values zeroed, scattered into and updated per step, whatever the batch. Here a
//! step's cost grows with the rows it touches. A row the batch does not touch keeps its value and
//! its moments (dense Adam would still move it by its decaying momentum); with every row touched
//! the update is Burn's Adam's to rounding, which a test holds.

use burn::tensor::{Device, Tensor, TensorData};

use crate::model::tensor_to_vec;

/// Burn's `AdamConfig` defaults, which the user tower's optimizer uses too.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;

/// One `[rows, dim]` table with its Adam moments.
#[derive(Debug, Clone)]
pub struct SparseTable {
    dim: usize,
    values: Vec<f32>,
    moment_1: Vec<f32>,
    moment_2: Vec<f32>,
    /// Steps taken (Adam's bias correction counts the table's steps, as `SparseAdam` does).
    steps: i32,
}

impl SparseTable {
    /// A table with zero moments from a `[rows, dim]` tensor.
    pub fn from_tensor(table: Tensor<2>) -> SparseTable {
        let [rows, dim] = table.dims();
        let values = tensor_to_vec(table);
        SparseTable { dim, values, moment_1: vec![0.0; rows * dim], moment_2: vec![0.0; rows * dim], steps: 0 }
    }

    pub fn rows(&self) -> usize {
        self.values.len() / self.dim.max(1)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `r`'s values.
    pub fn row(&self, r: u32) -> &[f32] {
        &self.values[r as usize * self.dim..(r as usize + 1) * self.dim]
    }

    /// The whole table as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.values.clone(), [self.rows(), self.dim]), device)
    }

    /// The rows `rows` (`[rows.len(), dim]`) as a leaf tensor that records its gradient.
    #[cfg(test)]
    fn gather(&self, rows: &[u32], device: &Device) -> Tensor<2> {
        let d = self.dim;
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            out.extend_from_slice(&self.values[r as usize * d..(r as usize + 1) * d]);
        }
        Tensor::<2>::from_data(TensorData::new(out, [rows.len(), d]), device).require_grad()
    }

    /// One Adam step on the rows `rows` (ascending, distinct), whose gradient is `grad`
    /// (`[rows.len(), dim]`, row-major); other rows are left as they are. Rows are updated in
    /// parallel, each exactly as alone.
    pub fn adam_step(&mut self, lr: f64, rows: &[u32], grad: &[f32]) {
        assert_eq!(grad.len(), rows.len() * self.dim, "one gradient row per row");
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "rows ascending and distinct");
        self.steps += 1;
        // Burn's AdaptiveMomentum, row by row: the same factors in the same order.
        let bias_correction2_sqrt = (1.0 - BETA_2.powi(self.steps)).sqrt();
        let step = AdamStep {
            factor: bias_correction2_sqrt / (1.0 - BETA_1.powi(self.steps)),
            epsilon: EPSILON * bias_correction2_sqrt,
            lr: lr as f32,
            dim: self.dim,
        };
        step.rows(0, rows, grad, [&mut self.values, &mut self.moment_1, &mut self.moment_2]);
    }
}

/// One Adam step's constants.
struct AdamStep {
    factor: f32,
    epsilon: f32,
    lr: f32,
    dim: usize,
}

impl AdamStep {
    /// Updates `rows` (ascending) of tables whose slices `[values, moment 1, moment 2]` begin at
    /// row `first`: halves of the rows on both cores, down to small runs.
    fn rows(&self, first: usize, rows: &[u32], grad: &[f32], tables: [&mut [f32]; 3]) {
        let d = self.dim;
        if rows.len() > 512 {
            let mid = rows.len() / 2;
            let split = (rows[mid] as usize - first) * d;
            let [w, m, v] = tables;
            let ((w1, w2), (m1, m2), (v1, v2)) = (w.split_at_mut(split), m.split_at_mut(split), v.split_at_mut(split));
            let (g1, g2) = grad.split_at(mid * d);
            rayon::join(
                || self.rows(first, &rows[..mid], g1, [w1, m1, v1]),
                || self.rows(rows[mid] as usize, &rows[mid..], g2, [w2, m2, v2]),
            );
            return;
        }
        let [values, moment_1, moment_2] = tables;
        for (k, &r) in rows.iter().enumerate() {
            let span = (r as usize - first) * d..(r as usize - first + 1) * d;
            let g = &grad[k * d..(k + 1) * d];
            let m = &mut moment_1[span.clone()];
            let v = &mut moment_2[span.clone()];
            let w = &mut values[span];
            for j in 0..d {
                m[j] = m[j] * BETA_1 + g[j] * (1.0 - BETA_1);
                v[j] = v[j] * BETA_2 + g[j] * g[j] * (1.0 - BETA_2);
                w[j] -= (m[j] * self.factor) / (v[j].sqrt() + self.epsilon) * self.lr;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::optim::{AdamConfig, GradientsParams};

    #[derive(Module, Debug)]
    struct Table {
        weight: Param<Tensor<2>>,
    }

    /// With every row touched, the lazy update is Burn's Adam's (three steps, so the moments and
    /// the bias correction are exercised); an untouched row keeps its value.
    #[test]
    fn touched_rows_follow_burns_adam_and_others_stay() {
        let device = Device::default().autodiff();
        let (rows, dim) = (5usize, 3usize);
        let start: Vec<f32> = (0..rows * dim).map(|k| ((k * 7 % 11) as f32 - 5.0) / 4.0).collect();
        let target = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; rows * dim], [rows, dim]), &device);
        let loss_of = |w: Tensor<2>| (w.clone() * w - target.clone()).powi_scalar(2).sum();

        let mut burn_table = Table { weight: Param::from_data(TensorData::new(start.clone(), [rows, dim]), &device) };
        let mut optim = AdamConfig::new().init();
        let mut lazy =
            SparseTable::from_tensor(Tensor::from_data(TensorData::new(start.clone(), [rows, dim]), &device));
        let all: Vec<u32> = (0..rows as u32).collect();
        for _ in 0..3 {
            let grads = loss_of(burn_table.weight.val()).backward();
            let grads = GradientsParams::from_grads(grads, &burn_table);
            burn_table = optim.step(0.05, burn_table, grads);

            let leaf = lazy.gather(&all, &device);
            let grads = loss_of(leaf.clone()).backward();
            let g = tensor_to_vec(leaf.grad(&grads).expect("the leaf's gradient"));
            lazy.adam_step(0.05, &all, &g);
        }
        let want = tensor_to_vec(burn_table.weight.val());
        for (k, (a, b)) in lazy.values.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "value {k}: lazy {a}, Burn {b}");
        }
        assert!(lazy.values.iter().zip(&start).any(|(a, b)| (a - b).abs() > 0.01), "the table moved");

        // Only rows 1 and 3 touched: the others keep their values.
        let before = lazy.values.clone();
        let leaf = lazy.gather(&[1, 3], &device);
        let grads = leaf.clone().sum().backward();
        let g = tensor_to_vec(leaf.grad(&grads).expect("the leaf's gradient"));
        lazy.adam_step(0.05, &[1, 3], &g);
        for r in 0..rows {
            let moved = (0..dim).any(|j| lazy.values[r * dim + j] != before[r * dim + j]);
            assert_eq!(moved, r == 1 || r == 3, "row {r}");
        }
    }
}
