#!/usr/bin/env bash
# Scale benchmark, first part (issue 15): the trainer on the synthetic shop at growing catalog
# sizes (as many users as items unless given; one epoch, its validation, the ranking stage and the export),
# with wall time, peak memory, the export's sizes per item and element type, and the test Recall@10
# of the tower over each item table (f32, int8, pq, pq with its refine plane, pca) and of the two stages over the table the browser
# loads (int8 below 50,000 items, above it the compact table chosen on validation, pq or pca). Prints two markdown tables.
# Usage: scripts/bench-scale.sh [ITEMS[:USERS] ...]   (default: 2000 10000; users default to items;
# each size trains once; e.g. 150000:34000 for about a million pairs over 100k items)
# The ranker's side at 100k and 1M items: node bench/kernels.mjs 1000000 64 (after build-pkg.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build -q --profile trainer --features train --bin localrec-train
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(2000 10000)
rows=(); quality=()
for size in "${sizes[@]}"; do
  n=${size%%:*}; users=${size#*:}
  out="target/scale/$n"; rm -rf "$out"; mkdir -p "$out"
  log="$out.log"
  /usr/bin/time -f 'peak_kb %M wall_s %e' target/trainer/localrec-train --synthetic-items "$n" --synthetic-users "$users" \
    --epochs 1 --quiet --out "$out" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  pairs=$(sed -n 's/.* items, \([0-9]*\) user-item pairs.*/\1/p' "$log")
  kept=$(sed -n 's/^data synthetic: [0-9]* users, \([0-9]*\) items.*/\1/p' "$log")
  epoch=$(sed -n 's/^trained in \([0-9]*\) s.*/\1/p' "$log")
  steps=$(sed -n 's/^epoch  1: .* steps \([0-9]*\) s, validation on \([0-9]*\) users \([0-9]*\) s.*/\1 + \3/p' "$log")
  stage=$(sed -n 's/^ranking stage in \([0-9]*\) s.*/\1/p' "$log")
  peak=$(sed -n 's/^peak_kb \([0-9]*\) wall_s.*/\1/p' "$log"); wall=$(sed -n 's/.* wall_s \([0-9.]*\)/\1/p' "$log")
  size() { stat -c %s "$out/$1" 2>/dev/null || echo 0; }
  f32=$(size items.f32.lrc); int8=$(size items.int8.lrc); pq=$(size items.pq.lrc); pqr=$(size items.pq.refine.lrc); pca=$(size items.pca.lrc); json=$(size items.json); rk=$(size ranker.bin)
  meta=$(size items.meta.lrc); [ "$meta" -gt 0 ] || meta=$json  # the browser loads the compact metadata when there is one
  # The first visit loads int8 when the export has it (an ordinary device), else the compact table
  # the manifest names (chosen on validation: pq or pca; pq when absent).
  compact=$(sed -n 's/.*"compact_table": *"items-\([a-z0-9]*\)".*/\1/p' "$out/manifest.json" | head -n1)
  served=$int8; table=int8
  if [ "$int8" -eq 0 ]; then
    if [ "$compact" = pca ]; then served=$pca; table=pca; else served=$pq; table=pq; fi
  fi
  per=$(( (served + meta + rk) / kept ))
  recall() { grep -F "| $1 |" "$log" | head -n1 | cut -d'|' -f3 | tr -d ' '; }
  rows+=("| $kept | $users | $pairs | $epoch ($steps) | $stage | $wall | $((peak / 1024)) | $((f32 / kept)) | $((int8 / kept)) | $((pq / kept)) | $((pqr / kept)) | $((pca / kept)) | $((json / kept)) | $((meta / kept)) | $((rk / kept)) | $per ($table) |")
  quality+=("| $kept | $(recall 'user tower (f32 items)') | $(recall 'user tower (int8 items)') | $(recall 'user tower (pq items)') | $(recall 'user tower (pq items + refine plane)') | $(recall 'user tower (pca items)') | $table | $(recall 'two-stage: tower + item-item ranker') |")
done
echo "| items (after 5-core) | users | pairs | tower: 1 epoch + validation, s (steps + validation) | ranking stage, s | whole command, s | peak MB | items.f32.lrc B/item | items.int8.lrc B/item | items.pq.lrc B/item | items.pq.refine.lrc B/item (loaded after the first answer) | items.pca.lrc B/item | items.json B/item | items.meta.lrc B/item | ranker.bin B/item | first visit (table + metadata + ranker) B/item |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "| items | tower R@10, f32 items | int8 items | pq items | pq + refine plane | pca items | table the browser loads | two-stage R@10 over it |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${quality[@]}"
