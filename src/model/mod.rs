//! The recommendation model, in Burn: the [`UserTower`] that runs in the browser, the item tower
//! that only the trainer runs, and the history encoding both sides share ([`features`]).
//!
//! Inference goes through [`UserModel`]: a tower rebuilt from its config (`tower.json`) and its
//! weights (`tower.bin`, below), which embeds a history against a [`Catalog`]. The trainer (feature
//! `train`) builds the same `UserTower` type, so there is no conversion step between what was
//! trained and what runs.
//!
//! # `tower.bin`
//!
//! The weights are a plain list of tensors, little-endian, written by [`tower_weights`]:
//!
//! ```text
//! magic     4 bytes   b"LRTW"
//! version   u32       1 (WEIGHTS_VERSION: f32 values) or 2 (WEIGHTS_VERSION_F16: IEEE half values)
//! count     u32       n tensors (at most MAX_WEIGHT_TENSORS)
//! n times:  u32 rank (at most MAX_WEIGHT_RANK), then rank × u32 dims
//! values    f32 or f16 × Σ product(dims): every tensor's values, in the same order, row-major
//! ```
//!
//! The trainer ships the tower with its weights rounded to half precision (`TrainConfig::tower_f16`,
//! evaluated and self-checked as rounded), and the writer then stores them as halves: the same
//! values in half the bytes. Any other tower is written in f32.
//!
//! The file's length must be exactly what the header describes. Tensors come in the order in
//! which Burn's `Module::visit` and `Module::map` reach the float parameters of [`UserTower`]
//! (field order: the kind, recency and position embeddings, the attention, the MLP, the skip or
//! the gates); `tower.json` says which architecture they belong to and the file carries no names.
//! The reader ([`UserModel::from_bytes`]) validates the whole file before building anything
//! (magic, version, a bounded count and rank, the sizes in checked `u64` arithmetic so that a
//! hostile header neither overflows a 32-bit `usize` nor allocates, the exact length, finite values),
//! then checks the tensors against the shapes the config gives ([`UserTowerConfig::param_shapes`]:
//! their number, then each shape) and builds the tower from them directly
//! ([`UserTower::from_params`]), without Burn's random initialisers, which the browser build then
//! does not link. Any mismatch is [`Error::InvalidWeights`], never a panic.
//!
//! This replaced Burn's own weight files, whose reader (a CBOR header parser and dtype
//! conversions) took about 138 KB of the wasm before wasm-opt.

pub mod features;
pub mod infer;
/// The trainer's item tower (titles and categories to item vectors): trainer-only, not in the
/// browser build.
#[cfg(feature = "train")]
pub mod item_tower;
pub mod user_tower;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
pub use features::{encode_history, encode_history_into, EncodeScratch, EncodedHistory, Event, HistoryConfig, Kind};
pub use infer::TowerNet;
#[cfg(feature = "train")]
pub use item_tower::{ItemTower, ItemTowerConfig};
pub use user_tower::{HistoryBatch, UserTower, UserTowerConfig};

/// `format` field of `tower.json`.
pub const TOWER_FORMAT: &str = "localrec-user-tower";
/// `version` of `tower.json` this build reads and writes.
pub const TOWER_VERSION: u32 = 2;
/// The oldest `tower.json` version this build still reads: version 1 predates the memory (a build
/// that reads only version 1 refuses a version-2 file with a clear message instead of mistaking its
/// weights for another architecture).
pub const OLDEST_TOWER_VERSION: u32 = 1;

/// The contents of `tower.json`: what to build before loading `tower.bin`, and a self-check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TowerFile {
    pub format: String,
    pub version: u32,
    pub config: UserTowerConfig,
    /// A history and the embedding the trainer computed for it natively (against the f32 item
    /// table). Loaders compare it to their own result to catch a mismatched or miscompiled model.
    #[serde(default)]
    pub check: Option<TowerCheck>,
}

/// See [`TowerFile::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TowerCheck {
    /// Catalog rows, kinds (0 view, 1 cart, 2 purchase) and times in seconds, oldest first.
    pub items: Vec<u32>,
    pub kinds: Vec<u8>,
    pub times: Vec<f64>,
    pub embedding: Vec<f32>,
}

impl TowerCheck {
    /// The check's history as events.
    pub fn events(&self) -> Result<Vec<Event>> {
        if self.kinds.len() != self.items.len() || self.times.len() != self.items.len() {
            return Err(Error::InvalidModelConfig("check history arrays differ in length".into()));
        }
        self.items
            .iter()
            .zip(&self.kinds)
            .zip(&self.times)
            .map(|((&item, &kind), &time)| Ok(Event { item, kind: Kind::from_code(kind)?, time }))
            .collect()
    }
}

impl TowerFile {
    /// Parses and validates `tower.json`.
    pub fn from_json(bytes: &[u8]) -> Result<TowerFile> {
        let bad = |e: serde_json::Error| Error::InvalidModelConfig(e.to_string());
        let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(bad)?;
        // Files written before the gated skip existed lack its flag: they hold a dense skip.
        if let Some(config) = value.get_mut("config").and_then(|c| c.as_object_mut()) {
            config.entry("diagonal_skip").or_insert(serde_json::Value::Bool(false));
            // ... and before the memory: none.
            config.entry("memory").or_insert(serde_json::Value::from(0));
            config.entry("memory_decay").or_insert(serde_json::Value::from(0.97));
        }
        let file: TowerFile = serde_json::from_value(value).map_err(bad)?;
        if file.format != TOWER_FORMAT {
            return Err(Error::InvalidModelConfig(format!("format is {:?}, expected {TOWER_FORMAT:?}", file.format)));
        }
        if !(OLDEST_TOWER_VERSION..=TOWER_VERSION).contains(&file.version) {
            return Err(Error::InvalidModelConfig(format!(
                "version {} (this build reads versions {OLDEST_TOWER_VERSION} to {TOWER_VERSION})",
                file.version
            )));
        }
        file.config.validate().map_err(Error::InvalidModelConfig)?;
        Ok(file)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("TowerFile serializes")
    }
}

/// The device the tower runs on: the default of the compiled Burn backend (ndarray, or flex
/// with `--no-default-features --features flex`).
pub fn inference_device() -> Device {
    Device::default()
}

/// A user tower ready for inference, with reusable scratch buffers.
#[derive(Debug)]
pub struct UserModel {
    file: TowerFile,
    net: TowerNet,
    encoded: EncodedHistory,
    scratch: EncodeScratch,
    gathered: Vec<f32>,
}

impl UserModel {
    /// Rebuilds the tower from `tower.json` and `tower.bin` (see the module docs for the format).
    /// A malformed, mis-versioned or mismatched weights file is [`Error::InvalidWeights`].
    pub fn from_bytes(tower_json: &[u8], weights: &[u8]) -> Result<UserModel> {
        let file = TowerFile::from_json(tower_json)?;
        let net = TowerNet::from_params(&file.config, read_params(&file.config, weights)?);
        Ok(Self::from_net(file, net))
    }

    /// The trainer's tower, for inference: its weights, read once (the browser's forward pass,
    /// [`TowerNet`], runs on them).
    pub fn from_tower(file: TowerFile, tower: &UserTower) -> UserModel {
        let net = TowerNet::from_params(&file.config, tower_params(tower));
        Self::from_net(file, net)
    }

    fn from_net(file: TowerFile, net: TowerNet) -> UserModel {
        UserModel {
            file,
            net,
            encoded: EncodedHistory::default(),
            scratch: EncodeScratch::default(),
            gathered: Vec::new(),
        }
    }

    pub fn config(&self) -> &UserTowerConfig {
        &self.file.config
    }

    pub fn tower_file(&self) -> &TowerFile {
        &self.file
    }

    /// The history as the tower will read it.
    pub fn encode(&mut self, events: &[Event]) -> Result<&EncodedHistory> {
        encode_history_into(events, &self.file.config.history(), &mut self.encoded, &mut self.scratch)?;
        Ok(&self.encoded)
    }

    /// The unit user vector for a history of catalog rows (see [`features`] for the encoding).
    pub fn embed(&mut self, catalog: &Catalog, events: &[Event]) -> Result<Vec<f32>> {
        Ok(self.embed_inner(catalog, events, false)?.0)
    }

    /// [`UserModel::embed`], also returning the encoded history and each slot's attention weights
    /// (`slots × heads`, row-major): the tower's view of the history, for `explain()`.
    pub fn embed_explained(
        &mut self,
        catalog: &Catalog,
        events: &[Event],
    ) -> Result<(Vec<f32>, EncodedHistory, Vec<f32>)> {
        let (out, attention) = self.embed_inner(catalog, events, true)?;
        Ok((out, self.encoded.clone(), attention))
    }

    fn embed_inner(&mut self, catalog: &Catalog, events: &[Event], attention: bool) -> Result<(Vec<f32>, Vec<f32>)> {
        let dim = self.file.config.dim;
        if catalog.dim() != dim {
            return Err(Error::TowerCatalogMismatch { tower: dim, catalog: catalog.dim() });
        }
        if let Some(e) = events.iter().find(|e| e.item as usize >= catalog.len()) {
            return Err(Error::IndexOutOfRange { index: e.item, len: catalog.len() });
        }
        encode_history_into(events, &self.file.config.history(), &mut self.encoded, &mut self.scratch)?;
        if self.encoded.is_empty() {
            return Err(Error::EmptyHistory);
        }
        self.gathered.clear();
        for &row in &self.encoded.items {
            self.gathered.extend(catalog.vector(row));
        }
        let batch = HistoryBatch::new([&self.encoded]);
        let memory = match catalog.projection() {
            // The memory is a weighted sum of item vectors: summed on the stored axes and read back
            // once, instead of reading back each of its (up to hundreds of) items.
            Some(p) if self.file.config.memory > 0 => {
                Some(p.lift(&batch.memory_vectors(catalog.stored_dim(), |row| catalog.stored_vector(row))))
            }
            _ => self.memory(&batch, |row| catalog.vector(row)),
        };
        let (out, weights) = self.net.forward(self.gathered.clone(), memory, &batch, attention);
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteEmbedding);
        }
        // One history: no padding, `slots × heads` weights.
        Ok((out, weights))
    }

    /// Embeds many encoded histories at once (evaluation): `table` is the `rows × dim` item table
    /// the histories index. Returns `histories.len() × dim` values. Empty histories give zeros.
    pub fn embed_batch(&self, table: &[f32], histories: &[EncodedHistory]) -> Vec<f32> {
        let dim = self.file.config.dim;
        let mut out = vec![0.0; histories.len() * dim];
        let nonempty: Vec<usize> = (0..histories.len()).filter(|&i| !histories[i].is_empty()).collect();
        for chunk in nonempty.chunks(256) {
            let batch = HistoryBatch::new(chunk.iter().map(|&i| &histories[i]));
            let mut gathered = Vec::with_capacity(batch.rows.len() * dim);
            for &r in &batch.rows {
                gathered.extend_from_slice(&table[r as usize * dim..(r as usize + 1) * dim]);
            }
            let memory = self.memory(&batch, |r| &table[r as usize * dim..(r as usize + 1) * dim]);
            let emb = self.net.forward(gathered, memory, &batch, false).0;
            for (j, &i) in chunk.iter().enumerate() {
                out[i * dim..(i + 1) * dim].copy_from_slice(&emb[j * dim..(j + 1) * dim]);
            }
        }
        out
    }

    /// The batch's memory vectors, when the tower reads a memory.
    fn memory<V: AsRef<[f32]>>(&self, batch: &HistoryBatch, vector: impl Fn(u32) -> V) -> Option<Vec<f32>> {
        (self.file.config.memory > 0).then(|| batch.memory_vectors(self.file.config.dim, vector))
    }

    /// Runs the tower's self-check ([`TowerFile::check`]) against `catalog` (the f32 item table
    /// it was written with); returns the largest absolute difference, or `None` without a check.
    pub fn self_check(&mut self, catalog: &Catalog) -> Result<Option<f32>> {
        let Some(check) = self.file.check.clone() else { return Ok(None) };
        let got = self.embed(catalog, &check.events()?)?;
        if got.len() != check.embedding.len() {
            return Err(Error::LengthMismatch {
                what: "check embedding",
                expected: check.embedding.len(),
                got: got.len(),
            });
        }
        Ok(Some(got.iter().zip(&check.embedding).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)))
    }
}

/// A float tensor's values, row-major.
///
/// # Panics
///
/// If the tensor is not f32 (every tensor of this crate is: the device's default float type). No
/// conversion, so that Burn's dtype casts are not linked from here.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor data")
}

/// Magic bytes at the start of `tower.bin`.
pub const WEIGHTS_MAGIC: [u8; 4] = *b"LRTW";
/// Version of the `tower.bin` layout this build reads and writes.
pub const WEIGHTS_VERSION: u32 = 1;
/// Version of the `tower.bin` layout with IEEE half-precision values (otherwise the same).
pub const WEIGHTS_VERSION_F16: u32 = 2;
/// Most tensors a `tower.bin` may list (a tower has 13).
pub const MAX_WEIGHT_TENSORS: u32 = 64;
/// Highest tensor rank a `tower.bin` may hold (a tower's tensors have rank 1 or 2).
pub const MAX_WEIGHT_RANK: u32 = 4;

fn bad_weights(msg: String) -> Error {
    Error::InvalidWeights(msg)
}

/// One tensor of a validated `tower.bin`: its shape and where its values start.
struct WeightTensor {
    rank: usize,
    dims: [usize; MAX_WEIGHT_RANK as usize],
    /// Byte offset of the first value, the number of values and the bytes of one (4 or 2).
    start: usize,
    len: usize,
    size: usize,
}

impl WeightTensor {
    fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
}

/// Parses and validates the whole of a `tower.bin` (header, exact length, finite values) without
/// building anything. Sizes are computed in `u64` with checked arithmetic, so a hostile header can
/// neither overflow (32-bit `usize` on wasm32 included) nor make the caller allocate.
fn parse_weights(bytes: &[u8]) -> Result<Vec<WeightTensor>> {
    if !bytes.starts_with(&WEIGHTS_MAGIC) {
        return Err(bad_weights(if WEIGHTS_MAGIC.starts_with(bytes) {
            format!("tower.bin is truncated: {} bytes, the header alone needs 12", bytes.len())
        } else {
            "not a localrec weights file (tower.bin): bad magic".into()
        }));
    }
    let mut pos = 4usize;
    let mut word = |what: &dyn core::fmt::Display| -> Result<u32> {
        let b = bytes
            .get(pos..pos + 4)
            .ok_or_else(|| bad_weights(format!("tower.bin is truncated: {} bytes, ends inside {what}", bytes.len())))?;
        pos += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let version = word(&"the format version")?;
    let size: u64 = match version {
        WEIGHTS_VERSION => 4,
        WEIGHTS_VERSION_F16 => 2,
        _ => {
            return Err(bad_weights(format!(
                "tower.bin format version {version} (this build reads versions {WEIGHTS_VERSION} and {WEIGHTS_VERSION_F16})"
            )))
        }
    };
    let count = word(&"the tensor count")?;
    if count > MAX_WEIGHT_TENSORS {
        return Err(bad_weights(format!("tower.bin lists {count} tensors (at most {MAX_WEIGHT_TENSORS})")));
    }
    // (rank, dims, values) of each tensor; values in u64 until the length check bounds them.
    let mut shapes: Vec<(usize, [usize; MAX_WEIGHT_RANK as usize], u64)> = Vec::with_capacity(count as usize);
    let mut total = 0u64;
    for i in 0..count {
        let rank = word(&format_args!("the rank of tensor {i}"))?;
        if rank > MAX_WEIGHT_RANK {
            return Err(bad_weights(format!("tensor {i} of tower.bin has rank {rank} (at most {MAX_WEIGHT_RANK})")));
        }
        let mut dims = [0usize; MAX_WEIGHT_RANK as usize];
        let mut values = 1u64;
        for (k, d) in dims.iter_mut().take(rank as usize).enumerate() {
            let dim = word(&format_args!("dimension {k} of tensor {i}"))?;
            // u32 -> usize is lossless on every target this crate builds for (32 and 64 bit).
            *d = dim as usize;
            values = values
                .checked_mul(u64::from(dim))
                .ok_or_else(|| bad_weights(format!("tensor {i} of tower.bin has an impossibly large shape")))?;
        }
        total = total
            .checked_add(values)
            .ok_or_else(|| bad_weights(format!("tensor {i} of tower.bin has an impossibly large shape")))?;
        shapes.push((rank as usize, dims, values));
    }
    let expected = total.checked_mul(size).and_then(|b| b.checked_add(pos as u64));
    if expected != Some(bytes.len() as u64) {
        let described = expected.map_or("more than 2^64".to_string(), |e| e.to_string());
        return Err(bad_weights(format!(
            "tower.bin is {} bytes, its header describes {described} ({} tensors, {total} values)",
            bytes.len(),
            count
        )));
    }
    // From here every size fits in `usize`: the values lie within `bytes`.
    let mut tensors = Vec::with_capacity(shapes.len());
    for (i, (rank, dims, values)) in shapes.into_iter().enumerate() {
        let (start, len) = (pos, values as usize);
        let data = bytes.get(start..start + size as usize * len).unwrap_or(&[]);
        if let Some((j, v)) = values_of(data, size as usize).enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(bad_weights(format!("value {j} of tensor {i} of tower.bin is {v}")));
        }
        pos = start + size as usize * len;
        tensors.push(WeightTensor { rank, dims, start, len, size: size as usize });
    }
    Ok(tensors)
}

/// The values of `data`, `size` bytes each (4: f32, 2: IEEE half).
fn values_of(data: &[u8], size: usize) -> impl Iterator<Item = f32> + '_ {
    data.chunks_exact(size).map(move |b| {
        if size == 2 {
            crate::codec::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
        } else {
            le_f32(b)
        }
    })
}

fn le_f32(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The parameter values of a `tower.bin`, in [`UserTowerConfig::param_shapes`] order: the file's
/// tensors must be those the config describes, in number and shape.
fn read_params(config: &UserTowerConfig, weights: &[u8]) -> Result<Vec<Vec<f32>>> {
    let tensors = parse_weights(weights)?;
    let shapes = config.param_shapes();
    if tensors.len() != shapes.len() {
        return Err(bad_weights(format!(
            "tower.bin holds {} tensors, the tower described by tower.json has {}",
            tensors.len(),
            shapes.len()
        )));
    }
    if let Some((i, (t, shape))) = tensors.iter().zip(&shapes).enumerate().find(|(_, (t, s))| t.dims() != s.as_slice())
    {
        return Err(bad_weights(format!(
            "tensor {i} of tower.bin has shape {:?}, the tower described by tower.json expects {:?}",
            t.dims(),
            shape.as_slice()
        )));
    }
    let mut params = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        let values: Vec<f32> =
            values_of(weights.get(t.start..t.start + t.size * t.len).unwrap_or(&[]), t.size).collect();
        if values.len() != t.len {
            return Err(bad_weights(format!("tensor {i} of tower.bin lies outside the file")));
        }
        params.push(values);
    }
    Ok(params)
}

/// The Burn module of a `tower.bin` (the trainer's and the tests' view of it; the browser runs
/// [`TowerNet`]), built without any random initialiser ([`UserTower::from_params`]).
#[cfg(feature = "fixtures")]
pub fn load_user_tower(tower_json: &[u8], weights: &[u8], device: &Device) -> Result<UserTower> {
    let file = TowerFile::from_json(tower_json)?;
    let shapes = file.config.param_shapes();
    let params = read_params(&file.config, weights)?
        .into_iter()
        .zip(shapes)
        .map(|(v, s)| burn::tensor::TensorData::new(v, s))
        .collect();
    Ok(UserTower::from_params(&file.config, params, device))
}

/// The tower's float parameters, in [`Module::visit`] order (that of `tower.bin`), each row-major.
pub fn tower_params(tower: &UserTower) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(tensor_to_vec(param.val()));
        }
    }
    let mut c = Collect(Vec::new());
    tower.visit(&mut c);
    c.0
}

/// Collects the float parameters, in [`Module::visit`] order, as `tower.bin` header and values.
#[derive(Default)]
struct WeightWriter {
    count: u32,
    header: Vec<u8>,
    values: Vec<f32>,
    error: Option<String>,
}

impl ModuleVisitor for WeightWriter {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let i = self.count;
        self.count += 1;
        let tensor = param.val();
        let dims = tensor.dims();
        if D as u32 > MAX_WEIGHT_RANK || dims.iter().any(|&d| u32::try_from(d).is_err()) {
            self.error.get_or_insert(format!("tensor {i} has shape {dims:?}, beyond what tower.bin holds"));
        }
        self.header.extend((D as u32).to_le_bytes());
        for d in dims {
            self.header.extend((d as u32).to_le_bytes());
        }
        for v in tensor_to_vec(tensor) {
            if !v.is_finite() {
                self.error.get_or_insert(format!("tensor {i} holds the non-finite value {v}"));
            }
            self.values.push(v);
        }
    }
}

/// The tower's weights as `tower.bin` bytes (see the module docs for the layout): as halves when
/// every weight is exactly a half (a tower rounded by [`round_to_f16`]), else as f32.
pub fn tower_weights(tower: UserTower) -> Result<Vec<u8>> {
    let mut writer = WeightWriter::default();
    tower.visit(&mut writer);
    if let Some(e) = writer.error {
        return Err(bad_weights(e));
    }
    if writer.count > MAX_WEIGHT_TENSORS {
        return Err(bad_weights(format!(
            "the tower has {} tensors, tower.bin holds at most {MAX_WEIGHT_TENSORS}",
            writer.count
        )));
    }
    let half = writer.values.iter().all(|&v| crate::codec::is_f16(v));
    let mut out = Vec::with_capacity(12 + writer.header.len() + writer.values.len() * if half { 2 } else { 4 });
    out.extend(WEIGHTS_MAGIC);
    out.extend(if half { WEIGHTS_VERSION_F16 } else { WEIGHTS_VERSION }.to_le_bytes());
    out.extend(writer.count.to_le_bytes());
    out.extend(writer.header);
    for v in writer.values {
        if half {
            out.extend(crate::codec::f32_to_f16(v).to_le_bytes());
        } else {
            out.extend(v.to_le_bytes());
        }
    }
    Ok(out)
}

/// The tower with every weight rounded to the nearest IEEE half: what the trainer ships
/// ([`tower_weights`] then writes it in half the bytes, losslessly). Rebuilt without an
/// initialiser, on `device`.
#[cfg(feature = "fixtures")]
pub fn round_to_f16(config: &UserTowerConfig, tower: &UserTower, device: &Device) -> UserTower {
    let params = tower_params(tower)
        .into_iter()
        .zip(config.param_shapes())
        .map(|(v, shape)| {
            let v = v.into_iter().map(|x| crate::codec::f16_to_f32(crate::codec::f32_to_f16(x))).collect::<Vec<_>>();
            burn::tensor::TensorData::new(v, shape)
        })
        .collect();
    UserTower::from_params(config, params, device)
}
