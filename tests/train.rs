//! The trainer on the built-in synthetic shop (feature `train`): the model must recover the
//! shop's structure, beating popularity by a wide margin, and the int8 item table must keep its
//! quality.
#![cfg(all(feature = "train", not(target_arch = "wasm32")))]

use burn::tensor::{Tensor, TensorData};
use localrec::model::{encode_history, inference_device, tensor_to_vec, Event, HistoryBatch, HistoryConfig, Kind};
use localrec::rng::Rng;
use localrec::train::eval::{evaluate_model, evaluate_popularity, queries};
use localrec::train::trainer::memory_matrix;
use localrec::train::{synthetic_dataset, train, Split, SyntheticConfig, TrainConfig};

/// The trainer's memory (a dense weight matrix times the item table) and the browser's (a weighted
/// sum of catalogue rows) are the same vectors.
#[test]
fn trainer_and_browser_compute_the_same_memory() {
    let (items, dim) = (60usize, 8usize);
    let mut rng = Rng::new(11);
    let table: Vec<f32> = (0..items * dim).map(|_| rng.below(2001) as f32 / 1000.0 - 1.0).collect();
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
    let trainer =
        tensor_to_vec(memory_matrix(&batch, Tensor::from_data(TensorData::new(table.clone(), [items, dim]), &device)));
    assert_eq!(browser.len(), trainer.len());
    for (k, (a, b)) in browser.iter().zip(&trainer).enumerate() {
        assert!((a - b).abs() <= 1e-5, "value {k}: browser {a}, trainer {b}");
    }
    assert!(browser.iter().any(|v| v.abs() > 0.01), "the memories are not all zero");
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
}
