//! The user tower, natively and in headless browsers (`wasm-pack test`): the batch path the
//! trainer and the evaluation use and the one-history path the browser uses give the same
//! embedding for the same history; bad configs and weights are typed errors.

mod common;

use localrec::catalog::synthetic::random_unit;
use localrec::model::{
    encode_history, tower_weights, Event, HistoryConfig, Kind, TowerFile, UserModel, UserTowerConfig, TOWER_FORMAT,
    TOWER_VERSION,
};
use localrec::rng::Rng;
use localrec::Error;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn tower_file(config: UserTowerConfig) -> TowerFile {
    TowerFile { format: TOWER_FORMAT.into(), version: TOWER_VERSION, config, check: None }
}

/// A randomly initialised tower, round-tripped through its files as a browser would load it.
fn random_model(dim: usize, max_len: usize, seed: u64) -> (TowerFile, Vec<u8>) {
    random_model_with(UserTowerConfig::new(dim).with_max_len(max_len), seed)
}

fn random_model_with(config: UserTowerConfig, seed: u64) -> (TowerFile, Vec<u8>) {
    let device = localrec::model::inference_device();
    device.seed(seed);
    let tower = config.init(&device);
    (tower_file(config), tower_weights(tower).unwrap())
}

fn random_history(rng: &mut Rng, n: usize, items: u32) -> Vec<Event> {
    let kinds = [Kind::View, Kind::Cart, Kind::Purchase];
    let mut t = 1_700_000_000.0;
    (0..n)
        .map(|_| {
            // Some equal times (baskets), some repeats.
            if rng.below(3) > 0 {
                t += rng.below(100_000) as f64;
            }
            Event { item: rng.below(items as u64) as u32, kind: kinds[rng.below(3) as usize], time: t }
        })
        .collect()
}

#[test]
fn batch_path_and_single_history_path_agree() {
    let seed = common::base_seed();
    let mut rng = Rng::new(seed);
    let catalog = random_unit(300, 16, 0, seed);
    let table: Vec<f32> = (0..catalog.len() as u32).flat_map(|r| catalog.vector(r)).collect();
    // Histories of very different lengths: the batch pads the short ones.
    let histories: Vec<Vec<Event>> = [1usize, 3, 12, 40, 7].iter().map(|&n| random_history(&mut rng, n, 300)).collect();
    // Both skip variants (the dense matrix and the per-head gates), with and without a memory.
    for (diagonal, memory) in [(false, 0), (true, 0), (false, 30), (true, 30)] {
        let config =
            UserTowerConfig::new(16).with_max_len(12).with_heads(2).with_diagonal_skip(diagonal).with_memory(memory);
        let cfg: HistoryConfig = config.history();
        let encoded: Vec<_> = histories.iter().map(|h| encode_history(h, &cfg).unwrap()).collect();
        assert_eq!(encoded[3].memory_items.is_empty(), memory == 0);
        let (file, weights) = random_model_with(config, seed);
        let mut model = UserModel::from_bytes(file.to_json().as_bytes(), &weights).unwrap();
        let batch = model.embed_batch(&table, &encoded);
        for (i, h) in histories.iter().enumerate() {
            let single = model.embed(&catalog, h).unwrap();
            let norm: f32 = single.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "seed {seed}: embedding not unit: {norm}");
            for (a, b) in single.iter().zip(&batch[i * 16..(i + 1) * 16]) {
                assert!(
                    (a - b).abs() <= 1e-5,
                    "seed {seed} diagonal {diagonal} memory {memory} history {i}: single {a} vs batch {b}"
                );
            }
        }
    }
}

#[test]
fn parameter_counts_and_skip_variants() {
    use burn::module::Module;
    let device = localrec::model::inference_device();
    for (diagonal, memory) in [(false, 0), (true, 0), (false, 40), (true, 40)] {
        let config =
            UserTowerConfig::new(24).with_heads(3).with_max_len(10).with_diagonal_skip(diagonal).with_memory(memory);
        assert_eq!(config.num_params(), config.init(&device).num_params(), "diagonal {diagonal} memory {memory}");
    }
    // The default Online Retail II tower stays within the 300 KB weight budget.
    let wide = UserTowerConfig::new(384)
        .with_heads(2)
        .with_attention_hidden(24)
        .with_hidden(16)
        .with_max_len(20)
        .with_diagonal_skip(true)
        .with_memory(200);
    assert_eq!(wide.num_params(), 64_218);
    assert!(wide.num_params() * 4 <= 300 * 1024, "{} parameters", wide.num_params());
    // A tower.json written before the gates and the memory existed reads as the dense skip and
    // no memory.
    let (file, weights) = random_model(16, 8, 3);
    let old = file
        .to_json()
        .replace(",\n    \"diagonal_skip\": false", "")
        .replace(",\n    \"memory\": 0", "")
        .replace(",\n    \"memory_decay\": 0.97", "");
    assert!(!old.contains("diagonal_skip") && !old.contains("memory"), "{old}");
    let config = TowerFile::from_json(old.as_bytes()).unwrap().config;
    assert!(!config.diagonal_skip && config.memory == 0);
    UserModel::from_bytes(old.as_bytes(), &weights).unwrap();
    // Weights of one variant do not load into the other.
    let gated = file.to_json().replace("\"diagonal_skip\": false", "\"diagonal_skip\": true");
    assert!(matches!(UserModel::from_bytes(gated.as_bytes(), &weights).unwrap_err(), Error::InvalidWeights(_)));
}

#[test]
fn history_order_and_recency_change_the_embedding() {
    let seed = common::base_seed() ^ 1;
    let catalog = random_unit(50, 16, 0, seed);
    let (file, weights) = random_model(16, 50, seed);
    let mut model = UserModel::from_bytes(file.to_json().as_bytes(), &weights).unwrap();
    let ev = |item, time| Event { item, kind: Kind::View, time };
    let a = model.embed(&catalog, &[ev(1, 0.0), ev(2, 10.0)]).unwrap();
    let b = model.embed(&catalog, &[ev(2, 0.0), ev(1, 10.0)]).unwrap();
    let c = model.embed(&catalog, &[ev(1, 0.0), ev(2, 100_000.0)]).unwrap();
    let differs = |x: &[f32], y: &[f32]| x.iter().zip(y).any(|(p, q)| (p - q).abs() > 1e-4);
    assert!(differs(&a, &b), "order must matter");
    assert!(differs(&a, &c), "recency must matter");
    // Same history, same answer.
    assert_eq!(a, model.embed(&catalog, &[ev(1, 0.0), ev(2, 10.0)]).unwrap());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let seed = common::base_seed() ^ 2;
    let catalog = random_unit(20, 16, 0, seed);
    let (file, weights) = random_model(16, 8, seed);
    let json = file.to_json();
    let mut model = UserModel::from_bytes(json.as_bytes(), &weights).unwrap();
    assert_eq!(model.embed(&catalog, &[]).unwrap_err(), Error::EmptyHistory);
    let far = Event { item: 99, kind: Kind::View, time: 0.0 };
    assert!(matches!(model.embed(&catalog, &[far]).unwrap_err(), Error::IndexOutOfRange { index: 99, .. }));
    let nan = Event { item: 1, kind: Kind::View, time: f64::NAN };
    assert!(matches!(model.embed(&catalog, &[nan]).unwrap_err(), Error::NonFiniteTime(_)));
    let other_dim = random_unit(20, 8, 0, seed);
    let ok = Event { item: 1, kind: Kind::View, time: 0.0 };
    assert!(matches!(model.embed(&other_dim, &[ok]).unwrap_err(), Error::TowerCatalogMismatch { .. }));

    // Config: malformed, wrong format, wrong version, impossible sizes.
    for bad in [
        "{".to_string(),
        json.replace(TOWER_FORMAT, "something-else"),
        json.replace(&format!("\"version\": {TOWER_VERSION}"), "\"version\": 99"),
        json.replace(&format!("\"version\": {TOWER_VERSION}"), "\"version\": 0"),
        json.replace("\"heads\": 4", "\"heads\": 0"),
        json.replace("\"memory_decay\": 0.97", "\"memory_decay\": 0.0"),
    ] {
        assert!(
            matches!(UserModel::from_bytes(bad.as_bytes(), &weights).unwrap_err(), Error::InvalidModelConfig(_)),
            "{bad}"
        );
    }
    // Weights: truncated, garbage, or trained for another architecture.
    assert!(matches!(
        UserModel::from_bytes(json.as_bytes(), &weights[..weights.len() / 2]).unwrap_err(),
        Error::InvalidWeights(_)
    ));
    assert!(matches!(UserModel::from_bytes(json.as_bytes(), b"not a burnpack").unwrap_err(), Error::InvalidWeights(_)));
    let (_, other_weights) = random_model(16, 9, seed);
    assert!(matches!(UserModel::from_bytes(json.as_bytes(), &other_weights).unwrap_err(), Error::InvalidWeights(_)));
}
