#!/usr/bin/env bash
# Retrains the model on the built-in synthetic shop and rewrites the shipped export in
# www/artifacts/synthetic/ (what the demo loads and tests/artifacts.rs checks). Deterministic for
# a given seed. The flags are those the shipped export was trained with (the defaults have moved on).
# Usage: scripts/export-synthetic.sh [extra localrec-train options]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo run -q --profile trainer --features train --bin localrec-train -- \
  --data synthetic --dedupe first --lr 0.002 --logq 1.0 --max-len 50 \
  --dim 64 --heads 4 --attention-hidden 64 --hidden 96 --dense-skip --memory 100 --memory-decay 0.97 \
  --no-warm-start \
  --out www/artifacts/synthetic "$@"
node scripts/demo-experiment.mjs
