#!/usr/bin/env bash
# User-tower benchmark: builds the package with burn-ndarray (pkg/) and with burn-flex
# (bench/out/pkg-flex/), then times both in one headless Chromium page. Usage: scripts/bench-tower.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build-pkg.sh
bash scripts/build-pkg.sh --out-dir bench/out/pkg-flex -- --no-default-features --features flex
node bench/tower.mjs
