//! The user tower's inference: the forward pass of [`super::UserTower`] written directly over the
//! Burn backend's tensor operations (`FloatTensorOps`, `ActivationOps`), with the weights held as
//! the backend's own tensors.
//!
//! Why not the `Tensor` API. In Burn 0.22 every `Tensor` operation goes through a bridge that
//! handles quantized tensors as well as float ones, so each operation the tower uses links the
//! quantized path too (quantize, dequantize and the dtype casts of `TensorData`): about 590 KB of
//! the module before wasm-opt hung from the tower's forward, measured with `twiggy dominators`
//! (docs/build.md, "Package size"). The tower's weights are always f32, so the browser calls the
//! float operations only. The trainer keeps the `Module` (it needs autodiff) and hands its weights
//! here ([`TowerNet::from_params`]); the two forward passes are checked against each other on
//! random weights, with padding, the memory and both skips (`tests/tower.rs`, natively and in the three browsers), and every
//! export's self-check runs this one.

use core::future::Future;
use core::task::{Context, Poll, Waker};

use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::Slice;
use burn::tensor::{Shape, TensorData};

use super::features::KINDS;
use super::user_tower::{HistoryBatch, UserTowerConfig, DENSE_LAYERS_BIAS};

/// The backend the browser's tower runs on: ndarray (default) or flex (`--features flex`). Burn
/// 0.22 marks ndarray deprecated in favour of flex; ndarray stays the default for the reasons and
/// measurements in docs/build.md, "Backend".
#[cfg(feature = "ndarray")]
#[allow(deprecated)]
pub type InferBackend = burn::backend::NdArray;
#[cfg(all(feature = "flex", not(feature = "ndarray")))]
pub type InferBackend = burn::backend::Flex;

type T = <InferBackend as burn::backend::BackendTypes>::FloatTensorPrimitive;
type B = InferBackend;

/// A dense layer: `weight` `[in, out]` and `bias` `[1, out]`.
#[derive(Debug, Clone)]
struct Dense {
    weight: T,
    bias: Option<T>,
}

impl Dense {
    /// `x` `[rows, in]` to `[rows, out]`.
    fn forward(&self, x: T) -> T {
        let y = B::float_matmul(x, self.weight.clone());
        match &self.bias {
            Some(b) => B::float_add(y, b.clone()),
            None => y,
        }
    }
}

#[derive(Debug, Clone)]
enum Skip {
    /// `[P·d, d]`.
    Dense(Dense),
    /// One gate vector per pooled vector, `[1, P, d]`.
    Gates(T),
}

/// The tower's weights as backend tensors, ready for [`TowerNet::forward`].
#[derive(Debug, Clone)]
pub struct TowerNet {
    dim: usize,
    heads: usize,
    /// The attention scorer's width.
    width: usize,
    memory: bool,
    /// The kind rows then the recency rows, `[KINDS + R, d]`: one matrix product with a two-hot
    /// row per slot adds both.
    slot_table: T,
    slot_rows: (usize, usize),
    /// `[max_len, d]`.
    position: T,
    att_in: Dense,
    att_query: Dense,
    att_out: Dense,
    mlp_in: Dense,
    mlp_out: Dense,
    skip: Skip,
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> T {
    B::float_from_data(TensorData::new(values, shape.to_vec()), &Default::default())
}

/// A backend tensor's values. The CPU backends answer at once: the future is polled once, with a
/// no-op waker, so no executor is linked.
fn values(t: T) -> Vec<f32> {
    let mut read = core::pin::pin!(B::float_into_data(t));
    match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(data)) => data.try_into_vec::<f32>().expect("the tower computes in f32"),
        Poll::Ready(Err(e)) => panic!("reading the tower's output failed: {e:?}"),
        Poll::Pending => panic!("the tower's backend reads back asynchronously"),
    }
}

impl TowerNet {
    /// The tower `config` describes with the given parameter values, in
    /// [`UserTowerConfig::param_shapes`] order, each row-major.
    ///
    /// # Panics
    ///
    /// If the number of values or a length differs from `param_shapes` (the callers check them).
    pub fn from_params(config: &UserTowerConfig, params: Vec<Vec<f32>>) -> TowerNet {
        let shapes = config.param_shapes();
        assert_eq!(params.len(), shapes.len(), "one tensor per parameter of the tower");
        for (i, (p, s)) in params.iter().zip(&shapes).enumerate() {
            assert_eq!(p.len(), s.iter().product::<usize>(), "size of parameter {i}");
        }
        let d = config.dim;
        let mut it = params.into_iter().zip(shapes);
        let mut next = || it.next().expect("counted above");
        let (mut kinds, _) = next();
        let (recency, _) = next();
        kinds.extend(recency);
        let slot_table = tensor(kinds, &[KINDS + config.recency_buckets, d]);
        let (position, shape) = next();
        let position = tensor(position, &shape);
        let mut dense = |bias: bool| {
            let (w, shape) = next();
            let weight = tensor(w, &shape);
            let bias = bias.then(|| {
                let (b, shape) = next();
                tensor(b, &[1, shape[0]])
            });
            Dense { weight, bias }
        };
        let [att_in, att_query, att_out, mlp_in, mlp_out] = DENSE_LAYERS_BIAS.map(&mut dense);
        let skip = if config.diagonal_skip {
            let (g, shape) = next();
            Skip::Gates(tensor(g, &[1, shape[0], shape[1]]))
        } else {
            Skip::Dense(dense(false))
        };
        TowerNet {
            dim: d,
            heads: config.heads,
            width: config.attention_hidden,
            memory: config.memory > 0,
            slot_table,
            slot_rows: (KINDS, config.recency_buckets),
            position,
            att_in,
            att_query,
            att_out,
            mlp_in,
            mlp_out,
            skip,
        }
    }

    /// `items`: the item vectors of the batch's slots, `batch × slots × d` row-major; `memory`:
    /// each history's memory vector (`batch × d`), required by a tower with a memory and ignored
    /// otherwise. Returns the unit user vectors (`batch × d`) and, with `attention`, each slot's
    /// weight per head (`batch × slots × heads`; 0 on padding).
    ///
    /// # Panics
    ///
    /// If the lengths do not match the batch, a slot's kind or bucket is beyond the tower's tables,
    /// or a tower with a memory is given none (the callers build all three from the same config).
    pub fn forward(
        &self,
        items: Vec<f32>,
        memory: Option<Vec<f32>>,
        batch: &HistoryBatch,
        attention: bool,
    ) -> (Vec<f32>, Vec<f32>) {
        let (b, n, d, h) = (batch.batch, batch.slots, self.dim, self.heads);
        assert_eq!(items.len(), b * n * d, "one item vector per slot");
        // Each slot's input: its item vector + its kind's and its bucket's rows + its position's.
        let (kinds, buckets) = self.slot_rows;
        let width = kinds + buckets;
        let mut twohot = vec![0f32; b * n * width];
        for (slot, (&k, &r)) in batch.kinds.iter().zip(&batch.recency).enumerate() {
            assert!(k < kinds && r < buckets, "history encoded for another tower");
            twohot[slot * width + k] = 1.0;
            twohot[slot * width + kinds + r] = 1.0;
        }
        let context = B::float_matmul(tensor(twohot, &[b * n, width]), self.slot_table.clone());
        let slots = B::float_reshape(B::float_add(tensor(items, &[b * n, d]), context), Shape::new([b, n, d]));
        let position = B::float_reshape(
            B::float_slice(self.position.clone(), &[Slice::from(0..n), Slice::from(0..d)]),
            Shape::new([1, n, d]),
        );
        let slots = B::float_add(slots, position); // [B, N, d]
        let flat = B::float_reshape(slots.clone(), Shape::new([b * n, d]));
        // Attention pooling; the newest slot (slot 0) asks the question.
        let newest = B::float_reshape(
            B::float_slice(slots.clone(), &[Slice::from(0..b), Slice::from(0..1), Slice::from(0..d)]),
            Shape::new([b, d]),
        );
        let query = self.att_query.forward(newest);
        let a = self.width;
        let hidden = B::float_reshape(self.att_in.forward(flat), Shape::new([b, n, a]));
        let hidden = B::float_add(hidden, B::float_reshape(query, Shape::new([b, 1, a])));
        let hidden = B::float_reshape(B::float_tanh(hidden), Shape::new([b * n, a]));
        let scores = B::float_reshape(self.att_out.forward(hidden), Shape::new([b, n, h]));
        let mask = tensor(batch.mask.clone(), &[b, n, 1]);
        let weights = softmax_slots(B::float_add(scores, mask), [b, n, h]); // [B, N, H]
        let pooled = B::float_matmul(B::float_swap_dims(weights.clone(), 1, 2), slots); // [B, H, d]
        let mut pooled = B::float_reshape(pooled, Shape::new([b, h * d]));
        let mut p = h;
        if self.memory {
            let memory = memory.expect("this tower reads a memory vector and none was given");
            assert_eq!(memory.len(), b * d, "one memory vector per history");
            pooled = B::float_cat(vec![pooled, tensor(memory, &[b, d])], 1);
            p += 1;
        }
        let mlp = self.mlp_out.forward(B::gelu(self.mlp_in.forward(pooled.clone())));
        let skip = match &self.skip {
            Skip::Dense(dense) => dense.forward(pooled),
            Skip::Gates(gates) => {
                let gated = B::float_mul(B::float_reshape(pooled, Shape::new([b, p, d])), gates.clone());
                B::float_reshape(B::float_sum_dim(gated, 1), Shape::new([b, d]))
            }
        };
        let out = B::float_add(mlp, skip);
        // Rows scaled to unit length (a zero row stays zero), as `user_tower::l2_normalize`.
        let norm = B::float_sqrt(B::float_sum_dim(B::float_mul(out.clone(), out.clone()), 1));
        let out = B::float_div(out, B::float_clamp_min(norm, 1e-12f32.into()));
        (values(out), if attention { values(weights) } else { Vec::new() })
    }
}

/// Softmax over the slots (dim 1) of `[B, N, H]` scores, as Burn's (`ActivationOps::softmax`):
/// each (history, head) shifted by its largest score, exponentiated and normalised. The shifts are
/// found on the values read back (B × N × H numbers): the backend's `max_dim` goes through an
/// argmax and a gather instantiated for every index type, which the package would carry for this
/// one maximum.
fn softmax_slots(scores: T, [b, n, h]: [usize; 3]) -> T {
    let values = values(scores.clone());
    let mut max = vec![f32::NEG_INFINITY; b * h];
    for (i, v) in values.iter().enumerate() {
        let m = &mut max[(i / (n * h)) * h + i % h];
        *m = m.max(*v);
    }
    let exp = B::float_exp(B::float_sub(scores, tensor(max, &[b, 1, h])));
    B::float_div(exp.clone(), B::float_sum_dim(exp, 1))
}
