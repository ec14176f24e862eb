//! The visitor's history: one suite, run natively against the in-memory store and in Chrome,
//! Firefox and WebKit against the real IndexedDB store (`wasm-pack test`). A damaged stored event
//! is skipped, counted and removed, never fatal; two tabs appending to one history never lose each
//! other's events; a clear stays cleared; bounds hold; an export imports back; a full store keeps
//! the event in memory. In browsers also: the schema-1 history moves to one record per event, and
//! a second tab learns of changes over the BroadcastChannel.

use localrec::history::{Bounds, History, HistoryEvent, HistoryStore, Loose, MemoryHistoryStore, RawEvent, SkipReason};
use localrec::{Error, Kind};

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const NOW: f64 = 1_800_000_000.0;

fn ev(id: &str, kind: Kind, time: f64) -> HistoryEvent {
    HistoryEvent { id: id.to_owned(), kind, time }
}

/// What a damaged disk, an older version or another tool could have stored, and the reason each
/// must be skipped for (`None`: a record that is not an object at all).
fn damaged() -> Vec<(Option<RawEvent>, SkipReason)> {
    let raw = |id: Loose, kind: Loose, time: Loose| Some(RawEvent { id, kind, time });
    let s = |x: &str| Loose::Str(x.to_owned());
    vec![
        (raw(s("sku-inf"), s("view"), Loose::Num(f64::INFINITY)), SkipReason::BadTime),
        (raw(s("sku-nan"), s("view"), Loose::Num(f64::NAN)), SkipReason::BadTime),
        (raw(s("sku-str"), s("view"), s("yesterday")), SkipReason::BadTime),
        (raw(s("sku-none"), s("view"), Loose::Missing), SkipReason::BadTime),
        (raw(s("sku-like"), s("like"), Loose::Num(NOW - 5.0)), SkipReason::BadKind),
        (raw(Loose::Num(5.0), s("view"), Loose::Num(NOW - 5.0)), SkipReason::BadId),
        (raw(s(""), s("cart"), Loose::Num(NOW - 5.0)), SkipReason::BadId),
        (raw(s(&"x".repeat(2000)), s("cart"), Loose::Num(NOW - 5.0)), SkipReason::BadId),
        (raw(Loose::Missing, Loose::Missing, Loose::Missing), SkipReason::BadId),
    ]
}

/// A store the suite can also write raw records into, as a damaged disk would hold them.
#[allow(async_fn_in_trait)]
trait TestStore: HistoryStore {
    async fn put_raw(&self, scope: &str, raw: Option<RawEvent>);
}

impl TestStore for MemoryHistoryStore {
    async fn put_raw(&self, scope: &str, raw: Option<RawEvent>) {
        MemoryHistoryStore::put_raw(self, scope, raw);
    }
}

async fn damaged_events_are_skipped_counted_and_removed<S: TestStore>(store: &S) {
    store.append("s", &[ev("sku-1", Kind::View, NOW - 30.0)]).await.unwrap();
    let cases = damaged();
    for (raw, _) in &cases {
        store.put_raw("s", raw.clone()).await;
    }
    store.append("s", &[ev("sku-2", Kind::Cart, NOW - 20.0)]).await.unwrap();
    let mut h = History::new("s", Bounds::default());
    let report = h.load(store, NOW).await.expect("a damaged event is never fatal");
    assert_eq!(h.events(), &[ev("sku-1", Kind::View, NOW - 30.0), ev("sku-2", Kind::Cart, NOW - 20.0)]);
    assert_eq!(report.kept, 2);
    assert_eq!(report.skipped_total(), cases.len());
    for (_, why) in &cases {
        let want = cases.iter().filter(|(_, w)| w == why).count();
        assert_eq!(report.skipped.get(why), Some(&want), "{why:?}: {report:?}");
    }
    // Removed from the store: the next visit reads a clean history and reports nothing.
    let mut again = History::new("s", Bounds::default());
    let report = again.load(store, NOW).await.unwrap();
    assert_eq!(report.skipped_total(), 0);
    assert_eq!(again.events(), h.events());
}

async fn two_tabs_never_lose_each_others_events<S: HistoryStore>(store: &S) {
    let mut a = History::new("t", Bounds::default());
    let mut b = History::new("t", Bounds::default());
    a.load(store, NOW).await.unwrap();
    b.load(store, NOW).await.unwrap();
    for (in_a, id, t) in [(true, "item-10", 1.0), (false, "item-20", 2.0), (true, "item-11", 3.0)] {
        let tab = if in_a { &mut a } else { &mut b };
        let e = tab.push(ev(id, Kind::View, NOW - 100.0 + t), NOW);
        History::store_event(store, "t", &e).await.unwrap();
    }
    let mut fresh = History::new("t", Bounds::default());
    fresh.load(store, NOW).await.unwrap();
    let ids: Vec<&str> = fresh.events().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["item-10", "item-20", "item-11"], "a new tab sees every tab's events");

    // A clears; B, which has not heard of it yet, records one more: the clear stays cleared.
    a.clear(store).await.unwrap();
    let e = b.push(ev("item-21", Kind::Cart, NOW - 50.0), NOW);
    History::store_event(store, "t", &e).await.unwrap();
    b.load(store, NOW).await.unwrap();
    assert_eq!(b.events(), &[ev("item-21", Kind::Cart, NOW - 50.0)]);
    let mut fresh = History::new("t", Bounds::default());
    fresh.load(store, NOW).await.unwrap();
    assert_eq!(fresh.events(), b.events());
}

async fn bounds_are_applied_and_pruned_from_the_store<S: HistoryStore>(store: &S) {
    let bounds = Bounds::new(Some(3.0), Some(1.0)).unwrap();
    let events: Vec<HistoryEvent> =
        (0..6).map(|i| ev(&format!("sku-{i}"), Kind::View, NOW - 3600.0 * i as f64)).collect();
    store.append("b", &events).await.unwrap();
    store.append("b", &[ev("old", Kind::Purchase, NOW - 2.0 * 86_400.0)]).await.unwrap();
    let mut h = History::new("b", bounds);
    let report = h.load(store, NOW).await.unwrap();
    let ids: Vec<&str> = h.events().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["sku-2", "sku-1", "sku-0"], "the newest 3, oldest first");
    assert_eq!((report.kept, report.pruned), (3, 4));
    let raw = store.load("b").await.unwrap();
    assert_eq!(raw.len(), 3, "pruned events are removed from the store");

    // Pushing past the bound drops the oldest in memory.
    h.push(ev("sku-new", Kind::Cart, NOW + 1.0), NOW);
    let ids: Vec<&str> = h.events().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["sku-1", "sku-0", "sku-new"]);
}

async fn export_imports_back<S: HistoryStore>(store: &S) {
    let mut h = History::new("x", Bounds::default());
    for (i, kind) in [Kind::View, Kind::Cart, Kind::Purchase].into_iter().enumerate() {
        let e = h.push(ev(&format!("sku-{i}"), kind, NOW - 10.0 + i as f64), NOW);
        History::store_event(store, "x", &e).await.unwrap();
    }
    let json = h.export_json("2027-01-15T08:00:00.000Z");
    let saved = h.events().to_vec();
    h.clear(store).await.unwrap();
    assert!(h.events().is_empty());

    // Another format or version: a typed error, nothing changes.
    for bad in [
        "not json",
        "[]",
        r#"{"format":"other","version":1,"events":[]}"#,
        r#"{"format":"localrec-history","version":2,"events":[]}"#,
    ] {
        let err = h.import_json(store, bad, NOW).await.unwrap_err();
        assert!(matches!(err, Error::InvalidHistory(_)), "{bad}: {err:?}");
        assert_eq!(err.code(), "invalid-history");
    }
    assert!(h.events().is_empty());

    let report = h.import_json(store, &json, NOW).await.unwrap();
    assert_eq!((report.added, report.duplicates, report.pruned), (3, 0, 0));
    assert_eq!(h.events(), &saved[..]);
    // Importing twice adds nothing; invalid events in a file are skipped and counted.
    let with_bad = json.replacen(r#""kind": "view""#, r#""kind": "like""#, 1);
    let report = h.import_json(store, &with_bad, NOW).await.unwrap();
    assert_eq!((report.added, report.duplicates), (0, 2));
    assert_eq!(report.skipped.get(&SkipReason::BadKind), Some(&1));
    let mut fresh = History::new("x", Bounds::default());
    fresh.load(store, NOW).await.unwrap();
    assert_eq!(fresh.events(), &saved[..], "the import reached the store");
}

// ---- native: the in-memory store ------------------------------------------------------------

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use crate::common::block_on;
    use localrec::history::MAX_EVENTS;

    #[test]
    fn damaged_events() {
        block_on(damaged_events_are_skipped_counted_and_removed(&MemoryHistoryStore::new()));
    }

    #[test]
    fn two_tabs() {
        block_on(two_tabs_never_lose_each_others_events(&MemoryHistoryStore::new()));
    }

    #[test]
    fn bounds() {
        block_on(bounds_are_applied_and_pruned_from_the_store(&MemoryHistoryStore::new()));
    }

    #[test]
    fn export_import() {
        block_on(export_imports_back(&MemoryHistoryStore::new()));
    }

    #[test]
    fn a_record_that_is_not_an_object_is_skipped() {
        let store = MemoryHistoryStore::new();
        store.put_raw("n", None);
        let mut h = History::new("n", Bounds::default());
        let report = block_on(h.load(&store, NOW)).unwrap();
        assert_eq!(report.skipped.get(&SkipReason::NotAnObject), Some(&1));
        assert_eq!(store.len("n"), 0);
    }

    #[test]
    fn a_full_store_keeps_the_event_in_memory() {
        let store = MemoryHistoryStore::new();
        *store.fail_writes.borrow_mut() =
            Some(localrec::history::StoreError { message: "QuotaExceededError".into(), quota: true });
        let mut h = History::new("q", Bounds::default());
        let e = h.push(ev("sku-1", Kind::View, NOW), NOW);
        let err = block_on(History::store_event(&store, "q", &e)).unwrap_err();
        assert_eq!(err.code(), "quota");
        assert_eq!(h.events().len(), 1);
    }

    #[test]
    fn options_and_events_are_validated() {
        assert!(Bounds::new(Some(0.0), None).is_err());
        assert!(Bounds::new(Some(2.5), None).is_err());
        assert!(Bounds::new(Some(MAX_EVENTS as f64 + 1.0), None).is_err());
        assert!(Bounds::new(None, Some(f64::NAN)).is_err());
        assert!(Bounds::new(None, Some(-1.0)).is_err());
        assert_eq!(Bounds::new(None, Some(f64::INFINITY)).unwrap().max_age_secs, f64::INFINITY);
        assert_eq!(Bounds::new(None, None).unwrap(), Bounds::default());
        assert_eq!(HistoryEvent::new("a", "add_to_cart", 1.0).unwrap().kind, Kind::Cart, "aliases, defined once");
        assert_eq!(HistoryEvent::new("a", "view", f64::INFINITY).unwrap_err().code(), "invalid-query");
        assert_eq!(HistoryEvent::new("", "view", 1.0).unwrap_err().code(), "invalid-argument");
        assert_eq!(HistoryEvent::new("a", "like", 1.0).unwrap_err().code(), "invalid-query");
    }

    #[test]
    fn error_codes_are_listed_once_and_the_package_types_match() {
        let dts = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/js/index.d.ts")).unwrap();
        let start = dts.find("export type ErrorCode =").expect("index.d.ts declares ErrorCode");
        let decl = &dts[start..start + dts[start..].find(';').unwrap()];
        let mut declared: Vec<&str> = decl.split('\'').skip(1).step_by(2).collect();
        let mut listed = localrec::ERROR_CODES.to_vec();
        declared.sort_unstable();
        listed.sort_unstable();
        assert_eq!(declared, listed, "index.d.ts ErrorCode must equal localrec::ERROR_CODES");
    }
}

// ---- browsers: the IndexedDB store ------------------------------------------------------------

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;
    use js_sys::{Object, Reflect};
    use localrec::wasm::history::IdbHistoryStore;
    use localrec::wasm::idb;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;

    fn raw_to_js(scope: &str, raw: &Option<RawEvent>) -> JsValue {
        let Some(raw) = raw else { return JsValue::from_str("just a string") };
        let o = Object::new();
        Reflect::set(&o, &"scope".into(), &scope.into()).unwrap();
        for (name, v) in [("id", &raw.id), ("kind", &raw.kind), ("time", &raw.time)] {
            let value = match v {
                Loose::Str(s) => JsValue::from_str(s),
                Loose::Num(n) => JsValue::from_f64(*n),
                Loose::Other => JsValue::NULL,
                Loose::Missing => continue,
            };
            Reflect::set(&o, &name.into(), &value).unwrap();
        }
        o.into()
    }

    struct Db(web_sys::IdbDatabase, IdbHistoryStore);

    impl HistoryStore for Db {
        async fn load(
            &self,
            scope: &str,
        ) -> Result<Vec<(f64, Result<HistoryEvent, SkipReason>)>, localrec::history::StoreError> {
            self.1.load(scope).await
        }
        async fn append(&self, scope: &str, events: &[HistoryEvent]) -> Result<(), localrec::history::StoreError> {
            self.1.append(scope, events).await
        }
        async fn remove(&self, keys: &[f64]) -> Result<(), localrec::history::StoreError> {
            self.1.remove(keys).await
        }
        async fn clear(&self, scope: &str) -> Result<(), localrec::history::StoreError> {
            self.1.clear(scope).await
        }
    }

    impl TestStore for Db {
        async fn put_raw(&self, scope: &str, raw: Option<RawEvent>) {
            let tx = self.0.transaction_with_str_and_mode(idb::EVENTS, web_sys::IdbTransactionMode::Readwrite).unwrap();
            let value = raw_to_js(scope, &raw);
            // A non-object cannot carry the scope index key: store it as a record whose only field is
            // the scope, as a damaged record would look.
            let value = if value.is_object() {
                value
            } else {
                let o = Object::new();
                Reflect::set(&o, &"scope".into(), &scope.into()).unwrap();
                Reflect::set(&o, &"raw".into(), &value).unwrap();
                o.into()
            };
            tx.object_store(idb::EVENTS).unwrap().add(&value).unwrap();
            idb::done(&tx).await.unwrap();
        }
    }

    async fn fresh_db(name: &str) -> Db {
        let db = crate::common::fresh_database(name).await;
        Db(db.clone(), IdbHistoryStore::new(db))
    }

    #[wasm_bindgen_test]
    async fn damaged_events() {
        damaged_events_are_skipped_counted_and_removed(&fresh_db("t-damaged").await).await;
    }

    #[wasm_bindgen_test]
    async fn two_tabs() {
        // Two connections, as two tabs have.
        let a = fresh_db("t-tabs").await;
        let (b, _) = idb::open_database("t-tabs", 5000).await.unwrap();
        two_tabs_never_lose_each_others_events(&a).await;
        let mut h = History::new("t", Bounds::default());
        h.load(&IdbHistoryStore::new(b), NOW).await.unwrap();
        assert_eq!(h.events(), &[ev("item-21", Kind::Cart, NOW - 50.0)], "the second connection agrees");
    }

    #[wasm_bindgen_test]
    async fn bounds() {
        bounds_are_applied_and_pruned_from_the_store(&fresh_db("t-bounds").await).await;
    }

    #[wasm_bindgen_test]
    async fn export_import() {
        export_imports_back(&fresh_db("t-export").await).await;
    }

    #[wasm_bindgen_test]
    async fn a_schema_1_history_moves_to_one_record_per_event() {
        let db = fresh_db("t-legacy").await;
        let legacy = js_sys::JSON::parse(
            r#"{"scope":"default","events":[{"id":"sku-1","kind":"view","time":1800000000},
               {"id":"sku-2","kind":"cart","time":1800000010},"junk",{"id":"sku-3","kind":"like","time":1}]}"#,
        )
        .unwrap();
        let tx =
            db.0.transaction_with_str_and_mode(idb::LEGACY_HISTORY, web_sys::IdbTransactionMode::Readwrite).unwrap();
        tx.object_store(idb::LEGACY_HISTORY).unwrap().put(&legacy).unwrap();
        idb::done(&tx).await.unwrap();
        let mut h = History::new("default", Bounds::default());
        let report = h.load(&db, NOW + 20.0).await.unwrap();
        assert_eq!(h.events(), &[ev("sku-1", Kind::View, NOW), ev("sku-2", Kind::Cart, NOW + 10.0)]);
        assert_eq!(report.skipped_total(), 2);
        assert_eq!(db.load("default").await.unwrap().len(), 2, "moved, and the damaged ones removed");
    }

    /// Listens at once (before the change is made); the future resolves with the reload report.
    fn next_change(h: &localrec::wasm::JsVisitorHistory) -> impl std::future::Future<Output = JsValue> {
        let mut resolve = None;
        let changed = js_sys::Promise::new(&mut |ok, _| resolve = Some(ok));
        h.on_change(resolve);
        let timeout = js_sys::Promise::new(&mut |_, ko| {
            let global = js_sys::global();
            let set_timeout: js_sys::Function = Reflect::get(&global, &"setTimeout".into()).unwrap().unchecked_into();
            set_timeout.call2(&global, &ko, &JsValue::from(5000)).unwrap();
        });
        let race = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&changed, &timeout)));
        async move { race.await.expect("the other tab heard of the change within 5 s") }
    }

    async fn open_history(db: &str) -> localrec::wasm::JsVisitorHistory {
        use wasm_bindgen::convert::TryFromJsValue;
        use wasm_bindgen_futures::JsFuture;
        let store = JsFuture::from(localrec::wasm::JsHistoryStore::open_indexed_db(db.into(), None)).await.unwrap();
        let store = localrec::wasm::JsHistoryStore::try_from_js_value(store).unwrap();
        let h = JsFuture::from(
            localrec::wasm::JsVisitorHistory::open(&store, "default".into(), JsValue::UNDEFINED).unwrap(),
        )
        .await
        .unwrap();
        localrec::wasm::JsVisitorHistory::try_from_js_value(h).unwrap()
    }

    #[wasm_bindgen_test]
    async fn a_second_tab_follows_over_the_broadcast_channel() {
        use wasm_bindgen_futures::JsFuture;
        let _db = fresh_db("t-channel").await;
        let (a, b) = (open_history("t-channel").await, open_history("t-channel").await);
        let now = js_sys::Date::now() / 1000.0;
        let heard = next_change(&b);
        JsFuture::from(a.record("sku-1", "view", now).unwrap()).await.unwrap();
        let report = heard.await;
        assert_eq!(Reflect::get(&report, &"cause".into()).unwrap().as_string().as_deref(), Some("append"));
        assert_eq!(b.length(), 1, "B read A's event");
        let heard = next_change(&a);
        JsFuture::from(b.clear()).await.unwrap();
        heard.await;
        assert_eq!(a.length(), 0, "A followed B's clear");
        a.close();
        b.close();
    }

    /// `discard()` (what `open()` calls when it fails): a store whose open created the database
    /// and that holds nothing but the device's id deletes it, so a failed first visit leaves
    /// nothing behind; one that holds a history event, or whose database was there before, is
    /// only closed.
    #[wasm_bindgen_test]
    async fn a_failed_first_visit_leaves_no_database() {
        use localrec::wasm::JsHistoryStore;
        use wasm_bindgen::convert::TryFromJsValue;
        use wasm_bindgen_futures::JsFuture;
        let name = "t-discard";
        let factory: web_sys::IdbFactory =
            Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap().unchecked_into();
        let _ = idb::request(&factory.delete_database(name).unwrap()).await;
        let open = || async {
            let s = JsFuture::from(JsHistoryStore::open_indexed_db(name.into(), None)).await.unwrap();
            JsHistoryStore::try_from_js_value(s).unwrap()
        };
        // Was the database there? (An open creates it when it was not: closed again at once.)
        let existed = || async {
            let (db, created) = idb::open_database(name, 5000).await.unwrap();
            db.close();
            !created
        };
        let store = open().await;
        JsFuture::from(store.device_id()).await.unwrap();
        JsFuture::from(store.discard()).await.unwrap();
        assert!(!existed().await, "a created, unused database is deleted");

        // It exists now (the check above created it): discarding a store that did not create it keeps it.
        let store = open().await;
        JsFuture::from(store.discard()).await.unwrap();
        assert!(existed().await, "a database that was there before stays");

        // Created, and a history event stored in it: kept.
        let _ = idb::request(&factory.delete_database(name).unwrap()).await;
        let store = open().await;
        let h = JsFuture::from(
            localrec::wasm::JsVisitorHistory::open(&store, "default".into(), JsValue::UNDEFINED).unwrap(),
        )
        .await
        .unwrap();
        let h = localrec::wasm::JsVisitorHistory::try_from_js_value(h).unwrap();
        JsFuture::from(h.record("sku-1", "view", js_sys::Date::now() / 1000.0).unwrap()).await.unwrap();
        h.close();
        JsFuture::from(store.discard()).await.unwrap();
        assert!(existed().await, "a database with a history event stays");
    }
}
