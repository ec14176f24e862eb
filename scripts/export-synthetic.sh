#!/usr/bin/env bash
# Retrains the model on the built-in synthetic shop and rewrites the shipped export in
# www/artifacts/synthetic/ (what the demo loads and tests/artifacts.rs checks). Deterministic for
# a given seed. Usage: scripts/export-synthetic.sh [extra localrec-train options]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo run -q --profile trainer --features train --bin localrec-train -- \
  --data synthetic --out www/artifacts/synthetic "$@"
