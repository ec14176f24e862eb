#!/usr/bin/env bash
# Our ranker against ONNX Runtime Web in one headless-Chromium page (bench/ort.mjs). ONNX Runtime Web
# comes from the npm registry into target/ort (not a dependency of the package, not installed by
# setup). Usage: scripts/bench-ort.sh [N] [DIM,DIM,..]   (defaults: 100000 64,384)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
[ -f target/ort/node_modules/onnxruntime-web/package.json ] ||
  npm install --prefix target/ort --no-audit --no-fund --loglevel=error onnxruntime-web@1.30.0
[ -f pkg/localrec_bg.wasm ] || bash scripts/build-pkg.sh
node bench/ort.mjs "$@"
