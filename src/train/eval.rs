//! Evaluation: full ranking over every item, excluding the items the user already had before the
//! target; Recall@10, NDCG@10, Recall@50 and catalog coverage@10. The model is ranked by the
//! product's own [`TopK`] ranker (the same code as in the browser); so is popularity. Item-kNN
//! scores densely and picks its top 50 directly.

use super::data::Dataset;
use crate::catalog::Catalog;
use crate::model::{encode_history, EncodedHistory, HistoryConfig, UserModel};
use crate::rank::{Query, TopK};

/// Which target a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Valid,
    Test,
}

/// One user's evaluation query.
#[derive(Debug, Clone)]
pub struct EvalQuery {
    pub user: usize,
    pub target: u32,
    /// Items known before the target, sorted (never recommended).
    pub exclude: Vec<u32>,
    pub history: EncodedHistory,
    /// The events the history was encoded from, oldest first (the second stage reads them).
    pub events: Vec<crate::model::Event>,
    /// The target item occurs earlier in the user's events (a repeat; only with `Dedupe::Last`).
    pub repeat: bool,
}

/// Events the trainer reads before a target: enough for `reach()` distinct items when the
/// deduplicated data has no repeats, with room for repeats.
pub fn history_window(config: &HistoryConfig) -> usize {
    4 * config.reach()
}

/// The queries of a split, one per user.
pub fn queries(ds: &Dataset, split: Split, history: &HistoryConfig) -> Vec<EvalQuery> {
    let window = history_window(history);
    ds.users
        .iter()
        .enumerate()
        .map(|(user, ue)| {
            let j = match split {
                Split::Valid => ue.valid_index(),
                Split::Test => ue.test_index(),
            };
            let mut exclude = ue.known_before(j);
            exclude.sort_unstable();
            let events = ue.visible_before(j, window);
            EvalQuery {
                user,
                target: ue.events[j].item,
                repeat: ue.events[..j].iter().any(|e| e.item == ue.events[j].item),
                exclude,
                history: encode_history(&events, history).expect("dataset times are finite"),
                events,
            }
        })
        .collect()
}

/// The four metrics, averaged over users.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub recall10: f64,
    pub ndcg10: f64,
    pub recall50: f64,
    pub coverage10: f64,
    pub users: usize,
}

/// Accumulates ranked lists (best first, at least 50 long where the catalog allows).
pub struct MetricsAcc {
    hits10: f64,
    ndcg: f64,
    hits50: f64,
    seen: Vec<bool>,
    users: usize,
}

impl MetricsAcc {
    pub fn new(items: usize) -> Self {
        MetricsAcc { hits10: 0.0, ndcg: 0.0, hits50: 0.0, seen: vec![false; items], users: 0 }
    }

    pub fn add(&mut self, ranked: &[u32], target: u32) {
        self.users += 1;
        for &r in ranked.iter().take(10) {
            self.seen[r as usize] = true;
        }
        if let Some(pos) = ranked.iter().take(50).position(|&r| r == target) {
            self.hits50 += 1.0;
            if pos < 10 {
                self.hits10 += 1.0;
                self.ndcg += 1.0 / ((pos + 2) as f64).log2();
            }
        }
    }

    pub fn finish(&self) -> Metrics {
        let n = self.users.max(1) as f64;
        Metrics {
            recall10: self.hits10 / n,
            ndcg10: self.ndcg / n,
            recall50: self.hits50 / n,
            coverage10: self.seen.iter().filter(|&&s| s).count() as f64 / self.seen.len().max(1) as f64,
            users: self.users,
        }
    }
}

/// Each query's ranked list, best first, up to 50 items (`ranked[i]` answers `queries[i]`).
pub type Ranked = Vec<Vec<u32>>;

/// The metrics of ranked lists over the queries `keep` selects: one ranking serves a split and its
/// parts (new-item and repeat targets) without ranking again.
pub fn metrics_of(
    items: usize,
    ranked: &[Vec<u32>],
    queries: &[EvalQuery],
    keep: impl Fn(&EvalQuery) -> bool,
) -> Metrics {
    assert_eq!(ranked.len(), queries.len(), "one ranked list per query");
    let mut acc = MetricsAcc::new(items);
    for (list, q) in ranked.iter().zip(queries) {
        if keep(q) {
            acc.add(list, q.target);
        }
    }
    acc.finish()
}

/// At most `max` of `queries` (all of them when `max` is 0 or not below their count): a seeded
/// uniform sample of users, kept in user order. Splits of the same users sampled with the same
/// seed keep the same users.
pub fn sample_queries(mut queries: Vec<EvalQuery>, max: usize, seed: u64) -> Vec<EvalQuery> {
    if max > 0 && queries.len() > max {
        let mut rng = crate::rng::Rng::new(seed);
        for i in (1..queries.len()).rev() {
            queries.swap(i, rng.below(i as u64 + 1) as usize);
        }
        queries.truncate(max);
        queries.sort_unstable_by_key(|q| q.user);
    }
    queries
}

/// Ranks by a catalog and one query vector per query (the model, or popularity as a
/// one-dimensional catalog).
/// The searches run on every core, each query's list in its own slot, so the lists (and the
/// metrics summed from them in query order) are the same bits as a sequential run's.
pub fn rank_catalog(catalog: &Catalog, queries: &[EvalQuery], vectors: &[f32]) -> Ranked {
    use rayon::prelude::*;
    let dim = catalog.dim();
    queries
        .par_iter()
        .enumerate()
        .map_init(TopK::new, |topk, (i, q)| {
            let v = if vectors.len() == dim { vectors } else { &vectors[i * dim..(i + 1) * dim] };
            let hits = topk.search(catalog, &Query::new(v, 50).exclude(&q.exclude)).expect("valid query");
            hits.iter().map(|h| h.index).collect()
        })
        .collect()
}

/// [`rank_catalog`]'s metrics over every query.
pub fn evaluate_catalog(catalog: &Catalog, queries: &[EvalQuery], vectors: &[f32]) -> Metrics {
    metrics_of(catalog.len(), &rank_catalog(catalog, queries, vectors), queries, |_| true)
}

/// The tower's embedding of every query's history against `catalog` (f32 or int8): `dim` floats
/// per query.
pub fn query_vectors(model: &UserModel, catalog: &Catalog, queries: &[EvalQuery]) -> Vec<f32> {
    let dim = catalog.dim();
    let mut table = Vec::with_capacity(catalog.len() * dim);
    for row in 0..catalog.len() as u32 {
        table.extend(catalog.vector(row));
    }
    let histories: Vec<EncodedHistory> = queries.iter().map(|q| q.history.clone()).collect();
    model.embed_batch(&table, &histories)
}

/// The model: embeds every query's history against `catalog` and ranks.
pub fn rank_model(model: &UserModel, catalog: &Catalog, queries: &[EvalQuery]) -> Ranked {
    rank_catalog(catalog, queries, &query_vectors(model, catalog, queries))
}

/// [`rank_model`]'s metrics over every query.
pub fn evaluate_model(model: &UserModel, catalog: &Catalog, queries: &[EvalQuery]) -> Metrics {
    metrics_of(catalog.len(), &rank_model(model, catalog, queries), queries, |_| true)
}

/// The top 50 of a dense score vector over every item into `order` (`exclude` sorted, ties by
/// row).
pub fn top_of_scores(scores: &[f32], exclude: &[u32], order: &mut Vec<u32>) {
    let n = scores.len();
    order.clear();
    order.extend((0..n as u32).filter(|i| exclude.binary_search(i).is_err()));
    let k = order.len().min(50);
    let by = |a: &u32, b: &u32| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b));
    if k > 0 && k < order.len() {
        order.select_nth_unstable_by(k - 1, by);
    }
    order.truncate(k);
    order.sort_by(by);
}

/// Ranks a dense score vector over every item (see [`top_of_scores`]) into `acc`; `order` is
/// scratch.
pub fn rank_scores(scores: &[f32], exclude: &[u32], target: u32, acc: &mut MetricsAcc, order: &mut Vec<u32>) {
    top_of_scores(scores, exclude, order);
    acc.add(order, target);
}

/// Popularity: training-target counts as a one-dimensional catalog.
pub fn rank_popularity(ds: &Dataset, queries: &[EvalQuery]) -> Ranked {
    let counts = ds.train_counts();
    let values: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
    let catalog = Catalog::from_f32(&ds.item_ids, 1, values, None).expect("valid popularity table");
    rank_catalog(&catalog, queries, &[1.0])
}

/// [`rank_popularity`]'s metrics over every query.
pub fn evaluate_popularity(ds: &Dataset, queries: &[EvalQuery]) -> Metrics {
    metrics_of(ds.item_ids.len(), &rank_popularity(ds, queries), queries, |_| true)
}

/// Item-to-item co-occurrence kNN: cosine of co-occurrence counts over users' training items;
/// a user's score for an item is the sum of its similarities to the items known before the
/// target. Dense `items²` matrix: refuses catalogs above `max_items`.
pub fn rank_item_knn(ds: &Dataset, queries: &[EvalQuery], max_items: usize) -> Option<Ranked> {
    let n = ds.item_ids.len();
    if n > max_items {
        return None;
    }
    let mut co = vec![0f32; n * n];
    let mut count = vec![0f32; n];
    for ue in &ds.users {
        let items: Vec<usize> =
            ue.firsts[..ue.firsts.len() - 2].iter().map(|&f| ue.events[f as usize].item as usize).collect();
        for &a in &items {
            count[a] += 1.0;
            for &b in &items {
                if a != b {
                    co[a * n + b] += 1.0;
                }
            }
        }
    }
    for a in 0..n {
        for b in 0..n {
            let d = (count[a] * count[b]).sqrt();
            co[a * n + b] = if d > 0.0 { co[a * n + b] / d } else { 0.0 };
        }
    }
    let mut scores = vec![0f32; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut ranked = Vec::with_capacity(queries.len());
    for q in queries {
        scores.iter_mut().for_each(|s| *s = 0.0);
        for &h in &q.exclude {
            let row = &co[h as usize * n..(h as usize + 1) * n];
            scores.iter_mut().zip(row).for_each(|(s, r)| *s += r);
        }
        top_of_scores(&scores, &q.exclude, &mut order);
        ranked.push(order.clone());
    }
    Some(ranked)
}

/// [`rank_item_knn`]'s metrics over every query.
pub fn evaluate_item_knn(ds: &Dataset, queries: &[EvalQuery], max_items: usize) -> Option<Metrics> {
    rank_item_knn(ds, queries, max_items).map(|r| metrics_of(ds.item_ids.len(), &r, queries, |_| true))
}
