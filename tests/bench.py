#!/usr/bin/env python3
"""The network's speed side by side, in one run on one machine (not a test; docs/speed.md).

Times the same network (random weights, 513 x 64 windows; a 10 s clip is 9 of them):

- PyTorch, the reference implementation (tests/bench_torch.py with the Python that
  $MIMIMI_TORCH_PYTHON names, else this one; skipped when torch or ../shared/reference is
  absent), on 1 thread and on all;
- natively, burn's flex backend (`cargo bench -p mimimi-model --bench forward`), on 1 thread
  and on all (RAYON_NUM_THREADS);
- in the page (tests/e2e/bench.mjs on the built site, headless Chromium): the network on the
  CPU with one engine worker and with one per core, and on WebGPU (SwiftShader here, a CPU
  emulation); the first verdict after a cold load; the bytes of the page's modules and of a
  first visit;
- with --train-batch B, one training step of B windows (train mode, the three heads'
  cross-entropies, backward, Adam) in PyTorch and in flex (`cargo bench -p mimimi-model
  --bench train_step`), on 1 thread and on all.

Prints a Markdown table with each time's ratio to native flex on one thread (absolute times
drift on a shared machine; ratios from one run hold better).

Usage: tests/bench.py [--dist dist] [--runs N] [--no-page] [--train-batch B]
"""
import argparse
import gzip
import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
# Criterion's names for the two inputs (crates/mimimi-model/benches/forward.rs).
NATIVE = {"window_ms": "one 64-frame example", "clip_ms": "10 s clip as 9 windows"}


def run(command, **kwargs):
    print("==>", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)


def pytorch(runs, train_batch):
    python = os.environ.get("MIMIMI_TORCH_PYTHON", sys.executable)
    out = run([python, str(ROOT / "tests" / "bench_torch.py"), "--runs", str(runs),
               "--train-batch", str(train_batch)], stdout=subprocess.PIPE).stdout
    return json.loads(out.strip().splitlines()[-1])


def criterion(bench, group, names, threads, env=None):
    """Criterion's median of each named function of `group`, in ms, on `threads` threads."""
    baseline = f"threads-{threads}"
    pattern = f"^{group}/(" + "|".join(names) + ")$"  # plain words: nothing to escape
    env = dict(os.environ, **(env or {}), RAYON_NUM_THREADS=str(threads),
               CARGO_TARGET_DIR=str(TARGET))
    run(["cargo", "bench", "-p", "mimimi-model", "--bench", bench, "--", pattern,
         "--save-baseline", baseline], cwd=ROOT, env=env, stdout=sys.stderr)
    return {name: json.loads((TARGET / "criterion" / group / name / baseline / "estimates.json")
                             .read_text())["median"]["point_estimate"] / 1e6 for name in names}


def native(threads):
    """Flex's forward pass per input (NATIVE), in ms."""
    times = criterion("forward", "forward", list(NATIVE.values()), threads)
    return {key: times[name] for key, name in NATIVE.items()}


def native_train_step(threads, batch):
    """Flex's training step of `batch` windows (benches/train_step.rs), in ms."""
    name = f"batch {batch}"
    return criterion("train_step", "train step, flex", [name], threads,
                     {"MIMIMI_BENCH_BATCH": str(batch)})[name]


def page(dist, runs):
    env = dict(os.environ, MIMIMI_DIST=dist)
    out = run(["node", "bench.mjs", str(runs)], cwd=ROOT / "tests" / "e2e", env=env,
              stdout=subprocess.PIPE).stdout
    print(out, file=sys.stderr)
    return json.loads(out.strip().splitlines()[-1])


def sizes(dist):
    """(raw, gzipped) bytes of each module, and a first visit's gzipped bytes."""
    folder = ROOT / dist
    modules = {}
    for wasm in sorted(folder.glob("*.wasm")):
        raw = wasm.read_bytes()
        name = "engine worker" if wasm.name.startswith("mimimi-engine") else "page"
        modules[name] = (len(raw), len(gzip.compress(raw, 9)))
    out = run([sys.executable, str(ROOT / "tests" / "first_load.py"), str(folder), str(10**12)],
              stdout=subprocess.PIPE).stdout
    first = int(re.search(r"first visit: ([\d,]+) bytes", out).group(1).replace(",", ""))
    return modules, first


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist", help="the built site (dist, or dist-release)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure in the page")
    parser.add_argument("--no-page", action="store_true", help="skip the browser")
    parser.add_argument("--train-batch", type=int, default=0,
                        help="also time a training step of this many windows")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})

    rows = []  # (where, parallelism, window ms, clip ms)
    torch = pytorch(10, args.train_batch)
    if "skipped" in torch:
        print(f"PyTorch skipped: {torch['skipped']}", file=sys.stderr)
    else:
        for t in threads:
            times = torch["threads"][str(t)]
            rows.append((f"PyTorch {torch['torch']} (reference)", f"{t} thread(s)",
                         times["window_ms"], times["clip_ms"]))
    flex = {t: native(t) for t in threads}
    for t in threads:
        rows.append(("native, burn flex", f"{t} thread(s)", flex[t]["window_ms"], flex[t]["clip_ms"]))
    result = None
    if not args.no_page:
        result = page(args.dist, args.runs)
        seen = set()
        for n in result["network"]:
            key = (n["backend"], n["workers"])
            if key in seen:
                continue
            seen.add(key)
            rows.append((f"page ({args.dist}), {n['backend']}", f"{n['workers']} worker(s)",
                         n["window_ms"], n["clip_ms"]))

    base = flex[1]["clip_ms"]
    print(f"| network, random weights ({cores} cores) | parallelism | per window (ms) "
          "| per 10 s clip, 9 windows (ms) | clip ÷ native flex, 1 thread |")
    print("|---|---|---:|---:|---:|")
    for where, parallel, window, clip in rows:
        print(f"| {where} | {parallel} | {window:.1f} | {clip:.1f} | {clip / base:.2f} |")
    if "skipped" not in torch:
        for t in threads:
            ratio = torch["threads"][str(t)]["clip_ms"] / flex[t]["clip_ms"]
            print(f"\nPyTorch ÷ native flex on {t} thread(s), per clip: {ratio:.2f}")
    if args.train_batch:
        b = args.train_batch
        print(f"\n| training step, batch {b} | parallelism | ms per step | examples/s "
              "| time ÷ flex, same threads |")
        print("|---|---|---:|---:|---:|")
        for t in threads:
            step = native_train_step(t, b)
            steps = [("native, burn flex", step)]
            if "skipped" not in torch:
                steps.insert(0, (f"PyTorch {torch['torch']} (reference)",
                                 torch["threads"][str(t)]["train_step_ms"]))
            for where, ms in steps:
                print(f"| {where} | {t} thread(s) | {ms:.1f} | {b / ms * 1e3:.2f} "
                      f"| {ms / step:.2f} |")
    if result:
        modules, first = sizes(args.dist)
        print()
        for name, (raw, gz) in modules.items():
            print(f"- {name} module: {raw / 1e6:.2f} MB raw, {gz / 1e6:.2f} MB gzipped")
        print(f"- a first visit: {first / 1e6:.2f} MB gzipped")
        for label, seconds in result["first_verdict_s"].items():
            print(f"- first verdict after a cold load, {label}: {seconds:.2f} s "
                  f"({result['received_mb'][label]:.1f} MB received)")
        for memory in result["memory_mb"]:
            print(f"- engine workers' linear memory after the bench: {', '.join(map(str, memory))} MB")


if __name__ == "__main__":
    main()
