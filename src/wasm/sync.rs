//! The loader's web glue: `fetch` with streams, WebCrypto, IndexedDB, Web Locks and
//! `navigator.storage`, behind the traits of [`crate::sync`], which decides everything (what is
//! current, where each file comes from, what falls back to what) and is tested natively.
//!
//! Everything JS-facing is reached through `Reflect`: the same code runs in a window and in a worker,
//! with the app's own `fetch` if it passed one.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::cache::{FileBackend, JsFileCache};
use super::error_with_code;
use crate::cache::{FileStore, NewFile, VersionRecord};
use crate::history::StoreError;
use crate::sync::{Blob, Digest, Env, Fetch, Fetched, Host, Io, LoadError, LoadEvent, LoadRequest, Loaded};

type JsResult<T> = Result<T, JsValue>;

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(o: &Object, key: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(key), v);
}

/// Calls `obj.method(args...)`.
fn call(obj: &JsValue, method: &str, args: &[&JsValue]) -> JsResult<JsValue> {
    let f: Function =
        get(obj, method).dyn_into().map_err(|_| JsValue::from_str(&format!("{method} is not a function")))?;
    match args {
        [] => f.call0(obj),
        [a] => f.call1(obj, a),
        [a, b] => f.call2(obj, a, b),
        _ => f.apply(obj, &args.iter().copied().collect::<Array>()),
    }
}

async fn await_js(v: JsValue) -> JsResult<JsValue> {
    super::wait::value(v).await
}

pub(crate) fn message_of(e: &JsValue) -> String {
    get(e, "message").as_string().or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

impl Blob for Uint8Array {
    fn len(&self) -> u64 {
        u64::from(self.length())
    }
    fn to_vec(&self) -> Vec<u8> {
        Uint8Array::to_vec(self)
    }
    fn from_vec(bytes: Vec<u8>) -> Self {
        Uint8Array::from(&bytes[..])
    }
}

impl FileStore for FileBackend {
    type Bytes = Uint8Array;

    async fn version(&self, manifest_url: &str) -> Result<Option<VersionRecord>, StoreError> {
        FileBackend::version(self, manifest_url).await
    }
    async fn files(&self, shas: &[String]) -> Result<Vec<Option<Uint8Array>>, StoreError> {
        self.files_js(shas).await
    }
    async fn delete_file(&self, sha: &str) -> Result<(), StoreError> {
        FileBackend::delete_file(self, sha).await
    }
    async fn commit(&self, version: &VersionRecord, files: Vec<NewFile<Uint8Array>>) -> Result<(), StoreError> {
        self.commit_js(version, files).await
    }
    async fn contents(&self) -> Result<(Vec<VersionRecord>, Vec<String>), StoreError> {
        FileBackend::contents(self).await
    }
    async fn clear(&self) -> Result<(), StoreError> {
        FileBackend::clear(self).await
    }
}

/// The network side: the caller's (or the global) `fetch` and its abort signal.
#[derive(Clone)]
struct Net {
    fetch: Function,
    signal: JsValue,
    /// The manifest's text as the page already fetched it (`options.manifestText`: the first
    /// answer of a first visit is read from it), used instead of fetching it again.
    text: Option<String>,
}

impl Net {
    fn aborted(&self) -> bool {
        get(&self.signal, "aborted").is_truthy()
    }

    /// `fetch(url, { cache, signal })`.
    async fn fetch(&self, url: &str, cache: &str) -> JsResult<JsValue> {
        let init = Object::new();
        set(&init, "cache", &JsValue::from_str(cache));
        if !self.signal.is_undefined() && !self.signal.is_null() {
            set(&init, "signal", &self.signal);
        }
        let p = self.fetch.call2(&JsValue::NULL, &JsValue::from_str(url), &init)?;
        await_js(p).await
    }

    /// The manifest's text, or why it could not be fetched (offline, HTTP error). Fails only when aborted.
    async fn manifest(&self, url: &str) -> JsResult<Fetched<JsValue>> {
        if let Some(t) = &self.text {
            return Ok(Fetched::Text(t.clone()));
        }
        let res = match self.fetch(url, "no-cache").await {
            Ok(r) => r,
            Err(e) if self.aborted() => return Err(e),
            Err(e) => return Ok(Fetched::Unreachable(e)),
        };
        if !get(&res, "ok").is_truthy() {
            let status = get(&res, "status").as_f64().unwrap_or(0.0);
            return Ok(Fetched::Unreachable(js_sys::Error::new(&format!("HTTP {status} for {url}")).into()));
        }
        match call(&res, "text", &[]) {
            Ok(p) => match await_js(p).await {
                Ok(t) => Ok(Fetched::Text(t.as_string().unwrap_or_default())),
                Err(e) if self.aborted() => Err(e),
                Err(e) => Ok(Fetched::Unreachable(e)),
            },
            Err(e) => Ok(Fetched::Unreachable(e)),
        }
    }
}

/// What the loader builds from the verified files: the page's own object (`syncArtifacts`'
/// `prepare`), or a part the session decodes itself ([`Session.loadBehind`](super::session)).
pub(crate) enum Prepare {
    Js(Function),
    Stage,
    Refine,
    Model,
}

/// What [`Prepare`] built.
pub(crate) enum Part {
    Js(JsValue),
    Stage(crate::rerank::RankingStage),
    Refine(crate::catalog::PqResidual),
    Model(Box<crate::session::Model>),
}

/// The browser's loader environment: what `syncArtifacts` (or the session) was given.
pub(crate) struct WebEnv {
    net: Net,
    store: Rc<FileBackend>,
    on_progress: Function,
    /// Receives each loader event, as the object the page sees.
    on_event: Box<dyn Fn(JsValue)>,
    prepare: Prepare,
    /// The Web Lock's name prefix (`None`: no lock, as for a memory store).
    lock: Option<String>,
}

impl WebEnv {
    /// Over `store`, with `options.fetch` (else the global one), `options.signal` and
    /// `options.manifestText` (the manifest as the page fetched it, if it did).
    pub(crate) fn new(
        store: &Rc<FileBackend>,
        options: &JsValue,
        on_progress: Function,
        on_event: Box<dyn Fn(JsValue)>,
        prepare: Prepare,
    ) -> JsResult<WebEnv> {
        let fetch = match get(options, "fetch").dyn_into::<Function>() {
            Ok(f) => f,
            Err(_) => match get(&js_sys::global(), "fetch").dyn_into::<Function>() {
                Ok(f) => f.bind0(&js_sys::global()).unchecked_into(),
                Err(_) => return Err(error_with_code("network", "this context has no fetch")),
            },
        };
        Ok(WebEnv {
            net: Net { fetch, signal: get(options, "signal"), text: get(options, "manifestText").as_string() },
            store: Rc::clone(store),
            on_progress,
            on_event,
            prepare,
            // Installs of one manifest in one database take turns across tabs (a memory store is
            // this page's own).
            lock: store.lock_prefix(),
        })
    }
}

impl WebEnv {
    /// Reads the manifest from `text` instead of fetching it (a part of the version in use, loaded
    /// behind its first answer, follows that version's manifest).
    pub(crate) fn with_manifest_text(mut self, text: Option<String>) -> WebEnv {
        if text.is_some() {
            self.net.text = text;
        }
        self
    }
}

impl Io for WebEnv {
    type Bytes = Uint8Array;
    type Error = JsValue;
}

impl Fetch for WebEnv {
    type ManifestFetch = Pin<Box<dyn Future<Output = JsResult<Fetched<JsValue>>>>>;

    fn fetch_manifest(&self, url: &str) -> Self::ManifestFetch {
        // Spawned now (a promise), so that the request runs while the cache is read; the text
        // resolves as a string, an unreachable server as an error object, an abort rejects.
        let (net, url) = (self.net.clone(), url.to_owned());
        let started = future_to_promise(async move {
            Ok(match net.manifest(&url).await? {
                Fetched::Text(t) => JsValue::from_str(&t),
                Fetched::Unreachable(e) if e.is_string() => {
                    js_sys::Error::new(&e.as_string().unwrap_or_default()).into()
                }
                Fetched::Unreachable(e) => e,
            })
        });
        // Awaited from now on (its rejection is handled even if never polled).
        let started = super::wait::promise(&started);
        Box::pin(async move {
            let v = started.await?;
            Ok(match v.as_string() {
                Some(t) => Fetched::Text(t),
                None => Fetched::Unreachable(v),
            })
        })
    }

    /// Streams one file, reporting each chunk, and checks its size (the digest is the core's).
    async fn download(&self, base_url: &str, name: &str, expect: u64, on_chunk: &dyn Fn(u64)) -> JsResult<Uint8Array> {
        let url = web_sys::Url::new_with_base(name, base_url)?.href();
        let failed = |why: String| error_with_code("network", &format!("download of {name} failed: {why}"));
        // no-store: the verified bytes go to IndexedDB; a second copy in the HTTP cache would only cost time and disk.
        let res = match self.net.fetch(&url, "no-store").await {
            Ok(r) => r,
            Err(e) if self.net.aborted() => return Err(e),
            Err(e) => return Err(failed(message_of(&e))),
        };
        if !get(&res, "ok").is_truthy() {
            return Err(failed(format!("HTTP {}", get(&res, "status").as_f64().unwrap_or(0.0))));
        }
        let too_long =
            || error_with_code("size-mismatch", &format!("{name} is larger than the manifest's {expect} bytes"));
        let out = Uint8Array::new_with_length(expect as u32);
        let mut at: u64 = 0;
        let body = get(&res, "body");
        let streamed: JsResult<()> = async {
            if get(&body, "getReader").is_function() {
                let reader = call(&body, "getReader", &[])?;
                loop {
                    let chunk = await_js(call(&reader, "read", &[])?).await?;
                    if get(&chunk, "done").is_truthy() {
                        break;
                    }
                    let value: Uint8Array = get(&chunk, "value").dyn_into()?;
                    let n = u64::from(value.length());
                    if at + n > expect {
                        let _ = call(&reader, "cancel", &[]);
                        return Err(too_long());
                    }
                    out.set(&value, at as u32);
                    at += n;
                    on_chunk(n);
                }
            } else {
                let all = Uint8Array::new(&await_js(call(&res, "arrayBuffer", &[])?).await?);
                if u64::from(all.length()) > expect {
                    return Err(too_long());
                }
                out.set(&all, 0);
                at = u64::from(all.length());
                on_chunk(at);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            if self.net.aborted() || get(&e, "name").as_string().as_deref() == Some("LocalRecError") {
                return Err(e);
            }
            return Err(error_with_code(
                "network",
                &format!("download of {name} was interrupted after {at} of {expect} bytes: {}", message_of(&e)),
            ));
        }
        if at != expect {
            return Err(error_with_code(
                "size-mismatch",
                &format!("{name}: got {at} bytes, the manifest says {expect} (interrupted download?)"),
            ));
        }
        Ok(out)
    }

    fn aborted(&self) -> bool {
        self.net.aborted()
    }
}

impl Digest for WebEnv {
    /// WebCrypto: off the main thread.
    async fn sha256(&self, bytes: &Uint8Array) -> JsResult<String> {
        let digest = await_js(call(&subtle()?, "digest", &[&JsValue::from_str("SHA-256"), bytes])?).await?;
        Ok(hex(&digest))
    }

    /// One `Promise.all` over every digest: one await (one crossing back) for all of them.
    async fn sha256_all(&self, files: &[&Uint8Array]) -> JsResult<Vec<String>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let subtle = subtle()?;
        let started: Array = files
            .iter()
            .map(|b| call(&subtle, "digest", &[&JsValue::from_str("SHA-256"), b]))
            .collect::<JsResult<_>>()?;
        let all = super::wait::promise(&Promise::all(&started)).await?;
        Ok(Array::from(&all).iter().map(|d| hex(&d)).collect())
    }
}

/// `crypto.subtle`, or the typed error that says why it is missing.
fn subtle() -> JsResult<JsValue> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    if subtle.is_undefined() || subtle.is_null() {
        return Err(error_with_code(
            "insecure-context",
            "SHA-256 verification needs crypto.subtle: serve the page over https or from localhost",
        ));
    }
    Ok(subtle)
}

fn hex(digest: &JsValue) -> String {
    Uint8Array::new(digest).to_vec().iter().map(|b| format!("{b:02x}")).collect()
}

/// Holds a Web Lock until dropped.
pub(crate) struct LockGuard(Rc<RefCell<Option<Function>>>);

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(f) = self.0.borrow_mut().take() {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

impl Host for WebEnv {
    type Prepared = Part;
    type Guard = LockGuard;

    fn prepare(&self, files: &[(&str, &Uint8Array)]) -> JsResult<Part> {
        let first = || files.first().map(|(_, b)| b.to_vec()).unwrap_or_default();
        let object = || {
            let o = Object::new();
            for (role, bytes) in files {
                set(&o, role, bytes);
            }
            o
        };
        Ok(match &self.prepare {
            Prepare::Js(f) => Part::Js(f.call1(&JsValue::NULL, &object())?),
            Prepare::Stage => Part::Stage(crate::rerank::RankingStage::decode(&first()).map_err(super::js_err)?),
            Prepare::Refine => Part::Refine(crate::catalog::PqResidual::decode(&first()).map_err(super::js_err)?),
            Prepare::Model => {
                Part::Model(Box::new(super::session::model_from_files(&object()).map_err(JsValue::from)?))
            }
        })
    }

    fn error(&self, e: LoadError) -> JsValue {
        error_with_code(e.code, &e.message)
    }

    fn message(&self, e: &JsValue) -> String {
        message_of(e)
    }

    fn emit(&self, event: LoadEvent<JsValue>) {
        let ev = Object::new();
        set(&ev, "type", &JsValue::from_str(event.kind()));
        match &event {
            LoadEvent::CorruptCache { file, .. } | LoadEvent::DeltaFailed { file, .. } => {
                set(&ev, "file", &JsValue::from_str(file))
            }
            LoadEvent::UpdateFailed { error, .. } => set(&ev, "error", error),
            LoadEvent::Degraded { quota, .. } => {
                set(&ev, "reason", &JsValue::from_str(if *quota { "quota" } else { "store-failed" }))
            }
            LoadEvent::Offline { .. } => {}
        }
        set(&ev, "message", &JsValue::from_str(event.message()));
        (self.on_event)(ev.into());
    }

    fn progress(&self, file: Option<&str>, done: u64, total: u64) {
        let p = Object::new();
        set(&p, "file", &file.map_or(JsValue::NULL, JsValue::from_str));
        set(&p, "bytesDone", &JsValue::from_f64(done as f64));
        set(&p, "bytesTotal", &JsValue::from_f64(total as f64));
        let _ = self.on_progress.call1(&JsValue::NULL, &p);
    }

    /// `navigator.locks.request(name, callback)`, the callback's promise settling when the guard is
    /// dropped. `None` without Web Locks, or when the browser refuses the lock.
    async fn lock(&self, url: &str) -> Option<LockGuard> {
        let locks = get(&get(&js_sys::global(), "navigator"), "locks");
        let name = format!("{}{url}", self.lock.as_deref()?);
        if !get(&locks, "request").is_function() {
            return None;
        }
        // `acquired` settles when the lock is ours (or fails if the browser refuses it).
        let release: Rc<RefCell<Option<Function>>> = Rc::new(RefCell::new(None));
        let (mut acquired_fn, mut refused_fn): (Option<Function>, Option<Function>) = (None, None);
        let acquired = Promise::new(&mut |resolve, reject| {
            acquired_fn = Some(resolve);
            refused_fn = Some(reject);
        });
        let held = release.clone();
        let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
            if let Some(f) = &acquired_fn {
                let _ = f.call0(&JsValue::NULL);
            }
            Promise::new(&mut |resolve, _| *held.borrow_mut() = Some(resolve))
        });
        let guard = LockGuard(release);
        // The loader's abort also stops the wait for the lock (another tab may hold it for long).
        let signal = &self.net.signal;
        let requested = if signal.is_object() {
            let options = Object::new();
            set(&options, "signal", signal);
            call(&locks, "request", &[&JsValue::from_str(&name), &options, &callback]).ok()?
        } else {
            call(&locks, "request", &[&JsValue::from_str(&name), &callback]).ok()?
        };
        let refused = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if let Some(f) = &refused_fn {
                let _ = f.call1(&JsValue::NULL, &e);
            }
        });
        let _ = Promise::resolve(&requested).catch(&refused);
        refused.forget(); // one small closure per install
        super::wait::promise(&acquired).await.ok().map(|_| guard)
    }

    async fn room(&self) -> Option<f64> {
        let storage = get(&get(&js_sys::global(), "navigator"), "storage");
        let est = await_js(call(&storage, "estimate", &[]).ok()?).await.ok()?;
        Some(get(&est, "quota").as_f64()? - get(&est, "usage").as_f64()?)
    }

    fn now(&self) -> f64 {
        js_sys::Date::now()
    }
}

impl Env for WebEnv {
    type Store = FileBackend;
    fn store(&self) -> &FileBackend {
        &self.store
    }
}

/// `{ manifest: Manifest, prepared, source, updateError, stored }`, `stored` settling (true or false) once the
/// new version's commit is done, in the background.
fn loaded_to_js(env: &Rc<WebEnv>, loaded: Loaded<WebEnv>) -> JsResult<(Object, Promise)> {
    let stored = match loaded.store {
        Some(job) => {
            let env = env.clone();
            future_to_promise(async move { Ok(JsValue::from_bool(crate::sync::store(&*env, job).await)) })
        }
        None => Promise::resolve(&JsValue::TRUE),
    };
    let o = super::object(&[
        ("manifest", super::session::JsManifest { inner: loaded.manifest }.into()),
        (
            "prepared",
            match loaded.prepared {
                Part::Js(v) => v,
                _ => JsValue::UNDEFINED, // syncArtifacts prepares with the page's function only
            },
        ),
        ("source", JsValue::from_str(loaded.source.as_str())),
        ("updateError", loaded.update_error.unwrap_or(JsValue::NULL)),
        ("stored", stored.clone().into()),
    ]);
    Ok((o, stored))
}

/// `url` resolved against the page's (or the worker's) location.
pub(crate) fn absolute_url(url: &str) -> JsResult<String> {
    let base = get(&get(&js_sys::global(), "location"), "href").as_string();
    match base.as_deref().map_or_else(|| web_sys::Url::new(url), |b| web_sys::Url::new_with_base(url, b)) {
        Ok(u) => Ok(u.href()),
        Err(_) => Err(super::bad_input(&format!("{url:?} is not a URL"))),
    }
}

/// Loads the files of `roles` for the manifest at `manifestUrl` (see [`crate::sync`]). `options`:
/// `{ fetch?, signal?, onProgress, onEvent, prepare(filesByRole), background, device?, variant? }`
/// (installs into an IndexedDB store take the database's Web Lock, [`FileBackend::lock_prefix`]). Resolves with `{ manifest: Manifest, prepared, source,
/// updateError, stored: Promise<boolean>, update?: Promise<null | { ..., storedOk }> }`; rejects with
/// `offline-no-cache`, `invalid-manifest`, `checksum-mismatch`, ... when no version can be used.
#[wasm_bindgen(js_name = syncArtifacts)]
pub fn sync_artifacts(manifest_url: String, roles: Vec<String>, store: &JsFileCache, options: JsValue) -> Promise {
    let url = match absolute_url(&manifest_url) {
        Ok(u) => u,
        Err(e) => return Promise::reject(&e),
    };
    let func = |key: &str| get(&options, key).dyn_into::<Function>().unwrap_or_else(|_| Function::new_no_args(""));
    let on_event = func("onEvent");
    let on_event = Box::new(move |ev: JsValue| {
        let _ = on_event.call1(&JsValue::NULL, &ev);
    });
    let env = match WebEnv::new(&store.backend, &options, func("onProgress"), on_event, Prepare::Js(func("prepare"))) {
        Ok(env) => Rc::new(env),
        Err(e) => return Promise::reject(&e),
    };
    let req = Rc::new(LoadRequest {
        url,
        roles,
        device: get(&options, "device").as_string(),
        variant: get(&options, "variant").as_string(),
        background: get(&options, "background").is_truthy(),
    });
    future_to_promise(async move {
        let (loaded, pending) = crate::sync::load(&*env, &req).await?;
        let (o, _) = loaded_to_js(&env, loaded)?;
        if let Some(pending) = pending {
            let update = future_to_promise(async move {
                let Some(loaded) = crate::sync::update(&*env, &req, pending).await else { return Ok(JsValue::NULL) };
                let (o, stored) = loaded_to_js(&env, loaded)?;
                let stored = super::wait::promise(&stored).await.unwrap_or(JsValue::FALSE);
                set(&o, "storedOk", &stored);
                Ok(o.into())
            });
            set(&o, "update", &update);
        }
        Ok(o.into())
    })
}
