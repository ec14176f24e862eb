//! The visitor's history in the browser: [`IdbHistoryStore`] (the [`HistoryStore`] of IndexedDB),
//! the JS classes `HistoryStore` (a store: IndexedDB or memory) and `VisitorHistory` (one scope's
//! events, kept in step with other tabs over a `BroadcastChannel`). The rules (validation, bounds,
//! export format) are the core's, in `crate::history`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, IdbDatabase, IdbTransactionMode, MessageEvent};

use super::idb::{self, BY_SCOPE, EVENTS, LEGACY_HISTORY};
use super::{js_err, to_js, JsResult};
use crate::history::{
    Bounds, History, HistoryEvent, HistoryStore, MemoryHistoryStore, RawRecord, SkipReason, StoreError, StoreKey,
};

/// One stored event record.
#[derive(Serialize)]
struct Record<'a> {
    scope: &'a str,
    id: &'a str,
    kind: &'static str,
    time: f64,
}

/// The [`HistoryStore`] of IndexedDB: one record per event in the `events` object store.
pub struct IdbHistoryStore {
    db: IdbDatabase,
}

fn tx(db: &IdbDatabase, stores: &[&str], what: &str) -> Result<web_sys::IdbTransaction, StoreError> {
    let names = Array::new();
    for s in stores {
        names.push(&JsValue::from_str(s));
    }
    db.transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readwrite)
        .map_err(|e| idb::store_error(what, &e))
}

fn decode(value: &JsValue) -> Result<HistoryEvent, SkipReason> {
    if !value.is_object() || Array::is_array(value) {
        return Err(SkipReason::NotAnObject);
    }
    serde_wasm_bindgen::from_value::<RawRecord>(value.clone()).map_err(|_| SkipReason::NotAnObject)?.validate()
}

impl IdbHistoryStore {
    pub fn new(db: IdbDatabase) -> IdbHistoryStore {
        IdbHistoryStore { db }
    }

    /// Moves a schema-1 history record of `scope` (every event in one array) into one record per
    /// event, raw: they are validated when read like any other.
    async fn migrate(&self, scope: &str) -> Result<(), StoreError> {
        let t = tx(&self.db, &[LEGACY_HISTORY, EVENTS], "reading the history")?;
        let step = async {
            let legacy = t.object_store(LEGACY_HISTORY)?;
            let old = idb::request(&legacy.get(&JsValue::from_str(scope))?).await?;
            if old.is_undefined() || old.is_null() {
                return Ok(false);
            }
            let events = t.object_store(EVENTS)?;
            let list = Reflect::get(&old, &"events".into()).unwrap_or(JsValue::UNDEFINED);
            if Array::is_array(&list) {
                for item in Array::from(&list).iter() {
                    let rec = js_sys::Object::new();
                    if item.is_object() && !Array::is_array(&item) {
                        js_sys::Object::assign(&rec, item.unchecked_ref());
                    } else {
                        Reflect::set(&rec, &"raw".into(), &item)?;
                    }
                    Reflect::set(&rec, &"scope".into(), &JsValue::from_str(scope))?;
                    events.add(&rec)?;
                }
            }
            legacy.delete(&JsValue::from_str(scope))?;
            Ok::<bool, JsValue>(true)
        };
        let moved = step.await.map_err(|e| idb::store_error("moving the version-1 history", &e))?;
        if moved {
            idb::done(&t).await.map_err(|e| idb::store_error("moving the version-1 history", &e))?;
        }
        Ok(())
    }
}

impl HistoryStore for IdbHistoryStore {
    async fn load(&self, scope: &str) -> Result<Vec<(StoreKey, Result<HistoryEvent, SkipReason>)>, StoreError> {
        self.migrate(scope).await?;
        let t = self.db.transaction_with_str(EVENTS).map_err(|e| idb::store_error("reading the history", &e))?;
        let read = async {
            let index = t.object_store(EVENTS)?.index(BY_SCOPE)?;
            let key = JsValue::from_str(scope);
            let keys = idb::request(&index.get_all_keys_with_key(&key)?).await?;
            let values = idb::request(&index.get_all_with_key(&key)?).await?;
            Ok::<_, JsValue>((Array::from(&keys), Array::from(&values)))
        };
        let (keys, values) = read.await.map_err(|e| idb::store_error("reading the history", &e))?;
        Ok(keys.iter().zip(values.iter()).map(|(k, v)| (k.as_f64().unwrap_or(f64::NAN), decode(&v))).collect())
    }

    async fn append(&self, scope: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let t = tx(&self.db, &[EVENTS], "storing the history")?;
        let store = t.object_store(EVENTS).map_err(|e| idb::store_error("storing the history", &e))?;
        for e in events {
            let rec = Record { scope, id: &e.id, kind: e.kind.name(), time: e.time };
            let value = rec
                .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                .map_err(|e| StoreError { message: e.to_string(), quota: false })?;
            store.add(&value).map_err(|e| idb::store_error("storing the history", &e))?;
        }
        idb::done(&t).await.map_err(|e| idb::store_error("storing the history", &e))
    }

    async fn remove(&self, keys: &[StoreKey]) -> Result<(), StoreError> {
        let t = tx(&self.db, &[EVENTS], "pruning the history")?;
        let store = t.object_store(EVENTS).map_err(|e| idb::store_error("pruning the history", &e))?;
        for &k in keys.iter().filter(|k| k.is_finite()) {
            store.delete(&JsValue::from_f64(k)).map_err(|e| idb::store_error("pruning the history", &e))?;
        }
        idb::done(&t).await.map_err(|e| idb::store_error("pruning the history", &e))
    }

    async fn clear(&self, scope: &str) -> Result<(), StoreError> {
        let t = tx(&self.db, &[EVENTS, LEGACY_HISTORY], "deleting the history")?;
        let step = async {
            let events = t.object_store(EVENTS)?;
            let keys = idb::request(&events.index(BY_SCOPE)?.get_all_keys_with_key(&JsValue::from_str(scope))?).await?;
            for k in Array::from(&keys).iter() {
                events.delete(&k)?;
            }
            t.object_store(LEGACY_HISTORY)?.delete(&JsValue::from_str(scope))?;
            Ok::<(), JsValue>(())
        };
        step.await.map_err(|e| idb::store_error("deleting the history", &e))?;
        idb::done(&t).await.map_err(|e| idb::store_error("deleting the history", &e))
    }
}

/// IndexedDB or memory.
pub enum Backend {
    Idb(IdbHistoryStore, String),
    Memory(MemoryHistoryStore),
}

impl HistoryStore for Backend {
    async fn load(&self, scope: &str) -> Result<Vec<(StoreKey, Result<HistoryEvent, SkipReason>)>, StoreError> {
        match self {
            Backend::Idb(s, _) => s.load(scope).await,
            Backend::Memory(s) => s.load(scope).await,
        }
    }
    async fn append(&self, scope: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
        match self {
            Backend::Idb(s, _) => s.append(scope, events).await,
            Backend::Memory(s) => s.append(scope, events).await,
        }
    }
    async fn remove(&self, keys: &[StoreKey]) -> Result<(), StoreError> {
        match self {
            Backend::Idb(s, _) => s.remove(keys).await,
            Backend::Memory(s) => s.remove(keys).await,
        }
    }
    async fn clear(&self, scope: &str) -> Result<(), StoreError> {
        match self {
            Backend::Idb(s, _) => s.clear(scope).await,
            Backend::Memory(s) => s.clear(scope).await,
        }
    }
}

/// Where histories are kept: IndexedDB (`HistoryStore.openIndexedDb`) or memory
/// (`HistoryStore.memory()`), with the cache of downloaded files beside them (`fileCache()`), so the
/// schema is opened and upgraded in one place.
#[wasm_bindgen(js_name = HistoryStore)]
pub struct JsHistoryStore {
    pub(crate) backend: Rc<Backend>,
    pub(crate) files: Rc<super::cache::FileBackend>,
    /// This store's open created its IndexedDB database (a first visit).
    created: bool,
}

impl JsHistoryStore {
    /// Another handle on the same store (for a task that outlives the call it was given in).
    pub(crate) fn clone_handle(&self) -> JsHistoryStore {
        JsHistoryStore { backend: Rc::clone(&self.backend), files: Rc::clone(&self.files), created: self.created }
    }
}

/// The device's random id kept in `backend` (see [`JsHistoryStore::device_id`]).
pub(crate) async fn device_id(backend: &Backend) -> String {
    let fresh = || {
        let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).unwrap_or(JsValue::UNDEFINED);
        let uuid = Reflect::get(&crypto, &"randomUUID".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call0(&crypto).ok())
            .and_then(|v| v.as_string());
        // Without crypto.randomUUID (an insecure context, which the loader refuses anyway).
        uuid.unwrap_or_else(|| format!("{:x}-{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e15) as u64))
    };
    crate::history::device_id(backend, fresh, now_secs()).await
}

#[wasm_bindgen(js_class = HistoryStore)]
impl JsHistoryStore {
    /// Opens the IndexedDB database `name` (schema version 2). Rejects with `store-failed` where
    /// IndexedDB is missing, refuses, or stays blocked past `timeoutMs` (default 5000).
    #[wasm_bindgen(js_name = openIndexedDb)]
    pub fn open_indexed_db(name: String, timeout_ms: Option<u32>) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let (db, created) =
                idb::open_database(&name, timeout_ms.unwrap_or(5000)).await.map_err(|e| js_err(e.into()))?;
            let files = Rc::new(super::cache::FileBackend::Idb(super::cache::IdbFileStore::new(db.clone())));
            Ok(JsHistoryStore { backend: Rc::new(Backend::Idb(IdbHistoryStore::new(db), name)), files, created }.into())
        })
    }

    /// The device's random id, kept in this store beside the histories (`crypto.randomUUID()` on
    /// the first visit; see `crate::history::device_id`). Never rejects.
    #[wasm_bindgen(js_name = deviceId)]
    pub fn device_id(&self) -> Promise {
        let backend = Rc::clone(&self.backend);
        wasm_bindgen_futures::future_to_promise(async move { Ok(device_id(&backend).await.into()) })
    }

    /// A store in memory: nothing is kept after the page.
    pub fn memory() -> JsHistoryStore {
        JsHistoryStore {
            backend: Rc::new(Backend::Memory(MemoryHistoryStore::new())),
            files: Rc::new(super::cache::FileBackend::Memory(crate::cache::MemoryFileStore::new())),
            created: false,
        }
    }

    /// The cache of downloaded files kept beside the histories (the same database, or memory).
    #[wasm_bindgen(js_name = fileCache)]
    pub fn file_cache(&self) -> super::cache::JsFileCache {
        super::cache::JsFileCache { backend: self.files.clone() }
    }

    /// `"indexeddb"` or `"memory"`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        match &*self.backend {
            Backend::Idb(..) => "indexeddb".into(),
            Backend::Memory(_) => "memory".into(),
        }
    }

    /// Closes the database connection.
    pub fn close(&self) {
        if let Backend::Idb(s, _) = &*self.backend {
            s.db.close();
        }
    }

    /// Closes the store after an `open()` that failed or was aborted: when this store's open
    /// created the database and it still holds no model version, file or history event (beyond
    /// the device's id), the database is deleted too, so a failed first visit leaves nothing
    /// behind. Never rejects.
    pub fn discard(&self) -> Promise {
        let (backend, created) = (Rc::clone(&self.backend), self.created);
        wasm_bindgen_futures::future_to_promise(async move {
            if let Backend::Idb(s, name) = &*backend {
                let unused = created && idb::is_unused(&s.db).await.unwrap_or(false);
                s.db.close();
                if unused {
                    idb::delete(name).await;
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HistoryOptions {
    max_events: Option<f64>,
    max_age_days: Option<f64>,
}

/// The BroadcastChannel listener a history keeps alive.
type Listener = Closure<dyn FnMut(MessageEvent)>;

struct Shared {
    history: RefCell<History>,
    store: Rc<Backend>,
    /// Bumped by every local change, so a reload that raced one starts again.
    generation: Cell<u64>,
    channel: Option<BroadcastChannel>,
    on_change: RefCell<Option<js_sys::Function>>,
    listener: RefCell<Option<Listener>>,
    last_report: RefCell<JsValue>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(c) = &self.channel {
            c.set_onmessage(None);
            c.close();
        }
    }
}

fn now_secs() -> f64 {
    js_sys::Date::now() / 1000.0
}

impl Shared {
    /// Replaces the in-memory events with the store's (again if a local change raced the read).
    async fn reload(self: &Rc<Self>) -> crate::Result<JsValue> {
        let scope = self.history.borrow().scope().to_owned();
        for _ in 0..4 {
            let generation = self.generation.get();
            let records = self.store.load(&scope).await?;
            if generation != self.generation.get() {
                continue;
            }
            let (report, remove) = self.history.borrow_mut().apply_loaded(records, now_secs());
            if !remove.is_empty() {
                let _ = self.store.remove(&remove).await;
            }
            let value = to_js(&report)?;
            *self.last_report.borrow_mut() = value.clone();
            return Ok(value);
        }
        Err(crate::Error::Storage { message: "the history kept changing while it was read".into(), quota: false })
    }

    fn announce(&self, what: &str) {
        if let Some(c) = &self.channel {
            let msg = js_sys::Object::new();
            let _ = Reflect::set(&msg, &"type".into(), &JsValue::from_str(what));
            let _ = c.post_message(&msg);
        }
    }
}

/// One scope of a visitor's history: validated when read, bounded, appended event by event, and
/// kept in step with the other tabs of the same origin.
#[wasm_bindgen(js_name = VisitorHistory)]
pub struct JsVisitorHistory {
    shared: Rc<Shared>,
}

#[wasm_bindgen(js_class = VisitorHistory)]
impl JsVisitorHistory {
    /// Reads the history of `scope` from `store`. `options`: `{ maxEvents, maxAgeDays }` (defaults
    /// 500 and 90; `maxEvents` at most 2000). Bad options throw `invalid-argument`. Invalid stored
    /// records are skipped and removed, never fatal: `lastReport` counts them by reason. A store
    /// that cannot be read at all gives an empty history and `lastReport.error`.
    pub fn open(store: &JsHistoryStore, scope: String, options: JsValue) -> JsResult<Promise> {
        let opts: HistoryOptions = if options.is_undefined() || options.is_null() {
            HistoryOptions::default()
        } else if !options.is_object() || Array::is_array(&options) {
            return Err(js_err(crate::Error::InvalidArgument("history options must be an object".into())));
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_err(crate::Error::InvalidArgument(format!("history options: {e}"))))?
        };
        let bounds = Bounds::new(opts.max_events, opts.max_age_days).map_err(js_err)?;
        let channel = match &*store.backend {
            Backend::Idb(_, name) => BroadcastChannel::new(&format!("localrec:{name}:{scope}")).ok(),
            Backend::Memory(_) => None,
        };
        let shared = Rc::new(Shared {
            history: RefCell::new(History::new(&scope, bounds)),
            store: Rc::clone(&store.backend),
            generation: Cell::new(0),
            channel,
            on_change: RefCell::new(None),
            listener: RefCell::new(None),
            last_report: RefCell::new(JsValue::UNDEFINED),
        });
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            if let Err(e) = shared.reload().await {
                let report = js_sys::Object::new();
                let _ = Reflect::set(&report, &"error".into(), &JsValue::from_str(&e.to_string()));
                *shared.last_report.borrow_mut() = report.into();
            }
            let this = JsVisitorHistory { shared: Rc::clone(&shared) };
            this.listen();
            Ok(this.into())
        }))
    }

    fn listen(&self) {
        let Some(channel) = &self.shared.channel else { return };
        let weak = Rc::downgrade(&self.shared);
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let Some(shared) = weak.upgrade() else { return };
            let what = Reflect::get(&msg.data(), &"type".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
            wasm_bindgen_futures::spawn_local(async move {
                let report = match shared.reload().await {
                    Ok(r) => r,
                    Err(e) => {
                        let o = js_sys::Object::new();
                        let _ = Reflect::set(&o, &"error".into(), &JsValue::from_str(&e.to_string()));
                        o.into()
                    }
                };
                let _ = Reflect::set(&report, &"cause".into(), &JsValue::from_str(&what));
                let cb = shared.on_change.borrow().clone();
                if let Some(cb) = cb {
                    let _ = cb.call1(&JsValue::UNDEFINED, &report);
                }
            });
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        *self.shared.listener.borrow_mut() = Some(listener);
    }

    /// What the last read of the store found: `{ kept, skipped: { reason: count }, pruned }`, or
    /// `{ error }` when the store could not be read.
    #[wasm_bindgen(getter, js_name = lastReport)]
    pub fn last_report(&self) -> JsValue {
        self.shared.last_report.borrow().clone()
    }

    /// Called with the reload report (its `cause`: `append`, `clear` or `import`) after another tab
    /// changed this history and it was read again.
    #[wasm_bindgen(js_name = onChange)]
    pub fn on_change(&self, callback: Option<js_sys::Function>) {
        *self.shared.on_change.borrow_mut() = callback;
    }

    /// The kept events, oldest first: `[{ id, kind, time }]`.
    pub fn events(&self) -> JsResult<JsValue> {
        to_js(self.shared.history.borrow().events()).map_err(js_err)
    }

    /// Number of kept events.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.shared.history.borrow().events().len() as u32
    }

    /// Records an event: validated (`invalid-argument` / `invalid-query` thrown at once), added in
    /// memory at once, and stored in the background; the promise settles when it is stored (it
    /// rejects with `quota` or `store-failed`: the event stays in memory).
    pub fn record(&self, id: &str, kind: &str, time: f64) -> JsResult<Promise> {
        let event = HistoryEvent::new(id, kind, time).map_err(js_err)?;
        let event = self.shared.history.borrow_mut().push(event, now_secs());
        self.shared.generation.set(self.shared.generation.get() + 1);
        let shared = Rc::clone(&self.shared);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let scope = shared.history.borrow().scope().to_owned();
            History::store_event(&*shared.store, &scope, &event).await.map_err(js_err)?;
            shared.announce("append");
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Deletes every event of this scope, here at once and in the store (other tabs follow).
    pub fn clear(&self) -> Promise {
        self.shared.history.borrow_mut().forget();
        self.shared.generation.set(self.shared.generation.get() + 1);
        let shared = Rc::clone(&self.shared);
        wasm_bindgen_futures::future_to_promise(async move {
            let scope = shared.history.borrow().scope().to_owned();
            shared.store.clear(&scope).await.map_err(|e| js_err(e.into()))?;
            shared.announce("clear");
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Reads the store again (what another tab wrote); resolves with the report.
    pub fn reload(&self) -> Promise {
        let shared = Rc::clone(&self.shared);
        wasm_bindgen_futures::future_to_promise(async move { shared.reload().await.map_err(js_err) })
    }

    /// The history as JSON: `{ format: 'localrec-history', version: 1, exportedAt, events }`.
    #[wasm_bindgen(js_name = exportJson)]
    pub fn export_json(&self) -> String {
        let at: String = js_sys::Date::new_0().to_iso_string().into();
        self.shared.history.borrow().export_json(&at)
    }

    /// Adds the events of an exported history that this one lacks; resolves with
    /// `{ added, duplicates, skipped: { reason: count }, pruned }`. A file of another format or
    /// version rejects with `invalid-history` and changes nothing.
    #[wasm_bindgen(js_name = importJson)]
    pub fn import_json(&self, json: &str) -> JsResult<Promise> {
        let (report, added) = self.shared.history.borrow_mut().merge_import(json, now_secs()).map_err(js_err)?;
        self.shared.generation.set(self.shared.generation.get() + 1);
        let report = to_js(&report).map_err(js_err)?;
        let shared = Rc::clone(&self.shared);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let scope = shared.history.borrow().scope().to_owned();
            shared.store.append(&scope, &added).await.map_err(|e| js_err(e.into()))?;
            shared.announce("import");
            Ok(report)
        }))
    }

    /// Stops listening to other tabs.
    pub fn close(&self) {
        if let Some(c) = &self.shared.channel {
            c.set_onmessage(None);
            c.close();
        }
        self.shared.listener.borrow_mut().take();
        self.shared.on_change.borrow_mut().take();
    }
}

impl JsVisitorHistory {
    /// The kept events (for the recommender).
    pub fn with_events<R>(&self, f: impl FnOnce(&[HistoryEvent]) -> R) -> R {
        f(self.shared.history.borrow().events())
    }
}
