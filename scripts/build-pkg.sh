#!/usr/bin/env bash
# Builds the npm package into pkg/ (ES module for browsers and bundlers) and optimizes the wasm with
# the npm `binaryen` wasm-opt (wasm-pack's own download is disabled in Cargo.toml; Debian's wasm-opt
# 108 produced modules Chromium refused). Prints the sizes.
# Usage: scripts/build-pkg.sh [--dev] [--out-dir DIR] [-- cargo args, e.g. --no-default-features --features flex]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
profile=--release
out=pkg
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) profile=--dev; shift ;;
    --out-dir) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
rm -rf "$out"  # no file of an older build (a module since removed) stays in the package
wasm-pack build $profile --target web --out-dir "$out" --out-name localrec -- "$@" >/dev/null 2>/tmp/localrec-build.log || { cat /tmp/localrec-build.log; exit 1; }
wasm=$out/localrec_bg.wasm
before=$(stat -c %s "$wasm")
if [ "$profile" = --release ]; then
  # Features rustc 1.95 emits for wasm32-unknown-unknown, plus simd128 from .cargo/config.toml.
  node node_modules/binaryen/bin/wasm-opt -O3 \
    --enable-simd --enable-bulk-memory --enable-bulk-memory-opt --enable-mutable-globals --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
fi
# The JS API (js/: loader, IndexedDB cache, worker, types) wraps the generated low-level module.
cp js/*.js js/index.d.ts "$out/"
if [ "$profile" = --release ]; then
  # The JS minified (esbuild, no bundling: every module and import stays as it is), each with a source
  # map holding its source: about half the gzipped JS a first visit downloads.
  staged=target/pkg-js
  rm -rf "$staged" && mkdir -p "$staged"
  mv "$out"/*.js "$staged/"
  node_modules/.bin/esbuild "$staged"/*.js --minify --sourcemap --format=esm --log-level=warning --outdir="$out"
fi
cp js/README.md "$out/README.md"
node scripts/package-json.mjs "$out/package.json"
after=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "$wasm: $after bytes ($before before wasm-opt), $gz bytes gzipped"
