#!/usr/bin/env bash
# Installs what the browser tests need, skipping whatever is already there: Debian's Chromium
# (Playwright's own browser download cannot work offline) and the npm packages of tests/e2e.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/chromium ]]; then
  echo "==> apt-get install chromium"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

if [[ ! -d tests/e2e/node_modules/playwright-core ]]; then
  echo "==> npm ci (tests/e2e)"
  (cd tests/e2e && npm ci --no-audit --no-fund)
fi
