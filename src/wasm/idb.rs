//! IndexedDB on web-sys: the database's one schema, and requests and transactions as futures.
//!
//! An IndexedDB transaction commits itself once the task it was created in yields with no request
//! pending. Awaiting a request's future is safe (its continuation runs as a microtask of the
//! request's success event, while the transaction is still active); awaiting anything else inside
//! a transaction is not, so nothing here does.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction};

use super::wait::{self, Wait};
use crate::history::StoreError;

/// Schema version. 1: `files`, `versions`, `history` (one record per scope holding every event).
/// 2: adds `events` (one record per event, so tabs append instead of overwriting each other), with
/// an index on `scope`; a version-1 `history` record is moved into `events` when first read.
pub const DB_VERSION: u32 = 2;
/// Downloaded files by SHA-256 (`crate::cache`, `super::cache`).
pub const FILES: &str = "files";
/// The cached version per manifest URL.
pub const VERSIONS: &str = "versions";
/// Version 1's history records (read once, then moved into [`EVENTS`]).
pub const LEGACY_HISTORY: &str = "history";
/// One record per history event: `{ scope, id, kind, time }`, key generated.
pub const EVENTS: &str = "events";
/// Index of [`EVENTS`] on `scope`.
pub const BY_SCOPE: &str = "scope";

#[wasm_bindgen]
extern "C" {
    // `setTimeout` of whatever global this runs in (window or worker).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
}

/// A JS error value as a [`StoreError`] (`quota` for `QuotaExceededError`).
pub fn store_error(what: &str, e: &JsValue) -> StoreError {
    let name = Reflect::get(e, &"name".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    let message =
        Reflect::get(e, &"message".into()).ok().and_then(|v| v.as_string()).unwrap_or_else(|| format!("{e:?}"));
    let quota = name == "QuotaExceededError" || message.to_ascii_lowercase().contains("quota");
    StoreError { message: format!("{what}: {name} {message}").trim_end().to_owned(), quota }
}

/// Runs its function when dropped.
struct Unset<F: FnMut()>(F);

impl<F: FnMut()> Drop for Unset<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Awaits one request: its result, or its error. Its continuation runs in a microtask of the
/// request's event, while the transaction is still active.
pub async fn request(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let wait = Wait::new();
    req.set_onsuccess(Some(wait.ok()));
    req.set_onerror(Some(wait.err()));
    // Unset however the wait ends (also if the waiting future is dropped).
    let _unset = Unset(|| {
        req.set_onsuccess(None);
        req.set_onerror(None);
    });
    match wait.await {
        Ok(_) => req.result(),
        Err(_) => Err(req.error().ok().flatten().map(JsValue::from).unwrap_or_else(|| "request failed".into())),
    }
}

/// Awaits the end of a transaction: `Ok` once committed, the error (or an `AbortError`) otherwise.
pub async fn done(tx: &IdbTransaction) -> Result<(), JsValue> {
    let wait = Wait::new();
    tx.set_oncomplete(Some(wait.ok()));
    tx.set_onerror(Some(wait.err()));
    tx.set_onabort(Some(wait.err()));
    let _unset = Unset(|| {
        tx.set_oncomplete(None);
        tx.set_onerror(None);
        tx.set_onabort(None);
    });
    // The failure's event: `error` or `abort`.
    let kind = match wait.await {
        Ok(_) => return Ok(()),
        Err(event) => Reflect::get(&event, &"type".into()).ok().and_then(|t| t.as_string()).unwrap_or_default(),
    };
    match (kind.as_str(), tx.error()) {
        (_, Some(e)) => Err(e.into()),
        ("error", None) => Err("transaction failed".into()),
        _ => Err(web_sys::DomException::new_with_message_and_name("transaction aborted", "AbortError")
            .map_or(JsValue::NULL, JsValue::from)),
    }
}

/// The global `indexedDB`, in a window or a worker; `None` where there is none.
fn factory() -> Option<IdbFactory> {
    let f = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    f.dyn_into::<IdbFactory>().ok()
}

/// Opens (or creates, or upgrades to [`DB_VERSION`]) the database `name`. Fails when IndexedDB is
/// missing, refuses (private modes, blocked storage), or the open stays blocked past `timeout_ms`
/// (another tab holding an older version open). The connection closes itself when another tab
/// needs to upgrade the schema. Also says whether this open created the database.
pub async fn open_database(name: &str, timeout_ms: u32) -> Result<(IdbDatabase, bool), StoreError> {
    let factory = factory()
        .ok_or_else(|| StoreError { message: "IndexedDB is not available in this context".to_owned(), quota: false })?;
    let req: IdbOpenDbRequest =
        factory.open_with_u32(name, DB_VERSION).map_err(|e| store_error("indexedDB.open", &e))?;
    let created = Rc::new(Cell::new(false));
    let upgrade = Closure::<dyn FnMut(JsValue)>::new({
        let (req, created) = (req.clone(), Rc::clone(&created));
        move |event: JsValue| {
            // Version 0: there was no database before this open.
            created.set(Reflect::get(&event, &"oldVersion".into()).ok().and_then(|v| v.as_f64()) == Some(0.0));
            let (Ok(db), Some(tx)) = (req.result(), req.transaction()) else { return };
            let db: IdbDatabase = db.unchecked_into();
            let _ = upgrade_schema(&db, &tx);
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = {
        let req: &IdbRequest = req.as_ref();
        let req = req.clone();
        wasm_bindgen_futures::future_to_promise(async move { request(&req).await })
    };
    let timeout = Promise::new(&mut |_, reject| {
        let f = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &JsValue::from_str("timed out (blocked by another tab?)"));
        });
        set_timeout(f.unchecked_ref(), timeout_ms.min(i32::MAX as u32) as i32);
    });
    let raced = wait::promise(&Promise::race(&Array::of2(&opened, &timeout))).await;
    drop(upgrade);
    let db: IdbDatabase = raced.map_err(|e| store_error(&format!("opening IndexedDB {name:?}"), &e))?.unchecked_into();
    let on_change = Closure::<dyn FnMut()>::new({
        let db = db.clone();
        move || db.close()
    });
    db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget(); // lives as long as the connection
    Ok((db, created.get()))
}

fn upgrade_schema(db: &IdbDatabase, tx: &IdbTransaction) -> Result<(), JsValue> {
    let names = db.object_store_names();
    for (store, key_path) in [(FILES, "sha256"), (VERSIONS, "manifestUrl"), (LEGACY_HISTORY, "scope")] {
        if !names.contains(store) {
            let params = IdbObjectStoreParameters::new();
            params.set_key_path(&JsValue::from_str(key_path));
            db.create_object_store_with_optional_parameters(store, &params)?;
        }
    }
    if !names.contains(EVENTS) {
        let params = IdbObjectStoreParameters::new();
        params.set_auto_increment(true);
        let events = db.create_object_store_with_optional_parameters(EVENTS, &params)?;
        events.create_index_with_str(BY_SCOPE, "scope")?;
    }
    let _ = tx;
    Ok(())
}

/// Whether the database holds no model version, no file and no history event beyond the device's
/// id: what an open that failed on a first visit leaves.
pub async fn is_unused(db: &IdbDatabase) -> Result<bool, JsValue> {
    let stores = Array::of3(&FILES.into(), &VERSIONS.into(), &EVENTS.into());
    let t = db.transaction_with_str_sequence(&stores)?;
    let counts =
        [t.object_store(FILES)?.count()?, t.object_store(VERSIONS)?.count()?, t.object_store(EVENTS)?.count()?];
    let device = t.object_store(EVENTS)?.index(BY_SCOPE)?.count_with_key(&crate::history::DEVICE_SCOPE.into())?;
    // Requests of one transaction complete in order: the last one awaited, the others are done.
    let device = request(&device).await?.as_f64().unwrap_or(0.0);
    let [files, versions, events] = counts.map(|r| r.result().ok().and_then(|v| v.as_f64()).unwrap_or(f64::MAX));
    Ok(files == 0.0 && versions == 0.0 && events <= device)
}

/// Deletes the database `name`: resolves once it is gone, or once the deletion is queued behind
/// a connection another tab still holds (it completes when that one closes).
pub async fn delete(name: &str) {
    let Some(req) = factory().and_then(|f| f.delete_database(name).ok()) else { return };
    let wait = Wait::new();
    req.set_onsuccess(Some(wait.ok()));
    req.set_onerror(Some(wait.ok()));
    req.set_onblocked(Some(wait.ok()));
    let _ = wait.await;
    req.set_onsuccess(None);
    req.set_onerror(None);
    req.set_onblocked(None);
}
