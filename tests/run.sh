#!/usr/bin/env bash
# Every test of the project, as CI runs it: formatting, lints, the native test suites (signal
# path, network parity with the PyTorch reference, model files, trainer), the parity suite as
# WebAssembly, the page build (the page's module, and the engine worker's with both of burn's
# backends), the page's end-to-end tests in headless Chromium (WebGPU on SwiftShader, and the
# CPU fallback; screenshots land in tests/e2e/screenshots/), and the hosting build.
#
# Builds go to $CARGO_TARGET_DIR (default ~/.cache/mimimi/target, outside the clone) so that a
# fresh clone on a machine that built before reuses the compiled dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mimimi/target}"
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools"
web/install-tools.sh
tests/install-browser.sh

step "cargo fmt --check"
cargo fmt --all --check

step "no import circles between modules"
python3 tests/module_cycles.py

# Natively, everything is linted, documented and tested with one feature set, without the GPU
# stack (wgpu, naga, cubecl: checked natively, they cost a cold run about 4 minutes; nothing
# here runs on a GPU). The code that needs it is linted where it is built: the engine worker
# (feature `worker`) by clippy as the page build compiles it for wasm32; the trainer's `gpu`
# feature adds one four-line function that no step here compiles (docs/building.md).
native=(--workspace --no-default-features --features mimimi-model/flex)
step "cargo clippy --all-targets -- -D warnings"
cargo clippy "${native[@]}" --all-targets -- -D warnings

# The libraries and the two programs, as a plain `cargo doc` picks them; `--examples` (there
# are none) makes cargo resolve features with the dev-dependencies, as clippy's `--all-targets`
# did: otherwise criterion's feature choices differ, and burn's dependencies are checked a
# second time here.
step "cargo doc -D warnings (missing docs, broken intra-doc links)"
RUSTDOCFLAGS="-D warnings" cargo doc "${native[@]}" --no-deps --lib --bin mimimi-web \
  --bin trainer --examples

step "native tests"
cargo test "${native[@]}" --no-fail-fast

# One build: the suites that need the network are built with the engine worker's features
# (naming the engine makes them the same), so that burn, compiled here for wasm32, is reused by
# the page build below; the hostile WAV files and the checkpoint reader go in the same build
# (each on its own would resolve its dependencies' features again; the reader's zip turns on
# features the engine names too, see web/engine/Cargo.toml).
step "parity suite, hostile WAV files, manifests, profiles and checkpoints as WebAssembly (run by Node)"
# The project's crates are compiled through clippy (here and in the page build, which lints
# the page and the engine worker as they ship), and their warnings fail the step, as clippy's
# do natively: `RUSTFLAGS=-D warnings` would change burn's wasm32 build too, and cargo has no
# stable switch for it, so the output is read (cargo repeats a cached build's warnings).
linted() {
  local log
  log="$(mktemp)"
  RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" "$@" 2>&1 | tee "$log"
  if grep '^warning' "$log"; then
    echo "the build above warns: fix what it says" >&2
    exit 1
  fi
}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
linted cargo test --target wasm32-unknown-unknown -p mimimi-dsp -p mimimi-model -p mimimi-engine \
  --features mimimi-engine/worker,mimimi-model/pytorch \
  --test parity --test hostile_files --test hostile_wav --test hostile_checkpoints
unset CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER

step "page build (trunk), linted by clippy"
linted trunk build

step "first-visit download within its budget (3 MB gzipped)"
python3 tests/first_load.py dist 3000000

step "end-to-end tests in headless Chromium"
(cd tests/e2e && node --test)

# The hosting build: the page's module size-optimised (web-release profile, wasm-opt), within
# the budget, and working: checks of the examples and the CPU self-test in the browser.
step "hosting build (web/build-release.sh) within its budget, and working in the browser"
web/build-release.sh dist-release
(cd tests/e2e && MIMIMI_DIST=dist-release node --test longtask.test.mjs)

step "all tests passed"
