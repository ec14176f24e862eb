#!/usr/bin/env bash
# App benchmarks (loader, warm start, demo click latency) at 100k items in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build-pkg.sh
mkdir -p target/bench-100k
cargo run -q --profile trainer --features train --example bench_ranker -- 100000 32 target/bench-100k/ranker.bin
node bench/make-export.mjs 100000 target/bench-100k
cargo run -q --features train --example compact_meta -- target/bench-100k
node bench/app.mjs
