#!/usr/bin/env bash
# tinyunet's one entry point.
#
#   ./build.sh demo    set up (Rust, Node), build what changed of the npm package, serve the demo on 127.0.0.1
#   ./build.sh test    set up, then run every check and test (what CI runs)
#   ./build.sh pkg     build the npm package into pkg/ (wasm + JS glue + types)
#   ./build.sh pkg-threads   rebuild only the threaded CPU module of pkg/wasm/
#   ./build.sh models  copy the shipped models (www/models/) into pkg/ and pack them for the page
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

# Each step's header says how long the run has taken so far, so a slow CI run shows where it went.
log() { printf '\n\033[1m== [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

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
  # The threaded CPU module rebuilds the standard library from its source.
  rustup component list --installed | grep -q "^rust-src" || rustup component add rust-src
}

# Only the wasm builds need it: `./build.sh test` installs it beside the native build.
setup_wasm_bindgen() {
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
  [ "${1:-}" = without-wasm-bindgen ] || setup_wasm_bindgen
  setup_npm
  # wgpu's native Vulkan loader wants a private runtime directory.
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/tinyunet-xdg-$(id -u)}"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 0700 "$XDG_RUNTIME_DIR"
}

# The wasm builds have target directories of their own so that they never wait on (or
# invalidate) the native test build's lock and artifacts, nor each other's: the WebGPU and CPU-only
# modules differ in features, and in one directory each rebuilt our crate after the other (3 min
# 47 s for a `./build.sh pkg` that changed nothing, against seconds apart).
WASM_TARGET_DIR=target/wasm
CPU_TARGET_DIR=target/wasm-cpu
WASM_OPT=tests/browser/node_modules/.bin/wasm-opt

# One build of the core: `build_module NAME [cargo flags]` → pkg/wasm/tinyunet_NAME.js + _bg.wasm.
# MODULE_TARGET_DIR, MODULE_RUSTFLAGS (every crate), MODULE_LINK_ARGS (the final link only) and
# MODULE_WASM_OPT_FLAGS change the target directory and add flags for one module (the threaded one).
build_module() {
  local name=$1
  shift
  local target_dir=${MODULE_TARGET_DIR:-$WASM_TARGET_DIR} link=()
  for arg in ${MODULE_LINK_ARGS:-}; do link+=(-C "link-arg=$arg"); done
  log "wasm build: $name (profile wasm-release)"
  # wasm SIMD (128-bit) for the CPU kernels; every browser with WebGPU has it too.
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128${MODULE_RUSTFLAGS:+ $MODULE_RUSTFLAGS}" \
    cargo rustc --lib --crate-type cdylib --profile wasm-release --target wasm32-unknown-unknown --target-dir "$target_dir" "$@" \
    -- "${link[@]}"
  local built="$target_dir/wasm32-unknown-unknown/wasm-release/tinyunet.wasm"
  # wasm-bindgen and wasm-opt (5 minutes for the WebGPU module) run only when cargo's output, the
  # tools or their flags changed since the module in pkg/wasm was made: a rebuild of a built tree
  # (`./build.sh demo`) then takes seconds. The stamp lives beside cargo's output, not in pkg/
  # (which npm packs).
  local stamp="$target_dir/tinyunet_$name.pkg-stamp" digest
  digest="$(sha256sum "$built" | cut -d' ' -f1) $(wasm-bindgen --version) $("$WASM_OPT" --version) $(wasm_opt_flags)"
  # The stamp also holds what pkg/wasm had when it was written: a module put there by anything
  # else (an older checkout's build, a hand copy) does not match, and is made again.
  if [ -f "pkg/wasm/tinyunet_${name}_bg.wasm" ] && [ -f "pkg/wasm/tinyunet_$name.js" ] \
    && [ "$(cat "$stamp" 2>/dev/null)" = "$digest $(module_files_digest "$name")" ]; then
    log "wasm module $name: unchanged, pkg/wasm kept"
    return
  fi
  rm -f "$stamp"
  wasm-bindgen --target web --out-dir pkg/wasm --out-name "tinyunet_$name" "$built"
  if [ -n "${MODULE_OPT_IN_BACKGROUND:-}" ]; then
    optimise_module "$name" "$stamp" "$digest" &
    OPTIMISERS+=($!)
  else
    optimise_module "$name" "$stamp" "$digest"
  fi
}

# The digest of a module's files in pkg/wasm (part of its stamp).
module_files_digest() {
  sha256sum "pkg/wasm/tinyunet_$1_bg.wasm" "pkg/wasm/tinyunet_$1.js" | cut -d' ' -f1 | tr '\n' ' '
}

# Every flag wasm-opt gets for the module being built (also part of its stamp).
wasm_opt_flags() {
  echo "-O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext" \
    "--enable-mutable-globals --enable-reference-types --enable-multivalue ${MODULE_WASM_OPT_FLAGS:-}"
}

# wasm-opt on one module built by build_module; writes the module's stamp once it is done.
optimise_module() {
  local name=$1 stamp=$2 digest=$3 wasm="pkg/wasm/tinyunet_$1_bg.wasm"
  # binaryen from npm: Debian's wasm-opt (108) predates the reference-types tables that
  # wasm-bindgen now emits and produces a module that fails to instantiate.
  log "wasm-opt: $name"
  # shellcheck disable=SC2046 # the flags are a list
  "$WASM_OPT" $(wasm_opt_flags) "$wasm" -o "$wasm"
  echo "$wasm: $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) bytes gzip"
  echo "$digest $(module_files_digest "$name")" > "$stamp"
}

# The multi-threaded CPU build (the `threads` feature): wasm atomics and a shared memory, so the
# standard library is rebuilt with them (`-Z build-std`; RUSTC_BOOTSTRAP lets the pinned stable
# toolchain take the flag, with its rust-src component). Its own target directory, because its
# flags differ from the other modules' for every crate, std included. The link makes the memory
# shared and imported (the pool's Workers instantiate the module on it) and exports the
# thread-local storage symbols that wasm-bindgen's thread support needs: rustc 1.95 does not add
# these itself. A shared memory must declare its maximum: 4 GiB, as a single-threaded module may
# grow to (a training step at 256² needs more than 1 GiB with the pool's stacks). The package loads
# it only in a Worker of a cross-origin isolated page (pkg/threads.js).
THREADS_TARGET_DIR=target/wasm-threads
build_threads_module() {
  rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src
  RUSTC_BOOTSTRAP=1 MODULE_TARGET_DIR=$THREADS_TARGET_DIR \
    MODULE_RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals -C link-arg=--max-memory=4294967296" \
    MODULE_LINK_ARGS="--shared-memory --import-memory --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base" \
    MODULE_WASM_OPT_FLAGS=--enable-threads \
    build_module cpu-threads --no-default-features --features threads -Z build-std=panic_abort,std
}

OPTIMISERS=()
build_pkg() {
  # pkg/wasm is kept: each module replaces its own files when it changed (build_module).
  mkdir -p pkg/wasm
  # wasm-opt (binaryen.js: one thread, ~5 minutes for the WebGPU module) and the end of each
  # cargo build (fat LTO: one thread) leave a core idle: each module's wasm-opt runs while the
  # next module compiles, the largest first. A failed one fails the build at the `wait`.
  MODULE_OPT_IN_BACKGROUND=1 build_module webgpu
  # The page loads the CPU-only build unless it runs on WebGPU: a fifth of the download. Its
  # compiler warnings are errors (cargo caps the dependencies' lints): that build is the check of
  # the code under neither feature (wasm_clippy).
  MODULE_OPT_IN_BACKGROUND=1 MODULE_TARGET_DIR=$CPU_TARGET_DIR MODULE_RUSTFLAGS="-D warnings" \
    build_module cpu --no-default-features
  build_threads_module
  for pid in "${OPTIMISERS[@]}"; do wait "$pid"; done
  OPTIMISERS=()
  copy_models
}

# The shipped models, www/models/NAME.safetensors: the package exports each one's URL from a
# module of its own (tinyunet/models/NAME; the skin-lesion one also as demoWeightsUrl from
# tinyunet/demo-weights) and its README example loads them; the demo page fetches each packed.
copy_models() {
  mkdir -p pkg/models
  rm -f pkg/models/*.safetensors pkg/models/*.TERMS.md pkg/demo-weights.safetensors
  # Each weights file travels with its terms (not the code's MIT licence).
  cp www/models/*.safetensors www/models/*.TERMS.md pkg/models/
  pack_models
}

# The demo page fetches its weights packed (byte planes, gzipped: www/ui/packed-weights.js):
# www/models/NAME.safetensors → www/models/NAME.packed.gz.
pack_models() {
  node --input-type=module -e "
    import fs from 'node:fs';
    import zlib from 'node:zlib';
    import { packWeights } from './www/ui/packed-weights.js';
    for (const file of fs.readdirSync('www/models').filter((f) => f.endsWith('.safetensors')).sort()) {
      const out = 'www/models/' + file.replace(/\\.safetensors\$/, '.packed.gz');
      const packed = zlib.gzipSync(packWeights(fs.readFileSync('www/models/' + file)), { level: 9 });
      fs.writeFileSync(out, packed);
      console.log(out + ': ' + packed.length + ' bytes');
    }"
}

# Clippy on the wasm32 code in one check build (in target/, beside the wasm builds' own target
# directories): WebGPU with threads, which sees every item under either feature. The items under
# neither (a dozen `cfg(not(feature = ...))` lines, mostly in src/backend.rs) are checked by the
# CPU-only module's own build, whose compiler warnings are errors (build_pkg): a second clippy
# check of that set checked all of burn's crates again for wasm32 (one to two minutes of a CI
# run's two cores) to add clippy's own lints on those few lines. What neither sees: a lint that
# fires only with one of the two features on, e.g. an import used only by `threads` code behind a
# `webgpu` cfg (unused in the WebGPU module alone); such a build still succeeds, with a warning.
wasm_clippy() {
  cargo clippy --lib --target wasm32-unknown-unknown --features threads -- -D warnings
}

# Kill a background job and everything it started (cargo, rustc, wasm-opt): a script has no
# job control, so they share our process group.
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

# `in_background NAME COMMAND…` runs a step beside the next ones, its output kept for
# `finish_background NAME`, which waits for it, prints it, and fails if it failed. A run that
# stops early kills what is still running.
declare -A BACKGROUND_PID BACKGROUND_LOG
in_background() {
  local name=$1
  shift
  log "$name: in the background (its log follows when it is waited for)"
  BACKGROUND_LOG[$name]=$(mktemp)
  ("$@") >"${BACKGROUND_LOG[$name]}" 2>&1 &
  BACKGROUND_PID[$name]=$!
  trap 'for pid in "${BACKGROUND_PID[@]}"; do kill_tree "$pid"; done' EXIT
}
finish_background() {
  local name=$1 status=0
  log "waiting for $name"
  wait "${BACKGROUND_PID[$name]}" || status=$?
  unset "BACKGROUND_PID[$name]"
  cat "${BACKGROUND_LOG[$name]}"
  rm -f "${BACKGROUND_LOG[$name]}"
  if [ "$status" != 0 ]; then
    echo "$name failed (its log above)" >&2
    return 1
  fi
  log "$name: done"
}

# Wasm-bindgen-cli (when missing) and the three wasm modules, for `in_background`.
install_and_build_pkg() {
  setup_wasm_bindgen
  build_pkg
}

# The JS gates (CONTRIBUTING.md, "JS checks"): ESLint and Prettier's check over pkg/, www/,
# tests/browser/ and bench/, and TypeScript's strict check of the package's .d.ts files against an app's code
# (tests/browser/types/consumer.ts). A few seconds; needs only setup_npm's packages.
js_checks() {
  log "JS checks: eslint and prettier (pkg/, www/, tests/browser/, bench/), tsc --strict on the package's types"
  (cd tests/browser && npm run --silent lint && npm run --silent format:check && npm run --silent typecheck)
}

run_tests() {
  # The real-image tests skip, naming what is missing, when ../shared/data is not beside the
  # clone (CONTRIBUTING.md); here, and so in CI, a missing set fails them instead, so that a
  # run cannot pass by skipping them. A clone without the data opts out with
  # TINYUNET_REQUIRE_SHARED=0.
  export TINYUNET_REQUIRE_SHARED="${TINYUNET_REQUIRE_SHARED:-1}"
  log "cargo fmt --check"
  cargo fmt --check
  js_checks
  # Steps that do not depend on each other overlap, as each alone leaves a core idle much of the
  # time (a cold run used 1.3 of 2 cores on average: fat-LTO links, binaryen's one thread,
  # lavapipe's serial parts, crates that wait on one another, the browser tests' pauses): the
  # wasm modules build while the native tests build and run (own target directories, so neither
  # waits on the other's lock), and the wasm32 clippy runs beside the browser tests.
  in_background "wasm builds" install_and_build_pkg
  # Native clippy without a second build: the test build compiles tinyunet's own code with
  # clippy's driver and warnings as errors (tests/tools/clippy-rustc, cargo's
  # RUSTC_WORKSPACE_WRAPPER; dependencies get plain rustc), so it lints every target (lib, bin,
  # tests: `--all-targets`) instead of `cargo clippy` checking every dependency again (9 minutes
  # on 2 cores). Not for the wasm builds: clippy's driver turns MIR optimisations off, so its
  # .wasm is not the one `./build.sh pkg` ships, and the browser tests must test that one.
  log "cargo test, linted by clippy (CPU and native wgpu)"
  # One feature set for every native command, so that the dependencies build once.
  RUSTC_WORKSPACE_WRAPPER="$PWD/tests/tools/clippy-rustc" TINYUNET_REQUIRE_WGPU=1 cargo test --features cli
  finish_background "wasm builds"
  in_background "clippy (wasm32: WebGPU with threads)" wasm_clippy
  log "browser tests (headless Chromium: CPU and WebGPU)"
  (cd tests/browser && node --test --test-concurrency=1)
  finish_background "clippy (wasm32: WebGPU with threads)"
  log "all tests passed"
}

case "${1:-}" in
  setup) setup ;;
  test) setup without-wasm-bindgen; run_tests ;;
  pkg) setup_rust; setup_wasm_bindgen; setup_npm; build_pkg ;;
  pkg-threads) setup_rust; setup_wasm_bindgen; setup_npm; build_threads_module ;; # only the threaded CPU module, into pkg/wasm/
  models) copy_models ;; # only the shipped models: into pkg/models/, and packed for the page
  # The demo needs Rust, Node and the npm tools (binaryen's wasm-opt), not the test machinery
  # (Chromium, Mesa): no apt here.
  demo) setup_rust; setup_wasm_bindgen; setup_npm; build_pkg; exec node www/serve.mjs ;;
  # The benchmark's other libraries (onnxruntime-web, TensorFlow.js) come from bench/package.json.
  bench) setup; build_pkg; (cd bench && npm ci --no-audit --no-fund); cargo build --release --features cli --bin tinyunet; exec node bench/bench.mjs ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
