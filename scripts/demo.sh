#!/usr/bin/env bash
# Sets up, builds the release package and serves the demo at http://127.0.0.1:${PORT:-8080}/www/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-pkg.sh
echo "open http://127.0.0.1:${PORT:-8080}/www/  (Ctrl-C to stop)"
exec node scripts/serve.mjs "${PORT:-8080}" .
