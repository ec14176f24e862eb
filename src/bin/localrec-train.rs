//! `localrec-train`: train the towers, evaluate against the baselines, export for the browser.
//!
//! ```text
//! cargo run --release --features train --bin localrec-train -- [options]
//!   --data synthetic            the built-in synthetic shop (default)
//!   --data DIR                  DIR/interactions.csv[.gz] and DIR/items.csv
//!   --out DIR                   write the export there (default: no export)
//!   --delta-from OLD_DIR        also write catalogue deltas from the export in OLD_DIR
//!   --dedupe last|first         which occurrence of a repeated pair counts (default last)
//!   --baselines-only            evaluate popularity and item-kNN only, no training
//!   --tower-from DIR            evaluate the tower exported in DIR instead of training one (no --out)
//!   --no-ranker                 the tower alone: no ranking stage, no ranker.bin
//!   --ablation                  also refit the ranking stage without each feature group
//!   --neighbours M              item-item neighbours kept per item (default 32)
//!   --lambda-grid A,B,..        EASE's λ candidates, as multiples of the mean item count (0.5,2,8)
//!   --item-item auto|ease|cosine  neighbours from EASE up to 6,000 items, cosine kNN above (auto)
//!   --tower-candidates N --neighbour-candidates N   the ranking stage's candidates (200, 100)
//!   --epochs N --batch N --lr X --temperature T --logq A --negatives M
//!   --dim D --heads H --hidden H --attention-hidden A --diagonal-skip|--dense-skip
//!   --max-len N --memory N --memory-decay F --token-buckets N
//!   --seed S --max-minutes M --patience N --plateau-decay F
//!   --warm-start|--no-warm-start  id vectors from the co-occurrence embedding (default on)
//!   --warm-window W             warm start: co-occurrence within W pairs (default 30; 0: whole histories)
//!   --no-memory-grad            the memory as a constant sum in each step (faster; default: trained through)
//!   --user-weight B             each example weighs n_u^-B (n_u: the user's targets; default 0)
//!   --synthetic-users N --synthetic-items N
//!   --quiet                     no progress bar
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use localrec::model::UserModel;
use localrec::train::eval::{evaluate_item_knn, evaluate_model, evaluate_popularity, queries};
use localrec::train::rerank::{train_stage, StageTrainConfig};
use localrec::train::{export::export, synthetic_dataset_with, train, Metrics, Split, SyntheticConfig, TrainConfig};
use localrec::Catalog;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, String> {
    for name in [format!("{stem}.csv"), format!("{stem}.csv.gz")] {
        let p = dir.join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(format!("{}: no {stem}.csv or {stem}.csv.gz", dir.display()))
}

fn run() -> Result<(), String> {
    let mut cfg = TrainConfig::default();
    let mut syn = SyntheticConfig::default();
    let mut data = String::from("synthetic");
    let mut out: Option<PathBuf> = None;
    let mut delta_from: Option<PathBuf> = None;
    let mut dedupe = localrec::train::data::Dedupe::default();
    let mut baselines_only = false;
    let mut tower_from: Option<PathBuf> = None;
    let mut ranker = true;
    let mut ablation = false;
    let mut stage = StageTrainConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = parse(&a, args.next())?,
            "--out" => out = Some(parse(&a, args.next())?),
            "--delta-from" => delta_from = Some(parse(&a, args.next())?),
            "--dedupe" => dedupe = parse(&a, args.next())?,
            "--baselines-only" => baselines_only = true,
            "--tower-from" => tower_from = Some(parse(&a, args.next())?),
            "--no-ranker" => ranker = false,
            "--ablation" => ablation = true,
            "--neighbours" => stage.neighbours = parse(&a, args.next())?,
            "--item-item" => {
                stage.ease = match parse::<String>(&a, args.next())?.as_str() {
                    "auto" => None,
                    "ease" => Some(true),
                    "cosine" => Some(false),
                    other => return Err(format!("--item-item: auto, ease or cosine, got {other:?}")),
                }
            }
            "--lambda-grid" => {
                let v: String = parse(&a, args.next())?;
                stage.lambda_grid = v
                    .split(',')
                    .map(|x| x.trim().parse::<f64>().ok().filter(|l| l.is_finite() && *l > 0.0))
                    .collect::<Option<Vec<f64>>>()
                    .filter(|g| !g.is_empty())
                    .ok_or_else(|| format!("--lambda-grid: positive numbers separated by commas, got {v:?}"))?;
            }
            "--tower-candidates" => stage.stage.tower_candidates = parse(&a, args.next())?,
            "--neighbour-candidates" => stage.stage.neighbour_candidates = parse(&a, args.next())?,
            "--epochs" => cfg.epochs = parse(&a, args.next())?,
            "--batch" => cfg.batch = parse(&a, args.next())?,
            "--lr" => cfg.lr = parse(&a, args.next())?,
            "--temperature" => cfg.temperature = parse(&a, args.next())?,
            "--logq" => cfg.logq = parse(&a, args.next())?,
            "--negatives" => cfg.uniform_negatives = parse(&a, args.next())?,
            "--dim" => cfg.dim = parse(&a, args.next())?,
            "--heads" => cfg.heads = parse(&a, args.next())?,
            "--hidden" => cfg.hidden = parse(&a, args.next())?,
            "--attention-hidden" => cfg.attention_hidden = parse(&a, args.next())?,
            "--token-buckets" => cfg.token_buckets = parse(&a, args.next())?,
            "--diagonal-skip" => cfg.diagonal_skip = true,
            "--dense-skip" => cfg.diagonal_skip = false,
            "--max-len" => cfg.max_len = parse(&a, args.next())?,
            "--memory" => cfg.memory = parse(&a, args.next())?,
            "--memory-decay" => cfg.memory_decay = parse(&a, args.next())?,
            "--seed" => cfg.seed = parse(&a, args.next())?,
            "--max-minutes" => cfg.max_minutes = parse(&a, args.next())?,
            "--patience" => cfg.patience = parse(&a, args.next())?,
            "--plateau-decay" => cfg.plateau_decay = parse(&a, args.next())?,
            "--synthetic-users" => syn.users = parse(&a, args.next())?,
            "--synthetic-items" => syn.items = parse(&a, args.next())?,
            "--quiet" => cfg.progress = false,
            "--warm-start" => cfg.warm_start = true,
            "--no-warm-start" => cfg.warm_start = false,
            "--warm-window" => cfg.warm_window = parse(&a, args.next())?,
            "--no-memory-grad" => cfg.memory_grad = false,
            "--user-weight" => cfg.user_weight = parse(&a, args.next())?,
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("localrec-train.rs")
                        .lines()
                        .take_while(|l| l.starts_with("//!"))
                        .map(|l| l.trim_start_matches("//!"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return Ok(());
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    // Bad sizes or a bad decay fail here, not after the training budget is spent.
    cfg.tower_config().validate().map_err(|e| format!("model options: {e}"))?;
    if !(cfg.user_weight.is_finite() && cfg.user_weight >= 0.0) {
        return Err(format!("--user-weight must be a finite number >= 0, got {}", cfg.user_weight));
    }
    if !(1..=localrec::rerank::MAX_NEIGHBOURS).contains(&stage.neighbours) {
        return Err(format!("--neighbours must be 1..={}, got {}", localrec::rerank::MAX_NEIGHBOURS, stage.neighbours));
    }
    let max_c = localrec::rerank::MAX_CANDIDATES;
    if stage.stage.tower_candidates == 0
        || stage.stage.tower_candidates > max_c
        || stage.stage.neighbour_candidates > max_c
    {
        return Err(format!("--tower-candidates must be 1..={max_c} and --neighbour-candidates 0..={max_c}"));
    }
    if tower_from.is_some() && out.is_some() {
        return Err("--tower-from evaluates an export; it cannot write one (drop --out)".into());
    }
    let t0 = std::time::Instant::now();
    let ds = if data == "synthetic" {
        synthetic_dataset_with(&syn, dedupe)
    } else {
        let dir = PathBuf::from(&data);
        localrec::train::read_csv_dataset(&data, &find(&dir, "interactions")?, &find(&dir, "items")?, dedupe)?
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
    let valid_q = queries(&ds, Split::Valid, &history);
    let test_q = queries(&ds, Split::Test, &history);
    // Test metrics over all users, and over new-item and repeat targets separately.
    let (test_new, test_rep): (Vec<_>, Vec<_>) = test_q.iter().cloned().partition(|q| !q.repeat);
    eprintln!(
        "dedupe {dedupe:?}: {} of {} test targets ({:.1}%) were in the user's history before",
        test_rep.len(),
        test_q.len(),
        100.0 * test_rep.len() as f64 / test_q.len().max(1) as f64
    );
    let split = |f: &dyn Fn(&[localrec::train::eval::EvalQuery]) -> Metrics| {
        let rep = if test_rep.is_empty() { Metrics::default() } else { f(&test_rep) };
        (f(&valid_q), f(&test_q), f(&test_new), rep)
    };
    let mut rows: Vec<(String, (Metrics, Metrics, Option<(Metrics, Metrics)>))> = Vec::new();
    let split = |f: &dyn Fn(&[localrec::train::eval::EvalQuery]) -> Metrics| {
        let (v, t, n, r) = split(f);
        (v, t, Some((n, r)))
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
    if let Some((model, f32_catalog)) = &tower {
        let int8_catalog = f32_catalog.to_int8();
        rows.push(("user tower (f32 items)".into(), split(&|q| evaluate_model(model, f32_catalog, q))));
        rows.push(("user tower (int8 items)".into(), split(&|q| evaluate_model(model, &int8_catalog, q))));
        if ranker {
            // The ranking stage runs over the int8 table, as in the browser.
            let r = train_stage(&ds, model, &int8_catalog, &valid_q, &test_q, &stage, ablation);
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
    }
    rows.push(("popularity".into(), split(&|q| evaluate_popularity(&ds, q))));
    if ds.item_ids.len() <= 20_000 {
        rows.push((
            "item-kNN (co-occurrence cosine, every co-occurring item)".into(),
            split(&|q| evaluate_item_knn(&ds, q, 20_000).expect("small")),
        ));
    }
    println!("\n{} ({} users; full ranking over {} items, training items excluded)\n", ds.name, s.users, s.items);
    println!(
        "| model | Recall@10 | NDCG@10 | Recall@50 | Coverage@10 | valid Recall@10 | R@10 new items ({}) | R@10 repeats ({}) |",
        test_new.len(),
        test_rep.len()
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, (v, t, parts)) in &rows {
        let (new, rep) = match parts {
            Some((n, r)) => (
                format!("{:.4}", n.recall10),
                if test_rep.is_empty() { "-".to_string() } else { format!("{:.4}", r.recall10) },
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
        let m = export(&ds, &trained, &dir, stage_report.as_ref().map(|r| &r.ranker))?;
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
