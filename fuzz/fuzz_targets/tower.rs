//! Fuzz target: `UserModel::from_bytes(tower.json, weights)`. The input is split at its first NUL
//! byte into the config and the weights (seeds: the shipped `tower.json`, a NUL, `tower.bin`).
//! Malformed, mis-versioned or mismatched files must be typed errors, never a panic, a hang or an
//! unbounded allocation; a model that loads must embed a short history or refuse it with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localrec::catalog::synthetic::random_unit;
use localrec::{Event, Kind, UserModel};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (json, rest) = data.split_at(split);
    let weights = rest.get(1..).unwrap_or(&[]);
    if let Ok(mut model) = UserModel::from_bytes(json, weights) {
        let dim = model.config().dim;
        if dim <= 512 {
            let catalog = random_unit(4, dim, 0, 1);
            let events =
                [Event { item: 1, kind: Kind::View, time: 1.0 }, Event { item: 3, kind: Kind::Cart, time: 2.0 }];
            let _ = model.embed(&catalog, &events);
        }
    }
});
