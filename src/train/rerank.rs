//! The trainer's side of the second stage ([`crate::rerank`]): item-item neighbours (EASE up to
//! [`EASE_MAX_ITEMS`] items, cosine kNN above), the scorer fitted on validation targets, the
//! baselines that share its item-item models (plain and recency-weighted EASE, tuned item-kNN), and
//! the two-stage evaluation.
//!
//! Leakage rules: a model scored on a split's targets is fitted on the items each user had before
//! that split's target (the validation cut for validation, the test cut for test). The scorer is
//! fitted on validation targets with neighbours of the validation cut, then applied unchanged with
//! neighbours refitted at the test cut; the export ships the test-cut neighbours (the model that
//! was evaluated).

use rayon::prelude::*;

use super::data::Dataset;
use super::eval::{query_vectors, rank_scores, EvalQuery, Metrics, MetricsAcc, Split};
use crate::catalog::Catalog;
use crate::model::UserModel;
use crate::rank::TopK;
use crate::rerank::{Candidate, Neighbours, RankingStage, Scorer, Scratch, StageConfig, StageInput, NUM_FEATURES};

/// Largest catalog for which the trainer solves EASE's dense item-item system by default (memory
/// `12 · items²` bytes, time `2 · items³` flops: 4,199 items take 17 s per solve on the 2-core
/// development machine, 6,000 about 50 s, and four solves are made); larger catalogs use cosine
/// item-kNN neighbours, whose cost grows with the interactions, not with items².
pub const EASE_MAX_ITEMS: usize = 6_000;

/// Per user, the items known before the split's target, oldest first.
pub fn known_sets(ds: &Dataset, split: Split) -> Vec<Vec<u32>> {
    ds.users
        .iter()
        .map(|u| {
            let j = match split {
                Split::Valid => u.valid_index(),
                Split::Test => u.test_index(),
            };
            u.known_before(j)
        })
        .collect()
}

/// `ln(1 + users who had the item)`.
pub fn popularity(sets: &[Vec<u32>], n: usize) -> Vec<f32> {
    let mut c = vec![0f32; n];
    for s in sets {
        for &i in s {
            c[i as usize] += 1.0;
        }
    }
    c.iter().map(|x| x.ln_1p()).collect()
}

/// The Gram matrix `XᵀX` (co-occurrence counts, `n × n`, f64).
fn gram(sets: &[Vec<u32>], n: usize) -> Vec<f64> {
    let mut g = vec![0f64; n * n];
    for s in sets {
        for &a in s {
            let row = &mut g[a as usize * n..(a as usize + 1) * n];
            for &b in s {
                row[b as usize] += 1.0;
            }
        }
    }
    g
}

/// In-place inverse of a symmetric positive-definite `n × n` matrix by block Gauss-Jordan (the
/// sweep operator; no pivoting is needed for SPD matrices). Rows are updated in parallel.
fn invert_spd(a: &mut [f64], n: usize) {
    const B: usize = 64;
    let mut k0 = 0;
    while k0 < n {
        let k1 = (k0 + B).min(n);
        let b = k1 - k0;
        // 1. Invert the diagonal block (plain Gauss-Jordan on b × b).
        let mut p = vec![0f64; b * b];
        for i in 0..b {
            p[i * b..(i + 1) * b].copy_from_slice(&a[(k0 + i) * n + k0..(k0 + i) * n + k1]);
        }
        for k in 0..b {
            let piv = p[k * b + k];
            for j in 0..b {
                p[k * b + j] /= piv;
            }
            p[k * b + k] = 1.0 / piv;
            for i in 0..b {
                if i != k {
                    let f = p[i * b + k];
                    p[i * b + k] = 0.0;
                    for j in 0..b {
                        p[i * b + j] -= f * p[k * b + j];
                    }
                }
            }
        }
        // 2. The pivot rows: A_KJ <- P A_KJ (J: every column outside K), A_KK <- P.
        let mut rows = vec![0f64; b * n];
        for i in 0..b {
            for k in 0..b {
                let f = p[i * b + k];
                let src = &a[(k0 + k) * n..(k0 + k + 1) * n];
                let dst = &mut rows[i * n..(i + 1) * n];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += f * s;
                }
            }
            rows[i * n + k0..i * n + k1].copy_from_slice(&p[i * b..(i + 1) * b]);
        }
        // 3. Every other row: A_iJ -= A_iK (P A_KJ), A_iK <- -A_iK P.
        a.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            if (k0..k1).contains(&i) {
                row.copy_from_slice(&rows[(i - k0) * n..(i - k0 + 1) * n]);
                return;
            }
            let aik: Vec<f64> = row[k0..k1].to_vec();
            for (k, &f) in aik.iter().enumerate() {
                if f != 0.0 {
                    let src = &rows[k * n..(k + 1) * n];
                    for (d, s) in row.iter_mut().zip(src) {
                        *d -= f * s;
                    }
                }
            }
            for j in 0..b {
                row[k0 + j] = -(0..b).map(|k| aik[k] * p[k * b + j]).sum::<f64>();
            }
        });
        k0 = k1;
    }
}

/// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): `B = I - P / diag(P)`
/// with `P = (XᵀX + λI)⁻¹`, diagonal zero. Row `h` holds the weights of every item given `h`
/// (row-major f32, `n × n`).
pub fn ease(sets: &[Vec<u32>], n: usize, lambda: f64) -> Vec<f32> {
    let mut g = gram(sets, n);
    for i in 0..n {
        g[i * n + i] += lambda;
    }
    invert_spd(&mut g, n);
    let diag: Vec<f64> = (0..n).map(|j| g[j * n + j]).collect();
    let mut b = vec![0f32; n * n];
    b.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for j in 0..n {
            row[j] = if i == j { 0.0 } else { (-g[i * n + j] / diag[j]) as f32 };
        }
    });
    b
}

/// The mean of the Gram matrix's diagonal (interactions per item): the scale of EASE's λ.
pub fn mean_item_count(sets: &[Vec<u32>], n: usize) -> f64 {
    sets.iter().map(|s| s.len()).sum::<usize>() as f64 / n.max(1) as f64
}

/// Keeps each row's `m` largest positive weights.
pub fn prune_dense(b: &[f32], n: usize, m: usize) -> Vec<Vec<(u32, f32)>> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let row = &b[i * n..(i + 1) * n];
            let mut idx: Vec<u32> = (0..n as u32).filter(|&j| j as usize != i && row[j as usize] > 0.0).collect();
            let by = |x: &u32, y: &u32| row[*y as usize].total_cmp(&row[*x as usize]).then(x.cmp(y));
            if idx.len() > m {
                idx.select_nth_unstable_by(m - 1, by);
                idx.truncate(m);
            }
            idx.sort_by(by);
            idx.into_iter().map(|j| (j, row[j as usize])).collect()
        })
        .collect()
}

/// Cosine item-kNN over co-occurrence (sparse, for any catalog size): each item's `m` most
/// similar items, `co(a, b) / sqrt(n_a · n_b)`.
pub fn cosine_knn(sets: &[Vec<u32>], n: usize, m: usize) -> Vec<Vec<(u32, f32)>> {
    let mut users_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (u, s) in sets.iter().enumerate() {
        for &i in s {
            users_of[i as usize].push(u as u32);
        }
    }
    let count: Vec<f32> = users_of.iter().map(|u| u.len() as f32).collect();
    (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n], Vec::<u32>::new()),
            |(co, touched), a| {
                for &u in &users_of[a] {
                    for &b in &sets[u as usize] {
                        if b as usize != a {
                            if co[b as usize] == 0.0 {
                                touched.push(b);
                            }
                            co[b as usize] += 1.0;
                        }
                    }
                }
                let mut out: Vec<(u32, f32)> =
                    touched.iter().map(|&b| (b, co[b as usize] / (count[a] * count[b as usize]).sqrt())).collect();
                for &b in touched.iter() {
                    co[b as usize] = 0.0;
                }
                touched.clear();
                let by = |x: &(u32, f32), y: &(u32, f32)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
                if out.len() > m {
                    out.select_nth_unstable_by(m - 1, by);
                    out.truncate(m);
                }
                out.sort_by(by);
                out
            },
        )
        .collect()
}

/// How an item-item model scores a history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// Every known item counts 1.
    Plain,
    /// `0.97^age` (distinct items, newest 0) plus 1 within the newest session (the stage's
    /// `recent` feature).
    Recency,
}

fn history_weights(q: &EvalQuery, w: Weighting, cfg: &StageConfig) -> Vec<(u32, f32)> {
    match w {
        Weighting::Plain => q.exclude.iter().map(|&i| (i, 1.0)).collect(),
        Weighting::Recency => crate::rerank::history_items(&q.events, usize::MAX, cfg.session_seconds as f64)
            .iter()
            .map(|h| (h.item, 0.97f32.powi(h.age as i32) + if h.session { 1.0 } else { 0.0 }))
            .collect(),
    }
}

/// Scores every query over all `n` items: `add(h, weight, scores)` adds history item `h`'s row.
fn evaluate_item_item(
    n: usize,
    queries: &[EvalQuery],
    w: Weighting,
    cfg: &StageConfig,
    add: impl Fn(u32, f32, &mut [f32]),
) -> Metrics {
    let mut acc = MetricsAcc::new(n);
    let mut scores = vec![0f32; n];
    let mut order = Vec::new();
    for q in queries {
        scores.iter_mut().for_each(|s| *s = 0.0);
        for (h, wt) in history_weights(q, w, cfg) {
            add(h, wt, &mut scores);
        }
        rank_scores(&scores, &q.exclude, q.target, &mut acc, &mut order);
    }
    acc.finish()
}

/// A dense item-item model (`n × n`, row = history item) scored over every item.
pub fn evaluate_dense(b: &[f32], n: usize, queries: &[EvalQuery], w: Weighting, cfg: &StageConfig) -> Metrics {
    evaluate_item_item(n, queries, w, cfg, |h, wt, scores| {
        let row = &b[h as usize * n..(h as usize + 1) * n];
        scores.iter_mut().zip(row).for_each(|(s, r)| *s += wt * r);
    })
}

/// A sparse item-item model scored over every item (unreached items score 0).
pub fn evaluate_sparse(rows: &[Vec<(u32, f32)>], queries: &[EvalQuery], w: Weighting, cfg: &StageConfig) -> Metrics {
    evaluate_item_item(rows.len(), queries, w, cfg, |h, wt, scores| {
        for &(c, b) in &rows[h as usize] {
            scores[c as usize] += wt * b;
        }
    })
}

/// The item-item model of one cut: EASE (dense, pruned to `m` per item) or cosine kNN.
pub struct ItemItem {
    pub rows: Vec<Vec<(u32, f32)>>,
    /// The dense EASE matrix when it was solved (for the baselines).
    pub dense: Option<Vec<f32>>,
    pub lambda: Option<f64>,
}

/// Fits the item-item model of a cut.
pub fn fit_item_item(sets: &[Vec<u32>], n: usize, lambda: Option<f64>, m: usize) -> ItemItem {
    match lambda {
        Some(l) => {
            let b = ease(sets, n, l);
            ItemItem { rows: prune_dense(&b, n, m), dense: Some(b), lambda: Some(l) }
        }
        _ => ItemItem { rows: cosine_knn(sets, n, m), dense: None, lambda: None },
    }
}

/// Settings of the second stage's training.
#[derive(Debug, Clone)]
pub struct StageTrainConfig {
    pub stage: StageConfig,
    /// Neighbours kept per item.
    pub neighbours: usize,
    /// EASE's λ as multiples of the mean item count, tried on validation (first is used alone
    /// when `choose` is off).
    pub lambda_grid: Vec<f64>,
    /// Which item-item model: EASE up to [`EASE_MAX_ITEMS`] and cosine above (`None`), or forced.
    pub ease: Option<bool>,
    /// Hidden widths tried on validation (0: linear).
    pub hidden_grid: Vec<usize>,
    pub epochs: usize,
    pub seed: u64,
}

impl Default for StageTrainConfig {
    fn default() -> Self {
        StageTrainConfig {
            stage: StageConfig::default(),
            neighbours: 32,
            lambda_grid: vec![0.5, 2.0, 8.0],
            ease: None,
            hidden_grid: vec![0, 16],
            epochs: 30,
            seed: 11,
        }
    }
}

/// One query's candidates and the target's position among them.
pub struct QueryFeatures {
    pub candidates: Vec<Candidate>,
    pub label: Option<usize>,
}

/// Candidates and features of every query, with a ranker's neighbours and settings.
pub fn query_features(
    ranker: &RankingStage,
    catalog: &Catalog,
    queries: &[EvalQuery],
    vectors: &[f32],
) -> Vec<QueryFeatures> {
    let dim = catalog.dim();
    queries
        .par_iter()
        .enumerate()
        .map_init(
            || (Scratch::default(), TopK::new()),
            |(scratch, topk), (i, q)| {
                let mut candidates = Vec::new();
                let input = StageInput {
                    catalog,
                    embedding: &vectors[i * dim..(i + 1) * dim],
                    events: &q.events,
                    exclude: &q.exclude,
                    categories: None,
                    min_tower: 0,
                };
                ranker.candidates(scratch, topk, &input, &mut candidates).expect("valid query");
                let label = candidates.iter().position(|c| c.row == q.target);
                QueryFeatures { candidates, label }
            },
        )
        .collect()
}

/// Metrics of a scorer over precomputed candidates (the same order `RankingStage::rank` produces).
pub fn evaluate_features(scorer: &Scorer, feats: &[QueryFeatures], queries: &[EvalQuery], n: usize) -> Metrics {
    let mut acc = MetricsAcc::new(n);
    for (f, q) in feats.iter().zip(queries) {
        let mut scored: Vec<(f32, u32)> = f.candidates.iter().map(|c| (scorer.score(&c.features), c.row)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let ranked: Vec<u32> = scored.iter().take(50).map(|s| s.1).collect();
        acc.add(&ranked, q.target);
    }
    acc.finish()
}

/// Fits a scorer by softmax cross-entropy over each query's candidates (the target against the
/// rest), Adam, mini-batches of 64 queries, L2 1e-4. Features in `mask` are switched off (their
/// scale is 0), for the ablation.
pub fn fit_scorer(
    feats: &[&QueryFeatures],
    hidden: usize,
    epochs: usize,
    seed: u64,
    mask: &[bool; NUM_FEATURES],
) -> Scorer {
    // Standardisation over every candidate.
    let mut mean = [0f64; NUM_FEATURES];
    let mut sq = [0f64; NUM_FEATURES];
    let mut count = 0f64;
    for f in feats {
        for c in &f.candidates {
            for k in 0..NUM_FEATURES {
                mean[k] += c.features[k] as f64;
                sq[k] += (c.features[k] as f64).powi(2);
            }
            count += 1.0;
        }
    }
    let count = count.max(1.0);
    let mut scorer = Scorer {
        mean: (0..NUM_FEATURES).map(|k| (mean[k] / count) as f32).collect(),
        scale: (0..NUM_FEATURES)
            .map(|k| {
                let var = sq[k] / count - (mean[k] / count).powi(2);
                if mask[k] || var <= 1e-12 {
                    0.0
                } else {
                    (1.0 / var.sqrt()) as f32
                }
            })
            .collect(),
        linear: vec![0.0; NUM_FEATURES],
        hidden,
        w1: vec![0.0; hidden * NUM_FEATURES],
        b1: vec![0.0; hidden],
        w2: vec![0.0; hidden],
    };
    let mut rng = crate::rng::Rng::new(seed);
    for w in scorer.w1.iter_mut() {
        *w = (rng.next_f32() * 2.0 - 1.0) * (1.0 / (NUM_FEATURES as f32).sqrt());
    }
    for w in scorer.w2.iter_mut() {
        *w = (rng.next_f32() * 2.0 - 1.0) * 0.1;
    }
    let labelled: Vec<&QueryFeatures> = feats.iter().copied().filter(|f| f.label.is_some()).collect();
    let n_params = NUM_FEATURES + hidden * NUM_FEATURES + 2 * hidden;
    let mut m1 = vec![0f32; n_params];
    let mut m2 = vec![0f32; n_params];
    let (lr, b1, b2, eps, l2) = (0.01f32, 0.9f32, 0.999f32, 1e-8f32, 1e-4f32);
    let mut step = 0i32;
    let mut order: Vec<usize> = (0..labelled.len()).collect();
    for _ in 0..epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for batch in order.chunks(64) {
            // Per-query gradients in parallel, summed in order: the same sums on any thread count.
            let per_query: Vec<Vec<f32>> = batch.par_iter().map(|&qi| query_gradient(&scorer, labelled[qi])).collect();
            let mut grads = vec![0f32; n_params];
            for g in &per_query {
                grads.iter_mut().zip(g).for_each(|(x, y)| *x += y);
            }
            step += 1;
            let scale = 1.0 / batch.len() as f32;
            let params = params_mut(&mut scorer);
            for (i, p) in params.into_iter().enumerate() {
                let g = grads[i] * scale + l2 * *p;
                m1[i] = b1 * m1[i] + (1.0 - b1) * g;
                m2[i] = b2 * m2[i] + (1.0 - b2) * g * g;
                let mh = m1[i] / (1.0 - b1.powi(step));
                let vh = m2[i] / (1.0 - b2.powi(step));
                *p -= lr * mh / (vh.sqrt() + eps);
            }
        }
    }
    scorer
}

fn params_mut(s: &mut Scorer) -> Vec<&mut f32> {
    s.linear.iter_mut().chain(s.w1.iter_mut()).chain(s.b1.iter_mut()).chain(s.w2.iter_mut()).collect()
}

/// Gradient of one query's softmax cross-entropy (parameters in `params_mut` order).
fn query_gradient(s: &Scorer, f: &QueryFeatures) -> Vec<f32> {
    let h = s.hidden;
    let label = f.label.expect("labelled");
    let zs: Vec<[f32; NUM_FEATURES]> = f.candidates.iter().map(|c| s.standardise(&c.features)).collect();
    let mut acts = vec![0f32; zs.len() * h];
    let scores: Vec<f32> = zs
        .iter()
        .enumerate()
        .map(|(ci, z)| {
            let mut v: f32 = z.iter().zip(&s.linear).map(|(a, b)| a * b).sum();
            for j in 0..h {
                let a = s.w1[j * NUM_FEATURES..(j + 1) * NUM_FEATURES].iter().zip(z).map(|(a, b)| a * b).sum::<f32>()
                    + s.b1[j];
                if a > 0.0 {
                    acts[ci * h + j] = a;
                    v += s.w2[j] * a;
                }
            }
            v
        })
        .collect();
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    let mut g = vec![0f32; NUM_FEATURES + h * NUM_FEATURES + 2 * h];
    for (ci, z) in zs.iter().enumerate() {
        let d = exps[ci] / total - if ci == label { 1.0 } else { 0.0 };
        if d == 0.0 {
            continue;
        }
        for k in 0..NUM_FEATURES {
            g[k] += d * z[k];
        }
        for j in 0..h {
            let a = acts[ci * h + j];
            if a > 0.0 {
                let dj = d * s.w2[j];
                let base = NUM_FEATURES + j * NUM_FEATURES;
                for k in 0..NUM_FEATURES {
                    g[base + k] += dj * z[k];
                }
                g[NUM_FEATURES + h * NUM_FEATURES + j] += dj;
                g[NUM_FEATURES + h * NUM_FEATURES + h + j] += d * a;
            }
        }
    }
    g
}

/// Everything the second stage's training measured, for the evaluation table.
pub struct StageReport {
    pub ranker: RankingStage,
    pub hidden: usize,
    pub lambda: Option<f64>,
    /// Validation Recall@10 of the recency-weighted item-item model per λ tried.
    pub lambda_trials: Vec<(f64, f64)>,
    /// Held-out validation Recall@10 per hidden width tried.
    pub hidden_trials: Vec<(usize, f64)>,
    /// The share of test targets among the candidates.
    pub test_candidate_recall: f64,
    pub rows: Vec<(String, Metrics, Metrics)>,
    pub seconds: f64,
}

/// Fits the second stage and evaluates it, with the baselines it shares its models with. `rows`:
/// (name, validation metrics, test metrics).
pub fn train_stage(
    ds: &Dataset,
    model: &UserModel,
    catalog: &Catalog,
    valid_q: &[EvalQuery],
    test_q: &[EvalQuery],
    cfg: &StageTrainConfig,
    ablation: bool,
) -> StageReport {
    let t0 = std::time::Instant::now();
    let n = ds.item_ids.len();
    let stage = cfg.stage;
    let valid_sets = known_sets(ds, Split::Valid);
    let test_sets = known_sets(ds, Split::Test);
    let scale = mean_item_count(&valid_sets, n);
    let mut rows = Vec::new();
    // λ on validation: the recency-weighted dense model's Recall@10.
    let mut lambda_trials = Vec::new();
    let mut valid_model: Option<ItemItem> = None;
    if cfg.ease.unwrap_or(n <= EASE_MAX_ITEMS) {
        for &mult in &cfg.lambda_grid {
            let l = (mult * scale).max(1.0);
            let fit = fit_item_item(&valid_sets, n, Some(l), cfg.neighbours);
            let r = evaluate_dense(fit.dense.as_ref().expect("dense"), n, valid_q, Weighting::Recency, &stage).recall10;
            eprintln!("  EASE λ = {l:.1} ({mult} × mean item count): validation Recall@10 {r:.4} (recency-weighted)");
            let better = lambda_trials.iter().all(|&(_, best): &(f64, f64)| r > best);
            lambda_trials.push((l, r));
            if better {
                valid_model = Some(fit);
            }
        }
    }
    let valid_model = valid_model.unwrap_or_else(|| fit_item_item(&valid_sets, n, None, cfg.neighbours));
    let lambda = valid_model.lambda;
    let test_model = fit_item_item(&test_sets, n, lambda, cfg.neighbours);
    eprintln!("  item-item models fitted in {:.0} s", t0.elapsed().as_secs_f64());
    // Baselines on the same split: plain and recency-weighted EASE (dense), tuned item-kNN.
    if let (Some(vd), Some(td)) = (&valid_model.dense, &test_model.dense) {
        for (name, w) in [("EASE", Weighting::Plain), ("EASE, recency-weighted history", Weighting::Recency)] {
            rows.push((
                format!("{name} (λ {:.0})", lambda.unwrap_or(0.0)),
                evaluate_dense(vd, n, valid_q, w, &stage),
                evaluate_dense(td, n, test_q, w, &stage),
            ));
        }
    }
    let mut best_k = (0, -1.0);
    for k in [2, 3, 5, 10, 20, 50, 100] {
        let r = evaluate_sparse(&cosine_knn(&valid_sets, n, k), valid_q, Weighting::Plain, &stage).recall10;
        if r > best_k.1 {
            best_k = (k, r);
        }
    }
    let knn_valid = evaluate_sparse(&cosine_knn(&valid_sets, n, best_k.0), valid_q, Weighting::Plain, &stage);
    let knn_test = evaluate_sparse(&cosine_knn(&test_sets, n, best_k.0), test_q, Weighting::Plain, &stage);
    rows.push((format!("item-kNN (cosine, {} neighbours chosen on validation)", best_k.0), knn_valid, knn_test));
    eprintln!("  baselines evaluated at {:.0} s", t0.elapsed().as_secs_f64());
    rows.push((
        format!("item-item neighbours as shipped ({} per item), recency-weighted", cfg.neighbours),
        evaluate_sparse(&valid_model.rows, valid_q, Weighting::Recency, &stage),
        evaluate_sparse(&test_model.rows, test_q, Weighting::Recency, &stage),
    ));

    // Candidates and features at each cut.
    let placeholder = Scorer::linear([0.0; NUM_FEATURES]);
    let valid_ranker = RankingStage {
        config: stage,
        scorer: placeholder.clone(),
        popularity: popularity(&valid_sets, n),
        neighbours: Neighbours::from_rows(&valid_model.rows).expect("valid neighbours"),
        check: None,
    };
    let mut test_ranker = RankingStage {
        config: stage,
        scorer: placeholder,
        popularity: popularity(&test_sets, n),
        neighbours: Neighbours::from_rows(&test_model.rows).expect("valid neighbours"),
        check: None,
    };
    let valid_vectors = query_vectors(model, catalog, valid_q);
    let test_vectors = query_vectors(model, catalog, test_q);
    let valid_feats = query_features(&valid_ranker, catalog, valid_q, &valid_vectors);
    let test_feats = query_features(&test_ranker, catalog, test_q, &test_vectors);
    eprintln!("  candidates and features at {:.0} s", t0.elapsed().as_secs_f64());
    let test_candidate_recall =
        test_feats.iter().filter(|f| f.label.is_some()).count() as f64 / test_feats.len().max(1) as f64;
    // Capacity on validation: fit on 80% of the users, compare on the other 20%.
    let none = [false; NUM_FEATURES];
    let (fit_part, held): (Vec<usize>, Vec<usize>) = (0..valid_feats.len()).partition(|i| i % 5 != 4);
    let part = |idx: &[usize]| idx.iter().map(|&i| &valid_feats[i]).collect::<Vec<_>>();
    let held_q: Vec<EvalQuery> = held.iter().map(|&i| valid_q[i].clone()).collect();
    let held_f: Vec<QueryFeatures> = held
        .iter()
        .map(|&i| QueryFeatures { candidates: valid_feats[i].candidates.clone(), label: valid_feats[i].label })
        .collect();
    let mut hidden_trials = Vec::new();
    for &h in &cfg.hidden_grid {
        let s = fit_scorer(&part(&fit_part), h, cfg.epochs, cfg.seed, &none);
        let r = evaluate_features(&s, &held_f, &held_q, n).recall10;
        eprintln!("  ranker with {h} hidden units: held-out validation Recall@10 {r:.4}");
        hidden_trials.push((h, r));
    }
    let hidden = hidden_trials.iter().fold((0, -1.0), |b, &(h, r)| if r > b.1 { (h, r) } else { b }).0;
    let all: Vec<&QueryFeatures> = valid_feats.iter().collect();
    let scorer = fit_scorer(&all, hidden, cfg.epochs, cfg.seed, &none);
    rows.push((
        "two-stage: tower + item-item ranker".into(),
        evaluate_features(&scorer, &valid_feats, valid_q, n),
        evaluate_features(&scorer, &test_feats, test_q, n),
    ));
    if ablation {
        use crate::rerank::FEATURE_NAMES;
        let groups: [(&str, &[usize]); 5] = [
            ("without the tower's features", &[0, 1]),
            ("without item-item features", &[2, 3, 4, 5, 6, 7, 8]),
            ("item-item features only", &[0, 1, 9, 10]),
            ("without popularity", &[9]),
            ("without category share", &[10]),
        ];
        for (name, off) in groups {
            let mut mask = [false; NUM_FEATURES];
            off.iter().for_each(|&k| mask[k] = true);
            let s = fit_scorer(&all, hidden, cfg.epochs, cfg.seed, &mask);
            let names: Vec<&str> = off.iter().map(|&k| FEATURE_NAMES[k]).collect();
            rows.push((
                format!("  ablation: {name} (off: {})", names.join(", ")),
                evaluate_features(&s, &valid_feats, valid_q, n),
                evaluate_features(&s, &test_feats, test_q, n),
            ));
        }
        // Tower candidates only: drop the item-item source.
        let only_tower = |f: &[QueryFeatures]| -> Vec<QueryFeatures> {
            f.iter()
                .map(|q| {
                    let candidates: Vec<Candidate> =
                        q.candidates.iter().copied().filter(|c| c.features[1] > 0.0).collect();
                    let label = q.label.and_then(|l| candidates.iter().position(|c| c.row == q.candidates[l].row));
                    QueryFeatures { candidates, label }
                })
                .collect()
        };
        let (vt, tt) = (only_tower(&valid_feats), only_tower(&test_feats));
        let s = fit_scorer(&vt.iter().collect::<Vec<_>>(), hidden, cfg.epochs, cfg.seed, &none);
        rows.push((
            "  ablation: tower candidates only (no item-item source)".into(),
            evaluate_features(&s, &vt, valid_q, n),
            evaluate_features(&s, &tt, test_q, n),
        ));
    }
    test_ranker.scorer = scorer;
    StageReport {
        ranker: test_ranker,
        hidden,
        lambda,
        lambda_trials,
        hidden_trials,
        test_candidate_recall,
        rows,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_sweep_inverts_an_spd_matrix() {
        // n not a multiple of the block, so the last block is partial.
        let n = 150;
        let mut rng = crate::rng::Rng::new(5);
        let sets: Vec<Vec<u32>> = (0..400)
            .map(|_| {
                (0..12)
                    .map(|_| rng.below(n as u64) as u32)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .collect();
        let mut g = gram(&sets, n);
        for i in 0..n {
            g[i * n + i] += 3.0;
        }
        let mut inv = g.clone();
        invert_spd(&mut inv, n);
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| g[i * n + k] * inv[k * n + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "({i}, {j}): {v}");
            }
        }
    }

    #[test]
    fn pruning_keeps_the_largest_positive_weights() {
        let b = vec![0.0, 0.5, -1.0, 0.2, 0.0, 0.9, 0.3, 0.3, 0.0f32];
        let rows = prune_dense(&b, 3, 1);
        assert_eq!(rows, vec![vec![(1, 0.5)], vec![(2, 0.9)], vec![(0, 0.3)]]);
        let knn = cosine_knn(&[vec![0, 1], vec![0, 1, 2], vec![2]], 3, 5);
        assert_eq!(knn[0], vec![(1, 1.0), (2, 0.5)]);
        assert_eq!(knn[2], vec![(0, 0.5), (1, 0.5)]);
    }
}
