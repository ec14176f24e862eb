//! The user tower: a visitor's recent items in, one unit vector out, in the item vectors' space.
//!
//! It reads the very item vectors the ranker scores (the downloaded catalog), so the browser
//! holds one table, and the tower itself stays small (about 70k parameters at the defaults).
//!
//! ```text
//! slot s (newest first):  h_s = item_s + kind[k_s] + recency[r_s] + position[s]          [B, N, d]
//! attention pooling:      a_s = W_out · tanh(W_in h_s + W_q h_0)     one score per head  [B, N, H]
//!                         α   = softmax over the slots (padding masked out)
//!                         z   = concat over heads of Σ_s α_s h_s                          [B, H·d]
//! memory (optional):      m   = Σ_r w_r item_r over the newest distinct items, w_r ∝ decay^r
//!                         z   = concat(z, m)                                          [B, (H+1)·d]
//! output:                 u   = normalize(W_2 gelu(W_1 z) + W_skip z)                     [B, d]
//! ```
//!
//! With `diagonal_skip`, the skip is one gate vector per head (and one for the memory),
//! `Σ_heads g_h ⊙ z_h`, instead of a dense `H·d × d` (`(H+1)·d × d`) matrix: the parameters then
//! grow linearly with `d`, which is what lets a wide item space (384 dimensions for Online Retail
//! II) keep the tower under 300 KB. The score of an item is then, through the skip, a gated
//! similarity to the pooled history items.
//!
//! The query `W_q h_0` lets the newest item decide which older ones matter (the rest of its
//! basket, the items like it); the recency buckets let training learn how fast interest fades.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax, tanh};
use burn::tensor::{Device, Tensor, TensorData};

use super::features::{EncodedHistory, HistoryConfig, KINDS};

/// Hyper-parameters of [`UserTower`]; saved beside the weights (`tower.json`).
#[derive(Config, Debug, PartialEq)]
pub struct UserTowerConfig {
    /// Item vector dimension (the catalog's).
    pub dim: usize,
    /// Attention pooling heads.
    #[config(default = 4)]
    pub heads: usize,
    /// Width of the attention scorer.
    #[config(default = 64)]
    pub attention_hidden: usize,
    /// Width of the output MLP.
    #[config(default = 128)]
    pub hidden: usize,
    /// Slots read (newest items).
    #[config(default = 50)]
    pub max_len: usize,
    /// Recency buckets (see [`super::features::recency_bucket`]).
    #[config(default = 28)]
    pub recency_buckets: usize,
    /// Per-head gate vectors instead of the dense skip matrix (see the module docs).
    #[config(default = false)]
    pub diagonal_skip: bool,
    /// Distinct items averaged into the memory vector ([`HistoryConfig::memory`]); 0 for none.
    #[config(default = 0)]
    pub memory: usize,
    /// Decay of the memory's weights ([`HistoryConfig::memory_decay`]).
    #[config(default = 0.97)]
    pub memory_decay: f32,
}

impl UserTowerConfig {
    /// The history encoding this tower was trained with.
    pub fn history(&self) -> HistoryConfig {
        HistoryConfig {
            max_len: self.max_len,
            recency_buckets: self.recency_buckets,
            memory: self.memory,
            memory_decay: self.memory_decay,
        }
    }

    /// Vectors the pooling hands to the MLP and the skip: one per head, plus the memory.
    pub fn pooled(&self) -> usize {
        self.heads + usize::from(self.memory > 0)
    }

    /// Parameter count of the tower this config builds.
    pub fn num_params(&self) -> usize {
        let (d, a, h, m, p) = (self.dim, self.attention_hidden, self.heads, self.hidden, self.pooled());
        (KINDS + self.recency_buckets + self.max_len) * d
            + (d * a + a)
            + d * a
            + (a * h + h)
            + (p * d * m + m)
            + (m * d + d)
            + if self.diagonal_skip { p * d } else { p * d * d }
    }

    /// Checks that the sizes are usable (non-zero, within the limits of the encoding).
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("dim", self.dim),
            ("heads", self.heads),
            ("attention_hidden", self.attention_hidden),
            ("hidden", self.hidden),
            ("max_len", self.max_len),
            ("recency_buckets", self.recency_buckets),
        ];
        for (name, v) in fields {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.dim > crate::catalog::MAX_DIM as usize {
            return Err(format!("dim {} exceeds {}", self.dim, crate::catalog::MAX_DIM));
        }
        if self.recency_buckets > 256 || self.max_len > 4096 || self.heads > 64 || self.hidden > 8192 {
            return Err("a size is beyond what this build supports".into());
        }
        if self.memory > 100_000 {
            return Err("memory is beyond what this build supports".into());
        }
        if !(self.memory_decay > 0.0 && self.memory_decay <= 1.0) {
            return Err(format!("memory_decay must be in (0, 1], got {}", self.memory_decay));
        }
        if self.attention_hidden > 8192 {
            return Err("attention_hidden is beyond what this build supports".into());
        }
        Ok(())
    }

    /// A freshly initialised tower (random weights from the device's seed).
    pub fn init(&self, device: &Device) -> UserTower {
        let (d, a, h, m, p) = (self.dim, self.attention_hidden, self.heads, self.hidden, self.pooled());
        // The kind, recency and position vectors start at a tenth of a unit item vector's length:
        // at Burn's default (unit variance per coordinate, length √d) they would drown the items
        // they are added to, and the wider the vectors the longer training takes to recover.
        let small = Initializer::Normal { mean: 0.0, std: 0.1 / (d as f64).sqrt() };
        UserTower {
            kind: EmbeddingConfig::new(KINDS, d).with_initializer(small.clone()).init(device),
            recency: EmbeddingConfig::new(self.recency_buckets, d).with_initializer(small.clone()).init(device),
            position: EmbeddingConfig::new(self.max_len, d).with_initializer(small).init(device),
            att_in: LinearConfig::new(d, a).init(device),
            att_query: LinearConfig::new(d, a).with_bias(false).init(device),
            att_out: LinearConfig::new(a, h).init(device),
            mlp_in: LinearConfig::new(p * d, m).init(device),
            mlp_out: LinearConfig::new(m, d).init(device),
            skip: (!self.diagonal_skip).then(|| LinearConfig::new(p * d, d).with_bias(false).init(device)),
            gate: self.diagonal_skip.then(|| Param::from_tensor(Tensor::ones([p, d], device))),
            heads: h,
            memory: self.memory > 0,
        }
    }
}

impl UserTowerConfig {
    /// The shapes of the tower's float parameters, in the order in which [`Module::visit`] and
    /// [`Module::map`] reach them (the order of `tower.bin`): the kind, recency and position tables,
    /// then each [`Linear`]'s weight `[d_input, d_output]` and bias, then the skip or the gates.
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let (d, a, h, m, p) = (self.dim, self.attention_hidden, self.heads, self.hidden, self.pooled());
        let mut shapes = vec![
            vec![KINDS, d],
            vec![self.recency_buckets, d],
            vec![self.max_len, d],
            vec![d, a], // att_in
            vec![a],
            vec![d, a], // att_query, no bias
            vec![a, h], // att_out
            vec![h],
            vec![p * d, m], // mlp_in
            vec![m],
            vec![m, d], // mlp_out
            vec![d],
        ];
        shapes.push(if self.diagonal_skip { vec![p, d] } else { vec![p * d, d] });
        shapes
    }
}

/// The tower's dense layers in `tower.bin` order (after the kind, recency and position tables):
/// `att_in`, `att_query`, `att_out`, `mlp_in`, `mlp_out`, each with or without a bias. The skip
/// (dense, no bias) or the gates follow. Both builders of a tower from its parameters read this.
pub(crate) const DENSE_LAYERS_BIAS: [bool; 5] = [true, false, true, true, true];

/// See the module docs. Built by [`UserTowerConfig::init`] (training) or, without any initialiser,
/// from `tower.bin` by [`UserTower::from_params`] ([`super::UserModel::from_bytes`]).
#[derive(Module, Debug)]
pub struct UserTower {
    kind: Embedding,
    recency: Embedding,
    position: Embedding,
    att_in: Linear,
    att_query: Linear,
    att_out: Linear,
    mlp_in: Linear,
    mlp_out: Linear,
    skip: Option<Linear>,
    gate: Option<Param<Tensor<2>>>,
    heads: usize,
    memory: bool,
}

/// A batch of encoded histories as flat arrays, padded to the longest history in the batch.
/// Built once per batch by [`HistoryBatch::new`], for training and inference alike.
#[derive(Debug, Clone, Default)]
pub struct HistoryBatch {
    pub batch: usize,
    pub slots: usize,
    /// Catalog rows, `batch × slots`, padding slots hold row 0 (masked).
    pub rows: Vec<u32>,
    /// Kind and recency bucket of each slot (padding: 0, 0).
    pub kinds: Vec<usize>,
    pub recency: Vec<usize>,
    /// 0 for a real slot, a large negative number for padding: added to the attention scores.
    pub mask: Vec<f32>,
    /// The memories as (history in the batch, catalog row, weight), history by history.
    pub memory: Vec<(u32, u32, f32)>,
}

/// Added to the attention score of a padding slot: `exp` of it underflows to exactly zero in f32,
/// so padding changes nothing (the browser pads nothing, the trainer pads to the batch's longest).
const PAD_SCORE: f32 = -1.0e9;

impl HistoryBatch {
    /// Pads `histories` (none empty) to the longest one.
    pub fn new<'a>(histories: impl IntoIterator<Item = &'a EncodedHistory>) -> HistoryBatch {
        let histories: Vec<&EncodedHistory> = histories.into_iter().collect();
        let slots = histories.iter().map(|h| h.len()).max().unwrap_or(0).max(1);
        let batch = histories.len();
        let mut b = HistoryBatch {
            batch,
            slots,
            rows: Vec::with_capacity(batch * slots),
            kinds: Vec::with_capacity(batch * slots),
            recency: Vec::with_capacity(batch * slots),
            mask: Vec::with_capacity(batch * slots),
            memory: Vec::new(),
        };
        for (i, h) in histories.iter().enumerate() {
            b.memory.extend(h.memory_items.iter().zip(&h.memory_weights).map(|(&r, &w)| (i as u32, r, w)));
        }
        for h in histories {
            for s in 0..slots {
                let real = s < h.len();
                b.rows.push(if real { h.items[s] } else { 0 });
                b.kinds.push(if real { h.kinds[s] as usize } else { 0 });
                b.recency.push(if real { h.recency[s] as usize } else { 0 });
                b.mask.push(if real { 0.0 } else { PAD_SCORE });
            }
        }
        b
    }

    /// The memory vectors `[batch, dim]`, row-major; `vector(row)` is a catalog row's item vector.
    pub fn memory_vectors<V: AsRef<[f32]>>(&self, dim: usize, vector: impl Fn(u32) -> V) -> Vec<f32> {
        let mut out = vec![0f32; self.batch * dim];
        for &(i, row, w) in &self.memory {
            let v = vector(row);
            for (o, x) in out[i as usize * dim..(i as usize + 1) * dim].iter_mut().zip(v.as_ref()) {
                *o += w * x;
            }
        }
        out
    }
}

impl UserTower {
    /// The tower `config` describes with the given parameter values, in
    /// [`UserTowerConfig::param_shapes`] order (each row-major, of that shape), without running a
    /// random initialiser: the browser build then links none of Burn's initialisers (through the
    /// orthogonal one, a QR decomposition and a scatter: the optimised wasm lost 117 KB, 39 KB
    /// gzipped, when `tower.bin` stopped loading into an initialised tower).
    ///
    /// # Panics
    ///
    /// If the number of values or a shape differs from `param_shapes` (the caller checks them).
    pub fn from_params(config: &UserTowerConfig, params: Vec<TensorData>, device: &Device) -> UserTower {
        let shapes = config.param_shapes();
        assert_eq!(params.len(), shapes.len(), "one tensor per parameter of the tower");
        for (i, (data, shape)) in params.iter().zip(&shapes).enumerate() {
            assert_eq!(data.shape().as_slice(), shape.as_slice(), "shape of parameter {i}");
        }
        let mut params = params.into_iter();
        let mut matrix = || Param::from_tensor(Tensor::<2>::from_data(params.next().unwrap(), device));
        let kind = Embedding { weight: matrix() };
        let recency = Embedding { weight: matrix() };
        let position = Embedding { weight: matrix() };
        let mut linear = |bias: bool| {
            let weight = Param::from_tensor(Tensor::<2>::from_data(params.next().unwrap(), device));
            let bias = bias.then(|| Param::from_tensor(Tensor::<1>::from_data(params.next().unwrap(), device)));
            Linear { weight, bias }
        };
        let [att_in, att_query, att_out, mlp_in, mlp_out] = DENSE_LAYERS_BIAS.map(&mut linear);
        let (skip, gate) = if config.diagonal_skip {
            (None, Some(Param::from_tensor(Tensor::<2>::from_data(params.next().unwrap(), device))))
        } else {
            (Some(linear(false)), None)
        };
        UserTower {
            kind,
            recency,
            position,
            att_in,
            att_query,
            att_out,
            mlp_in,
            mlp_out,
            skip,
            gate,
            heads: config.heads,
            memory: config.memory > 0,
        }
    }

    /// `items`: the item vectors of the batch's slots `[B, N, d]` (gathered by the caller from the
    /// catalog, or from the item tower while training); `memory`: each history's memory vector
    /// `[B, d]` (`Σ weight · item vector`, [`super::EncodedHistory::memory_items`]), required by a
    /// tower with a memory and ignored otherwise. Returns unit vectors `[B, d]`.
    pub fn forward(&self, items: Tensor<3>, memory: Option<Tensor<2>>, batch: &HistoryBatch) -> Tensor<2> {
        self.forward_attention(items, memory, batch).0
    }

    /// [`UserTower::forward`], also returning the attention weights `[B, N, H]` (each head's weight
    /// of each slot; 0 on padding): what `explain()` shows.
    pub fn forward_attention(
        &self,
        items: Tensor<3>,
        memory: Option<Tensor<2>>,
        batch: &HistoryBatch,
    ) -> (Tensor<2>, Tensor<3>) {
        let h = self.embed_slots(items, batch);
        self.attend(h, memory, batch)
    }

    /// Each slot's input `[B, N, d]`: its item vector plus the rows of its kind, its recency
    /// bucket and its position.
    fn embed_slots(&self, items: Tensor<3>, batch: &HistoryBatch) -> Tensor<3> {
        let device = items.device();
        let [b, n, d] = items.dims();
        // [B, N, d]. Kind and recency vectors through one one-hot matrix product and the position
        // vectors as a slice, not three gathers with their scatter-add gradients: the same sums,
        // a training epoch 74 s -> 72 s on Online Retail II (docs/model-research.md, "Trainer speed").
        let (kinds, buckets) = (self.kind.weight.dims()[0], self.recency.weight.dims()[0]);
        let width = kinds + buckets;
        let mut onehot = vec![0f32; b * n * width];
        for (slot, (&k, &r)) in batch.kinds.iter().zip(&batch.recency).enumerate() {
            assert!(k < kinds && r < buckets, "history encoded for another tower");
            onehot[slot * width + k] = 1.0;
            onehot[slot * width + kinds + r] = 1.0;
        }
        let table = Tensor::cat(vec![self.kind.weight.val(), self.recency.weight.val()], 0); // [K+R, d]
        let context =
            Tensor::<2>::from_data(TensorData::new(onehot, [b * n, width]), &device).matmul(table).reshape([b, n, d]);
        let position = self.position.weight.val().slice([0..n, 0..d]).unsqueeze::<3>(); // [1, N, d]
        items + context + position
    }

    /// (Trainer only.) The kind, recency and position tables (`[rows, d]` each) with their
    /// parameter ids: a trainer that adds them to the slots itself ([`Self::attend`]) registers
    /// their gradients under these ids.
    #[cfg(feature = "train")]
    pub fn slot_tables(&self) -> [(burn::module::ParamId, Tensor<2>); 3] {
        [&self.kind, &self.recency, &self.position].map(|e| (e.weight.id, e.weight.val()))
    }

    /// The tower after the slots' inputs `h` `[B, N, d]` (item + kind + recency + position):
    /// [`Self::forward_attention`] from there.
    pub fn attend(&self, h: Tensor<3>, memory: Option<Tensor<2>>, batch: &HistoryBatch) -> (Tensor<2>, Tensor<3>) {
        let device = h.device();
        let [b, n, d] = h.dims();
        // The newest slot is slot 0: [B, 1, a]
        let newest = h.clone().slice([0..b, 0..1, 0..d]);
        let query = self.att_query.forward(newest);
        // [B, N, H]
        let scores = self.att_out.forward(tanh(self.att_in.forward(h.clone()) + query));
        let mask = Tensor::<3>::from_data(TensorData::new(batch.mask.clone(), [b, n, 1]), &device);
        let weights = softmax(scores + mask, 1);
        // [B, H, N] x [B, N, d] -> [B, H, d] -> [B, H·d]
        let pooled = weights.clone().swap_dims(1, 2).matmul(h).reshape([b, self.heads * d]);
        let (pooled, p) = match (self.memory, memory) {
            (true, Some(memory)) => (Tensor::cat(vec![pooled, memory], 1), self.heads + 1),
            (true, None) => panic!("this tower reads a memory vector and none was given"),
            (false, _) => (pooled, self.heads),
        };
        let mlp = self.mlp_out.forward(gelu(self.mlp_in.forward(pooled.clone())));
        let skip = match (&self.skip, &self.gate) {
            (Some(skip), _) => skip.forward(pooled),
            // [B, P, d] ⊙ [1, P, d], summed over the heads (and the memory).
            (None, Some(gate)) => (pooled.reshape([b, p, d]) * gate.val().unsqueeze::<3>()).sum_dim(1).reshape([b, d]),
            (None, None) => unreachable!("a tower has a dense skip or gates"),
        };
        (l2_normalize(mlp + skip), weights)
    }
}

/// Rows scaled to unit length (a zero row stays zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
