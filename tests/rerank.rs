//! The ranking stage (`localrec::rerank`), natively and in headless browsers: the shipped export's
//! self-check (the trainer's top 10 through the browser's path) passes, its file format refuses
//! every damaged byte it can see, the recommender keeps its promises with it (exactly k under
//! filters, reasons), an item-item neighbour lifts what the tower alone would miss, and the
//! self-check runs only over the item table it was computed over.

use std::rc::Rc;

use localrec::catalog::PqResidual;
use localrec::recommender::Reason;
use localrec::rerank::{Neighbours, RankingStage, Scorer, SelfCheck, StageConfig, NUM_FEATURES};
use localrec::{Catalog, Error, Event, Kind, RecommendOptions, Recommender, UserModel};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const TOWER_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.json");
const TOWER_BIN: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.bin");
const ITEMS_INT8: &[u8] = include_bytes!("../www/artifacts/synthetic/items.int8.lrc");
const RANKER: &[u8] = include_bytes!("../www/artifacts/synthetic/ranker.bin");
const ITEMS_PQ: &[u8] = include_bytes!("../www/artifacts/synthetic/items.pq.lrc");
const PQ_REFINE: &[u8] = include_bytes!("../www/artifacts/synthetic/items.pq.refine.lrc");

fn recommender() -> Recommender {
    let catalog = Rc::new(Catalog::decode(ITEMS_INT8).unwrap());
    Recommender::new(catalog, UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap()
}

#[test]
fn the_shipped_ranking_stage_reproduces_the_trainers_answer() {
    let mut rec = recommender();
    let ranker = RankingStage::decode(RANKER).unwrap();
    let check = ranker.check.clone().expect("the export carries a self-check");
    assert_eq!(check.expected.len(), 10);
    rec.set_ranking_stage(Some(Rc::new(ranker))).unwrap();
    let c = rec.check_ranking_stage().unwrap().unwrap();
    assert!(c.same_rows && c.max_score_diff <= 1e-4, "{c:?}");
    // The same answer through the visitor's path: the history, then recommend.
    rec.set_history(&check.events).unwrap();
    let top = rec.recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap();
    let rows: Vec<u32> = top.iter().map(|r| r.index).collect();
    assert_eq!(rows, check.expected.iter().map(|e| e.0).collect::<Vec<_>>());
}

/// A ranker over `n` items whose scorer reads only `recent` (feature 2): pure item-item.
fn item_item_ranker(n: usize, rows: &[Vec<(u32, f32)>]) -> RankingStage {
    let mut w = [0f32; NUM_FEATURES];
    w[2] = 1.0;
    RankingStage {
        config: StageConfig {
            tower_candidates: 20,
            neighbour_candidates: 10,
            session_seconds: 1800.0,
            max_history: 50,
        },
        scorer: Scorer::linear(w),
        popularity: vec![0.0; n],
        neighbours: Neighbours::from_rows(rows).unwrap(),
        check: None,
    }
}

fn sample_ranker() -> RankingStage {
    let n = 50;
    let rows: Vec<Vec<(u32, f32)>> =
        (0..n as u32).map(|i| (1..4).map(|d| ((i + d * 7) % n as u32, 0.1 * d as f32)).collect()).collect();
    let mut r = item_item_ranker(n, &rows);
    r.scorer.hidden = 2;
    r.scorer.w1 = (0..2 * NUM_FEATURES).map(|i| i as f32 * 0.01).collect();
    r.scorer.b1 = vec![0.1, -0.2];
    r.scorer.w2 = vec![0.5, 0.25];
    r.popularity = (0..n).map(|i| (i as f32).ln_1p()).collect();
    r.check = Some(SelfCheck {
        events: vec![Event { item: 3, kind: Kind::Cart, time: 12.5 }],
        expected: vec![(10, 0.25), (17, 0.125)],
        table: Some("int8"),
    });
    r
}

#[test]
fn the_file_round_trips_and_rejects_damage() {
    let r = sample_ranker();
    let bytes = r.encode();
    assert_eq!(RankingStage::decode(&bytes).unwrap(), r);
    // Three bytes per neighbour here: a one-byte gap (rows under 128) and a bf16 weight.
    let without = RankingStage { neighbours: Neighbours::from_rows(&vec![vec![]; 50]).unwrap(), ..r.clone() };
    assert_eq!(bytes.len() - without.encode().len(), 3 * r.neighbours.nnz());
    // Version 1 files (CSR: u32 offsets and indices) are still read: the demo export's until
    // 2026-12-07, kept as a fixture.
    let v1 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ranker-v1.bin"));
    #[cfg(not(target_arch = "wasm32"))]
    {
        let v1 = v1.unwrap();
        assert_eq!(v1[4], 1, "the fixture is a version 1 file");
        let old = RankingStage::decode(&v1).unwrap();
        assert_eq!(old.check.as_ref().unwrap().table, None, "version 1 records no check table");
        let current = old.encode();
        assert_eq!(RankingStage::decode(&current).unwrap(), old);
        assert!(current.len() * 10 < v1.len() * 8, "now: {} bytes, version 1: {}", current.len(), v1.len());
    }
    #[cfg(target_arch = "wasm32")]
    let _ = v1;
    for cut in 0..bytes.len() {
        assert!(matches!(RankingStage::decode(&bytes[..cut]), Err(Error::InvalidRanker(_))), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(RankingStage::decode(&longer).unwrap_err().to_string().contains("trailing"));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(RankingStage::decode(&magic).unwrap_err().to_string().contains("magic"));
    let mut version = bytes.clone();
    version[4] = 9;
    assert!(RankingStage::decode(&version).unwrap_err().to_string().contains("version 9"));
    // Version 3's last byte is the self-check's table; a version 2 file (no such byte) still reads,
    // its table not recorded.
    assert_eq!(bytes[4], 3);
    assert_eq!(*bytes.last().unwrap(), 2, "int8");
    let mut v2 = bytes.clone();
    v2.pop();
    v2[4] = 2;
    let mut untabled = r.clone();
    untabled.check.as_mut().unwrap().table = None;
    assert_eq!(RankingStage::decode(&v2).unwrap(), untabled);
    let mut unknown = bytes.clone();
    *unknown.last_mut().unwrap() = 5;
    assert!(RankingStage::decode(&unknown).unwrap_err().to_string().contains("table code 5"));
    // A table with no self-check would not re-encode: refused.
    let mut table_only = RankingStage { check: None, ..r.clone() }.encode();
    *table_only.last_mut().unwrap() = 3;
    assert!(RankingStage::decode(&table_only).unwrap_err().to_string().contains("no history"));
    // A NaN scorer weight (the first mean value).
    let mut nan = bytes.clone();
    nan[36..40].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(RankingStage::decode(&nan).unwrap_err().to_string().contains("non-finite"));
    // Every single-byte corruption either decodes to something valid or is refused, never panics.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xA5;
        if let Ok(d) = RankingStage::decode(&b) {
            assert_eq!(d.encode(), b, "byte {i}");
        }
    }
    assert_eq!(Error::InvalidRanker(String::new()).code(), "invalid-model");
    // Found by the fuzz target (2026-12-02): a self-check with results but no history decoded as
    // no check at all, so the file did not re-encode to itself. It is refused now.
    let mut no_history = RankingStage { check: None, ..r.clone() }.encode();
    let table = no_history.pop().unwrap();
    let n = no_history.len();
    no_history[n - 4..].copy_from_slice(&1u32.to_le_bytes());
    no_history.extend_from_slice(&0u32.to_le_bytes());
    no_history.extend_from_slice(&0.5f32.to_le_bytes());
    no_history.push(table);
    assert!(RankingStage::decode(&no_history).unwrap_err().to_string().contains("no history"));
}

#[test]
fn a_neighbour_lifts_what_the_tower_misses_and_says_why() {
    let mut rec = recommender();
    let catalog = rec.catalog().clone();
    let n = catalog.len();
    rec.record(5, Kind::Purchase, 100.0).unwrap();
    let tower_only = rec.recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap();
    // Item 5's one neighbour: an item the tower ranks last.
    let all = rec.recommend(&RecommendOptions { k: n - 1, exclude_seen: true, ..Default::default() }).unwrap();
    let lowest = all.last().unwrap().index;
    assert!(!tower_only.iter().any(|r| r.index == lowest));
    let mut rows = vec![vec![]; n];
    rows[5] = vec![(lowest, 0.5)];
    rec.set_ranking_stage(Some(Rc::new(item_item_ranker(n, &rows)))).unwrap();
    let two = rec.recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap();
    assert_eq!(two.len(), 10);
    assert_eq!(two[0].index, lowest, "the neighbour comes first");
    assert_eq!(two[0].reason, Reason::Together { item: 5, kind: Kind::Purchase });
    assert!(matches!(two[1].reason, Reason::Because { item: 5, .. }));
    // Filters hold for both sources: excluding the neighbour, or allowing only other categories.
    let ex = rec
        .recommend(&RecommendOptions { k: 10, exclude_seen: true, exclude: &[lowest], ..Default::default() })
        .unwrap();
    assert_eq!(ex.len(), 10);
    assert!(ex.iter().all(|r| r.index != lowest && r.index != 5));
    let cats = catalog.categories().unwrap();
    let other: Vec<u32> = (0..8).filter(|&c| c != cats[lowest as usize]).collect();
    let only = rec
        .recommend(&RecommendOptions { k: 10, exclude_seen: true, categories: Some(&other), ..Default::default() })
        .unwrap();
    assert_eq!(only.len(), 10);
    assert!(only.iter().all(|r| other.contains(&cats[r.index as usize])));
    // Exactly k where enough items are eligible, more than the stage's candidates included.
    let many = rec.recommend(&RecommendOptions { k: 150, exclude_seen: true, ..Default::default() }).unwrap();
    assert_eq!(many.len(), 150);
    let capped = rec
        .recommend(&RecommendOptions { k: 12, exclude_seen: true, max_per_category: Some(3), ..Default::default() })
        .unwrap();
    assert_eq!(capped.len(), 12);
    let mut per = [0; 8];
    capped.iter().for_each(|r| per[cats[r.index as usize] as usize] += 1);
    assert!(per.iter().all(|&c| c <= 3), "{per:?}");
    // A ranker for another catalog is refused; removing the stage gives the tower's answer.
    let err = rec.set_ranking_stage(Some(Rc::new(item_item_ranker(10, &vec![vec![]; 10])))).unwrap_err();
    assert!(matches!(err, Error::InvalidRanker(_)));
    rec.set_ranking_stage(None).unwrap();
    assert_eq!(
        rec.recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap(),
        tower_only
    );
}

#[test]
fn the_self_check_compares_the_shipped_answer() {
    let mut rec = recommender();
    let n = rec.catalog().len();
    let mut ranker = sample_ranker();
    ranker.config.tower_candidates = 10;
    ranker.popularity = vec![0.0; n];
    ranker.neighbours = Neighbours::from_rows(
        &vec![vec![(1, 0.5)]; n]
            .iter()
            .enumerate()
            .map(|(i, r)| if i == 1 { vec![] } else { r.clone() })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    rec.set_ranking_stage(Some(Rc::new(ranker.clone()))).unwrap();
    let events = vec![Event { item: 3, kind: Kind::Cart, time: 12.5 }, Event { item: 8, kind: Kind::View, time: 20.0 }];
    rec.set_history(&events).unwrap();
    let top = rec.recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() }).unwrap();
    rec.record(9, Kind::View, 30.0).unwrap();
    ranker.check = Some(SelfCheck { events, expected: top.iter().map(|r| (r.index, r.score)).collect(), table: None });
    rec.set_ranking_stage(Some(Rc::new(ranker.clone()))).unwrap();
    let c = rec.check_ranking_stage().unwrap().unwrap();
    assert!(c.same_rows && c.max_score_diff == 0.0, "{c:?}");
    assert_eq!(rec.events().len(), 3, "the visitor's history is untouched");
    // A wrong expectation is reported, not hidden.
    let mut wrong = ranker;
    wrong.check.as_mut().unwrap().expected.swap(0, 1);
    rec.set_ranking_stage(Some(Rc::new(wrong))).unwrap();
    assert!(!rec.check_ranking_stage().unwrap().unwrap().same_rows);
}

/// Found in the demo (2026-12): over the pq table the shipped check (the trainer's top 10 over int8)
/// reported "DIFFERENT top 10". A check runs only over the table it was computed over, plain: the
/// table is recorded in the file (version 3; not recorded, as in older files: int8), and a refine
/// plane skips it.
#[test]
fn the_self_check_runs_only_over_the_table_it_was_computed_over() {
    let opts = RecommendOptions { k: 10, exclude_seen: true, ..Default::default() };
    let shipped = RankingStage::decode(RANKER).unwrap();
    let events = shipped.check.as_ref().unwrap().events.clone();
    assert_eq!(shipped.check.as_ref().unwrap().table, Some("int8"), "the shipped check was computed over int8");
    let pq = Rc::new(Catalog::decode(ITEMS_PQ).unwrap());
    assert_eq!(pq.precision(), "pq");
    let mut rec = Recommender::new(pq, UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap();
    rec.set_ranking_stage(Some(Rc::new(shipped.clone()))).unwrap();
    rec.set_history(&events).unwrap();
    assert!(rec.check_ranking_stage().unwrap().is_none(), "an int8 check over pq does not apply");
    assert!(rec.explain(&opts).unwrap().ranker_check.is_none());
    // A check computed over the plain pq table, as the exporter writes it from 50,000 items on.
    let top = rec.recommend(&opts).unwrap();
    let mut over_pq = shipped.clone();
    over_pq.check =
        Some(SelfCheck { events, expected: top.iter().map(|r| (r.index, r.score)).collect(), table: Some("pq") });
    let bytes = over_pq.encode();
    assert_eq!(bytes[4], 3);
    let decoded = RankingStage::decode(&bytes).unwrap();
    assert_eq!(decoded, over_pq);
    assert_eq!(decoded.check.as_ref().unwrap().table, Some("pq"));
    let decoded = Rc::new(decoded);
    rec.set_ranking_stage(Some(decoded.clone())).unwrap();
    let c = rec.check_ranking_stage().unwrap().expect("over its own table the check runs");
    assert!(c.same_rows && c.max_score_diff <= 1e-6, "{c:?}");
    assert!(rec.explain(&opts).unwrap().ranker_check.is_some());
    // The refine plane changes the scores: the plain table's check no longer applies.
    rec.attach_residual(PqResidual::decode(PQ_REFINE).unwrap()).unwrap();
    assert!(rec.catalog().residual().is_some());
    assert!(rec.check_ranking_stage().unwrap().is_none(), "no check over pq + refine");
    // Over int8 the shipped check runs and passes; the pq check does not apply.
    let mut rec = recommender();
    rec.set_ranking_stage(Some(Rc::new(shipped))).unwrap();
    let c = rec.check_ranking_stage().unwrap().expect("the shipped check was computed over int8");
    assert!(c.same_rows && c.max_score_diff <= 1e-4, "{c:?}");
    rec.set_ranking_stage(Some(decoded)).unwrap();
    assert!(rec.check_ranking_stage().unwrap().is_none(), "a pq check over int8 does not apply");
}
