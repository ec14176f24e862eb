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

const RANKER: &[u8] = include_bytes!("../www/artifacts/synthetic/ranker.bin");

fn two_stage() -> Recommender {
    let mut rec = recommender();
    rec.set_ranking_stage(Some(Rc::new(localrec::rerank::RankingStage::decode(RANKER).unwrap()))).unwrap();
    rec
}

fn visit(rec: &mut Recommender) {
    for (t, &(item, kind)) in
        [(3u32, Kind::View), (400, Kind::Cart), (1200, Kind::View), (7, Kind::Purchase)].iter().enumerate()
    {
        rec.record(item, kind, 1000.0 + t as f64).unwrap();
    }
}

fn rows(recs: &[Recommendation]) -> Vec<u32> {
    recs.iter().map(|r| r.index).collect()
}

#[test]
fn dismiss_removes_the_item_and_lowers_similar_ones() {
    for mut rec in [recommender(), two_stage()] {
        visit(&mut rec);
        let catalog = rec.catalog().clone();
        let before = rows(&rec.recommend(&opts(30)).unwrap());
        let dismissed = before[0];
        // Its nearest neighbour among the other candidates, and the candidate least like it.
        let near = *before[1..]
            .iter()
            .max_by(|&&a, &&b| dot(&catalog, dismissed, a).total_cmp(&dot(&catalog, dismissed, b)))
            .unwrap();
        let far = *before[1..]
            .iter()
            .min_by(|&&a, &&b| dot(&catalog, dismissed, a).total_cmp(&dot(&catalog, dismissed, b)))
            .unwrap();
        let q0 = rec.query().unwrap().to_vec();
        rec.dismiss(dismissed).unwrap();
        let q1 = rec.query().unwrap().to_vec();
        let score = |q: &[f32], r: u32| q.iter().zip(catalog.vector(r)).map(|(a, b)| a * b).sum::<f32>();
        let (drop_near, drop_far) = (score(&q0, near) - score(&q1, near), score(&q0, far) - score(&q1, far));
        assert!(drop_near > 0.0 && drop_near > drop_far + 0.05, "near {drop_near} far {drop_far}");
        let after = rows(&rec.recommend(&opts(30)).unwrap());
        assert_eq!(after.len(), 30, "still exactly k");
        assert!(!after.contains(&dismissed), "a dismissed item never comes back");
        // The answer moves away from it: the top 10 are less like the dismissed item than the top
        // 10 of the other candidates were.
        let likeness = |list: &[u32]| list[..10].iter().map(|&r| dot(&catalog, dismissed, r)).sum::<f32>() / 10.0;
        let (was, now) = (likeness(&before[1..]), likeness(&after));
        assert!(now < was - 0.02, "likeness to the dismissed item {was} -> {now}");
        // Kept across a new history (the stored dismissals are set again on load), gone with clear().
        assert_eq!(rec.dismissed(), &[dismissed]);
        rec.clear();
        assert!(rec.dismissed().is_empty());
        assert!(rec.dismiss(catalog.len() as u32).is_err(), "rows outside the catalog are refused");
    }
}

#[test]
fn rules_block_bury_boost_and_pin_with_exactly_k_results() {
    use localrec::recommender::Rules;
    for mut rec in [recommender(), two_stage()] {
        visit(&mut rec);
        let catalog = rec.catalog().clone();
        let cats = catalog.categories().unwrap().to_vec();
        let base = rec.recommend(&opts(10)).unwrap();
        let top = base[0].index;
        // Block: the item is gone, still 10 results.
        rec.set_rules(Rules { block: vec![top], ..Default::default() }).unwrap();
        let got = rows(&rec.recommend(&opts(10)).unwrap());
        assert_eq!(got.len(), 10);
        assert!(!got.contains(&top));
        // Bury the top item's category: none of it while others are eligible.
        let buried = cats[top as usize];
        rec.set_rules(Rules { boosts: vec![(buried, -100.0)], ..Default::default() }).unwrap();
        let got = rows(&rec.recommend(&opts(10)).unwrap());
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|&r| cats[r as usize] != buried), "buried category still in {got:?}");
        // Boost a category absent from the answer: it fills the top slots.
        let boosted = (0..8u32)
            .find(|c| base.iter().all(|r| cats[r.index as usize] != *c))
            .expect("a category outside the top 10");
        rec.set_rules(Rules { boosts: vec![(boosted, 100.0)], ..Default::default() }).unwrap();
        let got = rec.recommend(&opts(10)).unwrap();
        assert!(got.iter().all(|r| cats[r.index as usize] == boosted), "boosted category first");
        assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
        // Pins: at their positions, obeying the filters (a seen item is not pinned), no duplicates.
        let pinned = base[5].index;
        rec.set_rules(Rules { pins: vec![(pinned, 0), (3, 1), (base[1].index, 50)], ..Default::default() }).unwrap();
        let got = rec.recommend(&opts(10)).unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!((got[0].index, got[0].reason), (pinned, Reason::Pinned));
        assert_eq!(got[9].index, base[1].index, "a position past the end puts the pin last");
        assert!(got.iter().all(|r| r.index != 3), "row 3 was seen: its pin obeys exclude_seen");
        let mut unique = rows(&got);
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 10, "no duplicates");
        // Refused: rows outside the catalog, non-finite boosts.
        assert!(rec.set_rules(Rules { block: vec![catalog.len() as u32], ..Default::default() }).is_err());
        assert!(rec.set_rules(Rules { boosts: vec![(0, f32::NAN)], ..Default::default() }).is_err());
        rec.set_rules(Rules::default()).unwrap();
        assert_eq!(rec.recommend(&opts(10)).unwrap(), base, "no rules: the same answer as before");
    }
}

#[test]
fn small_boosts_give_the_exact_boosted_top_k() {
    use localrec::rank::{Query, TopK};
    use localrec::recommender::Rules;
    let mut rec = recommender();
    visit(&mut rec);
    let catalog = rec.catalog().clone();
    let cats = catalog.categories().unwrap().to_vec();
    let boosts = vec![(1u32, 0.04f32), (2, -0.03), (5, 0.02)];
    rec.set_rules(Rules { boosts: boosts.clone(), ..Default::default() }).unwrap();
    for k in [1usize, 10, 40] {
        let got = rec.recommend(&opts(k)).unwrap();
        // Brute force: every eligible row's score, boosted, sorted.
        let mut seen: Vec<u32> = rec.events().iter().map(|e| e.item).collect();
        seen.sort_unstable();
        seen.dedup();
        let q = rec.query().unwrap().to_vec();
        let mut topk = TopK::new();
        let all = topk.search(&catalog, &Query::new(&q, catalog.len()).exclude(&seen)).unwrap();
        let boost = |r: u32| boosts.iter().find(|b| b.0 == cats[r as usize]).map_or(0.0, |b| b.1);
        let mut want: Vec<(u32, f32)> = all.iter().map(|h| (h.index, h.score + boost(h.index))).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let got_scores: Vec<f32> = got.iter().map(|r| r.score).collect();
        let want_scores: Vec<f32> = want[..k].iter().map(|w| w.1).collect();
        assert_eq!(got_scores, want_scores, "k={k}");
    }
}

#[test]
fn cold_start_rules_reorder_the_popular_list() {
    use localrec::recommender::Rules;
    let mut rec = recommender();
    let catalog = rec.catalog().clone();
    let cats = catalog.categories().unwrap().to_vec();
    let popular: Vec<u32> = (0..40).collect();
    rec.set_popular(&popular).unwrap();
    let buried = cats[0];
    rec.set_rules(Rules { boosts: vec![(buried, -1.0)], pins: vec![(39, 2)], ..Default::default() }).unwrap();
    let got = rec.recommend(&opts(10)).unwrap();
    assert_eq!(got.len(), 10);
    assert_eq!(got[2].index, 39);
    let rest: Vec<u32> = got.iter().filter(|r| r.reason == Reason::Popular).map(|r| r.index).collect();
    let want: Vec<u32> = popular.iter().copied().filter(|&r| cats[r as usize] != buried && r != 39).take(9).collect();
    assert_eq!(rest, want, "popular order kept, the buried category after the rest");
}

#[test]
fn explain_shows_the_encoded_input_attention_and_scores_per_stage() {
    use localrec::recommender::Rules;
    for (staged, mut rec) in [(false, recommender()), (true, two_stage())] {
        let cold = rec.explain(&opts(5));
        assert!(matches!(cold, Err(Error::EmptyHistory)), "no history, no popular list");
        visit(&mut rec);
        let catalog = rec.catalog().clone();
        let cats = catalog.categories().unwrap().to_vec();
        rec.set_rules(Rules { boosts: vec![(cats[0], 0.01)], ..Default::default() }).unwrap();
        let want = rec.recommend(&opts(10)).unwrap();
        let e = rec.explain(&opts(10)).unwrap();
        assert_eq!(e.results.iter().map(|r| r.recommendation).collect::<Vec<_>>(), want, "the same answer");
        let enc = e.encoded.as_ref().unwrap();
        assert_eq!(enc.items, vec![7, 1200, 400, 3], "slots newest first");
        assert_eq!(enc.kinds, vec![Kind::Purchase as u8, Kind::View as u8, Kind::Cart as u8, Kind::View as u8]);
        assert_eq!(e.attention.len(), enc.items.len() * e.heads);
        for h in 0..e.heads {
            let sum: f32 = (0..enc.items.len()).map(|s| e.attention[s * e.heads + h]).sum();
            assert!((sum - 1.0).abs() < 1e-4, "head {h} sums to {sum}");
        }
        let q = e.query.as_ref().unwrap();
        for r in &e.results {
            let dot: f32 = q.iter().zip(catalog.vector(r.recommendation.index)).map(|(a, b)| a * b).sum();
            assert!((r.tower.unwrap() - dot).abs() < 1e-5);
            assert_eq!(r.boost, if cats[r.recommendation.index as usize] == cats[0] { 0.01 } else { 0.0 });
            match r.stage {
                Some(s) => assert!(staged && (s + r.boost - r.recommendation.score).abs() < 1e-6),
                None => assert!(!staged && (r.tower.unwrap() + r.boost - r.recommendation.score).abs() < 1e-3),
            }
        }
        assert!(e.tower_check.unwrap() < 0.05, "tower self-check {:?}", e.tower_check);
        assert_eq!(e.ranker_check.is_some(), staged);
        assert_eq!(rec.events().len(), 4, "the history is not touched");
    }
}
