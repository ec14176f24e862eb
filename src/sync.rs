//! The loader's policy, in plain Rust: fetch once, verify, version, work offline. [`load`] returns the
//! verified files a model needs, prepared by the host, from the cache when the cached version is
//! current, otherwise from the network (whole files, or deltas applied to cached bases), each checked
//! against the manifest's size and SHA-256 before any decoder sees it. With
//! [`LoadRequest::background`], a complete cached version answers at once and the manifest check
//! (and any update) is handed back as a [`Pending`] for [`update`] to run behind it.
//!
//! Every decision lives here and is tested natively (`tests/sync.rs`) over small traits:
//! [`Fetch`] (the manifest and the files), [`Digest`] (SHA-256), [`crate::cache::FileStore`] (the
//! cache) and [`Host`] (events, progress, the cross-tab lock, the decoder). The browser's
//! implementation (`src/wasm/sync.rs`) is web glue only: `fetch` with streams, WebCrypto, IndexedDB,
//! Web Locks and `navigator.storage`.
//!
//! The rules, in the order they apply:
//! * the manifest request and the read of the cached version start together;
//! * a cached file with the manifest's digest is used as is (shared between versions and tabs);
//!   otherwise the first delta whose base is cached, checked before and after it is applied, and on
//!   any failure the whole file;
//! * a cached file that fails its checksum is reported (`corrupt-cache`), deleted, and fetched again,
//!   once; a downloaded file that fails is a `checksum-mismatch`;
//! * offline, or with a manifest the server broke, the cached version answers (`offline`,
//!   `update-failed`); with no complete cached version, `offline-no-cache` or the manifest's error;
//! * a new version that cannot be installed leaves the cached one in use (`update-failed`);
//! * a new version is stored after it answers, in one commit, under the manifest's lock; a store
//!   that fails (quota) leaves it working from memory (`degraded`), the cache as it was.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use crate::cache::{FileStore, NewFile, VersionRecord};
use crate::manifest::{FileEntry, Manifest};

// ---- the decisions, as functions ----------------------------------------------------------------

/// Where one file of a new version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A cached file with the same digest (shared with the cached version, or left by another tab).
    Cached,
    /// `deltas[i]` of the entry, applied to a cached base.
    Delta(usize),
    /// The whole file.
    Full,
}

/// For each of `entries`: a cached file with its digest (`cached[i]`) is used as is; otherwise the
/// first delta whose base `has_base` reports cached; otherwise the whole file.
pub fn plan(entries: &[&FileEntry], cached: &[bool], has_base: impl Fn(&str) -> bool) -> Vec<How> {
    entries
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if cached.get(i).copied().unwrap_or(false) {
                How::Cached
            } else {
                f.deltas.iter().position(|d| has_base(&d.from_sha256)).map_or(How::Full, How::Delta)
            }
        })
        .collect()
}

/// The bytes a plan downloads (what progress counts to).
pub fn download_bytes(entries: &[&FileEntry], plan: &[How]) -> u64 {
    entries
        .iter()
        .zip(plan)
        .map(|(f, how)| match how {
            How::Cached => 0,
            How::Delta(d) => f.deltas[*d].bytes,
            How::Full => f.bytes,
        })
        .sum()
}

/// Whether `cached` is the version `entries` (of a manifest with `model_version`) describe: same
/// model version, and the same digest for every role.
pub fn is_current(
    cached: &VersionRecord,
    cached_model_version: &str,
    model_version: &str,
    entries: &[&FileEntry],
) -> bool {
    cached_model_version == model_version
        && entries.iter().all(|f| cached.files.iter().any(|(role, sha)| *role == f.role && *sha == f.sha256))
}

// ---- what the loader runs on -----------------------------------------------------------------------

/// Bytes as a host holds them (a JS `Uint8Array` in browsers, so nothing is copied on the way to
/// IndexedDB or a decoder; a `Vec<u8>` natively).
pub trait Blob: Clone {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn to_vec(&self) -> Vec<u8>;
    fn from_vec(bytes: Vec<u8>) -> Self;
}

impl Blob for Vec<u8> {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn to_vec(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_vec(bytes: Vec<u8>) -> Self {
        bytes
    }
}

/// A typed failure of the loader: one of [`crate::ERROR_CODES`] and a message. A host turns it into
/// its own error type ([`Host::error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub code: &'static str,
    pub message: String,
}

impl LoadError {
    pub fn new(code: &'static str, message: impl Into<String>) -> LoadError {
        LoadError { code, message: message.into() }
    }
}

impl From<crate::Error> for LoadError {
    fn from(e: crate::Error) -> LoadError {
        LoadError { code: e.code(), message: e.to_string() }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The types the traits share.
pub trait Io {
    type Bytes: Blob;
    /// The host's error: a [`LoadError`] converted by [`Host::error`], or one of its own (an abort,
    /// the decoder's), which the loader passes through.
    type Error: Clone;
}

/// What the manifest request gave: its text, or why the server could not be reached (offline, an
/// HTTP error): a reason to answer from the cache, not an error.
pub enum Fetched<E> {
    Text(String),
    Unreachable(E),
}

/// The network.
#[allow(async_fn_in_trait)] // single-threaded (wasm): no Send bound is wanted
pub trait Fetch: Io {
    /// The manifest request, started when this is called (so that it runs while the cache is read)
    /// and awaited later. Fails only when aborted.
    type ManifestFetch: Future<Output = Result<Fetched<Self::Error>, Self::Error>>;
    fn fetch_manifest(&self, url: &str) -> Self::ManifestFetch;
    /// Downloads `name` (relative to `base_url`), which the manifest says is `bytes` long, calling
    /// `on_chunk(n)` as bytes arrive. Fails with `network` or `size-mismatch` (or an abort).
    async fn download(
        &self,
        base_url: &str,
        name: &str,
        bytes: u64,
        on_chunk: &dyn Fn(u64),
    ) -> Result<Self::Bytes, Self::Error>;
    /// Whether the caller has aborted (its signal): then nothing falls back, the abort is returned.
    fn aborted(&self) -> bool;
}

/// SHA-256.
#[allow(async_fn_in_trait)]
pub trait Digest: Io {
    /// Lowercase hex.
    async fn sha256(&self, bytes: &Self::Bytes) -> Result<String, Self::Error>;
    /// Each of `files`, all started at once (a host may await them together).
    async fn sha256_all(&self, files: &[&Self::Bytes]) -> Result<Vec<String>, Self::Error> {
        join_all(files.iter().map(|b| self.sha256(b)).collect()).await.into_iter().collect()
    }
}

/// What the page or worker provides around the loader.
#[allow(async_fn_in_trait)]
pub trait Host: Io {
    /// What [`Host::prepare`] builds from verified files (a model).
    type Prepared;
    /// Holds the manifest's cross-tab lock until dropped.
    type Guard;
    /// Builds the model from verified bytes, keyed by base role (a variant's `tower-weights@b` as
    /// `tower-weights`; an optional role the manifest lacks is absent).
    fn prepare(&self, files: &[(&str, &Self::Bytes)]) -> Result<Self::Prepared, Self::Error>;
    fn error(&self, e: LoadError) -> Self::Error;
    fn message(&self, e: &Self::Error) -> String;
    fn emit(&self, event: LoadEvent<Self::Error>);
    /// Bytes downloaded so far (of `total`), after each chunk of `file` (`None`: the start).
    fn progress(&self, file: Option<&str>, done: u64, total: u64);
    /// The manifest's lock, shared with other tabs of this origin (`None`: no lock to take, or the
    /// browser refused it; the loader goes on without).
    async fn lock(&self, url: &str) -> Option<Self::Guard>;
    /// The room the storage reports (`None`: unknown).
    async fn room(&self) -> Option<f64>;
    /// Milliseconds since the epoch.
    fn now(&self) -> f64;
}

/// Everything [`load`] needs.
pub trait Env: Fetch + Digest + Host {
    type Store: FileStore<Bytes = Self::Bytes>;
    fn store(&self) -> &Self::Store;
}

/// What the loader reports on the way (each is also an `onEvent` of the JS API, typed by
/// [`LoadEvent::kind`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LoadEvent<E> {
    /// A cached file failed its checksum: deleted, fetched again.
    CorruptCache { file: String, message: String },
    /// A delta could not be used: the whole file is downloaded instead.
    DeltaFailed { file: String, message: String },
    /// The manifest is unreachable: the cached version answers.
    Offline { message: String },
    /// The manifest or the new version is unusable: the cached version answers.
    UpdateFailed { message: String, error: E },
    /// The new version could not be stored: it works from memory.
    Degraded { message: String, quota: bool },
}

impl<E> LoadEvent<E> {
    /// The event's `type` in the JS API.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadEvent::CorruptCache { .. } => "corrupt-cache",
            LoadEvent::DeltaFailed { .. } => "delta-failed",
            LoadEvent::Offline { .. } => "offline",
            LoadEvent::UpdateFailed { .. } => "update-failed",
            LoadEvent::Degraded { .. } => "degraded",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            LoadEvent::CorruptCache { message, .. }
            | LoadEvent::DeltaFailed { message, .. }
            | LoadEvent::Offline { message }
            | LoadEvent::UpdateFailed { message, .. }
            | LoadEvent::Degraded { message, .. } => message,
        }
    }
}

// ---- the loader --------------------------------------------------------------------------------

/// What to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    /// The manifest's absolute URL (also the key of its cached version).
    pub url: String,
    /// The roles asked for; a variant's own files come first where it has them.
    pub roles: Vec<String>,
    /// The device's random id (assigns the experiment's variant).
    pub device: Option<String>,
    /// A variant forced by name.
    pub variant: Option<String>,
    /// Answer from a complete cached version at once, and check the manifest behind it.
    pub background: bool,
}

impl LoadRequest {
    /// The roles to load from `manifest`: the variant's own file first where it has one.
    pub fn roles_for(&self, manifest: &Manifest) -> Vec<String> {
        let assigned = || Some(manifest.variant_for(self.device.as_deref()?)?.name.clone());
        let variant = self.variant.clone().or_else(assigned);
        crate::manifest::variant_roles(&self.roles, variant.as_deref())
    }
}

/// Where the files of a [`Loaded`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Network,
    /// At least one file was rebuilt from a delta.
    Delta,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Network => "network",
            Source::Delta => "delta",
        }
    }
}

/// A version ready to answer.
pub struct Loaded<E: Env> {
    /// The manifest of the version, validated.
    pub manifest: Manifest,
    /// Its text (what a part of the same version loaded behind the first answer reads, rather than
    /// fetching the manifest again).
    pub manifest_text: String,
    pub prepared: E::Prepared,
    pub source: Source,
    /// Why the cached version answers instead of the manifest's (an update that failed).
    pub update_error: Option<E::Error>,
    /// What is left to store (`None`: nothing new). Hand it to [`store`] once the version answers.
    pub store: Option<StoreJob<E>>,
}

/// A new version's files and record, to commit behind the first answer. Holds the manifest's lock
/// (if taken) until [`store`] is done with it, so that a second tab then finds these files cached.
pub struct StoreJob<E: Env> {
    version: VersionRecord,
    files: Vec<NewFile<E::Bytes>>,
    model_version: String,
    _guard: Option<E::Guard>,
}

/// The manifest check left behind an answer from the cache (background mode): run it with [`update`].
pub struct Pending<E: Env> {
    cached: Cached<E::Bytes>,
    manifest: E::ManifestFetch,
}

/// The cached version of the manifest URL, with its parsed manifest and its files (`None` where
/// missing or found damaged).
struct Cached<B> {
    version: VersionRecord,
    manifest: Manifest,
    bytes: Vec<Option<B>>,
}

/// Polls every future until all are done (single-threaded: a join without a runtime). Every
/// download and digest is started before the first is awaited.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future is done")).collect()
}

fn current_for<B>(cached: Option<&Cached<B>>, manifest: &Manifest, roles: &[String]) -> bool {
    let Ok(entries) = manifest.entries(roles) else { return false };
    cached.is_some_and(|c| is_current(&c.version, &c.manifest.model_version, &manifest.model_version, &entries))
}

async fn read_cached<E: Env>(env: &E, req: &LoadRequest) -> Option<Cached<E::Bytes>> {
    let version = env.store().version(&req.url).await.ok()??;
    let manifest = Manifest::parse(version.manifest_json.as_bytes()).ok()?;
    let shas: Vec<String> =
        manifest.entries(&req.roles_for(&manifest)).ok()?.iter().map(|f| f.sha256.clone()).collect();
    let bytes = env.store().files(&shas).await.unwrap_or_else(|_| vec![None; shas.len()]);
    Some(Cached { version, manifest, bytes })
}

/// Hashes every file and, only once every digest matches, lets the host decode them: no unverified
/// byte reaches a decoder. `Ok(Err(bad))` lists the files whose bytes are wrong or missing.
async fn verify_and_prepare<E: Env>(
    env: &E,
    entries: &[&FileEntry],
    bytes: &[Option<E::Bytes>],
) -> Result<Result<E::Prepared, Vec<usize>>, E::Error> {
    // Only files of the right size are hashed, all at once.
    let sized: Vec<usize> =
        (0..entries.len()).filter(|&i| bytes[i].as_ref().is_some_and(|b| b.len() == entries[i].bytes)).collect();
    let digests = env.sha256_all(&sized.iter().filter_map(|&i| bytes[i].as_ref()).collect::<Vec<_>>()).await?;
    let bad: Vec<usize> = (0..entries.len())
        .filter(|&i| sized.iter().position(|&j| j == i).is_none_or(|k| digests[k] != entries[i].sha256))
        .collect();
    if !bad.is_empty() {
        return Ok(Err(bad));
    }
    let files: Vec<(&str, &E::Bytes)> = entries
        .iter()
        .zip(bytes)
        .filter_map(|(f, b)| Some((f.role.split('@').next().unwrap_or(&f.role), b.as_ref()?)))
        .collect();
    Ok(Ok(env.prepare(&files)?))
}

/// The cached version, verified and prepared, or `None` when there is none or a file is missing or
/// damaged (a damaged file is reported and deleted, and its bytes dropped from `cached`).
async fn from_cache<E: Env>(
    env: &E,
    req: &LoadRequest,
    cached: &mut Option<Cached<E::Bytes>>,
    update_error: Option<E::Error>,
) -> Result<Option<Loaded<E>>, E::Error> {
    let Some(c) = cached.as_mut() else { return Ok(None) };
    let manifest = c.manifest.clone();
    let entries = manifest.entries(&req.roles_for(&manifest)).map_err(|e| env.error(e.into()))?;
    let bad = match verify_and_prepare(env, &entries, &c.bytes).await? {
        Ok(prepared) => {
            return Ok(Some(Loaded {
                manifest: manifest.clone(),
                manifest_text: c.version.manifest_json.clone(),
                prepared,
                source: Source::Cache,
                update_error,
                store: None,
            }))
        }
        Err(bad) => bad,
    };
    for i in bad {
        let f = entries[i];
        if c.bytes[i].is_some() {
            env.emit(LoadEvent::CorruptCache {
                file: f.name.clone(),
                message: format!("cached {} failed its checksum: discarded, fetching it again", f.name),
            });
            let _ = env.store().delete_file(&f.sha256).await;
        }
        c.bytes[i] = None;
    }
    Ok(None)
}

/// A file rebuilt from a cached base and a downloaded delta, checked against the new file's size and
/// digest; any failure is the caller's cue to download the whole file.
async fn by_delta<E: Env>(
    env: &E,
    req: &LoadRequest,
    f: &FileEntry,
    d: usize,
    base: &E::Bytes,
    tick: &dyn Fn(u64),
) -> Result<E::Bytes, E::Error> {
    let delta = &f.deltas[d];
    if env.sha256(base).await? != delta.from_sha256 {
        return Err(env.error(LoadError::new("checksum-mismatch", "the delta's base in the cache is damaged")));
    }
    let bytes = env.download(&req.url, &delta.name, delta.bytes, tick).await?;
    if env.sha256(&bytes).await? != delta.sha256 {
        return Err(env.error(LoadError::new(
            "checksum-mismatch",
            format!("{}: SHA-256 does not match the manifest", delta.name),
        )));
    }
    let rebuilt =
        crate::catalog::delta::apply_delta_bytes(&base.to_vec(), &bytes.to_vec()).map_err(|e| env.error(e.into()))?;
    let rebuilt = E::Bytes::from_vec(rebuilt);
    if rebuilt.len() != f.bytes || env.sha256(&rebuilt).await? != f.sha256 {
        return Err(env.error(LoadError::new(
            "checksum-mismatch",
            format!("{} rebuilt from {} does not match the manifest's SHA-256", f.name, delta.name),
        )));
    }
    Ok(rebuilt)
}

/// Gets one file as planned (`held`: the cached file, or the delta's base): a delta on its base
/// (falling back to the whole file), the cached bytes, or a download.
async fn get_file<E: Env>(
    env: &E,
    req: &LoadRequest,
    f: &FileEntry,
    (how, held): (How, Option<E::Bytes>),
    tick: &dyn Fn(&str, u64),
    used_delta: &Cell<bool>,
) -> Result<E::Bytes, E::Error> {
    if let (How::Delta(d), Some(base)) = (how, &held) {
        let name = &f.deltas[d].name;
        match by_delta(env, req, f, d, base, &|n| tick(name, n)).await {
            Ok(bytes) => {
                used_delta.set(true);
                return Ok(bytes);
            }
            Err(e) if env.aborted() => return Err(e),
            Err(e) => env.emit(LoadEvent::DeltaFailed {
                file: f.name.clone(),
                message: format!("{}: downloading the whole file", env.message(&e)),
            }),
        }
    }
    match (how, held) {
        (How::Cached, Some(b)) => Ok(b),
        _ => env.download(&req.url, &f.name, f.bytes, &|n| tick(&f.name, n)).await,
    }
}

/// Gets every file of a new version (cache by digest, delta, or download, all at once), verifies and
/// prepares it. A cached file found damaged is deleted and fetched again, once.
async fn install<E: Env>(
    env: &E,
    req: &LoadRequest,
    text: String,
    manifest: Manifest,
    cached: Option<&Cached<E::Bytes>>,
) -> Result<Loaded<E>, E::Error> {
    let entries = manifest.entries(&req.roles_for(&manifest)).map_err(|e| env.error(e.into()))?;
    let mut attempt = 0;
    loop {
        let shas: Vec<String> = entries.iter().map(|f| f.sha256.clone()).collect();
        let have = env.store().files(&shas).await.unwrap_or_else(|_| vec![None; shas.len()]);
        // Delta bases: the cached version's files first, then any cached file with that digest.
        let mut bases: Vec<(String, E::Bytes)> = Vec::new();
        if let Some(c) = cached {
            let old = c.manifest.entries(&req.roles_for(&c.manifest)).unwrap_or_default();
            for (f, b) in old.iter().zip(&c.bytes) {
                if let Some(b) = b {
                    bases.push((f.sha256.clone(), b.clone()));
                }
            }
        }
        let wanted: Vec<String> = entries
            .iter()
            .flat_map(|f| f.deltas.iter().map(|d| d.from_sha256.clone()))
            .filter(|s| !bases.iter().any(|(b, _)| b == s))
            .collect();
        if !wanted.is_empty() {
            if let Ok(found) = env.store().files(&wanted).await {
                bases.extend(wanted.into_iter().zip(found).filter_map(|(s, b)| b.map(|b| (s, b))));
            }
        }
        let have_flags: Vec<bool> = have.iter().map(Option::is_some).collect();
        let steps = plan(&entries, &have_flags, |s| bases.iter().any(|(b, _)| b == s));
        let total = download_bytes(&entries, &steps);
        env.progress(None, 0, total);
        let done = Cell::new(0u64);
        let tick = |file: &str, n: u64| {
            done.set(done.get() + n);
            env.progress(Some(file), done.get(), total);
        };
        let used_delta = Cell::new(false);
        let results = join_all(
            steps
                .iter()
                .enumerate()
                .map(|(i, &how)| {
                    let held = match how {
                        How::Delta(d) => {
                            bases.iter().find(|(s, _)| *s == entries[i].deltas[d].from_sha256).map(|(_, b)| b.clone())
                        }
                        How::Cached => have[i].clone(),
                        How::Full => None,
                    };
                    get_file(env, req, entries[i], (how, held), &tick, &used_delta)
                })
                .collect(),
        )
        .await;
        let mut bytes = Vec::with_capacity(results.len());
        for r in results {
            bytes.push(Some(r?));
        }
        let prepared = match verify_and_prepare(env, &entries, &bytes).await? {
            Ok(p) => p,
            Err(bad) => {
                let mut from_cache = Vec::new();
                for &i in &bad {
                    if steps[i] == How::Cached {
                        let f = entries[i];
                        env.emit(LoadEvent::CorruptCache {
                            file: f.name.clone(),
                            message: format!("cached {} failed its checksum: fetching it again", f.name),
                        });
                        let _ = env.store().delete_file(&f.sha256).await;
                        from_cache.push(i);
                    }
                }
                if let Some(&i) = bad.iter().find(|i| !from_cache.contains(i)) {
                    let f = entries[i];
                    return Err(env.error(LoadError::new(
                        "checksum-mismatch",
                        format!("{}: SHA-256 does not match the manifest's {}", f.name, f.sha256),
                    )));
                }
                if attempt < 1 {
                    attempt += 1;
                    continue;
                }
                let names: Vec<&str> = bad.iter().map(|&i| entries[i].name.as_str()).collect();
                return Err(env.error(LoadError::new(
                    "checksum-mismatch",
                    format!("cached files keep failing their checksum: {}", names.join(", ")),
                )));
            }
        };
        let mut fresh: Vec<NewFile<E::Bytes>> = Vec::new();
        for (i, f) in entries.iter().enumerate() {
            if steps[i] != How::Cached && !fresh.iter().any(|n| n.sha256 == f.sha256) {
                if let Some(b) = bytes[i].clone() {
                    fresh.push(NewFile { sha256: f.sha256.clone(), name: f.name.clone(), bytes: b });
                }
            }
        }
        let source = if used_delta.get() {
            Source::Delta
        } else if fresh.is_empty() {
            Source::Cache
        } else {
            Source::Network
        };
        let version = VersionRecord {
            manifest_url: req.url.clone(),
            manifest_json: text.clone(),
            files: entries.iter().map(|f| (f.role.clone(), f.sha256.clone())).collect(),
            stored_at: env.now(),
        };
        let model_version = manifest.model_version.clone();
        return Ok(Loaded {
            manifest: manifest.clone(),
            manifest_text: text.clone(),
            prepared,
            source,
            update_error: None,
            store: Some(StoreJob { version, files: fresh, model_version, _guard: None }),
        });
    }
}

/// Commits a new version (after checking the room the storage reports), then releases the
/// manifest's lock. `false` when it could not be stored: the version works from memory and a
/// `degraded` event says why; the cache keeps what it had.
pub async fn store<E: Env>(env: &E, job: StoreJob<E>) -> bool {
    let StoreJob { version, files, model_version, _guard } = job;
    let need: f64 = files.iter().map(|f| f.bytes.len() as f64).sum();
    let result = match env.room().await {
        Some(room) if room < need => Err((true, format!("QuotaExceededError: need {need} bytes, {room} available"))),
        _ => env.store().commit(&version, files).await.map_err(|e| (e.quota, e.message)),
    };
    drop(_guard); // the next tab now reads what this one cached
    match result {
        Ok(()) => true,
        Err((quota, message)) => {
            env.emit(LoadEvent::Degraded {
                message: format!("could not cache version {model_version}: {message}; working from memory"),
                quota,
            });
            false
        }
    }
}

/// Installs under the manifest's lock (where the host has one), kept until the new version is
/// stored: a second tab opening the same manifest waits, then finds this tab's files in the cache.
/// Another tab may have installed the version meanwhile: then it is read back.
async fn upgrade<E: Env>(
    env: &E,
    req: &LoadRequest,
    text: String,
    manifest: Manifest,
    cached: Option<&Cached<E::Bytes>>,
) -> Result<Loaded<E>, E::Error> {
    let guard = env.lock(&req.url).await;
    let roles = req.roles_for(&manifest);
    if guard.is_some() && !current_for(cached, &manifest, &roles) {
        let mut again = read_cached(env, req).await;
        if current_for(again.as_ref(), &manifest, &roles) {
            if let Some(r) = from_cache(env, req, &mut again, None).await? {
                return Ok(r);
            }
        }
    }
    let mut r = install(env, req, text, manifest, cached).await?;
    if let Some(job) = &mut r.store {
        job._guard = guard;
    }
    Ok(r)
}

/// The manifest is unreachable (`why`): the cached version answers.
fn report_offline<E: Env>(env: &E, why: &E::Error) {
    let message = format!("manifest unreachable ({}): using the cached version", env.message(why));
    env.emit(LoadEvent::Offline { message });
}

/// The manifest, or the update to `version`, is unusable (`error`): the cached version answers.
fn report_update_failed<E: Env>(env: &E, version: Option<&str>, error: E::Error) {
    let message = match version {
        Some(v) => format!("update to {v} failed ({}): using the cached version", env.message(&error)),
        None => format!("{}: using the cached version", env.message(&error)),
    };
    env.emit(LoadEvent::UpdateFailed { message, error });
}

/// Parses a fetched manifest and checks it has the roles asked for.
fn parse_manifest<E: Env>(env: &E, req: &LoadRequest, text: &str) -> Result<Manifest, E::Error> {
    Manifest::parse(text.as_bytes())
        .and_then(|m| m.entries(&req.roles_for(&m)).map(|_| ()).map(|()| m))
        .map_err(|e| env.error(e.into()))
}

/// Loads the version to answer from (see the module docs). With `req.background` and a complete
/// cached version, that version is returned with the manifest check [`Pending`]. Fails with
/// `offline-no-cache`, `invalid-manifest`, `checksum-mismatch`, `network`, ... when no version can
/// be used, or with the host's abort.
pub async fn load<E: Env>(env: &E, req: &LoadRequest) -> Result<(Loaded<E>, Option<Pending<E>>), E::Error> {
    // The manifest request and the read of the cached version run at the same time.
    let manifest_fetch = env.fetch_manifest(&req.url);
    let mut cached = read_cached(env, req).await;

    if req.background {
        if let Some(r) = from_cache(env, req, &mut cached, None).await? {
            let cached = cached.take().expect("from_cache answered from it");
            return Ok((r, Some(Pending { cached, manifest: manifest_fetch })));
        }
    }

    let text = match manifest_fetch.await? {
        Fetched::Text(t) => t,
        Fetched::Unreachable(why) => {
            if let Some(r) = from_cache(env, req, &mut cached, None).await? {
                report_offline(env, &why);
                return Ok((r, None));
            }
            return Err(env.error(LoadError::new(
                "offline-no-cache",
                format!("cannot fetch {} ({}) and no complete version is cached", req.url, env.message(&why)),
            )));
        }
    };
    // A broken manifest on the server must not break returning visitors: keep the cached version.
    let manifest = match parse_manifest(env, req, &text) {
        Ok(m) => m,
        Err(e) => {
            if let Some(r) = from_cache(env, req, &mut cached, Some(e.clone())).await? {
                report_update_failed(env, None, e);
                return Ok((r, None));
            }
            return Err(e);
        }
    };
    if current_for(cached.as_ref(), &manifest, &req.roles_for(&manifest)) {
        if let Some(r) = from_cache(env, req, &mut cached, None).await? {
            return Ok((r, None));
        }
        // A cached file was damaged and discarded: fetch what is missing below.
    }
    let model_version = manifest.model_version.clone();
    let upgraded = upgrade(env, req, text, manifest, cached.as_ref()).await;
    match upgraded {
        Ok(r) => Ok((r, None)),
        Err(e) if env.aborted() => Err(e),
        Err(e) => {
            // The new version could not be installed: keep the previous one if there is one (read
            // again: a damaged file may have been deleted meanwhile).
            let mut back = match cached {
                Some(c) => Some(c),
                None => read_cached(env, req).await,
            };
            if let Some(r) = from_cache(env, req, &mut back, Some(e.clone())).await? {
                report_update_failed(env, Some(&model_version), e);
                return Ok((r, None));
            }
            Err(e)
        }
    }
}

/// The cached version of `req.url`, verified and prepared, from the cache alone: no manifest
/// request, no download. `None` when none is cached or a file is missing or damaged (a damaged file
/// is reported and deleted, as [`load`] does). How a returning visit attaches a part it cached
/// before its first answer, without ever waiting for the network.
pub async fn load_cached<E: Env>(env: &E, req: &LoadRequest) -> Result<Option<Loaded<E>>, E::Error> {
    let mut cached = read_cached(env, req).await;
    from_cache(env, req, &mut cached, None).await
}

/// The background half of an offline-first start: checks the manifest and installs a newer version
/// while the cached one answers. `None` when there is nothing newer, or it could not be had (an
/// `offline` or `update-failed` event says why); never fails.
pub async fn update<E: Env>(env: &E, req: &LoadRequest, pending: Pending<E>) -> Option<Loaded<E>> {
    let Pending { cached, manifest } = pending;
    let text = match manifest.await.ok()? {
        Fetched::Text(t) => t,
        Fetched::Unreachable(why) => {
            report_offline(env, &why);
            return None;
        }
    };
    let manifest = match parse_manifest(env, req, &text) {
        Ok(m) => m,
        Err(e) => {
            report_update_failed(env, None, e);
            return None;
        }
    };
    if current_for(Some(&cached), &manifest, &req.roles_for(&manifest)) {
        return None;
    }
    let model_version = manifest.model_version.clone();
    match upgrade(env, req, text, manifest, Some(&cached)).await {
        Ok(r) => Some(r),
        Err(e) => {
            if !env.aborted() {
                report_update_failed(env, Some(&model_version), e);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DeltaEntry;

    fn sha(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn entry(role: &str, n: u8, bytes: u64, deltas: &[(u8, u64)]) -> FileEntry {
        FileEntry {
            name: format!("{role}.bin"),
            role: role.into(),
            bytes,
            sha256: sha(n),
            deltas: deltas
                .iter()
                .map(|&(from, b)| DeltaEntry {
                    from_sha256: sha(from),
                    name: format!("{role}.from-{from}"),
                    bytes: b,
                    sha256: sha(from + 100),
                })
                .collect(),
        }
    }

    #[test]
    fn cached_files_then_deltas_then_whole_files() {
        let (t, i, m) = (
            entry("tower", 1, 1000, &[]),
            entry("items", 2, 5000, &[(7, 300), (8, 200)]),
            entry("meta", 3, 400, &[(9, 50)]),
        );
        let entries = [&t, &i, &m];
        // The tower is cached; the items' second delta has its base; the metadata's has none.
        let p = plan(&entries, &[true, false, false], |s| s == sha(8));
        assert_eq!(p, [How::Cached, How::Delta(1), How::Full]);
        assert_eq!(download_bytes(&entries, &p), 200 + 400);
        // The first listed delta wins when both bases are there.
        assert_eq!(plan(&entries, &[false, false, false], |_| true), [How::Full, How::Delta(0), How::Delta(0)]);
        assert_eq!(plan(&entries, &[], |_| false), [How::Full, How::Full, How::Full]);
    }

    #[test]
    fn current_means_same_model_version_and_digests() {
        let (t, i) = (entry("tower", 1, 10, &[]), entry("items", 2, 10, &[]));
        let v = VersionRecord {
            manifest_url: "u".into(),
            manifest_json: "{}".into(),
            files: vec![("tower".into(), sha(1)), ("items".into(), sha(2))],
            stored_at: 0.0,
        };
        assert!(is_current(&v, "m1", "m1", &[&t, &i]));
        assert!(!is_current(&v, "m1", "m2", &[&t, &i]));
        let other = entry("items", 3, 10, &[]);
        assert!(!is_current(&v, "m1", "m1", &[&t, &other]));
        let f32_table = entry("items-f32", 2, 10, &[]);
        assert!(!is_current(&v, "m1", "m1", &[&f32_table]), "a role the version lacks");
    }
}
