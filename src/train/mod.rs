//! The native trainer (feature `train`): data, training, evaluation and export. Never compiled
//! into the wasm build.

pub mod data;
pub mod eval;
pub mod export;
pub mod input;
pub mod rerank;
pub mod sparse;
pub mod step;
pub mod synthetic;
pub mod trainer;
pub mod warm;

pub use data::{Dataset, Dedupe};
pub use eval::{Metrics, Split};
pub use synthetic::SyntheticConfig;
pub use trainer::{train, TrainConfig, Trained};

/// The synthetic shop as a filtered, split dataset (pairs at their last occurrence).
pub fn synthetic_dataset(cfg: &SyntheticConfig) -> Dataset {
    synthetic_dataset_with(cfg, Dedupe::default())
}

/// [`synthetic_dataset`] with a choice of [`Dedupe`].
pub fn synthetic_dataset_with(cfg: &SyntheticConfig, dedupe: Dedupe) -> Dataset {
    let (interactions, items) = synthetic::generate(cfg);
    data::build_with("synthetic", &interactions, &items, dedupe).expect("the synthetic shop passes the 5-core filter")
}
