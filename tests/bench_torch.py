#!/usr/bin/env python3
"""Times the PyTorch reference network on the CPU, for tests/bench.py (not a test).

The network is the one ../shared/reference/gen_reference.py defines (the reference
implementation the parity suite checks Mimimi against), randomly initialised as it
initialises it, in eval mode under `torch.inference_mode()`. Inputs are those of
`cargo bench -p mimimi-model --bench forward`: one 64-frame window (513 x 64, real and
imaginary parts) and a 10 s clip's 9 windows as one batch.

With --train-batch B it also times one training step as `cargo bench -p mimimi-model --bench
train_step` does (train mode, a batch of B random windows, the three heads' cross-entropies
summed, backward, an Adam step at 1e-3; float32).

Prints one JSON object: the median milliseconds per window and per clip (and per training
step) for each thread count, or {"skipped": why} when torch or the reference is absent.

Usage: tests/bench_torch.py [--reference DIR] [--runs N] [--threads 1 2 ...] [--train-batch B]
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=pathlib.Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--train-batch", type=int, default=0, help="also time a training step")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print(json.dumps({"skipped": f"torch is not installed for {sys.executable}"}))
        return
    if not (args.reference / "gen_reference.py").is_file():
        print(json.dumps({"skipped": f"no gen_reference.py in {args.reference}"}))
        return
    sys.path.insert(0, str(args.reference))
    import gen_reference

    torch.manual_seed(0)
    model = gen_reference.ComplexAnomalyDetector().eval()
    result = {"torch": torch.__version__, "runs": args.runs, "threads": {}}
    for threads in args.threads:
        torch.set_num_threads(threads)
        times = {}
        for name, batch in (("window", 1), ("clip", 9)):
            re = torch.randn(batch, 1, 513, 64)
            im = torch.randn(batch, 1, 513, 64)
            samples = []
            with torch.inference_mode():
                for run in range(args.runs + 1):
                    start = time.perf_counter()
                    model(re, im)
                    if run > 0:  # run 0 warms up
                        samples.append((time.perf_counter() - start) * 1e3)
            times[f"{name}_ms"] = statistics.median(samples)
        if args.train_batch:
            times["train_step_ms"] = train_step(torch, gen_reference, args.train_batch, args.runs)
        result["threads"][str(threads)] = times
    print(json.dumps(result))


def train_step(torch, gen_reference, batch, runs):
    """Median milliseconds of one training step of a fresh model (the first step warms up)."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = gen_reference.ComplexAnomalyDetector().train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    labels = torch.arange(batch) % 4
    samples = []
    for run in range(runs + 1):
        re = torch.randn(batch, 1, 513, 64)
        im = torch.randn(batch, 1, 513, 64)
        start = time.perf_counter()
        loss = sum(F.cross_entropy(logits, labels) for logits in model(re, im))
        optim.zero_grad()
        loss.backward()
        optim.step()
        if run > 0:
            samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
