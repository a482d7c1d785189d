#!/usr/bin/env bash
# Installs what building the page needs, skipping whatever is already there:
#   - the wasm32-unknown-unknown Rust target
#   - trunk 0.22.1 (it declares Rust 1.96.1; it builds and works with 1.95, hence
#     --ignore-rust-version). A debug build without the update check: trunk only runs cargo
#     and wasm-bindgen and copies files, so its own speed does not matter, and the debug build
#     compiles in well under half the time (docs/building.md)
#   - wasm-bindgen-cli at exactly the version in Cargo.lock (Trunk refuses any other and would
#     try to download one; there is no internet here). Installed without --locked: its own lock
#     file pins a crate version the registry no longer serves.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.22.1
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]]; then
  echo "==> installing trunk $TRUNK_VERSION (takes a while on a small machine)"
  cargo install --locked --ignore-rust-version --debug --no-default-features --features rustls \
    trunk --version "$TRUNK_VERSION"
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  echo "==> installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Trunk.toml pins the wasm-bindgen version too: keep the two in step with Cargo.lock.
if ! grep -q "wasm_bindgen = \"$WASM_BINDGEN_VERSION\"" Trunk.toml; then
  echo "Trunk.toml's [tools] wasm_bindgen differs from Cargo.lock's $WASM_BINDGEN_VERSION: update it" >&2
  exit 1
fi
