"""Train-free z+ DTD on the LeNet-style network (batch 64): ratio to a forward pass, side by side with zennit.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 benchmarks/bench_conv.py [--batch 64] [--repeats 15]

(one thread for NumPy's BLAS and for torch: on a shared 2-core machine, multi-threaded BLAS calls of a few
microseconds of work can stall for milliseconds when the other core is busy, which swamps the comparison; the
thread settings in force are printed)

Everything is timed in one run, interleaved (one repetition of every row, then again ...), and the median of the
repeats is reported.  The network is a torch LeNet-5-style Sequential (conv 5x5 1->6, ReLU, max-pool 2, conv 5x5
6->16, ReLU, max-pool 2, Flatten, 256-120-84-10 with ReLUs) in float64, converted with ``from_torch``; inputs are
U(0, 1) images, the explained output is logit 0.  Rows:

* dtd-ref forward            ``net(X)`` (im2col gather + one matmul per conv group, float64)
* dtd-ref forward, dense W   the same network with every Conv2d replaced by Dense(weight_matrix()) (BLAS on the
                             sparse dense matrix: what the im2col path saves or costs)
* dtd-ref z+ DTD             ``train_free_dtd(net, X, ZPlus(), output=0, return_roots=False)``
* torch forward (float64)    ``model(X)`` under ``torch.no_grad()``
* zennit z+ (float64)        zennit's ``Gradient`` attributor with ZPlus on every Conv2d / Linear (bias zeroed, as
                             dtd-ref's z+ leaves the bias out); checked equal to dtd-ref's relevance first
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import cpu_model
from dtd_ref import rules
from dtd_ref.dtd import train_free_dtd
from dtd_ref.io import from_torch
from dtd_ref.layers import Dense
from dtd_ref.network import Network

#: Relevance of dtd-ref and zennit must agree to this relative tolerance before anything is timed.
AGREEMENT_RTOL = 1e-9


def torch_lenet(seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10)).double().eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    import torch

    from dtd_ref._torch_conv import import_zennit

    import_zennit()
    from zennit.attribution import Gradient
    from zennit.composites import LayerMapComposite
    from zennit.rules import ZPlus as ZennitZPlus

    model = torch_lenet(0)
    net = from_torch(model, input_shape=(1, 28, 28))
    dense = Network([Dense(layer.weight_matrix(), layer.bias_vector()) if layer.kind == "affine" else layer
                     for layer in net.layers])
    X = np.random.default_rng(1).random((args.batch, 784))
    Xt = torch.from_numpy(X.reshape(-1, 1, 28, 28).copy())
    composite = LayerMapComposite([((torch.nn.Conv2d, torch.nn.Linear), ZennitZPlus(1e-100, ["bias"]))])

    def zennit_zplus():
        xt = Xt.clone().requires_grad_(True)
        with Gradient(model=model, composite=composite) as attributor:
            y = model(xt)
            seed = torch.zeros_like(y)
            seed[:, 0] = y[:, 0].detach()
            return attributor(xt, seed)[1]

    def torch_forward():
        with torch.no_grad():
            return model(Xt)

    ours = train_free_dtd(net, X, rules.ZPlus(), output=0, return_roots=False).relevance[0]
    theirs = zennit_zplus().numpy().reshape(args.batch, -1)
    error = np.abs(ours - theirs).max() / max(1.0, np.abs(theirs).max())
    assert error < AGREEMENT_RTOL, f"dtd-ref and zennit disagree: relative error {error}"
    assert np.allclose(dense(X), net(X), rtol=1e-12, atol=1e-12)

    rows = {
        "dtd-ref forward": lambda: net(X),
        "dtd-ref forward, dense W": lambda: dense(X),
        "dtd-ref z+ DTD": lambda: train_free_dtd(net, X, rules.ZPlus(), output=0, return_roots=False),
        "torch forward (float64)": torch_forward,
        "zennit z+ (float64)": zennit_zplus,
    }
    times = {name: [] for name in rows}
    for fn in rows.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in rows.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    median = {name: float(np.median(t)) for name, t in times.items()}

    print(f"# LeNet-style z+ DTD, batch {args.batch}, median of {args.repeats} interleaved repeats")
    threads = {key: os.environ.get(key, "unset") for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    print(f"# machine: nproc={os.cpu_count()}, cpu={cpu_model()}, numpy {np.__version__}, torch {torch.__version__} "
          f"(torch threads {torch.get_num_threads()}, {threads}), load average {os.getloadavg()[0]:.1f}")
    print(f"# dtd-ref vs zennit relevance: max relative difference {error:.1e}")
    base, torch_base = median["dtd-ref forward"], median["torch forward (float64)"]
    print(f"{'row':28s} {'median ms':>10s} {'/ dtd-ref fwd':>14s} {'/ torch fwd':>12s}")
    for name, value in median.items():
        print(f"{name:28s} {1e3 * value:10.2f} {value / base:14.2f} {value / torch_base:12.2f}")
    print(f"z+ DTD / forward: dtd-ref {median['dtd-ref z+ DTD'] / base:.2f}, "
          f"zennit {median['zennit z+ (float64)'] / torch_base:.2f}; "
          f"dtd-ref z+ / zennit z+: {median['dtd-ref z+ DTD'] / median['zennit z+ (float64)']:.2f}")


if __name__ == "__main__":
    main()
