"""Benchmark of proofs/: wall time of the whole suite (target: under 60 s on the 2-core machine) and two design ratios.

Run from the repository root:

    python3 benchmarks/bench_proofs.py            # 3 cold runs of `python -m proofs`, per-claim times, ratios
    python3 benchmarks/bench_proofs.py --repeat 5

Tables printed:

1. ``python -m proofs`` in a fresh interpreter (imports, sympy caches empty), ``--repeat`` times: min / median / max.
2. Per claim, in-process (``proofs.run_all()`` after the imports).
3. Why the exhaustive checks are cheap, measured side by side in this run:
   a. claim 1 on the 16 depth-3 architectures of width <= 2: one recursion with symbolic 0/1 slopes per architecture
      versus one recursion per explicit 0/1 pattern (432 patterns);
   b. claim 4 (LRP-0) on all 117 architectures up to depth 3, width 3: exact division in the sparse polynomial ring
      QQ[...] versus ``sympy.div`` on expression trees.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import proofs  # noqa: E402
from proofs import constant_roots  # noqa: E402
from proofs._core import is_zero  # noqa: E402
from proofs._symbolic import architectures, symbolic_network  # noqa: E402
from proofs.lrp0 import layerwise_relevance  # noqa: E402


def cold_runs(repeat: int) -> list:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "proofs"], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"python -m proofs failed:\n{done.stdout}\n{done.stderr}")
    return times


def claim1_symbolic_vs_explicit() -> tuple:
    archs = [w for w in itertools.product((1, 2), repeat=4)]
    start = time.perf_counter()
    for widths in archs:
        net = symbolic_network(widths, tag="bs")
        R, u = constant_roots.relevance_recursion(net)
        assert is_zero(constant_roots.theorem_residuals(net, R, u)[0])
    symbolic = time.perf_counter() - start
    start, patterns = time.perf_counter(), 0
    for widths in archs:
        net = symbolic_network(widths, tag="be")
        slopes = [e for group in net.s for e in group]
        for bits in itertools.product((0, 1), repeat=len(slopes)):
            sub = dict(zip(slopes, map(sp.Integer, bits)))
            explicit = type(net)(net.widths, net.W, net.b, tuple(m.xreplace(sub) for m in net.s))
            R, u = constant_roots.relevance_recursion(explicit)
            assert is_zero(constant_roots.theorem_residuals(explicit, R, u)[0])
            patterns += 1
    return len(archs), patterns, symbolic, time.perf_counter() - start


def _lrp0_expression_trees(net) -> bool:
    """LRP-0 = gradient x input by sympy.div on expression trees (the slower alternative to the ring)."""
    x = net.variables(0, "x")
    a, z = [x], []
    for l in range(net.depth):
        z.append(net.preactivation(l, a[l]))
        a.append(net.layer(l, a[l]))
    R = [sp.expand(a[-1][j]) if j == 0 else sp.Integer(0) for j in range(net.widths[-1])]
    for l in reversed(range(net.depth)):
        q = []
        for j in range(net.widths[l + 1]):
            if R[j] == 0:
                q.append(sp.Integer(0))
                continue
            quotient, remainder = sp.div(R[j], sp.expand(z[l][j]))
            assert remainder == 0
            q.append(quotient)
        R = [sp.expand(sum(a[l][i] * net.W[l][j, i] * q[j] for j in range(net.widths[l + 1])))
             for i in range(net.widths[l])]
    f = a[-1][0]
    return all(sp.expand(R[i] - x[i] * sp.diff(f, x[i])) == 0 for i in range(net.widths[0]))


def claim4_ring_vs_trees() -> tuple:
    archs = list(architectures(3, 3))
    start = time.perf_counter()
    for widths in archs:
        prop = layerwise_relevance(symbolic_network(widths, tag="br"))
        assert all(r - g == 0 for r, g in zip(prop.R[0], prop.gradient_times_input()))
    ring = time.perf_counter() - start
    start = time.perf_counter()
    for widths in archs:
        assert _lrp0_expression_trees(symbolic_network(widths, tag="bt"))
    return len(archs), ring, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    times = cold_runs(args.repeat)
    print(f"1. python -m proofs, fresh interpreter, {args.repeat} runs")
    print("| min (s) | median (s) | max (s) | budget (s) |")
    print("|---|---|---|---|")
    print(f"| {min(times):.2f} | {statistics.median(times):.2f} | {max(times):.2f} | 60 |")

    results = proofs.run_all()
    print("\n2. per claim, in-process (after imports)")
    print("| claim | checks | seconds | ok |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r.claim} | {len(r.details)} | {r.seconds:.2f} | {r.ok} |")
    print(f"| total | {sum(len(r.details) for r in results)} | {sum(r.seconds for r in results):.2f} | "
          f"{all(r.ok for r in results)} |")

    n_arch, n_pat, t_sym, t_exp = claim1_symbolic_vs_explicit()
    n_all, t_ring, t_tree = claim4_ring_vs_trees()
    print("\n3. design ratios, measured side by side")
    print("| comparison | cases | fast (s) | slow (s) | slow / fast |")
    print("|---|---|---|---|---|")
    print(f"| claim 1: symbolic slopes vs explicit 0/1 patterns | {n_arch} archs / {n_pat} patterns | {t_sym:.2f} | "
          f"{t_exp:.2f} | {t_exp / t_sym:.1f} |")
    print(f"| claim 4: polynomial ring vs sympy.div on expressions | {n_all} archs | {t_ring:.2f} | {t_tree:.2f} | "
          f"{t_tree / t_ring:.1f} |")


if __name__ == "__main__":
    main()
