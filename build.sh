#!/usr/bin/env bash
# tinyunet's one entry point.
#
#   ./build.sh demo    set up, build the npm package and demo weights, serve the demo on 127.0.0.1
#   ./build.sh test    set up, then run every check and test (what CI runs)
#   ./build.sh pkg     build the npm package into pkg/ (wasm + JS glue + types)
#   ./build.sh bench   print the benchmark table (native and in the browser)
#   ./build.sh setup   only install what the others need
#
# Set-up installs what is missing on a fresh Debian machine: Chromium (browser tests), Mesa's
# Vulkan drivers (native wgpu without a GPU), the wasm32 Rust target, wasm-bindgen-cli pinned
# to Cargo.lock's wasm-bindgen, and the npm packages of tests/browser (playwright-core, and
# binaryen for wasm-opt).
set -euo pipefail
cd "$(dirname "$0")"
# cargo-installed tools (wasm-bindgen) land here; a fresh shell may not have it on PATH yet.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

setup_apt() {
  local need=()
  command -v chromium >/dev/null || need+=(chromium)
  [ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 \
    || need+=(mesa-vulkan-drivers)
  ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

setup_rust() {
  rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  local want
  want=$(wasm_bindgen_version)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    log "cargo install wasm-bindgen-cli $want"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

setup_npm() {
  if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    log "npm ci (browser tests)"
    (cd tests/browser && npm ci --no-audit --no-fund)
  fi
}

setup() {
  setup_apt
  setup_rust
  setup_npm
  # wgpu's native Vulkan loader wants a private runtime directory.
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/tinyunet-xdg-$(id -u)}"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 0700 "$XDG_RUNTIME_DIR"
}

# The wasm build has its own target directory so that it never waits on (or invalidates) the
# native test build's lock and artifacts.
WASM_TARGET_DIR=target/wasm
WASM_OPT=tests/browser/node_modules/.bin/wasm-opt

# One build of the core: `build_module NAME [cargo flags]` → pkg/wasm/tinyunet_NAME.js + _bg.wasm.
build_module() {
  local name=$1
  shift
  log "wasm build: $name (profile wasm-release)"
  # wasm SIMD (128-bit) for the CPU kernels; every browser with WebGPU has it too.
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" cargo build --lib --profile wasm-release \
    --target wasm32-unknown-unknown --target-dir "$WASM_TARGET_DIR" "$@"
  wasm-bindgen --target web --out-dir pkg/wasm --out-name "tinyunet_$name" \
    "$WASM_TARGET_DIR/wasm32-unknown-unknown/wasm-release/tinyunet.wasm"
  # binaryen from npm: Debian's wasm-opt (108) predates the reference-types tables that
  # wasm-bindgen now emits and produces a module that fails to instantiate.
  log "wasm-opt: $name"
  local wasm="pkg/wasm/tinyunet_${name}_bg.wasm"
  "$WASM_OPT" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$wasm" -o "$wasm"
  echo "$wasm: $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) bytes gzip"
}

build_pkg() {
  rm -rf pkg/wasm
  # The page loads the CPU-only build unless it runs on WebGPU: a fifth of the download.
  build_module cpu --no-default-features
  build_module webgpu
  # The package exports their URL (demoWeightsUrl) and its README example loads them.
  cp www/demo-weights.safetensors pkg/
}

run_tests() {
  log "cargo fmt --check"
  cargo fmt --check
  # One feature set for every native command, so that the dependencies build once.
  log "cargo clippy (native, all targets, with the CLI)"
  cargo clippy --all-targets --features cli -- -D warnings
  log "cargo test (CPU and native wgpu)"
  TINYUNET_REQUIRE_WGPU=1 cargo test --features cli
  build_pkg
  log "clippy (wasm32: the WebGPU build and the CPU-only one)"
  cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
  cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
  log "browser tests (headless Chromium: CPU and WebGPU)"
  (cd tests/browser && node --test --test-concurrency=1)
}

case "${1:-}" in
  setup) setup ;;
  test) setup; run_tests ;;
  pkg) setup_rust; setup_npm; build_pkg ;;
  demo) setup; build_pkg; exec node www/serve.mjs ;;
  bench) setup; build_pkg; cargo build --release --features cli --bin tinyunet; exec node tests/browser/bench.mjs ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
