//! The JavaScript binding, exercised in headless Chrome and Firefox (`wasm-pack test`): results come
//! back as typed arrays and ids, and bad input becomes a JS `Error` with a readable message, not a trap.
#![cfg(target_arch = "wasm32")]

mod common;

use js_sys::Error as JsErrorObject;
use localrec::rank::Kernel;
use localrec::wasm::session::{JsManifest, JsModel, JsSession};
use localrec::wasm::{JsCatalog, JsPqRefine, JsRanker, JsRankingStage, JsRecommender, JsUserTower};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Bytes as the `Uint8Array` the JS API takes.
fn u8a(bytes: impl AsRef<[u8]>) -> JsValue {
    js_sys::Uint8Array::from(bytes.as_ref()).into()
}

fn message(v: JsValue) -> String {
    let err: JsErrorObject = v.into();
    err.message().into()
}

/// The error's `name` and machine-readable `code`.
fn name_and_code(v: &JsValue) -> (String, String) {
    let err: &JsErrorObject = v.unchecked_ref();
    let code = js_sys::Reflect::get(v, &JsValue::from_str("code")).unwrap().as_string().unwrap_or_default();
    (err.name().into(), code)
}

#[wasm_bindgen_test]
fn wasm_build_uses_the_simd128_kernel() {
    assert_eq!(Kernel::BEST, Kernel::Simd128);
    let c = JsCatalog::random_unit(10, 8, 0, 1, "f32").unwrap();
    assert_eq!(JsRanker::new(&c).kernel(), "simd128");
}

#[wasm_bindgen_test]
fn ranks_through_the_binding() {
    let c = JsCatalog::random_unit(2000, 64, 5, 42, "int8").unwrap();
    assert_eq!((c.length(), c.dim(), c.element_type()), (2000, 64, "int8".to_string()));
    let bytes = c.to_bytes();
    let c = JsCatalog::from_bytes(&u8a(bytes)).unwrap();
    let mut ranker = JsRanker::new(&c);
    let q: Vec<f32> = c.vector(17).unwrap().to_vec();
    let r = ranker.top_k(&q, 10, None, None).unwrap();
    assert_eq!(r.length(), 10);
    assert_eq!(r.indices().get_index(0), 17, "an item is its own nearest neighbour");
    assert_eq!(r.ids()[0], "item-17");
    let scores = r.scores().to_vec();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));

    let excluded = c.indices_of(vec!["item-17".into(), "no-such-item".into()]).to_vec();
    assert_eq!(excluded, vec![17], "unknown ids are skipped");
    let r = ranker.top_k(&q, 10, Some(excluded), Some(vec![2])).unwrap();
    let idx = r.indices().to_vec();
    assert!(!idx.contains(&17));
    assert!(idx.iter().all(|&i| c.category(i) == Some(2)));
}

#[wasm_bindgen_test]
fn bad_input_becomes_a_js_error_with_a_message() {
    let msg = message(JsCatalog::from_bytes(&u8a(b"PK\x03\x04 a zip file")).err().unwrap());
    assert!(msg.contains("bad magic"), "{msg}");
    let good = JsCatalog::random_unit(5, 4, 0, 1, "f32").unwrap().to_bytes();
    let msg = message(JsCatalog::from_bytes(&u8a(&good[..good.len() - 1])).err().unwrap());
    assert!(msg.contains("truncated"), "{msg}");
    let mut v2 = good.clone();
    v2[8] = 9;
    let msg = message(JsCatalog::from_bytes(&u8a(&v2)).err().unwrap());
    assert!(msg.contains("unsupported catalog format version 9"), "{msg}");

    let c = JsCatalog::from_bytes(&u8a(&good)).unwrap();
    let mut ranker = JsRanker::new(&c);
    let msg = message(ranker.top_k(&[1.0, 2.0], 3, None, None).err().unwrap());
    assert!(msg.contains("dimension 2"), "{msg}");
    let msg = message(ranker.top_k(&[f32::NAN, 0.0, 0.0, 0.0], 3, None, None).err().unwrap());
    assert!(msg.contains("not finite"), "{msg}");
    let msg = message(ranker.top_k(&[1.0; 4], 3, Some(vec![99]), None).err().unwrap());
    assert!(msg.contains("out of range"), "{msg}");
    assert!(JsCatalog::random_unit(5, 4, 0, 1, "f16").is_err());
    assert!(c.values_int8().is_err());
}

// The shipped synthetic export (what the demo loads), compiled into the test only.
const TOWER_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.json");
const TOWER_BIN: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.bin");
const ITEMS_F32: &[u8] = include_bytes!("../www/artifacts/synthetic/items.f32.lrc");
const ITEMS_INT8: &[u8] = include_bytes!("../www/artifacts/synthetic/items.int8.lrc");
const RANKER_BIN: &[u8] = include_bytes!("../www/artifacts/synthetic/ranker.bin");

#[wasm_bindgen_test]
fn the_ranking_stage_binding_checks_itself_and_explains_its_results() {
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let mut rec = JsRecommender::new(&items, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    assert!(!rec.has_ranking_stage());
    assert!(rec.check_ranking_stage().unwrap().is_undefined());
    let stage = JsRankingStage::from_bytes(RANKER_BIN).unwrap();
    assert_eq!(stage.length(), items.length());
    assert!(stage.neighbours() > 0);
    rec.set_ranking_stage(Some(stage)).unwrap();
    assert!(rec.has_ranking_stage());
    // The trainer's answer for its check history, reproduced by this engine's wasm.
    let check = rec.check_ranking_stage().unwrap();
    let get = |k: &str| js_sys::Reflect::get(&check, &JsValue::from_str(k)).unwrap();
    assert_eq!(get("sameRows").as_bool(), Some(true));
    assert!(get("maxScoreDiff").as_f64().unwrap() <= 1e-4, "{:?}", get("maxScoreDiff"));
    // After a purchase: exactly 10, each explained by the one history item, some by the stage.
    let first = items.id(0).unwrap();
    rec.record(&first, "purchase", Some(1000.0)).unwrap();
    let r = rec.recommend(10, true, None, None, None).unwrap();
    assert_eq!(r.length(), 10);
    let sources = r.reason_sources();
    assert!(sources.iter().all(|s| s == "together" || s == "similar"), "{sources:?}");
    assert!(sources.iter().any(|s| s == "together"), "{sources:?}");
    assert!(r.reason_ids().iter().all(|id| *id == first));
    // explain() answers the same 10, with each stage's score.
    let e = rec.explain(10, true, None, None, None).unwrap();
    let field = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &JsValue::from_str(k)).unwrap();
    let results: js_sys::Array = field(&e, "results").into();
    assert_eq!(results.length(), 10);
    for (i, x) in results.iter().enumerate() {
        assert_eq!(field(&x, "id").as_string().unwrap(), r.ids()[i]);
        assert!(field(&x, "tower").as_f64().unwrap().is_finite() && field(&x, "score").as_f64().is_some());
    }
    let slots: js_sys::Array = field(&e, "slots").into();
    assert_eq!(field(&slots.get(0), "id").as_string(), Some(first.clone()));
    assert_eq!(field(&slots.get(0), "kind").as_string().as_deref(), Some("purchase"));
    assert_eq!(field(&field(&e, "rankerCheck"), "sameRows").as_bool(), Some(true));
    // Bad files are typed errors; a stage for another catalog is refused.
    for bad in [&RANKER_BIN[..RANKER_BIN.len() / 2], &b"LRRK\x09\0\0\0"[..], &[][..]] {
        let err = JsRankingStage::from_bytes(bad).err().unwrap();
        assert_eq!(name_and_code(&err), ("LocalRecError".into(), "invalid-model".into()));
    }
    let small = JsCatalog::random_unit(10, 64, 0, 1, "int8").unwrap();
    let mut other = JsRecommender::new(&small, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    let err = other.set_ranking_stage(Some(JsRankingStage::from_bytes(RANKER_BIN).unwrap())).err().unwrap();
    assert!(message(err).contains("covers 2000 items"));
}

#[wasm_bindgen_test]
fn exported_tower_gives_the_native_embedding_in_the_browser() {
    let mut tower = JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap();
    let items = JsCatalog::from_bytes(&u8a(ITEMS_F32)).unwrap();
    let diff = tower.self_check(&items).unwrap().expect("the export carries a self-check");
    assert!(diff <= 1e-5, "wasm embedding differs from the native one by {diff}");
    assert!(tower.check_embedding().unwrap().length() == tower.dim());
}

#[wasm_bindgen_test]
fn recommender_updates_after_each_interaction() {
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let tower = JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap();
    let mut rec = JsRecommender::new(&items, tower).unwrap();
    let err = rec.recommend(10, true, None, None, None).err().unwrap();
    assert_eq!(name_and_code(&err), ("LocalRecError".into(), "empty-history".into()));
    assert!(message(err).contains("history holds no item"));
    // Cold start: the popular list, with the filters applied and "popular" as the reason.
    let popular: Vec<String> = (0..20).map(|r| items.id(r).unwrap()).collect();
    assert_eq!(rec.set_popular(popular.iter().cloned().chain(["gone".to_string()]).collect()).unwrap(), 20);
    let cold = rec.recommend(5, true, Some(vec![popular[0].clone()]), None, None).unwrap();
    assert_eq!(cold.ids(), popular[1..6].to_vec());
    assert!(cold.reason_kinds().iter().all(|k| k == "popular"));
    let first = items.id(0).unwrap();
    rec.record(&first, "view", Some(1000.0)).unwrap();
    let a = rec.recommend(10, true, None, None, None).unwrap();
    assert_eq!(a.length(), 10);
    assert!(!a.indices().to_vec().contains(&0), "seen items are excluded");
    assert!(a.reason_ids().iter().all(|id| *id == first) && a.reason_kinds().iter().all(|k| k == "view"));
    let e1 = rec.embedding().unwrap().to_vec();
    rec.record(&items.id(5).unwrap(), "purchase", Some(1010.0)).unwrap();
    assert_ne!(e1, rec.embedding().unwrap().to_vec(), "the embedding follows the interaction");
    assert_eq!(rec.history_length(), 2);
    let err = rec.record("no-such-item", "view", None).err().unwrap();
    assert_eq!(name_and_code(&err).1, "unknown-item");
    assert!(message(err).contains("unknown item id"));
    // A stored history with an item that left the catalog: that event is skipped, the rest used.
    let ids = vec![items.id(3).unwrap(), "retired-sku".to_string(), items.id(4).unwrap()];
    assert_eq!(rec.set_history(ids, &[0, 1, 2], &[1.0, 2.0, 3.0]).unwrap(), 2);
    assert_eq!(rec.history_length(), 2);
    let msg = message(rec.record(&first, "like", None).err().unwrap());
    assert!(msg.contains("unknown interaction kind"), "{msg}");
    let msg = message(JsUserTower::from_bytes(TOWER_JSON, &TOWER_BIN[..100]).err().unwrap());
    assert!(msg.contains("weights"), "{msg}");
}

#[wasm_bindgen_test]
fn a_pq_refine_plane_attaches_through_the_binding() {
    const ITEMS_PQ: &[u8] = include_bytes!("../www/artifacts/synthetic/items.pq.lrc");
    const PQ_REFINE: &[u8] = include_bytes!("../www/artifacts/synthetic/items.pq.refine.lrc");
    let mut items = JsCatalog::from_bytes(&u8a(ITEMS_PQ)).unwrap();
    let tower = JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap();
    let mut rec = JsRecommender::new(&items, tower).unwrap();
    rec.record(&items.id(10).unwrap(), "purchase", Some(1000.0)).unwrap();
    rec.record(&items.id(321).unwrap(), "view", Some(1010.0)).unwrap();
    let (before, pq_top) =
        (rec.embedding().unwrap().to_vec(), rec.recommend(10, true, None, None, None).unwrap().ids());
    assert!(!rec.has_refine() && !items.has_refine());
    // A damaged file, a plane of another table (same shape, other codes), a catalog that is not
    // the recommender's: typed errors, and nothing changes.
    assert_eq!(name_and_code(&JsPqRefine::from_bytes(&PQ_REFINE[..100]).err().unwrap()).1, "corrupt-file");
    let other_src = localrec::catalog::synthetic::random_unit(2000, 64, 0, 5);
    let other_pq = other_src.to_rotated_pq(localrec::catalog::pq::default_subspaces(64), 1).unwrap();
    let foreign = localrec::catalog::PqResidual::learn(&other_pq, &other_src, 2).unwrap().encode();
    let err = rec.attach_refine(&mut items, JsPqRefine::from_bytes(&foreign).unwrap()).err().unwrap();
    assert_eq!(name_and_code(&err).1, "corrupt-file");
    assert!(message(err).contains("another version"));
    let mut stranger = JsCatalog::from_bytes(&u8a(ITEMS_PQ)).unwrap();
    let err = rec.attach_refine(&mut stranger, JsPqRefine::from_bytes(PQ_REFINE).unwrap()).err().unwrap();
    assert_eq!(name_and_code(&err).1, "invalid-argument");
    assert!(!rec.has_refine() && !items.has_refine());
    assert_eq!(rec.embedding().unwrap().to_vec(), before);
    // The plane: attached in place, shared with the page's catalog object, the history re-embedded.
    let plane = JsPqRefine::from_bytes(PQ_REFINE).unwrap();
    assert_eq!(plane.length(), items.length());
    rec.attach_refine(&mut items, plane).unwrap();
    assert!(rec.has_refine() && items.has_refine());
    assert_eq!(items.length(), 2000);
    assert_eq!(items.id(10).unwrap(), "sku-00010");
    assert_ne!(rec.embedding().unwrap().to_vec(), before, "the history is re-embedded with both levels");
    let refined = rec.recommend(10, true, None, None, None).unwrap();
    assert_eq!(refined.length(), 10);
    assert!(!refined.ids().contains(&"sku-00010".to_string()));
    // Its hits are the native computation's: the same table, plane and history through the core.
    let native_items = localrec::Catalog::decode(ITEMS_PQ)
        .unwrap()
        .with_residual(localrec::catalog::PqResidual::decode(PQ_REFINE).unwrap())
        .unwrap();
    let model = localrec::UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap();
    let mut native = localrec::Recommender::new(std::rc::Rc::new(native_items), model).unwrap();
    let events = [
        localrec::Event { item: 10, kind: localrec::Kind::Purchase, time: 1000.0 },
        localrec::Event { item: 321, kind: localrec::Kind::View, time: 1010.0 },
    ];
    native.set_history(&events).unwrap();
    let want =
        native.recommend(&localrec::RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap();
    assert_eq!(refined.indices().to_vec(), want.iter().map(|r| r.index).collect::<Vec<_>>());
    assert_ne!(pq_top, refined.ids(), "the refined answer is not pq's (for this history)");
}

#[wasm_bindgen_test]
fn catalog_delta_applies_in_the_browser() {
    let all = localrec::catalog::synthetic::random_unit(60, 8, 3, 7);
    let old = common::subset(&all, &(0..50).collect::<Vec<_>>(), &[]).to_int8();
    // item-0..4 removed, item-10 changed, item-50..59 added.
    let new = common::subset(&all, &(5..60).collect::<Vec<_>>(), &[10]).to_int8();
    let delta = old.diff(&new).unwrap().encode();
    assert!(delta.len() < new.encode().len() / 3, "the delta carries only the changed rows");
    let out = localrec::wasm::apply_catalog_delta(&old.encode(), &delta).unwrap();
    assert_eq!(out, new.encode());
    let err = localrec::wasm::apply_catalog_delta(&new.encode(), &delta).err().unwrap();
    assert_eq!(name_and_code(&err).1, "invalid-delta");
}

/// Every export with hostile arguments (negative and huge numbers, NaN, wrong lengths, empty
/// arrays, huge category counts, malformed bytes of each file kind): each answers with a typed
/// `LocalRecError` or its documented result, never a trap. Runs on wasm32, so every size is
/// computed with a 32-bit `usize`.
#[wasm_bindgen_test]
fn every_export_is_total_under_hostile_arguments() {
    use localrec::wasm::{kind_name, rules, JsHistoryStore, JsVisitorHistory};
    let typed = |what: &str, v: JsValue| {
        let (name, code) = name_and_code(&v);
        assert_eq!(name, "LocalRecError", "{what}: {}", message(v.clone()));
        assert!(localrec::ERROR_CODES.contains(&code.as_str()), "{what}: unknown code {code:?}");
    };
    // randomUnit: the issue's crash (2^21 + 5 categories), sizes whose product overflows u32.
    for (n, dim, cats, ty) in [
        (10, 8, (1 << 21) + 5, "f32"),
        (10, 8, u32::MAX, "int8"),
        (u32::MAX, u32::MAX, 1, "f32"),
        (1 << 26, 4096, 1, "f32"),
        (1 << 20, 4096, 1, "f32"),
        (10, 0, 1, "f32"),
        (10, 8, 1, ""),
    ] {
        typed("randomUnit", JsCatalog::random_unit(n, dim, cats, 1, ty).err().expect("an error"));
    }
    assert_eq!(JsCatalog::random_unit(0, 8, 0, 1, "f32").unwrap().length(), 0, "an empty catalog is valid");
    let c = JsCatalog::random_unit(50, 8, 4, 3, "f32").unwrap();
    // Index lookups past the end: undefined, as documented.
    assert!(c.id(u32::MAX).is_none() && c.vector(u32::MAX).is_none() && c.category(u32::MAX).is_none());
    assert_eq!(c.indices_of(vec![String::new(), "x".repeat(5000)]).length(), 0);
    typed("valuesInt8", c.values_int8().err().unwrap());
    typed("scalesInt8", c.scales_int8().err().unwrap());
    // Not bytes at all: a typed error, not a JS exception thrown through wasm.
    for v in [JsValue::from_str("items.lrc"), JsValue::NULL, js_sys::Array::of1(&JsValue::from(137)).into()] {
        typed("Catalog.fromBytes(not bytes)", JsCatalog::from_bytes(&v).err().unwrap());
    }
    // An ArrayBuffer is read like its Uint8Array.
    assert_eq!(JsCatalog::from_bytes(&js_sys::Uint8Array::from(&c.to_bytes()[..]).buffer()).unwrap().length(), 50);
    // Malformed bytes of each file kind.
    let mut rng = localrec::rng::Rng::new(99);
    let junk: Vec<u8> = (0..4096).map(|_| rng.below(256) as u8).collect();
    for bytes in [&[][..], &junk[..7], &junk[..], &c.to_bytes()[..40]] {
        typed("Catalog.fromBytes", JsCatalog::from_bytes(&u8a(bytes)).err().unwrap());
        typed(
            "Catalog.fromBytes(ArrayBuffer)",
            JsCatalog::from_bytes(&js_sys::Uint8Array::from(bytes).buffer()).err().unwrap(),
        );
        typed("UserTower.fromBytes(config)", JsUserTower::from_bytes(bytes, TOWER_BIN).err().unwrap());
        typed("UserTower.fromBytes(weights)", JsUserTower::from_bytes(TOWER_JSON, bytes).err().unwrap());
        typed("applyCatalogDelta(delta)", localrec::wasm::apply_catalog_delta(&c.to_bytes(), bytes).err().unwrap());
        typed("applyCatalogDelta(base)", localrec::wasm::apply_catalog_delta(bytes, bytes).err().unwrap());
    }
    typed(
        "UserTower.fromBytes(json)",
        JsUserTower::from_bytes(br#"{"format":"localrec-user-tower","version":99}"#, TOWER_BIN).err().unwrap(),
    );
    // Ranker: wrong lengths, NaN, huge k, out-of-range filters.
    let mut ranker = JsRanker::new(&c);
    typed("topK(empty)", ranker.top_k(&[], 5, None, None).err().unwrap());
    typed("topK(NaN)", ranker.top_k(&[f32::NAN; 8], 5, None, None).err().unwrap());
    typed("topK(exclude)", ranker.top_k(&[0.5; 8], 5, Some(vec![u32::MAX]), None).err().unwrap());
    assert_eq!(ranker.top_k(&[0.5; 8], u32::MAX, None, None).unwrap().length(), 50, "k > n gives n");
    assert_eq!(ranker.top_k(&[0.5; 8], 0, None, None).unwrap().length(), 0);
    assert_eq!(ranker.top_k(&[0.5; 8], 5, None, Some(vec![u32::MAX])).unwrap().length(), 0, "no such category");
    typed("withKernel", JsRanker::with_kernel(&c, "avx512", None).err().unwrap());
    // The tower: mismatched lengths, unknown rows and kinds, NaN times, an empty history.
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let mut tower = JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap();
    typed("embed(lengths)", tower.embed(&items, &[1, 2], &[0], &[1.0, 2.0]).err().unwrap());
    typed("embed(row)", tower.embed(&items, &[u32::MAX], &[0], &[1.0]).err().unwrap());
    typed("embed(kind)", tower.embed(&items, &[1], &[255], &[1.0]).err().unwrap());
    typed("embed(time)", tower.embed(&items, &[1], &[0], &[f64::NAN]).err().unwrap());
    typed("embed(empty)", tower.embed(&items, &[], &[], &[]).err().unwrap());
    typed("embed(dim)", tower.embed(&c, &[1], &[0], &[1.0]).err().unwrap());
    typed("selfCheck(dim)", tower.self_check(&c).err().unwrap());
    typed(
        "Recommender(dim)",
        JsRecommender::new(&c, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).err().unwrap(),
    );
    // The recommender.
    let mut rec = JsRecommender::new(&items, tower).unwrap();
    let first = items.id(0).unwrap();
    for (id, kind, time) in [
        ("", "view", Some(1.0)),
        (&*first, "like", None),
        (&*first, "view", Some(f64::NAN)),
        (&*first, "view", Some(f64::INFINITY)),
    ] {
        typed("record", rec.record(id, kind, time).err().unwrap());
    }
    typed("setHistory(lengths)", rec.set_history(vec![first.clone()], &[0, 1], &[1.0]).err().unwrap());
    typed("setHistory(kind)", rec.set_history(vec![first.clone()], &[7], &[1.0]).err().unwrap());
    typed("setHistory(time)", rec.set_history(vec![first.clone()], &[0], &[f64::NEG_INFINITY]).err().unwrap());
    assert_eq!(rec.set_popular(vec!["nope".into(), String::new()]).unwrap(), 0);
    rec.record(&first, "purchase", Some(5.0)).unwrap();
    let all = rec.recommend(u32::MAX, false, None, None, Some(u32::MAX)).unwrap();
    assert_eq!(all.length(), items.length(), "a huge k gives the whole catalog");
    assert_eq!(rec.recommend(0, true, None, None, None).unwrap().length(), 0);
    let none = rec.recommend(5, true, Some(vec![String::new()]), Some(vec![u32::MAX, 1 << 30]), Some(0)).unwrap();
    assert_eq!(none.length(), 0, "no item has such a category");
    // Manifests and item metadata.
    let roles = || vec!["tower-config".to_string(), "items-int8".to_string()];
    for bad in ["", "{", "[]", "null", r#"{"format":"localrec-manifest","format_version":1e300}"#, &"[".repeat(100_000)]
    {
        typed("checkManifest", localrec::wasm::check_manifest(bad, roles()).err().unwrap());
    }
    let shipped = include_str!("../www/artifacts/synthetic/manifest.json");
    assert!(localrec::wasm::check_manifest(shipped, roles()).is_ok());
    typed("checkManifest(role)", localrec::wasm::check_manifest(shipped, vec!["no-such-role".into()]).err().unwrap());
    // A model's metadata is checked against its catalog, whichever file it is.
    let core = || JsRecommender::new(&items, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    typed("Model(popular)", JsModel::new(core(), br#"{"items":[],"popular":["nope"]}"#).err().unwrap().into());
    typed("Model(categories)", JsModel::new(core(), br#"{"items":[],"categories":[]}"#).err().unwrap().into());
    typed("Model(junk)", JsModel::new(core(), &junk).err().unwrap().into());
    typed("Model(compact junk)", JsModel::new(core(), &[0x89, 1, 2, 3]).err().unwrap().into());
    // Rules and kinds.
    let r = rules().unwrap();
    assert_eq!(js_sys::Reflect::get(&r, &"maxEvents".into()).unwrap().as_f64(), Some(2000.0));
    assert_eq!(kind_name("add_to_cart").unwrap(), "cart");
    typed("kindName", kind_name("").err().unwrap());
    // The history: bad options throw at once; bad events at once; a bad import is typed.
    let store = JsHistoryStore::memory();
    for opts in
        [r#"{"maxEvents":-1}"#, r#"{"maxEvents":1e12}"#, r#"{"maxEvents":"ten"}"#, r#"{"maxAgeDays":-3}"#, "[1,2]", "7"]
    {
        let o = js_sys::JSON::parse(opts).unwrap();
        typed(opts, JsVisitorHistory::open(&store, "s".into(), o).err().unwrap());
    }
    let nan_opts = js_sys::Object::new();
    js_sys::Reflect::set(&nan_opts, &"maxAgeDays".into(), &JsValue::from_f64(f64::NAN)).unwrap();
    typed("maxAgeDays NaN", JsVisitorHistory::open(&store, "s".into(), nan_opts.into()).err().unwrap());
}

/// The history through its JS classes on the memory store: a record is validated, `useHistory`
/// feeds it to the recommender, an import of junk is a typed error.
#[wasm_bindgen_test]
async fn visitor_history_feeds_the_recommender() {
    use localrec::wasm::{JsHistoryStore, JsVisitorHistory};
    use wasm_bindgen_futures::JsFuture;
    let store = JsHistoryStore::memory();
    let h: JsVisitorHistory = {
        let v = JsFuture::from(JsVisitorHistory::open(&store, "s".into(), JsValue::UNDEFINED).unwrap()).await.unwrap();
        wasm_bindgen::convert::TryFromJsValue::try_from_js_value(v).unwrap()
    };
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let mut rec = JsRecommender::new(&items, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    let now = js_sys::Date::now() / 1000.0;
    for (i, kind) in ["view", "add_to_cart", "buy"].into_iter().enumerate() {
        JsFuture::from(h.record(&items.id(i as u32).unwrap(), kind, now + i as f64).unwrap()).await.unwrap();
    }
    let err = h.record(&items.id(9).unwrap(), "view", f64::INFINITY).err().unwrap();
    assert_eq!(name_and_code(&err).1, "invalid-query");
    assert_eq!(h.length(), 3);
    assert_eq!(rec.use_history(&h).unwrap(), 3);
    assert_eq!(rec.history_length(), 3);
    let err = h.import_json("{\"format\":\"localrec-history\",\"version\":7}").err().unwrap();
    assert_eq!(name_and_code(&err).1, "invalid-history");
    let json = h.export_json();
    assert!(json.contains("\"kind\": \"cart\"") && json.contains("\"kind\": \"purchase\""), "{json}");
}

/// The loader (`syncArtifacts`) in the browser, with an app-provided `fetch` that serves the shipped
/// export from memory, on the memory cache: a first load downloads, verifies and prepares, reports
/// progress, and caches; a second answers from the cache without downloading; hostile arguments
/// and a lying server are typed errors (a bad URL, no manifest, a manifest of another format, files
/// of the wrong size, a `prepare` that throws), never a panic.
#[wasm_bindgen_test]
async fn the_loader_verifies_caches_and_types_its_errors() {
    use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
    use localrec::wasm::sync::sync_artifacts;
    use localrec::wasm::JsFileCache;
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen_futures::JsFuture;

    const MANIFEST: &str = include_str!("../www/artifacts/synthetic/manifest.json");
    const ITEMS_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/items.json");
    fn set(o: &Object, k: &str, v: &JsValue) {
        Reflect::set(o, &k.into(), v).unwrap();
    }
    // A Response-like object: `ok`, `status`, `text()`, `arrayBuffer()` (no body stream).
    fn response(bytes: &[u8]) -> JsValue {
        let r = Object::new();
        set(&r, "ok", &JsValue::TRUE);
        set(&r, "status", &JsValue::from_f64(200.0));
        let buf = Uint8Array::from(bytes).buffer();
        let text = String::from_utf8_lossy(bytes).into_owned();
        set(&r, "text", &Closure::once_into_js(move || Promise::resolve(&JsValue::from_str(&text))));
        set(&r, "arrayBuffer", &Closure::once_into_js(move || Promise::resolve(&buf)));
        r.into()
    }
    let requests = Rc::new(RefCell::new(Vec::<String>::new()));
    // Serves the export; `lie` shortens every file but the manifest.
    let server = |manifest: &'static str, lie: bool| -> Function {
        let requests = requests.clone();
        Closure::<dyn FnMut(String, JsValue) -> Promise>::new(move |url: String, _init: JsValue| {
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            requests.borrow_mut().push(name.clone());
            let body: &[u8] = match name.as_str() {
                "manifest.json" => manifest.as_bytes(),
                "tower.json" => TOWER_JSON,
                "tower.bin" => TOWER_BIN,
                "items.int8.lrc" => ITEMS_INT8,
                "items.json" => ITEMS_JSON,
                _ => return Promise::reject(&JsValue::from_str("no such file")),
            };
            let body = if lie && name != "manifest.json" { &body[..body.len() / 2] } else { body };
            Promise::resolve(&response(body))
        })
        .into_js_value()
        .unchecked_into()
    };
    let roles = || ["tower-config", "tower-weights", "items-int8", "item-metadata"].map(String::from).to_vec();
    let progress = Rc::new(RefCell::new(0usize));
    let options = |fetch: Function, prepare: Option<Function>| -> JsValue {
        let o = Object::new();
        set(&o, "fetch", &fetch);
        let p = progress.clone();
        let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| *p.borrow_mut() += 1).into_js_value();
        set(&o, "onProgress", &on_progress);
        // `prepare` gets the verified bytes by role; the default decodes the catalog.
        let prepare = prepare.unwrap_or_else(|| {
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(|files: JsValue| {
                let items: Uint8Array = Reflect::get(&files, &"items-int8".into()).unwrap().unchecked_into();
                JsValue::from_f64(JsCatalog::from_bytes(&items).unwrap().length() as f64)
            })
            .into_js_value()
            .unchecked_into()
        });
        set(&o, "prepare", &prepare);
        o.into()
    };
    let run = |url: &str, cache: &JsFileCache, opts: JsValue| {
        JsFuture::from(sync_artifacts(url.into(), roles(), cache, opts))
    };
    let code_of = |e: JsValue| name_and_code(&e).1;

    // A first load: everything downloaded, verified, prepared; then cached.
    let cache = JsFileCache::memory();
    let r = run("https://shop.example/m/manifest.json", &cache, options(server(MANIFEST, false), None)).await.unwrap();
    assert_eq!(Reflect::get(&r, &"source".into()).unwrap().as_string().as_deref(), Some("network"));
    assert_eq!(Reflect::get(&r, &"prepared".into()).unwrap().as_f64(), Some(2000.0));
    let stored = Reflect::get(&r, &"stored".into()).unwrap();
    assert_eq!(JsFuture::from(stored.unchecked_into::<Promise>()).await.unwrap(), JsValue::TRUE);
    assert!(*progress.borrow() >= 5, "progress: a first event and one per file");
    assert_eq!(requests.borrow().len(), 5);
    // The second load answers from the cache: only the manifest is requested.
    requests.borrow_mut().clear();
    let again =
        run("https://shop.example/m/manifest.json", &cache, options(server(MANIFEST, false), None)).await.unwrap();
    assert_eq!(Reflect::get(&again, &"source".into()).unwrap().as_string().as_deref(), Some("cache"));
    assert_eq!(*requests.borrow(), ["manifest.json"]);

    // Typed errors, on an empty cache each time.
    let fresh = JsFileCache::memory;
    let e = run("http://[::1", &fresh(), options(server(MANIFEST, false), None)).await.unwrap_err();
    assert_eq!(code_of(e), "invalid-argument");
    let e =
        run("https://shop.example/m/none.json", &fresh(), options(server(MANIFEST, false), None)).await.unwrap_err();
    assert_eq!(code_of(e), "offline-no-cache");
    let e =
        run("https://shop.example/m/manifest.json", &fresh(), options(server("{\"format\":\"x\"}", false), None)).await;
    assert_eq!(code_of(e.unwrap_err()), "invalid-manifest");
    let e = run("https://shop.example/m/manifest.json", &fresh(), options(server(MANIFEST, true), None)).await;
    assert_eq!(code_of(e.unwrap_err()), "size-mismatch");
    let throws: Function = Function::new_with_args(
        "files",
        "throw Object.assign(new Error('bad metadata'), { name: 'LocalRecError', code: 'corrupt-file' })",
    );
    let e = run("https://shop.example/m/manifest.json", &fresh(), options(server(MANIFEST, false), Some(throws))).await;
    assert_eq!(code_of(e.unwrap_err()), "corrupt-file");
    // A fetch that answers nonsense, and options that are not an object.
    let nonsense: Function = Function::new_no_args("return 42");
    let e = run("https://shop.example/m/manifest.json", &fresh(), options(nonsense, None)).await.unwrap_err();
    assert_eq!(code_of(e), "offline-no-cache");
    for bad in [JsValue::from_f64(7.0), JsValue::NULL, Array::new().into()] {
        // No fetch given: the page's own, against a URL nothing serves.
        let e = run("/no-such-dir/manifest.json", &fresh(), bad).await.unwrap_err();
        assert_eq!(code_of(e), "offline-no-cache");
    }
}

/// explain() gives back any id the catalog may have, unchanged (quotes, backslashes, control
/// characters, non-ASCII), with the slots newest first.
#[wasm_bindgen_test]
fn explain_gives_back_every_id_unchanged() {
    let ids = ["a\"b", "c\\d", "e\u{1}\nf", "ünïcødé 🛒", "</script>"];
    let dim = JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap().dim() as usize;
    let vectors: Vec<f32> = (0..ids.len() * dim).map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5).collect();
    let bytes = localrec::catalog::Catalog::from_f32(&ids, dim, vectors, None).unwrap().encode();
    let items = JsCatalog::from_bytes(&u8a(bytes)).unwrap();
    let mut rec = JsRecommender::new(&items, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    for (t, id) in ids.iter().enumerate() {
        rec.record(id, "view", Some(1000.0 + t as f64)).unwrap();
    }
    let e = rec.explain(5, false, None, None, None).unwrap();
    let field = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &JsValue::from_str(k)).unwrap();
    let slots: Vec<String> =
        js_sys::Array::from(&field(&e, "slots")).iter().map(|s| field(&s, "id").as_string().unwrap()).collect();
    let newest_first: Vec<String> = ids.iter().rev().map(|s| s.to_string()).collect();
    assert_eq!(slots, newest_first);
    let results = js_sys::Array::from(&field(&e, "results"));
    assert_eq!(results.length(), 5);
    assert!(results.iter().all(|r| ids.contains(&field(&r, "id").as_string().unwrap().as_str())));
}

const ITEMS_JSON_FILE: &[u8] = include_bytes!("../www/artifacts/synthetic/items.json");
const MANIFEST_JSON: &str = include_str!("../www/artifacts/synthetic/manifest.json");

/// A `Session` of the shipped export over `store`, opened with `options` (a JSON object).
async fn open_session(store: &localrec::wasm::JsHistoryStore, options: &str) -> Result<JsSession, JsValue> {
    use wasm_bindgen_futures::JsFuture;
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let core = JsRecommender::new(&items, JsUserTower::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    let model = JsModel::new(core, ITEMS_JSON_FILE).unwrap();
    let options = js_sys::JSON::parse(options).unwrap();
    let v = JsFuture::from(JsSession::open(store, model, &JsManifest::parse(MANIFEST_JSON)?, options, None)?).await?;
    Ok(wasm_bindgen::convert::TryFromJsValue::try_from_js_value(v).unwrap())
}

fn recommended_ids(s: &JsSession, k: u32) -> Vec<String> {
    let o = js_sys::Object::new();
    js_sys::Reflect::set(&o, &"k".into(), &JsValue::from(k)).unwrap();
    let r = s.recommend(o.into()).unwrap();
    let ids = js_sys::Reflect::get(&r, &"ids".into()).unwrap();
    js_sys::Array::from(&ids).iter().map(|v| v.as_string().unwrap()).collect()
}

/// The session over real IndexedDB with the default bounds: 520 views in one "page", then a second
/// session on the same database (a reload) holds the same 500 events and gives the same answer.
#[wasm_bindgen_test]
async fn a_session_answers_the_same_after_a_reload_with_the_default_bounds() {
    use wasm_bindgen_futures::JsFuture;
    let name = "localrec-web-session-bounds";
    common::fresh_database(name).await.close();
    let store = JsFuture::from(localrec::wasm::JsHistoryStore::open_indexed_db(name.into(), None)).await.unwrap();
    let store: localrec::wasm::JsHistoryStore =
        wasm_bindgen::convert::TryFromJsValue::try_from_js_value(store).unwrap();
    let page = open_session(&store, "{}").await.unwrap();
    let items = JsCatalog::from_bytes(&u8a(ITEMS_INT8)).unwrap();
    let t0 = js_sys::Date::now() / 1000.0 - 1000.0;
    for i in 0..520u32 {
        let id = JsValue::from_str(&items.id(i).unwrap());
        page.record(id, "view".into(), JsValue::from_f64(t0 + f64::from(i))).unwrap();
    }
    JsFuture::from(page.flush()).await.unwrap();
    assert_eq!(page.history_length(), 500);
    let before = recommended_ids(&page, 1000);
    page.close();
    let reloaded = open_session(&store, "{}").await.unwrap();
    assert_eq!(reloaded.history_length(), 500);
    assert_eq!(recommended_ids(&reloaded, 1000), before, "the same stored history gives the same answer");
    reloaded.close();
    store.close();
}

/// The session's boundary: each argument is read and validated in Rust, a wrong type or value is a
/// typed error (never a trap, never a plain TypeError), and a failure changes nothing.
#[wasm_bindgen_test]
async fn the_session_types_every_bad_argument() {
    let typed = |what: &str, v: JsValue, want: &str| {
        let (name, code) = name_and_code(&v);
        assert_eq!((name.as_str(), code.as_str()), ("LocalRecError", want), "{what}: {}", message(v.clone()));
    };
    let store = localrec::wasm::JsHistoryStore::memory();
    for (opts, what) in [
        (r#"{"maxEvents":1e12}"#, "maxEvents"),
        (r#"{"historyScope":""}"#, "empty scope"),
        (r#"{"variant":"nope"}"#, "variant without an experiment"),
        (r#"{"rules":{"pin":"x"}}"#, "rules.pin"),
        (r#"{"rules":{"boost":{"Kitchen":"a lot"}}}"#, "rules.boost"),
        ("[1]", "an array"),
    ] {
        typed(what, open_session(&store, opts).await.err().unwrap(), "invalid-argument");
    }
    let s = open_session(&store, "{}").await.unwrap();
    let id = || JsValue::from_str("sku-00001");
    let now = js_sys::Date::now();
    for (kind, what) in
        [(JsValue::from(0), "0"), (JsValue::NULL, "null"), (JsValue::TRUE, "true"), ("like".into(), "like")]
    {
        typed(what, s.record(id(), kind, JsValue::UNDEFINED).err().unwrap().into(), "invalid-query");
    }
    for (time, what) in
        [(JsValue::from_f64(now), "milliseconds"), (JsValue::from_f64(1e20), "1e20"), ("now".into(), "a string")]
    {
        typed(what, s.record(id(), "view".into(), time).err().unwrap().into(), "invalid-argument");
    }
    typed(
        "null id",
        s.record(JsValue::NULL, JsValue::UNDEFINED, JsValue::UNDEFINED).err().unwrap().into(),
        "invalid-argument",
    );
    typed(
        "unknown id",
        s.record("nope".into(), JsValue::UNDEFINED, JsValue::UNDEFINED).err().unwrap().into(),
        "unknown-item",
    );
    assert_eq!(s.history_length(), 0, "nothing was recorded by the failures");
    let opts = |json: &str| js_sys::JSON::parse(json).unwrap();
    for bad in [r#"{"k":0}"#, r#"{"k":1.5}"#, r#"{"exclude":"sku-1"}"#, r#"{"categories":"Kitchen"}"#, "5", "[]"] {
        typed(bad, s.recommend(opts(bad)).err().unwrap().into(), "invalid-argument");
    }
    // No options, null and an empty object are the defaults: the popular list for a new visitor.
    for none in [JsValue::UNDEFINED, JsValue::NULL, opts("{}")] {
        let r = s.recommend(none).unwrap_or_else(|_| panic!("recommend with no options"));
        assert_eq!(js_sys::Reflect::get(&r, &"coldStart".into()).unwrap(), JsValue::TRUE);
    }
    s.record(id(), JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap();
    wasm_bindgen_futures::JsFuture::from(s.flush()).await.unwrap();
    let r = s.recommend(opts(r#"{"k":50}"#)).unwrap_or_else(|_| panic!("recommend k=50"));
    let get = |k: &str| js_sys::Reflect::get(&r, &k.into()).unwrap();
    assert_eq!(get("rows").unchecked_into::<js_sys::Uint32Array>().length(), 50);
    assert_eq!(js_sys::Array::from(&get("titles")).length(), 50);
    assert!(!js_sys::Array::from(&get("ids")).includes(&id(), 0), "the seen item is excluded");
    typed(
        "rules",
        s.set_rules(opts(r#"{"pin":[{"id":"sku-00002","position":1000}]}"#)).err().unwrap().into(),
        "invalid-argument",
    );
    typed("import", s.import_history(JsValue::from(7)).err().unwrap().into(), "invalid-history");
    assert!(s.item(JsValue::from_str("nope")).unwrap().is_null());
    s.close();
}
