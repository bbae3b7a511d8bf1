"""Benchmark of the study: does ``dtd-ref study`` finish on the default in under a minute, and what does exactness cost?

Prints three tables:

1. ``dtd-ref study`` end to end in a fresh interpreter (the command a newcomer runs: imports, 1000 inputs, both
   conventions, five rules, ten network seeds, sanity checks, slice, proofs, report and figures), ``--runs`` times;
2. the breakdown of one in-process ``run_study()`` by step;
3. ``analyze_roots`` per input: float64 with exact recheck (1000 inputs) against exact rationals (a few inputs),
   for z+ in both conventions, measured side by side in this run.

Usage: ``python3 benchmarks/bench_study.py [--runs 3] [--exact-inputs 20]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli_runs(runs: int) -> list:
    seconds = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dtd_ref", "study", "--quiet", "--out", out], check=True,
                           capture_output=True, cwd=ROOT)  # from the clone, so that proofs/ is importable
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--exact-inputs", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)  # proofs/ of this clone

    from dtd_ref import c6_network, to_exact
    from dtd_ref.roots import analyze_roots
    from dtd_ref.study import run_study, sample_inputs

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")

    seconds = cli_runs(args.runs)
    print("\n| command | runs | min (s) | median (s) | max (s) | budget (s) |")
    print("|---|---|---|---|---|---|")
    print(f"| dtd-ref study (default) | {len(seconds)} | {min(seconds):.1f} | {statistics.median(seconds):.1f} | "
          f"{max(seconds):.1f} | 60 |")

    result = run_study()
    assert result.proofs is not None, "proofs/ is not importable: the breakdown would leave the proofs out"
    print("\n| step of run_study() | seconds |")
    print("|---|---|")
    for step, value in result.seconds.items():
        print(f"| {step} | {value:.2f} |")

    net = c6_network(0)
    X, _ = sample_inputs(net, 1000, rng=0)
    exact_net = to_exact(net)
    n_exact = args.exact_inputs
    print(f"\n| analyze_roots, z+, all layers | float64 + recheck, 1000 inputs (s) | per input (ms) | "
          f"exact, {n_exact} inputs (s) | per input (ms) | exact / float per input |")
    print("|---|---|---|---|---|---|")
    for convention in ("exact", "authors"):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            analyze_roots(net, X, "z+", convention=convention)
            times.append(time.perf_counter() - start)
        t_float = statistics.median(times)
        start = time.perf_counter()
        analyze_roots(exact_net, X[:n_exact], "z+", convention=convention)
        t_exact = time.perf_counter() - start
        per_float, per_exact = t_float / X.shape[0], t_exact / n_exact
        print(f"| convention={convention} | {t_float:.3f} | {1e3 * per_float:.3f} | {t_exact:.2f} | "
              f"{1e3 * per_exact:.1f} | {per_exact / per_float:.0f}x |")


if __name__ == "__main__":
    main()
