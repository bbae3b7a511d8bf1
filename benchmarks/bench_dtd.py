"""Train-free DTD speed: z+ and epsilon on a 784-512-512-10 ReLU network, batch 256, float64.

Prints a table of median wall times over interleaved repetitions (every method runs once per round, so background
load hits all of them alike) and the ratios that matter:

* train-free z+ / epsilon against one forward pass of the same network (``net(x)``; target <= 3x),
* against zennit's z+ / epsilon on torch CPU in float64 (target: faster than zennit), after checking that both
  compute the same relevance (max relative difference printed).

The row "numpy z+ products only" times the matrix products z+ needs and nothing else (a bare forward pass, then
a W+^T and s W+ per layer): the floor of any NumPy implementation, against which the elementwise work of the real
z+ (division, masks, ledger, products with a) can be read off.

Run:  python3 benchmarks/bench_dtd.py [--repeats 15] [--batch 256] [--threads 1]
``--threads`` fixes the BLAS threads of NumPy (OpenBLAS) and torch alike (set before NumPy is imported), so both
libraries get the same cores.  Without torch / zennit installed only the dtd-ref rows are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv(argv) -> int:
    """--threads N, read before NumPy is imported (OpenBLAS fixes its pool size at import)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


_THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(_THREADS)

import numpy as np  # noqa: E402

from _common import bare_forward, machine  # noqa: E402
from dtd_ref import mlp, rules  # noqa: E402
from dtd_ref.io import to_torch  # noqa: E402
from dtd_ref.dtd import train_free_dtd  # noqa: E402

WIDTHS = (784, 512, 512, 10)
ZENNIT_STABILIZER = 1e-300  # leaves nonzero float64 denominators unchanged (see tests/test_crosscheck_zennit.py)


def _zennit_rules():
    """zennit.rules (torchvision stubbed if missing, see dtd_ref._torch_conv.import_zennit), or None."""
    try:
        from dtd_ref._torch_conv import import_zennit

        import_zennit()
    except ImportError:
        return None
    import zennit.rules

    return zennit.rules


def _zennit_method(net, x, make_rule, output):
    """A callable running zennit's attribution (forward with hooks + modified backward) on x; rules stay registered."""
    import torch

    model = to_torch(net)
    for module in model:
        if isinstance(module, torch.nn.Linear):
            make_rule().register(module)
    xt = torch.from_numpy(x)

    def run():
        inp = xt.clone().requires_grad_(True)
        y = model(inp)
        start = torch.zeros_like(y)
        start[:, output] = y[:, output]
        (relevance,) = torch.autograd.grad(y, inp, grad_outputs=start)
        return relevance.numpy()

    return run


def _zplus_products(net, x):
    """The matrix products z+ cannot avoid, alone: the bare forward, then per layer a W+^T and s W+ (s of the same
    shape as the real one, drawn once).  What is left of the z+ time above this row is elementwise work."""
    forward = bare_forward(net)
    layers = [(np.maximum(layer.W, 0.0), layer.out_features) for layer in net.affine_layers]
    a = [x]
    for layer in net.affine_layers[:-1]:
        a.append(np.maximum(a[-1] @ layer.W.T + layer.b, 0.0))
    s = [np.random.default_rng(2).random((x.shape[0], width)) for _, width in layers]

    def run():
        forward(x)
        for k, (Wp, _) in enumerate(layers):
            a[k] @ Wp.T
            s[k] @ Wp

    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    args = parser.parse_args(argv)

    net = mlp(WIDTHS, rng=0)
    x = np.random.default_rng(1).uniform(0.0, 1.0, size=(args.batch, WIDTHS[0]))
    output = 0
    bare = bare_forward(net)
    methods = {
        "dtd-ref forward net(x)": lambda: net(x),
        "numpy bare forward": lambda: bare(x),
        "numpy z+ products only": _zplus_products(net, x),
        "dtd-ref train-free z+": lambda: train_free_dtd(net, x, rules.ZPlus(), output=output, return_roots=False),
        "dtd-ref train-free epsilon": lambda: train_free_dtd(net, x, rules.Epsilon(1e-6), output=output,
                                                             return_roots=False),
    }
    zr = _zennit_rules()
    agreement = {}
    if zr is not None:
        import torch

        torch.set_num_threads(args.threads)
        zplus = _zennit_method(net, x, lambda: zr.ZPlus(stabilizer=ZENNIT_STABILIZER, zero_params="bias"), output)
        epsilon = _zennit_method(net, x, lambda: zr.Epsilon(epsilon=1e-6), output)
        model = to_torch(net)
        xt = torch.from_numpy(x)

        def torch_forward():
            with torch.no_grad():
                return model(xt)

        methods.update({"torch forward": torch_forward, "zennit z+": zplus, "zennit epsilon": epsilon})
        for name, ours, theirs in (("z+", methods["dtd-ref train-free z+"], zplus),
                                   ("epsilon", methods["dtd-ref train-free epsilon"], epsilon)):
            R_ours, R_theirs = ours().relevance[0], theirs()
            agreement[name] = float(np.abs(R_ours - R_theirs).max() / np.abs(R_ours).max())

    for method in methods.values():  # warm-up
        method()
    times = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, method in methods.items():
            start = time.perf_counter()
            method()
            times[name].append(time.perf_counter() - start)
    median = {name: float(np.median(values)) * 1e3 for name, values in times.items()}
    best = {name: float(np.min(values)) * 1e3 for name, values in times.items()}

    print(f"# {' '.join(sys.argv)}")
    print(f"# {machine()}; widths {WIDTHS}, batch {args.batch}, float64, {args.repeats} interleaved rounds, "
          f"{args.threads} BLAS thread(s); load average {os.getloadavg()[0]:.2f}")
    if zr is not None:
        import torch

        print(f"# torch {torch.__version__} ({torch.get_num_threads()} threads); relevance agreement with zennit "
              f"(max |diff| / max |R|): z+ {agreement['z+']:.2e}, epsilon {agreement['epsilon']:.2e}")
    forward = median["dtd-ref forward net(x)"]
    fastest = best["dtd-ref forward net(x)"]
    print(f"{'method':<30} {'median ms':>10} {'min ms':>8} {'x forward':>10} {'(by min)':>9} {'vs zennit':>10} "
          f"{'(by min)':>9}")
    for name, value in median.items():
        rival = {"dtd-ref train-free z+": "zennit z+", "dtd-ref train-free epsilon": "zennit epsilon"}.get(name)
        versus = f"{median[rival] / value:9.2f}x" if rival in median else ""
        versus_min = f"{best[rival] / best[name]:8.2f}x" if rival in best else ""
        print(f"{name:<30} {value:10.2f} {best[name]:8.2f} {value / forward:9.2f}x {best[name] / fastest:8.2f}x "
              f"{versus:>10} {versus_min:>9}")
    if zr is not None:
        print("(x forward: time / net(x) time; vs zennit: zennit time / dtd-ref time, > 1 means dtd-ref is faster; "
              "'by min' columns use the fastest round of each method)")


if __name__ == "__main__":
    main()
