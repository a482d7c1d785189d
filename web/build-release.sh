#!/usr/bin/env bash
# The hosting build: the static site in dist-release/ (or the folder given), ready to copy to
# any static host. The page's own module, the first download, is built small (Cargo.toml's
# `web-release` profile, then wasm-opt -Oz from npm's binaryen 132, installed on first use into
# ~/.cache/mimimi/binaryen); the engine worker as in development (index.html says why). Ends
# by checking the first-visit bytes against the 3 MB budget.
set -euo pipefail
cd "$(dirname "$0")/.."
web/install-tools.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mimimi/target}"
binaryen="$HOME/.cache/mimimi/binaryen"
if ! "$binaryen/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version 132"; then
  npm install --prefix "$binaryen" --no-audit --no-fund binaryen@132.0.0
fi
export PATH="$binaryen/node_modules/.bin:$PATH"
out="${1:-dist-release}"
trunk build --release --dist "$out"
python3 tests/first_load.py "$out" 3000000
