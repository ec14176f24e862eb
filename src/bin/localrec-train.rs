//! `localrec-train`: train the towers, evaluate against the baselines, export for the browser.
//!
//! `cargo run --profile trainer --features train --bin localrec-train -- --help` lists the options
//! with their defaults. Every value is checked before any data is read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use localrec::catalog::pq::default_subspaces;
use localrec::manifest::{ROLE_ITEMS_PCA, ROLE_ITEMS_PQ};
use localrec::model::UserModel;
use localrec::train::data::Dedupe;
use localrec::train::eval::{
    metrics_of, queries, rank_item_knn, rank_model, rank_popularity, sample_queries, EvalQuery, Ranked,
};
use localrec::train::export::{compact_choice, served_table, CompactTables, PQ_DEFAULT_FROM_ITEMS};
use localrec::train::rerank::{train_stage, StageTrainConfig};
use localrec::train::{export::export, synthetic_dataset_with, train, Metrics, Split, SyntheticConfig, TrainConfig};
use localrec::Catalog;

/// Keeps the memory Burn frees on the heap for its next tensor. Every tensor operation allocates its
/// output anew, and glibc serves allocations above its mmap threshold (up to 32 MB) with fresh
/// mappings that it unmaps again on free, so each step faulted in its large tensors page by page:
/// one epoch on the 10,000-item synthetic shop took 8.07 million minor page faults and 24.7 s of
/// system time, its steps 134 s; with mmap off and no trimming, 0.10 million, 2.8 s and 103 s, the
/// same model to the last digit and the same peak memory (this 2-core machine, 2026-12-03). An app
/// may still tune glibc itself with `MALLOC_*` variables: when any is set, this is skipped.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    if std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_")) {
        return;
    }
    // SAFETY: mallopt only changes glibc's malloc parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Which item-item model gives the ranking stage its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ItemItem {
    /// EASE up to 6,000 items, cosine kNN above.
    Auto,
    Ease,
    Cosine,
}

/// EASE's λ candidates (one value on the command line: `0.5,2,8`).
#[derive(Debug, Clone)]
struct Grid(Vec<f64>);

fn positive_list(v: &str) -> Result<Grid, String> {
    v.split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|l| l.is_finite() && *l > 0.0))
        .collect::<Option<Vec<f64>>>()
        .filter(|g| !g.is_empty())
        .map(Grid)
        .ok_or_else(|| format!("positive numbers separated by commas, got {v:?}"))
}

fn finite_f32(v: &str) -> Result<f32, String> {
    v.parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("a finite number, got {v:?}"))
}

fn finite_f64(v: &str) -> Result<f64, String> {
    v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("a finite number, got {v:?}"))
}

fn positive_usize(v: &str) -> Result<usize, String> {
    v.parse::<usize>().ok().filter(|&x| x > 0).ok_or_else(|| format!("a whole number above 0, got {v:?}"))
}

const MAX_C: u32 = localrec::rerank::MAX_CANDIDATES;
const MAX_N: usize = localrec::rerank::MAX_NEIGHBOURS;

/// Train the user tower and the ranking stage, evaluate them against baselines on the same split,
/// and export what the browser loads.
#[derive(Debug, Parser)]
#[command(name = "localrec-train", version, max_term_width = 100)]
struct Cli {
    /// `synthetic` (the built-in shop), or a directory with interactions and items, each as
    /// NAME.parquet (a file or a directory of parts), NAME/ (parts), NAME.csv or NAME.csv.gz
    #[arg(long, default_value = "synthetic", value_name = "synthetic|DIR")]
    data: String,
    /// Write the export to DIR
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write catalog deltas from the export in OLD_DIR
    #[arg(long, value_name = "OLD_DIR", requires = "out")]
    delta_from: Option<PathBuf>,
    /// Which occurrence of a repeated user-item pair counts
    #[arg(long, default_value = "last", value_parser = ["last", "first"])]
    dedupe: String,
    /// Evaluate popularity and item-kNN only, no training
    #[arg(long, conflicts_with_all = ["out", "tower_from"])]
    baselines_only: bool,
    /// Evaluate the tower exported in DIR instead of training one
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    tower_from: Option<PathBuf>,
    /// Only rewrite the first answer (a visitor's answer before any history) in a manifest (a file,
    /// or an export directory's manifest.json), after its rules were edited, and exit
    #[arg(long, value_name = "PATH", conflicts_with_all = ["out", "tower_from", "baselines_only"])]
    first_answer: Option<std::path::PathBuf>,
    /// The tower alone: no ranking stage, no ranker.bin
    #[arg(long)]
    no_ranker: bool,
    /// Also refit the ranking stage without each feature group
    #[arg(long)]
    ablation: bool,
    /// Item-item neighbours kept per item
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=MAX_N as i64))]
    neighbours: u16,
    /// EASE's λ candidates, as multiples of the mean interactions per item
    #[arg(long, default_value = "0.5,2,8", value_parser = positive_list, value_name = "A,B,..")]
    lambda_grid: Grid,
    /// Where the ranking stage's neighbours come from
    #[arg(long, value_enum, default_value_t = ItemItem::Auto)]
    item_item: ItemItem,
    /// The ranking stage's candidates from the tower
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=MAX_C as i64))]
    tower_candidates: u32,
    /// The ranking stage's candidates from the item-item neighbours
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=MAX_C as i64))]
    neighbour_candidates: u32,
    #[arg(long, default_value_t = TrainConfig::default().epochs, value_parser = positive_usize)]
    epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch, value_parser = positive_usize)]
    batch: usize,
    /// Learning rate
    #[arg(long, default_value_t = TrainConfig::default().lr, value_parser = finite_f64)]
    lr: f64,
    /// Softmax temperature
    #[arg(long, default_value_t = TrainConfig::default().temperature, value_parser = finite_f32)]
    temperature: f32,
    /// logQ correction strength
    #[arg(long, default_value_t = TrainConfig::default().logq, value_parser = finite_f32)]
    logq: f32,
    /// Uniform negatives per batch
    #[arg(long = "negatives", default_value_t = TrainConfig::default().uniform_negatives)]
    negatives: usize,
    /// Embedding dimension
    #[arg(long, default_value_t = TrainConfig::default().dim)]
    dim: usize,
    #[arg(long, default_value_t = TrainConfig::default().heads)]
    heads: usize,
    #[arg(long, default_value_t = TrainConfig::default().hidden)]
    hidden: usize,
    #[arg(long, default_value_t = TrainConfig::default().attention_hidden)]
    attention_hidden: usize,
    /// A diagonal skip connection (the default)
    #[arg(long, overrides_with = "dense_skip")]
    diagonal_skip: bool,
    /// A dense skip connection instead of the diagonal one
    #[arg(long, overrides_with = "diagonal_skip")]
    dense_skip: bool,
    /// History events the tower reads
    #[arg(long, default_value_t = TrainConfig::default().max_len)]
    max_len: usize,
    /// Memory slots
    #[arg(long, default_value_t = TrainConfig::default().memory)]
    memory: usize,
    #[arg(long, default_value_t = TrainConfig::default().memory_decay, value_parser = finite_f32)]
    memory_decay: f32,
    #[arg(long, default_value_t = TrainConfig::default().token_buckets)]
    token_buckets: usize,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Wall-clock budget of the tower's training
    #[arg(long, default_value_t = TrainConfig::default().max_minutes, value_parser = finite_f64)]
    max_minutes: f64,
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    #[arg(long, default_value_t = TrainConfig::default().plateau_decay, value_parser = finite_f64)]
    plateau_decay: f64,
    /// Id vectors from the co-occurrence embedding (the default)
    #[arg(long, overrides_with = "no_warm_start")]
    warm_start: bool,
    #[arg(long, overrides_with = "warm_start")]
    no_warm_start: bool,
    /// Warm start: co-occurrence within W pairs (0: whole histories)
    #[arg(long, default_value_t = TrainConfig::default().warm_window, value_name = "W")]
    warm_window: usize,
    /// The memory as a constant sum in each step (default: trained through)
    #[arg(long)]
    no_memory_grad: bool,
    /// Ship the tower's weights in f32 (default: rounded to half precision, half the bytes)
    #[arg(long)]
    f32_tower: bool,
    /// Each example weighs n_u^-B (n_u: the user's targets)
    #[arg(long, default_value_t = TrainConfig::default().user_weight, value_parser = finite_f32, value_name = "B")]
    user_weight: f32,
    #[arg(long, default_value_t = SyntheticConfig::default().users, value_parser = positive_usize)]
    synthetic_users: usize,
    #[arg(long, default_value_t = SyntheticConfig::default().items, value_parser = positive_usize)]
    synthetic_items: usize,
    /// pq table: sub-spaces of 16 centroids, two a byte (0: a third of --dim, 128 at 384)
    #[arg(long, default_value_t = 0, value_name = "M")]
    pq_subspaces: usize,
    /// pca table: int8 on this many principal axes of the item table (0: 5/32 of --dim rounded down
    /// to a multiple of 4, 60 at 384: 64 bytes an item)
    #[arg(long, default_value_t = 0, value_name = "AXES")]
    pca_axes: usize,
    /// From this many items on, the export ships pq as its default table (no int8)
    #[arg(long, visible_alias = "compact-from-items", default_value_t = PQ_DEFAULT_FROM_ITEMS, value_name = "ITEMS")]
    pq_from_items: usize,
    /// Evaluate on at most this many users (a seeded sample, the same users in every row and both
    /// splits; 0: every user). Full ranking of every user costs users x items x dim per row.
    #[arg(long, default_value_t = DEFAULT_EVAL_USERS, value_name = "USERS")]
    eval_users: usize,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

/// `--eval-users`: the final table's user sample. Online Retail II's 5,537 users are all kept; at
/// 40,000 users and 75,000 items ranking every user took most of a 37-minute command (2026-12-03).
const DEFAULT_EVAL_USERS: usize = 20_000;

impl Cli {
    fn configs(&self) -> (TrainConfig, StageTrainConfig, SyntheticConfig) {
        let d = TrainConfig::default();
        let cfg = TrainConfig {
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            temperature: self.temperature,
            logq: self.logq,
            uniform_negatives: self.negatives,
            dim: self.dim,
            heads: self.heads,
            hidden: self.hidden,
            attention_hidden: self.attention_hidden,
            diagonal_skip: if self.dense_skip { false } else { self.diagonal_skip || d.diagonal_skip },
            max_len: self.max_len,
            memory: self.memory,
            memory_decay: self.memory_decay,
            token_buckets: self.token_buckets,
            seed: self.seed,
            max_minutes: self.max_minutes,
            patience: self.patience,
            plateau_decay: self.plateau_decay,
            warm_start: if self.no_warm_start { false } else { self.warm_start || d.warm_start },
            warm_window: self.warm_window,
            memory_grad: !self.no_memory_grad && d.memory_grad,
            tower_f16: !self.f32_tower && d.tower_f16,
            user_weight: self.user_weight,
            progress: !self.quiet,
            ..d
        };
        let d = StageTrainConfig::default();
        let stage = StageTrainConfig {
            neighbours: self.neighbours as usize,
            lambda_grid: self.lambda_grid.0.clone(),
            ease: match self.item_item {
                ItemItem::Auto => None,
                ItemItem::Ease => Some(true),
                ItemItem::Cosine => Some(false),
            },
            stage: localrec::rerank::StageConfig {
                tower_candidates: self.tower_candidates,
                neighbour_candidates: self.neighbour_candidates,
                ..d.stage
            },
            ..d
        };
        let syn = SyntheticConfig { users: self.synthetic_users, items: self.synthetic_items, ..Default::default() };
        (cfg, stage, syn)
    }
}

/// A table row's (validation, test, Some((new-item targets, repeat targets))).
type Row = (Metrics, Metrics, Option<(Metrics, Metrics)>);

fn run(cli: Cli) -> Result<(), String> {
    if let Some(dir) = &cli.first_answer {
        let m = localrec::train::export::write_first_answer(dir)?;
        let ids: Vec<&str> = m.first_answer.iter().map(|f| f.id.as_str()).collect();
        eprintln!("{}: first_answer of {} items: {}", dir.display(), ids.len(), ids.join(", "));
        return Ok(());
    }
    let (cfg, stage, syn) = cli.configs();
    let dedupe: Dedupe = cli.dedupe.parse()?;
    let (baselines_only, ranker, ablation) = (cli.baselines_only, !cli.no_ranker, cli.ablation);
    let Cli { data, out, delta_from, tower_from, pq_from_items, .. } = cli;
    let pq_m = if cli.pq_subspaces == 0 { default_subspaces(cfg.dim) } else { cli.pq_subspaces };
    // An impossible sub-space count fails here, not after training.
    localrec::catalog::Pq::new(cfg.dim, pq_m, vec![0.0; 16 * cfg.dim], &[])
        .map_err(|e| format!("--pq-subspaces {pq_m} with --dim {}: {e}", cfg.dim))?;
    let pca_axes = if cli.pca_axes == 0 { localrec::catalog::rotation::default_axes(cfg.dim) } else { cli.pca_axes };
    if pca_axes > cfg.dim {
        return Err(format!("--pca-axes {pca_axes}: at most --dim ({})", cfg.dim));
    }
    if data != "synthetic" && !std::path::Path::new(&data).is_dir() {
        return Err(format!("--data: {data:?} is neither `synthetic` nor a directory"));
    }
    // Bad sizes or a bad decay fail here, not after the training budget is spent.
    cfg.tower_config().validate().map_err(|e| format!("model options: {e}"))?;
    if !(cfg.user_weight.is_finite() && cfg.user_weight >= 0.0) {
        return Err(format!("--user-weight must be a finite number >= 0, got {}", cfg.user_weight));
    }
    for (flag, v) in [("--lr", cfg.lr), ("--temperature", cfg.temperature as f64), ("--max-minutes", cfg.max_minutes)] {
        if v <= 0.0 {
            return Err(format!("{flag} must be above 0, got {v}"));
        }
    }
    if !(0.0..=1.0).contains(&cfg.plateau_decay) {
        return Err(format!("--plateau-decay must be within 0..=1, got {}", cfg.plateau_decay));
    }
    let t0 = std::time::Instant::now();
    let ds = if data == "synthetic" {
        synthetic_dataset_with(&syn, dedupe)
    } else {
        localrec::train::input::read_dataset(&data, std::path::Path::new(&data), dedupe)?
    };
    let s = ds.stats();
    eprintln!(
        "data {}: {} users, {} items, {} user-item pairs, {} events after the 5-core filter ({:.1} s)",
        ds.name,
        s.users,
        s.items,
        s.pairs,
        s.events,
        t0.elapsed().as_secs_f64()
    );
    eprintln!(
        "model: dim {}, {} heads, hidden {}, history {}, memory {} (decay {}); user tower {} parameters ({:.0} KB as f32)",
        cfg.dim,
        cfg.heads,
        cfg.hidden,
        cfg.max_len,
        cfg.memory,
        cfg.memory_decay,
        cfg.tower_config().num_params(),
        cfg.tower_config().num_params() as f64 * 4.0 / 1024.0
    );
    let history = cfg.tower_config().history();
    // The same users in both splits: one query per user each, sampled with the same seed.
    let eval_seed = cfg.seed ^ 0xe7a1;
    let valid_q = sample_queries(queries(&ds, Split::Valid, &history), cli.eval_users, eval_seed);
    let test_q = sample_queries(queries(&ds, Split::Test, &history), cli.eval_users, eval_seed);
    debug_assert!(valid_q.iter().zip(&test_q).all(|(v, t)| v.user == t.user));
    if valid_q.len() < s.users {
        eprintln!("evaluation: a seeded sample of {} of {} users (--eval-users)", valid_q.len(), s.users);
    }
    // Test metrics over all users, and over new-item and repeat targets separately.
    let test_new = test_q.iter().filter(|q| !q.repeat).count();
    let test_rep = test_q.len() - test_new;
    eprintln!(
        "dedupe {dedupe:?}: {} of {} test targets ({:.1}%) were in the user's history before",
        test_rep,
        test_q.len(),
        100.0 * test_rep as f64 / test_q.len().max(1) as f64
    );
    let n_items = ds.item_ids.len();
    let mut rows: Vec<(String, Row)> = Vec::new();
    // One ranking per split: the test split's lists also give its new-item and repeat parts.
    let split = |f: &dyn Fn(&[EvalQuery]) -> Ranked| {
        let v = metrics_of(n_items, &f(&valid_q), &valid_q, |_| true);
        let ranked = f(&test_q);
        let t = metrics_of(n_items, &ranked, &test_q, |_| true);
        let new = metrics_of(n_items, &ranked, &test_q, |q| !q.repeat);
        let rep = metrics_of(n_items, &ranked, &test_q, |q| q.repeat);
        (v, t, Some((new, rep)))
    };
    let mut trained = None;
    let tower: Option<(UserModel, Catalog)> = if baselines_only {
        None
    } else if let Some(dir) = &tower_from {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()));
        let model = UserModel::from_bytes(&read("tower.json")?, &read("tower.bin")?).map_err(|e| e.to_string())?;
        let catalog = Catalog::decode(&read("items.f32.lrc")?).map_err(|e| e.to_string())?;
        if catalog.ids().ne(ds.item_ids.iter().map(|s| s.as_str())) {
            return Err(format!("{}: the export's items are not this dataset's", dir.display()));
        }
        Some((model, catalog))
    } else {
        let t = train(&ds, &cfg);
        eprintln!("trained in {:.0} s; best epoch {} of {}", t.seconds, t.best_epoch, t.log.len());
        let pair = (t.user_model(), t.catalog(&ds));
        trained = Some(t);
        Some(pair)
    };
    let mut stage_report = None;
    let mut pq_table = None;
    let mut pca_table = None;
    let mut compact_table = ROLE_ITEMS_PQ;
    if let Some((model, f32_catalog)) = &tower {
        let int8_catalog = f32_catalog.to_int8();
        let t = std::time::Instant::now();
        let pq_catalog = f32_catalog.to_rotated_pq(pq_m, cfg.seed).map_err(|e| e.to_string())?;
        eprintln!(
            "pq table: rotated onto the principal axes, {pq_m} sub-spaces, {} bytes an item, learnt in {:.1} s",
            pq_m / 2,
            t.elapsed().as_secs_f64()
        );
        let t = std::time::Instant::now();
        let plane = localrec::catalog::PqResidual::learn(&pq_catalog, f32_catalog, cfg.seed ^ 0x7265_6669)
            .map_err(|e| e.to_string())?;
        let refined = pq_catalog.clone().with_residual(plane).map_err(|e| e.to_string())?;
        eprintln!(
            "pq refine plane: the residuals product-quantized again, {} bytes an item, learnt in {:.1} s",
            pq_m / 2,
            t.elapsed().as_secs_f64()
        );
        let t = std::time::Instant::now();
        let pca_catalog = f32_catalog.to_projected_int8(pca_axes).map_err(|e| e.to_string())?;
        eprintln!(
            "pca table: {pca_axes} principal axes in int8, {} bytes an item, axes found in {:.1} s",
            pca_axes + 4,
            t.elapsed().as_secs_f64()
        );
        rows.push(("user tower (f32 items)".into(), split(&|q| rank_model(model, f32_catalog, q))));
        // The tower before its weights were rounded to half precision (not shipped), same split.
        if let Some(full) = trained
            .as_ref()
            .and_then(|t: &localrec::train::Trained| t.full_precision.as_ref().map(|u| t.user_model_of(u)))
        {
            rows.push((
                "user tower, f32 weights, not shipped (f32 items)".into(),
                split(&|q| rank_model(&full, f32_catalog, q)),
            ));
        }
        rows.push(("user tower (int8 items)".into(), split(&|q| rank_model(model, &int8_catalog, q))));
        let pq_row = split(&|q| rank_model(model, &pq_catalog, q));
        let pca_row = split(&|q| rank_model(model, &pca_catalog, q));
        // The compact table served (from --pq-from-items items on, and to small devices): the one
        // the tower did better over on the validation split.
        let compact = compact_choice(pq_row.0.recall10, pca_row.0.recall10);
        eprintln!(
            "compact table: {compact} (valid Recall@10: pq {:.4}, pca {:.4})",
            pq_row.0.recall10, pca_row.0.recall10
        );
        rows.push(("user tower (pq items)".into(), pq_row));
        rows.push(("user tower (pq items + refine plane)".into(), split(&|q| rank_model(model, &refined, q))));
        rows.push(("user tower (pca items)".into(), pca_row));
        compact_table = compact;
        if ranker {
            // The ranking stage runs over the table the browser loads by default.
            let compact_catalog = if compact == ROLE_ITEMS_PCA { &pca_catalog } else { &pq_catalog };
            let served = served_table(&int8_catalog, compact_catalog, pq_from_items);
            eprintln!("ranking stage fitted over the {} table", served.precision());
            let r = train_stage(&ds, model, served, &valid_q, &test_q, &stage, ablation);
            eprintln!(
                "ranking stage in {:.0} s: EASE λ {}, {} hidden units, {} neighbours per item ({} kept, {} bytes as shipped); {:.1}% of test targets among the candidates",
                r.seconds,
                r.lambda.map_or("- (cosine kNN neighbours)".to_string(), |l| format!("{l:.1}")),
                r.hidden,
                stage.neighbours,
                r.ranker.neighbours.nnz(),
                r.ranker.encode().len(),
                100.0 * r.test_candidate_recall
            );
            for (name, v, t) in &r.rows {
                rows.push((name.clone(), (*v, *t, None)));
            }
            stage_report = Some(r);
        }
        pq_table = Some(refined);
        pca_table = Some(pca_catalog);
    }
    rows.push(("popularity".into(), split(&|q| rank_popularity(&ds, q))));
    if ds.item_ids.len() <= 20_000 {
        rows.push((
            "item-kNN (co-occurrence cosine, every co-occurring item)".into(),
            split(&|q| rank_item_knn(&ds, q, 20_000).expect("small")),
        ));
    }
    let sampled =
        if test_q.len() < s.users { format!(" (a seeded sample of {})", test_q.len()) } else { String::new() };
    println!(
        "\n{} ({} users{sampled}; full ranking over {} items, training items excluded)\n",
        ds.name, s.users, s.items
    );
    println!(
        "| model | Recall@10 | NDCG@10 | Recall@50 | Coverage@10 | valid Recall@10 | R@10 new items ({}) | R@10 repeats ({}) |",
        test_new, test_rep
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, (v, t, parts)) in &rows {
        let (new, rep) = match parts {
            Some((n, r)) => (
                format!("{:.4}", n.recall10),
                if test_rep == 0 { "-".to_string() } else { format!("{:.4}", r.recall10) },
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {new} | {rep} |",
            t.recall10, t.ndcg10, t.recall50, t.coverage10, v.recall10,
        );
    }
    if let Some(dir) = out {
        let trained = trained.ok_or("--out needs a trained model (drop --baselines-only)")?;
        let pq = pq_table.as_ref().ok_or("no pq table")?;
        let pca = pca_table.as_ref().ok_or("no pca table")?;
        let tables = CompactTables { pq, pca, pq_from_items, compact: compact_table };
        let m = export(&ds, &trained, &dir, stage_report.as_ref().map(|r| &r.ranker), &tables)?;
        println!("\nexported model {} to {}:", m.model_version, dir.display());
        for f in &m.files {
            println!("  {:<16} {:>10} bytes  sha256 {}", f.name, f.bytes, &f.sha256[..16]);
        }
        if let Some(old) = delta_from {
            for d in localrec::train::export::write_deltas(&old, &dir)? {
                println!("  {:<16} {:>10} bytes  (delta from {})", d.name, d.bytes, &d.from_sha256[..12]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_its_defaults_are_the_library_defaults() {
        Cli::command().debug_assert();
        let (cfg, stage, syn) = Cli::try_parse_from(["localrec-train"]).unwrap().configs();
        let (d, ds, dsyn) = (TrainConfig::default(), StageTrainConfig::default(), SyntheticConfig::default());
        assert_eq!(format!("{cfg:?}"), format!("{d:?}"));
        assert_eq!(format!("{stage:?}"), format!("{ds:?}"));
        assert_eq!(format!("{syn:?}"), format!("{dsyn:?}"));
    }

    #[test]
    fn bad_values_are_refused_before_any_data_loads() {
        for args in [
            &["--neighbours", "0"][..],
            &["--lambda-grid", "1,-2"],
            &["--item-item", "foo"],
            &["--epochs", "0"],
            &["--lr", "nan"],
            &["--tower-from", "x", "--out", "y"],
            &["--delta-from", "x"],
            &["--dedupe", "middle"],
            &["--pq-subspaces", "-2"],
            &["--bogus"],
        ] {
            let argv = std::iter::once("localrec-train").chain(args.iter().copied());
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?} was accepted");
        }
        // Values clap accepts but the run refuses, still before reading data.
        for args in [
            &["--lr", "0"][..],
            &["--memory-decay", "1.5"],
            &["--dim", "0"],
            &["--data", "/nonexistent/dir"],
            &["--pq-subspaces", "7"],
            &["--pq-subspaces", "512"],
        ] {
            let argv = std::iter::once("localrec-train").chain(args.iter().copied());
            let e = run(Cli::try_parse_from(argv).unwrap()).unwrap_err();
            assert!(!e.is_empty(), "{args:?}");
        }
        let cli = Cli::try_parse_from(["x", "--dense-skip", "--no-warm-start", "--lambda-grid", "1,4"]).unwrap();
        let (cfg, stage, _) = cli.configs();
        assert!(!cfg.diagonal_skip && !cfg.warm_start);
        assert_eq!(stage.lambda_grid, vec![1.0, 4.0]);
    }
}
