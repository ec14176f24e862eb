//! The item tower: what the trainer knows about an item, turned into the vector the catalogue
//! ships. Only the trainer runs it; the browser downloads its output.
//!
//! ```text
//! v_i = normalize(id[i] + mean over title tokens of token[t] + category[c_i])      [I, d]
//! ```
//!
//! The id embedding carries what interactions taught about the item; the title tokens and the
//! category give items with few interactions a useful vector from their words alone.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::user_tower::l2_normalize;

/// Hyper-parameters of [`ItemTower`].
#[derive(Config, Debug, PartialEq)]
pub struct ItemTowerConfig {
    pub items: usize,
    pub dim: usize,
    /// Rows of the token table, row 0 for padding ([`ItemFeatures::token_rows`]).
    #[config(default = 16385)]
    pub token_rows: usize,
    /// Distinct categories (codes `0..categories`); 0 when the data has none.
    #[config(default = 0)]
    pub categories: usize,
    #[config(default = 8)]
    pub max_tokens: usize,
}

impl ItemTowerConfig {
    pub fn init(&self, device: &Device) -> ItemTower {
        ItemTower {
            id: EmbeddingConfig::new(self.items, self.dim).init(device),
            token: EmbeddingConfig::new(self.token_rows, self.dim).init(device),
            category: EmbeddingConfig::new(self.categories + 1, self.dim).init(device),
        }
    }
}

/// See the module docs.
#[derive(Module, Debug)]
pub struct ItemTower {
    id: Embedding,
    token: Embedding,
    category: Embedding,
}

/// The item tower's inputs for the whole catalogue, built once.
#[derive(Debug, Clone)]
pub struct ItemFeatures {
    pub items: usize,
    pub max_tokens: usize,
    /// Rows the token table needs: the distinct hashed tokens of this catalogue, plus padding.
    pub token_rows: usize,
    /// `items × max_tokens` token rows (`1..token_rows`, the hashed tokens renumbered densely in
    /// order of first use), 0-padded.
    pub tokens: Vec<i64>,
    /// `items × max_tokens`: 1/count for a real token, 0 for padding (a mean as a weighted sum).
    pub token_weights: Vec<f32>,
    /// Category code + 1 per item (0 = none).
    pub categories: Vec<i64>,
}

impl ItemFeatures {
    /// `tokens`: each item's hashed title tokens (ids from 1). Only the hashed ids the catalogue
    /// uses get a row of the token table: a row no item reads would get no gradient and Adam would
    /// never move it, so renumbering saves time and memory per step (16,384 buckets; the titles of
    /// all 4,619 items of Online Retail II hash to 2,117) and changes the model only through its
    /// random initialisation (a smaller table draws fewer random numbers).
    pub fn new(tokens: &[Vec<u32>], categories: Option<&[u32]>, max_tokens: usize) -> ItemFeatures {
        let items = tokens.len();
        let mut rows: std::collections::HashMap<u32, i64> = std::collections::HashMap::new();
        let mut f = ItemFeatures {
            items,
            max_tokens,
            token_rows: 1,
            tokens: vec![0; items * max_tokens],
            token_weights: vec![0.0; items * max_tokens],
            categories: (0..items).map(|i| categories.map_or(0, |c| c[i] as i64 + 1)).collect(),
        };
        for (i, t) in tokens.iter().enumerate() {
            let n = t.len().min(max_tokens);
            for (j, &tok) in t.iter().take(n).enumerate() {
                let next = rows.len() as i64 + 1;
                f.tokens[i * max_tokens + j] = *rows.entry(tok).or_insert(next);
                f.token_weights[i * max_tokens + j] = 1.0 / n as f32;
            }
        }
        f.token_rows = rows.len() + 1;
        f
    }
}

impl ItemTower {
    /// (Trainer only.) The same tower with its id vectors replaced by `ids` (`items × dim`, row-major: a warm start)
    /// and its title-token and category vectors scaled by `others`, so that the warm start is not
    /// drowned by their random initialisation.
    #[cfg(feature = "train")]
    pub fn with_id_init(mut self, ids: Vec<f32>, others: f32, device: &Device) -> ItemTower {
        use burn::module::Param;
        let [items, dim] = self.id.weight.dims();
        assert_eq!(ids.len(), items * dim, "one id vector per item");
        self.id.weight = Param::from_data(TensorData::new(ids, [items, dim]), device);
        let scaled = |p: &Param<Tensor<2>>| {
            let dims = p.dims();
            let v: Vec<f32> = super::tensor_to_vec(p.val()).into_iter().map(|x| x * others).collect();
            Param::from_data(TensorData::new(v, dims), device)
        };
        self.token.weight = scaled(&self.token.weight);
        self.category.weight = scaled(&self.category.weight);
        self
    }

    /// Unit vectors for every item, `[I, d]`.
    pub fn forward(&self, f: &ItemFeatures, device: &Device) -> Tensor<2> {
        let (i, t) = (f.items, f.max_tokens);
        // Every item's own row: the table itself (a gather of all rows would only copy it).
        let id = self.id.weight.val();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(f.tokens.clone(), [i, t]), device);
        let weights = Tensor::<3>::from_data(TensorData::new(f.token_weights.clone(), [i, t, 1]), device);
        // [I, T, d] weighted by 1/count -> mean over tokens [I, d]
        let words = (self.token.forward(tokens) * weights).sum_dim(1).reshape([i as i32, -1]);
        let cats = Tensor::<2, Int>::from_data(TensorData::new(f.categories.clone(), [i, 1]), device);
        let category = self.category.forward(cats).reshape([i as i32, -1]);
        l2_normalize(id + words + category)
    }

    /// The vectors of the given item rows only, `[rows.len(), d]`: row `k` equals row `rows[k]` of
    /// [`Self::forward`], computed the same way. A training step needs the items it touches, not
    /// the catalogue: this keeps a step's cost growing with the batch, not with the items.
    pub fn forward_rows(&self, f: &ItemFeatures, rows: &[i64], device: &Device) -> Tensor<2> {
        let all_tokens: Vec<i64> = (0..f.token_rows as i64).collect();
        let all_categories: Vec<i64> = (0..self.category.weight.dims()[0] as i64).collect();
        let gathered = ItemRows::new(f, rows, &all_tokens, &all_categories);
        let ids = Tensor::<1, Int>::from_data(TensorData::new(rows.to_vec(), [rows.len()]), device);
        let id = self.id.weight.val().select(0, ids);
        gathered.forward(id, self.token.weight.val(), self.category.weight.val(), device)
    }

    /// The three tables (`[items, d]` ids, `[token_rows, d]` title tokens, `[categories + 1, d]`
    /// categories), for a trainer that keeps them itself.
    #[cfg(feature = "train")]
    pub fn tables(&self) -> [Tensor<2>; 3] {
        [self.id.weight.val(), self.token.weight.val(), self.category.weight.val()]
    }

    /// The same tower with the three tables of [`Self::tables`] replaced (row-major `[rows, d]`).
    #[cfg(feature = "train")]
    pub fn with_tables(mut self, tables: [Tensor<2>; 3]) -> ItemTower {
        use burn::module::Param;
        let [id, token, category] = tables;
        self.id.weight = Param::from_tensor(id);
        self.token.weight = Param::from_tensor(token);
        self.category.weight = Param::from_tensor(category);
        self
    }
}

/// Which rows of the three tables some items read, and how: the items' vectors are
/// `normalize(id + Σ weight · token + category)`, indexed into gathered tables (the whole tables,
/// or just the rows a training step touches).
#[derive(Debug, Clone)]
pub struct ItemRows {
    items: usize,
    /// One (item, row of the token table given to [`Self::forward`], weight) per real title token
    /// (padding reads nothing: titles fill 3 to 5 of 8 slots on the synthetic shop).
    token_items: Vec<i64>,
    tokens: Vec<i64>,
    token_weights: Vec<f32>,
    /// One row of the category table given to [`Self::forward`] per item.
    categories: Vec<i64>,
}

impl ItemRows {
    /// The items `rows` of `f`, reading a token table that holds the token rows `token_rows`
    /// (ascending) and a category table of the rows `category_rows` (ascending); the id table
    /// is `rows` itself, in order.
    pub fn new(f: &ItemFeatures, rows: &[i64], token_rows: &[i64], category_rows: &[i64]) -> ItemRows {
        let t = f.max_tokens;
        let at = |all: &[i64], r: i64| all.binary_search(&r).expect("a row the item reads is given") as i64;
        let mut out = ItemRows {
            items: rows.len(),
            token_items: Vec::new(),
            tokens: Vec::new(),
            token_weights: Vec::new(),
            categories: Vec::with_capacity(rows.len()),
        };
        for (k, &r) in rows.iter().enumerate() {
            let r = r as usize;
            for (&token, &w) in f.tokens[r * t..(r + 1) * t].iter().zip(&f.token_weights[r * t..(r + 1) * t]) {
                if w != 0.0 {
                    out.token_items.push(k as i64);
                    out.tokens.push(at(token_rows, token));
                    out.token_weights.push(w);
                }
            }
            out.categories.push(at(category_rows, f.categories[r]));
        }
        out
    }

    /// The token rows the items `rows` of `f` read, ascending.
    pub fn token_rows(f: &ItemFeatures, rows: &[i64]) -> Vec<i64> {
        let t = f.max_tokens;
        let mut v: Vec<i64> = rows
            .iter()
            .flat_map(|&r| {
                let span = r as usize * t..(r as usize + 1) * t;
                f.tokens[span.clone()].iter().zip(&f.token_weights[span]).filter(|(_, &w)| w != 0.0).map(|(&k, _)| k)
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// `[items, d]` unit vectors from the gathered tables: `id` `[items, d]`, `token` and
    /// `category` holding the rows given to [`Self::new`].
    pub fn forward(&self, id: Tensor<2>, token: Tensor<2>, category: Tensor<2>, device: &Device) -> Tensor<2> {
        let ints = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        let d = id.dims()[1];
        let n = self.tokens.len();
        // The mean of each title's token vectors: weighted rows added into their item's row.
        let mut words = Tensor::<2>::zeros([self.items, d], device);
        if n > 0 {
            let weights = Tensor::<2>::from_data(TensorData::new(self.token_weights.clone(), [n, 1]), device);
            let terms = token.select(0, ints(&self.tokens)) * weights;
            words = words.select_assign(0, ints(&self.token_items), terms, IndexingUpdateOp::Add);
        }
        let category = category.select(0, ints(&self.categories));
        l2_normalize(id + words + category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{inference_device, tensor_to_vec};

    #[test]
    fn the_rows_of_a_step_equal_the_same_rows_of_the_whole_table() {
        let device = inference_device();
        let tokens: Vec<Vec<u32>> = (0..50u32).map(|i| (0..(i % 5)).map(|t| (i * 7 + t) % 23).collect()).collect();
        let cats: Vec<u32> = (0..50).map(|i| i % 4).collect();
        let f = ItemFeatures::new(&tokens, Some(&cats), 3);
        let tower = ItemTowerConfig::new(50, 16)
            .with_token_rows(f.token_rows)
            .with_categories(4)
            .with_max_tokens(3)
            .init(&device);
        let all = tensor_to_vec(tower.forward(&f, &device));
        let rows = [0i64, 3, 4, 17, 49];
        let some = tensor_to_vec(tower.forward_rows(&f, &rows, &device));
        // As a training step reads them: only the token and category rows these items use,
        // gathered into small tables.
        let token_rows = ItemRows::token_rows(&f, &rows);
        let mut category_rows: Vec<i64> = rows.iter().map(|&r| f.categories[r as usize]).collect();
        category_rows.sort_unstable();
        category_rows.dedup();
        assert!(token_rows.len() < f.token_rows - 1 && category_rows.len() < 5, "a subset of each table");
        let ints = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
        let [id, token, category] = [&tower.id, &tower.token, &tower.category].map(|e| e.weight.val());
        let step = tensor_to_vec(ItemRows::new(&f, &rows, &token_rows, &category_rows).forward(
            id.select(0, ints(&rows)),
            token.select(0, ints(&token_rows)),
            category.select(0, ints(&category_rows)),
            &device,
        ));
        for (k, &r) in rows.iter().enumerate() {
            let want = &all[r as usize * 16..(r as usize + 1) * 16];
            for got in [&some[k * 16..(k + 1) * 16], &step[k * 16..(k + 1) * 16]] {
                for (a, b) in got.iter().zip(want) {
                    assert!((a - b).abs() <= 1e-6, "row {r}: {got:?} vs {want:?}");
                }
            }
        }
    }
}
