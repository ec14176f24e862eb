//! What a page asks the loader for, as a type: the item table's precision, how the ranking stage is
//! loaded, whether a pq table's refine plane follows, and the device class that `'auto'` goes by.
//! The roles of the files to fetch are resolved here, the one place (the JS package passes the
//! app's options and the browser's device hints, and gets roles back); the role expressions the
//! manifest resolves (`a|b` alternatives, `x<=N` size limits) never leave Rust.
//!
//! Device class, as native apps ship variants per device: with Data Saver on, or at most 2 GB of
//! device memory (`navigator.connection.saveData`, `navigator.deviceMemory`: Chromium only,
//! elsewhere absent), the compact item tables come first (pq, then pca: 64 bytes an item at 384
//! dimensions each), and neither a refine plane nor a ranking stage above `autoStageBytes` is fetched
//! unless the app asks (`refine: 'always'`, `ranking: 'progressive'`); else int8 first. f32 last. Large catalogs ship no int8 (the exporter leaves it out from 50,000
//! items), so there every device loads a compact table.

use crate::error::{Error, Result};
use crate::manifest::{self, FileEntry, Manifest};

/// `ranking: 'auto'` attaches a cached ranking stage before the first answer up to this size (about
/// 0.3 s at 100 Mbit/s, a catalog of some 30,000 items), and behind the first answer above it.
pub const AUTO_STAGE_BYTES: u64 = 4 * 1024 * 1024;
/// `refine: 'auto'` loads a pq table's refine plane up to this size (32 MiB: about 500,000 items at
/// 384 dimensions).
pub const REFINE_AUTO_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The item table asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// By device class (see the module docs).
    Auto,
    Int8,
    Pca,
    Pq,
    F32,
}

/// How the ranking stage is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// Never before the first answer of a first visit: the tower answers at once and the stage
    /// follows, downloaded behind it and cached under its own record. On a later visit a cached
    /// stage of at most `auto_stage_bytes` is attached before the first answer (from the cache:
    /// no request), so a returning visitor's first answer is already two-stage; a larger one, or
    /// one not cached yet, follows the first answer again.
    Auto,
    /// With the tower's files, always.
    TwoStage,
    /// Never: the tower alone.
    Tower,
    /// Behind the first answer, always.
    Progressive,
}

/// Whether a pq table's refine plane follows the first answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refine {
    /// Unless the device is constrained or the plane is above [`REFINE_AUTO_MAX_BYTES`].
    Auto,
    Always,
    Never,
}

/// What the browser says of the device (absent hints read as an unconstrained device).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DeviceClass {
    /// `navigator.connection.saveData`.
    pub save_data: bool,
    /// `navigator.deviceMemory`, in GB.
    pub memory_gb: Option<f64>,
}

impl DeviceClass {
    /// Data Saver on, or at most 2 GB of memory.
    pub fn constrained(&self) -> bool {
        self.save_data || self.memory_gb.is_some_and(|m| m <= 2.0)
    }
}

/// See the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileRequest {
    pub precision: Precision,
    pub ranking: Ranking,
    pub refine: Refine,
    pub auto_stage_bytes: u64,
    pub device: DeviceClass,
}

impl Default for FileRequest {
    fn default() -> Self {
        FileRequest {
            precision: Precision::Auto,
            ranking: Ranking::Auto,
            refine: Refine::Auto,
            auto_stage_bytes: AUTO_STAGE_BYTES,
            device: DeviceClass::default(),
        }
    }
}

fn pick<T: Copy>(what: &str, name: Option<&str>, choices: &[(&str, T)], default: T) -> Result<T> {
    let Some(name) = name else { return Ok(default) };
    choices.iter().find(|(n, _)| *n == name).map(|&(_, v)| v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        Error::InvalidArgument(format!("{what} must be one of {}, got {name:?}", names.join(", ")))
    })
}

impl FileRequest {
    /// A request from the app's option names (`None`: the default), checked: an unknown name or a
    /// size that is not a whole number of bytes is an [`Error::InvalidArgument`].
    pub fn parse(
        precision: Option<&str>,
        ranking: Option<&str>,
        refine: Option<&str>,
        auto_stage_bytes: Option<f64>,
        device: DeviceClass,
    ) -> Result<FileRequest> {
        use Precision as P;
        let precision = pick(
            "precision",
            precision,
            &[("auto", P::Auto), ("int8", P::Int8), ("pca", P::Pca), ("pq", P::Pq), ("f32", P::F32)],
            P::Auto,
        )?;
        let ranking = pick(
            "ranking",
            ranking,
            &[
                ("auto", Ranking::Auto),
                ("two-stage", Ranking::TwoStage),
                ("tower", Ranking::Tower),
                ("progressive", Ranking::Progressive),
            ],
            Ranking::Auto,
        )?;
        let refine = pick(
            "refine",
            refine,
            &[("auto", Refine::Auto), ("always", Refine::Always), ("never", Refine::Never)],
            Refine::Auto,
        )?;
        let auto_stage_bytes = match auto_stage_bytes {
            None => AUTO_STAGE_BYTES,
            Some(b) if b.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&b) => b as u64,
            Some(b) => {
                return Err(Error::InvalidArgument(format!("autoStageBytes must be a whole number of bytes, got {b}")))
            }
        };
        Ok(FileRequest { precision, ranking, refine, auto_stage_bytes, device })
    }

    /// The item tables to try, best first.
    pub fn tables(&self) -> &'static [&'static str] {
        match self.precision {
            Precision::Int8 => &["int8"],
            Precision::Pca => &["pca"],
            Precision::Pq => &["pq"],
            Precision::F32 => &["f32"],
            Precision::Auto if self.device.constrained() => &["pq", "pca", "int8", "f32"],
            Precision::Auto => &["int8", "pq", "pca", "f32"],
        }
    }

    /// Every file of the model, the ranking stage included: tower config, tower weights, item table
    /// (the first of [`FileRequest::tables`] the manifest lists), item metadata, ranking stage. What
    /// a shadow variant loads (it is never shown, so nothing of it is loaded behind).
    pub fn full_roles(&self) -> Vec<String> {
        let tables = self.tables();
        let roles = manifest::roles_for(tables[0]).expect("a known precision");
        let items: Vec<&str> = tables.iter().map(|t| manifest::roles_for(t).expect("a known precision")[2]).collect();
        vec![roles[0].into(), roles[1].into(), items.join("|"), roles[3].into(), roles[4].into()]
    }

    /// The files the first answer waits for: [`FileRequest::full_roles`], with the ranking stage
    /// only for `'two-stage'` (`'auto'` and `'progressive'` load it behind the first answer, `'tower'`
    /// never).
    pub fn roles(&self) -> Vec<String> {
        let mut roles = self.full_roles();
        if self.ranking != Ranking::TwoStage {
            roles.pop();
        }
        roles
    }

    /// The ranking stage's role when it may follow the first answer (`'auto'` and `'progressive'`),
    /// if `manifest` ships one. On a constrained device (Data Saver, at most 2 GB) `'auto'` never
    /// downloads a stage above `auto_stage_bytes` (at 100,000 items it is 13 MB): the tower answers
    /// alone unless the app asks for the stage (`'progressive'`, `'two-stage'`).
    pub fn stage_behind(&self, manifest: &Manifest) -> Option<&'static str> {
        let e = entry(manifest, manifest::ROLE_RANKER)?;
        let behind = match self.ranking {
            Ranking::Progressive => true,
            Ranking::Auto => !self.device.constrained() || e.bytes <= self.auto_stage_bytes,
            Ranking::TwoStage | Ranking::Tower => false,
        };
        behind.then_some(manifest::ROLE_RANKER)
    }

    /// Whether a ranking stage that is already cached should be attached before the first answer
    /// (`'auto'`, a stage of at most `auto_stage_bytes`): a returning visitor's first answer is then
    /// the one the full model gives. Not cached (a first visit), it follows the first answer.
    pub fn stage_first_if_cached(&self, manifest: &Manifest) -> bool {
        self.ranking == Ranking::Auto
            && entry(manifest, manifest::ROLE_RANKER).is_some_and(|e| e.bytes <= self.auto_stage_bytes)
    }

    /// The refine plane's role when it should follow the first answer over a table of `precision`
    /// (only pq has one), if `manifest` ships one and the request and device allow it.
    pub fn refine_behind(&self, manifest: &Manifest, precision: &str) -> Option<&'static str> {
        if precision != "pq" || self.refine == Refine::Never {
            return None;
        }
        let e = entry(manifest, manifest::ROLE_ITEMS_PQ_REFINE)?;
        if self.refine == Refine::Auto && (self.device.constrained() || e.bytes > REFINE_AUTO_MAX_BYTES) {
            return None;
        }
        Some(manifest::ROLE_ITEMS_PQ_REFINE)
    }
}

/// The entry of a base role (any variant's: `role@variant` counts).
fn entry<'a>(manifest: &'a Manifest, role: &str) -> Option<&'a FileEntry> {
    manifest.files.iter().find(|f| f.role.split('@').next() == Some(role))
}
