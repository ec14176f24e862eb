//! The cache of downloaded files: what a browser keeps so that later visits and offline use need no
//! network. Plain Rust: the rules live here, the IndexedDB store (`src/wasm/cache.rs`) and the
//! in-memory one ([`MemoryFileStore`]) follow them.
//!
//! ```text
//! files     key = SHA-256 hex of the bytes  -> { sha256, name, bytes }
//!           Content-addressed: a file shared by two versions (two precisions, two models, an old
//!           and a new version) is stored and downloaded once.
//! versions  key = manifest URL              -> { manifestUrl, manifest, files: { role: sha256 }, storedAt }
//!           The version a page starts from, one per manifest URL.
//! ```
//!
//! A new version is committed in one step ([`FileStore::commit`]): its files are written, its
//! manifest URL is pointed at it, and every file that no version references any more is deleted
//! ([`unreferenced`]), all or nothing, so the cache never points at a half-written version and
//! two manifests of one origin never evict each other's files.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::history::StoreError;

/// The cached version of one manifest URL.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub manifest_url: String,
    /// The manifest as JSON text (validated by [`crate::manifest::Manifest::parse`] when used).
    pub manifest_json: String,
    /// `(role, sha256)` of each file the version uses.
    pub files: Vec<(String, String)>,
    /// When it was stored (milliseconds since the epoch).
    pub stored_at: f64,
}

impl VersionRecord {
    /// Checks what a version record must hold to be usable: a manifest URL, hex digests, unique
    /// roles. A record that fails is ignored by readers (its files are downloaded again).
    pub fn validate(&self) -> Result<(), String> {
        if self.manifest_url.is_empty() {
            return Err("a version record without a manifest URL".into());
        }
        for (i, (role, sha)) in self.files.iter().enumerate() {
            if !is_sha256_hex(sha) {
                return Err(format!("file {role:?}: {sha:?} is not a SHA-256 hex digest"));
            }
            if self.files[..i].iter().any(|(r, _)| r == role) {
                return Err(format!("role {role:?} appears twice"));
            }
        }
        Ok(())
    }
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The stored files (`stored`, by digest) that none of `versions` references: what a commit deletes.
pub fn unreferenced<'a>(
    versions: impl IntoIterator<Item = &'a VersionRecord> + Clone,
    stored: &[String],
) -> Vec<String> {
    stored
        .iter()
        .filter(|sha| !versions.clone().into_iter().any(|v| v.files.iter().any(|(_, s)| s == *sha)))
        .cloned()
        .collect()
}

/// What the cache holds (`rec.storage()`): each cached version and the stored files.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSummary {
    pub versions: Vec<CachedVersion>,
    /// Stored files (shared by versions counted once).
    pub files: usize,
    /// Their bytes, as the manifests that list them give the sizes (every file was checked against
    /// its manifest size when stored).
    pub bytes: u64,
}

/// One cached version in a [`CacheSummary`].
#[derive(Debug, Clone, PartialEq)]
pub struct CachedVersion {
    pub manifest_url: String,
    /// `""` if the stored manifest does not parse (the version is then downloaded again).
    pub model_version: String,
    /// Milliseconds since the epoch.
    pub stored_at: f64,
    /// The bytes of its files.
    pub bytes: u64,
}

/// The summary of `versions` over the stored files `stored` (digests): sizes come from each
/// version's manifest; a digest no manifest sizes counts as a file of 0 bytes.
pub fn summarize(versions: &[VersionRecord], stored: &[String]) -> CacheSummary {
    // (digest, size) of each stored file some version lists, once.
    let mut sizes: Vec<(&str, u64)> = Vec::new();
    let mut out = Vec::with_capacity(versions.len());
    for v in versions {
        let manifest = crate::manifest::Manifest::parse(v.manifest_json.as_bytes()).ok();
        let size =
            |sha: &str| manifest.as_ref().and_then(|m| m.files.iter().find(|f| f.sha256 == sha)).map_or(0, |f| f.bytes);
        let mut bytes = 0;
        for (_, sha) in &v.files {
            let b = size(sha);
            bytes += b;
            if stored.contains(sha) && !sizes.iter().any(|(s, _)| s == sha) {
                sizes.push((sha.as_str(), b));
            }
        }
        out.push(CachedVersion {
            manifest_url: v.manifest_url.clone(),
            model_version: manifest.map(|m| m.model_version).unwrap_or_default(),
            stored_at: v.stored_at,
            bytes,
        });
    }
    CacheSummary { versions: out, files: stored.len(), bytes: sizes.iter().map(|(_, b)| b).sum() }
}

/// A file of a version being committed.
#[derive(Debug, Clone)]
pub struct NewFile<B> {
    pub sha256: String,
    pub name: String,
    pub bytes: B,
}

/// Where downloaded files are kept: IndexedDB in browsers, memory in tests and where IndexedDB is
/// missing. `Bytes` is how a store hands files out (a JS `Uint8Array` over IndexedDB's buffer, so
/// nothing is copied; a `Vec<u8>` in memory).
#[allow(async_fn_in_trait)] // single-threaded (wasm): no Send bound is wanted
pub trait FileStore {
    type Bytes;
    /// The version cached for `manifest_url`, if there is one and it is well-formed.
    async fn version(&self, manifest_url: &str) -> Result<Option<VersionRecord>, StoreError>;
    /// Files by digest, in one read (`None` for each one missing).
    async fn files(&self, shas: &[String]) -> Result<Vec<Option<Self::Bytes>>, StoreError>;
    /// Deletes one file (a damaged one: the next open downloads it again).
    async fn delete_file(&self, sha: &str) -> Result<(), StoreError>;
    /// Atomically writes `files`, points `version.manifest_url` at `version`, and deletes the files
    /// no version references any more.
    async fn commit(&self, version: &VersionRecord, files: Vec<NewFile<Self::Bytes>>) -> Result<(), StoreError>;
    /// Every well-formed version record and the digests of every stored file, in one read.
    async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError>;
    /// Deletes every version and every file, at once (the history is elsewhere and stays).
    async fn clear(&self) -> Result<(), StoreError>;
}

/// The [`FileStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryFileStore {
    files: RefCell<BTreeMap<String, (String, Vec<u8>)>>,
    versions: RefCell<Vec<VersionRecord>>,
    /// Bytes a commit may add before it fails with a quota error (tests); `None`: no limit.
    quota: Option<usize>,
}

impl MemoryFileStore {
    pub fn new() -> MemoryFileStore {
        MemoryFileStore::default()
    }

    /// A store whose commits fail with a quota error once they would add more than `bytes`.
    pub fn with_quota(bytes: usize) -> MemoryFileStore {
        MemoryFileStore { quota: Some(bytes), ..MemoryFileStore::default() }
    }

    /// The digests of every stored file, sorted.
    pub fn stored(&self) -> Vec<String> {
        self.files.borrow().keys().cloned().collect()
    }

    /// Flips a bit of a stored file (tests: a damaged cache).
    pub fn damage(&self, sha: &str, at: usize) -> bool {
        match self.files.borrow_mut().get_mut(sha) {
            Some((_, bytes)) if at < bytes.len() => {
                bytes[at] ^= 0x01;
                true
            }
            _ => false,
        }
    }
}

impl FileStore for MemoryFileStore {
    type Bytes = Vec<u8>;

    async fn version(&self, manifest_url: &str) -> Result<Option<VersionRecord>, StoreError> {
        Ok(self.versions.borrow().iter().find(|v| v.manifest_url == manifest_url).cloned())
    }

    async fn files(&self, shas: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let files = self.files.borrow();
        Ok(shas.iter().map(|s| files.get(s).map(|(_, b)| b.clone())).collect())
    }

    async fn delete_file(&self, sha: &str) -> Result<(), StoreError> {
        self.files.borrow_mut().remove(sha);
        Ok(())
    }

    async fn commit(&self, version: &VersionRecord, files: Vec<NewFile<Vec<u8>>>) -> Result<(), StoreError> {
        version.validate().map_err(|message| StoreError { message, quota: false })?;
        let adding: usize = files.iter().map(|f| f.bytes.len()).sum();
        if self.quota.is_some_and(|q| adding > q) {
            return Err(StoreError { message: format!("QuotaExceededError: {adding} bytes do not fit"), quota: true });
        }
        let mut stored = self.files.borrow_mut();
        for f in files {
            stored.insert(f.sha256, (f.name, f.bytes));
        }
        let mut versions = self.versions.borrow_mut();
        versions.retain(|v| v.manifest_url != version.manifest_url);
        versions.push(version.clone());
        let keys: Vec<String> = stored.keys().cloned().collect();
        for sha in unreferenced(versions.iter(), &keys) {
            stored.remove(&sha);
        }
        Ok(())
    }

    async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError> {
        Ok((self.versions.borrow().clone(), self.stored()))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.files.borrow_mut().clear();
        self.versions.borrow_mut().clear();
        Ok(())
    }
}
