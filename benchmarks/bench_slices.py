"""Regions per second of 2-D slices, side by side with Regioncam on the same weights, counts compared.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 benchmarks/bench_slices.py [--repeats 3] [--exact-small]

(one BLAS thread: Regioncam is single-threaded, and on a shared 2-core machine multi-threaded BLAS stalls when the
other core is busy; the thread settings in force are printed.)  Needs ``pip install regioncam`` (a benchmark-only
dependency).

Networks: ``mlp(widths, rng=seed)`` (PyTorch's default uniform initialisation) with widths 2-32-32-1, 2-64-64-64-1
and 2-128-128-128-128-1, on the square [-3, 3]^2 (plane origin 0, u = e1, v = e2).  Rows, interleaved per repeat:

* dtd-ref    ``slice_regions(net, 0, e1, e2, bounds=[[-3, 3], [-3, 3]])`` in float64, including the verification of
             every polygon's pattern by a forward pass at its interior point
* Regioncam  ``Regioncam(size=3)`` + ``linear(W.T, b)`` / ``relu()`` per layer in float32 (its only precision)

Both wall-clock and CPU (process) time are measured; the table reports the median over the repeats and the ratio of
the rates (dtd-ref / Regioncam, above 1 = dtd-ref faster).  ``--exact-small`` also computes the exact (rational)
slice of the 2-32-32-1 network and compares its count.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from dtd_ref import mlp
from dtd_ref.slices import slice_regions

NETWORKS = [(2, 32, 32, 1), (2, 64, 64, 64, 1), (2, 128, 128, 128, 128, 1)]
BOUNDS = ((-3.0, 3.0), (-3.0, 3.0))


def dtd_ref_slice(net) -> int:
    return len(slice_regions(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], bounds=BOUNDS))


def regioncam_slice(net) -> int:
    import regioncam

    camera = regioncam.Regioncam(size=3.0)
    layers = net.affine_layers
    for k, layer in enumerate(layers):
        camera.linear(layer.W.T.astype(np.float32), layer.b.astype(np.float32))
        if k < len(layers) - 1:
            camera.relu()
    return camera.num_faces


def timed(fn, net):
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn(net)
    return count, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact-small", action="store_true")
    args = parser.parse_args()
    from importlib.metadata import version

    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    print(f"machine: nproc={os.cpu_count()}, {cpu_model}; Python {platform.python_version()}, numpy "
          f"{np.__version__}, regioncam {version('regioncam')}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"repeats: {args.repeats} (median), seed {args.seed}, bounds {BOUNDS}\n")
    header = ("| network | dtd-ref regions | Regioncam regions | dtd-ref wall (s) | Regioncam wall (s) | "
              "dtd-ref CPU (s) | Regioncam CPU (s) | dtd-ref regions/s (CPU) | Regioncam regions/s (CPU) | "
              "rate ratio CPU | rate ratio wall |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for widths in NETWORKS:
        net = mlp(widths, rng=args.seed)
        dtd_ref_slice(net), regioncam_slice(net)  # warm-up (imports, caches)
        runs = {"dtd": [], "rc": []}
        for _ in range(args.repeats):
            runs["dtd"].append(timed(dtd_ref_slice, net))
            runs["rc"].append(timed(regioncam_slice, net))
        n_dtd, n_rc = runs["dtd"][0][0], runs["rc"][0][0]
        wall_d, cpu_d = (float(np.median([r[i] for r in runs["dtd"]])) for i in (1, 2))
        wall_r, cpu_r = (float(np.median([r[i] for r in runs["rc"]])) for i in (1, 2))
        name = "-".join(map(str, widths))
        print(f"| {name} | {n_dtd} | {n_rc} | {wall_d:.3f} | {wall_r:.3f} | {cpu_d:.3f} | {cpu_r:.3f} | "
              f"{n_dtd / cpu_d:,.0f} | {n_rc / cpu_r:,.0f} | {(n_dtd / cpu_d) / (n_rc / cpu_r):.2f} | "
              f"{(n_dtd / wall_d) / (n_rc / wall_r):.2f} |", flush=True)
    if args.exact_small:
        net = mlp(NETWORKS[0], rng=args.seed)
        wall = time.perf_counter()
        exact = slice_regions(net.to_exact(), [0, 0], [1, 0], [0, 1], bounds=BOUNDS)
        print(f"\nexact slice of {'-'.join(map(str, NETWORKS[0]))}: {len(exact)} regions "
              f"(float64: {dtd_ref_slice(net)}), area sum {sum(exact.area)} (box 36), "
              f"{time.perf_counter() - wall:.1f} s")


if __name__ == "__main__":
    main()
