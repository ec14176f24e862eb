#!/usr/bin/env bash
# Fuzzes the decoders with cargo-fuzz on the nightly toolchain:
#   decode_catalog  Catalog::decode               (seeds: small catalogs of every element type)
#   decode_delta    Delta::decode, apply_delta    (seeds: the e2e fixtures' deltas)
#   tower           UserModel::from_bytes         (seeds: the shipped tower.json, NUL, tower.bin)
#   manifest        Manifest::parse, ItemMetadata::parse, History import (seeds: shipped JSON)
#   ranker          Ranker::decode and a ranking over it (seeds: small ranker.bin files)
#   decode_pq_refine PqResidual::decode, attach, a ranking (seeds: small planes)
# Usage: scripts/fuzz.sh [seconds per target, default 600] [targets..., default all]. Crashing
# inputs land in fuzz/artifacts/<target>/; copy each into tests/regressions/ with a test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
secs=${1:-600}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(decode_catalog decode_delta decode_meta tower manifest ranker decode_pq_refine)
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
A=www/artifacts/synthetic
mkdir -p fuzz/corpus/{decode_catalog,decode_delta,decode_meta,tower,manifest,ranker,decode_pq_refine}
cargo run -q --example fuzz_seeds -- fuzz/corpus/decode_catalog fuzz/corpus/ranker fuzz/corpus/decode_pq_refine
[ -d target/e2e-fixtures/v2 ] || cargo run -q --features train --example e2e_fixtures -- target/e2e-fixtures
cp target/e2e-fixtures/v2/*.delta fuzz/corpus/decode_delta/
cp $A/items.meta.lrc target/e2e-fixtures/v2/*.meta.lrc* fuzz/corpus/decode_meta/ 2>/dev/null || true
{ cat $A/tower.json; printf '\0'; cat $A/tower.bin; } > fuzz/corpus/tower/shipped
cp $A/manifest.json target/e2e-fixtures/v2/manifest.json fuzz/corpus/manifest/ 2>/dev/null || true
cp $A/manifest.json fuzz/corpus/manifest/shipped-manifest.json
printf '{"format":"localrec-history","version":1,"events":[{"id":"a","kind":"view","time":1.7e9}]}' > fuzz/corpus/manifest/history.json
cd fuzz
for t in "${targets[@]}"; do
  # tower inputs hold a 280 KB weights file; the decoders' inputs stay small.
  max_len=4096; [ "$t" = tower ] && max_len=400000
  echo "== fuzz $t for ${secs}s"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
done
