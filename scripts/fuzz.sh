#!/usr/bin/env bash
# Fuzzes the catalogue decoder (fuzz/fuzz_targets/decode_catalog.rs) with cargo-fuzz on the nightly
# toolchain. Usage: scripts/fuzz.sh [seconds, default 600]. Crashing inputs land in
# fuzz/artifacts/decode_catalog/; copy each into tests/regressions/ with a test that decodes it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
cargo run -q --example fuzz_seeds -- fuzz/corpus/decode_catalog
cd fuzz
cargo +nightly fuzz run decode_catalog corpus/decode_catalog -- -max_total_time="${1:-600}" -max_len=4096 -timeout=10 -rss_limit_mb=2048
