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

use localrec::train::eval::{evaluate_item_knn, evaluate_model, evaluate_popularity, queries};
use localrec::train::{export::export, synthetic_dataset_with, train, Metrics, Split, SyntheticConfig, TrainConfig};

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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = parse(&a, args.next())?,
            "--out" => out = Some(parse(&a, args.next())?),
            "--delta-from" => delta_from = Some(parse(&a, args.next())?),
            "--dedupe" => dedupe = parse(&a, args.next())?,
            "--baselines-only" => baselines_only = true,
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
    let mut rows: Vec<(String, (Metrics, Metrics, Metrics, Metrics))> = Vec::new();
    let trained = if baselines_only {
        None
    } else {
        let trained = train(&ds, &cfg);
        eprintln!("trained in {:.0} s; best epoch {} of {}", trained.seconds, trained.best_epoch, trained.log.len());
        let model = trained.user_model();
        let f32_catalog = trained.catalog(&ds);
        let int8_catalog = f32_catalog.to_int8();
        rows.push(("user tower (f32 items)".into(), split(&|q| evaluate_model(&model, &f32_catalog, q))));
        rows.push(("user tower (int8 items)".into(), split(&|q| evaluate_model(&model, &int8_catalog, q))));
        Some(trained)
    };
    rows.push(("popularity".into(), split(&|q| evaluate_popularity(&ds, q))));
    if ds.item_ids.len() <= 20_000 {
        rows.push((
            "item-kNN (co-occurrence cosine)".into(),
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
    for (name, (v, t, n, r)) in &rows {
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} |",
            t.recall10,
            t.ndcg10,
            t.recall50,
            t.coverage10,
            v.recall10,
            n.recall10,
            if test_rep.is_empty() { "-".to_string() } else { format!("{:.4}", r.recall10) }
        );
    }
    if let Some(dir) = out {
        let trained = trained.ok_or("--out needs a trained model (drop --baselines-only)")?;
        let m = export(&ds, &trained, &dir)?;
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
