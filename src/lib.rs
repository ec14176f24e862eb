//! # localrec
//!
//! Personal recommendations computed on the visitor's own device. This crate is the plain-Rust core
//! (no `wasm_bindgen`, no `web_sys` outside [`wasm`]), so everything here builds and tests natively:
//!
//! * [`catalog`]: the item-embedding table and its versioned binary [`catalog::format`];
//! * [`rank`]: exact top-k by inner product with filters, over scalar, portable and wasm SIMD kernels;
//! * [`error`]: the one error type every fallible call returns;
//! * `wasm` (wasm32 only): the thin JavaScript binding that wasm-pack packages into `pkg/`.

pub mod catalog;
pub mod error;
pub mod rank;
pub mod rng;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use catalog::{Catalog, ElementType};
pub use error::{Error, Result};
pub use rank::{Hit, Query, TopK};
