#!/usr/bin/env python3
"""Writes the page's Content-Security-Policy into a built index.html (run by web/pwa.sh).

The policy lets the page load and fetch only its own origin's files, so "audio never leaves
the device" is a rule the browser enforces, not only a promise. Inline scripts (the SIMD probe
of index.html and the loader Trunk writes) are allowed by their SHA-256 hashes, computed here
from the built file, so no other inline script can run. WebAssembly compilation needs
'wasm-unsafe-eval'; Leptos sets style attributes, hence 'unsafe-inline' for styles only.

A <meta> policy applies to what follows it, so it goes right after <meta charset>.
"""
import base64
import hashlib
import re
import sys

MARK = 'http-equiv="Content-Security-Policy"'


def policy(html: str) -> str:
    hashes = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        if "src=" in attrs:
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval' " + " ".join(hashes),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        html = f.read()
    if MARK in html:
        sys.exit(f"{path} already has a Content-Security-Policy")
    meta = f'<meta {MARK} content="{policy(html)}" />'
    html, n = re.subn(r"(<meta charset=[^>]*>)", lambda m: m.group(1) + "\n    " + meta, html, count=1)
    if n != 1:
        sys.exit(f"{path}: no <meta charset> to put the Content-Security-Policy after")
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)


if __name__ == "__main__":
    main(sys.argv[1])
