//! # localrec
//!
//! Personal recommendations computed on the visitor's own device. This crate is the plain-Rust core
//! (no `wasm_bindgen`, no `web_sys` outside [`wasm`]), so everything here builds and tests natively:
//!
//! * [`catalog`]: the item-embedding table and its versioned binary [`catalog::format`];
//! * [`rank`]: exact top-k by inner product with filters, over scalar, portable and wasm SIMD kernels;
//! * [`model`]: the Burn user tower (and the trainer's item tower), and the history encoding they share;
//! * [`Error`]: the one error type every fallible call returns (its codes: [`ERROR_CODES`]);
//! * [`history`]: the visitor's history (validation, bounds, export, tabs) over a store trait;
//! * [`rerank`]: the second stage (item-item neighbours and a learned scorer over the tower's candidates);
//! * [`manifest`]: the export's manifest and item metadata, validated before anything is fetched;
//! * [`session`]: one visitor's state (model, history, rules, experiment); [`request`]: what to
//!   fetch; [`sync`]: the loader's policy (fetch once, verify, version, work offline); [`cache`]:
//!   the file cache's rules;
//! * `wasm` (wasm32 only): the thin JavaScript binding that wasm-pack packages into `pkg/`.

pub mod cache;
pub mod catalog;
// The bottom layer's helpers and the error type: reached through the re-exports below.
mod codec;
mod error;
pub mod history;
mod kind;
pub mod manifest;
pub mod model;
pub mod rank;
pub mod recommender;
pub mod request;
pub mod rerank;
pub mod rng;
pub mod session;
pub mod sync;
#[cfg(feature = "train")]
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

// The curated API: what an app, the trainer or a test starts from.
pub use catalog::{Catalog, ElementType};
pub use error::{Error, Result, ERROR_CODES};
pub use history::{Bounds, History, HistoryEvent, HistoryStore};
pub use manifest::Manifest;
pub use model::{Event, Kind, UserModel};
pub use rank::{Hit, Query, TopK};
pub use recommender::{RecommendOptions, Recommender};
pub use request::FileRequest;
pub use session::Session;
pub use sync::{LoadRequest, Source};
