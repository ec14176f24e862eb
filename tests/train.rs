//! The trainer on the built-in synthetic shop (feature `train`): the model must recover the
//! shop's structure, beating popularity by a wide margin, and the int8 item table must keep its
//! quality.
#![cfg(all(feature = "train", not(target_arch = "wasm32")))]

use burn::tensor::{Tensor, TensorData};
use localrec::model::item_tower::ItemFeatures;
use localrec::model::{encode_history, inference_device, Event, HistoryBatch, HistoryConfig, Kind};
use localrec::rng::Rng;
use localrec::train::eval::{
    evaluate_model, evaluate_popularity, metrics_of, queries, rank_popularity, sample_queries,
};
use localrec::train::rerank::{evaluate_features, query_features, train_stage, StageTrainConfig};
use localrec::train::sparse::SparseTable;
use localrec::train::step::StepPlan;
use localrec::train::{synthetic_dataset, Split, SyntheticConfig, TrainConfig, Trained};

/// Burn's device RNG is one per process: trainings in parallel test threads would draw from it in
/// turn and none would be reproducible, so each training here holds this lock.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn train(ds: &localrec::train::data::Dataset, cfg: &TrainConfig) -> Trained {
    let _one_at_a_time = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    localrec::train::train(ds, cfg)
}

/// The trainer's memory (the step plan's weighted sums of the step's item vectors) and the
/// browser's (a weighted sum of catalog rows) are the same vectors.
#[test]
fn trainer_and_browser_compute_the_same_memory() {
    let (items, dim) = (60usize, 8usize);
    let mut rng = Rng::new(11);
    // Unit rows: an item tower of id vectors alone (no titles, no categories) computes them as they are.
    let mut table: Vec<f32> = (0..items * dim).map(|_| rng.below(2001) as f32 / 1000.0 - 1.0).collect();
    for row in table.chunks_mut(dim) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= n);
    }
    let cfg = HistoryConfig { max_len: 5, recency_buckets: 28, memory: 25, memory_decay: 0.9 };
    let histories: Vec<_> = [3usize, 40, 80, 1]
        .iter()
        .map(|&n| {
            let events: Vec<Event> = (0..n)
                .map(|k| Event { item: rng.below(items as u64) as u32, kind: Kind::View, time: k as f64 })
                .collect();
            encode_history(&events, &cfg).unwrap()
        })
        .collect();
    assert!(histories[2].memory_items.len() == 25 && histories[2].items.len() == 5);
    let batch = HistoryBatch::new(&histories);
    let browser = batch.memory_vectors(dim, |r| table[r as usize * dim..(r as usize + 1) * dim].to_vec());
    let device = inference_device();
    let features = ItemFeatures::new(&vec![Vec::new(); items], None, 4);
    let tensor = |v: Vec<f32>, rows: usize| Tensor::from_data(TensorData::new(v, [rows, dim]), &device);
    let id = SparseTable::from_tensor(tensor(table.clone(), items));
    let zeros = SparseTable::from_tensor(tensor(vec![0.0; dim], 1));
    let plan = StepPlan::new(&features, &batch, &[7]);
    let trainer = plan.inputs(&plan.forward(&id, &zeros, &zeros)).memory;
    assert_eq!(browser.len(), trainer.len());
    for (k, (a, b)) in browser.iter().zip(&trainer).enumerate() {
        assert!((a - b).abs() <= 1e-5, "value {k}: browser {a}, trainer {b}");
    }
    assert!(browser.iter().any(|v| v.abs() > 0.01), "the memories are not all zero");
}

/// The trainer's table ranks each split once: the test split's new-item and repeat parts come from
/// the same lists and equal ranking each part on its own; a user sample keeps the same users in
/// both splits, in user order.
#[test]
fn one_ranking_gives_a_split_and_its_parts_and_samples_keep_users() {
    let ds = localrec::train::synthetic_dataset_with(
        &SyntheticConfig { items: 300, users: 700, ..SyntheticConfig::default() },
        localrec::train::Dedupe::Last,
    );
    let history = TrainConfig::default().tower_config().history();
    let test = queries(&ds, Split::Test, &history);
    let n = ds.item_ids.len();
    let ranked = rank_popularity(&ds, &test);
    let all = metrics_of(n, &ranked, &test, |_| true);
    assert_eq!(all, evaluate_popularity(&ds, &test));
    let new = metrics_of(n, &ranked, &test, |q| !q.repeat);
    let rep = metrics_of(n, &ranked, &test, |q| q.repeat);
    assert!(new.users > 0 && rep.users > 0, "both parts present: {} new, {} repeats", new.users, rep.users);
    assert_eq!(new.users + rep.users, all.users);
    for (part, keep) in [(new, false), (rep, true)] {
        let own: Vec<_> = test.iter().filter(|q| q.repeat == keep).cloned().collect();
        assert_eq!(part, evaluate_popularity(&ds, &own), "repeat part {keep}");
    }
    let joined = (new.recall10 * new.users as f64 + rep.recall10 * rep.users as f64) / all.users as f64;
    assert!((joined - all.recall10).abs() < 1e-12 && all.recall10 > 0.0);

    let valid = queries(&ds, Split::Valid, &history);
    let (vs, ts) = (sample_queries(valid.clone(), 100, 9), sample_queries(test.clone(), 100, 9));
    assert_eq!((vs.len(), ts.len()), (100, 100));
    assert!(vs.iter().zip(&ts).all(|(v, t)| v.user == t.user), "the same users in both splits");
    assert!(vs.windows(2).all(|w| w[0].user < w[1].user), "user order kept");
    let other: Vec<usize> = sample_queries(valid.clone(), 100, 10).iter().map(|q| q.user).collect();
    assert_ne!(other, vs.iter().map(|q| q.user).collect::<Vec<_>>(), "the seed picks the sample");
    assert_eq!(sample_queries(valid.clone(), 0, 9).len(), valid.len(), "0: every user");
    assert_eq!(sample_queries(valid.clone(), valid.len(), 9).len(), valid.len());
}

#[test]
fn synthetic_model_beats_popularity_widely_and_int8_keeps_recall() {
    let ds = synthetic_dataset(&SyntheticConfig { items: 400, users: 900, ..SyntheticConfig::default() });
    let cfg = TrainConfig { dim: 32, epochs: 4, batch: 256, progress: false, ..TrainConfig::default() };
    let trained = train(&ds, &cfg);
    let test = queries(&ds, Split::Test, &trained.tower_config.history());
    let model = trained.user_model();
    let f32_items = trained.catalog(&ds);
    let tower = evaluate_model(&model, &f32_items, &test);
    let int8 = evaluate_model(&model, &f32_items.to_int8(), &test);
    let popularity = evaluate_popularity(&ds, &test);
    eprintln!(
        "synthetic test R@10: tower {:.4}, int8 {:.4}, popularity {:.4}",
        tower.recall10, int8.recall10, popularity.recall10
    );
    assert!(
        tower.recall10 >= 2.0 * popularity.recall10 && tower.recall10 >= popularity.recall10 + 0.1,
        "tower R@10 {:.4} vs popularity {:.4}",
        tower.recall10,
        popularity.recall10
    );
    assert!(
        (tower.recall10 - int8.recall10).abs() <= 0.01 * tower.recall10.max(0.05),
        "int8 {:.4} vs f32 {:.4}",
        int8.recall10,
        tower.recall10
    );
}

#[test]
fn training_is_seeded_and_reproducible() {
    let ds = synthetic_dataset(&SyntheticConfig { items: 150, users: 300, ..SyntheticConfig::default() });
    let cfg = TrainConfig { dim: 16, epochs: 2, batch: 128, progress: false, ..TrainConfig::default() };
    let (a, b) = (train(&ds, &cfg), train(&ds, &cfg));
    assert_eq!(a.item_table, b.item_table, "same seed, same item table (bit for bit)");
    let valid = |t: &localrec::train::Trained| t.log.iter().map(|e| (e.loss, e.valid.recall10)).collect::<Vec<_>>();
    assert_eq!(valid(&a), valid(&b));
    let other = train(&ds, &TrainConfig { seed: cfg.seed + 1, ..cfg.clone() });
    assert_ne!(a.item_table, other.item_table, "another seed gives another model");
    // The options that change training reach it: the same seed with each of them gives another
    // model.
    for (what, changed) in [
        ("no warm start", TrainConfig { warm_start: false, ..cfg.clone() }),
        ("whole-history warm start", TrainConfig { warm_window: 0, ..cfg.clone() }),
        ("per-user example weights", TrainConfig { user_weight: 0.5, ..cfg.clone() }),
        ("no memory gradient", TrainConfig { memory_grad: false, ..cfg.clone() }),
    ] {
        assert_ne!(a.item_table, train(&ds, &changed).item_table, "{what}");
    }
}

/// The warm start's co-occurrence embedding puts items bought by the same users near each other:
/// two groups of users, each buying from its own group of items, give vectors more alike within
/// a group than across.
#[test]
fn warm_start_embeds_co_bought_items_together() {
    use localrec::train::data::{build, RawInteraction, RawItem};
    let mut rng = Rng::new(5);
    let (per_group, users) = (30usize, 80usize);
    let mut interactions = Vec::new();
    for u in 0..users {
        let group = u % 2;
        for k in 0..12 {
            let item = group * per_group + rng.below(per_group as u64) as usize;
            interactions.push(RawInteraction {
                user: format!("u{u}"),
                item: format!("i{item}"),
                time: k as f64,
                kind: Kind::Purchase,
            });
        }
    }
    let items: Vec<RawItem> = (0..2 * per_group)
        .map(|i| RawItem { id: format!("i{i}"), title: format!("item {i}"), category: None })
        .collect();
    let ds = build("two groups", &interactions, &items).unwrap();
    let dim = 8;
    let e = localrec::train::warm::cooccurrence_vectors(&ds, dim, 0, 3);
    assert_eq!(e.len(), ds.item_ids.len() * dim);
    let group = |i: usize| ds.item_ids[i][1..].parse::<usize>().unwrap() / per_group;
    // Mean cosine similarity of item pairs in the same group and in different groups.
    let group_means = |v: &[f32]| {
        let cos = |a: usize, b: usize| {
            let (x, y) = (&v[a * dim..(a + 1) * dim], &v[b * dim..(b + 1) * dim]);
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            dot / (x.iter().map(|t| t * t).sum::<f32>().sqrt() * y.iter().map(|t| t * t).sum::<f32>().sqrt())
        };
        let (mut within, mut across) = (Vec::new(), Vec::new());
        for a in 0..ds.item_ids.len() {
            for b in a + 1..ds.item_ids.len() {
                if group(a) == group(b) {
                    within.push(cos(a, b))
                } else {
                    across.push(cos(a, b))
                }
            }
        }
        assert!(!within.is_empty() && !across.is_empty());
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        (mean(&within), mean(&across))
    };
    let (within, across) = group_means(&e);
    assert!(within > across + 0.5, "within {within:.3}, across {across:.3}");
    for row in e.chunks(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - (dim as f32).sqrt()).abs() < 1e-3, "row length {norm}");
    }
    // Windows shorter than the histories (12 pairs, windows of 4 every 2): each window stays
    // inside one group, so the groups stay apart.
    let w = localrec::train::warm::cooccurrence_vectors(&ds, dim, 4, 3);
    assert_ne!(w, e, "the window changes the counts");
    let (within, across) = group_means(&w);
    assert!(within > across + 0.3, "windows: within {within:.3}, across {across:.3}");
}

/// Per-user example weights: 1 for every example at β = 0; otherwise heavier users weigh less per
/// example and the mean over all training examples stays 1.
#[test]
fn user_weights_favour_light_users_and_keep_the_mean() {
    use localrec::train::trainer::user_weights;
    let ds = synthetic_dataset(&SyntheticConfig { items: 150, users: 300, ..SyntheticConfig::default() });
    assert!(user_weights(&ds, 0.0).iter().all(|&w| w == 1.0));
    let w = user_weights(&ds, 0.5);
    let n: Vec<usize> = ds.users.iter().map(|u| u.train_indices().len()).collect();
    let mean = n.iter().zip(&w).map(|(&n, &w)| n as f64 * w as f64).sum::<f64>() / n.iter().sum::<usize>() as f64;
    assert!((mean - 1.0).abs() < 1e-5, "mean weight {mean}");
    let (light, heavy) =
        (0..n.len()).fold((0, 0), |(l, h), u| (if n[u] < n[l] { u } else { l }, if n[u] > n[h] { u } else { h }));
    assert!(
        n[light] < n[heavy] && w[light] > w[heavy],
        "n {} -> {}, n {} -> {}",
        n[light],
        w[light],
        n[heavy],
        w[heavy]
    );
}

/// Without the memory's gradient (`--no-memory-grad`, the path that scales to large catalogs)
/// the memory is the browser's sparse sum, and the model still learns the shop.
#[test]
fn training_without_the_memory_gradient_still_learns() {
    let ds = synthetic_dataset(&SyntheticConfig { items: 400, users: 900, ..SyntheticConfig::default() });
    let cfg = TrainConfig {
        dim: 32,
        epochs: 3,
        batch: 256,
        memory: 50,
        memory_grad: false,
        progress: false,
        ..TrainConfig::default()
    };
    let trained = train(&ds, &cfg);
    assert_eq!(trained.tower_config.memory, 50);
    let test = queries(&ds, Split::Test, &trained.tower_config.history());
    let tower = evaluate_model(&trained.user_model(), &trained.catalog(&ds), &test);
    let popularity = evaluate_popularity(&ds, &test);
    assert!(
        tower.recall10 >= 1.5 * popularity.recall10 && tower.recall10 >= popularity.recall10 + 0.05,
        "tower R@10 {:.4} vs popularity {:.4}",
        tower.recall10,
        popularity.recall10
    );
}

fn exported_model(dir: &std::path::Path) -> localrec::UserModel {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    localrec::UserModel::from_bytes(&read("tower.json"), &read("tower.bin")).unwrap()
}

/// Today's exporter, not only the committed artifacts: a freshly trained model exported to disk
/// decodes back into the same catalog (f32 bit for bit, int8 as quantized) and the same tower
/// (the embeddings of several histories within 1e-5), its manifest passes the browser's checks with
/// the files' true sizes and digests, and items.json matches its catalog.
#[test]
fn the_exporter_round_trips_into_the_same_model_and_catalog() {
    use localrec::manifest::{ItemsJson, Manifest};
    use localrec::{Catalog, UserModel};
    let ds = synthetic_dataset(&SyntheticConfig { items: 120, users: 250, ..SyntheticConfig::default() });
    let cfg = TrainConfig { dim: 16, epochs: 1, batch: 128, progress: false, ..TrainConfig::default() };
    let trained = train(&ds, &cfg);
    let dir = std::env::temp_dir().join(format!("localrec-export-roundtrip-{}", std::process::id()));
    let valid = queries(&ds, Split::Valid, &trained.tower_config.history());
    let test = queries(&ds, Split::Test, &trained.tower_config.history());
    let int8 = trained.catalog(&ds).to_int8();
    let cfg = StageTrainConfig { epochs: 2, hidden_grid: vec![4], ..Default::default() };
    let stage = train_stage(&ds, &trained.user_model(), &int8, &valid, &test, &cfg, false);
    let pq = trained.catalog(&ds).to_rotated_pq(localrec::catalog::pq::default_subspaces(16), 1).unwrap();
    let pca = trained.catalog(&ds).to_projected_int8(4).unwrap();
    let tables =
        |pq, pq_from_items, compact| localrec::train::export::CompactTables { pq, pca: &pca, pq_from_items, compact };
    let manifest =
        localrec::train::export::export(&ds, &trained, &dir, Some(&stage.ranker), &tables(&pq, usize::MAX, "items-pq"))
            .unwrap();
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    // The ranking stage decodes to what was trained (its weights at the file's bf16 precision) and
    // carries the self-check the browser runs.
    let ranker = localrec::rerank::RankingStage::decode(&read("ranker.bin")).unwrap();
    assert_eq!(ranker.scorer, stage.ranker.scorer);
    assert_eq!(ranker.neighbours, stage.ranker.neighbours);
    assert_eq!(ranker.check.as_ref().unwrap().expected.len(), 10);
    assert!(manifest.files.iter().any(|f| f.role == "ranker" && f.name == "ranker.bin"));

    let parsed = Manifest::parse(&read("manifest.json")).unwrap();
    assert_eq!(parsed, manifest, "the browser reads back what the trainer wrote");
    for f in &parsed.files {
        let bytes = read(&f.name);
        assert_eq!(f.bytes, bytes.len() as u64, "{}", f.name);
        assert_eq!(f.sha256, localrec::train::export::sha256_hex(&bytes), "{}", f.name);
    }

    let f32_items = Catalog::decode(&read("items.f32.lrc")).unwrap();
    assert_eq!(f32_items, trained.catalog(&ds), "the f32 table decodes to the trained one");
    let int8_items = Catalog::decode(&read("items.int8.lrc")).unwrap();
    assert_eq!(int8_items, trained.catalog(&ds).to_int8());
    assert_eq!(Catalog::decode(&read("items.pq.lrc")).unwrap(), pq);
    let pca_read = Catalog::decode(&read("items.pca.lrc")).unwrap();
    assert_eq!(pca_read, pca);
    assert_eq!((pca_read.precision(), pca_read.dim(), pca_read.stored_dim()), ("pca", 16, 4));
    // From the threshold on, pq is the export's default table: no int8 file, and the ranking
    // stage's self-check is computed over pq, as the browser will run it.
    let large = dir.join("large");
    // ...with the pq table's refine plane, when the table carries one, in a file of its own.
    let plane = localrec::catalog::PqResidual::learn(&pq, &trained.catalog(&ds), 9).unwrap();
    let refined = pq.clone().with_residual(plane.clone()).unwrap();
    let m = localrec::train::export::export(
        &ds,
        &trained,
        &large,
        Some(&stage.ranker),
        &tables(&refined, ds.item_ids.len(), "items-pq"),
    )
    .unwrap();
    let roles: Vec<&str> = m.files.iter().map(|f| f.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "tower-config",
            "tower-weights",
            "items-f32",
            "items-pca",
            "items-pq",
            "item-metadata",
            "item-metadata-lrc",
            "items-pq-refine",
            "ranker"
        ]
    );
    let pq_read = Catalog::decode(&std::fs::read(large.join("items.pq.lrc")).unwrap()).unwrap();
    assert_eq!(pq_read, pq, "the pq file holds the plain table");
    let plane_read =
        localrec::catalog::PqResidual::decode(&std::fs::read(large.join("items.pq.refine.lrc")).unwrap()).unwrap();
    assert_eq!(plane_read, plane);
    assert_eq!(pq_read.with_residual(plane_read).unwrap(), refined);
    assert_eq!(m.compact_table.as_deref(), Some("items-pq"));
    // The compact table the trainer picked on validation is the manifest's, and the ranking stage's
    // self-check runs over it (the export checks it through the browser's path before writing).
    let pca_dir = large.join("pca");
    let export = |compact: &'static str| {
        localrec::train::export::export(
            &ds,
            &trained,
            &pca_dir,
            Some(&stage.ranker),
            &tables(&refined, ds.item_ids.len(), compact),
        )
    };
    let mp = export("items-pca").unwrap();
    assert_eq!(mp.compact_table.as_deref(), Some("items-pca"));
    assert_eq!(Manifest::parse(&std::fs::read(pca_dir.join("manifest.json")).unwrap()).unwrap(), mp);
    assert_eq!(mp.entries(&["items-int8|items-pq|items-pca".to_string()]).unwrap()[0].role, "items-pca");
    assert!(export("items-f32").unwrap_err().contains("compact table"));
    assert_eq!(localrec::train::export::compact_choice(0.2, 0.3), "items-pca");
    assert_eq!(localrec::train::export::compact_choice(0.3, 0.3), "items-pq");
    let shipped = localrec::rerank::RankingStage::decode(&std::fs::read(large.join("ranker.bin")).unwrap()).unwrap();
    let mut rec = localrec::Recommender::new(std::rc::Rc::new(pq.clone()), exported_model(&large)).unwrap();
    rec.set_ranking_stage(Some(std::rc::Rc::new(shipped))).unwrap();
    let check = rec.check_ranking_stage().unwrap().unwrap();
    assert!(check.same_rows && check.max_score_diff <= 1e-6, "{check:?}");
    let json = ItemsJson::parse(&read("items.json")).unwrap();
    json.check_against(&f32_items).unwrap();
    // The compact metadata says what items.json says, by row.
    let compact = localrec::catalog::meta::ItemMeta::decode(&read("items.meta.lrc")).unwrap();
    compact.check_against(&f32_items).unwrap();
    assert_eq!(compact.categories(), &json.categories[..]);
    let popular: Vec<&str> = compact.popular().iter().map(|&r| f32_items.id(r)).collect();
    assert_eq!(popular, json.popular);
    for it in &json.items {
        assert_eq!(compact.title(f32_items.row_of(&it.id).unwrap() as usize), Some(it.title.as_str()));
    }
    assert!(read("items.meta.lrc").len() * 2 < read("items.json").len(), "the compact file is not compact");

    let mut exported = UserModel::from_bytes(&read("tower.json"), &read("tower.bin")).unwrap();
    let mut original = trained.user_model();
    let mut rng = Rng::new(3);
    for n in [1usize, 4, 30] {
        let events: Vec<Event> = (0..n)
            .map(|k| Event {
                item: rng.below(120) as u32,
                kind: Kind::from_code((k % 3) as u8).unwrap(),
                time: 10.0 * k as f64,
            })
            .collect();
        let (a, b) = (exported.embed(&f32_items, &events).unwrap(), original.embed(&f32_items, &events).unwrap());
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff <= 1e-5, "history of {n}: the exported tower differs by {diff}");
    }
    let check = exported.self_check(&f32_items).unwrap().expect("the export carries a self-check");
    assert!(check <= 1e-5, "self-check {check}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The second stage on the synthetic shop: it beats the tower it re-ranks and the tuned item-kNN on
/// the same split, the evaluation ranks exactly as the browser's recommender does (the same code
/// path, compared query by query), and EASE's solve is an inverse.
#[test]
fn the_ranking_stage_beats_its_inputs_and_ranks_as_the_browser_does() {
    use localrec::recommender::{RecommendOptions, Recommender};
    use std::rc::Rc;
    let ds = synthetic_dataset(&SyntheticConfig { items: 400, users: 900, ..SyntheticConfig::default() });
    let cfg = TrainConfig { dim: 32, epochs: 4, batch: 256, progress: false, ..TrainConfig::default() };
    let trained = train(&ds, &cfg);
    let history = trained.tower_config.history();
    let (valid, test) = (queries(&ds, Split::Valid, &history), queries(&ds, Split::Test, &history));
    let model = trained.user_model();
    let int8 = trained.catalog(&ds).to_int8();
    let tower = evaluate_model(&model, &int8, &test);
    let stage_cfg = StageTrainConfig { epochs: 8, ..StageTrainConfig::default() };
    let stage = train_stage(&ds, &model, &int8, &valid, &test, &stage_cfg, false);
    let row =
        |prefix: &str| stage.rows.iter().find(|r| r.0.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}")).2;
    let two = row("two-stage");
    let knn = row("item-kNN");
    for r in &stage.rows {
        eprintln!("{:<60} test R@10 {:.4} NDCG@10 {:.4}", r.0, r.2.recall10, r.2.ndcg10);
    }
    eprintln!("tower (int8) test R@10 {:.4}", tower.recall10);
    assert!(
        two.recall10 > tower.recall10 && two.recall10 > knn.recall10,
        "two-stage {:.4}, tower {:.4}, kNN {:.4}",
        two.recall10,
        tower.recall10,
        knn.recall10
    );

    // Parity: the browser's path (Recommender) returns the evaluation's top 10 for test users.
    let vectors = localrec::train::eval::query_vectors(&model, &int8, &test[..60]);
    let feats = query_features(&stage.ranker, &int8, &test[..60], &vectors);
    let catalog = Rc::new(int8.clone());
    let mut rec = Recommender::new(catalog, model).unwrap();
    rec.set_ranking_stage(Some(Rc::new(stage.ranker.clone()))).unwrap();
    let mut same = 0;
    for (q, f) in test[..60].iter().zip(&feats) {
        let mut scored: Vec<(f32, u32)> =
            f.candidates.iter().map(|c| (stage.ranker.scorer.score(&c.features), c.row)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let expected: Vec<u32> = scored.iter().take(10).map(|s| s.1).collect();
        rec.set_history(&q.events).unwrap();
        let got: Vec<u32> = rec
            .recommend(&RecommendOptions { k: 10, exclude_seen: true, ..Default::default() })
            .unwrap()
            .iter()
            .map(|r| r.index)
            .collect();
        same += usize::from(got == expected);
    }
    // The tower's embedding is computed by a batched and a single-history path, equal to ~1e-6:
    // a near-tie may swap; anything more is a divergence.
    assert!(same >= 58, "{same} of 60 test users ranked identically");
    let m = evaluate_features(&stage.ranker.scorer, &feats, &test[..60], ds.item_ids.len());
    assert!(m.users == 60);
}

/// The synthetic shop never gives two items the same title (a visitor would read two equal titles in
/// one list as a duplicate recommendation), at the demo's size and at ten times it.
#[test]
fn synthetic_titles_are_unique() {
    for items in [2000, 20_000] {
        let (_, raw) = localrec::train::synthetic::generate(&SyntheticConfig { items, ..SyntheticConfig::default() });
        let mut titles: Vec<&str> = raw.iter().map(|it| it.title.as_str()).collect();
        assert_eq!(titles.len(), items);
        titles.sort_unstable();
        let dup = titles.windows(2).find(|w| w[0] == w[1]);
        assert!(dup.is_none(), "{dup:?} at {items} items");
        assert!(titles.iter().any(|t| t.contains(" No. ")), "repeats are numbered");
    }
}
