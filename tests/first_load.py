#!/usr/bin/env python3
"""Fails when a first visit downloads more than the budget (run by tests/run.sh after the page
build).

A first visit downloads what the service worker precaches (dist/sw.js's PRECACHE, written by
web/pwa.sh): the page, its module, the list of models, icons; and the manifest of the type
that is checked (counted here as the largest of them). The other manifests, the network
engine, the weights, the examples and the self-test's files come only when used. Sizes are gzipped (what
a server sends compressed), measured per file. Prints the list, largest first.

Usage: tests/first_load.py [dist] [budget in bytes]
"""
import gzip
import os
import re
import sys

dist = sys.argv[1] if len(sys.argv) > 1 else "dist"
budget = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000_000

with open(os.path.join(dist, "sw.js"), encoding="utf-8") as f:
    sw = f.read()
listing = re.search(r"const PRECACHE = \[(.*?)\];", sw, flags=re.S)
if not listing:
    sys.exit(f"{dist}/sw.js has no PRECACHE list")
files = [u for u in re.findall(r"'\./([^']*)'", listing.group(1)) if u]
files.append("sw.js")
manifests = [os.path.join("models", d, "manifest.json") for d in os.listdir(os.path.join(dist, "models"))
             if os.path.isfile(os.path.join(dist, "models", d, "manifest.json"))]
if any(m in files for m in manifests):
    sys.exit("a model manifest is precached: a first visit would download every type's")
if manifests:
    files.append(max(manifests, key=lambda m: os.path.getsize(os.path.join(dist, m))))
sizes = []
for name in files:
    with open(os.path.join(dist, name), "rb") as f:
        raw = f.read()
    sizes.append((len(gzip.compress(raw, 9)), len(raw), name))
sizes.sort(reverse=True)
for gz, raw, name in sizes:
    print(f"{gz:>10,} gz {raw:>12,} raw  {name}")
total = sum(gz for gz, _, _ in sizes)
print(f"first visit: {total:,} bytes gzipped in {len(sizes)} files (budget {budget:,})")
engine = [n for n in files if n.startswith("mimimi-engine")]
if engine:
    sys.exit(f"the network engine is precached ({engine}): a first visit would download it")
if total > budget:
    sys.exit(f"a first visit downloads {total:,} bytes gzipped, over the budget of {budget:,}")
