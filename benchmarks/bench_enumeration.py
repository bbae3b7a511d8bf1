"""Regions per second of the n-D enumeration on 3-16-16-1 networks in the cube [-3, 3]^3.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 benchmarks/bench_enumeration.py [--seeds 0 1 2] [--repeats 3]

(one BLAS thread, as in bench_slices.py.)  Networks: ``mlp((3, 16, 16, 1), rng=seed)`` (PyTorch's default uniform
initialisation).  For every seed the table gives the number of regions, the median wall-clock and CPU time of
``enumerate_regions(net, box=(-3, 3))`` over the repeats, regions per second, how often the walk needed a fallback
(Chebyshev-centre LPs, exact line walks), and the sum of the region volumes (Qhull), which must be the cube's 216 when
no region is missing.

For comparison, the cost of deciding one region's facets with one LP per row is measured on the same network
(``Region.facets()`` through the project's LP wrapper, plus the three cube rows it lacks would add three more LPs): the
median over the first regions found gives the rate an LP-per-row facet walk could reach at best (ignoring everything
else such a walk does).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from dtd_ref import mlp
from dtd_ref.enumeration import enumerate_regions

CUBE = (-3.0, 3.0)
LP_SAMPLE = 30  # regions whose facets are decided by LPs for the comparison row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import scipy

    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    print(f"machine: nproc={os.cpu_count()}, {cpu_model}; Python {platform.python_version()}, numpy "
          f"{np.__version__}, scipy {scipy.__version__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')},"
          f" OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"repeats: {args.repeats} (median), domain [-3, 3]^3\n")
    print("| network | regions | wall (s) | CPU (s) | regions/s (wall) | regions/s (CPU) | LP centres | "
          "exact steps | volume sum | LP facets per region (ms) | LP-facet rate bound (regions/s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        net = mlp((3, 16, 16, 1), rng=seed)
        walls, cpus = [], []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            result = enumerate_regions(net, box=CUBE)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall, cpu = float(np.median(walls)), float(np.median(cpus))
        lp_times = []
        for region in result.regions[:LP_SAMPLE]:
            start = time.perf_counter()
            region.facets()
            lp_times.append(time.perf_counter() - start)
        lp = float(np.median(lp_times))
        print(f"| 3-16-16-1 (rng={seed}) | {len(result)} | {wall:.2f} | {cpu:.2f} | {len(result) / wall:,.0f} | "
              f"{len(result) / cpu:,.0f} | {result.stats['lp_centres']} | {result.stats['exact_steps']} | "
              f"{result.volumes().sum():.9f} | {lp * 1e3:.1f} | {1 / lp:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
