//! The recommendation model, in Burn: the [`UserTower`] that runs in the browser, the item tower
//! that only the trainer runs, and the history encoding both sides share ([`features`]).
//!
//! Inference goes through [`UserModel`]: a tower rebuilt from its config (`tower.json`) and its
//! weights (`tower.bpk`, Burn's burnpack format), which embeds a history against a [`Catalog`].
//! The trainer (feature `train`) builds the same `UserTower` type, so there is no conversion step
//! between what was trained and what runs.

pub mod features;
pub mod item_tower;
pub mod user_tower;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
pub use features::{encode_history, encode_history_into, EncodeScratch, EncodedHistory, Event, HistoryConfig, Kind};
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

/// The contents of `tower.json`: what to build before loading `tower.bpk`, and a self-check.
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
    /// Catalogue rows, kinds (0 view, 1 cart, 2 purchase) and times in seconds, oldest first.
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
    tower: UserTower,
    device: Device,
    encoded: EncodedHistory,
    scratch: EncodeScratch,
    gathered: Vec<f32>,
}

impl UserModel {
    /// Rebuilds the tower from `tower.json` and `tower.bpk`.
    pub fn from_bytes(tower_json: &[u8], weights: &[u8]) -> Result<UserModel> {
        let file = TowerFile::from_json(tower_json)?;
        let device = inference_device();
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| Error::InvalidWeights(e.to_string()))?;
        let tower =
            file.config.init(&device).try_load_record(record).map_err(|e| Error::InvalidWeights(e.to_string()))?;
        Ok(Self::from_tower(file, tower, device))
    }

    /// Wraps a tower already in memory (the trainer's).
    pub fn from_tower(file: TowerFile, tower: UserTower, device: Device) -> UserModel {
        UserModel {
            file,
            tower,
            device,
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

    pub fn tower(&self) -> &UserTower {
        &self.tower
    }

    /// The history as the tower will read it.
    pub fn encode(&mut self, events: &[Event]) -> Result<&EncodedHistory> {
        encode_history_into(events, &self.file.config.history(), &mut self.encoded, &mut self.scratch)?;
        Ok(&self.encoded)
    }

    /// The unit user vector for a history of catalogue rows (see [`features`] for the encoding).
    pub fn embed(&mut self, catalog: &Catalog, events: &[Event]) -> Result<Vec<f32>> {
        let dim = self.file.config.dim;
        if catalog.dim() != dim {
            return Err(Error::TowerCatalogMismatch { tower: dim, catalogue: catalog.dim() });
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
        let items = Tensor::<3>::from_data(TensorData::new(self.gathered.clone(), [1, batch.slots, dim]), &self.device);
        let memory = self.memory(&batch, |row| catalog.vector(row));
        let out = tensor_to_vec(self.tower.forward(items, memory, &batch));
        if out.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteEmbedding);
        }
        Ok(out)
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
            let items =
                Tensor::<3>::from_data(TensorData::new(gathered, [batch.batch, batch.slots, dim]), &self.device);
            let memory = self.memory(&batch, |r| &table[r as usize * dim..(r as usize + 1) * dim]);
            let emb = tensor_to_vec(self.tower.forward(items, memory, &batch));
            for (j, &i) in chunk.iter().enumerate() {
                out[i * dim..(i + 1) * dim].copy_from_slice(&emb[j * dim..(j + 1) * dim]);
            }
        }
        out
    }

    /// The batch's memory vectors, when the tower reads a memory.
    fn memory<V: AsRef<[f32]>>(&self, batch: &HistoryBatch, vector: impl Fn(u32) -> V) -> Option<Tensor<2>> {
        let dim = self.file.config.dim;
        (self.file.config.memory > 0).then(|| {
            Tensor::from_data(TensorData::new(batch.memory_vectors(dim, vector), [batch.batch, dim]), &self.device)
        })
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
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor data")
}

/// The tower's weights as burnpack bytes.
pub fn tower_weights(tower: UserTower) -> Result<Vec<u8>> {
    let bytes = tower.into_record().into_bytes().map_err(|e| Error::InvalidWeights(e.to_string()))?;
    Ok(bytes.to_vec())
}
