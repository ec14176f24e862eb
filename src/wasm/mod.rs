//! The JavaScript binding: the only `#[wasm_bindgen]` code in the crate. Each export wraps a core type
//! and converts [`crate::Error`] to a JS `Error` once, at the edge; nothing here panics on bad input.

use std::rc::Rc;

use js_sys::{Float32Array, Int8Array, Uint32Array};
use wasm_bindgen::prelude::*;

use crate::catalog::{synthetic, Catalog, Vectors};
use crate::rank::{Kernel, Query, TopK};

pub mod cache;
pub mod history;
pub mod idb;
pub mod session;
pub mod sync;
mod wait;

pub use cache::JsFileCache;
pub use history::{JsHistoryStore, JsVisitorHistory};

type JsResult<T> = Result<T, JsValue>;

/// What a failed export throws: a JS `Error` named `LocalRecError` with a machine-readable `code`
/// ([`crate::Error::code`]). Core errors convert with `?`, once, at the edge.
#[derive(Debug)]
pub struct BindingError(JsValue);

impl From<crate::Error> for BindingError {
    fn from(e: crate::Error) -> Self {
        BindingError(js_err(e))
    }
}

impl From<JsValue> for BindingError {
    fn from(v: JsValue) -> Self {
        BindingError(v)
    }
}

impl From<BindingError> for JsValue {
    fn from(e: BindingError) -> Self {
        e.0
    }
}

/// Runs when the module is instantiated: a panic (a bug: bad input is an error, never a panic)
/// logs its message and location to the console instead of a bare `unreachable`.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A Rust value as a plain JS value (objects, not `Map`s).
fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> crate::Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| crate::Error::InvalidArgument(format!("cannot convert to a JS value: {e}")))
}

/// A plain JS object with these fields.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> js_sys::Object {
    let o = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// The rules the JS package reads instead of restating them: interaction kinds (canonical names),
/// history bounds (defaults and the cap), the error codes, the history export format, and the
/// roles of the files loaded for each precision (`roles.int8`, `roles.pca`, `roles.pq`, `roles.f32`: tower config, tower
/// weights, item table, item metadata).
#[wasm_bindgen(js_name = rules)]
pub fn rules() -> JsResult<JsValue> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Rules {
        kinds: [&'static str; 3],
        default_max_events: usize,
        max_events: usize,
        default_max_age_days: f64,
        error_codes: &'static [&'static str],
        history_format: &'static str,
        history_version: u32,
        roles: Roles,
        /// The pq table's refine plane, loaded behind the first answer.
        pq_refine_role: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Roles {
        int8: [&'static str; 5],
        f32: [&'static str; 5],
        pq: [&'static str; 5],
        pca: [&'static str; 5],
    }
    let roles = |p: &str| crate::manifest::roles_for(p).expect("a known precision");
    use crate::model::Kind;
    to_js(&Rules {
        kinds: [Kind::View.name(), Kind::Cart.name(), Kind::Purchase.name()],
        default_max_events: crate::history::DEFAULT_MAX_EVENTS,
        max_events: crate::history::MAX_EVENTS,
        default_max_age_days: crate::history::DEFAULT_MAX_AGE_DAYS,
        error_codes: crate::ERROR_CODES,
        history_format: crate::history::EXPORT_FORMAT,
        history_version: crate::history::EXPORT_VERSION,
        roles: Roles { int8: roles("int8"), f32: roles("f32"), pq: roles("pq"), pca: roles("pca") },
        pq_refine_role: crate::manifest::ROLE_ITEMS_PQ_REFINE,
    })
    .map_err(js_err)
}

/// Validates a manifest (its JSON text) and returns the file entries of `roles`, in that order
/// (`{ name, role, bytes, sha256, deltas? }`). Throws `invalid-manifest` naming the problem (see
/// `crate::manifest`).
#[wasm_bindgen(js_name = checkManifest)]
pub fn check_manifest(json: &str, roles: Vec<String>) -> JsResult<JsValue> {
    let manifest = crate::manifest::Manifest::parse(json.as_bytes()).map_err(js_err)?;
    let entries = manifest.entries(&roles).map_err(js_err)?;
    to_js(&entries).map_err(js_err)
}

/// Canonical name of an interaction kind given by name or alias (`"add_to_cart"` -> `"cart"`);
/// throws `invalid-query` for an unknown kind.
#[wasm_bindgen(js_name = kindName)]
pub fn kind_name(kind: &str) -> JsResult<String> {
    Ok(crate::model::Kind::from_name(kind).map_err(js_err)?.name().to_owned())
}

/// A JS `Error` named `LocalRecError` with a machine-readable `code` (see [`crate::Error::code`]).
fn error_with_code(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("LocalRecError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

fn js_err(e: crate::Error) -> JsValue {
    error_with_code(e.code(), &e.to_string())
}

/// Bad arguments from JavaScript (wrong lengths, unknown names): code `invalid-argument`.
fn bad_input(message: &str) -> JsValue {
    error_with_code("invalid-argument", message)
}

/// A `Uint8Array` read by the catalog decoder a section at a time (`subarray` + `copy_to`).
struct JsBytes<'a>(&'a js_sys::Uint8Array);

impl crate::catalog::format::Source for JsBytes<'_> {
    fn len(&self) -> u64 {
        u64::from(self.0.length())
    }
    fn read_at(&self, at: u64, out: &mut [u8]) {
        self.0.subarray(at as u32, (at + out.len() as u64) as u32).copy_to(out);
    }
}

/// An item-embedding table, decoded and validated.
#[wasm_bindgen(js_name = Catalog)]
pub struct JsCatalog {
    inner: Rc<Catalog>,
}

#[wasm_bindgen(js_class = Catalog)]
impl JsCatalog {
    /// Decodes a catalog file (the format table is in `src/catalog/format.rs`'s doc comment; docs/api.md,
    /// "The catalog format"). Throws an `Error` naming the problem
    /// (bad magic, unsupported version, truncated, duplicate id, non-finite value, ...).
    /// The file (a `Uint8Array` or an `ArrayBuffer`) is read from JS memory a section at a time,
    /// never copied whole into wasm memory: a table of a million rows needs no second copy there.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(#[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: &JsValue) -> JsResult<JsCatalog> {
        let bytes = match bytes.dyn_ref::<js_sys::Uint8Array>() {
            Some(b) => b.clone(),
            None => match bytes.dyn_ref::<js_sys::ArrayBuffer>() {
                Some(b) => js_sys::Uint8Array::new(b),
                None => return Err(bad_input("Catalog.fromBytes: expected the file's bytes as a Uint8Array")),
            },
        };
        Ok(JsCatalog { inner: Rc::new(Catalog::decode_from(&JsBytes(&bytes)).map_err(js_err)?) })
    }

    /// A seeded synthetic catalog of `n` random unit vectors (ids `item-0`..), for demos and
    /// benchmarks. `elementType` is `"f32"`, `"int8"` or `"pq"` (random codes and codebook).
    #[wasm_bindgen(js_name = randomUnit)]
    pub fn random_unit(n: u32, dim: u32, categories: u32, seed: u32, element_type: &str) -> JsResult<JsCatalog> {
        // n * dim floats must fit a wasm32 memory: checked in u64, before anything is allocated
        // (pq: its n * dim / 6 bytes of codes, counted as f32 values).
        const MAX_VALUES: u64 = 1 << 28; // 1 GiB of f32
        let values =
            if element_type == "pq" { u64::from(n) * u64::from(dim) / 24 } else { u64::from(n) * u64::from(dim) };
        if dim == 0 || dim > crate::catalog::MAX_DIM || n > crate::catalog::MAX_ROWS || values > MAX_VALUES {
            return Err(bad_input(&format!(
                "randomUnit: n must be <= {}, dim in 1..={} and n * dim <= {MAX_VALUES}",
                crate::catalog::MAX_ROWS,
                crate::catalog::MAX_DIM
            )));
        }
        if categories > crate::catalog::MAX_CATEGORY + 1 {
            return Err(bad_input(&format!(
                "randomUnit: at most {} categories, got {categories}",
                crate::catalog::MAX_CATEGORY + 1
            )));
        }
        if element_type == "pq" {
            // Random codes under a random codebook (the scan's speed does not depend on them), with
            // the default sub-spaces: no f32 table is built, so 1M x 384 fits.
            let m = crate::catalog::pq::default_subspaces(dim as usize);
            let c = synthetic::random_pq(n as usize, dim as usize, m, categories, seed as u64).map_err(js_err)?;
            return Ok(JsCatalog { inner: Rc::new(c) });
        }
        let c = synthetic::random_unit(n as usize, dim as usize, categories, seed as u64);
        let c = match element_type {
            "f32" => c,
            "int8" => c.to_int8(),
            other => {
                return Err(bad_input(&format!(
                    "unknown element type {other:?} (expected \"f32\", \"int8\" or \"pq\")"
                )))
            }
        };
        Ok(JsCatalog { inner: Rc::new(c) })
    }

    /// Encodes the catalog as a file (the inverse of `fromBytes`).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.encode()
    }

    /// A copy quantized to int8 with one scale per row.
    #[wasm_bindgen(js_name = toInt8)]
    pub fn to_int8(&self) -> JsCatalog {
        JsCatalog { inner: Rc::new(self.inner.to_int8()) }
    }

    /// A copy quantized to int8 plus a residual int8 plane that the ranker uses to re-score its best
    /// candidates (f32-like results at int8 scan speed; twice the int8 size).
    #[wasm_bindgen(js_name = toInt8Refined)]
    pub fn to_int8_refined(&self) -> JsCatalog {
        JsCatalog { inner: Rc::new(self.inner.to_int8_refined()) }
    }

    /// True for an int8 catalog with a refine plane, or a pq catalog with its refine plane
    /// attached (`Recommender.attachRefine`).
    #[wasm_bindgen(getter, js_name = hasRefine)]
    pub fn has_refine(&self) -> bool {
        self.inner.refine().is_some() || self.inner.residual().is_some()
    }

    /// Number of items.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.inner.len() as u32
    }

    /// Embedding dimension.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> u32 {
        self.inner.dim() as u32
    }

    /// The table's precision: `"f32"`, `"int8"`, `"pq"` or `"pca"` (int8 on the table's principal axes).
    #[wasm_bindgen(getter, js_name = elementType)]
    pub fn element_type(&self) -> String {
        self.inner.precision().to_owned()
    }

    /// The id of item `index`, or `undefined` past the end.
    pub fn id(&self, index: u32) -> Option<String> {
        self.inner.get_id(index).map(str::to_owned)
    }

    /// The index of item `id`, or `undefined` if the catalog does not have it.
    #[wasm_bindgen(js_name = indexOf)]
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.inner.row_of(id)
    }

    /// Indices of the given ids; ids the catalog does not have are skipped (an item seen earlier
    /// may have left the catalog since: excluding it is a no-op, not an error).
    #[wasm_bindgen(js_name = indicesOf)]
    pub fn indices_of(&self, ids: Vec<String>) -> Uint32Array {
        let rows: Vec<u32> = ids.iter().filter_map(|id| self.inner.row_of(id)).collect();
        Uint32Array::from(&rows[..])
    }

    /// Category code of item `index`, or `undefined` (no codes, or past the end).
    pub fn category(&self, index: u32) -> Option<u32> {
        self.inner.categories().and_then(|c| c.get(index as usize).copied())
    }

    /// The item's vector as floats (dequantized for int8), or `undefined` past the end.
    pub fn vector(&self, index: u32) -> Option<Float32Array> {
        ((index as usize) < self.inner.len()).then(|| Float32Array::from(&self.inner.vector(index)[..]))
    }

    /// All f32 values, row-major (a copy). Throws for int8 catalogs.
    #[wasm_bindgen(js_name = valuesF32)]
    pub fn values_f32(&self) -> JsResult<Float32Array> {
        match self.inner.vectors() {
            Vectors::F32(v) => Ok(Float32Array::from(&v[..])),
            _ => Err(bad_input("valuesF32: catalog is not f32")),
        }
    }

    /// All int8 values, row-major (a copy). Throws for f32 catalogs.
    #[wasm_bindgen(js_name = valuesInt8)]
    pub fn values_int8(&self) -> JsResult<Int8Array> {
        match self.inner.vectors() {
            Vectors::Int8 { values, .. } => Ok(Int8Array::from(&values[..])),
            _ => Err(bad_input("valuesInt8: catalog is not int8")),
        }
    }

    /// Per-row int8 scales (a copy). Throws for f32 catalogs.
    #[wasm_bindgen(js_name = scalesInt8)]
    pub fn scales_int8(&self) -> JsResult<Float32Array> {
        match self.inner.vectors() {
            Vectors::Int8 { scales, .. } => Ok(Float32Array::from(&scales[..])),
            _ => Err(bad_input("scalesInt8: catalog is not int8")),
        }
    }
}

/// Exact top-k search over one catalog, with reusable scratch buffers.
#[wasm_bindgen(js_name = Ranker)]
pub struct JsRanker {
    catalog: Rc<Catalog>,
    topk: TopK,
}

#[wasm_bindgen(js_class = Ranker)]
impl JsRanker {
    /// A ranker over `catalog` (shares its memory; the catalog object may be freed afterwards).
    #[wasm_bindgen(constructor)]
    pub fn new(catalog: &JsCatalog) -> JsRanker {
        JsRanker { catalog: Rc::clone(&catalog.inner), topk: TopK::new() }
    }

    /// A ranker using a named kernel (`"simd128"`, `"portable"` or `"scalar"`), for benchmarks and
    /// for comparing kernels in a given engine. Throws for an unknown name. `boundedScan: false`
    /// scans a large f32 catalog directly instead of through its int8 shadow (same results).
    #[wasm_bindgen(js_name = withKernel)]
    pub fn with_kernel(catalog: &JsCatalog, kernel: &str, bounded_scan: Option<bool>) -> JsResult<JsRanker> {
        let Some(&k) = Kernel::ALL.iter().find(|k| k.name() == kernel) else {
            let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
            return Err(bad_input(&format!("unknown kernel {kernel:?} (this build has {names:?})")));
        };
        let topk = TopK::with_kernel(k).bounded(bounded_scan.unwrap_or(true));
        Ok(JsRanker { catalog: Rc::clone(&catalog.inner), topk })
    }

    /// The kernel in use: `"simd128"` unless chosen with `withKernel`.
    #[wasm_bindgen(getter)]
    pub fn kernel(&self) -> String {
        self.topk.kernel().name().to_owned()
    }

    /// The best `k` items for `query` (a `Float32Array` of the catalog's dimension), never returning
    /// indices in `exclude`, and only items whose category is in `categories` when that is given.
    /// Throws on a wrong dimension, a NaN or infinite query value, or an excluded index out of range.
    #[wasm_bindgen(js_name = topK)]
    pub fn top_k(
        &mut self,
        query: &[f32],
        k: u32,
        exclude: Option<Vec<u32>>,
        categories: Option<Vec<u32>>,
    ) -> JsResult<TopKResult> {
        let mut q = Query::new(query, k as usize);
        if let Some(ex) = &exclude {
            q = q.exclude(ex);
        }
        if let Some(c) = &categories {
            q = q.categories(c);
        }
        let hits = self.topk.search(&self.catalog, &q).map_err(js_err)?;
        Ok(TopKResult {
            indices: hits.iter().map(|h| h.index).collect(),
            scores: hits.iter().map(|h| h.score).collect(),
            catalog: Rc::clone(&self.catalog),
        })
    }
}

/// Hits of one search, best first: parallel typed arrays of indices and scores, and the ids.
#[wasm_bindgen]
pub struct TopKResult {
    indices: Vec<u32>,
    scores: Vec<f32>,
    catalog: Rc<Catalog>,
}

#[wasm_bindgen]
impl TopKResult {
    /// Number of hits.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.indices.len() as u32
    }

    /// Catalog indices of the hits.
    #[wasm_bindgen(getter)]
    pub fn indices(&self) -> Uint32Array {
        Uint32Array::from(&self.indices[..])
    }

    /// Scores (inner products) of the hits, descending.
    #[wasm_bindgen(getter)]
    pub fn scores(&self) -> Float32Array {
        Float32Array::from(&self.scores[..])
    }

    /// Item ids of the hits.
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<String> {
        self.indices.iter().map(|&i| self.catalog.id(i).to_owned()).collect()
    }
}

fn kind_from_js(kind: &str) -> JsResult<crate::model::Kind> {
    crate::model::Kind::from_name(kind).map_err(js_err)
}

/// The user tower: a visitor's history in, a unit user vector out. Rebuilt from the export's
/// `tower.json` and `tower.bin`.
#[wasm_bindgen(js_name = UserTower)]
pub struct JsUserTower {
    inner: crate::model::UserModel,
}

#[wasm_bindgen(js_class = UserTower)]
impl JsUserTower {
    /// Throws if the config is malformed, of another version, or the weights do not fit it.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(tower_json: &[u8], weights: &[u8]) -> JsResult<JsUserTower> {
        Ok(JsUserTower { inner: crate::model::UserModel::from_bytes(tower_json, weights).map_err(js_err)? })
    }

    /// Item vector dimension the tower reads and writes.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> u32 {
        self.inner.config().dim as u32
    }

    /// History slots the tower reads.
    #[wasm_bindgen(getter, js_name = maxLen)]
    pub fn max_len(&self) -> u32 {
        self.inner.config().max_len as u32
    }

    /// Embeds a history given as parallel arrays: catalog indices, kinds (0 view, 1 cart,
    /// 2 purchase) and times in seconds, oldest first.
    pub fn embed(&mut self, catalog: &JsCatalog, items: &[u32], kinds: &[u8], times: &[f64]) -> JsResult<Float32Array> {
        if kinds.len() != items.len() || times.len() != items.len() {
            return Err(bad_input("embed: items, kinds and times must have the same length"));
        }
        let events = items
            .iter()
            .zip(kinds)
            .zip(times)
            .map(|((&item, &kind), &time)| {
                Ok(crate::model::Event { item, kind: crate::model::Kind::from_code(kind)?, time })
            })
            .collect::<crate::Result<Vec<_>>>()
            .map_err(js_err)?;
        let v = self.inner.embed(&catalog.inner, &events).map_err(js_err)?;
        Ok(Float32Array::from(&v[..]))
    }

    /// Runs the self-check shipped in `tower.json` against the f32 item table: the largest
    /// difference from the trainer's native embedding, or `undefined` when there is no check.
    #[wasm_bindgen(js_name = selfCheck)]
    pub fn self_check(&mut self, catalog: &JsCatalog) -> JsResult<Option<f32>> {
        self.inner.self_check(&catalog.inner).map_err(js_err)
    }

    /// The embedding the trainer computed for the self-check history.
    #[wasm_bindgen(js_name = checkEmbedding)]
    pub fn check_embedding(&self) -> Option<Float32Array> {
        self.inner.tower_file().check.as_ref().map(|c| Float32Array::from(&c.embedding[..]))
    }
}

/// The ranking stage (`ranker.bin`): item-item neighbours and a learned scorer that re-rank the
/// tower's candidates.
#[wasm_bindgen(js_name = RankingStage)]
pub struct JsRankingStage {
    inner: Rc<crate::rerank::RankingStage>,
}

#[wasm_bindgen(js_class = RankingStage)]
impl JsRankingStage {
    /// Decodes and validates `ranker.bin`; throws `invalid-model` on a bad file.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> JsResult<JsRankingStage> {
        Ok(JsRankingStage { inner: Rc::new(crate::rerank::RankingStage::decode(bytes).map_err(js_err)?) })
    }

    /// Items covered.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.inner.popularity.len() as u32
    }

    /// Item-item neighbours kept, all items together.
    #[wasm_bindgen(getter)]
    pub fn neighbours(&self) -> u32 {
        self.inner.neighbours.nnz() as u32
    }
}

/// A pq table's refine plane (`items.pq.refine.lrc`, [`crate::catalog::PqResidual`]).
#[wasm_bindgen(js_name = PqRefine)]
pub struct JsPqRefine {
    inner: crate::catalog::PqResidual,
}

#[wasm_bindgen(js_class = PqRefine)]
impl JsPqRefine {
    /// Decodes and validates a refine-plane file; throws `corrupt-file` naming the problem.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> JsResult<JsPqRefine> {
        Ok(JsPqRefine { inner: crate::catalog::PqResidual::decode(bytes).map_err(js_err)? })
    }

    /// Rows covered.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.inner.plane().rows() as u32
    }
}

/// A catalog, a user tower and the visitor's history: record interactions, get recommendations.
#[wasm_bindgen(js_name = Recommender)]
pub struct JsRecommender {
    inner: crate::recommender::Recommender,
}

#[wasm_bindgen(js_class = Recommender)]
impl JsRecommender {
    /// Takes the tower (it is moved into the recommender); throws if the dimensions differ.
    #[wasm_bindgen(constructor)]
    pub fn new(catalog: &JsCatalog, tower: JsUserTower) -> JsResult<JsRecommender> {
        let inner = crate::recommender::Recommender::new(catalog.inner.clone(), tower.inner).map_err(js_err)?;
        Ok(JsRecommender { inner })
    }

    /// Attaches a pq table's refine plane to this recommender's catalog, `catalog` (the same
    /// object it was built with, which then shares the refined table): the best `2k + 32` rows of the
    /// pq scan are re-scored with both levels and the history is re-embedded with them. Throws
    /// `corrupt-file` if the plane belongs to another table (nothing changes then).
    #[wasm_bindgen(js_name = attachRefine)]
    pub fn attach_refine(&mut self, catalog: &mut JsCatalog, plane: JsPqRefine) -> JsResult<()> {
        if !Rc::ptr_eq(&catalog.inner, self.inner.catalog()) {
            return Err(bad_input("attachRefine: the catalog is not this recommender's"));
        }
        // The JS object lets go of the table for the attach, so it happens in place, not on a copy
        // (the table of a large catalog is the largest thing in memory).
        let empty = Rc::new(Catalog::from_f32::<&str>(&[], 1, Vec::new(), None).map_err(js_err)?);
        drop(std::mem::replace(&mut catalog.inner, empty));
        let r = self.inner.attach_residual(plane.inner);
        catalog.inner = self.inner.catalog().clone();
        r.map_err(js_err)
    }

    /// Whether the item table in use is refined (an int8 refine plane, or a pq plane attached).
    #[wasm_bindgen(getter, js_name = hasRefine)]
    pub fn has_refine(&self) -> bool {
        self.inner.catalog().refine().is_some() || self.inner.catalog().residual().is_some()
    }

    /// Adds the ranking stage (or removes it with `undefined`); throws if it covers another
    /// catalog.
    #[wasm_bindgen(js_name = setRankingStage)]
    pub fn set_ranking_stage(&mut self, stage: Option<JsRankingStage>) -> JsResult<()> {
        self.inner.set_ranking_stage(stage.map(|s| s.inner)).map_err(js_err)
    }

    /// Whether a ranking stage is in use.
    #[wasm_bindgen(getter, js_name = hasRankingStage)]
    pub fn has_ranking_stage(&self) -> bool {
        self.inner.ranking_stage().is_some()
    }

    /// Runs the ranking stage's shipped self-check (the trainer's top 10 for one history) through
    /// this build: `{ sameRows, maxScoreDiff }`, or `undefined` without a stage or a check. The
    /// visitor's history is not touched.
    #[wasm_bindgen(js_name = checkRankingStage)]
    pub fn check_ranking_stage(&mut self) -> JsResult<JsValue> {
        let Some(c) = self.inner.check_ranking_stage().map_err(js_err)? else { return Ok(JsValue::UNDEFINED) };
        let o = js_sys::Object::new();
        js_sys::Reflect::set(&o, &"sameRows".into(), &JsValue::from_bool(c.same_rows))?;
        js_sys::Reflect::set(&o, &"maxScoreDiff".into(), &JsValue::from_f64(c.max_score_diff as f64))?;
        Ok(o.into())
    }

    /// Records an interaction and updates the user embedding at once. `kind` is `"view"`,
    /// `"cart"` or `"purchase"`; `time` in seconds (default: now). Throws on an unknown item id.
    pub fn record(&mut self, item_id: &str, kind: &str, time: Option<f64>) -> JsResult<()> {
        let row = self
            .inner
            .catalog()
            .row_of(item_id)
            .ok_or_else(|| js_err(crate::Error::UnknownItem(item_id.to_owned())))?;
        let time = time.unwrap_or_else(|| js_sys::Date::now() / 1000.0);
        self.inner.record(row, kind_from_js(kind)?, time).map_err(js_err)
    }

    /// Number of events kept.
    #[wasm_bindgen(getter, js_name = historyLength)]
    pub fn history_length(&self) -> u32 {
        self.inner.events().len() as u32
    }

    /// The current user embedding, or `undefined` before the first interaction.
    pub fn embedding(&self) -> Option<Float32Array> {
        self.inner.embedding().map(Float32Array::from)
    }

    /// Forgets the history.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// Sets the cold-start list (item ids, best first) used while the history is empty. Ids the
    /// catalog lacks are skipped; returns how many were kept.
    #[wasm_bindgen(js_name = setPopular)]
    pub fn set_popular(&mut self, ids: Vec<String>) -> JsResult<u32> {
        let rows = self.rows(&ids);
        self.inner.set_popular(&rows).map_err(js_err)?;
        Ok(rows.len() as u32)
    }

    /// Replaces the history with stored events (parallel arrays, oldest first: item ids, kinds
    /// 0 view / 1 cart / 2 purchase, times in seconds) and recomputes the embedding once. Events
    /// whose item left the catalog are skipped (the caller's stored history is not touched);
    /// returns how many were used.
    #[wasm_bindgen(js_name = setHistory)]
    pub fn set_history(&mut self, ids: Vec<String>, kinds: &[u8], times: &[f64]) -> JsResult<u32> {
        if kinds.len() != ids.len() || times.len() != ids.len() {
            return Err(bad_input("setHistory: ids, kinds and times must have the same length"));
        }
        let mut events = Vec::with_capacity(ids.len());
        for ((id, &kind), &time) in ids.iter().zip(kinds).zip(times) {
            let kind = crate::model::Kind::from_code(kind).map_err(js_err)?;
            if let Some(item) = self.inner.catalog().row_of(id) {
                events.push(crate::model::Event { item, kind, time });
            }
        }
        self.inner.set_history(&events).map_err(js_err)?;
        Ok(events.len() as u32)
    }

    /// Replaces the history with a `VisitorHistory`'s events (events whose item left the catalog
    /// are skipped; the stored history keeps them) and recomputes the embedding once. Returns how
    /// many events were used.
    #[wasm_bindgen(js_name = useHistory)]
    pub fn use_history(&mut self, history: &JsVisitorHistory) -> JsResult<u32> {
        let used = history.with_events(|events| self.inner.set_history_events(events)).map_err(js_err)?;
        Ok(used as u32)
    }

    /// "Not interested": the item never comes back and similar ones lose score. Throws
    /// `unknown-item` for an id the catalog lacks.
    pub fn dismiss(&mut self, item_id: &str) -> JsResult<()> {
        let row = self.row(item_id)?;
        self.inner.dismiss(row).map_err(js_err)
    }

    /// Replaces the dismissed items (stored ids, oldest first); ids the catalog lacks are skipped.
    /// Returns how many were used.
    #[wasm_bindgen(js_name = setDismissed)]
    pub fn set_dismissed(&mut self, ids: Vec<String>) -> JsResult<u32> {
        let rows = self.rows(&ids);
        self.inner.set_dismissed(&rows).map_err(js_err)?;
        Ok(rows.len() as u32)
    }

    /// Sets the business rules: blocked item ids, boosts as parallel arrays of category codes and
    /// numbers (negative: bury), pins as parallel arrays of item ids and 0-based positions. Ids the
    /// catalog lacks are skipped (an item may have left it); returns how many were skipped.
    /// Throws `invalid-argument` for arrays of different lengths, a non-finite boost or a position
    /// of 1000 or more.
    #[wasm_bindgen(js_name = setRules)]
    pub fn set_rules(
        &mut self,
        block: Vec<String>,
        boost_codes: Vec<u32>,
        boost_values: Vec<f32>,
        pin_ids: Vec<String>,
        pin_positions: Vec<u32>,
    ) -> JsResult<u32> {
        if boost_codes.len() != boost_values.len()
            || pin_ids.len() != pin_positions.len()
            || pin_positions.iter().any(|&p| p as usize >= crate::recommender::MAX_K)
        {
            return Err(bad_input("setRules: arrays of different lengths, or a pin position of 1000 or more"));
        }
        let catalog = self.inner.catalog().clone();
        let rows = self.rows(&block);
        let pins: Vec<(u32, u32)> =
            pin_ids.iter().zip(&pin_positions).filter_map(|(id, &p)| catalog.row_of(id).map(|r| (r, p))).collect();
        let skipped = block.len() - rows.len() + pin_ids.len() - pins.len();
        let boosts = boost_codes.into_iter().zip(boost_values).collect();
        self.inner.set_rules(crate::recommender::Rules { block: rows, boosts, pins }).map_err(js_err)?;
        Ok(skipped as u32)
    }

    /// What `recommend` would answer with these options, explained: the encoded history (slots
    /// newest first: `{ id, kind, recency, attention }`, attention per head, and the memory:
    /// `{ id, weight }`), each result's scores per stage (`tower`, `stage`, `boost`, `score`,
    /// `source`) and the self-checks (`towerCheck`: largest difference from the trainer's
    /// embedding; `rankerCheck`: `{ sameRows, maxScoreDiff }`). The history is not touched. The
    /// object is built field by field: a derived `Serialize` for these six shapes cost more of the
    /// package than issue 16's budget allows.
    pub fn explain(
        &mut self,
        k: u32,
        exclude_seen: bool,
        exclude: Option<Vec<String>>,
        categories: Option<Vec<u32>>,
        max_per_category: Option<u32>,
    ) -> JsResult<JsValue> {
        let exclude = self.rows(&exclude.unwrap_or_default());
        let options = crate::recommender::RecommendOptions {
            k: k as usize,
            exclude_seen,
            exclude: &exclude,
            categories: categories.as_deref(),
            max_per_category: max_per_category.map(|c| c as usize),
        };
        let e = self.inner.explain(&options).map_err(js_err)?;
        explanation_object(&e, self.inner.catalog(), self.inner.dismissed().len() as u32, |_| None)
    }

    /// The catalog rows of `ids`, the ids the catalog lacks skipped.
    fn rows(&self, ids: &[String]) -> Vec<u32> {
        ids.iter().filter_map(|id| self.inner.catalog().row_of(id)).collect()
    }

    fn row(&self, item_id: &str) -> JsResult<u32> {
        self.inner.catalog().row_of(item_id).ok_or_else(|| js_err(crate::Error::UnknownItem(item_id.to_owned())))
    }

    /// Top `k` for the current history, each with a reason. `excludeSeen` leaves out every item in
    /// the history; `exclude` (item ids; unknown ones are ignored), `categories` (allowed category
    /// codes) and `maxPerCategory` (diversity cap, 0 = none) are optional. With no history the
    /// answer is the popular list (see `setPopular`); with neither, throws `empty-history`.
    pub fn recommend(
        &mut self,
        k: u32,
        exclude_seen: bool,
        exclude: Option<Vec<String>>,
        categories: Option<Vec<u32>>,
        max_per_category: Option<u32>,
    ) -> JsResult<Recommendations> {
        let catalog = self.inner.catalog().clone();
        let exclude = self.rows(&exclude.unwrap_or_default());
        let options = crate::recommender::RecommendOptions {
            k: k as usize,
            exclude_seen,
            exclude: &exclude,
            categories: categories.as_deref(),
            max_per_category: max_per_category.map(|c| c as usize),
        };
        let recs = self.inner.recommend(&options).map_err(js_err)?;
        Ok(Recommendations { recs, catalog })
    }
}

/// The answer of `Recommender.recommend`: parallel arrays, best first.
#[wasm_bindgen]
pub struct Recommendations {
    recs: Vec<crate::recommender::Recommendation>,
    catalog: Rc<Catalog>,
}

#[wasm_bindgen]
impl Recommendations {
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.recs.len() as u32
    }

    /// Item ids.
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<String> {
        self.recs.iter().map(|r| self.catalog.id(r.index).to_owned()).collect()
    }

    /// Catalog indices.
    #[wasm_bindgen(getter)]
    pub fn indices(&self) -> Uint32Array {
        Uint32Array::from(&self.recs.iter().map(|r| r.index).collect::<Vec<_>>()[..])
    }

    /// Inner products with the user embedding (0 for popular answers).
    #[wasm_bindgen(getter)]
    pub fn scores(&self) -> Float32Array {
        Float32Array::from(&self.recs.iter().map(|r| r.score).collect::<Vec<_>>()[..])
    }

    /// Per result: `"view"`, `"cart"` or `"purchase"` (what the visitor did with the history item
    /// in `reasonIds`), or `"popular"` for a cold-start answer.
    #[wasm_bindgen(getter, js_name = reasonKinds)]
    pub fn reason_kinds(&self) -> Vec<String> {
        use crate::recommender::Reason;
        self.recs
            .iter()
            .map(|r| match r.reason {
                Reason::Because { kind, .. } | Reason::Together { kind, .. } => kind.name().to_owned(),
                Reason::Popular => "popular".to_owned(),
                Reason::Pinned => "pinned".to_owned(),
            })
            .collect()
    }

    /// Per result: `"together"` (lifted by the item-item weights: often had with the history item
    /// in `reasonIds`), `"similar"` (closest to it in the tower's space) or `"popular"`.
    #[wasm_bindgen(getter, js_name = reasonSources)]
    pub fn reason_sources(&self) -> Vec<String> {
        use crate::recommender::Reason;
        self.recs
            .iter()
            .map(|r| {
                match r.reason {
                    Reason::Together { .. } => "together",
                    Reason::Because { .. } => "similar",
                    Reason::Popular => "popular",
                    Reason::Pinned => "pinned",
                }
                .to_owned()
            })
            .collect()
    }

    /// Per result: the history item it is closest to ("because you viewed X"), or `""` for popular.
    #[wasm_bindgen(getter, js_name = reasonIds)]
    pub fn reason_ids(&self) -> Vec<String> {
        use crate::recommender::Reason;
        self.recs
            .iter()
            .map(|r| match r.reason {
                Reason::Because { item, .. } | Reason::Together { item, .. } => self.catalog.id(item).to_owned(),
                Reason::Popular | Reason::Pinned => String::new(),
            })
            .collect()
    }
}

/// An [`crate::recommender::Explanation`] as the plain object `explain` returns: the encoded
/// history (slots newest first: `{ id, kind, recency, attention }`, attention per head, and the
/// memory: `{ id, weight }`), each result's scores per stage (`tower`, `stage`, `boost`, `score`,
/// `source`) and the self-checks. `title` adds a `title` to each item where it gives one. Built field
/// by field: a derived `Serialize` for these six shapes cost more of the package than it allows.
pub(crate) fn explanation_object(
    e: &crate::recommender::Explanation,
    catalog: &Catalog,
    dismissed: u32,
    title: impl Fn(u32) -> Option<JsValue>,
) -> JsResult<JsValue> {
    use crate::recommender::Reason;
    let heads = e.heads;
    let num = |x: Option<f32>| x.map_or(JsValue::NULL, |x| JsValue::from_f64(f64::from(x)));
    let item = |row: u32, rest: &[(&str, JsValue)]| -> JsValue {
        let mut fields = vec![("id", JsValue::from_str(catalog.id(row)))];
        if let Some(t) = title(row) {
            fields.push(("title", t));
        }
        fields.extend(rest.iter().cloned());
        object(&fields).into()
    };
    let (slots, memory) = (js_sys::Array::new(), js_sys::Array::new());
    if let Some(enc) = &e.encoded {
        for (s, ((&row, &kind), &recency)) in enc.items.iter().zip(&enc.kinds).zip(&enc.recency).enumerate() {
            let kind = crate::model::Kind::from_code(kind).map_err(js_err)?.name();
            let attention: js_sys::Array =
                e.attention[s * heads..(s + 1) * heads].iter().map(|&a| num(Some(a))).collect();
            slots.push(&item(
                row,
                &[
                    ("kind", JsValue::from_str(kind)),
                    ("recency", JsValue::from(recency)),
                    ("attention", attention.into()),
                ],
            ));
        }
        for (&row, &weight) in enc.memory_items.iter().zip(&enc.memory_weights) {
            memory.push(&item(row, &[("weight", num(Some(weight)))]));
        }
    }
    // How far the dismissals moved the query (the distance between embedding and query).
    let query_shift = match (&e.embedding, &e.query) {
        (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt(),
        _ => 0.0,
    };
    let results: js_sys::Array = e
        .results
        .iter()
        .map(|r| {
            let source = match r.recommendation.reason {
                Reason::Together { .. } => "together",
                Reason::Because { .. } => "similar",
                Reason::Popular => "popular",
                Reason::Pinned => "pinned",
            };
            item(
                r.recommendation.index,
                &[
                    ("source", JsValue::from_str(source)),
                    ("tower", num(r.tower)),
                    ("stage", num(r.stage)),
                    ("boost", num(Some(r.boost))),
                    ("score", num(Some(r.recommendation.score))),
                ],
            )
        })
        .collect();
    let ranker_check = e.ranker_check.map_or(JsValue::NULL, |c| {
        object(&[("sameRows", JsValue::from_bool(c.same_rows)), ("maxScoreDiff", num(Some(c.max_score_diff)))]).into()
    });
    Ok(object(&[
        ("slots", slots.into()),
        ("memory", memory.into()),
        ("heads", JsValue::from(heads as u32)),
        ("dismissed", JsValue::from(dismissed)),
        ("queryShift", num(Some(query_shift))),
        ("results", results.into()),
        ("towerCheck", num(e.tower_check)),
        ("rankerCheck", ranker_check),
    ])
    .into())
}

/// Applies a catalog delta file to the cached catalog file and returns the new catalog's bytes
/// (the caller checks them against the manifest's SHA-256 before storing). Throws `invalid-delta`
/// or `corrupt-file`.
#[wasm_bindgen(js_name = applyCatalogDelta)]
pub fn apply_catalog_delta(base: &[u8], delta: &[u8]) -> JsResult<Vec<u8>> {
    crate::catalog::delta::apply_delta_bytes(base, delta).map_err(js_err)
}
