#!/usr/bin/env bash
# Ranker benchmark: builds the release package, then runs native Rust, wasm and plain JS on the same
# data and prints the table docs/benchmarks.md shows ("Ranker"). Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build-pkg.sh
node bench/run.mjs "$@"
