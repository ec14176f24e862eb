#!/usr/bin/env bash
# Builds the npm package into pkg/ (ES module for browsers and bundlers) and optimizes the wasm with
# the npm `binaryen` wasm-opt (wasm-pack's own download is disabled in Cargo.toml; Debian's wasm-opt
# 108 produced modules Chromium refused). Prints the sizes. Usage: scripts/build-pkg.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
profile=--release
[ "${1:-}" = "--dev" ] && profile=--dev
wasm-pack build $profile --target web --out-dir pkg --out-name localrec >/dev/null 2>/tmp/localrec-build.log || { cat /tmp/localrec-build.log; exit 1; }
wasm=pkg/localrec_bg.wasm
before=$(stat -c %s "$wasm")
if [ "$profile" = --release ]; then
  # Features rustc 1.95 emits for wasm32-unknown-unknown, plus simd128 from .cargo/config.toml.
  node node_modules/binaryen/bin/wasm-opt -O3 \
    --enable-simd --enable-bulk-memory --enable-bulk-memory-opt --enable-mutable-globals --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
fi
after=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "pkg/localrec_bg.wasm: $after bytes ($before before wasm-opt), $gz bytes gzipped"
