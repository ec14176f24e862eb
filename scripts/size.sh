#!/usr/bin/env bash
# The npm package's size and what takes the space: builds pkg/ (release, wasm-opt), prints each
# shipped file gzipped (-9) and the total against the 400,000 B budget, then the largest functions
# of the wasm module before wasm-opt (twiggy, from crates.io, installed on first use; the names come
# from the module rustc wrote, which keeps its name section).
# Usage: scripts/size.sh [--no-build] [N rows, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
build=1
[ "${1:-}" = "--no-build" ] && { build=0; shift; }
rows=${1:-30}
[ "$build" = 1 ] && bash scripts/build-pkg.sh >/dev/null
total=0
printf '%-28s %10s %10s\n' file bytes gzipped
for f in pkg/localrec_bg.wasm pkg/*.js; do
  raw=$(stat -c %s "$f"); gz=$(gzip -9 -c "$f" | wc -c); total=$((total + gz))
  printf '%-28s %10d %10d\n' "$(basename "$f")" "$raw" "$gz"
done
printf '%-28s %10s %10d   (budget 400000: %s)\n' total '' "$total" "$([ "$total" -le 400000 ] && echo met || echo "over by $((total - 400000))")"
command -v twiggy >/dev/null 2>&1 || cargo install -q twiggy
echo
echo "largest items of target/wasm32-unknown-unknown/release/localrec.wasm (before wasm-bindgen and wasm-opt):"
twiggy top -n "$rows" target/wasm32-unknown-unknown/release/localrec.wasm
echo
echo "by crate (sum of function sizes, before wasm-opt):"
twiggy top -n 100000 --format csv target/wasm32-unknown-unknown/release/localrec.wasm |
  awk -F, 'NR > 1 { name = $1; gsub(/^"|"$/, "", name); sub(/^<+/, "", name);
    if (name ~ /^(core|alloc|std)\[/ || name ~ /^(core|alloc|std)::/) c = "std";
    else if (match(name, /^[a-z_0-9]+(::|\[)/)) c = substr(name, 1, RLENGTH - (substr(name, RLENGTH, 1) == "[" ? 1 : 2));
    else c = "(other: sections, data, glue)";
    sum[c] += $2 } END { for (c in sum) printf "%10d  %s\n", sum[c], c }' | sort -rn | head -20
