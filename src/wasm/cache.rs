//! The cache of downloaded files in the browser: [`IdbFileStore`] (the [`FileStore`] of IndexedDB,
//! in the `files` and `versions` object stores of the database `src/wasm/idb.rs` opens) and the JS
//! class `FileCache` over it or over memory. The rules (record shape, what a commit deletes) are the
//! core's, in `crate::cache`. Files are handed to JS as `Uint8Array`s over IndexedDB's own buffers:
//! nothing is copied into wasm memory until a decoder needs it.

use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbTransactionMode};

use super::idb::{self, FILES, VERSIONS};
use super::{js_err, JsResult};
use crate::cache::{summarize, unreferenced, FileStore, MemoryFileStore, NewFile, VersionRecord};
use crate::history::StoreError;

/// The [`FileStore`] of IndexedDB.
pub struct IdbFileStore {
    db: IdbDatabase,
}

impl IdbFileStore {
    /// Over a database opened by [`idb::open_database`].
    pub fn new(db: IdbDatabase) -> IdbFileStore {
        IdbFileStore { db }
    }
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A stored version record, if it is well-formed (anything else reads as "no version").
fn version_from_js(v: &JsValue) -> Option<VersionRecord> {
    if !v.is_object() {
        return None;
    }
    let manifest = get(v, "manifest");
    let manifest_json = match manifest.as_string() {
        Some(text) => text,
        None if manifest.is_object() => JSON::stringify(&manifest).ok()?.as_string()?,
        None => return None,
    };
    let files = get(v, "files");
    if !files.is_object() {
        return None;
    }
    let mut pairs = Vec::new();
    for entry in Object::entries(files.unchecked_ref()).iter() {
        let entry = Array::from(&entry);
        pairs.push((entry.get(0).as_string()?, entry.get(1).as_string()?));
    }
    let record = VersionRecord {
        manifest_url: get(v, "manifestUrl").as_string()?,
        manifest_json,
        files: pairs,
        stored_at: get(v, "storedAt").as_f64().unwrap_or(0.0),
    };
    record.validate().ok()?;
    Some(record)
}

/// `{ manifestUrl, manifest, files: { role: sha256 }, storedAt }`, the manifest as an object.
fn version_to_js(v: &VersionRecord) -> Result<JsValue, JsValue> {
    let out = Object::new();
    let files = Object::new();
    for (role, sha) in &v.files {
        Reflect::set(&files, &JsValue::from_str(role), &JsValue::from_str(sha))?;
    }
    Reflect::set(&out, &"manifestUrl".into(), &JsValue::from_str(&v.manifest_url))?;
    Reflect::set(&out, &"manifest".into(), &JSON::parse(&v.manifest_json)?)?;
    Reflect::set(&out, &"files".into(), &files)?;
    Reflect::set(&out, &"storedAt".into(), &JsValue::from_f64(v.stored_at))?;
    Ok(out.into())
}

/// The bytes of a stored file record (`{ sha256, name, bytes: ArrayBuffer }`), or `None`.
fn file_bytes(rec: &JsValue) -> Option<Uint8Array> {
    let bytes = get(rec, "bytes");
    if let Some(buf) = bytes.dyn_ref::<ArrayBuffer>() {
        return Some(Uint8Array::new(buf));
    }
    bytes.dyn_into::<Uint8Array>().ok()
}

fn tx(
    db: &IdbDatabase,
    stores: &[&str],
    mode: IdbTransactionMode,
    what: &str,
) -> Result<web_sys::IdbTransaction, StoreError> {
    let names = Array::new();
    for s in stores {
        names.push(&JsValue::from_str(s));
    }
    db.transaction_with_str_sequence_and_mode(&names, mode).map_err(|e| idb::store_error(what, &e))
}

impl FileStore for IdbFileStore {
    type Bytes = Uint8Array;

    async fn version(&self, manifest_url: &str) -> Result<Option<VersionRecord>, StoreError> {
        const WHAT: &str = "reading the cached version";
        let t = tx(&self.db, &[VERSIONS], IdbTransactionMode::Readonly, WHAT)?;
        let read = async { idb::request(&t.object_store(VERSIONS)?.get(&JsValue::from_str(manifest_url))?).await };
        let value = read.await.map_err(|e| idb::store_error(WHAT, &e))?;
        Ok(version_from_js(&value))
    }

    async fn files(&self, shas: &[String]) -> Result<Vec<Option<Uint8Array>>, StoreError> {
        const WHAT: &str = "reading cached files";
        let t = tx(&self.db, &[FILES], IdbTransactionMode::Readonly, WHAT)?;
        let read = async {
            let store = t.object_store(FILES)?;
            // Every request is made at once and only the last awaited: requests of one transaction
            // complete in order, and an earlier one that fails fails the transaction (one await).
            let requests = shas.iter().map(|s| store.get(&JsValue::from_str(s))).collect::<Result<Vec<_>, _>>()?;
            if let Some(last) = requests.last() {
                idb::request(last).await?;
            }
            requests.iter().map(|r| r.result().map(|v| file_bytes(&v))).collect::<Result<Vec<_>, _>>()
        };
        read.await.map_err(|e| idb::store_error(WHAT, &e))
    }

    async fn delete_file(&self, sha: &str) -> Result<(), StoreError> {
        const WHAT: &str = "deleting a cached file";
        let t = tx(&self.db, &[FILES], IdbTransactionMode::Readwrite, WHAT)?;
        t.object_store(FILES)
            .and_then(|s| s.delete(&JsValue::from_str(sha)))
            .map_err(|e| idb::store_error(WHAT, &e))?;
        idb::done(&t).await.map_err(|e| idb::store_error(WHAT, &e))
    }

    async fn commit(&self, version: &VersionRecord, files: Vec<NewFile<Uint8Array>>) -> Result<(), StoreError> {
        const WHAT: &str = "caching the new version";
        version.validate().map_err(|message| StoreError { message, quota: false })?;
        let record = version_to_js(version).map_err(|e| idb::store_error(WHAT, &e))?;
        let t = tx(&self.db, &[FILES, VERSIONS], IdbTransactionMode::Readwrite, WHAT)?;
        let step = async {
            let fstore = t.object_store(FILES)?;
            let vstore = t.object_store(VERSIONS)?;
            for f in files {
                // The whole buffer is stored, so a view into a larger one is copied out first.
                let whole = f.bytes.byte_offset() == 0 && f.bytes.byte_length() == f.bytes.buffer().byte_length();
                let buffer = if whole { f.bytes.buffer() } else { f.bytes.slice(0, f.bytes.length()).buffer() };
                let rec = Object::new();
                Reflect::set(&rec, &"sha256".into(), &JsValue::from_str(&f.sha256))?;
                Reflect::set(&rec, &"name".into(), &JsValue::from_str(&f.name))?;
                Reflect::set(&rec, &"bytes".into(), &buffer)?;
                fstore.put(&rec)?;
            }
            vstore.put(&record)?;
            let all = vstore.get_all()?;
            let keys = fstore.get_all_keys()?;
            let versions: Vec<VersionRecord> =
                Array::from(&idb::request(&all).await?).iter().filter_map(|v| version_from_js(&v)).collect();
            let stored: Vec<String> =
                Array::from(&idb::request(&keys).await?).iter().filter_map(|k| k.as_string()).collect();
            for sha in unreferenced(versions.iter(), &stored) {
                fstore.delete(&JsValue::from_str(&sha))?;
            }
            Ok::<(), JsValue>(())
        };
        if let Err(e) = step.await {
            let _ = t.abort();
            return Err(idb::store_error(WHAT, &e));
        }
        idb::done(&t).await.map_err(|e| idb::store_error(WHAT, &e))
    }

    async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError> {
        const WHAT: &str = "reading what is cached";
        let t = tx(&self.db, &[FILES, VERSIONS], IdbTransactionMode::Readonly, WHAT)?;
        let read = async {
            let (all, keys) = (t.object_store(VERSIONS)?.get_all()?, t.object_store(FILES)?.get_all_keys()?);
            let versions: Vec<VersionRecord> =
                Array::from(&idb::request(&all).await?).iter().filter_map(|v| version_from_js(&v)).collect();
            let stored: Vec<String> =
                Array::from(&idb::request(&keys).await?).iter().filter_map(|k| k.as_string()).collect();
            Ok::<_, JsValue>((versions, stored))
        };
        read.await.map_err(|e| idb::store_error(WHAT, &e))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        const WHAT: &str = "clearing the cache";
        let t = tx(&self.db, &[FILES, VERSIONS], IdbTransactionMode::Readwrite, WHAT)?;
        let step = (|| {
            t.object_store(FILES)?.clear()?;
            t.object_store(VERSIONS)?.clear()?;
            Ok::<(), JsValue>(())
        })();
        if let Err(e) = step {
            let _ = t.abort();
            return Err(idb::store_error(WHAT, &e));
        }
        idb::done(&t).await.map_err(|e| idb::store_error(WHAT, &e))
    }
}

/// IndexedDB or memory.
pub enum FileBackend {
    Idb(IdbFileStore),
    Memory(MemoryFileStore),
}

impl FileBackend {
    /// The prefix of the Web Lock an install of one manifest takes (`localrec:{database}:`), so
    /// tabs take turns; `None` for a memory store (this page's own).
    pub fn lock_prefix(&self) -> Option<String> {
        match self {
            FileBackend::Idb(s) => Some(format!("localrec:{}:", s.db.name())),
            FileBackend::Memory(_) => None,
        }
    }

    pub async fn version(&self, manifest_url: &str) -> Result<Option<VersionRecord>, StoreError> {
        match self {
            FileBackend::Idb(s) => s.version(manifest_url).await,
            FileBackend::Memory(s) => s.version(manifest_url).await,
        }
    }

    /// Files by digest as `Uint8Array`s (copied out of memory for the memory store).
    pub async fn files_js(&self, shas: &[String]) -> Result<Vec<Option<Uint8Array>>, StoreError> {
        match self {
            FileBackend::Idb(s) => s.files(shas).await,
            FileBackend::Memory(s) => {
                Ok(s.files(shas).await?.into_iter().map(|b| b.map(|b| Uint8Array::from(&b[..]))).collect())
            }
        }
    }

    pub async fn delete_file(&self, sha: &str) -> Result<(), StoreError> {
        match self {
            FileBackend::Idb(s) => s.delete_file(sha).await,
            FileBackend::Memory(s) => s.delete_file(sha).await,
        }
    }

    pub async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError> {
        match self {
            FileBackend::Idb(s) => s.contents().await,
            FileBackend::Memory(s) => s.contents().await,
        }
    }

    pub async fn clear(&self) -> Result<(), StoreError> {
        match self {
            FileBackend::Idb(s) => s.clear().await,
            FileBackend::Memory(s) => s.clear().await,
        }
    }

    pub async fn commit_js(&self, version: &VersionRecord, files: Vec<NewFile<Uint8Array>>) -> Result<(), StoreError> {
        match self {
            FileBackend::Idb(s) => s.commit(version, files).await,
            FileBackend::Memory(s) => {
                let files = files
                    .into_iter()
                    .map(|f| NewFile { sha256: f.sha256, name: f.name, bytes: f.bytes.to_vec() })
                    .collect();
                s.commit(version, files).await
            }
        }
    }
}

/// The cache of downloaded files (`HistoryStore.fileCache()`: the same database, or memory). Every
/// method is one transaction of its own.
#[wasm_bindgen(js_name = FileCache)]
pub struct JsFileCache {
    pub(crate) backend: Rc<FileBackend>,
}

fn array_of<T: Into<JsValue>>(items: impl IntoIterator<Item = Option<T>>) -> Array {
    items.into_iter().map(|x| x.map_or(JsValue::NULL, Into::into)).collect()
}

impl JsFileCache {
    /// Over a database opened by [`idb::open_database`] (from Rust; JS gets it from `HistoryStore`).
    pub fn indexed_db(db: IdbDatabase) -> JsFileCache {
        JsFileCache { backend: Rc::new(FileBackend::Idb(IdbFileStore::new(db))) }
    }

    /// In memory.
    pub fn memory() -> JsFileCache {
        JsFileCache { backend: Rc::new(FileBackend::Memory(MemoryFileStore::new())) }
    }
}

#[wasm_bindgen(js_class = FileCache)]
impl JsFileCache {
    /// `"indexeddb"` or `"memory"`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        match &*self.backend {
            FileBackend::Idb(_) => "indexeddb".into(),
            FileBackend::Memory(_) => "memory".into(),
        }
    }

    /// The version cached for `manifestUrl`: `{ manifestUrl, manifest, files: { role: sha256 },
    /// storedAt }`, or `null` (none, or a damaged record).
    #[wasm_bindgen(js_name = getVersion)]
    pub fn get_version(&self, manifest_url: String) -> Promise {
        let backend = self.backend.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let v = backend.version(&manifest_url).await.map_err(|e| js_err(e.into()))?;
            v.map_or(Ok(JsValue::NULL), |v| version_to_js(&v))
        })
    }

    /// Files by digest, in one read: an array of `Uint8Array` (or `null` for each one missing).
    #[wasm_bindgen(js_name = getFiles)]
    pub fn get_files(&self, shas: Vec<String>) -> Promise {
        let backend = self.backend.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            Ok(array_of(backend.files_js(&shas).await.map_err(|e| js_err(e.into()))?).into())
        })
    }

    /// What the cache holds: `{ versions: [{ manifestUrl, modelVersion, storedAt, bytes }], files,
    /// bytes }` (sizes as the manifests give them).
    pub fn summary(&self) -> Promise {
        let backend = self.backend.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let (versions, stored) = backend.contents().await.map_err(|e| js_err(e.into()))?;
            let s = summarize(&versions, &stored);
            let list = Array::new();
            for v in &s.versions {
                let o = Object::new();
                Reflect::set(&o, &"manifestUrl".into(), &JsValue::from_str(&v.manifest_url))?;
                Reflect::set(&o, &"modelVersion".into(), &JsValue::from_str(&v.model_version))?;
                Reflect::set(&o, &"storedAt".into(), &JsValue::from_f64(v.stored_at))?;
                Reflect::set(&o, &"bytes".into(), &JsValue::from_f64(v.bytes as f64))?;
                list.push(&o);
            }
            let out = Object::new();
            Reflect::set(&out, &"versions".into(), &list)?;
            Reflect::set(&out, &"files".into(), &JsValue::from_f64(s.files as f64))?;
            Reflect::set(&out, &"bytes".into(), &JsValue::from_f64(s.bytes as f64))?;
            Ok(out.into())
        })
    }

    /// Deletes every cached version and file in one transaction; the histories are not touched.
    pub fn clear(&self) -> Promise {
        let backend = self.backend.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            backend.clear().await.map_err(|e| js_err(e.into()))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes one file by digest.
    #[wasm_bindgen(js_name = deleteFile)]
    pub fn delete_file(&self, sha256: String) -> Promise {
        let backend = self.backend.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            backend.delete_file(&sha256).await.map_err(|e| js_err(e.into()))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Atomically writes `files` (`[{ sha256, name, bytes: Uint8Array }]`), points
    /// `version.manifestUrl` at `version` (`{ manifestUrl, manifest, files, storedAt }`), and deletes
    /// every stored file no version references. Rejects with `quota` or `store-failed` (nothing
    /// changed), or `invalid-argument` for a malformed version or file.
    #[wasm_bindgen(js_name = commitVersion)]
    pub fn commit_version(&self, version: JsValue, files: Array) -> JsResult<Promise> {
        let version = version_from_js(&version).ok_or_else(|| {
            super::bad_input("commitVersion: version must be { manifestUrl, manifest, files: { role: sha256 } }")
        })?;
        let mut list = Vec::with_capacity(files.length() as usize);
        for f in files.iter() {
            let (Some(sha256), Some(name), Ok(bytes)) =
                (get(&f, "sha256").as_string(), get(&f, "name").as_string(), get(&f, "bytes").dyn_into::<Uint8Array>())
            else {
                return Err(super::bad_input("commitVersion: each file must be { sha256, name, bytes: Uint8Array }"));
            };
            if !crate::cache::is_sha256_hex(&sha256) {
                return Err(super::bad_input(&format!("commitVersion: {sha256:?} is not a SHA-256 hex digest")));
            }
            list.push(NewFile { sha256, name, bytes });
        }
        let backend = self.backend.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            backend.commit_js(&version, list).await.map_err(|e| js_err(e.into()))?;
            Ok(JsValue::UNDEFINED)
        }))
    }
}
