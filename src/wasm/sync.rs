//! Fetch once, verify, version, work offline: the loader's browser side. `syncArtifacts` returns
//! the verified files a recommender needs, prepared by the caller's `prepare`, from the cache when
//! the cached version is current, otherwise from the network (whole files, or catalogue deltas
//! applied to the cached version), each checked against the manifest's size and SHA-256 before any
//! decoder sees it. With `background`, a complete cached version answers at once and the manifest
//! check (and any update) runs behind it (offline-first).
//!
//! Everything JS-facing is reached through `Reflect` (fetch, streams, `crypto.subtle`, Web Locks,
//! `navigator.storage`): the same code runs in a window and in a worker, with the app's own `fetch`
//! if it passed one. The decisions (what is current, where each file comes from) are the core's
//! (`crate::sync`), the rules of the manifest `crate::manifest`'s, the cache `super::cache`'s.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::cache::{FileBackend, JsFileCache};
use super::{error_with_code, js_err};
use crate::cache::{NewFile, VersionRecord};
use crate::manifest::{FileEntry, Manifest};
use crate::sync::{download_bytes, is_current, plan, How};

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
    JsFuture::from(Promise::resolve(&v)).await
}

fn message_of(e: &JsValue) -> String {
    get(e, "message").as_string().or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

/// What the caller passed: the store, callbacks, fetch, signal.
struct Ctx {
    url: String,
    /// The roles asked for; [`Ctx::roles`] adds the variant's own.
    base_roles: Vec<String>,
    /// The device's random id (assigns the experiment's variant), or a variant forced by name.
    device: Option<String>,
    variant: Option<String>,
    cache: JsFileCache,
    fetch: Function,
    signal: JsValue,
    on_progress: Function,
    on_event: Function,
    prepare: Function,
    lock: Option<String>,
}

impl Ctx {
    /// The roles to load from `manifest`: the variant's own file first where it has one.
    fn roles(&self, manifest: &Manifest) -> Vec<String> {
        let assigned = || Some(manifest.variant_for(self.device.as_deref()?)?.name.clone());
        let variant = self.variant.clone().or_else(assigned);
        crate::manifest::variant_roles(&self.base_roles, variant.as_deref())
    }

    fn aborted(&self) -> bool {
        get(&self.signal, "aborted").is_truthy()
    }

    fn emit(&self, kind: &str, message: &str, extra: &[(&str, JsValue)]) {
        let ev = Object::new();
        set(&ev, "type", &JsValue::from_str(kind));
        for (k, v) in extra {
            set(&ev, k, v);
        }
        set(&ev, "message", &JsValue::from_str(message));
        let _ = self.on_event.call1(&JsValue::NULL, &ev);
    }

    fn progress(&self, file: Option<&str>, done: f64, total: f64) {
        let p = Object::new();
        set(&p, "file", &file.map_or(JsValue::NULL, JsValue::from_str));
        set(&p, "bytesDone", &JsValue::from_f64(done));
        set(&p, "bytesTotal", &JsValue::from_f64(total));
        let _ = self.on_progress.call1(&JsValue::NULL, &p);
    }

    fn backend(&self) -> &FileBackend {
        &self.cache.backend
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
}

/// Marks promises that are awaited one after another as handled: when an earlier one fails, the
/// sync returns and never awaits the rest, whose later rejection (a download cut by `close()`'s abort)
/// must not surface in the page as an unhandled rejection. Awaiting one still sees its rejection.
fn mark_handled(promises: &[&Promise]) {
    let noop = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
    for p in promises {
        let _ = p.catch(&noop);
    }
    noop.forget(); // one small closure per call
}

/// A file's SHA-256 as lowercase hex (WebCrypto: off the main thread).
async fn sha256_hex(bytes: &Uint8Array) -> JsResult<String> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    if subtle.is_undefined() || subtle.is_null() {
        return Err(error_with_code(
            "insecure-context",
            "SHA-256 verification needs crypto.subtle: serve the page over https or from localhost",
        ));
    }
    let digest = await_js(call(&subtle, "digest", &[&JsValue::from_str("SHA-256"), bytes])?).await?;
    Ok(Uint8Array::new(&digest).to_vec().iter().map(|b| format!("{b:02x}")).collect())
}

/// The cached version of the manifest URL, with its parsed manifest and its files (`None` where missing).
struct Cached {
    version: VersionRecord,
    manifest: Manifest,
    bytes: Vec<Option<Uint8Array>>,
}

impl Cached {
    fn entries(&self, roles: &[String]) -> Vec<&FileEntry> {
        self.manifest.entries(roles).unwrap_or_default()
    }
}

/// Whether `cached` is the version `manifest` describes (for `roles`).
fn current_for(cached: Option<&Cached>, manifest: &Manifest, roles: &[String]) -> bool {
    let Ok(entries) = manifest.entries(roles) else { return false };
    cached.is_some_and(|c| is_current(&c.version, &c.manifest.model_version, &manifest.model_version, &entries))
}

async fn read_cached(ctx: &Ctx) -> Option<Cached> {
    let version = ctx.backend().version(&ctx.url).await.ok()??;
    let manifest = Manifest::parse(version.manifest_json.as_bytes()).ok()?;
    let shas: Vec<String> = manifest.entries(&ctx.roles(&manifest)).ok()?.iter().map(|f| f.sha256.clone()).collect();
    let bytes = ctx.backend().files_js(&shas).await.unwrap_or_else(|_| vec![None; shas.len()]);
    Some(Cached { version, manifest, bytes })
}

/// What a sync hands back: the manifest (as a JS object), what `prepare` built, and how.
struct Synced {
    manifest_json: String,
    prepared: JsValue,
    source: &'static str,
    update_error: JsValue,
    stored: Promise,
}

impl Synced {
    fn to_js(&self) -> JsResult<Object> {
        Ok(super::object(&[
            ("manifest", JSON::parse(&self.manifest_json)?),
            ("prepared", self.prepared.clone()),
            ("source", JsValue::from_str(self.source)),
            ("updateError", self.update_error.clone()),
            ("stored", self.stored.clone().into()),
        ]))
    }
}

/// Hashes every file and, only once every digest matches, lets `prepare` decode them: no
/// unverified byte reaches a decoder. `Ok(Err(bad))` lists the files whose bytes are wrong.
async fn verify_and_prepare(
    ctx: &Ctx,
    entries: &[&FileEntry],
    bytes: &[Option<Uint8Array>],
) -> JsResult<Result<JsValue, Vec<usize>>> {
    // Every digest is started before the first is awaited: WebCrypto hashes them in parallel.
    let mut digests = Vec::with_capacity(entries.len());
    for (f, b) in entries.iter().zip(bytes) {
        digests.push(match b {
            Some(b) if f64::from(b.length()) == f.bytes as f64 => {
                let b = b.clone();
                Some(wasm_bindgen_futures::future_to_promise(async move { sha256_hex(&b).await.map(JsValue::from) }))
            }
            _ => None,
        });
    }
    mark_handled(&digests.iter().flatten().collect::<Vec<_>>());
    let mut bad = Vec::new();
    for (i, (f, d)) in entries.iter().zip(digests).enumerate() {
        let ok = match d {
            Some(p) => JsFuture::from(p).await?.as_string().as_deref() == Some(f.sha256.as_str()),
            None => false,
        };
        if !ok {
            bad.push(i);
        }
    }
    if !bad.is_empty() {
        return Ok(Err(bad));
    }
    let files = Object::new();
    // Keyed by each entry's own role, a variant's file under its base role (`tower-weights@b` as
    // `tower-weights`): an optional role the manifest lacks is simply absent.
    for (f, b) in entries.iter().zip(bytes) {
        let role = f.role.split('@').next().unwrap_or(&f.role);
        set(&files, role, &b.clone().map_or(JsValue::NULL, JsValue::from));
    }
    Ok(Ok(ctx.prepare.call1(&JsValue::NULL, &files)?))
}

/// The cached version, verified and prepared, or `None` when there is none or a file is missing or
/// damaged (a damaged file is reported and deleted, and its bytes dropped from `cached`).
async fn from_cache(ctx: &Ctx, cached: &mut Option<Cached>, update_error: JsValue) -> JsResult<Option<Synced>> {
    let Some(c) = cached.as_mut() else { return Ok(None) };
    let manifest = c.manifest.clone();
    let entries = manifest.entries(&ctx.roles(&manifest)).map_err(js_err)?;
    let bad = match verify_and_prepare(ctx, &entries, &c.bytes).await? {
        Ok(prepared) => {
            return Ok(Some(Synced {
                manifest_json: c.version.manifest_json.clone(),
                prepared,
                source: "cache",
                update_error,
                stored: Promise::resolve(&JsValue::TRUE),
            }))
        }
        Err(bad) => bad,
    };
    for i in bad {
        let f = entries[i];
        if c.bytes[i].is_some() {
            ctx.emit(
                "corrupt-cache",
                &format!("cached {} failed its checksum: discarded, fetching it again", f.name),
                &[("file", JsValue::from_str(&f.name))],
            );
            let _ = ctx.backend().delete_file(&f.sha256).await;
        }
        c.bytes[i] = None;
    }
    Ok(None)
}

/// The manifest's text, or why it could not be fetched (offline, HTTP error). Rejects only when aborted.
enum Fetched {
    Text(String),
    Offline(JsValue),
}

async fn fetch_manifest(ctx: &Ctx) -> JsResult<Fetched> {
    let res = match ctx.fetch(&ctx.url, "no-cache").await {
        Ok(r) => r,
        Err(e) if ctx.aborted() => return Err(e),
        Err(e) => return Ok(Fetched::Offline(e)),
    };
    if !get(&res, "ok").is_truthy() {
        let status = get(&res, "status").as_f64().unwrap_or(0.0);
        return Ok(Fetched::Offline(js_sys::Error::new(&format!("HTTP {status} for {}", ctx.url)).into()));
    }
    match call(&res, "text", &[]) {
        Ok(p) => match await_js(p).await {
            Ok(t) => Ok(Fetched::Text(t.as_string().unwrap_or_default())),
            Err(e) if ctx.aborted() => Err(e),
            Err(e) => Ok(Fetched::Offline(e)),
        },
        Err(e) => Ok(Fetched::Offline(e)),
    }
}

/// Streams one file, reporting each chunk; checks its size (the digest is checked by the caller).
async fn download(ctx: &Ctx, name: &str, expect: u64, on_chunk: &dyn Fn(f64)) -> JsResult<Uint8Array> {
    let url = web_sys::Url::new_with_base(name, &ctx.url)?.href();
    let failed = |why: String| error_with_code("network", &format!("download of {name} failed: {why}"));
    // no-store: the verified bytes go to IndexedDB; a second copy in the HTTP cache would only cost time and disk.
    let res = match ctx.fetch(&url, "no-store").await {
        Ok(r) => r,
        Err(e) if ctx.aborted() => return Err(e),
        Err(e) => return Err(failed(message_of(&e))),
    };
    if !get(&res, "ok").is_truthy() {
        return Err(failed(format!("HTTP {}", get(&res, "status").as_f64().unwrap_or(0.0))));
    }
    let too_long = || error_with_code("size-mismatch", &format!("{name} is larger than the manifest's {expect} bytes"));
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
                on_chunk(n as f64);
            }
        } else {
            let all = Uint8Array::new(&await_js(call(&res, "arrayBuffer", &[])?).await?);
            if u64::from(all.length()) > expect {
                return Err(too_long());
            }
            out.set(&all, 0);
            at = u64::from(all.length());
            on_chunk(at as f64);
        }
        Ok(())
    }
    .await;
    if let Err(e) = streamed {
        if ctx.aborted() || get(&e, "name").as_string().as_deref() == Some("LocalRecError") {
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

/// A catalogue rebuilt from a cached base and a downloaded delta, checked against the new file's
/// size and digest; any failure is the caller's cue to download the whole file.
async fn by_delta(ctx: &Ctx, f: &FileEntry, d: usize, base: &Uint8Array, tick: &dyn Fn(f64)) -> JsResult<Uint8Array> {
    let delta = &f.deltas[d];
    if sha256_hex(base).await? != delta.from_sha256 {
        return Err(js_sys::Error::new("the delta's base in the cache is damaged").into());
    }
    let bytes = download(ctx, &delta.name, delta.bytes, tick).await?;
    if sha256_hex(&bytes).await? != delta.sha256 {
        return Err(error_with_code(
            "checksum-mismatch",
            &format!("{}: SHA-256 does not match the manifest", delta.name),
        ));
    }
    let rebuilt = crate::catalog::delta::apply_delta_bytes(&base.to_vec(), &bytes.to_vec()).map_err(js_err)?;
    let rebuilt = Uint8Array::from(&rebuilt[..]);
    if u64::from(rebuilt.length()) != f.bytes || sha256_hex(&rebuilt).await? != f.sha256 {
        return Err(error_with_code(
            "checksum-mismatch",
            &format!("{} rebuilt from {} does not match the manifest's SHA-256", f.name, delta.name),
        ));
    }
    Ok(rebuilt)
}

/// Gets every file of a new version (cache by digest, delta, or download, in parallel), verifies,
/// prepares, and stores it in the background.
async fn install(ctx: Rc<Ctx>, text: String, manifest: Manifest, cached: Option<Rc<Cached>>) -> JsResult<Synced> {
    let entries = manifest.entries(&ctx.roles(&manifest)).map_err(js_err)?;
    for attempt in 0.. {
        let shas: Vec<String> = entries.iter().map(|f| f.sha256.clone()).collect();
        let have = ctx.backend().files_js(&shas).await.unwrap_or_else(|_| vec![None; shas.len()]);
        // Delta bases: the cached version's files first, then any cached file with that digest.
        let mut bases: Vec<(String, Uint8Array)> = Vec::new();
        if let Some(c) = &cached {
            for (f, b) in c.entries(&ctx.roles(&c.manifest)).iter().zip(&c.bytes) {
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
            if let Ok(found) = ctx.backend().files_js(&wanted).await {
                bases.extend(wanted.into_iter().zip(found).filter_map(|(s, b)| b.map(|b| (s, b))));
            }
        }
        let have_flags: Vec<bool> = have.iter().map(Option::is_some).collect();
        let steps = plan(&entries, &have_flags, |s| bases.iter().any(|(b, _)| b == s));
        let total = download_bytes(&entries, &steps) as f64;
        ctx.progress(None, 0.0, total);
        let done = Rc::new(Cell::new(0.0));
        let used_delta = Rc::new(Cell::new(false));
        // Every file is fetched at once; each is a promise, awaited in order below.
        let mut pending = Vec::with_capacity(entries.len());
        for (i, how) in steps.iter().enumerate() {
            let f: FileEntry = entries[i].clone();
            let how = *how;
            let (ctx, done, used_delta) = (ctx.clone(), done.clone(), used_delta.clone());
            let cached_bytes = have[i].clone();
            let base = match how {
                How::Delta(d) => bases.iter().find(|(s, _)| *s == f.deltas[d].from_sha256).map(|(_, b)| b.clone()),
                _ => None,
            };
            pending.push(wasm_bindgen_futures::future_to_promise(async move {
                let tick = |name: String| {
                    let (ctx, done) = (ctx.clone(), done.clone());
                    move |n: f64| {
                        done.set(done.get() + n);
                        ctx.progress(Some(&name), done.get(), total);
                    }
                };
                if let (How::Delta(d), Some(base)) = (how, base) {
                    match by_delta(&ctx, &f, d, &base, &tick(f.deltas[d].name.clone())).await {
                        Ok(bytes) => {
                            used_delta.set(true);
                            return Ok(bytes.into());
                        }
                        Err(e) if ctx.aborted() => return Err(e),
                        Err(e) => ctx.emit(
                            "delta-failed",
                            &format!("{}: downloading the whole file", message_of(&e)),
                            &[("file", JsValue::from_str(&f.name))],
                        ),
                    }
                }
                match (how, cached_bytes) {
                    (How::Cached, Some(b)) => Ok(b.into()),
                    _ => download(&ctx, &f.name, f.bytes, &tick(f.name.clone())).await.map(JsValue::from),
                }
            }));
        }
        mark_handled(&pending.iter().collect::<Vec<_>>());
        let mut bytes = Vec::with_capacity(pending.len());
        for p in pending {
            bytes.push(Some(JsFuture::from(p).await?.unchecked_into::<Uint8Array>()));
        }
        let prepared = match verify_and_prepare(&ctx, &entries, &bytes).await? {
            Ok(p) => p,
            Err(bad) => {
                let mut from_cache = Vec::new();
                for &i in &bad {
                    if steps[i] == How::Cached {
                        let f = entries[i];
                        ctx.emit(
                            "corrupt-cache",
                            &format!("cached {} failed its checksum: fetching it again", f.name),
                            &[("file", JsValue::from_str(&f.name))],
                        );
                        let _ = ctx.backend().delete_file(&f.sha256).await;
                        from_cache.push(i);
                    }
                }
                if let Some(&i) = bad.iter().find(|i| !from_cache.contains(i)) {
                    let f = entries[i];
                    return Err(error_with_code(
                        "checksum-mismatch",
                        &format!("{}: SHA-256 does not match the manifest's {}", f.name, f.sha256),
                    ));
                }
                if attempt < 1 {
                    continue;
                }
                let names: Vec<&str> = bad.iter().map(|&i| entries[i].name.as_str()).collect();
                return Err(error_with_code(
                    "checksum-mismatch",
                    &format!("cached files keep failing their checksum: {}", names.join(", ")),
                ));
            }
        };
        let mut fresh: Vec<NewFile<Uint8Array>> = Vec::new();
        for (i, f) in entries.iter().enumerate() {
            if steps[i] != How::Cached && !fresh.iter().any(|n| n.sha256 == f.sha256) {
                let b = bytes[i].clone().unwrap_or_else(|| Uint8Array::new_with_length(0));
                fresh.push(NewFile { sha256: f.sha256.clone(), name: f.name.clone(), bytes: b });
            }
        }
        let source = if used_delta.get() {
            "delta"
        } else if fresh.is_empty() {
            "cache"
        } else {
            "network"
        };
        let version = VersionRecord {
            manifest_url: ctx.url.clone(),
            manifest_json: text.clone(),
            files: entries.iter().map(|f| (f.role.clone(), f.sha256.clone())).collect(),
            stored_at: js_sys::Date::now(),
        };
        // Stored in the background: the visitor gets recommendations from the verified bytes meanwhile.
        let model_version = manifest.model_version.clone();
        let store_ctx = ctx.clone();
        let stored = wasm_bindgen_futures::future_to_promise(async move {
            match store(&store_ctx, &version, fresh).await {
                Ok(()) => Ok(JsValue::TRUE),
                Err((quota, message)) => {
                    store_ctx.emit(
                        "degraded",
                        &format!("could not cache version {model_version}: {message}; working from memory"),
                        &[("reason", JsValue::from_str(if quota { "quota" } else { "store-failed" }))],
                    );
                    Ok(JsValue::FALSE)
                }
            }
        });
        return Ok(Synced { manifest_json: text, prepared, source, update_error: JsValue::NULL, stored });
    }
    unreachable!("the loop returns")
}

/// Checks the room the StorageManager reports, then commits. `Err((quota, message))`.
async fn store(ctx: &Ctx, version: &VersionRecord, fresh: Vec<NewFile<Uint8Array>>) -> Result<(), (bool, String)> {
    let need: f64 = fresh.iter().map(|f| f64::from(f.bytes.length())).sum();
    let storage = get(&get(&js_sys::global(), "navigator"), "storage");
    if let Ok(p) = call(&storage, "estimate", &[]) {
        if let Ok(est) = await_js(p).await {
            if let (Some(quota), Some(usage)) = (get(&est, "quota").as_f64(), get(&est, "usage").as_f64()) {
                if quota - usage < need {
                    return Err((true, format!("QuotaExceededError: need {need} bytes, {} available", quota - usage)));
                }
            }
        }
    }
    ctx.backend().commit_js(version, fresh).await.map_err(|e| (e.quota, e.message))
}

/// Runs `install` holding the manifest's Web Lock (where the browser has Web Locks), keeping it until
/// the new version is stored: a second tab opening the same manifest waits, then finds this tab's
/// files in the cache. Another tab may have installed the version meanwhile: then it is read back.
async fn upgrade(ctx: Rc<Ctx>, text: String, manifest: Manifest, cached: Option<Rc<Cached>>) -> JsResult<Synced> {
    let locks = get(&get(&js_sys::global(), "navigator"), "locks");
    let Some(name) = ctx.lock.clone().filter(|_| get(&locks, "request").is_function()) else {
        return install(ctx, text, manifest, cached).await;
    };
    // `acquired` settles when the lock is ours (or fails if the browser refuses it); the lock is
    // held until `release` is called.
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
    let free = move || {
        if let Some(f) = release.borrow_mut().take() {
            let _ = f.call0(&JsValue::NULL);
        }
    };
    let requested = call(&locks, "request", &[&JsValue::from_str(&name), &callback]).map(|p| Promise::resolve(&p));
    let locked = match requested {
        Ok(p) => {
            let refused = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(f) = &refused_fn {
                    let _ = f.call1(&JsValue::NULL, &e);
                }
            });
            let _ = p.catch(&refused);
            refused.forget(); // one small closure per install
            JsFuture::from(acquired).await.is_ok()
        }
        Err(_) => false,
    };
    if !locked {
        return install(ctx, text, manifest, cached).await; // Web Locks refused: go on without
    }
    if !current_for(cached.as_deref(), &manifest, &ctx.roles(&manifest)) {
        let mut again = read_cached(&ctx).await;
        if current_for(again.as_ref(), &manifest, &ctx.roles(&manifest)) {
            match from_cache(&ctx, &mut again, JsValue::NULL).await {
                Ok(Some(r)) => {
                    free();
                    return Ok(r);
                }
                Ok(None) => {}
                Err(e) => {
                    free();
                    return Err(e);
                }
            }
        }
    }
    match install(ctx, text, manifest, cached).await {
        Ok(r) => {
            // Released once stored (or not): the next tab then reads what this one cached.
            let stored = r.stored.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(stored).await;
                free();
            });
            Ok(r)
        }
        Err(e) => {
            free();
            Err(e)
        }
    }
}

/// The background half of an offline-first start: checks the manifest and installs a newer version
/// while the cached one answers. Resolves with the new version (`storedOk` set) or null; never rejects.
async fn update_in_background(ctx: Rc<Ctx>, cached: Cached, manifest_fetch: Promise) -> JsResult<JsValue> {
    let Ok(fetched) = JsFuture::from(manifest_fetch).await else { return Ok(JsValue::NULL) }; // aborted
    let text = match fetched.as_string() {
        Some(t) => t,
        None => {
            ctx.emit(
                "offline",
                &format!("manifest unreachable ({}): using the cached version", message_of(&fetched)),
                &[],
            );
            return Ok(JsValue::NULL);
        }
    };
    let manifest =
        match Manifest::parse(text.as_bytes()).and_then(|m| m.entries(&ctx.roles(&m)).map(|_| ()).map(|()| m)) {
            Ok(m) => m,
            Err(e) => {
                let e = js_err(e);
                ctx.emit("update-failed", &format!("{}: using the cached version", message_of(&e)), &[("error", e)]);
                return Ok(JsValue::NULL);
            }
        };
    if current_for(Some(&cached), &manifest, &ctx.roles(&manifest)) {
        return Ok(JsValue::NULL);
    }
    let model_version = manifest.model_version.clone();
    match upgrade(ctx.clone(), text, manifest, Some(Rc::new(cached))).await {
        Ok(r) => {
            let stored = JsFuture::from(r.stored.clone()).await.unwrap_or(JsValue::FALSE);
            let o = r.to_js()?;
            set(&o, "storedOk", &stored);
            Ok(o.into())
        }
        Err(e) => {
            if !ctx.aborted() {
                ctx.emit(
                    "update-failed",
                    &format!("update to {model_version} failed ({}): using the cached version", message_of(&e)),
                    &[("error", e)],
                );
            }
            Ok(JsValue::NULL)
        }
    }
}

/// `fetch_manifest` as a promise of the text, or of the error when offline (a string resolves, an
/// error object resolves too: `update_in_background` tells them apart); rejects only when aborted.
fn manifest_promise(ctx: Rc<Ctx>) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        Ok(match fetch_manifest(&ctx).await? {
            Fetched::Text(t) => JsValue::from_str(&t),
            Fetched::Offline(e) => {
                // Wrapped so that it is never a string: the text is.
                if e.is_string() {
                    js_sys::Error::new(&e.as_string().unwrap_or_default()).into()
                } else {
                    e
                }
            }
        })
    })
}

/// Loads the files of `roles` for the manifest at `manifestUrl` (see the module docs). `options`:
/// `{ store: FileCache, fetch?, signal?, onProgress, onEvent, prepare(filesByRole), background,
/// lock?: name of the Web Lock to install under }`. Resolves with `{ manifest, prepared, source,
/// updateError, stored: Promise<boolean>, update?: Promise<null | { ..., storedOk }> }`; rejects with
/// `offline-no-cache`, `invalid-manifest`, `checksum-mismatch`, ... when no version can be used.
#[wasm_bindgen(js_name = syncArtifacts)]
pub fn sync_artifacts(manifest_url: String, roles: Vec<String>, store: &JsFileCache, options: JsValue) -> Promise {
    let base = get(&get(&js_sys::global(), "location"), "href").as_string();
    let url = match base
        .as_deref()
        .map_or_else(|| web_sys::Url::new(&manifest_url), |b| web_sys::Url::new_with_base(&manifest_url, b))
    {
        Ok(u) => u.href(),
        Err(_) => return Promise::reject(&super::bad_input(&format!("{manifest_url:?} is not a URL"))),
    };
    let func = |key: &str| get(&options, key).dyn_into::<Function>().unwrap_or_else(|_| Function::new_no_args(""));
    let fetch = match get(&options, "fetch").dyn_into::<Function>() {
        Ok(f) => f,
        Err(_) => match get(&js_sys::global(), "fetch").dyn_into::<Function>() {
            Ok(f) => f.bind0(&js_sys::global()),
            Err(_) => return Promise::reject(&error_with_code("network", "this context has no fetch")),
        },
    };
    let ctx = Rc::new(Ctx {
        url: url.clone(),
        base_roles: roles,
        device: get(&options, "device").as_string(),
        variant: get(&options, "variant").as_string(),
        cache: JsFileCache { backend: store.backend.clone() },
        fetch,
        signal: get(&options, "signal"),
        on_progress: func("onProgress"),
        on_event: func("onEvent"),
        prepare: func("prepare"),
        lock: get(&options, "lock").as_string().map(|prefix| format!("{prefix}{url}")),
    });
    let background = get(&options, "background").is_truthy();
    wasm_bindgen_futures::future_to_promise(async move {
        // The manifest request and the read of the cached version run at the same time.
        let manifest_fetch = manifest_promise(ctx.clone());
        mark_handled(&[&manifest_fetch]);
        let mut cached = read_cached(&ctx).await;

        if background {
            if let Some(r) = from_cache(&ctx, &mut cached, JsValue::NULL).await? {
                let o = r.to_js()?;
                let c = cached.take().expect("from_cache answered from it");
                let update =
                    wasm_bindgen_futures::future_to_promise(update_in_background(ctx.clone(), c, manifest_fetch));
                set(&o, "update", &update);
                return Ok(o.into());
            }
        }

        let fetched = JsFuture::from(manifest_fetch).await?;
        let Some(text) = fetched.as_string() else {
            if let Some(r) = from_cache(&ctx, &mut cached, JsValue::NULL).await? {
                ctx.emit(
                    "offline",
                    &format!("manifest unreachable ({}): using the cached version", message_of(&fetched)),
                    &[],
                );
                return Ok(r.to_js()?.into());
            }
            return Err(error_with_code(
                "offline-no-cache",
                &format!("cannot fetch {} ({}) and no complete version is cached", ctx.url, message_of(&fetched)),
            ));
        };
        // A broken manifest on the server must not break returning visitors: keep the cached version.
        let manifest =
            match Manifest::parse(text.as_bytes()).and_then(|m| m.entries(&ctx.roles(&m)).map(|_| ()).map(|()| m)) {
                Ok(m) => m,
                Err(e) => {
                    let e = js_err(e);
                    if let Some(r) = from_cache(&ctx, &mut cached, e.clone()).await? {
                        ctx.emit(
                            "update-failed",
                            &format!("{}: using the cached version", message_of(&e)),
                            &[("error", e)],
                        );
                        return Ok(r.to_js()?.into());
                    }
                    return Err(e);
                }
            };
        if current_for(cached.as_ref(), &manifest, &ctx.roles(&manifest)) {
            if let Some(r) = from_cache(&ctx, &mut cached, JsValue::NULL).await? {
                return Ok(r.to_js()?.into());
            }
            // A cached file was damaged and discarded: fetch what is missing below.
        }
        let model_version = manifest.model_version.clone();
        let shared = cached.map(Rc::new);
        match upgrade(ctx.clone(), text, manifest, shared.clone()).await {
            Ok(r) => Ok(r.to_js()?.into()),
            Err(e) if ctx.aborted() => Err(e),
            Err(e) => {
                // The new version could not be installed: keep the previous one if there is one.
                let mut back = match shared.map(Rc::try_unwrap) {
                    Some(Ok(c)) => Some(c),
                    Some(Err(_)) => read_cached(&ctx).await,
                    None => None,
                };
                if let Some(r) = from_cache(&ctx, &mut back, e.clone()).await? {
                    ctx.emit(
                        "update-failed",
                        &format!("update to {model_version} failed ({}): using the cached version", message_of(&e)),
                        &[("error", e)],
                    );
                    return Ok(r.to_js()?.into());
                }
                Err(e)
            }
        }
    })
}
