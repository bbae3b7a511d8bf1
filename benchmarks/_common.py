"""Helpers shared by the benchmark scripts (run as ``python3 benchmarks/bench_X.py``, so this folder is on sys.path)."""

from __future__ import annotations

import os
import platform

import numpy as np


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """One line for RESULTS.md: cores, CPU, Python and NumPy versions."""
    return f"{os.cpu_count()} cpus ({cpu_model()}), Python {platform.python_version()}, numpy {np.__version__}"


def bare_forward(net):
    """The network's forward pass in plain NumPy (no validation, no trace): a <- max(a W^T + b, 0) per layer.

    For MLPs whose last layer has no activation; the reference point that the engine's own forward is compared to.
    """
    Ws = [(layer.W, layer.b) for layer in net.affine_layers]

    def run(x):
        a = x
        for k, (W, b) in enumerate(Ws):
            a = a @ W.T + b
            if k < len(Ws) - 1:
                a = np.maximum(a, 0.0)
        return a

    return run
