#!/usr/bin/env bash
# Trunk post_build hook (Trunk.toml): writes the Content-Security-Policy into index.html
# (web/csp.py) and sw.js, the service worker, into the build. It
# precaches every file of the build (app shell, wasm, the list of models, icons) except the
# example clips, the self-test's reference files, the models' manifests and weights and the
# network engine (the worker's module), which are cached when first used (a phone fetches the
# manifest of the type it checks; the default score reads no weights and runs no network: a
# phone that never needs them never downloads them); its version is a hash
# of those files, so any new deployment is a new worker with a new cache, installed whole in
# the background before it may take over.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
# The Content-Security-Policy first: it changes index.html, which the version hashes.
python3 "$here/csp.py" index.html
mapfile -t files < <(find . -type f ! -name sw.js ! -path './examples/*' ! -path './selftest/*' \
  ! -path './models/*/weights*' ! -path './models/*/manifest.json' ! -name 'mimimi-engine*' \
  | sed 's|^\./||' | LC_ALL=C sort)
version=$(sha256sum "${files[@]}" | sha256sum | cut -c1-16)
{
  echo "// Written by web/pwa.sh at build time from web/sw.template.js."
  echo "const VERSION = '$version';"
  echo "const PRECACHE = ['./',"
  printf "  './%s',\n" "${files[@]}"
  echo "];"
  cat "$here/sw.template.js"
} > sw.js
echo "pwa.sh: sw.js version $version precaches ${#files[@]} files"
