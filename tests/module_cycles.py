#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle (run by tests/run.sh).

A module depends on another when its code (comments and test modules, `#[cfg(test)]` or
`#[cfg(all(test, …))]`, left out) names
`crate::<other>` or `super::<other>`, alone or in a group (`crate::{a, b}`); submodules count as their top-level module. The crate
root (lib.rs, main.rs) is left out: it declares every module. Prints each circle it finds.
"""
import os
import re
import sys

CRATES = [
    "crates/mimimi-dsp/src",
    "crates/mimimi-model/src",
    "trainer/src",
    "web/src",
    "web/engine/src",
]


def modules(src):
    """Top-level module name → its code, without comments and test modules."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3]
            top = rel.split("/")[0]
            if top in ("lib", "main"):
                continue
            with open(os.path.join(root, f), encoding="utf-8") as fh:
                code = re.split(r"#\[cfg\((?:all\()?test\b", fh.read())[0]
            code = "\n".join(line.split("//")[0] for line in code.split("\n"))
            out[top] = out.get(top, "") + code
    return out


def named(code):
    """Top-level module names that `code` reaches through `crate::` or `super::`, grouped
    imports (`use crate::{a, b::{c, d}}`) included."""
    names = set()
    for m in re.finditer(r"\b(?:crate|super)::", code):
        rest = code[m.end():]
        if not rest.startswith("{"):
            found = re.match(r"[a-z_][a-z0-9_]*", rest)
            if found:
                names.add(found.group(0))
            continue
        depth, part = 0, ""
        for ch in rest:
            if ch == "{":
                depth += 1
                if depth == 1:
                    continue
            elif ch == "}":
                depth -= 1
            if depth == 0 or (depth == 1 and ch == ","):
                found = re.match(r"\s*([a-z_][a-z0-9_]*)", part)
                if found:
                    names.add(found.group(1))
                part = ""
                if depth == 0:
                    break
                continue
            part += ch
    return names


def graph(mods):
    return {m: {t for t in named(code) if t in mods and t != m} for m, code in mods.items()}


def circles(g):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def main():
    # The parser itself: a grouped, nested import names each of its top-level modules.
    assert named("use crate::{a, b::{c, d}};\nsuper::e::f;") == {"a", "b", "e"}
    bad = False
    for src in CRATES:
        g = graph(modules(src))
        for comp in circles(g):
            bad = True
            edges = ", ".join(f"{a} → {b}" for a in comp for b in sorted(g[a]) if b in comp)
            print(f"{src}: modules import each other in a circle: {edges}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
