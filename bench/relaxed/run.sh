#!/usr/bin/env bash
# Builds the relaxed-SIMD experiment (bench/relaxed/src/lib.rs) and times its kernels in headless
# Chromium: today's int8 step (i8 rows x i16 query), relaxed SIMD's i8 x i7 dot product
# (`i32x4.relaxed_dot_i8x16_i7x16_add`, the query offset to 0..127), and plain SIMD with an i8 query.
# Each kernel is checked against a scalar dot product first. Usage: bash bench/relaxed/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO_TARGET_DIR=target/relaxed RUSTFLAGS="-C target-feature=+simd128" \
  cargo build -q --release --target wasm32-unknown-unknown --manifest-path bench/relaxed/Cargo.toml
node bench/relaxed/run.mjs
