#!/usr/bin/env bash
# Builds the page and serves it on http://127.0.0.1:8080 (installs the tools first if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
web/install-tools.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mimimi/target}"
exec trunk serve "$@"
