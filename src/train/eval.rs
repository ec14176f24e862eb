//! Evaluation: full ranking over every item, excluding the items the user already had before the
//! target; Recall@10, NDCG@10, Recall@50 and catalogue coverage@10. The model is ranked by the
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

/// Accumulates ranked lists (best first, at least 50 long where the catalogue allows).
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

/// Ranks by a catalogue and one query vector per query (the model, or popularity as a
/// one-dimensional catalogue).
/// The searches run on every core; their lists are then added in query order, so the sums (and the
/// printed metrics) are the same bits as a sequential run's.
pub fn evaluate_catalog(catalog: &Catalog, queries: &[EvalQuery], vectors: &[f32]) -> Metrics {
    use rayon::prelude::*;
    let dim = catalog.dim();
    let lists: Vec<Vec<u32>> = queries
        .par_iter()
        .enumerate()
        .map_init(TopK::new, |topk, (i, q)| {
            let v = if vectors.len() == dim { vectors } else { &vectors[i * dim..(i + 1) * dim] };
            let hits = topk.search(catalog, &Query::new(v, 50).exclude(&q.exclude)).expect("valid query");
            hits.iter().map(|h| h.index).collect()
        })
        .collect();
    let mut acc = MetricsAcc::new(catalog.len());
    for (ranked, q) in lists.iter().zip(queries) {
        acc.add(ranked, q.target);
    }
    acc.finish()
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

/// The model: embeds every query's history against `catalog` (f32 or int8) and ranks.
pub fn evaluate_model(model: &UserModel, catalog: &Catalog, queries: &[EvalQuery]) -> Metrics {
    evaluate_catalog(catalog, queries, &query_vectors(model, catalog, queries))
}

/// Ranks a dense score vector over every item (top 50, `exclude` sorted, ties by row) into `acc`;
/// `order` is scratch.
pub fn rank_scores(scores: &[f32], exclude: &[u32], target: u32, acc: &mut MetricsAcc, order: &mut Vec<u32>) {
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
    acc.add(order, target);
}

/// Popularity: training-target counts as a one-dimensional catalogue.
pub fn evaluate_popularity(ds: &Dataset, queries: &[EvalQuery]) -> Metrics {
    let counts = ds.train_counts();
    let values: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
    let catalog = Catalog::from_f32(&ds.item_ids, 1, values, None).expect("valid popularity table");
    evaluate_catalog(&catalog, queries, &[1.0])
}

/// Item-to-item co-occurrence kNN: cosine of co-occurrence counts over users' training items;
/// a user's score for an item is the sum of its similarities to the items known before the
/// target. Dense `items²` matrix: refuses catalogues above `max_items`.
pub fn evaluate_item_knn(ds: &Dataset, queries: &[EvalQuery], max_items: usize) -> Option<Metrics> {
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
    let mut acc = MetricsAcc::new(n);
    let mut scores = vec![0f32; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    for q in queries {
        scores.iter_mut().for_each(|s| *s = 0.0);
        for &h in &q.exclude {
            let row = &co[h as usize * n..(h as usize + 1) * n];
            scores.iter_mut().zip(row).for_each(|(s, r)| *s += r);
        }
        rank_scores(&scores, &q.exclude, q.target, &mut acc, &mut order);
    }
    Some(acc.finish())
}
