//! The visitor's session (`localrec::session`) natively, over the in-memory history store: what the
//! JS package relied on keeping in step by hand is one object's job now. The same stored history
//! gives the same answer whether it was recorded in this page or read back after a reload (the
//! default bounds included), the recommender never keeps events the history dropped, bad arguments
//! are typed errors that change nothing, rules merge and validate once, an update carries the
//! history over, and a shadow variant is scored on the next interaction.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::block_on;

use std::rc::Rc;

use localrec::history::{Bounds, HistoryStore, MemoryHistoryStore, DEFAULT_MAX_EVENTS};
use localrec::manifest::Manifest;
use localrec::recommender::Reason;
use localrec::session::{AppRules, Model, Request, Scope, Session};
use localrec::{Catalog, Error, Kind, Recommender, UserModel};

const MANIFEST: &[u8] = include_bytes!("../www/artifacts/synthetic/manifest.json");
const EXPERIMENT: &[u8] = include_bytes!("../www/artifacts/synthetic/experiment.json");
const TOWER_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.json");
const TOWER_BIN: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.bin");
const ITEMS_INT8: &[u8] = include_bytes!("../www/artifacts/synthetic/items.int8.lrc");
const ITEMS_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/items.json");
const ITEMS_META: &[u8] = include_bytes!("../www/artifacts/synthetic/items.meta.lrc");

const NOW: f64 = 1_800_000_000.0;

fn model_with(metadata: &[u8]) -> Model {
    let catalog = Rc::new(Catalog::decode(ITEMS_INT8).unwrap());
    let rec = Recommender::new(catalog, UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    Model::new(rec, metadata).unwrap()
}

fn model() -> Model {
    model_with(ITEMS_JSON)
}

fn manifest() -> Manifest {
    Manifest::parse(MANIFEST).unwrap()
}

fn session(bounds: Bounds) -> Session {
    Session::new(model(), &manifest(), bounds, "default", "device-1", None, None).unwrap()
}

/// A session as a page opens it: read from the store.
fn reopened(store: &MemoryHistoryStore, bounds: Bounds) -> Session {
    let mut s = session(bounds);
    block_on(s.load(store, NOW)).unwrap();
    s
}

fn record_stored(s: &mut Session, store: &MemoryHistoryStore, id: &str, kind: Kind, time: f64) {
    let e = s.record(id, kind, time, NOW).unwrap();
    let scope = s.history(Scope::Events).scope().to_owned();
    block_on(store.append(&scope, &[e])).unwrap();
}

fn rows(s: &mut Session, k: usize) -> Vec<u32> {
    s.recommend(&Request { k, ..Default::default() }).unwrap().items.iter().map(|r| r.index).collect()
}

fn id(i: usize) -> String {
    format!("sku-{i:05}")
}

/// The broken invariant of the hand-kept JS state: with the default bounds (500 events) the
/// recommender kept up to 2,000, so after 520 views and a reload the oldest items came back.
#[test]
fn the_default_bounds_give_the_same_answer_before_and_after_a_reload() {
    let store = MemoryHistoryStore::new();
    let mut page = session(Bounds::default());
    let n = DEFAULT_MAX_EVENTS + 20;
    for i in 0..n {
        record_stored(&mut page, &store, &id(i), Kind::View, NOW - (n - i) as f64);
    }
    assert_eq!(page.history(Scope::Events).events().len(), DEFAULT_MAX_EVENTS);
    assert_eq!(page.model().recommender().events().len(), DEFAULT_MAX_EVENTS, "no second, longer buffer");
    let before = rows(&mut page, 1000);
    let mut after_reload = reopened(&store, Bounds::default());
    assert_eq!(after_reload.history(Scope::Events).events(), page.history(Scope::Events).events());
    assert_eq!(rows(&mut after_reload, 1000), before, "a reload with no new interaction changes nothing");
    // The 20 oldest views left the history: their items may be recommended again, on both sides.
    let catalog = page.model().recommender().catalog().clone();
    let oldest: Vec<u32> = (0..20).map(|i| catalog.row_of(&id(i)).unwrap()).collect();
    assert!(oldest.iter().any(|r| before.contains(r)), "dropped events no longer exclude their items");
    let kept = catalog.row_of(&id(n - 1)).unwrap();
    assert!(!before.contains(&kept), "kept events still exclude theirs");
}

#[test]
fn out_of_order_and_aged_events_are_read_as_the_history_keeps_them() {
    let store = MemoryHistoryStore::new();
    let bounds = Bounds::new(Some(5.0), Some(1.0)).unwrap();
    let mut page = session(bounds);
    // Out of time order, and one older than a day: the history sorts and prunes, the recommender follows.
    for (i, t) in [(1, NOW - 10.0), (2, NOW - 200_000.0), (3, NOW - 30.0), (4, NOW - 20.0), (5, NOW - 5.0)] {
        record_stored(&mut page, &store, &id(i), Kind::View, t);
    }
    let rec_rows: Vec<u32> = page.model().recommender().events().iter().map(|e| e.item).collect();
    let hist_rows: Vec<u32> =
        page.history(Scope::Events).events().iter().map(|e| page.model().row(&e.id).unwrap()).collect();
    assert_eq!(rec_rows, hist_rows, "the recommender reads the history, in its order");
    assert_eq!(hist_rows.len(), 4, "the day-old event is out");
    let before = rows(&mut page, 50);
    assert_eq!(rows(&mut reopened(&store, bounds), 50), before);
}

#[test]
fn dismissals_are_kept_bounded_and_read_back() {
    let store = MemoryHistoryStore::new();
    let mut page = session(Bounds::default());
    record_stored(&mut page, &store, &id(7), Kind::Cart, NOW - 60.0);
    let top = rows(&mut page, 10);
    let gone = page.model().id(top[0]).to_owned();
    let e = page.dismiss(&gone, NOW).unwrap();
    block_on(store.append(page.history(Scope::Dismissed).scope(), &[e])).unwrap();
    let after = rows(&mut page, 10);
    assert!(!after.contains(&top[0]), "a dismissed item never comes back");
    let mut back = reopened(&store, Bounds::default());
    assert_eq!(rows(&mut back, 10), after, "the dismissal is read back with the history");
    assert!(matches!(page.dismiss("no-such-item", NOW), Err(Error::UnknownItem(_))));
}

#[test]
fn bad_arguments_are_typed_errors_that_change_nothing() {
    let mut s = session(Bounds::default());
    s.record(&id(1), Kind::View, NOW - 1.0, NOW).unwrap();
    let before = rows(&mut s, 20);
    let ms = NOW * 1000.0;
    for (time, what) in [(ms, "milliseconds"), (1e20, "1e20"), (f64::NAN, "NaN"), (-5.0, "before 1970")] {
        let e = s.record(&id(2), Kind::View, time, NOW).unwrap_err();
        assert!(matches!(e.code(), "invalid-argument" | "invalid-query"), "{what}: {e:?}");
    }
    assert!(matches!(s.record("no-such-item", Kind::View, NOW, NOW), Err(Error::UnknownItem(_))));
    // A little clock skew is fine.
    assert_eq!(s.history(Scope::Events).events().len(), 1, "nothing was recorded by the failures");
    assert_eq!(rows(&mut s, 20), before);
    s.record(&id(3), Kind::View, NOW + 60.0, NOW).unwrap();
    for k in [0, 1001] {
        let e = s.recommend(&Request { k, ..Default::default() }).unwrap_err();
        assert_eq!(e.code(), "invalid-argument", "k = {k}");
    }
    assert!(Session::new(model(), &manifest(), Bounds::default(), "", "d", None, None).is_err(), "empty scope");
}

#[test]
fn the_metadata_has_one_shape_whichever_file_it_came_from() {
    let (json, compact) = (model_with(ITEMS_JSON), model_with(ITEMS_META));
    assert_eq!(json.len(), compact.len());
    for row in [0, 1, 999, json.len() as u32 - 1] {
        assert_eq!(json.title(row), compact.title(row), "row {row}");
        assert_eq!(json.category(row), compact.category(row), "row {row}");
        assert!(json.category(row).is_some());
    }
    assert_eq!(json.items().popular(), compact.items().popular());
    // A cold start answers with the popular list, reasons 'popular'.
    let mut s = Session::new(compact, &manifest(), Bounds::default(), "s", "d", None, None).unwrap();
    let a = s.recommend(&Request::default()).unwrap();
    assert!(a.cold_start);
    assert!(a.items.iter().all(|r| r.reason == Reason::Popular));
    // Metadata of another catalog is refused.
    let other = localrec::catalog::meta::ItemMeta::new(&["a", "b"], vec!["x".into()], vec![0]).unwrap();
    let catalog = Rc::new(Catalog::decode(ITEMS_INT8).unwrap());
    let rec = Recommender::new(catalog, UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    assert!(Model::from_parts(rec, other).is_err());
}

#[test]
fn rules_merge_once_and_invalid_ones_change_nothing() {
    let mut s = session(Bounds::default());
    s.record(&id(10), Kind::View, NOW - 1.0, NOW).unwrap();
    let top = rows(&mut s, 10);
    let blocked = s.model().id(top[0]).to_owned();
    let pinned = id(1999);
    let skipped = s
        .set_rules(AppRules {
            block: vec![blocked.clone(), "gone-item".into()],
            boost: vec![],
            pin: vec![(pinned.clone(), 2)],
        })
        .unwrap();
    assert_eq!(skipped, 1, "an id the catalog lacks is skipped, not an error");
    let with_rules = rows(&mut s, 10);
    let pinned_row = s.model().row(&pinned).unwrap();
    assert!(!with_rules.contains(&top[0]));
    assert_eq!(with_rules[2], pinned_row);
    for bad in [
        AppRules { boost: vec![("Kitchen".into(), f32::NAN)], ..Default::default() },
        AppRules { pin: vec![(pinned.clone(), 1000)], ..Default::default() },
    ] {
        assert_eq!(s.set_rules(bad).unwrap_err().code(), "invalid-argument");
        assert_eq!(rows(&mut s, 10), with_rules, "the rules in use did not change");
    }
}

#[test]
fn an_update_carries_the_history_and_the_rules_over() {
    let mut s = session(Bounds::default());
    for i in 0..5 {
        s.record(&id(100 + i), Kind::Purchase, NOW - 10.0 + i as f64, NOW).unwrap();
    }
    s.set_rules(AppRules { block: vec![id(3)], ..Default::default() }).unwrap();
    let before = rows(&mut s, 30);
    s.replace_model(model_with(ITEMS_META), &manifest(), "device-1", None).unwrap();
    assert_eq!(s.model().recommender().events().len(), 5);
    assert_eq!(rows(&mut s, 30), before, "the same model, history and rules answer the same");
    assert_eq!(s.model().recommender().rules().block.len(), 1);
}

#[test]
fn the_experiment_is_assigned_once_and_its_shadow_is_scored() {
    let x = Manifest::parse(EXPERIMENT).unwrap();
    let exp = x.experiment.as_ref().expect("the demo's experiment manifest runs one");
    let Some(shadow) = exp.variants.iter().find(|v| v.shadow) else {
        // Without a shadow variant only the assignment is checked.
        let s = Session::new(model(), &x, Bounds::default(), "s", "device-1", None, None).unwrap();
        assert_eq!(s.experiment().unwrap().experiment, exp.name);
        return;
    };
    let live = exp.variants.iter().find(|v| !v.shadow).unwrap();
    let mut s = Session::new(model(), &x, Bounds::default(), "s", "device-1", Some(&live.name), None).unwrap();
    assert_eq!(s.experiment().unwrap().variant, live.name);
    assert_eq!(s.experiment().unwrap().shadows, vec![shadow.name.clone()]);
    assert!(Session::new(model(), &x, Bounds::default(), "s", "d", Some("nope"), None).is_err(), "unknown variant");
    s.set_shadow(model()).unwrap();
    s.record(&id(5), Kind::View, NOW - 3.0, NOW).unwrap();
    s.prepare_shadow().unwrap();
    // The next interaction is the live variant's first result: a hit for both (the same model).
    let first = rows(&mut s, 1)[0];
    let next = s.model().id(first).to_owned();
    s.record(&next, Kind::View, NOW - 2.0, NOW).unwrap();
    let scores = s.shadow_scores();
    assert_eq!(scores.len(), 2);
    assert!(scores.iter().all(|(_, sc)| sc.events == 1 && sc.hits == 1), "{scores:?}");
    // Without an experiment, forcing a variant is an error.
    assert!(Session::new(model(), &manifest(), Bounds::default(), "s", "d", Some("a"), None).is_err());
}

#[test]
fn clearing_and_importing_go_through_the_session() {
    let store = MemoryHistoryStore::new();
    let mut s = session(Bounds::default());
    for i in 0..3 {
        record_stored(&mut s, &store, &id(20 + i), Kind::View, NOW - 10.0 + i as f64);
    }
    let exported = s.history(Scope::Events).export_json("2027-01-15T08:00:00Z");
    let answer = rows(&mut s, 10);
    s.forget().unwrap();
    assert!(s.model().recommender().events().is_empty());
    assert!(s.recommend(&Request::default()).unwrap().cold_start);
    let (report, added) = s.merge_import(&exported, NOW).unwrap();
    assert_eq!((report.added, added.len()), (3, 3));
    assert_eq!(rows(&mut s, 10), answer, "the imported history answers as before");
    assert_eq!(s.merge_import("{}", NOW).unwrap_err().code(), "invalid-history");
}

#[test]
fn the_device_keeps_one_random_id_across_visits() {
    let store = MemoryHistoryStore::new();
    let first = block_on(localrec::history::device_id(&store, || "id-1".into(), NOW));
    let again = block_on(localrec::history::device_id(&store, || "id-2".into(), NOW + 5.0));
    assert_eq!((first.as_str(), again.as_str()), ("id-1", "id-1"), "the stored id is kept, not a fresh one");
    // The experiment's assignment follows the id: the same device, the same variant.
    let x = Manifest::parse(EXPERIMENT).unwrap();
    let variant =
        |d: &str| Session::new(model(), &x, Bounds::default(), "s", d, None, None).unwrap().experiment().cloned();
    assert_eq!(variant(&first), variant(&again));
}

#[test]
fn a_manifest_must_describe_its_item_table() {
    let with = |key: &str, value: serde_json::Value| {
        let mut m: serde_json::Value = serde_json::from_slice(MANIFEST).unwrap();
        m[key] = value;
        serde_json::to_vec(&m).unwrap()
    };
    // A count the item table's limits cannot hold is a bad manifest, not "unknown".
    for bad in [serde_json::json!(1e12), serde_json::json!(-1), serde_json::json!(2.5), serde_json::json!("2000")] {
        let e = Manifest::parse(&with("items", bad.clone())).unwrap_err();
        assert_eq!(e.code(), "invalid-manifest", "items {bad}");
    }
    // A count it can hold, but not this table's: the session refuses it (and an update to it).
    for (key, value) in [("items", 1999), ("dim", 32)] {
        let m = Manifest::parse(&with(key, value.into())).unwrap();
        let Err(e) = Session::new(model(), &m, Bounds::default(), "s", "d", None, None) else {
            panic!("{key} {value}: a session was opened");
        };
        assert_eq!(e.code(), "invalid-manifest", "{key} {value}");
        let mut s = session(Bounds::default());
        let Err(e) = s.replace_model(model(), &m, "d", None) else { panic!("{key} {value}: the model was replaced") };
        assert_eq!(e.code(), "invalid-manifest");
    }
    assert!(Manifest::parse(&with("items", 2000.into())).is_ok());
}

#[test]
fn explain_answers_what_recommend_answers() {
    let mut s = session(Bounds::default());
    s.record(&id(3), Kind::Cart, NOW - 1.0, NOW).unwrap();
    let req = Request { k: 12, exclude: vec![id(4)], categories: Some(vec!["Kitchen".into()]), ..Default::default() };
    let recommended: Vec<u32> = s.recommend(&req).unwrap().items.iter().map(|r| r.index).collect();
    let explained: Vec<u32> = s.explain(&req).unwrap().results.iter().map(|r| r.recommendation.index).collect();
    assert!(!recommended.is_empty());
    assert_eq!(recommended, explained);
    let kitchen = s.model().category_code("Kitchen").unwrap();
    let cats = s.model().recommender().catalog().categories().unwrap().to_vec();
    assert!(recommended.iter().all(|&r| cats[r as usize] == kitchen), "the category filter holds");
}

/// What loads behind the first answer is attached only to the model version it belongs to, once:
/// a stale part is dropped, a second copy is dropped, and one that does not fit changes nothing.
#[test]
fn parts_loaded_behind_attach_to_their_own_version_once() {
    use localrec::catalog::PqResidual;
    use localrec::rerank::RankingStage;
    use localrec::session::Behind;
    const RANKER: &[u8] = include_bytes!("../www/artifacts/synthetic/ranker.bin");
    const REFINE: &[u8] = include_bytes!("../www/artifacts/synthetic/items.pq.refine.lrc");
    let stage = || Behind::Stage(Rc::new(RankingStage::decode(RANKER).unwrap()));
    let mut s = session(Bounds::default());
    for i in [3, 5, 8] {
        s.record(&id(i), Kind::View, NOW - 10.0 + i as f64, NOW).unwrap();
    }
    let tower_only = rows(&mut s, 10);
    let version = s.manifest().model_version.clone();
    assert!(!s.attach_behind("some-other-version", stage()).unwrap(), "a part of another version is dropped");
    assert!(!s.model().has_ranking_stage());
    assert!(s.attach_behind(&version, stage()).unwrap());
    assert!(s.model().has_ranking_stage());
    let two_stage = rows(&mut s, 10);
    assert_ne!(two_stage, tower_only, "the stage re-ranks the tower's candidates");
    assert!(!s.attach_behind(&version, stage()).unwrap(), "a second copy is dropped");
    assert_eq!(rows(&mut s, 10), two_stage);
    // The pq refine plane does not fit the int8 table: an error, and nothing changes.
    let plane = Behind::Refine(PqResidual::decode(REFINE).unwrap());
    assert!(s.attach_behind(&version, plane).is_err());
    assert!(!s.model().is_refined());
    assert_eq!(rows(&mut s, 10), two_stage);
}

/// A dismissal sets the dismissed rows again without a tower pass: past the bound, the oldest
/// dismissal is dropped and its item may come back, exactly as a reload of the stored dismissals
/// answers.
#[test]
fn dismissals_past_the_bound_answer_as_a_reload_does() {
    let bounds = Bounds::new(Some(2.0), None).unwrap();
    let store = MemoryHistoryStore::new();
    let mut page = session(bounds);
    record_stored(&mut page, &store, &id(7), Kind::Cart, NOW - 60.0);
    let mut dismissed = Vec::new();
    for i in 0..3 {
        let top = rows(&mut page, 10)[0];
        dismissed.push(top);
        let gone = page.model().id(top).to_owned();
        let e = page.dismiss(&gone, NOW - 10.0 + i as f64).unwrap();
        block_on(store.append(page.history(Scope::Dismissed).scope(), &[e])).unwrap();
        let mut back = reopened(&store, bounds);
        assert_eq!(rows(&mut page, 50), rows(&mut back, 50), "after dismissal {i}");
    }
    assert_eq!(page.history(Scope::Dismissed).events().len(), 2, "the bound holds");
    assert!(!rows(&mut page, 50).contains(&dismissed[2]) && !rows(&mut page, 50).contains(&dismissed[1]));
}

/// A background update waits in the session, not in the page: the model in use answers until it is
/// applied, a later offer replaces an earlier one, and applying with nothing waiting changes nothing.
#[test]
fn an_update_waits_in_the_session_until_applied() {
    let mut s = session(Bounds::default());
    s.record(&id(12), Kind::Purchase, NOW - 5.0, NOW).unwrap();
    let before = rows(&mut s, 20);
    assert!(!s.apply_update("device-1", None).unwrap(), "nothing waits");
    s.offer_update(model_with(ITEMS_META), manifest()).unwrap();
    s.offer_update(model(), manifest()).unwrap();
    assert_eq!(s.update_waiting(), Some(manifest().model_version.as_str()));
    assert_eq!(rows(&mut s, 20), before, "the model in use answers until the update is applied");
    assert!(s.apply_update("device-1", None).unwrap());
    assert_eq!(s.update_waiting(), None);
    assert_eq!(s.model().recommender().events().len(), 1, "the history carries over");
    assert_eq!(rows(&mut s, 20), before);
    assert!(!s.apply_update("device-1", None).unwrap());
    // A model that does not fit its manifest is refused, and what waited stays.
    let mut wrong = manifest();
    wrong.items += 1;
    s.offer_update(model(), manifest()).unwrap();
    assert!(s.offer_update(model(), wrong).is_err());
    assert_eq!(s.update_waiting(), Some(manifest().model_version.as_str()));
}
