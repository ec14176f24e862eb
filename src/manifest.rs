//! The export's manifest (`manifest.json`) and item metadata (`items.json`): their schema, written
//! by the trainer (`train::export`) and validated here, the one place, before the browser fetches,
//! allocates or decodes anything they describe.
//!
//! A manifest names every file of a model version with its role, size and SHA-256. Checked:
//! format and version; a model version; per file a role (unique), a name that is a plain relative
//! path (so it resolves next to the manifest, on its origin: no scheme, no `//`, no `..`, no leading
//! `/`, no `\`, `?` or `#`), a size of at most [`MAX_FILE_BYTES`], a lower-case hex SHA-256; the
//! same for each delta.

use serde::{Deserialize, Serialize};

pub use crate::catalog::meta::{check_popular_and_categories, ItemsJson, ItemsJsonEntry};
use crate::error::{Error, Result};

pub const MANIFEST_FORMAT: &str = "localrec-manifest";
pub const MANIFEST_VERSION: u32 = 1;
/// Largest file a manifest may list: a quarter of a wasm32 address space, so a manifest can never
/// make the loader allocate past what a tab can hold.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most results one answer holds (`recommend`'s `k`), so the highest pin position is one less.
pub const MAX_K: usize = 1000;
/// Longest file name, role or model version accepted.
pub const MAX_NAME_BYTES: usize = 256;

/// The roles of an export's files (the trainer writes them, the loader asks for them).
pub const ROLE_TOWER_CONFIG: &str = "tower-config";
pub const ROLE_TOWER_WEIGHTS: &str = "tower-weights";
pub const ROLE_ITEMS_INT8: &str = "items-int8";
pub const ROLE_ITEMS_F32: &str = "items-f32";
/// The product-quantized item table ([`crate::catalog::pq`]), the large-catalog download.
pub const ROLE_ITEMS_PQ: &str = "items-pq";
/// The item table on its principal axes in int8 ([`crate::catalog::Projection`], 64 bytes an item at
/// 384 dimensions): the large-catalog download.
pub const ROLE_ITEMS_PCA: &str = "items-pca";
/// The pq table's refine plane ([`crate::catalog::PqResidual`], `items.pq.refine.lrc`): loaded
/// behind the first answer, never part of the first download.
pub const ROLE_ITEMS_PQ_REFINE: &str = "items-pq-refine";
pub const ROLE_ITEM_METADATA: &str = "item-metadata";
/// The compact item metadata ([`crate::catalog::meta`], `items.meta.lrc`): what the browser loads
/// when a manifest lists it, `items.json` otherwise.
pub const ROLE_ITEM_METADATA_COMPACT: &str = "item-metadata-lrc";
/// The metadata role the browser asks for: the compact file, else `items.json`.
pub const ROLES_ITEM_METADATA: &str = "item-metadata-lrc|item-metadata";
/// The ranking stage (`ranker.bin`, [`crate::rerank`]): optional, a manifest without it serves the
/// tower alone.
pub const ROLE_RANKER: &str = "ranker";
/// Roles a manifest may leave out: [`Manifest::entries`] skips them when absent.
pub const OPTIONAL_ROLES: &[&str] = &[ROLE_RANKER];

/// The files a browser loads for an item table of `precision` (`"int8"`, `"pca"`, `"pq"` or `"f32"`), in the order
/// tower config, tower weights, item table, item metadata (compact, else JSON), ranking stage
/// (optional); `None` for another precision.
pub fn roles_for(precision: &str) -> Option<[&'static str; 5]> {
    let items = match precision {
        "int8" => ROLE_ITEMS_INT8,
        "f32" => ROLE_ITEMS_F32,
        "pq" => ROLE_ITEMS_PQ,
        "pca" => ROLE_ITEMS_PCA,
        _ => return None,
    };
    Some([ROLE_TOWER_CONFIG, ROLE_TOWER_WEIGHTS, items, ROLES_ITEM_METADATA, ROLE_RANKER])
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// A digest of the weights and the item table: changes whenever the model does.
    pub model_version: String,
    #[serde(default)]
    pub dataset: String,
    #[serde(default)]
    pub dim: usize,
    #[serde(default)]
    pub items: usize,
    pub files: Vec<FileEntry>,
    /// Which compact table serves where the loader asks for one (`"items-pq"` or `"items-pca"`, the
    /// same bytes an item): the trainer picks the one whose tower scored better on its validation
    /// split, since neither wins on every catalog. [`Manifest::entries`] puts it first among
    /// alternatives that list both; absent, their order stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_table: Option<String>,
    /// Business rules for every visitor (the app's own rules add to them): see [`ManifestRules`].
    /// Read and checked by [`Manifest::parse`]; the trainer writes none.
    #[serde(skip)]
    pub rules: Option<ManifestRules>,
    /// Model variants to split visitors between: see [`Experiment`].
    #[serde(skip)]
    pub experiment: Option<Experiment>,
    /// The answer a visitor with no history gets (the popular list under the manifest's rules, at
    /// most [`FIRST_ANSWER_K`] items with their titles), so that a first visit can show it before
    /// the wasm module and the model arrive. Written by the trainer from the model itself
    /// (`train::export::write_first_answer`: a session's cold-start answer); the browser's own
    /// cold-start answer is the same list. Empty: none (an older export).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_answer: Vec<FirstItem>,
}

/// How many items a manifest's [`Manifest::first_answer`] holds at most (the trainer writes 20).
pub const FIRST_ANSWER_K: usize = 50;

/// One item of [`Manifest::first_answer`]: what `recommend` returns for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstItem {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The cold-start score: 0 plus its category's boost.
    pub score: f32,
    /// Placed by a pin of the manifest's rules (else a popular item).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// `rules` of a manifest: item ids never recommended (a guardrail), category boosts (positive) and
/// buries (negative) in score units, items pinned to 0-based positions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManifestRules {
    pub block: Vec<String>,
    /// Category name and boost, in the manifest's order.
    pub boost: Vec<(String, f32)>,
    pub pin: Vec<Pin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub id: String,
    pub position: u32,
}

/// An experiment: each visitor is assigned one variant, locally and stably, from a random id kept
/// on the device ([`Experiment::assign`]); a variant's files are the entries whose role is the base
/// role followed by `@` and the variant's name (`tower-weights@wide`), the base entries where it
/// has none. A `shadow` variant is never shown: it is scored against the visitor's next
/// interactions on the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub name: String,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// Share of visitors, relative to the other variants' weights (ignored for a shadow).
    pub weight: f64,
    pub shadow: bool,
}

/// Longest experiment or variant name.
pub const MAX_VARIANT_NAME: usize = 64;

/// A name of letters, digits, `-` and `_` (it becomes part of a role).
fn check_variant_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_VARIANT_NAME
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(format!("{what} {name:?} must be 1 to {MAX_VARIANT_NAME} letters, digits, '-' or '_'")));
    }
    Ok(())
}

impl Experiment {
    /// The variant a device is assigned: a 64-bit hash of the experiment's name and the device's
    /// id, as a fraction of 2^64, falls in one variant's share of the weights (shadows excluded).
    /// The same id always gets the same variant; a new experiment name reshuffles visitors.
    pub fn assign(&self, device_id: &str) -> &Variant {
        let mut h = crate::codec::fnv1a(&format!("{}\u{0}{device_id}", self.name));
        // splitmix64's finalizer: every input bit reaches the top bits the fraction reads.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        let live: Vec<&Variant> = self.variants.iter().filter(|v| !v.shadow && v.weight > 0.0).collect();
        let total: f64 = live.iter().map(|v| v.weight).sum();
        let mut acc = 0.0;
        for v in &live {
            acc += v.weight / total;
            if u < acc {
                return v;
            }
        }
        live.last().expect("validated: a variant with a positive weight")
    }

    /// The shadow variants.
    pub fn shadows(&self) -> impl Iterator<Item = &Variant> {
        self.variants.iter().filter(|v| v.shadow)
    }

    fn validate(&self) -> Result<()> {
        check_variant_name("experiment", &self.name)?;
        for (i, v) in self.variants.iter().enumerate() {
            check_variant_name("variant", &v.name)?;
            if !v.weight.is_finite() || v.weight < 0.0 {
                return Err(invalid(format!("variant {:?}: weight {} is not a finite number >= 0", v.name, v.weight)));
            }
            if self.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(invalid(format!("variant {:?} is listed twice", v.name)));
            }
        }
        if !self.variants.iter().any(|v| !v.shadow && v.weight > 0.0) {
            return Err(invalid(format!("experiment {:?} has no variant with a positive weight", self.name)));
        }
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// `first_answer` of a manifest: at most [`FIRST_ANSWER_K`] items, each an id and a title (strings),
/// an optional category, a finite score.
fn parse_first_answer(v: &serde_json::Value) -> Result<Vec<FirstItem>> {
    let list = v
        .as_array()
        .filter(|l| l.len() <= FIRST_ANSWER_K)
        .ok_or_else(|| invalid(format!("first_answer must be an array of at most {FIRST_ANSWER_K} items")))?;
    let item = |x: &serde_json::Value| -> Option<FirstItem> {
        let o = x.as_object()?;
        let score = o.get("score")?.as_f64().filter(|s| s.is_finite())? as f32;
        Some(FirstItem {
            id: o.get("id")?.as_str().filter(|s| !s.is_empty())?.to_owned(),
            title: o.get("title")?.as_str()?.to_owned(),
            category: match o.get("category") {
                None | Some(serde_json::Value::Null) => None,
                Some(c) => Some(c.as_str()?.to_owned()),
            },
            score,
            pinned: match o.get("pinned") {
                None => false,
                Some(p) => p.as_bool()?,
            },
        })
    };
    list.iter()
        .enumerate()
        .map(|(i, x)| item(x).ok_or_else(|| invalid(format!("first_answer[{i}] is not an item (id, title, score)"))))
        .collect()
}

/// `rules` of a manifest, read by hand like the rest (see [`Manifest::parse`]).
fn parse_rules(v: &serde_json::Value) -> Result<ManifestRules> {
    use serde_json::Value;
    let bad = |what: &str| invalid(format!("rules: {what}"));
    let o = v.as_object().ok_or_else(|| bad("not an object"))?;
    let mut r = ManifestRules::default();
    if let Some(b) = o.get("block") {
        for id in b.as_array().ok_or_else(|| bad("block must be an array"))? {
            r.block.push(id.as_str().ok_or_else(|| bad("block lists item ids (strings)"))?.to_owned());
        }
    }
    if let Some(b) = o.get("boost") {
        for (cat, w) in b.as_object().ok_or_else(|| bad("boost must be an object"))? {
            let w = w.as_f64().ok_or_else(|| bad("a boost is not a number"))?;
            r.boost.push((cat.clone(), w as f32));
        }
    }
    if let Some(p) = o.get("pin") {
        for pin in p.as_array().ok_or_else(|| bad("pin must be an array"))? {
            let id = pin.get("id").and_then(Value::as_str).ok_or_else(|| bad("a pin has no id"))?;
            let position = pin
                .get("position")
                .and_then(Value::as_u64)
                .filter(|&p| p < MAX_K as u64)
                .ok_or_else(|| bad("a pin needs a position in 0..1000"))?;
            r.pin.push(Pin { id: id.to_owned(), position: position as u32 });
        }
    }
    Ok(r)
}

/// `experiment` of a manifest.
fn parse_experiment(v: &serde_json::Value) -> Result<Experiment> {
    use serde_json::Value;
    let bad = |what: &str| invalid(format!("experiment: {what}"));
    let name = v.get("name").and_then(Value::as_str).ok_or_else(|| bad("no name"))?.to_owned();
    let list = v.get("variants").and_then(Value::as_array).ok_or_else(|| bad("variants must be an array"))?;
    let mut variants = Vec::with_capacity(list.len());
    for x in list {
        let vname = x.get("name").and_then(Value::as_str).ok_or_else(|| bad("a variant has no name"))?;
        let weight = match x.get("weight") {
            None => 0.0,
            Some(w) => w.as_f64().ok_or_else(|| bad(&format!("variant {vname:?}: weight is not a number")))?,
        };
        let shadow = match x.get("shadow") {
            None => false,
            Some(b) => b.as_bool().ok_or_else(|| bad(&format!("variant {vname:?}: shadow is not true or false")))?,
        };
        variants.push(Variant { name: vname.to_owned(), weight, shadow });
    }
    Ok(Experiment { name, variants })
}

/// Each role of `roles` (alternatives included) preceded by its `variant`'s own role: with variant
/// `b`, `"items-int8|items-pq"` becomes `"items-int8@b|items-int8|items-pq@b|items-pq"`.
/// A size limit (`"ranker<=4194304"`, see [`Manifest::entries`]) stays at the end.
pub fn variant_roles(roles: &[String], variant: Option<&str>) -> Vec<String> {
    let Some(v) = variant else { return roles.to_vec() };
    roles
        .iter()
        .map(|r| {
            let (alts, limit) = split_limit(r);
            let alts = alts.split('|').map(|a| format!("{a}@{v}|{a}")).collect::<Vec<_>>().join("|");
            match limit {
                Some(l) => format!("{alts}<={l}"),
                None => alts,
            }
        })
        .collect()
}

/// `"ranker<=4194304"` → `("ranker", Some(4194304))`; a role without a (valid) limit → `(role, None)`.
fn split_limit(role: &str) -> (&str, Option<u64>) {
    match role.rsplit_once("<=") {
        Some((alts, n)) => match n.parse() {
            Ok(n) => (alts, Some(n)),
            Err(_) => (role, None),
        },
        None => (role, None),
    }
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    /// `tower-config`, `tower-weights`, `items-f32`, `items-int8` or `item-metadata`.
    pub role: String,
    pub bytes: u64,
    pub sha256: String,
    /// Deltas that rebuild this file from earlier versions (catalog files only): a returning
    /// visitor whose cache holds `from_sha256` downloads the delta instead of the whole file.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub deltas: Vec<DeltaEntry>,
}

/// A catalog delta file (see [`crate::catalog::delta`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaEntry {
    /// SHA-256 of the file version the delta applies to.
    pub from_sha256: String,
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

fn invalid(msg: String) -> Error {
    Error::InvalidManifest(msg)
}

fn check_sha(what: &str, sha: &str) -> Result<()> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(invalid(format!("{what}: sha256 must be 64 lower-case hex digits, got {sha:?}")));
    }
    Ok(())
}

fn check_bytes(what: &str, bytes: u64) -> Result<()> {
    if bytes > MAX_FILE_BYTES {
        return Err(invalid(format!("{what}: {bytes} bytes is more than the {MAX_FILE_BYTES} a file may have")));
    }
    Ok(())
}

/// A file name that resolves next to the manifest, on its origin.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('/')
        || name.contains("//")
        || name.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if bad {
        return Err(invalid(format!(
            "file name {name:?} is not a plain relative path (letters, digits, '.', '_', '-', '/'; no '..')"
        )));
    }
    Ok(())
}

impl Manifest {
    /// Parses and validates `manifest.json`. (Read through `serde_json::Value` and a few accessors
    /// rather than the derived `Deserialize`: the same checks for a third of the wasm bytes.)
    pub fn parse(json: &[u8]) -> Result<Manifest> {
        use serde_json::Value;
        let v: Value = serde_json::from_slice(json).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let o = v.as_object().ok_or_else(|| invalid("not a JSON object".to_owned()))?;
        let format = o.get("format").and_then(Value::as_str);
        if format != Some(MANIFEST_FORMAT) {
            return Err(invalid(format!("not a localrec manifest (format {format:?})")));
        }
        let version = o.get("format_version");
        if version.and_then(Value::as_u64) != Some(u64::from(MANIFEST_VERSION)) {
            return Err(invalid(format!(
                "unsupported manifest version {} (this build reads {MANIFEST_VERSION})",
                version.and_then(Value::as_f64).map_or("that is not a number".to_owned(), |v| v.to_string())
            )));
        }
        let text = |o: &serde_json::Map<String, Value>, key: &str, what: &str| -> Result<String> {
            o.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{what}: {key} must be a string")))
        };
        let size = |o: &serde_json::Map<String, Value>, key: &str, what: &str| -> Result<u64> {
            o.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid(format!("{what}: {key} must be a whole number of bytes")))
        };
        // Absent is 0 (unknown); present, a whole number the item table's limits allow (a manifest
        // that says 1e12 items is wrong, not "many"). Checked against the table by the session.
        let count = |key: &str, max: u32| -> Result<usize> {
            match o.get(key) {
                None => Ok(0),
                Some(v) => match v.as_f64() {
                    Some(x) if x.fract() == 0.0 && (0.0..=f64::from(max)).contains(&x) => Ok(x as usize),
                    _ => Err(invalid(format!("{key} must be a whole number up to {max}, got {v}"))),
                },
            }
        };
        let list = o.get("files").and_then(Value::as_array).ok_or_else(|| invalid("no files array".to_owned()))?;
        let mut files = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let what = format!("file {i}");
            let f = f.as_object().ok_or_else(|| invalid(format!("{what} is not an object")))?;
            let mut deltas = Vec::new();
            if let Some(ds) = f.get("deltas") {
                for d in ds.as_array().ok_or_else(|| invalid(format!("{what}: deltas must be an array")))? {
                    let d = d.as_object().ok_or_else(|| invalid(format!("{what}: a delta is not an object")))?;
                    deltas.push(DeltaEntry {
                        from_sha256: text(d, "from_sha256", &what)?,
                        name: text(d, "name", &what)?,
                        bytes: size(d, "bytes", &what)?,
                        sha256: text(d, "sha256", &what)?,
                    });
                }
            }
            files.push(FileEntry {
                name: text(f, "name", &what)?,
                role: text(f, "role", &what)?,
                bytes: size(f, "bytes", &what)?,
                sha256: text(f, "sha256", &what)?,
                deltas,
            });
        }
        let m = Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            format_version: MANIFEST_VERSION,
            model_version: text(o, "model_version", "manifest")?,
            dataset: o.get("dataset").and_then(Value::as_str).unwrap_or_default().to_owned(),
            dim: count("dim", crate::catalog::MAX_DIM)?,
            items: count("items", crate::catalog::MAX_ROWS)?,
            files,
            compact_table: match o.get("compact_table") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) if t == ROLE_ITEMS_PQ || t == ROLE_ITEMS_PCA => Some(t.clone()),
                Some(t) => {
                    return Err(invalid(format!(
                        "compact_table must be {ROLE_ITEMS_PQ:?} or {ROLE_ITEMS_PCA:?}, got {t}"
                    )))
                }
            },
            rules: match o.get("rules") {
                None | Some(Value::Null) => None,
                Some(r) => Some(parse_rules(r)?),
            },
            experiment: match o.get("experiment") {
                None | Some(Value::Null) => None,
                Some(x) => Some(parse_experiment(x)?),
            },
            // Read by the page before the wasm module exists (js/index.js); the module needs none.
            #[cfg(not(target_arch = "wasm32"))]
            first_answer: match o.get("first_answer") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => parse_first_answer(v)?,
            },
            #[cfg(target_arch = "wasm32")]
            first_answer: Vec::new(),
        };
        m.validate()?;
        Ok(m)
    }

    /// The checks of the module docs.
    pub fn validate(&self) -> Result<()> {
        if self.model_version.is_empty() || self.model_version.len() > MAX_NAME_BYTES {
            return Err(invalid(format!("model_version must be 1 to {MAX_NAME_BYTES} bytes")));
        }
        for (i, f) in self.files.iter().enumerate() {
            if f.role.is_empty() || f.role.len() > MAX_NAME_BYTES {
                return Err(invalid(format!("file {i} has no role")));
            }
            if f.role.contains('|') {
                return Err(invalid(format!(
                    "role {:?} contains '|' (it separates alternatives in a request)",
                    f.role
                )));
            }
            if self.files[..i].iter().any(|g| g.role == f.role) {
                return Err(invalid(format!("role {:?} is listed twice", f.role)));
            }
            if let Some((base, variant)) = f.role.split_once('@') {
                check_variant_name("variant", variant)?;
                if base.is_empty() {
                    return Err(invalid(format!("role {:?} names a variant of no role", f.role)));
                }
            }
            check_name(&f.name)?;
            check_bytes(&f.name, f.bytes)?;
            check_sha(&f.name, &f.sha256)?;
            for d in &f.deltas {
                check_name(&d.name)?;
                check_bytes(&d.name, d.bytes)?;
                check_sha(&d.name, &d.sha256)?;
                check_sha(&d.name, &d.from_sha256)?;
            }
        }
        if let Some(r) = &self.rules {
            if let Some((c, b)) = r.boost.iter().find(|(_, b)| !b.is_finite()) {
                return Err(invalid(format!("rules: the boost of {c:?} is {b}, not a finite number")));
            }
            if r.pin.len() > MAX_K {
                return Err(invalid(format!("rules: {} pins, at most {}", r.pin.len(), MAX_K)));
            }
        }
        if let Some(x) = &self.experiment {
            x.validate()?;
        }
        Ok(())
    }

    /// The variant this device is assigned (`None` without an experiment).
    pub fn variant_for(&self, device_id: &str) -> Option<&Variant> {
        self.experiment.as_ref().map(|x| x.assign(device_id))
    }

    /// The entries of `roles`, in that order; a missing role is an error naming it, except an
    /// optional one ([`OPTIONAL_ROLES`]), which is left out. A role may list alternatives in order
    /// of preference, `"items-int8|items-pq"`: the first the manifest has is taken (how the loader
    /// picks an item table by device class). An optional role may end in a size limit,
    /// `"ranker<=4194304"`: a larger file is left out as if absent (how the loader defers a large
    /// ranking stage until after the first answer).
    pub fn entries(&self, roles: &[String]) -> Result<Vec<&FileEntry>> {
        roles
            .iter()
            .filter_map(|r| {
                let (alts, limit) = split_limit(r);
                fn base(alt: &str) -> &str {
                    alt.split('@').next().unwrap_or(alt)
                }
                let optional = alts.split('|').any(|alt| OPTIONAL_ROLES.contains(&base(alt)));
                // The manifest's compact table first among the compact alternatives (in place of the
                // first of them; the rest keep their order). A partition, not a sort: a stable sort
                // costs the wasm module kilobytes.
                let mut order: Vec<&str> = alts.split('|').collect();
                if let Some(pref) = self.compact_table.as_deref() {
                    let compact = |a: &str| base(a) == ROLE_ITEMS_PQ || base(a) == ROLE_ITEMS_PCA;
                    let slots: Vec<usize> = (0..order.len()).filter(|&i| compact(order[i])).collect();
                    let picked: Vec<&str> = slots
                        .iter()
                        .map(|&i| order[i])
                        .filter(|a| base(a) == pref)
                        .chain(slots.iter().map(|&i| order[i]).filter(|a| base(a) != pref))
                        .collect();
                    slots.iter().zip(picked).for_each(|(&i, a)| order[i] = a);
                }
                match order.iter().find_map(|alt| self.files.iter().find(|f| f.role == *alt)) {
                    Some(f) if optional && limit.is_some_and(|l| f.bytes > l) => None,
                    Some(f) => Some(Ok(f)),
                    None if optional => None,
                    None => Some(Err(invalid(format!("manifest lacks a {r:?} file entry")))),
                }
            })
            .collect()
    }
}
