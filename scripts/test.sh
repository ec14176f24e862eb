#!/usr/bin/env bash
# Every test: native (cargo test), then the same suites inside headless Chrome, Firefox and WebKit
# (Safari's engine, through WebKitGTK's WebKitWebDriver under Xvfb) with wasm-pack test, then the
# built npm package loaded by a real page (Playwright + Debian's Chromium), and the cache, history
# and sync cases in all three engines again (selenium-webdriver, tests/engines/).
# Fails if any part fails, and also if a browser part ran no tests (a silently skipped browser suite
# must not look green).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

summary=()
total_passed=0

count_passed() { # sums "N passed" over cargo/wasm-bindgen-test "test result:" lines in file $1
  awk '/^test result: ok\. [0-9]+ passed/ { n += $4 } END { print n + 0 }' "$1"
}

echo "== native: cargo test (with the trainer: it trains a small model on the synthetic shop)"
cargo test --all-targets --features train 2>&1 | tee /tmp/localrec-native.log
cargo test --doc --features train 2>&1 | tee -a /tmp/localrec-native.log
n=$(count_passed /tmp/localrec-native.log); summary+=("native: $n passed"); total_passed=$((total_passed + n))

# The headless runner gives the page 20 s per poll by default: the ranker suite in a debug build
# took 18.9 s in Chromium here (2026-12-02), too close to that on a busy machine.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
run_browser() { # run_browser <name> <wasm-pack args...>
  local name=$1; shift
  local log="/tmp/localrec-$name.log"
  echo "== $name: wasm-pack test --headless $*"
  # RUNNER: a wrapper for the browser's display (xvfb-run for WebKitGTK), empty otherwise.
  if ! ${RUNNER:-} wasm-pack test --headless "$@" 2>&1 | tee "$log"; then
    echo "FAILED: $name browser tests" >&2; exit 1
  fi
  # Each browser-run suite (cache, delta, format, history, manifest, ranker, recommender, tower, web) must report a
  # passed test.
  local suites; suites=$(grep -cE "^Running headless tests in" "$log" || true)
  local ok; ok=$(grep -cE '^test result: ok\. [1-9][0-9]* passed' "$log" || true)
  if [ "$suites" -lt 10 ] || [ "$ok" -lt 10 ]; then
    echo "FAILED: $name ran $suites browser suites with $ok passing results (expected >= 10 each)" >&2; exit 1
  fi
  local n; n=$(count_passed "$log")
  summary+=("$name: $n passed in $suites browser suites"); total_passed=$((total_passed + n))
}
run_browser chrome --chrome --chromedriver /usr/bin/chromedriver
run_browser firefox --firefox --geckodriver "$(command -v geckodriver)"
# WebKitGTK's MiniBrowser needs an X display even when headless, and its sandbox needs namespaces
# this container does not give.
export WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS=1
RUNNER="xvfb-run -a" run_browser webkit --safari --safaridriver /usr/bin/WebKitWebDriver

echo "== e2e: the release package in real pages (Playwright + Debian's Chromium)"
bash scripts/build-pkg.sh
echo "== types: the package's TypeScript declarations, checked by tsc --strict on a usage file"
node node_modules/typescript/bin/tsc -p tests/types
summary+=("types: tsc --strict passed")
# Two catalog versions (v2 = v1 with rows retired, changed, added) and the deltas between them.
rm -rf target/e2e-fixtures  # no stale file from an older export may answer a request
cargo run -q --features train --example e2e_fixtures -- target/e2e-fixtures
node --test --test-reporter=spec tests/e2e/ 2>&1 | tee /tmp/localrec-e2e.log
n=$(grep -oE 'pass [0-9]+$' /tmp/localrec-e2e.log | tail -n1 | cut -d' ' -f2)
[ "${n:-0}" -gt 0 ] || { echo "FAILED: no end-to-end test ran" >&2; exit 1; }
summary+=("e2e: $n passed"); total_passed=$((total_passed + n))

echo "== engines: the cache, history and sync cases in Chromium, Firefox and WebKit (selenium-webdriver)"
# WebKitGTK's MiniBrowser needs a display (xvfb-run), as for its wasm suites above.
GECKODRIVER="$(command -v geckodriver)" xvfb-run -a node --test --test-reporter=spec tests/engines/ 2>&1 | tee /tmp/localrec-engines.log
n=$(grep -oE 'pass [0-9]+$' /tmp/localrec-engines.log | tail -n1 | cut -d' ' -f2)
for engine in chromium firefox webkit; do
  grep -qE "^# $engine [0-9]" /tmp/localrec-engines.log || { echo "FAILED: the $engine engine did not start" >&2; exit 1; }
done
[ "${n:-0}" -ge 24 ] || { echo "FAILED: only ${n:-0} engine tests passed (expected >= 24: 8 or more per engine)" >&2; exit 1; }
summary+=("engines: $n passed (Chromium, Firefox, WebKit)"); total_passed=$((total_passed + n))

echo
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, 0 failed"
