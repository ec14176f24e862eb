//! The user tower, natively and in headless browsers (`wasm-pack test`): the batch path the
//! trainer and the evaluation use and the one-history path the browser uses give the same
//! embedding for the same history; `tower.bin` round-trips a trained tower exactly; bad configs and
//! weights (every way a `tower.bin` can be damaged) are typed errors, never a panic.

mod common;

use burn::tensor::{Tensor, TensorData};
use localrec::catalog::synthetic::random_unit;
use localrec::model::{
    encode_history, load_user_tower, tensor_to_vec, tower_params, tower_weights, Event, HistoryBatch, HistoryConfig,
    Kind, TowerFile, TowerNet, UserModel, UserTower, UserTowerConfig, TOWER_FORMAT, TOWER_VERSION, WEIGHTS_MAGIC,
    WEIGHTS_VERSION,
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

/// On a table stored on principal axes (rotated pq, pca) the one-history path, which sums the
/// memory on the stored axes and reads it back once, gives the batch path's embedding over the rows
/// read back one by one.
#[test]
fn projected_tables_embed_like_their_rows_read_back() {
    let seed = common::base_seed() ^ 0x77;
    let mut rng = Rng::new(seed);
    let full = random_unit(300, 16, 0, seed);
    let histories: Vec<Vec<Event>> = [2usize, 12, 40].iter().map(|&n| random_history(&mut rng, n, 300)).collect();
    let config = UserTowerConfig::new(16).with_max_len(12).with_heads(2).with_diagonal_skip(true).with_memory(30);
    let cfg: HistoryConfig = config.history();
    let encoded: Vec<_> = histories.iter().map(|h| encode_history(h, &cfg).unwrap()).collect();
    let (file, weights) = random_model_with(config, seed);
    let mut model = UserModel::from_bytes(file.to_json().as_bytes(), &weights).unwrap();
    for catalog in [full.to_projected_int8(6).unwrap(), full.to_rotated_pq(8, 1).unwrap()] {
        let table: Vec<f32> = (0..catalog.len() as u32).flat_map(|r| catalog.vector(r)).collect();
        let batch = model.embed_batch(&table, &encoded);
        for (i, h) in histories.iter().enumerate() {
            let single = model.embed(&catalog, h).unwrap();
            for (a, b) in single.iter().zip(&batch[i * 16..(i + 1) * 16]) {
                assert!((a - b).abs() <= 1e-4, "seed {seed} {} history {i}: {a} vs {b}", catalog.precision());
            }
        }
    }
}

/// The shapes of a tower's float parameters, in [`Module::visit`] order.
fn param_shapes_of(tower: localrec::model::UserTower) -> Vec<Vec<usize>> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Shapes(Vec<Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    tower.visit(&mut shapes);
    shapes.0
}

#[test]
fn parameter_counts_and_skip_variants() {
    use burn::module::Module;
    let device = localrec::model::inference_device();
    for (diagonal, memory) in [(false, 0), (true, 0), (false, 40), (true, 40)] {
        let config =
            UserTowerConfig::new(24).with_heads(3).with_max_len(10).with_diagonal_skip(diagonal).with_memory(memory);
        assert_eq!(config.num_params(), config.init(&device).num_params(), "diagonal {diagonal} memory {memory}");
        // The shapes `tower.bin` is checked against (the loader builds the tower from them, without
        // `init`) are those of `init`'s parameters, in visit order.
        let shapes = config.param_shapes();
        assert_eq!(shapes, param_shapes_of(config.init(&device)), "diagonal {diagonal} memory {memory}");
        assert_eq!(shapes.iter().map(|s| s.iter().product::<usize>()).sum::<usize>(), config.num_params());
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
    assert!(matches!(
        UserModel::from_bytes(json.as_bytes(), b"not a weights file").unwrap_err(),
        Error::InvalidWeights(_)
    ));
    let (_, other_weights) = random_model(16, 9, seed);
    assert!(matches!(UserModel::from_bytes(json.as_bytes(), &other_weights).unwrap_err(), Error::InvalidWeights(_)));
}

/// A tower written to `tower.bin` and read back is the same tower: the same bytes when written
/// again, the same embeddings (the trainer's module, run by the browser's forward pass, against the
/// file's weights).
fn assert_round_trip(file: &TowerFile, tower: &UserTower, seed: u64) {
    let dim = file.config.dim;
    let catalog = random_unit(120, dim, 0, seed);
    let mut rng = Rng::new(seed ^ 9);
    let weights = tower_weights(tower.clone()).unwrap();
    let json = file.to_json();
    let reread = load_user_tower(json.as_bytes(), &weights, &localrec::model::inference_device()).unwrap();
    assert_eq!(tower_weights(reread).unwrap(), weights);
    let mut original = UserModel::from_tower(file.clone(), tower);
    let mut loaded = UserModel::from_bytes(json.as_bytes(), &weights).unwrap();
    for n in [1usize, 4, 15, 60] {
        let history = random_history(&mut rng, n, 120);
        assert_eq!(original.embed(&catalog, &history).unwrap(), loaded.embed(&catalog, &history).unwrap(), "n {n}");
    }
}

#[test]
fn weights_round_trip_exactly() {
    let seed = common::base_seed() ^ 3;
    for (diagonal, memory) in [(false, 0), (true, 20)] {
        let config =
            UserTowerConfig::new(16).with_max_len(10).with_heads(2).with_diagonal_skip(diagonal).with_memory(memory);
        let device = localrec::model::inference_device();
        device.seed(seed);
        let file = tower_file(config);
        let tower = file.config.init(&device);
        assert_round_trip(&file, &tower, seed);
    }
}

/// A tower rounded to half precision (what the trainer ships) is written with IEEE halves, two
/// bytes a weight fewer, and reads back exactly; it embeds close to the tower it was rounded from.
#[test]
fn a_tower_rounded_to_halves_is_written_in_half_the_bytes_and_reads_back_exactly() {
    let seed = common::base_seed() ^ 5;
    let config = UserTowerConfig::new(16).with_max_len(10).with_heads(2).with_diagonal_skip(true).with_memory(20);
    let device = localrec::model::inference_device();
    device.seed(seed);
    let file = tower_file(config.clone());
    let tower = config.init(&device);
    let rounded = localrec::model::round_to_f16(&config, &tower, &device);
    let (full, half) = (tower_weights(tower.clone()).unwrap(), tower_weights(rounded.clone()).unwrap());
    let version = |b: &[u8]| u32::from_le_bytes(b[4..8].try_into().unwrap());
    assert_eq!((version(&full), version(&half)), (WEIGHTS_VERSION, localrec::model::WEIGHTS_VERSION_F16));
    assert_eq!(full.len() - half.len(), 2 * config.num_params(), "two bytes fewer a weight");
    assert_round_trip(&file, &rounded, seed);
    let catalog = random_unit(120, 16, 0, seed);
    let mut rng = Rng::new(seed);
    let (mut a, mut b) = (UserModel::from_tower(file.clone(), &tower), UserModel::from_tower(file.clone(), &rounded));
    let mut largest = 0f32;
    for n in [1usize, 5, 30] {
        let history = random_history(&mut rng, n, 120);
        let (u, v) = (a.embed(&catalog, &history).unwrap(), b.embed(&catalog, &history).unwrap());
        largest = u.iter().zip(&v).map(|(x, y)| (x - y).abs()).fold(largest, f32::max);
    }
    assert!(largest > 0.0 && largest < 5e-3, "the rounded tower moves a unit user vector by {largest}");
    // A half-precision file whose values are not finite is refused like an f32 one.
    let mut bad = half.clone();
    let at = bad.len() - 2;
    bad[at..].copy_from_slice(&0x7c00u16.to_le_bytes());
    assert!(matches!(UserModel::from_bytes(file.to_json().as_bytes(), &bad).unwrap_err(), Error::InvalidWeights(_)));
}

/// The same with towers the trainer trained (both skip variants, with and without a memory).
#[cfg(all(feature = "train", not(target_arch = "wasm32")))]
#[test]
fn trained_weights_round_trip_exactly() {
    use localrec::train::{synthetic_dataset, train, SyntheticConfig, TrainConfig};
    let seed = common::base_seed() ^ 4;
    let ds = synthetic_dataset(&SyntheticConfig { items: 120, users: 150, ..SyntheticConfig::default() });
    for (diagonal_skip, memory) in [(false, 0), (true, 20)] {
        let cfg = TrainConfig {
            dim: 16,
            heads: 2,
            attention_hidden: 8,
            hidden: 16,
            max_len: 10,
            diagonal_skip,
            memory,
            epochs: 1,
            batch: 64,
            progress: false,
            seed,
            ..TrainConfig::default()
        };
        let trained = train(&ds, &cfg);
        let file = tower_file(trained.tower_config.clone());
        assert_round_trip(&file, &trained.user, seed);
    }
}

/// The header of a `tower.bin`: `(rank, dims)` of each tensor, and where the values start.
fn header(weights: &[u8]) -> (Vec<Vec<u32>>, usize) {
    let word = |at: usize| u32::from_le_bytes(weights[at..at + 4].try_into().unwrap());
    let mut at = 12;
    let mut shapes = Vec::new();
    for _ in 0..word(8) {
        let rank = word(at) as usize;
        shapes.push((0..rank).map(|k| word(at + 4 + 4 * k)).collect());
        at += 4 + 4 * rank;
    }
    (shapes, at)
}

/// A `tower.bin` with the given header and these values (count, ranks and dims as given).
fn build(shapes: &[Vec<u32>], values: &[u8]) -> Vec<u8> {
    let mut out = WEIGHTS_MAGIC.to_vec();
    out.extend(WEIGHTS_VERSION.to_le_bytes());
    out.extend((shapes.len() as u32).to_le_bytes());
    for s in shapes {
        out.extend((s.len() as u32).to_le_bytes());
        s.iter().for_each(|d| out.extend(d.to_le_bytes()));
    }
    out.extend(values);
    out
}

#[test]
fn damaged_weights_are_typed_errors() {
    let (file, weights) = random_model_with(UserTowerConfig::new(8).with_max_len(6).with_heads(2).with_hidden(8), 5);
    let json = file.to_json();
    let load = |w: &[u8]| UserModel::from_bytes(json.as_bytes(), w);
    let rejects = |w: &[u8], needle: &str| match load(w) {
        Err(Error::InvalidWeights(msg)) => assert!(msg.contains(needle), "{msg:?} should mention {needle:?}"),
        other => panic!("expected InvalidWeights mentioning {needle:?}, got {other:?}"),
    };
    load(&weights).unwrap();
    let (shapes, values_at) = header(&weights);
    assert_eq!(shapes.len(), 13);
    assert_eq!(weights[..4], *b"LRTW");
    let values = &weights[values_at..];

    // Truncated: inside the magic, the version, the count, a rank, a dim, the values; one byte short.
    for cut in [0, 2, 6, 10, 13, 18, values_at, values_at + 3, weights.len() / 2, weights.len() - 1] {
        assert!(matches!(load(&weights[..cut]).unwrap_err(), Error::InvalidWeights(_)), "cut at {cut}");
    }
    rejects(&weights[..6], "truncated");
    rejects(&weights[..weights.len() - 1], "its header describes");
    // One byte too many.
    let mut longer = weights.clone();
    longer.push(0);
    rejects(&longer, "its header describes");
    // Another file: bad magic.
    let mut other = weights.clone();
    other[0] = b'X';
    rejects(&other, "not a localrec weights file (tower.bin): bad magic");
    rejects(b"not a weights file", "bad magic");
    // The start of a Burn weights file (what `tower.bin` replaced).
    rejects(b"NRUB\x01\x00\xd1\x03\x00\x00\xa1gtens", "bad magic");
    // A version this build does not read; an f32 file relabelled as halves (twice the bytes).
    let mut v3 = weights.clone();
    v3[4..8].copy_from_slice(&3u32.to_le_bytes());
    rejects(&v3, "format version 3");
    let mut v2 = weights.clone();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    rejects(&v2, "its header describes");
    // A tensor fewer, a tensor more (each consistent in itself): the count does not fit the tower.
    let last = shapes.last().unwrap();
    let last_len = last.iter().product::<u32>() as usize * 4;
    rejects(&build(&shapes[..12], &values[..values.len() - last_len]), "holds 12 tensors");
    let mut more = shapes.clone();
    more.push(vec![3]);
    let mut more_values = values.to_vec();
    more_values.extend([0u8; 12]);
    rejects(&build(&more, &more_values), "holds 14 tensors");
    // A count beyond the limit.
    let mut many = weights.clone();
    many[8..12].copy_from_slice(&100_000u32.to_le_bytes());
    rejects(&many, "at most");
    // A wrong dim, the total kept (swapped dims of a matrix that is not square), then a changed one.
    let (i, s) = shapes.iter().enumerate().find(|(_, s)| s.len() == 2 && s[0] != s[1]).unwrap();
    let mut swapped = shapes.clone();
    swapped[i] = vec![s[1], s[0]];
    rejects(&build(&swapped, values), &format!("tensor {i} of tower.bin has shape"));
    let mut wider = shapes.clone();
    wider[0][1] += 1;
    let mut wider_values = values.to_vec();
    wider_values.extend(vec![0u8; 4 * shapes[0][0] as usize]);
    rejects(&build(&wider, &wider_values), "tensor 0 of tower.bin has shape");
    // A rank beyond 4.
    let mut deep = shapes.clone();
    deep[0] = vec![1, 1, 1, 1, 1];
    rejects(&build(&deep, values), "rank 5");
    // NaN and infinity.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut w = weights.clone();
        let at = values_at + 4 * 5;
        w[at..at + 4].copy_from_slice(&bad.to_le_bytes());
        rejects(&w, "value 5 of tensor 0 of tower.bin is");
    }
    // Dim products that overflow u32 (and u64), with too few bytes behind them: no allocation.
    let mut huge = shapes.clone();
    huge[0] = vec![65_536, 65_537];
    rejects(&build(&huge, values), "its header describes");
    huge[0] = vec![u32::MAX, u32::MAX, u32::MAX, 2];
    rejects(&build(&huge, values), "impossibly large");
    huge[0] = vec![u32::MAX, u32::MAX];
    huge[1] = vec![u32::MAX, u32::MAX];
    huge[2] = vec![u32::MAX, u32::MAX];
    huge[3] = vec![u32::MAX, u32::MAX];
    huge[4] = vec![u32::MAX, u32::MAX];
    rejects(&build(&huge, values), "impossibly large");
    // Empty, and a lone magic.
    rejects(b"", "truncated");
    rejects(b"LRTW", "truncated");
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The browser's forward pass ([`TowerNet`], over the Burn backend's operations) against the
/// trainer's ([`UserTower`], Burn's `Module` and `Tensor` API), on random weights: the same user
/// vectors and the same attention weights, for both skips, with and without the memory, on a batch
/// whose histories need padding.
#[test]
fn the_browser_forward_matches_the_trainer_module() {
    let (items, dim) = (40usize, 16usize);
    let mut rng = Rng::new(5);
    let table: Vec<f32> = (0..items * dim).map(|_| rng.below(2001) as f32 / 1000.0 - 1.0).collect();
    let device = localrec::model::inference_device();
    for (diagonal_skip, memory) in [(false, 0), (true, 0), (false, 12), (true, 12)] {
        let config = UserTowerConfig::new(dim)
            .with_heads(3)
            .with_attention_hidden(8)
            .with_hidden(12)
            .with_max_len(6)
            .with_diagonal_skip(diagonal_skip)
            .with_memory(memory);
        let tower = config.init(&device);
        let kinds = [Kind::View, Kind::Cart, Kind::Purchase];
        // 1 slot, 4 slots, and 20 events cut to the tower's 6 slots (with a memory of 12).
        let histories: Vec<_> = [1usize, 4, 20]
            .iter()
            .map(|&n| {
                let events: Vec<Event> = (0..n)
                    .map(|k| Event {
                        item: rng.below(items as u64) as u32,
                        kind: kinds[rng.below(3) as usize],
                        time: 1.0e6 + 3600.0 * k as f64 * rng.below(50) as f64,
                    })
                    .collect();
                encode_history(&events, &config.history()).unwrap()
            })
            .collect();
        let batch = HistoryBatch::new(&histories);
        assert!(batch.mask.iter().any(|&m| m != 0.0), "the batch has padding");
        let mut gathered = Vec::new();
        for &r in &batch.rows {
            gathered.extend_from_slice(&table[r as usize * dim..(r as usize + 1) * dim]);
        }
        let mem = (memory > 0).then(|| batch.memory_vectors(dim, |r| &table[r as usize * dim..(r as usize + 1) * dim]));

        let items_t =
            Tensor::<3>::from_data(TensorData::new(gathered.clone(), [batch.batch, batch.slots, dim]), &device);
        let mem_t = mem.clone().map(|m| Tensor::<2>::from_data(TensorData::new(m, [batch.batch, dim]), &device));
        let (want, want_att) = tower.forward_attention(items_t, mem_t, &batch);
        let (want, want_att) = (tensor_to_vec(want), tensor_to_vec(want_att));

        let net = TowerNet::from_params(&config, tower_params(&tower));
        let (got, got_att) = net.forward(gathered, mem, &batch, true);
        let label = format!("diagonal_skip {diagonal_skip}, memory {memory}");
        assert!(max_diff(&got, &want) <= 1e-5, "{label}: user vectors differ by {}", max_diff(&got, &want));
        assert!(
            max_diff(&got_att, &want_att) <= 1e-5,
            "{label}: attention differs by {}",
            max_diff(&got_att, &want_att)
        );
        for (i, u) in got.chunks(dim).enumerate() {
            let norm = u.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{label}: history {i} has norm {norm}");
        }
        assert!(max_diff(&got[..dim], &got[dim..2 * dim]) > 1e-3, "{label}: different histories, different vectors");
        // Padding gets no attention; each head's weights sum to one over the slots.
        let (n, h) = (batch.slots, 3);
        for b in 0..batch.batch {
            for head in 0..h {
                let w: Vec<f32> = (0..n).map(|s| got_att[(b * n + s) * h + head]).collect();
                assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{label}: weights of history {b} head {head}");
                let real = histories[b].len();
                for (s, &x) in w[real..].iter().enumerate() {
                    assert_eq!(x, 0.0, "{label}: padding slot {} of history {b}", real + s);
                }
            }
        }
    }
}
