#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, test and benchmark localrec, and nothing that is
# already there (a second run takes seconds). Nothing here downloads a prebuilt binary from the web:
# every tool comes from crates.io, npm or Debian, and wasm-pack is kept from fetching its own.
#
#   wasm32-unknown-unknown target (rustup)
#   wasm-pack, wasm-bindgen-cli (= the wasm-bindgen version pinned in Cargo.lock), geckodriver (crates.io)
#   chromium, chromium-driver, firefox-esr, webkit2gtk-driver (WebKitWebDriver + MiniBrowser: Safari's
#   engine) and xvfb (WebKitGTK needs a display, even headless) (Debian)
#   playwright-core, binaryen (wasm-opt), typescript and vite (npm, see package.json)
#   datafusion and pyarrow (PyPI): the tested recipe that writes the trainer's Parquet input
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

# 1. Rust target
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. Browsers and drivers from Debian
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || need_apt+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || need_apt+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" fonts-dejavu-core >/dev/null
fi

# 3. CLI tools from crates.io (built from source; a few minutes each on 2 cores, once)
cargo_tool() { # cargo_tool <binary> <crate> <version or ""> <command printing its version>
  local bin=$1 crate=$2 want=$3 have=""
  if command -v "$bin" >/dev/null 2>&1; then have=$($4 2>/dev/null | head -n1 || true); fi
  if [ -n "$have" ] && { [ -z "$want" ] || grep -q -- " $want" <<<"$have"; }; then return 0; fi
  log "cargo install $crate ${want:+--version $want} (have: ${have:-none})"
  if [ -n "$want" ]; then cargo install -q --force "$crate" --version "$want"
  else cargo install -q "$crate"; fi
}
bindgen_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
[ -n "$bindgen_version" ] || { echo "cannot read the wasm-bindgen version from Cargo.lock" >&2; exit 1; }
cargo_tool wasm-bindgen wasm-bindgen-cli "$bindgen_version" "wasm-bindgen --version"
cargo_tool wasm-pack wasm-pack "" "wasm-pack --version"
cargo_tool geckodriver geckodriver "" "geckodriver --version"

# 4. Node packages for the browser benchmark and end-to-end tests (lockfile, no browser downloads)
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-stamp; then
  # `npm install` with the committed lockfile installs exactly the locked versions. Not `npm ci`: this
  # npm (11.x) writes lockfiles without other platforms' optional packages (rollup's, via vite) and
  # its `npm ci` then refuses them as "out of sync" (seen on a clean clone).
  log "npm install (from package-lock.json)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.setup-stamp
fi

# 5. DataFusion (Python) for the Parquet recipe and its test (tests/input.rs), pinned
py_want="datafusion==55.0.0 pyarrow==26.0.1"
if ! python3 -c 'import datafusion, pyarrow, sys; sys.exit(datafusion.__version__ != "55.0.0" or pyarrow.__version__ != "26.0.1")' 2>/dev/null; then
  log "pip install $py_want"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore $py_want
fi

log "ready: $(rustc --version | cut -d' ' -f1-2), wasm-bindgen $bindgen_version, $(wasm-pack --version), $(chromium --version 2>/dev/null | head -n1), $(firefox-esr --version 2>/dev/null | head -n1), WebKitGTK $(dpkg-query -W -f '${Version}' libwebkit2gtk-4.1-0 2>/dev/null || echo '?')"
