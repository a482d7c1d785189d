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

Prints a Markdown table with each time's ratio to native on one thread (absolute times drift
on a shared machine; ratios from one run hold better, and with --rounds N every measure is
taken N times, round after round, and its median reported).

Usage: tests/bench.py [--dist dist] [--runs N] [--rounds N] [--no-page] [--train-batch B]
"""
import argparse
import gzip
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
# Criterion's names for the two inputs (crates/mimimi-model/benches/forward.rs).
NATIVE = {"window_ms": "one 64-frame example", "clip_ms": "10 s clip as 9 windows"}
# Natively, burn's flex backend with Mimimi's own complex convolution (src/cpu_conv.rs).
NATIVE_LABEL = "native, burn flex + Mimimi's convolution"


def run(command, **kwargs):
    print("==>", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)


def pytorch(runs, train_batch):
    python = os.environ.get("MIMIMI_TORCH_PYTHON", sys.executable)
    out = run([python, str(ROOT / "tests" / "bench_torch.py"), "--runs", str(runs),
               "--train-batch", str(train_batch)], stdout=subprocess.PIPE).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_label(torch):
    """The table's name for PyTorch's rows."""
    return f"PyTorch {torch['torch']} (reference)"


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
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure everything this many times, round after round; medians")
    parser.add_argument("--train-batch", type=int, default=0,
                        help="also time a training step of this many windows")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})

    # Each measure once per round, the rounds one after the other, so that a slow minute on a
    # shared machine lands in one sample of every measure, not in all of one; medians reported.
    samples = {}  # (where, parallelism) -> [(window ms, clip ms) per round], in first-seen order
    torch, result = None, None
    for _ in range(args.rounds):
        torch = pytorch(10, args.train_batch)
        if "skipped" in torch:
            print(f"PyTorch skipped: {torch['skipped']}", file=sys.stderr)
        else:
            for t in threads:
                times = torch["threads"][str(t)]
                samples.setdefault((torch_label(torch), f"{t} thread(s)"),
                                   []).append((times["window_ms"], times["clip_ms"]))
        for t in threads:
            times = native(t)
            samples.setdefault((NATIVE_LABEL, f"{t} thread(s)"), []).append(
                (times["window_ms"], times["clip_ms"]))
        if not args.no_page:
            result = page(args.dist, args.runs)
            seen = set()
            for n in result["network"]:
                key = (f"page ({args.dist}), {n['backend']}", f"{n['workers']} worker(s)")
                if key in seen:
                    continue
                seen.add(key)
                samples.setdefault(key, []).append((n["window_ms"], n["clip_ms"]))

    def median_clip(key):
        return statistics.median(clip for _, clip in samples[key])

    base = median_clip((NATIVE_LABEL, "1 thread(s)"))
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"| network, random weights ({cores} cores) | parallelism | per window (ms{rounds}) "
          f"| per 10 s clip, 9 windows (ms{rounds}) | clip ÷ native, 1 thread |"
          + (" clip per round (ms) |" if args.rounds > 1 else ""))
    print("|---|---|---:|---:|---:|" + ("---|" if args.rounds > 1 else ""))
    for (where, parallel), values in samples.items():
        window = statistics.median(w for w, _ in values)
        clip = median_clip((where, parallel))
        each = ", ".join(f"{c:.1f}" for _, c in values)
        print(f"| {where} | {parallel} | {window:.1f} | {clip:.1f} | {clip / base:.2f} |"
              + (f" {each} |" if args.rounds > 1 else ""))
    if "skipped" not in torch:
        for t in threads:
            ratio = (median_clip((torch_label(torch), f"{t} thread(s)"))
                     / median_clip((NATIVE_LABEL, f"{t} thread(s)")))
            print(f"\nPyTorch ÷ native on {t} thread(s), per clip: {ratio:.2f}")
    if args.train_batch:
        b = args.train_batch
        print(f"\n| training step, batch {b} | parallelism | ms per step | examples/s "
              "| time ÷ flex, same threads |")
        print("|---|---|---:|---:|---:|")
        for t in threads:
            step = native_train_step(t, b)
            steps = [(NATIVE_LABEL, step)]
            if "skipped" not in torch:
                steps.insert(0, (torch_label(torch),
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
