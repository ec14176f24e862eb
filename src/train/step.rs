//! A training step's item side, in plain Rust beside Burn's autodiff.
//!
//! The item tower is `normalize(id + Σ weight · token + category)` over three tables, and a step
//! reads it for the batch's history slots, memories and candidate columns. Built as a Burn graph
//! (gathered leaves, a scatter-add for the title tokens, the normalization, then a gather per use)
//! each of those operations records a `[rows, dim]` tensor and its backward allocates, zeroes and
//! scatters another: at 75,000 items a batch of 512 touches about 50,000 rows and 100,000 memory
//! terms, and those element-wise passes, one core's memory traffic, were most of a step.
//!
//! Here the batch's plan ([`StepPlan`], built on the thread that prepares batches) says which
//! table rows each item reads and which item rows each use reads; [`StepPlan::forward`] computes
//! the unit vectors, [`StepPlan::inputs`] hands the user tower its history, memory and candidate
//! tensors as leaves, and [`StepPlan::backward`] turns the leaves' gradients into the three
//! tables' gradients row by row (the normalization's Jacobian written out). Every loop runs over
//! output rows, in parallel, each row summed in a fixed order: the result does not depend on the
//! threads. A test holds the gradients to Burn's through the whole-table tower.

use rayon::prelude::*;

use super::sparse::SparseTable;
use crate::model::item_tower::ItemFeatures;
use crate::model::HistoryBatch;

/// Below this norm an item vector is divided by it instead (as [`crate::model::l2_normalize`]).
const MIN_NORM: f32 = 1e-12;
/// A history slot that holds no item (padding).
const PAD: u32 = u32::MAX;

/// Rows in compressed form: the entries of row `r` are `entries[start[r]..start[r + 1]]`.
#[derive(Debug, Clone, Default)]
struct Csr<T> {
    start: Vec<u32>,
    entries: Vec<T>,
}

impl<T: Copy> Csr<T> {
    /// `pairs` (row, entry) into `rows` rows, entries of a row in the order given.
    fn build(rows: usize, pairs: &[(u32, T)]) -> Csr<T> {
        let mut start = vec![0u32; rows + 1];
        for &(r, _) in pairs {
            start[r as usize + 1] += 1;
        }
        for r in 0..rows {
            start[r + 1] += start[r];
        }
        let mut next: Vec<u32> = start[..rows].to_vec();
        let mut entries = Vec::with_capacity(pairs.len());
        // Every slot is written exactly once below; the placeholder is the first entry.
        if let Some(&(_, first)) = pairs.first() {
            entries.resize(pairs.len(), first);
        }
        for &(r, e) in pairs {
            entries[next[r as usize] as usize] = e;
            next[r as usize] += 1;
        }
        Csr { start, entries }
    }

    fn row(&self, r: usize) -> &[T] {
        &self.entries[self.start[r] as usize..self.start[r + 1] as usize]
    }
}

/// Which rows a batch reads, prepared before its step.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Item rows the step touches, ascending: item `k` of the step is item `rows[k]`.
    pub rows: Vec<u32>,
    /// Title-token table rows the items read, ascending.
    pub token_rows: Vec<u32>,
    /// Category table rows the items read, ascending.
    pub category_rows: Vec<u32>,
    /// Per step item: (index into `token_rows`, weight).
    item_tokens: Csr<(u32, f32)>,
    /// Per step item: index into `category_rows`.
    item_category: Vec<u32>,
    /// Per token row: (step item, weight), for the token gradient.
    token_items: Csr<(u32, f32)>,
    /// Per category row: step items.
    category_items: Csr<u32>,
    batch: usize,
    slots: usize,
    /// Per history slot: the step item, or [`PAD`].
    slot_items: Vec<u32>,
    /// Per example: (step item, weight) of its memory.
    memory: Csr<(u32, f32)>,
    /// Per candidate column: the step item.
    columns: Vec<u32>,
    /// Per step item: (use, weight), a use being a history slot `s`, a memory `slots·B + i` or a
    /// column `(slots + 1)·B + j`: where its gradient comes from.
    uses: Csr<(u32, f32)>,
}

/// The step's item vectors.
#[derive(Debug, Clone)]
pub struct StepVectors {
    pub dim: usize,
    /// `[rows, dim]` unit vectors, row `k` = item `rows[k]`.
    pub unit: Vec<f32>,
    /// Each row's norm before normalizing (at least [`MIN_NORM`]).
    norms: Vec<f32>,
}

/// The inputs the user tower and the loss read, row-major.
#[derive(Debug, Clone)]
pub struct StepInputs {
    /// `[batch, slots, dim]`, zero on padding.
    pub history: Vec<f32>,
    /// `[batch, dim]`: each memory's weighted sum (zero for a history without one).
    pub memory: Vec<f32>,
    /// `[columns, dim]`.
    pub candidates: Vec<f32>,
}

/// The three tables' gradients over [`StepPlan::rows`], [`StepPlan::token_rows`] and
/// [`StepPlan::category_rows`], row-major.
#[derive(Debug, Clone)]
pub struct TableGrads {
    pub id: Vec<f32>,
    pub token: Vec<f32>,
    pub category: Vec<f32>,
}

fn index_in(sorted: &[u32], r: u32) -> u32 {
    sorted.binary_search(&r).expect("a row the plan lists") as u32
}

fn ascending(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

fn add_scaled(out: &mut [f32], w: f32, x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += w * v;
    }
}

impl StepPlan {
    /// The plan of a batch whose loss reads `columns` (item rows) as candidates; the batch's
    /// memories are read when it has them.
    pub fn new(f: &ItemFeatures, batch: &HistoryBatch, columns: &[u32]) -> StepPlan {
        let (b, slots) = (batch.batch, batch.slots);
        let real = |s: usize| batch.mask[s] == 0.0;
        let mut touched: Vec<u32> = (0..b * slots).filter(|&s| real(s)).map(|s| batch.rows[s]).collect();
        touched.extend(columns);
        touched.extend(batch.memory.iter().map(|&(_, r, _)| r));
        let rows = ascending(touched);
        let t = f.max_tokens;
        let span = |r: u32| r as usize * t..(r as usize + 1) * t;
        let real_tokens = |r: u32| {
            f.tokens[span(r)].iter().zip(&f.token_weights[span(r)]).filter(|(_, &w)| w != 0.0).map(|(&k, &w)| (k, w))
        };
        let token_rows = ascending(rows.iter().flat_map(|&r| real_tokens(r).map(|(k, _)| k as u32)).collect());
        let category_rows = ascending(rows.iter().map(|&r| f.categories[r as usize] as u32).collect());
        let mut per_item = Vec::new();
        let mut per_token = Vec::new();
        let mut item_category = Vec::with_capacity(rows.len());
        let mut per_category = Vec::with_capacity(rows.len());
        for (k, &r) in rows.iter().enumerate() {
            for (token, w) in real_tokens(r) {
                let at = index_in(&token_rows, token as u32);
                per_item.push((k as u32, (at, w)));
                per_token.push((at, (k as u32, w)));
            }
            let c = index_in(&category_rows, f.categories[r as usize] as u32);
            item_category.push(c);
            per_category.push((c, k as u32));
        }
        let slot_items: Vec<u32> =
            (0..b * slots).map(|s| if real(s) { index_in(&rows, batch.rows[s]) } else { PAD }).collect();
        let memory_pairs: Vec<(u32, (u32, f32))> =
            batch.memory.iter().map(|&(i, r, w)| (i, (index_in(&rows, r), w))).collect();
        let columns: Vec<u32> = columns.iter().map(|&r| index_in(&rows, r)).collect();
        let mut uses = Vec::with_capacity(b * slots + memory_pairs.len() + columns.len());
        uses.extend(slot_items.iter().enumerate().filter(|(_, &k)| k != PAD).map(|(s, &k)| (k, (s as u32, 1.0))));
        uses.extend(memory_pairs.iter().map(|&(i, (k, w))| (k, ((b * slots) as u32 + i, w))));
        uses.extend(columns.iter().enumerate().map(|(j, &k)| (k, (((slots + 1) * b + j) as u32, 1.0))));
        StepPlan {
            item_tokens: Csr::build(rows.len(), &per_item),
            token_items: Csr::build(token_rows.len(), &per_token),
            category_items: Csr::build(category_rows.len(), &per_category),
            item_category,
            batch: b,
            slots,
            slot_items,
            memory: Csr::build(b, &memory_pairs),
            uses: Csr::build(rows.len(), &uses),
            columns,
            rows,
            token_rows,
            category_rows,
        }
    }

    /// Candidate columns.
    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    /// The unit vectors of the step's items from the three tables.
    pub fn forward(&self, id: &SparseTable, token: &SparseTable, category: &SparseTable) -> StepVectors {
        let d = id.dim();
        let mut unit = vec![0f32; self.rows.len() * d];
        let mut norms = vec![0f32; self.rows.len()];
        unit.par_chunks_mut(d).zip(norms.par_iter_mut()).enumerate().for_each(|(k, (out, norm))| {
            // As the tower: the token mean first, then the id row and the category row added.
            for &(t, w) in self.item_tokens.row(k) {
                add_scaled(out, w, token.row(self.token_rows[t as usize]));
            }
            let (own, cat) = (id.row(self.rows[k]), category.row(self.category_rows[self.item_category[k] as usize]));
            for ((o, &a), &c) in out.iter_mut().zip(own).zip(cat) {
                *o += a;
                *o += c;
            }
            let n = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(MIN_NORM);
            out.iter_mut().for_each(|v| *v /= n);
            *norm = n;
        });
        StepVectors { dim: d, unit, norms }
    }

    /// The user tower's and the loss's inputs from the step's vectors.
    pub fn inputs(&self, v: &StepVectors) -> StepInputs {
        let d = v.dim;
        let row = |k: u32| &v.unit[k as usize * d..(k as usize + 1) * d];
        let mut history = vec![0f32; self.slot_items.len() * d];
        history.par_chunks_mut(d).zip(&self.slot_items).for_each(|(out, &k)| {
            if k != PAD {
                out.copy_from_slice(row(k));
            }
        });
        let mut memory = vec![0f32; self.batch * d];
        memory.par_chunks_mut(d).enumerate().for_each(|(i, out)| {
            for &(k, w) in self.memory.row(i) {
                add_scaled(out, w, row(k));
            }
        });
        let mut candidates = vec![0f32; self.columns.len() * d];
        candidates.par_chunks_mut(d).zip(&self.columns).for_each(|(out, &k)| out.copy_from_slice(row(k)));
        StepInputs { history, memory, candidates }
    }

    /// The tables' gradients from the gradients of [`Self::inputs`]' three parts (`memory`
    /// `None`: the memories pass no gradient).
    pub fn backward(&self, v: &StepVectors, history: &[f32], memory: Option<&[f32]>, candidates: &[f32]) -> TableGrads {
        let d = v.dim;
        let (b, slots) = (self.batch, self.slots);
        assert_eq!(history.len(), b * slots * d, "one history gradient per slot");
        assert_eq!(candidates.len(), self.columns.len() * d, "one candidate gradient per column");
        let source = |u: u32| -> Option<&[f32]> {
            let u = u as usize;
            if u < b * slots {
                Some(&history[u * d..(u + 1) * d])
            } else if u < (slots + 1) * b {
                memory.map(|m| &m[(u - b * slots) * d..(u - b * slots + 1) * d])
            } else {
                let j = u - (slots + 1) * b;
                Some(&candidates[j * d..(j + 1) * d])
            }
        };
        // Gradient at each unit vector, then through the normalization:
        // ∂L/∂x = (g − y (y · g)) / |x|.
        let mut id = vec![0f32; self.rows.len() * d];
        id.par_chunks_mut(d).enumerate().for_each(|(k, out)| {
            for &(u, w) in self.uses.row(k) {
                if let Some(g) = source(u) {
                    add_scaled(out, w, g);
                }
            }
            let y = &v.unit[k * d..(k + 1) * d];
            let dot: f32 = y.iter().zip(out.iter()).map(|(a, b)| a * b).sum();
            let n = v.norms[k];
            if n > MIN_NORM {
                out.iter_mut().zip(y).for_each(|(o, &y)| *o = (*o - y * dot) / n);
            } else {
                out.iter_mut().for_each(|o| *o /= n);
            }
        });
        let mut token = vec![0f32; self.token_rows.len() * d];
        token.par_chunks_mut(d).enumerate().for_each(|(t, out)| {
            for &(k, w) in self.token_items.row(t) {
                add_scaled(out, w, &id[k as usize * d..(k as usize + 1) * d]);
            }
        });
        let mut category = vec![0f32; self.category_rows.len() * d];
        category.par_chunks_mut(d).enumerate().for_each(|(c, out)| {
            for &k in self.category_items.row(c) {
                add_scaled(out, 1.0, &id[k as usize * d..(k as usize + 1) * d]);
            }
        });
        TableGrads { id, token, category }
    }
}

/// The slots' inputs of the user tower (`h` of [`crate::model::UserTower::attend`]) and the
/// gradients of its kind, recency and position tables, outside autodiff too: the tower adds three
/// small tables' rows to every slot, and as a Burn graph that was a one-hot matrix product and two
/// broadcast additions over `[B, N, d]`, forward and backward.
pub struct SlotTables<'a> {
    pub kind: &'a [f32],
    pub recency: &'a [f32],
    pub position: &'a [f32],
}

/// Slots handled per parallel task when the tables' gradients are summed (a fixed split, so the
/// sums do not depend on the threads).
const SLOT_CHUNK: usize = 1024;

impl SlotTables<'_> {
    /// `h` `[B, N, d]`: each slot's item vector (`history`, [`StepInputs::history`]) plus its
    /// kind's, recency bucket's and position's rows.
    pub fn inputs(&self, batch: &HistoryBatch, history: Vec<f32>, dim: usize) -> Vec<f32> {
        let d = dim;
        let (kinds, buckets) = (self.kind.len() / d, self.recency.len() / d);
        assert!(batch.slots * d <= self.position.len(), "a position row per slot");
        assert!(
            batch.kinds.iter().all(|&k| k < kinds) && batch.recency.iter().all(|&r| r < buckets),
            "history encoded for another tower"
        );
        let mut h = history;
        h.par_chunks_mut(d).enumerate().for_each(|(s, out)| {
            let (k, r, n) = (batch.kinds[s], batch.recency[s], s % batch.slots);
            let rows =
                [&self.kind[k * d..(k + 1) * d], &self.recency[r * d..(r + 1) * d], &self.position[n * d..(n + 1) * d]];
            for (j, o) in out.iter_mut().enumerate() {
                // As the tower's graph: the item, plus kind + recency, plus the position.
                *o += rows[0][j] + rows[1][j];
                *o += rows[2][j];
            }
        });
        h
    }

    /// The kind, recency and position tables' gradients (each the table's shape) from `h`'s.
    pub fn grads(&self, batch: &HistoryBatch, grad: &[f32], dim: usize) -> [Vec<f32>; 3] {
        let d = dim;
        let sizes = [self.kind.len(), self.recency.len(), self.position.len()];
        let partial: Vec<[Vec<f32>; 3]> = grad
            .par_chunks(SLOT_CHUNK * d)
            .enumerate()
            .map(|(c, chunk)| {
                let mut out = sizes.map(|n| vec![0f32; n]);
                for (i, g) in chunk.chunks(d).enumerate() {
                    let s = c * SLOT_CHUNK + i;
                    let rows = [batch.kinds[s], batch.recency[s], s % batch.slots];
                    for (table, &row) in out.iter_mut().zip(&rows) {
                        add_scaled(&mut table[row * d..(row + 1) * d], 1.0, g);
                    }
                }
                out
            })
            .collect();
        let mut total = sizes.map(|n| vec![0f32; n]);
        for part in &partial {
            for (t, p) in total.iter_mut().zip(part) {
                add_scaled(t, 1.0, p);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::item_tower::ItemTowerConfig;
    use crate::model::{encode_history, tensor_to_vec, Event, HistoryConfig, Kind};
    use crate::rng::Rng;
    use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

    fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), device)
    }

    /// `n` values drawn uniformly from [-1, 1).
    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
    }

    /// `values` (`dim` per history slot of `batch`) with the padding slots' rows set to zero.
    fn zero_on_padding(batch: &HistoryBatch, mut values: Vec<f32>, dim: usize) -> Vec<f32> {
        for (s, &m) in batch.mask.iter().enumerate() {
            if m != 0.0 {
                values[s * dim..(s + 1) * dim].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        values
    }

    fn close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (k, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 2e-5 * (1.0 + b.abs()), "{what}[{k}]: plan {a}, Burn {b}");
        }
    }

    /// The plan's vectors, inputs and table gradients equal Burn's through the whole-table item
    /// tower (the one the export runs), its gathers and scatter-adds, for a weighted sum of the
    /// inputs with random weights: the gradient is a linear map, so this checks all of it. The
    /// weights are zero on padding slots, as the user tower's are (its attention gives padding
    /// exactly zero weight).
    #[test]
    fn the_plan_computes_burns_vectors_and_gradients() {
        let device = Device::default().autodiff();
        let (items, dim, t) = (40usize, 12usize, 4usize);
        let mut rng = Rng::new(3);
        // Titles of 0 to 4 tokens over 15 hashed ids; 5 categories, some items without one.
        let tokens: Vec<Vec<u32>> =
            (0..items).map(|_| (0..rng.below(5)).map(|_| 1 + rng.below(15) as u32).collect()).collect();
        let cats: Vec<u32> = (0..items).map(|i| if i % 7 == 3 { 0 } else { 1 + rng.below(4) as u32 }).collect();
        let f = ItemFeatures::new(&tokens, Some(&cats), t);
        let tower = ItemTowerConfig::new(items, dim)
            .with_token_rows(f.token_rows)
            .with_categories(5)
            .with_max_tokens(t)
            .init(&device);
        let cfg = HistoryConfig { max_len: 4, recency_buckets: 28, memory: 9, memory_decay: 0.9 };
        let histories: Vec<_> = [2usize, 15, 1, 30, 6]
            .iter()
            .map(|&n| {
                let events: Vec<Event> = (0..n)
                    .map(|k| Event { item: rng.below(items as u64) as u32, kind: Kind::View, time: k as f64 })
                    .collect();
                encode_history(&events, &cfg).unwrap()
            })
            .collect();
        let batch = HistoryBatch::new(&histories);
        let columns: Vec<u32> = vec![5, 17, 5, 39, 0, 22];
        let (b, slots) = (batch.batch, batch.slots);
        let w_history = zero_on_padding(&batch, random(&mut rng, b * slots * dim), dim);
        let (w_memory, w_columns) = (random(&mut rng, b * dim), random(&mut rng, columns.len() * dim));
        let tensor = |v: &[f32], rows: usize| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, dim]), &device);

        // Burn: the whole table, then the gathers.
        let all = tower.forward(&f, &device);
        let slot_rows = ints(batch.rows.iter().map(|&r| r as i64).collect(), &device);
        let history = all.clone().select(0, slot_rows);
        let terms = all.clone().select(0, ints(batch.memory.iter().map(|&(_, r, _)| r as i64).collect(), &device))
            * Tensor::<2>::from_data(
                TensorData::new(batch.memory.iter().map(|&(_, _, w)| w).collect::<Vec<_>>(), [batch.memory.len(), 1]),
                &device,
            );
        let examples = ints(batch.memory.iter().map(|&(i, _, _)| i as i64).collect(), &device);
        let memory = Tensor::<2>::zeros([b, dim], &device).select_assign(0, examples, terms, IndexingUpdateOp::Add);
        let candidates = all.select(0, ints(columns.iter().map(|&r| r as i64).collect(), &device));
        let values = [history.clone(), memory.clone(), candidates.clone()].map(|x| tensor_to_vec(x.inner()));
        let loss = (history * tensor(&w_history, b * slots)).sum()
            + (memory * tensor(&w_memory, b)).sum()
            + (candidates * tensor(&w_columns, columns.len())).sum();
        let grads = loss.backward();
        let tables = tower.tables();
        let want: Vec<Vec<f32>> =
            tables.iter().map(|t| tensor_to_vec(t.grad(&grads).expect("a table's gradient"))).collect();

        // The plan, on the same tables.
        let [id, token, category] = tables.map(|t| SparseTable::from_tensor(t.inner()));
        let plan = StepPlan::new(&f, &batch, &columns);
        assert!(plan.rows.len() < items && plan.token_rows.len() < f.token_rows, "a step touches a subset");
        let v = plan.forward(&id, &token, &category);
        let inputs = plan.inputs(&v);
        let real_history: Vec<f32> = (0..b * slots)
            .flat_map(|s| {
                let real = batch.mask[s] == 0.0;
                values[0][s * dim..(s + 1) * dim].iter().map(move |&x| if real { x } else { 0.0 })
            })
            .collect();
        close("history", &inputs.history, &real_history);
        close("memory", &inputs.memory, &values[1]);
        close("candidates", &inputs.candidates, &values[2]);
        let g = plan.backward(&v, &w_history, Some(&w_memory), &w_columns);
        for ((name, got, rows), want) in [
            ("id", &g.id, &plan.rows),
            ("token", &g.token, &plan.token_rows),
            ("category", &g.category, &plan.category_rows),
        ]
        .into_iter()
        .zip(&want)
        {
            // Scattered back to whole tables: rows the plan does not list have no gradient.
            let mut full = vec![0f32; want.len()];
            for (k, &r) in rows.iter().enumerate() {
                full[r as usize * dim..(r as usize + 1) * dim].copy_from_slice(&got[k * dim..(k + 1) * dim]);
            }
            close(name, &full, want);
            assert!(want.iter().any(|x| x.abs() > 1e-3), "{name}: a gradient to compare");
        }
        // Without the memory's gradient: as if its weights were zero.
        let none = plan.backward(&v, &w_history, None, &w_columns);
        let zero = plan.backward(&v, &w_history, Some(&vec![0.0; b * dim]), &w_columns);
        assert_eq!((none.id, none.token, none.category), (zero.id, zero.token, zero.category));
    }

    /// The slots' inputs built outside autodiff and the kind, recency and position gradients
    /// summed from `h`'s equal Burn's through the whole tower (its one-hot product and broadcast
    /// additions), as do the user vectors and the items' gradients.
    #[test]
    fn slot_tables_match_the_towers_graph() {
        use crate::model::UserTowerConfig;
        let device = Device::default().autodiff();
        let dim = 8;
        let config = UserTowerConfig::new(dim)
            .with_heads(2)
            .with_attention_hidden(6)
            .with_hidden(5)
            .with_max_len(4)
            .with_diagonal_skip(true)
            .with_memory(6);
        let tower = config.init(&device);
        let mut rng = Rng::new(9);
        let histories: Vec<_> = [1usize, 9, 3, 20]
            .iter()
            .map(|&n| {
                let events: Vec<Event> = (0..n)
                    .map(|k| Event {
                        item: rng.below(30) as u32,
                        kind: if k % 3 == 0 { Kind::Purchase } else { Kind::View },
                        time: (k * k * 400) as f64,
                    })
                    .collect();
                encode_history(&events, &config.history()).unwrap()
            })
            .collect();
        let batch = HistoryBatch::new(&histories);
        let (b, n) = (batch.batch, batch.slots);
        let items = zero_on_padding(&batch, random(&mut rng, b * n * dim), dim);
        let (memory, weights) = (random(&mut rng, b * dim), random(&mut rng, b * dim));
        let t2 = |v: &[f32], rows: usize| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, dim]), &device);
        let run = |users: Tensor<2>| (users.clone() * t2(&weights, b)).sum().backward();

        // Burn, through the whole tower.
        let leaf = t2(&items, b * n).require_grad();
        let users = tower.forward(leaf.clone().reshape([b, n, dim]), Some(t2(&memory, b)), &batch);
        let want_users = tensor_to_vec(users.clone().inner());
        let grads = run(users);
        let want_items = tensor_to_vec(leaf.grad(&grads).expect("the items' gradient"));
        let tables = tower.slot_tables();
        let want: Vec<Vec<f32>> =
            tables.iter().map(|(_, t)| tensor_to_vec(t.grad(&grads).expect("a table's gradient"))).collect();

        // The slots built here, the tower from `h` on.
        let [kind, recency, position] = tables.map(|(_, t)| tensor_to_vec(t));
        let slots = SlotTables { kind: &kind, recency: &recency, position: &position };
        let h = t2(&slots.inputs(&batch, items.clone(), dim), b * n).require_grad();
        let users = tower.attend(h.clone().reshape([b, n, dim]), Some(t2(&memory, b)), &batch).0;
        close("users", &tensor_to_vec(users.clone().inner()), &want_users);
        let grads = run(users);
        let g_h = tensor_to_vec(h.grad(&grads).expect("h's gradient"));
        close("items' gradient", &g_h, &want_items);
        for ((name, got), want) in ["kind", "recency", "position"].iter().zip(slots.grads(&batch, &g_h, dim)).zip(&want)
        {
            close(name, &got, want);
            assert!(want.iter().any(|x| x.abs() > 1e-4), "{name}: a gradient to compare");
        }
    }
}
