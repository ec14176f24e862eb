//! The trainer on the built-in synthetic shop (feature `train`): the model must recover the
//! shop's structure, beating popularity by a wide margin, and the int8 item table must keep its
//! quality.
#![cfg(all(feature = "train", not(target_arch = "wasm32")))]

use localrec::train::eval::{evaluate_model, evaluate_popularity, queries};
use localrec::train::{synthetic_dataset, train, Split, SyntheticConfig, TrainConfig};

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
}
