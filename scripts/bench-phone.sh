#!/usr/bin/env bash
# The first visit on a phone (bench/phone.mjs): builds pkg/ and the random 10k and 100k exports it
# reads (target/bench-10k, target/bench-100k: each written once, the way scripts/bench-app.sh writes
# the 100k one), then runs it with the given options.
# Usage: scripts/bench-phone.sh [--profiles slow4g,4g,none] [--catalogs 2k,10k,100k] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build-pkg.sh
for n in 10000 100000; do
  out="target/bench-$((n / 1000))k"
  # Written once; again when older than the first answer (a manifest without one).
  grep -q '"first_answer"' "$out/manifest.json" 2>/dev/null && continue
  rm -rf "$out"
  mkdir -p "$out"
  # Random neighbours: cheap enough for the dev profile the tests already built (no 20-minute trainer build).
  cargo run -q --features train --example bench_ranker -- "$n" 32 "$out/ranker.bin"
  node bench/make-export.mjs "$n" "$out"
  cargo run -q --features train --example compact_meta -- "$out"
  cargo run -q --features train --bin localrec-train -- --first-answer "$out"
done
node bench/phone.mjs "$@"
