//! Training: both towers together, in-batch sampled softmax with popularity (logQ) correction,
//! Adam, the learning rate halved after each epoch that does not improve validation Recall@10,
//! early stopping on it.
//!
//! Each training example is one target (a counted occurrence) and its visible history
//! ([`super::data::UserEvents::visible_before`]), encoded by
//! [`crate::model::encode_history`], exactly as the browser will. The item table is recomputed by
//! the item tower for every batch, so the user tower always reads the vectors it will read once
//! exported.
//!
//! Loss, for a batch of B (user, target) pairs: logits `s_ij = <u_i, v_j> / τ − α·log q_j` over the
//! batch's targets j (plus optional uniformly sampled items), where `q_j` is the target's share
//! of training targets (an item seen more often as an in-batch negative is corrected for it,
//! Yi et al. 2019, "Sampling-bias-corrected neural modeling"); cross-entropy on the diagonal;
//! other columns holding the same item as row i's target are masked out.
//!
//! The item tower's id vectors start from a co-occurrence embedding ([`super::warm`]) unless
//! `warm_start` is off; a second thread prepares the next batches (and their [`StepPlan`]) while
//! this one runs the step. The item side of a step (item vectors, the user tower's slot inputs,
//! their gradients) runs outside Burn's autodiff ([`super::step`]); Burn differentiates the user
//! tower from its inputs and the loss.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use super::data::Dataset;
use super::eval::{evaluate_model, history_window, queries, sample_queries, EvalQuery, Metrics, Split};
use super::sparse::SparseTable;
use super::step::{SlotTables, StepPlan};
use crate::catalog::Catalog;
use crate::model::features::title_tokens;
use crate::model::item_tower::ItemFeatures;
use crate::model::{
    encode_history_into, tensor_to_vec, EncodeScratch, EncodedHistory, HistoryBatch, ItemTower, ItemTowerConfig,
    TowerFile, UserModel, UserTower, UserTowerConfig, TOWER_FORMAT, TOWER_VERSION,
};
use crate::rng::Rng;

/// Everything that decides a training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub dim: usize,
    pub heads: usize,
    pub attention_hidden: usize,
    pub hidden: usize,
    /// Per-head gates instead of the dense skip matrix (for wide item vectors).
    pub diagonal_skip: bool,
    pub max_len: usize,
    /// Distinct items in the memory vector (0 = none) and their decay.
    pub memory: usize,
    pub memory_decay: f32,
    pub token_buckets: usize,
    pub max_tokens: usize,
    pub batch: usize,
    pub lr: f64,
    pub epochs: usize,
    /// Epochs without a better validation Recall@10 before stopping.
    pub patience: usize,
    /// The learning rate is multiplied by this after every epoch that does not improve validation
    /// Recall@10 (1 = constant).
    pub plateau_decay: f64,
    /// Each example's loss weighs `n_u^-β` (`n_u`: the user's training targets), rescaled to a mean
    /// of 1: the evaluation counts every user once, training counts every pair, so without it the
    /// heaviest users dominate the loss. 0 = every pair alike.
    pub user_weight: f32,
    /// Start the id vectors from the co-occurrence embedding of [`super::warm`] (title-token and
    /// category vectors then start at a tenth of their default scale).
    pub warm_start: bool,
    /// Train the item vectors through the memory too; without, the memory's weighted sum is a
    /// constant for each step (no gradient reaches the items through it).
    pub memory_grad: bool,
    /// Ship the tower with its weights rounded to IEEE half precision (half the bytes of
    /// `tower.bin`); everything after training (the evaluation, the ranking stage, the export and
    /// its self-check) runs on the rounded tower, and [`Trained::full_precision`] keeps the other.
    pub tower_f16: bool,
    /// Co-occurrence window of the warm start in training pairs (0 = the whole history).
    pub warm_window: usize,
    pub temperature: f32,
    /// Strength α of the logQ correction (1 = the full correction).
    pub logq: f32,
    /// Extra negatives per batch drawn uniformly from the catalog (0 = in-batch only).
    pub uniform_negatives: usize,
    pub seed: u64,
    /// Training budget: no epoch starts that would end past it (judged by the last epoch's time).
    pub max_minutes: f64,
    /// Show the progress bar on stderr (the per-epoch summary is always printed).
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            // 384 dimensions: on Online Retail II, the rank of the item space caps Recall@10 (a
            // rank-256 truncation of EASE reaches 0.288 on validation, rank 512 0.313;
            // docs/model-research.md, "What each change bought"). Two heads, narrow attention (24)
            // and MLP (16), and gates instead of a dense skip keep the tower at 64k parameters
            // (251 KiB).
            dim: 384,
            heads: 2,
            attention_hidden: 24,
            hidden: 16,
            diagonal_skip: true,
            // 20 newest items: epochs twice as fast as with 50, better validation Recall@10 in the budget.
            max_len: 20,
            // The memory: a decayed mean of the 200 newest distinct items (docs/model-research.md,
            // "What each change bought": 200 at 0.98 beat 100 at 0.97 and 400 at 0.99 on validation).
            memory: 200,
            memory_decay: 0.98,
            token_buckets: 16384,
            max_tokens: 8,
            batch: 512,
            // Chosen on Online Retail II validation Recall@10 (docs/model-research.md, "What each
            // change bought").
            lr: 1e-2,
            epochs: 30,
            patience: 3,
            plateau_decay: 0.5,
            user_weight: 0.0,
            // The co-occurrence warm start within windows of 30 pairs (docs/model-research.md,
            // "What each change bought": 0.2566 -> 0.2590 after one epoch, 0.2613 -> 0.2758 after two).
            warm_start: true,
            warm_window: 30,
            memory_grad: true,
            // The first visit downloads half the tower's bytes; measured against the f32 tower in
            // the trainer's own table (docs/model.md, "Half-precision tower").
            tower_f16: true,
            // Chosen on Online Retail II validation Recall@10 among 0.05, 0.07, 0.1, 0.15 and 0.2
            // (docs/model-research.md, "What each change bought").
            temperature: 0.1,
            logq: 0.5,
            uniform_negatives: 0,
            seed: 7,
            max_minutes: 18.0,
            progress: true,
        }
    }
}

impl TrainConfig {
    pub fn tower_config(&self) -> UserTowerConfig {
        UserTowerConfig::new(self.dim)
            .with_heads(self.heads)
            .with_attention_hidden(self.attention_hidden)
            .with_hidden(self.hidden)
            .with_max_len(self.max_len)
            .with_diagonal_skip(self.diagonal_skip)
            .with_memory(self.memory)
            .with_memory_decay(self.memory_decay)
    }
}

/// One epoch's log line.
#[derive(Debug, Clone)]
pub struct EpochLog {
    pub epoch: usize,
    pub loss: f64,
    pub valid: Metrics,
    pub seconds: f64,
}

/// A trained model: the best epoch on validation.
pub struct Trained {
    pub tower_config: UserTowerConfig,
    /// The tower as shipped (rounded to half precision with [`TrainConfig::tower_f16`]).
    pub user: UserTower,
    /// The tower before that rounding, for the comparison in the trainer's table.
    pub full_precision: Option<UserTower>,
    /// `items × dim` unit item vectors, row i = dataset item i.
    pub item_table: Vec<f32>,
    pub best_epoch: usize,
    pub log: Vec<EpochLog>,
    pub seconds: f64,
}

impl Trained {
    /// The f32 item catalog (ids and categories of the dataset).
    pub fn catalog(&self, ds: &Dataset) -> Catalog {
        Catalog::from_f32(&ds.item_ids, self.tower_config.dim, self.item_table.clone(), ds.categories.clone())
            .expect("trained item table is a valid catalog")
    }

    /// An inference model over the trained tower (no self-check).
    pub fn user_model(&self) -> UserModel {
        self.user_model_of(&self.user)
    }

    /// An inference model over `tower` (this training's, e.g. [`Self::full_precision`]).
    pub fn user_model_of(&self, tower: &UserTower) -> UserModel {
        let file = TowerFile {
            format: TOWER_FORMAT.into(),
            version: TOWER_VERSION,
            config: self.tower_config.clone(),
            check: None,
        };
        UserModel::from_tower(file, tower)
    }
}

/// The item tower's inputs for a dataset.
pub fn item_features(ds: &Dataset, cfg: &TrainConfig) -> ItemFeatures {
    let tokens: Vec<Vec<u32>> =
        ds.titles.iter().map(|t| title_tokens(t, cfg.token_buckets as u32, cfg.max_tokens)).collect();
    ItemFeatures::new(&tokens, ds.categories.as_deref(), cfg.max_tokens)
}

fn item_tower_config(ds: &Dataset, cfg: &TrainConfig, features: &ItemFeatures) -> ItemTowerConfig {
    ItemTowerConfig::new(ds.item_ids.len(), cfg.dim)
        .with_token_rows(features.token_rows)
        .with_categories(ds.category_names.len())
        .with_max_tokens(cfg.max_tokens)
}

struct Progress {
    enabled: bool,
    tty: bool,
    last_pct: usize,
}

impl Progress {
    #[allow(clippy::too_many_arguments)] // one progress line's fields
    fn update(&mut self, epoch: usize, epochs: usize, done: usize, total: usize, loss: f64, rate: f64, best: f64) {
        if !self.enabled {
            return;
        }
        let pct = done * 100 / total.max(1);
        if !self.tty && pct / 10 == self.last_pct / 10 && done != total {
            return;
        }
        self.last_pct = pct;
        let bar: String = (0..30).map(|i| if i * 100 < pct * 30 { '#' } else { '.' }).collect();
        let line = format!(
            "epoch {epoch:>2}/{epochs} [{bar}] {pct:>3}%  loss {loss:.4}  {rate:>6.0} ex/s  best valid R@10 {best:.4}"
        );
        if self.tty {
            eprint!("\r{line}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }
}

/// Trains on `ds` (see the module docs).
pub fn train(ds: &Dataset, cfg: &TrainConfig) -> Trained {
    let started = Instant::now();
    let device = Device::default().autodiff();
    device.seed(cfg.seed);
    let tower_config = cfg.tower_config();
    let history_config = tower_config.history();
    let window = history_window(&history_config);
    let features = item_features(ds, cfg);
    // The item tower first, then the user tower: the order of the seeded draws.
    let mut item = item_tower_config(ds, cfg, &features).init(&device);
    let mut user = tower_config.init(&device);
    if cfg.warm_start {
        let t = Instant::now();
        let ids = super::warm::cooccurrence_vectors(ds, cfg.dim, cfg.warm_window, cfg.seed);
        item = item.with_id_init(ids, 0.1, &device);
        eprintln!("warm start: co-occurrence embedding in {:.1} s", t.elapsed().as_secs_f64());
    }
    // The item tower's tables are trained sparsely ([`super::sparse`]); Burn's Adam trains the user tower.
    let mut tables = ItemTables::new(item);
    let mut optim = AdamConfig::new().init();

    let counts = ds.train_counts();
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    let log_q: Vec<f32> = counts.iter().map(|&c| ((c.max(1) as f64) / total).ln() as f32).collect();
    let mut examples: Vec<(u32, u32)> = Vec::new();
    for (u, ue) in ds.users.iter().enumerate() {
        examples.extend(ue.train_indices().iter().map(|&j| (u as u32, j)));
    }
    let user_weights = user_weights(ds, cfg.user_weight);
    let user_weights = &user_weights;
    let valid_queries = validation_sample(queries(ds, Split::Valid, &history_config), cfg.seed);
    let n_items = ds.item_ids.len();
    let mut rng = Rng::new(cfg.seed ^ 0x5eed);
    let mut progress = Progress { enabled: cfg.progress, tty: std::io::stderr().is_terminal(), last_pct: 0 };

    let mut best: Option<(f64, usize, UserTower, Vec<f32>)> = None;
    let mut log = Vec::new();
    let mut since_best = 0;
    let mut lr = cfg.lr;
    for epoch in 1..=cfg.epochs {
        let epoch_start = Instant::now();
        for i in (1..examples.len()).rev() {
            examples.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
        progress.last_pct = 0;
        let steps = examples.len().div_ceil(cfg.batch);
        let (mut prep_wait, mut prep_busy) = (0.0f64, 0.0f64);
        // The second core prepares the next batches (histories encoded, padded, the memory's
        // weight matrix) while this thread runs the step: the step alone keeps one core busy.
        let mut current = Some(user);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<PreparedBatch>(2);
            let examples = &examples;
            let features = &features;
            // Uniform negatives are drawn here, from the epoch's own stream.
            let mut negative_rng = Rng::new(cfg.seed ^ 0x6e65_6761 ^ (epoch as u64) << 32);
            let producer = scope.spawn(move || {
                let mut scratch = EncodeScratch::default();
                let mut busy = 0.0f64;
                for chunk in examples.chunks(cfg.batch) {
                    let started = Instant::now();
                    let histories: Vec<EncodedHistory> = chunk
                        .iter()
                        .map(|&(u, j)| {
                            let ue = &ds.users[u as usize];
                            let mut h = EncodedHistory::default();
                            encode_history_into(
                                &ue.visible_before(j as usize, window),
                                &history_config,
                                &mut h,
                                &mut scratch,
                            )
                            .expect("finite times");
                            h
                        })
                        .collect();
                    let batch = HistoryBatch::new(&histories);
                    let targets: Vec<u32> =
                        chunk.iter().map(|&(u, j)| ds.users[u as usize].events[j as usize].item).collect();
                    let negatives: Vec<u32> =
                        (0..cfg.uniform_negatives).map(|_| negative_rng.below(n_items as u64) as u32).collect();
                    let columns: Vec<u32> = targets.iter().chain(&negatives).copied().collect();
                    let plan = StepPlan::new(features, &batch, &columns);
                    let weights = chunk.iter().map(|&(u, _)| user_weights[u as usize]).collect();
                    busy += started.elapsed().as_secs_f64();
                    if tx.send(PreparedBatch { batch, plan, targets, negatives, weights }).is_err() {
                        break;
                    }
                }
                busy
            });
            let mut waited = Instant::now();
            for (step, prepared) in rx.iter().enumerate() {
                prep_wait += waited.elapsed().as_secs_f64();
                let user = current.take().expect("the user tower between steps");
                let (plan, batch) = (&prepared.plan, &prepared.batch);
                let vectors = plan.forward(&tables.id, &tables.token, &tables.category);
                let inputs = plan.inputs(&vectors);
                let (b, slots, d) = (batch.batch, batch.slots, cfg.dim);
                let leaf = |v: Vec<f32>, rows: usize| Tensor::<2>::from_data(TensorData::new(v, [rows, d]), &device);
                // The slots' inputs (items plus kind, recency and position rows), built here too.
                let slot_tables = user.slot_tables();
                let [kind, recency, position] = slot_tables.clone().map(|(_, t)| tensor_to_vec(t));
                let slot_rows = SlotTables { kind: &kind, recency: &recency, position: &position };
                let h = leaf(slot_rows.inputs(batch, inputs.history, d), b * slots).require_grad();
                let memory =
                    (cfg.memory > 0).then(|| leaf(inputs.memory, b)).map(|m| m.set_require_grad(cfg.memory_grad));
                let candidates = leaf(inputs.candidates, plan.columns()).require_grad();
                let users = user.attend(h.clone().reshape([b, slots, d]), memory.clone(), batch).0;
                let loss = batch_loss(users, candidates.clone(), &prepared, &log_q, cfg, &device);
                let value = tensor_to_vec(loss.clone().inner())[0] as f64;
                let mut grads = loss.backward();
                let g_h = h.grad_remove(&mut grads).expect("the slots' gradient");
                let grad_device = g_h.device();
                let g_h = tensor_to_vec(g_h);
                let mut take = |t: &Tensor<2>| t.grad_remove(&mut grads).map(tensor_to_vec);
                let g_memory = memory.as_ref().filter(|_| cfg.memory_grad).and_then(&mut take);
                let g_candidates = take(&candidates).expect("the candidates' gradient");
                // An item's gradient in a slot is the slot's.
                let g = plan.backward(&vectors, &g_h, g_memory.as_deref(), &g_candidates);
                tables.id.adam_step(lr, &plan.rows, &g.id);
                tables.token.adam_step(lr, &plan.token_rows, &g.token);
                tables.category.adam_step(lr, &plan.category_rows, &g.category);
                let mut params = GradientsParams::from_grads(grads, &user);
                for ((id, table), g) in slot_tables.into_iter().zip(slot_rows.grads(batch, &g_h, d)) {
                    let g = Tensor::<2>::from_data(TensorData::new(g, table.dims()), &grad_device);
                    params.register(id, g);
                }
                current = Some(optim.step(lr, user, params));
                loss_sum += value;
                loss_n += 1;
                let rate = ((step + 1) * cfg.batch) as f64 / epoch_start.elapsed().as_secs_f64();
                let best_r = best.as_ref().map_or(0.0, |b| b.0);
                progress.update(epoch, cfg.epochs, step + 1, steps, loss_sum / loss_n as f64, rate, best_r);
                waited = Instant::now();
            }
            prep_busy = producer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
        user = current.expect("the user tower after the epoch");
        let steps_seconds = epoch_start.elapsed().as_secs_f64();
        // Validation with the inference path.
        let table = item_table(&tables.item_tower(), &features);
        let trained = Trained {
            tower_config: tower_config.clone(),
            user: user.valid(),
            full_precision: None,
            item_table: table,
            best_epoch: epoch,
            log: Vec::new(),
            seconds: 0.0,
        };
        let metrics = evaluate_model(&trained.user_model(), &trained.catalog(ds), &valid_queries);
        let entry = EpochLog {
            epoch,
            loss: loss_sum / loss_n.max(1) as f64,
            valid: metrics,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        if cfg.progress && progress.tty {
            eprintln!();
        }
        {
            eprintln!(
                "epoch {epoch:>2}: loss {:.4}  valid R@10 {:.4}  NDCG@10 {:.4}  R@50 {:.4}  lr {lr:.2e}  ({:.0} s: steps {steps_seconds:.0} s, validation on {} users {:.0} s; batches prepared in {prep_busy:.0} s beside the steps, waited for {prep_wait:.0} s)",
                entry.loss, metrics.recall10, metrics.ndcg10, metrics.recall50, entry.seconds, valid_queries.len(), entry.seconds - steps_seconds
            );
        }
        let entry_seconds = entry.seconds;
        log.push(entry);
        if best.as_ref().is_none_or(|b| metrics.recall10 > b.0) {
            best = Some((metrics.recall10, epoch, trained.user, trained.item_table));
            since_best = 0;
        } else {
            since_best += 1;
            lr *= cfg.plateau_decay;
        }
        if since_best >= cfg.patience {
            eprintln!("early stop: no better valid R@10 for {} epochs", cfg.patience);
            break;
        }
        // Stop before an epoch that would end past the budget (epochs take about the same time).
        if started.elapsed().as_secs_f64() + entry_seconds > cfg.max_minutes * 60.0 {
            eprintln!("time budget of {} min: no time for another epoch", cfg.max_minutes);
            break;
        }
    }
    let (_, best_epoch, user, item_table) = best.expect("at least one epoch");
    let (user, full_precision) = if cfg.tower_f16 {
        (crate::model::round_to_f16(&tower_config, &user, &crate::model::inference_device()), Some(user))
    } else {
        (user, None)
    };
    let seconds = started.elapsed().as_secs_f64();
    Trained { tower_config, user, full_precision, item_table, best_epoch, log, seconds }
}

/// Each user's example weight, `n_u^-β` for `n_u` training targets, rescaled so that the mean
/// over all training examples is 1 ([`TrainConfig::user_weight`]; `β = 0` gives exactly 1).
pub fn user_weights(ds: &Dataset, beta: f32) -> Vec<f32> {
    let n: Vec<f64> = ds.users.iter().map(|u| u.train_indices().len() as f64).collect();
    let raw: Vec<f64> = n.iter().map(|&n| n.max(1.0).powf(-(beta as f64))).collect();
    let mean = n.iter().zip(&raw).map(|(n, w)| n * w).sum::<f64>() / n.iter().sum::<f64>().max(1.0);
    raw.iter().map(|w| (w / mean) as f32).collect()
}

/// The item tower's output for every item, on the inference device.
pub fn item_table(item: &ItemTower, features: &ItemFeatures) -> Vec<f32> {
    let device = crate::model::inference_device();
    tensor_to_vec(item.clone().to_device(&device).forward(features, &device))
}

/// One training batch, prepared off the training thread.
struct PreparedBatch {
    batch: HistoryBatch,
    /// The item rows the step reads ([`StepPlan`]).
    plan: StepPlan,
    targets: Vec<u32>,
    /// Extra candidate columns drawn uniformly ([`TrainConfig::uniform_negatives`]).
    negatives: Vec<u32>,
    /// Each example's loss weight ([`TrainConfig::user_weight`]).
    weights: Vec<f32>,
}

/// The item tower's three tables, kept outside Burn's autodiff and optimizer ([`super::step`],
/// [`super::sparse`]).
struct ItemTables {
    /// The tower the tables belong to (its tables are replaced by [`Self::item_tower`]).
    tower: ItemTower,
    id: SparseTable,
    token: SparseTable,
    category: SparseTable,
}

impl ItemTables {
    fn new(tower: ItemTower) -> ItemTables {
        let [id, token, category] = tower.tables();
        ItemTables {
            id: SparseTable::from_tensor(id),
            token: SparseTable::from_tensor(token),
            category: SparseTable::from_tensor(category),
            tower,
        }
    }

    /// The item tower with the tables as trained so far, on the inference device.
    fn item_tower(&self) -> ItemTower {
        let device = crate::model::inference_device();
        self.tower.clone().valid().to_device(&device).with_tables([
            self.id.to_tensor(&device),
            self.token.to_tensor(&device),
            self.category.to_tensor(&device),
        ])
    }
}

/// At most this many validation users are ranked after each epoch (a seeded sample above it):
/// validation ranks every item for every user, which at 100,000 items and tens of thousands of
/// users would cost more than the epoch.
pub const MAX_VALIDATION_USERS: usize = 8192;

fn validation_sample(queries: Vec<EvalQuery>, seed: u64) -> Vec<EvalQuery> {
    sample_queries(queries, MAX_VALIDATION_USERS, seed ^ 0x7a11d)
}

/// The batch's loss from its user vectors `users` `[B, d]` and the candidates' item vectors
/// `candidates` `[C, d]` (the targets', then the negatives').
fn batch_loss(
    users: Tensor<2>,
    candidates: Tensor<2>,
    prepared: &PreparedBatch,
    log_q: &[f32],
    cfg: &TrainConfig,
    device: &Device,
) -> Tensor<1> {
    let PreparedBatch { targets, negatives, weights, .. } = prepared;
    let b = targets.len();
    let columns: Vec<u32> = targets.iter().chain(negatives).copied().collect();
    let c = columns.len();
    // Correction and accidental-hit mask, built on the CPU: [B, C].
    let n_items = log_q.len() as f32;
    let mut offset = vec![0f32; b * c];
    for i in 0..b {
        for (j, &col) in columns.iter().enumerate() {
            let correction = if j < b {
                cfg.logq * (log_q[col as usize] + (b as f32).ln())
            } else {
                cfg.logq * ((negatives.len() as f32) / n_items).ln()
            };
            let hit = j != i && col == targets[i];
            offset[i * c + j] = if hit { -1.0e9 } else { -correction };
        }
    }
    let offset = Tensor::<2>::from_data(TensorData::new(offset, [b, c]), device);
    let logits = users.matmul(candidates.transpose()).div_scalar(cfg.temperature) + offset;
    let logp = log_softmax(logits, 1);
    let mut eye = vec![0f32; b * c];
    for i in 0..b {
        eye[i * c + i] = weights[i];
    }
    let eye = Tensor::<2>::from_data(TensorData::new(eye, [b, c]), device);
    (logp * eye).sum().neg().div_scalar(b as f32)
}

/// The evaluation queries of the test split, for callers that report test metrics.
pub fn test_queries(ds: &Dataset, config: &UserTowerConfig) -> Vec<EvalQuery> {
    queries(ds, Split::Test, &config.history())
}
