//! The recommender façade on the shipped synthetic model (natively and in headless browsers):
//! reasons name the history item closest to each result, the diversity cap holds, the cold-start
//! answer is the popular list under the same filters, and filters always hold.

use std::rc::Rc;

use localrec::recommender::{Reason, Recommendation};
use localrec::{Catalog, Error, Kind, RecommendOptions, Recommender, UserModel};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const TOWER_JSON: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.json");
const TOWER_BIN: &[u8] = include_bytes!("../www/artifacts/synthetic/tower.bin");
const ITEMS_INT8: &[u8] = include_bytes!("../www/artifacts/synthetic/items.int8.lrc");

fn recommender() -> Recommender {
    let catalog = Rc::new(Catalog::decode(ITEMS_INT8).unwrap());
    Recommender::new(catalog, UserModel::from_bytes(TOWER_JSON, TOWER_BIN).unwrap()).unwrap()
}

fn dot(c: &Catalog, a: u32, b: u32) -> f32 {
    c.vector(a).iter().zip(c.vector(b)).map(|(x, y)| x * y).sum()
}

fn opts(k: usize) -> RecommendOptions<'static> {
    RecommendOptions { k, exclude_seen: true, ..Default::default() }
}

#[test]
fn each_reason_is_the_closest_history_item_with_its_kind() {
    let mut rec = recommender();
    let history = [(3u32, Kind::View), (400, Kind::Cart), (1200, Kind::Purchase)];
    for (t, &(item, kind)) in history.iter().enumerate() {
        rec.record(item, kind, 1000.0 + t as f64).unwrap();
    }
    let catalog = rec.catalog().clone();
    let recs = rec.recommend(&opts(10)).unwrap();
    assert_eq!(recs.len(), 10);
    for r in &recs {
        let Reason::Because { item, kind } = r.reason else { panic!("{r:?} has no history reason") };
        let best = history.iter().max_by(|a, b| dot(&catalog, a.0, r.index).total_cmp(&dot(&catalog, b.0, r.index)));
        assert_eq!(Some(&(item, kind)), best, "result {}", r.index);
        assert!(history.iter().all(|h| h.0 != r.index), "seen items are excluded");
    }
    assert!(recs.windows(2).all(|w| w[0].score >= w[1].score), "best first");
}

#[test]
fn diversity_caps_each_category() {
    let mut rec = recommender();
    let catalog = rec.catalog().clone();
    let cats = catalog.categories().expect("the synthetic shop has categories").to_vec();
    // A visitor deep in one category: without the cap, that category takes most slots.
    let first = cats[0];
    let same: Vec<u32> = (0..catalog.len() as u32).filter(|&r| cats[r as usize] == first).take(8).collect();
    for (t, &r) in same.iter().enumerate() {
        rec.record(r, Kind::View, t as f64).unwrap();
    }
    let count = |recs: &[Recommendation]| recs.iter().filter(|r| cats[r.index as usize] == first).count();
    let plain = rec.recommend(&opts(10)).unwrap();
    assert!(count(&plain) > 2, "the test needs a visitor whose top 10 is dominated by one category");
    let capped = rec.recommend(&RecommendOptions { max_per_category: Some(2), ..opts(10) }).unwrap();
    assert_eq!(capped.len(), 10);
    let mut per = std::collections::HashMap::new();
    for r in &capped {
        *per.entry(cats[r.index as usize]).or_insert(0) += 1;
    }
    assert!(per.values().all(|&n| n <= 2), "{per:?}");
    // The capped list keeps the best allowed item of the dominant category first.
    assert_eq!(capped[0].index, plain[0].index);

    // A visitor whose whole top 80 is one category (one strong signal): the pool widens until the
    // cap can be met.
    let mut rec = recommender();
    rec.record(4, Kind::Cart, 0.0).unwrap();
    let one = cats[4];
    let plain = rec.recommend(&RecommendOptions { k: 80, ..opts(80) }).unwrap();
    assert!(plain.iter().all(|r| cats[r.index as usize] == one), "the test needs a single-category top 80");
    let capped = rec.recommend(&RecommendOptions { max_per_category: Some(2), ..opts(10) }).unwrap();
    assert_eq!(capped.len(), 10);
    assert_eq!(capped.iter().filter(|r| cats[r.index as usize] == one).count(), 2);
}

#[test]
fn cold_start_is_the_popular_list_under_the_same_filters() {
    let mut rec = recommender();
    assert_eq!(rec.recommend(&opts(5)), Err(Error::EmptyHistory));
    let cats = rec.catalog().categories().unwrap().to_vec();
    let popular: Vec<u32> = (100..160).collect();
    rec.set_popular(&popular).unwrap();
    let recs = rec.recommend(&RecommendOptions { exclude: &[100, 101], ..opts(5) }).unwrap();
    assert_eq!(recs.iter().map(|r| r.index).collect::<Vec<_>>(), vec![102, 103, 104, 105, 106]);
    assert!(recs.iter().all(|r| r.reason == Reason::Popular));
    let want = [cats[130]];
    let recs = rec.recommend(&RecommendOptions { categories: Some(&want), ..opts(3) }).unwrap();
    assert!(recs.iter().all(|r| cats[r.index as usize] == want[0] && popular.contains(&r.index)));
    assert!(matches!(rec.set_popular(&[5_000_000]), Err(Error::IndexOutOfRange { .. })));
    // Once the visitor acts, the answer is personal.
    rec.record(7, Kind::View, 0.0).unwrap();
    assert!(rec.recommend(&opts(5)).unwrap().iter().all(|r| r.reason == Reason::Because { item: 7, kind: Kind::View }));
    rec.clear();
    assert!(rec.recommend(&opts(5)).unwrap().iter().all(|r| r.reason == Reason::Popular));
}
