//! The item tower: what the trainer knows about an item, turned into the vector the catalog
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
use burn::tensor::{Device, Int, Tensor, TensorData};

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

/// The item tower's inputs for the whole catalog, built once.
#[derive(Debug, Clone)]
pub struct ItemFeatures {
    pub items: usize,
    pub max_tokens: usize,
    /// Rows the token table needs: the distinct hashed tokens of this catalog, plus padding.
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
    /// `tokens`: each item's hashed title tokens (ids from 1). Only the hashed ids the catalog
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
