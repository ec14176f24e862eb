//! The JS class `Session` over [`crate::session::Session`]: the one handle the JS package holds for
//! a visitor. Each call is one crossing: arguments are read and validated here (a wrong type or
//! value is a typed error with a code, in page and worker mode alike), answers come back as typed
//! arrays with the strings they need. The histories are stored in the store the session was opened
//! on and kept in step with other tabs over a `BroadcastChannel` per history.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Float32Array, Int32Array, Promise, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use super::history::{Backend, JsHistoryStore};
use super::{js_err, object, to_js, BindingError, JsRecommender};

/// What the session's exports return: core errors convert with `?`.
type JsResult<T> = Result<T, BindingError>;

fn bad_input(message: &str) -> BindingError {
    super::bad_input(message).into()
}
use crate::history::{Bounds, HistoryStore};
use crate::kind::Kind;
use crate::manifest::Manifest;
use crate::recommender::Reason;
use crate::session::{AppRules, Model, Request, Scope};

fn now_secs() -> f64 {
    js_sys::Date::now() / 1000.0
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// An options argument: `undefined` or `null` (no options) or a plain object.
fn options_object(v: &JsValue, what: &str) -> JsResult<Option<JsValue>> {
    if absent(v) {
        return Ok(None);
    }
    if !v.is_object() || Array::is_array(v) || v.is_function() {
        return Err(bad_input(&format!("{what} must be an object, got {}", describe(v))));
    }
    Ok(Some(v.clone()))
}

/// A short description of a JS value for error messages (never the value of a long string).
fn describe(v: &JsValue) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if let Some(b) = v.as_bool() {
        b.to_string()
    } else if let Some(n) = v.as_f64() {
        format!("the number {n}")
    } else if v.is_string() {
        "a string".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        "an object".into()
    }
}

/// An item id: a non-empty string, or a finite number (ids such as `123` are used as strings).
fn item_id(v: &JsValue, what: &str) -> JsResult<String> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() => {
            Ok(js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_default())
        }
        _ => Err(bad_input(&format!("{what} must be a string (an item id), got {}", describe(v)))),
    }
}

/// A list of item ids (an array of strings or numbers).
fn id_list(v: &JsValue, what: &str) -> JsResult<Vec<String>> {
    if absent(v) {
        return Ok(Vec::new());
    }
    if !Array::is_array(v) {
        return Err(bad_input(&format!("{what} must be an array of item ids, got {}", describe(v))));
    }
    Array::from(v).iter().map(|x| item_id(&x, what)).collect()
}

fn string_list(v: &JsValue, what: &str) -> JsResult<Vec<String>> {
    if !Array::is_array(v) {
        return Err(bad_input(&format!("{what} must be an array of strings, got {}", describe(v))));
    }
    Array::from(v)
        .iter()
        .map(|x| x.as_string().ok_or_else(|| bad_input(&format!("{what} must hold strings, got {}", describe(&x)))))
        .collect()
}

/// A whole number in `lo..=hi`, or `None` when absent.
fn whole(v: &JsValue, what: &str, lo: f64, hi: f64) -> JsResult<Option<f64>> {
    if absent(v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(bad_input(&format!("{what} must be an integer in {lo}..={hi}, got {}", describe(v)))),
    }
}

fn boolean(v: &JsValue, what: &str, default: bool) -> JsResult<bool> {
    if v.is_undefined() {
        return Ok(default);
    }
    v.as_bool().ok_or_else(|| bad_input(&format!("{what} must be true or false, got {}", describe(v))))
}

/// `recommend` / `explain` options: `{ k, excludeSeen, exclude, categories, maxPerCategory }`.
fn request(options: &JsValue) -> JsResult<Request> {
    let mut r = Request::default();
    let Some(o) = options_object(options, "recommend options")? else { return Ok(r) };
    if let Some(k) = whole(&get(&o, "k"), "k", 1.0, crate::recommender::MAX_K as f64)? {
        r.k = k as usize;
    }
    r.exclude_seen = boolean(&get(&o, "excludeSeen"), "excludeSeen", true)?;
    r.exclude = id_list(&get(&o, "exclude"), "exclude")?;
    let cats = get(&o, "categories");
    if !cats.is_undefined() {
        r.categories = Some(string_list(&cats, "categories")?);
    }
    r.max_per_category = whole(&get(&o, "maxPerCategory"), "maxPerCategory", 0.0, 1e9)?.map(|n| n as usize);
    Ok(r)
}

/// The app's rules: `{ block: [id], boost: { category: number }, pin: [{ id, position }] }`.
fn app_rules(v: &JsValue) -> JsResult<AppRules> {
    let mut rules = AppRules::default();
    let Some(o) = options_object(v, "rules")? else { return Ok(rules) };
    rules.block = id_list(&get(&o, "block"), "rules.block")?;
    let boost = get(&o, "boost");
    if let Some(b) = options_object(&boost, "rules.boost")? {
        for entry in js_sys::Object::entries(b.unchecked_ref()).iter() {
            let pair = Array::from(&entry);
            let name = pair.get(0).as_string().unwrap_or_default();
            let w = pair.get(1).as_f64().filter(|w| w.is_finite()).ok_or_else(|| {
                bad_input(&format!("the boost of {name} must be a finite number, got {}", describe(&pair.get(1))))
            })?;
            rules.boost.push((name, w as f32));
        }
    }
    let pin = get(&o, "pin");
    if !absent(&pin) {
        if !Array::is_array(&pin) {
            return Err(bad_input(&format!("rules.pin must be an array, got {}", describe(&pin))));
        }
        for p in Array::from(&pin).iter() {
            let p =
                options_object(&p, "a pin")?.ok_or_else(|| bad_input("a pin must be an object { id, position }"))?;
            let id = item_id(&get(&p, "id"), "a pin's id")?;
            let pos = whole(&get(&p, "position"), "a pin's position", 0.0, (crate::recommender::MAX_K - 1) as f64)?
                .ok_or_else(|| bad_input("a pin needs a position"))?;
            rules.pin.push((id, pos as u32));
        }
    }
    rules.validate()?;
    Ok(rules)
}

/// What the page asks the loader for (see [`crate::request`]): made once from the app's options
/// and the browser's device hints, validated here.
#[wasm_bindgen(js_name = FileRequest)]
pub struct JsFileRequest {
    inner: crate::request::FileRequest,
}

#[wasm_bindgen(js_class = FileRequest)]
impl JsFileRequest {
    /// `{ precision, ranking, refine, autoStageBytes, saveData, deviceMemory }` (each optional);
    /// an unknown name or a bad size throws `invalid-argument`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<JsFileRequest> {
        let o = options_object(&options, "file request")?.unwrap_or_else(|| js_sys::Object::new().into());
        let device = crate::request::DeviceClass {
            save_data: get(&o, "saveData").as_bool() == Some(true),
            memory_gb: get(&o, "deviceMemory").as_f64(),
        };
        Ok(JsFileRequest { inner: file_request(&o, device)? })
    }

    /// The roles of the files of the first answer.
    pub fn roles(&self) -> Vec<String> {
        self.inner.roles()
    }
}

/// The loader's request from the app's options (`precision`, `ranking`, `refine`,
/// `autoStageBytes`, each optional) and the device class; an unknown name or a bad size is
/// `invalid-argument`.
fn file_request(o: &JsValue, device: crate::request::DeviceClass) -> JsResult<crate::request::FileRequest> {
    let name = |key: &str| -> JsResult<Option<String>> {
        let v = get(o, key);
        if v.is_undefined() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| bad_input(&format!("{key} must be a string, got {}", describe(&v))))
    };
    let bytes = get(o, "autoStageBytes");
    let bytes = if bytes.is_undefined() {
        None
    } else {
        Some(bytes.as_f64().ok_or_else(|| {
            bad_input(&format!("autoStageBytes must be a whole number of bytes, got {}", describe(&bytes)))
        })?)
    };
    let (precision, ranking, refine) = (name("precision")?, name("ranking")?, name("refine")?);
    Ok(crate::request::FileRequest::parse(precision.as_deref(), ranking.as_deref(), refine.as_deref(), bytes, device)?)
}

/// The browser's device class, as it reports it: Data Saver (`navigator.connection.saveData`)
/// and the memory (`navigator.deviceMemory`, Chromium only), in a window or a worker.
fn device_class() -> crate::request::DeviceClass {
    let nav = get(&js_sys::global(), "navigator");
    crate::request::DeviceClass {
        save_data: get(&get(&nav, "connection"), "saveData").as_bool() == Some(true),
        memory_gb: get(&nav, "deviceMemory").as_f64(),
    }
}

/// A session's own options: `{ historyScope, maxEvents, maxAgeDays, variant, rules }`.
struct SessionOptions {
    scope: String,
    bounds: Bounds,
    variant: Option<String>,
    rules: Option<AppRules>,
}

impl SessionOptions {
    fn parse(o: &JsValue) -> JsResult<SessionOptions> {
        let scope = match get(o, "historyScope") {
            v if v.is_undefined() => "default".to_owned(),
            v => v
                .as_string()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad_input(&format!("historyScope must be a non-empty string, got {}", describe(&v))))?,
        };
        let number = |key: &str| -> JsResult<Option<f64>> {
            let v = get(o, key);
            if absent(&v) {
                return Ok(None);
            }
            v.as_f64().map(Some).ok_or_else(|| bad_input(&format!("{key} must be a number, got {}", describe(&v))))
        };
        let bounds = Bounds::new(number("maxEvents")?, number("maxAgeDays")?)?;
        let variant = match get(o, "variant") {
            v if absent(&v) => None,
            v => Some(
                v.as_string().ok_or_else(|| bad_input(&format!("variant must be a string, got {}", describe(&v))))?,
            ),
        };
        let rules = match get(o, "rules") {
            v if absent(&v) => None,
            v => Some(app_rules(&v)?),
        };
        Ok(SessionOptions { scope, bounds, variant, rules })
    }
}

/// How a newer version found in the background is used: `background` (after `applyUpdate()` or
/// on the next open), `apply` (at once) or `wait` (the manifest is checked before the first answer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum UpdateMode {
    Background,
    Apply,
    Wait,
}

impl UpdateMode {
    fn parse(v: &JsValue) -> JsResult<UpdateMode> {
        match v.as_string().as_deref() {
            _ if v.is_undefined() => Ok(UpdateMode::Background),
            Some("background") => Ok(UpdateMode::Background),
            Some("apply") => Ok(UpdateMode::Apply),
            Some("wait") => Ok(UpdateMode::Wait),
            _ => Err(bad_input(&format!("update must be one of background, apply, wait, got {}", describe(v)))),
        }
    }
}

/// What a session opened by [`JsSession::connect`] loads with: the files' store, the manifest's
/// URL and the page's `fetch`, `signal` and `onProgress`.
struct Loader {
    files: Rc<super::cache::FileBackend>,
    options: JsValue,
    on_progress: js_sys::Function,
    url: String,
    mode: UpdateMode,
}

/// A manifest as the loader validated it: handed from `syncArtifacts` to the session as is (parsed
/// once, never copied back into JS as text).
#[wasm_bindgen(js_name = Manifest)]
pub struct JsManifest {
    pub(crate) inner: Manifest,
}

#[wasm_bindgen(js_class = Manifest)]
impl JsManifest {
    /// Parses and validates a manifest's JSON text (`invalid-manifest` names what is wrong).
    pub fn parse(json: &str) -> JsResult<JsManifest> {
        Ok(JsManifest { inner: Manifest::parse(json.as_bytes())? })
    }

    /// The export's model version.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> String {
        self.inner.model_version.clone()
    }
}

/// A model ready to answer: the recommender and its items' metadata, checked against each other.
#[wasm_bindgen(js_name = Model)]
pub struct JsModel {
    inner: Model,
}

#[wasm_bindgen(js_class = Model)]
impl JsModel {
    /// Takes the recommender (moved in) and the metadata file (`items.meta.lrc` or `items.json`);
    /// throws `invalid-metadata` or `corrupt-file` naming the mismatch.
    #[wasm_bindgen(constructor)]
    pub fn new(recommender: JsRecommender, metadata: &[u8]) -> JsResult<JsModel> {
        Ok(JsModel { inner: Model::new(recommender.inner, metadata)? })
    }

    /// A model from the verified files of a sync, keyed by role (what the loader's `prepare` gets):
    /// the tower's config and weights, the one item table loaded, the item metadata (compact, else
    /// `items.json`) and the ranking stage when present. Throws the decoders' typed errors.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(files: &JsValue) -> JsResult<JsModel> {
        Ok(JsModel { inner: model_from_files(files)? })
    }

    /// Number of items.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.inner.len() as u32
    }
}

/// [`JsModel::from_files`], for the loader's own use (the shadow loaded behind the first answer).
pub(crate) fn model_from_files(files: &JsValue) -> JsResult<Model> {
    use crate::manifest as m;
    let file = |role: &str| get(files, role).dyn_into::<js_sys::Uint8Array>().ok();
    let need = |role: &str| file(role).ok_or_else(|| bad_input(&format!("Model.fromFiles: no {role} file")));
    let table = [m::ROLE_ITEMS_INT8, m::ROLE_ITEMS_PQ, m::ROLE_ITEMS_PCA, m::ROLE_ITEMS_F32]
        .into_iter()
        .find_map(file)
        .ok_or_else(|| bad_input("Model.fromFiles: no item table"))?;
    // Read a section at a time: a large table is never copied whole into wasm memory first.
    let catalog = crate::catalog::Catalog::decode_from(&super::JsBytes(&table))?;
    let tower = crate::model::UserModel::from_bytes(
        &need(m::ROLE_TOWER_CONFIG)?.to_vec(),
        &need(m::ROLE_TOWER_WEIGHTS)?.to_vec(),
    )?;
    let mut rec = crate::recommender::Recommender::new(Rc::new(catalog), tower)?;
    if let Some(stage) = file(m::ROLE_RANKER) {
        let ranker = crate::rerank::RankingStage::decode(&stage.to_vec())?;
        rec.set_ranking_stage(Some(Rc::new(ranker)))?;
    }
    let meta = file(m::ROLE_ITEM_METADATA_COMPACT)
        .or_else(|| file(m::ROLE_ITEM_METADATA))
        .ok_or_else(|| bad_input("Model.fromFiles: no item metadata"))?;
    Ok(Model::new(rec, &meta.to_vec())?)
}

/// A version's commit to the store, in the background: `true` once stored (or with nothing to
/// store), `false` if it failed (the loader reported why).
async fn store_job(env: Rc<super::sync::WebEnv>, job: Option<crate::sync::StoreJob<super::sync::WebEnv>>) -> JsValue {
    match job {
        Some(job) => JsValue::from_bool(crate::sync::store(&*env, job).await),
        None => JsValue::TRUE,
    }
}

/// What [`Inner::load_behind`] loads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BehindPart {
    Stage,
    Refine,
    Shadow,
}

impl BehindPart {
    fn prepare(self) -> super::sync::Prepare {
        match self {
            BehindPart::Stage => super::sync::Prepare::Stage,
            BehindPart::Refine => super::sync::Prepare::Refine,
            BehindPart::Shadow => super::sync::Prepare::Model,
        }
    }
}

/// One handle that answers an open message channel's `onmessage`.
type Listener = Closure<dyn FnMut(MessageEvent)>;

struct Inner {
    session: RefCell<crate::session::Session>,
    store: Rc<Backend>,
    /// Bumped by every local change of a history (events, dismissed), so a reload that raced one
    /// starts again.
    generation: [Cell<u64>; 2],
    channels: [Option<BroadcastChannel>; 2],
    listeners: RefCell<Vec<Listener>>,
    /// The page's listener (`onEvent`), and the events that came before it was set.
    on_event: RefCell<Option<js_sys::Function>>,
    queued: RefCell<Vec<JsValue>>,
    /// Background writes not settled yet, and the `flush()` promises waiting for them.
    pending: Cell<u32>,
    flushed: RefCell<Vec<js_sys::Function>>,
    /// Whether the experiment's shadow was asked for (once per session).
    shadow_asked: Cell<bool>,
    /// `close()` was called: events are dropped.
    closed: Cell<bool>,
    /// The loader (sessions of `connect`), where the model came from (`network`, `cache`, `delta`,
    /// ...), why the manifest's newer version could not be used, and where the update waiting
    /// in the session comes from.
    loader: Option<Loader>,
    source: RefCell<String>,
    update_error: RefCell<Option<String>>,
    update_source: RefCell<String>,
    /// The first version's commit to the store (`stored()`), and the background work `idle()`
    /// waits for (commits, the update, the loads behind the first answer).
    stored: RefCell<Option<Promise>>,
    tasks: RefCell<Vec<Promise>>,
    device: String,
    variant: Option<String>,
    /// What the page asked the loader for.
    request: crate::request::FileRequest,
    /// The manifests' texts of the versions loaded (the one in use, an update), by model version:
    /// the parts loaded behind a version's first answer read its manifest from here.
    manifest_texts: RefCell<Vec<(String, String)>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for c in self.channels.iter().flatten() {
            c.set_onmessage(None);
            c.close();
        }
    }
}

fn slot(scope: Scope) -> usize {
    match scope {
        Scope::Events => 0,
        Scope::Dismissed => 1,
    }
}

impl Inner {
    fn bump(&self, scope: Scope) {
        let g = &self.generation[slot(scope)];
        g.set(g.get() + 1);
    }

    fn store_scope(&self, scope: Scope) -> String {
        self.session.borrow().history(scope).scope().to_owned()
    }

    /// Reads one history from the store again (again if a local change raced the read).
    async fn reload(self: &Rc<Self>, scope: Scope) -> crate::Result<crate::history::LoadReport> {
        let name = self.store_scope(scope);
        for _ in 0..4 {
            let generation = self.generation[slot(scope)].get();
            let records = self.store.load(&name).await?;
            if generation != self.generation[slot(scope)].get() {
                continue;
            }
            let (report, remove) = self.session.borrow_mut().apply_loaded(scope, records, now_secs())?;
            if !remove.is_empty() {
                let _ = self.store.remove(&remove).await;
            }
            return Ok(report);
        }
        Err(crate::Error::Storage { message: "the history kept changing while it was read".into(), quota: false })
    }

    /// [`Self::reload`], reporting what it found: `degraded` (`history-unreadable`) when the store
    /// could not be read (the history is then empty, never a failure), `history-skipped` when
    /// damaged records were skipped (and removed).
    async fn reload_reported(self: &Rc<Self>, scope: Scope) {
        match self.reload(scope).await {
            Ok(report) if report.skipped_total() > 0 => {
                let skipped = js_sys::Object::new();
                for (reason, n) in &report.skipped {
                    let _ = Reflect::set(&skipped, &JsValue::from_str(reason.name()), &JsValue::from(*n as u32));
                }
                let message = format!("{} damaged history event(s) skipped and removed", report.skipped_total());
                self.emit("history-skipped", &message, &[("skipped", skipped.into())]);
            }
            Ok(_) => {}
            Err(e) => self.emit(
                "degraded",
                &format!("stored history unreadable: {e}"),
                &[("reason", JsValue::from_str("history-unreadable"))],
            ),
        }
    }

    /// Hands the page an event `{ type, message, ...fields }` (kept until `onEvent` is set).
    fn emit(&self, kind: &str, message: &str, fields: &[(&str, JsValue)]) {
        let ev = object(&[("type", JsValue::from_str(kind)), ("message", JsValue::from_str(message))]);
        for (k, v) in fields {
            let _ = Reflect::set(&ev, &JsValue::from_str(k), v);
        }
        self.emit_value(ev.into());
    }

    fn emit_value(&self, ev: JsValue) {
        if self.closed.get() {
            return; // nobody listens any more
        }
        let listener = self.on_event.borrow().clone();
        match listener {
            Some(f) => {
                let _ = f.call1(&JsValue::UNDEFINED, &ev);
            }
            None => self.queued.borrow_mut().push(ev),
        }
    }

    /// Builds the session over `model` and `store`'s histories (not read yet: [`Self::start`]).
    fn new(
        store: &JsHistoryStore,
        model: Model,
        manifest: &Manifest,
        opts: SessionOptions,
        device: String,
        request: crate::request::FileRequest,
        loader: Option<Loader>,
    ) -> JsResult<Rc<Inner>> {
        let session = crate::session::Session::new(
            model,
            manifest,
            opts.bounds,
            &opts.scope,
            &device,
            opts.variant.as_deref(),
            opts.rules,
        )?;
        let channel = |s: Scope| match &*store.backend {
            Backend::Idb(_, name) => {
                BroadcastChannel::new(&format!("localrec:{name}:{}", session.history(s).scope())).ok()
            }
            Backend::Memory(_) => None,
        };
        let channels = [channel(Scope::Events), channel(Scope::Dismissed)];
        Ok(Rc::new(Inner {
            session: RefCell::new(session),
            store: Rc::clone(&store.backend),
            generation: [Cell::new(0), Cell::new(0)],
            channels,
            listeners: RefCell::new(Vec::new()),
            on_event: RefCell::new(None),
            queued: RefCell::new(Vec::new()),
            pending: Cell::new(0),
            flushed: RefCell::new(Vec::new()),
            shadow_asked: Cell::new(false),
            closed: Cell::new(false),
            loader,
            source: RefCell::new(String::new()),
            update_error: RefCell::new(None),
            update_source: RefCell::new(String::new()),
            stored: RefCell::new(None),
            tasks: RefCell::new(Vec::new()),
            device,
            variant: opts.variant,
            request,
            manifest_texts: RefCell::new(Vec::new()),
        }))
    }

    /// Reads both histories, then starts listening to other tabs.
    async fn start(self: &Rc<Self>) {
        self.reload_reported(Scope::Events).await;
        self.reload_reported(Scope::Dismissed).await;
        self.listen();
    }

    /// Settles once every history write made so far is stored (or has failed).
    fn flush(self: &Rc<Self>) -> Promise {
        if self.pending.get() == 0 {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let inner = Rc::clone(self);
        Promise::new(&mut move |resolve, _| inner.flushed.borrow_mut().push(resolve))
    }

    /// Runs `task` in the background; [`JsSession::idle`] waits for it.
    fn spawn<F: std::future::Future<Output = JsValue> + 'static>(&self, task: F) -> Promise {
        let p = wasm_bindgen_futures::future_to_promise(async move { Ok(task.await) });
        self.tasks.borrow_mut().push(p.clone());
        p
    }

    /// The loader's environment for a load of this session's (`connect`'s options), with its
    /// events handed to `events` (the session's own listener without one).
    fn loader_env(
        self: &Rc<Self>,
        prepare: super::sync::Prepare,
        events: Option<Box<dyn Fn(JsValue)>>,
    ) -> JsResult<super::sync::WebEnv> {
        let loader = self.loader.as_ref().ok_or_else(|| bad_input("this session has no loader"))?;
        let weak = Rc::downgrade(self);
        let events = events.unwrap_or_else(|| {
            Box::new(move |ev| {
                if let Some(inner) = weak.upgrade() {
                    inner.emit_value(ev);
                }
            })
        });
        Ok(super::sync::WebEnv::new(&loader.files, &loader.options, loader.on_progress.clone(), events, prepare)?)
    }

    /// The newer version the manifest announced, loaded in the background: stored, then offered
    /// (applied at once with `update: 'apply'`) and announced by an `update` event. A failure
    /// leaves the version in use (the loader reports it: `update-failed`).
    async fn update(
        self: Rc<Self>,
        env: super::sync::WebEnv,
        req: crate::sync::LoadRequest,
        pending: crate::sync::Pending<super::sync::WebEnv>,
    ) -> JsValue {
        let Some(newer) = crate::sync::update(&env, &req, pending).await else { return JsValue::NULL };
        self.keep_manifest_text(&newer.manifest.model_version, &newer.manifest_text);
        let (manifest, text) = (newer.manifest.clone(), newer.manifest_text.clone());
        let stored_ok = store_job(Rc::new(env), newer.store).await.is_truthy();
        let super::sync::Part::Model(model) = newer.prepared else { return JsValue::NULL };
        let version = newer.manifest.model_version.clone();
        let previous = self.session.borrow().manifest().model_version.clone();
        let offered = self.session.borrow_mut().offer_update(*model, newer.manifest);
        if let Err(e) = offered {
            let message = format!("model {version} could not be used ({e}): model {previous} stays in use");
            self.emit("update-failed", &message, &[("reason", JsValue::from_str(e.code()))]);
            return JsValue::NULL;
        }
        let source = newer.source.as_str();
        *self.update_source.borrow_mut() = source.to_owned();
        let apply = self.loader.as_ref().is_some_and(|l| l.mode == UpdateMode::Apply);
        let applied = match apply.then(|| self.apply()) {
            Some(Ok(applied)) => applied,
            Some(Err(e)) => {
                let message = format!("model {version} could not be applied ({e}): model {previous} stays in use");
                self.emit("update-failed", &message, &[("reason", JsValue::from_str(e.code()))]);
                return JsValue::NULL;
            }
            None => false,
        };
        let how = match source {
            "delta" => "delta",
            "network" => "downloaded",
            _ => "cached by another tab",
        };
        let cached = if stored_ok { " and cached" } else { " (not cached: see the degraded event)" };
        let when = match (applied, stored_ok) {
            (true, _) => "now in use",
            (false, true) => "used after applyUpdate() or on the next open",
            (false, false) => "used after applyUpdate()",
        };
        self.emit(
            "update",
            &format!("model {version} ({how}) is verified{cached}: {when}"),
            &[
                ("modelVersion", JsValue::from_str(&version)),
                ("previousVersion", JsValue::from_str(&previous)),
                ("source", JsValue::from_str(source)),
                ("applied", JsValue::from_bool(applied)),
                ("storedOk", JsValue::from_bool(stored_ok)),
            ],
        );
        // Not applied: the next visit starts from this version, and attaches its ranking stage before
        // its first answer if it is cached, so it is cached now (silently: failing, it follows that
        // visit's first answer). Applied, it is loaded behind as the version in use.
        if !applied && stored_ok && self.request.stage_first_if_cached(&manifest) {
            if let (Some(loader), Ok(env)) =
                (&self.loader, self.loader_env(super::sync::Prepare::Stage, Some(Box::new(|_| {}))))
            {
                let req = self.stage_request(&loader.url, false);
                let env = env.with_manifest_text(Some(text));
                if let Ok((loaded, _)) = crate::sync::load(&env, &req).await {
                    if let Some(job) = loaded.store {
                        crate::sync::store(&env, job).await;
                    }
                }
            }
        }
        JsValue::NULL
    }

    /// Switches to the update waiting in the session, and loads what follows its first answer.
    fn apply(self: &Rc<Self>) -> crate::Result<bool> {
        if !self.session.borrow_mut().apply_update(&self.device, self.variant.as_deref())? {
            return Ok(false);
        }
        *self.source.borrow_mut() = self.update_source.borrow().clone();
        *self.update_error.borrow_mut() = None;
        // Only fails without a loader, which `load_behind` checks first.
        let _ = Rc::clone(self).load_behind();
        Ok(true)
    }

    /// Loads what follows the first answer, in the background, each under its own cache record
    /// (the manifest's URL with a `#` suffix): the ranking stage and a pq table's refine plane when
    /// the request calls for them (`crate::session::Session::stage_behind`, `refine_behind`), each
    /// attached only to the model version in use, once; and the experiment's shadow variant, once
    /// per session. Events: `ranking-stage` or `refine` once attached, `ranking-stage-failed` or
    /// `refine-failed` (the model answers as it did), `shadow-ready` or `shadow-failed`, and the
    /// loader's own (not `offline` or `update-failed`: the model's sync reports those).
    fn load_behind(self: Rc<Self>) -> JsResult<()> {
        let Some(loader) = &self.loader else { return Ok(()) };
        let mut parts = Vec::new();
        {
            let s = self.session.borrow();
            if let Some(role) = s.stage_behind(&self.request) {
                parts.push((
                    BehindPart::Stage,
                    vec![role.to_owned()],
                    "ranking-stage".to_owned(),
                    self.variant.clone(),
                ));
            }
            if let Some(role) = s.refine_behind(&self.request) {
                parts.push((BehindPart::Refine, vec![role.to_owned()], "pq-refine".to_owned(), self.variant.clone()));
            }
            let shadow = s.experiment().and_then(|x| x.shadows.first().cloned());
            if let Some(name) = shadow.filter(|_| !self.shadow_asked.replace(true)) {
                parts.push((BehindPart::Shadow, self.request.full_roles(), format!("shadow={name}"), Some(name)));
            }
        }
        let text = self.manifest_text();
        for (part, roles, suffix, variant) in parts {
            let env = self.loader_env(part.prepare(), Some(self.part_events(part)))?.with_manifest_text(text.clone());
            let req = crate::sync::LoadRequest {
                url: format!("{}#{suffix}", loader.url),
                roles,
                device: Some(self.device.clone()),
                variant,
                background: true,
            };
            let task = Rc::clone(&self).load_part(part, env, req);
            let _ = self.spawn(async move {
                task.await;
                JsValue::UNDEFINED
            });
        }
        Ok(())
    }

    /// Keeps the manifest's text of a version loaded (one a session: the first, and an update).
    fn keep_manifest_text(&self, version: &str, text: &str) {
        self.manifest_texts.borrow_mut().push((version.to_owned(), text.to_owned()));
    }

    /// The manifest's text of the version in use, if the loader loaded it.
    fn manifest_text(&self) -> Option<String> {
        let current = self.session.borrow().manifest().model_version.clone();
        self.manifest_texts.borrow().iter().rev().find(|(v, _)| *v == current).map(|(_, t)| t.clone())
    }

    /// The loader's events of a part loaded behind, but those the model's own sync reports
    /// (`offline`, `update-failed`); none for the shadow.
    fn part_events(self: &Rc<Self>, part: BehindPart) -> Box<dyn Fn(JsValue)> {
        let weak = Rc::downgrade(self);
        Box::new(move |ev: JsValue| {
            let kind = get(&ev, "type").as_string().unwrap_or_default();
            if part != BehindPart::Shadow && kind != "offline" && kind != "update-failed" {
                if let Some(inner) = weak.upgrade() {
                    inner.emit_value(ev);
                }
            }
        })
    }

    /// The request of the ranking stage alone, under its own cache record (`url#ranking-stage`).
    fn stage_request(&self, url: &str, background: bool) -> crate::sync::LoadRequest {
        crate::sync::LoadRequest {
            url: format!("{url}#ranking-stage"),
            roles: vec![crate::manifest::ROLE_RANKER.to_owned()],
            device: Some(self.device.clone()),
            variant: self.variant.clone(),
            background,
        }
    }

    /// `ranking: 'auto'` on a returning visit ([`crate::request::FileRequest::stage_first_if_cached`]):
    /// the ranking stage a previous visit cached for the model in use is attached before the first
    /// answer, from the cache alone (its newer version, if any, is checked behind, as
    /// [`Self::load_behind`] does). Nothing when none is cached: it follows the first answer.
    async fn stage_from_cache(self: &Rc<Self>) -> JsResult<()> {
        let Some(loader) = &self.loader else { return Ok(()) };
        {
            let s = self.session.borrow();
            if s.stage_behind(&self.request).is_none() || !self.request.stage_first_if_cached(s.manifest()) {
                return Ok(());
            }
        }
        let part = BehindPart::Stage;
        let env = self.loader_env(part.prepare(), Some(self.part_events(part)))?;
        let req = self.stage_request(&loader.url, true);
        // From the cache alone (never the network: a stage not there follows the first answer), and
        // attached without an event: it is part of the first answer. (A stage of another version is
        // not attached: `attach_behind` checks.)
        if let Ok(Some(loaded)) = crate::sync::load_cached(&env, &req).await {
            if let super::sync::Part::Stage(stage) = loaded.prepared {
                let behind = crate::session::Behind::Stage(Rc::new(stage));
                let _ = self.session.borrow_mut().attach_behind(&loaded.manifest.model_version, behind);
            }
        }
        Ok(())
    }

    /// One part of [`Self::load_behind`]: loaded (from the cache or the network), attached,
    /// stored; then a newer version of it, if the manifest has one, the same way (a newer shadow
    /// is only stored: it is used from the next open).
    async fn load_part(self: Rc<Self>, part: BehindPart, env: super::sync::WebEnv, req: crate::sync::LoadRequest) {
        let (loaded, pending) = match crate::sync::load(&env, &req).await {
            Ok(l) => l,
            Err(e) => return self.part_failed(part, &e),
        };
        self.attach_part(part, loaded.prepared, &loaded.manifest.model_version);
        if let Some(job) = loaded.store {
            crate::sync::store(&env, job).await;
        }
        let Some(pending) = pending else { return };
        let Some(newer) = crate::sync::update(&env, &req, pending).await else { return };
        if part != BehindPart::Shadow {
            self.attach_part(part, newer.prepared, &newer.manifest.model_version);
        }
        if let Some(job) = newer.store {
            crate::sync::store(&env, job).await;
        }
    }

    fn attach_part(&self, part: BehindPart, prepared: super::sync::Part, version: &str) {
        use super::sync::Part;
        let attached = {
            let mut s = self.session.borrow_mut();
            match prepared {
                Part::Stage(stage) => s.attach_behind(version, crate::session::Behind::Stage(Rc::new(stage))),
                Part::Refine(plane) => s.attach_behind(version, crate::session::Behind::Refine(plane)),
                Part::Model(model) => s.set_shadow(*model).map(|()| true),
                Part::Js(_) => Ok(false),
            }
        };
        match (attached, part) {
            (Ok(false), _) => {}
            (Ok(true), BehindPart::Stage) => {
                self.emit("ranking-stage", &format!("the ranking stage of model {version} is in use"), &[])
            }
            (Ok(true), BehindPart::Refine) => {
                self.emit("refine", &format!("the pq table of model {version} is refined by its second level"), &[])
            }
            (Ok(true), BehindPart::Shadow) => {
                self.emit("shadow-ready", "the experiment's shadow variant is loaded", &[])
            }
            (Err(e), _) => self.part_failed(part, &js_err(e)),
        }
    }

    fn part_failed(&self, part: BehindPart, e: &JsValue) {
        let code = get(e, "code").as_string().unwrap_or_else(|| "internal".to_owned());
        let message = get(e, "message").as_string().unwrap_or_else(|| format!("{e:?}"));
        let (kind, what) = match part {
            BehindPart::Stage => ("ranking-stage-failed", "the ranking stage"),
            BehindPart::Refine => ("refine-failed", "the pq refine plane"),
            BehindPart::Shadow => ("shadow-failed", "the experiment's shadow variant"),
        };
        let message = format!("{what} could not be loaded ({message}): the model answers without it");
        self.emit(kind, &message, &[("reason", JsValue::from_str(&code))]);
    }

    fn announce(&self, scope: Scope, what: &str) {
        if let Some(c) = &self.channels[slot(scope)] {
            let _ = c.post_message(&object(&[("type", JsValue::from_str(what))]));
        }
    }

    /// Stores one event of `scope` in the background, one small transaction of its own (they
    /// commit in the order they were made). Nothing crosses back unless it fails: then a
    /// `degraded` event says so (the event stays in memory). `flush()` waits for it.
    fn store_event(self: &Rc<Self>, scope: Scope, event: crate::history::HistoryEvent) {
        self.bump(scope);
        self.pending.set(self.pending.get() + 1);
        let inner = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let name = inner.store_scope(scope);
            match crate::history::History::store_event(&*inner.store, &name, &event).await {
                Ok(()) => inner.announce(scope, "append"),
                Err(e) => {
                    let what = match scope {
                        Scope::Events => "history kept in memory only",
                        Scope::Dismissed => "dismissal kept in memory only",
                    };
                    inner.emit("degraded", &format!("{what}: {e}"), &[("reason", JsValue::from_str(e.code()))]);
                }
            }
            inner.pending.set(inner.pending.get() - 1);
            if inner.pending.get() == 0 {
                for resolve in inner.flushed.take() {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }
        });
    }

    fn listen(self: &Rc<Self>) {
        for scope in [Scope::Events, Scope::Dismissed] {
            let Some(channel) = &self.channels[slot(scope)] else { continue };
            let weak = Rc::downgrade(self);
            let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
                let Some(inner) = weak.upgrade() else { return };
                let cause = get(&msg.data(), "type").as_string().unwrap_or_default();
                wasm_bindgen_futures::spawn_local(async move {
                    inner.reload_reported(scope).await;
                    if scope == Scope::Events {
                        let events = inner.session.borrow().history(Scope::Events).events().len() as u32;
                        inner.emit(
                            "history-changed",
                            &format!("another tab changed the history ({cause})"),
                            &[("cause", JsValue::from_str(&cause)), ("events", JsValue::from(events))],
                        );
                    }
                });
            });
            channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
            self.listeners.borrow_mut().push(listener);
        }
    }
}

/// The visitor's session (see the module docs).
#[wasm_bindgen(js_name = Session)]
pub struct JsSession {
    inner: Rc<Inner>,
}

/// The kinds of a reason, as `recommend` reports them in `reasonKinds`.
const REASON_KINDS: [&str; 5] = ["view", "cart", "purchase", "popular", "pinned"];
/// The sources of a reason, as `recommend` reports them in `reasonSources`.
const REASON_SOURCES: [&str; 4] = ["similar", "together", "popular", "pinned"];

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::View => 0,
        Kind::Cart => 1,
        Kind::Purchase => 2,
    }
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// Opens the visitor's session over `model` (moved in): reads the history and the dismissals
    /// of `historyScope` from `store`, validated and bounded. `manifest`: the validated manifest
    /// (its rules and experiment). `options`: `{ historyScope, maxEvents, maxAgeDays, device,
    /// variant, rules }`. Bad options throw `invalid-argument` before anything is read. A store
    /// that cannot be read gives an empty history and a `degraded` event (`onEvent`), never a
    /// failure. `request` (moved in; the defaults without one): what the page asked the loader
    /// for. The low-level way in, for apps that load the files themselves; [`Self::connect`] does
    /// everything from a manifest URL (and loads what follows the first answer).
    pub fn open(
        store: &JsHistoryStore,
        model: JsModel,
        manifest: &JsManifest,
        options: JsValue,
        request: Option<JsFileRequest>,
    ) -> JsResult<Promise> {
        let o = options_object(&options, "options")?.unwrap_or_else(|| js_sys::Object::new().into());
        let opts = SessionOptions::parse(&o)?;
        let device = get(&o, "device").as_string().unwrap_or_default();
        let request = request.map(|r| r.inner).unwrap_or_default();
        let inner = Inner::new(store, model.inner, &manifest.inner, opts, device, request, None)?;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            inner.start().await;
            Ok(JsSession { inner }.into())
        }))
    }

    /// Opens the visitor's session from a manifest URL, in one call: the device's id, the files
    /// the options and the device class call for (from the cache, or downloaded and verified: see
    /// [`crate::sync`]), the model, the histories of `store`; then, in the background, the new
    /// version's commit ([`Self::stored`]), a newer version if the manifest has one (offered, or
    /// applied with `update: 'apply'`, and announced by an `update` event) and what follows the
    /// first answer. `options`: the file request's (`precision`, `ranking`, `refine`,
    /// `autoStageBytes`), the session's (`historyScope`, `maxEvents`, `maxAgeDays`, `variant`,
    /// `rules`), `update` (`background`, `apply` or `wait`), and `fetch`, `signal`, `onProgress`,
    /// `onEvent` (every event of the loader and the session). Bad options reject with
    /// `invalid-argument` before anything is read; no usable version rejects with the loader's
    /// code (`offline-no-cache`, `checksum-mismatch`, ...).
    pub fn connect(manifest_url: String, store: &JsHistoryStore, options: JsValue) -> JsResult<Promise> {
        let o = options_object(&options, "options")?.unwrap_or_else(|| js_sys::Object::new().into());
        let request = file_request(&o, device_class())?;
        let opts = SessionOptions::parse(&o)?;
        let mode = UpdateMode::parse(&get(&o, "update"))?;
        let url = super::sync::absolute_url(&manifest_url)?;
        let function = |key: &str| {
            get(&o, key).dyn_into::<js_sys::Function>().unwrap_or_else(|_| js_sys::Function::new_no_args(""))
        };
        let (on_event, on_progress) = (function("onEvent"), function("onProgress"));
        let files = Rc::clone(&store.files);
        let store = store.clone_handle();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let device = super::history::device_id(&store.backend).await;
            let events = on_event.clone();
            let forward: Box<dyn Fn(JsValue)> = Box::new(move |ev| {
                let _ = events.call1(&JsValue::UNDEFINED, &ev);
            });
            let env = super::sync::WebEnv::new(&files, &o, on_progress.clone(), forward, super::sync::Prepare::Model)?;
            // The page's copy of the manifest serves this load only: later loads fetch it, or read
            // the text of the version they belong to.
            let _ = Reflect::delete_property(o.unchecked_ref::<js_sys::Object>(), &JsValue::from_str("manifestText"));
            let req = crate::sync::LoadRequest {
                url: url.clone(),
                roles: request.roles(),
                device: Some(device.clone()),
                variant: opts.variant.clone(),
                background: mode != UpdateMode::Wait,
            };
            let (loaded, pending) = crate::sync::load(&env, &req).await?;
            let super::sync::Part::Model(model) = loaded.prepared else { unreachable!("prepared as a model") };
            let loader = Loader { files, options: o, on_progress, url, mode };
            let inner = Inner::new(&store, *model, &loaded.manifest, opts, device, request, Some(loader))
                .map_err(JsValue::from)?;
            *inner.on_event.borrow_mut() = Some(on_event);
            inner.keep_manifest_text(&loaded.manifest.model_version, &loaded.manifest_text);
            *inner.source.borrow_mut() = loaded.source.as_str().to_owned();
            *inner.update_error.borrow_mut() = loaded.update_error.as_ref().map(super::sync::message_of);
            let stored = inner.spawn(store_job(Rc::new(env), loaded.store));
            *inner.stored.borrow_mut() = Some(stored);
            inner.start().await;
            inner.stage_from_cache().await?;
            if let Some(pending) = pending {
                let env = inner.loader_env(super::sync::Prepare::Model, None).map_err(JsValue::from)?;
                let _ = inner.spawn(Rc::clone(&inner).update(env, req, pending));
            }
            Rc::clone(&inner).load_behind().map_err(JsValue::from)?;
            Ok(JsSession { inner }.into())
        }))
    }

    /// Settles with `true` once the version `connect` downloaded is in the store (at once for a
    /// cached one), `false` if it could not be stored (it answers from memory).
    pub fn stored(&self) -> Promise {
        self.inner.stored.borrow().clone().unwrap_or_else(|| Promise::resolve(&JsValue::TRUE))
    }

    /// Resolves once the background work is done: commits, the update, the loads behind the first
    /// answer, the history's writes (an aborted `signal` stops the loads).
    pub fn idle(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            loop {
                let tasks = inner.tasks.take();
                if tasks.is_empty() {
                    break;
                }
                crate::sync::join_all(tasks.iter().map(super::wait::promise).collect()).await;
            }
            let _ = super::wait::promise(&inner.flush()).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Calls `callback(event)` with the session's events, those that came before it first:
    /// `history-skipped` and `degraded` (`history-unreadable`) from reading a history,
    /// `history-changed` (`cause`: `append`, `clear` or `import`) after another tab changed it,
    /// `degraded` (`quota` or `store-failed`) when a background write failed (the event stays in
    /// memory), and those of [`Self::load_behind`].
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, callback: Option<js_sys::Function>) {
        *self.inner.on_event.borrow_mut() = callback;
        for ev in self.inner.queued.take() {
            self.inner.emit_value(ev);
        }
    }

    /// Resolves once every event recorded so far is stored (or its write has failed).
    pub fn flush(&self) -> Promise {
        self.inner.flush()
    }

    /// Records an interaction: `kind` a name or alias (default `'view'`), `time` in seconds since
    /// the epoch (default now). The user vector is updated before this returns; the event is
    /// stored in the background (`flush()`; a failed write is a `degraded` event). Throws `unknown-item`,
    /// `invalid-query` (kind) or `invalid-argument`, and then changes nothing. Returns 0, or when
    /// the interaction was scored against an experiment's shadow: 1, plus 2 if it was in the live
    /// variant's top 10, plus 4 if in the shadow's (counts only, for the page's metrics).
    pub fn record(&self, id: JsValue, kind: JsValue, time: JsValue) -> JsResult<u32> {
        let id = item_id(&id, "the item id")?;
        let kind = if kind.is_undefined() {
            Kind::View
        } else {
            let name = kind.as_string().ok_or_else(|| {
                js_err(crate::Error::UnknownKind(format!(
                    "{} (a kind is a string: view, cart or purchase)",
                    describe(&kind)
                )))
            })?;
            Kind::from_name(&name)?
        };
        let now = now_secs();
        let time = if time.is_undefined() {
            now
        } else {
            time.as_f64()
                .ok_or_else(|| bad_input(&format!("time must be a number of seconds, got {}", describe(&time))))?
        };
        let event = self.inner.session.borrow_mut().record(&id, kind, time, now)?;
        self.inner.store_event(Scope::Events, event);
        let scored = self.inner.session.borrow().last_scored();
        Ok(scored.map_or(0, |(live, shadow)| 1 | u32::from(live) << 1 | u32::from(shadow) << 2))
    }

    /// "Not interested" (see `crate::session::Session::dismiss`), stored like `record`'s events.
    pub fn dismiss(&self, id: JsValue) -> JsResult<()> {
        let id = item_id(&id, "the item id")?;
        let event = self.inner.session.borrow_mut().dismiss(&id, now_secs())?;
        self.inner.store_event(Scope::Dismissed, event);
        Ok(())
    }

    /// The top `k` for the visitor, in one go: `{ rows: Uint32Array, scores: Float32Array,
    /// reasonKinds: Uint8Array, reasonSources: Uint8Array, reasonRows: Int32Array (-1: none), ids,
    /// titles, categories (null: none), reasonIds (null: none), reasonTitles, coldStart }`, best
    /// first. Kinds index `reasonKindNames`, sources `reasonSourceNames`.
    pub fn recommend(&self, options: JsValue) -> JsResult<JsValue> {
        let req = request(&options)?;
        let mut s = self.inner.session.borrow_mut();
        let answer = s.recommend(&req)?;
        let model = s.model();
        let n = answer.items.len();
        let (mut rows, mut scores, mut kinds, mut sources, mut because) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (ids, titles, categories, reason_ids, reason_titles) =
            (Array::new(), Array::new(), Array::new(), Array::new(), Array::new());
        for r in &answer.items {
            rows.push(r.index);
            scores.push(r.score);
            let (kind, source, item) = match r.reason {
                Reason::Because { item, kind } => (kind_code(kind), 0u8, Some(item)),
                Reason::Together { item, kind } => (kind_code(kind), 1, Some(item)),
                Reason::Popular => (3, 2, None),
                Reason::Pinned => (4, 3, None),
            };
            kinds.push(kind);
            sources.push(source);
            because.push(item.map_or(-1, |i| i as i32));
            ids.push(&JsValue::from_str(model.id(r.index)));
            titles.push(&JsValue::from_str(model.title(r.index)));
            categories.push(&model.category(r.index).map_or(JsValue::NULL, JsValue::from_str));
            reason_ids.push(&item.map_or(JsValue::NULL, |i| JsValue::from_str(model.id(i))));
            reason_titles.push(&item.map_or(JsValue::NULL, |i| JsValue::from_str(model.title(i))));
        }
        Ok(object(&[
            ("rows", Uint32Array::from(&rows[..]).into()),
            ("scores", Float32Array::from(&scores[..]).into()),
            ("reasonKinds", Uint8Array::from(&kinds[..]).into()),
            ("reasonSources", Uint8Array::from(&sources[..]).into()),
            ("reasonRows", Int32Array::from(&because[..]).into()),
            ("ids", ids.into()),
            ("titles", titles.into()),
            ("categories", categories.into()),
            ("reasonIds", reason_ids.into()),
            ("reasonTitles", reason_titles.into()),
            ("coldStart", JsValue::from_bool(answer.cold_start)),
        ])
        .into())
    }

    /// Names of the codes in `recommend`'s `reasonKinds`.
    #[wasm_bindgen(js_name = reasonKindNames)]
    pub fn reason_kind_names() -> Vec<String> {
        REASON_KINDS.iter().map(|s| s.to_string()).collect()
    }

    /// Names of the codes in `recommend`'s `reasonSources`.
    #[wasm_bindgen(js_name = reasonSourceNames)]
    pub fn reason_source_names() -> Vec<String> {
        REASON_SOURCES.iter().map(|s| s.to_string()).collect()
    }

    /// What `recommend(options)` answers, explained, with titles (see `Recommender.explain`).
    pub fn explain(&self, options: JsValue) -> JsResult<JsValue> {
        let req = request(&options)?;
        let mut s = self.inner.session.borrow_mut();
        let e = s.explain(&req)?;
        let dismissed = s.history(Scope::Dismissed).events().len() as u32;
        let model = s.model();
        super::explanation_object(&e, model.recommender().catalog(), dismissed, |row| {
            Some(JsValue::from_str(model.title(row)))
        })
        .map_err(BindingError::from)
    }

    /// Replaces the app's rules (see `crate::session::AppRules`); returns how many ids the
    /// catalog lacks. Invalid rules throw `invalid-argument` and change nothing.
    #[wasm_bindgen(js_name = setRules)]
    pub fn set_rules(&self, rules: JsValue) -> JsResult<u32> {
        let rules = app_rules(&rules)?;
        Ok(self.inner.session.borrow_mut().set_rules(rules)? as u32)
    }

    /// Keeps a newer model (moved in) and its manifest until `applyUpdate()`, in place of any
    /// offered before; the model in use answers meanwhile.
    #[wasm_bindgen(js_name = offerUpdate)]
    pub fn offer_update(&self, model: JsModel, manifest: &JsManifest) -> JsResult<()> {
        Ok(self.inner.session.borrow_mut().offer_update(model.inner, manifest.inner.clone())?)
    }

    /// Switches to the model `offerUpdate` left waiting (the history, the dismissals and the app's
    /// rules carry over); `false` when none waits.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(&self) -> JsResult<bool> {
        Ok(self.inner.apply()?)
    }

    /// Computes both variants' top 10 for the next interaction (call it when idle).
    #[wasm_bindgen(js_name = prepareShadow)]
    pub fn prepare_shadow(&self) -> JsResult<()> {
        self.inner.session.borrow_mut().prepare_shadow().map_err(BindingError::from)
    }

    /// `{ [variant]: { events, hits } }` for the live and the shadow variant (empty before the
    /// first scored interaction).
    #[wasm_bindgen(js_name = shadowScores)]
    pub fn shadow_scores(&self) -> js_sys::Object {
        let o = js_sys::Object::new();
        for (name, score) in self.inner.session.borrow().shadow_scores() {
            let v = object(&[("events", JsValue::from(score.events)), ("hits", JsValue::from(score.hits))]);
            let _ = Reflect::set(&o, &JsValue::from_str(name), &v);
        }
        o
    }

    /// The model in use and the experiment: `{ modelVersion, dataset, items, dim, precision,
    /// ranking, refined, experiment, variant, shadows, shadowReady }`: the one source of the page's
    /// `info`, read again after every change.
    #[wasm_bindgen(js_name = modelInfo)]
    pub fn model_info(&self) -> js_sys::Object {
        let s = self.inner.session.borrow();
        let m = s.model();
        let c = m.recommender().catalog();
        let x = s.experiment();
        let text = |v: Option<&str>| v.map_or(JsValue::NULL, JsValue::from_str);
        let shadows: Array = x.map(|x| x.shadows.iter().map(|n| JsValue::from_str(n)).collect()).unwrap_or_default();
        object(&[
            ("modelVersion", JsValue::from_str(&s.manifest().model_version)),
            ("dataset", JsValue::from_str(&s.manifest().dataset)),
            ("items", JsValue::from(c.len() as u32)),
            ("dim", JsValue::from(c.dim() as u32)),
            ("precision", JsValue::from_str(c.precision())),
            ("ranking", JsValue::from_str(if m.has_ranking_stage() { "two-stage" } else { "tower" })),
            ("refined", JsValue::from_bool(m.is_refined())),
            ("experiment", text(x.map(|x| x.experiment.as_str()))),
            ("variant", text(x.map(|x| x.variant.as_str()))),
            ("shadows", shadows.into()),
            ("shadowReady", JsValue::from_bool(s.has_shadow())),
            ("source", JsValue::from_str(&self.inner.source.borrow())),
            ("updateError", self.inner.update_error.borrow().as_deref().map_or(JsValue::NULL, JsValue::from_str)),
        ])
    }

    /// Item metadata by id: `{ id, title, category }`, or `null` for an id the catalog lacks.
    pub fn item(&self, id: JsValue) -> JsResult<JsValue> {
        let id = item_id(&id, "the item id")?;
        let s = self.inner.session.borrow();
        let m = s.model();
        Ok(m.row(&id).map_or(JsValue::NULL, |r| item_object(m, r).into()))
    }

    /// Every item's `{ id, title, category }`, in catalog order.
    pub fn items(&self) -> Array {
        let s = self.inner.session.borrow();
        let m = s.model();
        (0..m.len() as u32).map(|r| JsValue::from(item_object(m, r))).collect()
    }

    /// Category names.
    pub fn categories(&self) -> Vec<String> {
        self.inner.session.borrow().model().items().categories().to_vec()
    }

    /// The visitor's history, oldest first: `[{ id, kind, time }]`.
    pub fn history(&self) -> JsResult<JsValue> {
        to_js(self.inner.session.borrow().history(Scope::Events).events()).map_err(BindingError::from)
    }

    /// Number of kept events.
    #[wasm_bindgen(getter, js_name = historyLength)]
    pub fn history_length(&self) -> u32 {
        self.inner.session.borrow().history(Scope::Events).events().len() as u32
    }

    /// The history as JSON: `{ format: 'localrec-history', version: 1, exportedAt, events }`.
    #[wasm_bindgen(js_name = exportHistory)]
    pub fn export_history(&self) -> String {
        let at: String = js_sys::Date::new_0().to_iso_string().into();
        self.inner.session.borrow().history(Scope::Events).export_json(&at)
    }

    /// Adds the events of an exported history that this one lacks; resolves with `{ added,
    /// duplicates, skipped, pruned }`. Another format or version rejects with `invalid-history`.
    #[wasm_bindgen(js_name = importHistory)]
    pub fn import_history(&self, json: JsValue) -> JsResult<Promise> {
        let json = json.as_string().ok_or_else(|| {
            js_err(crate::Error::InvalidHistory(format!("expected the exported JSON text, got {}", describe(&json))))
        })?;
        let (report, added) = self.inner.session.borrow_mut().merge_import(&json, now_secs())?;
        self.inner.bump(Scope::Events);
        let report = to_js(&report)?;
        let inner = Rc::clone(&self.inner);
        let writing = wasm_bindgen_futures::future_to_promise(async move {
            let name = inner.store_scope(Scope::Events);
            inner.store.append(&name, &added).await.map_err(|e| js_err(e.into()))?;
            inner.announce(Scope::Events, "import");
            Ok(report)
        });
        self.inner.tasks.borrow_mut().push(writing.clone()); // `idle()` waits for it
        Ok(writing)
    }

    /// Deletes the history and the dismissals, here at once and in the store (other tabs follow).
    #[wasm_bindgen(js_name = clearHistory)]
    pub fn clear_history(&self) -> JsResult<Promise> {
        self.inner.session.borrow_mut().forget()?;
        self.inner.bump(Scope::Events);
        self.inner.bump(Scope::Dismissed);
        let inner = Rc::clone(&self.inner);
        let clearing = wasm_bindgen_futures::future_to_promise(async move {
            for scope in [Scope::Events, Scope::Dismissed] {
                let name = inner.store_scope(scope);
                inner.store.clear(&name).await.map_err(|e| js_err(e.into()))?;
                inner.announce(scope, "clear");
            }
            Ok(JsValue::UNDEFINED)
        });
        self.inner.tasks.borrow_mut().push(clearing.clone()); // `idle()` waits for it
        Ok(clearing)
    }

    /// Stops listening to other tabs.
    pub fn close(&self) {
        for c in self.inner.channels.iter().flatten() {
            c.set_onmessage(None);
            c.close();
        }
        self.inner.listeners.borrow_mut().clear();
        self.inner.on_event.borrow_mut().take();
        self.inner.closed.set(true);
        self.inner.queued.take();
    }
}

fn item_object(m: &Model, row: u32) -> js_sys::Object {
    object(&[
        ("id", JsValue::from_str(m.id(row))),
        ("title", JsValue::from_str(m.title(row))),
        ("category", m.category(row).map_or(JsValue::NULL, JsValue::from_str)),
    ])
}
