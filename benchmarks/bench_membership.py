"""Region membership versus a bare forward pass (issue 2: membership must cost at most 1.5x a forward pass).

Run:  python3 benchmarks/bench_membership.py [--points 100000] [--repeats 9]

Both timings are taken in the same run, interleaved (bare forward, net(X), closed and strict membership, again ...), and the median of the
repeats is reported.  The network is mlp((16, 64, 64, 64, 1), rng=0), the region that of a random point, the points
standard normal in R^16.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import bare_forward, cpu_model
from dtd_ref import mlp
from dtd_ref.regions import region_of

BUDGET = 1.5  # the ratio the issue allows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    widths = (16, 64, 64, 64, 1)
    net = mlp(widths, rng=0)
    rng = np.random.default_rng(1)
    region = region_of(net, rng.standard_normal(widths[0]))
    X = rng.standard_normal((args.points, widths[0]))

    bare_numpy = bare_forward(net)
    assert np.allclose(bare_numpy(X[:100]), net(X[:100]))
    region.contains(X)  # warm-up (builds the normalised rows once) and one forward
    net(X)
    forward, bare, member, strict = [], [], [], []
    for _ in range(args.repeats):
        tb = time.perf_counter()
        bare_numpy(X)
        t0 = time.perf_counter()
        net(X)
        t1 = time.perf_counter()
        region.contains(X)
        t2 = time.perf_counter()
        region.contains(X, closed=False)
        t3 = time.perf_counter()
        bare.append(t0 - tb)
        forward.append(t1 - t0)
        member.append(t2 - t1)
        strict.append(t3 - t2)
    f, m, s, g = np.median(forward), np.median(member), np.median(strict), np.median(bare)
    print(f"network {'-'.join(map(str, widths))}, {args.points} points, {region.A.shape[0]} rows, "
          f"median of {args.repeats} interleaved repeats")
    print(f"machine: {os.cpu_count()} cpus, {cpu_model()}, numpy {np.__version__}")
    print(f"{'operation':<34}{'median ms':>12}{'/ net(X)':>10}{'/ bare':>10}")
    for name, t in [("forward pass net(X)", f), ("bare NumPy forward", g), ("contains(X) (closure)", m),
                    ("contains(X, closed=False)", s)]:
        print(f"{name:<34}{1e3 * t:>12.2f}{t / f:>10.2f}{t / g:>10.2f}")
    worst = max(m, s)
    print(f"budget {BUDGET}x of net(X): {'met' if worst / f <= BUDGET else 'NOT met'}; "
          f"of the bare NumPy forward: {'met' if worst / g <= BUDGET else 'NOT met'}")


if __name__ == "__main__":
    main()
