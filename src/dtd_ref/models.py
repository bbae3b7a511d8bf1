"""Network constructors: ``mlp`` and the paper's C6 setting.

The C6 network of [SL22] is a 10-10-10-2 ReLU network with a ReLU also on the output, non-positive biases and
scaled-up positive weights.  The authors' ``init_weights`` started from PyTorch's default initialisation of
``nn.Linear`` (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), multiplied positive weights by 1.4 once
per visit of each parameter (three visits, so 1.4**3 = 2.744) and mapped positive biases b to -1.96 b (THEORY.md §5).
Both factors are named parameters here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .layers import Dense, LeakyReLU, ReLU
from .network import Network

__all__ = ["mlp", "c6_network", "C6_POSITIVE_WEIGHT_SCALE", "C6_POSITIVE_BIAS_FACTOR", "C6_WIDTHS"]

C6_WIDTHS = (10, 10, 10, 2)
C6_POSITIVE_WEIGHT_SCALE = 1.4**3
C6_POSITIVE_BIAS_FACTOR = -1.96


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (bool, float)) or not isinstance(rng, (int, np.integer)):
        raise ValueError(f"rng: expected a numpy Generator or an integer seed, got {rng!r}")
    return np.random.default_rng(int(rng))


def mlp(widths: Sequence[int], *, rng, relu_on_output: bool = False, negative_slope: float = 0.0,
        positive_weight_scale: float = 1.0, positive_bias_factor: float | None = None,
        bias: bool = True) -> Network:
    """A multi-layer perceptron with PyTorch's default initialisation.

    Parameters
    ----------
    widths : sequence of int
        (d_in, d_1, ..., d_out); at least two entries, all positive.
    rng : numpy.random.Generator or int
        Source of randomness (keyword only, required: results are deterministic for a seed).
    relu_on_output : bool
        Put an activation after the last layer too (as in the C6 experiments of [SL22]).
    negative_slope : float
        0 for ReLU, otherwise LeakyReLU with this slope.
    positive_weight_scale : float
        Factor applied to every positive weight after initialisation (C6: 2.744).
    positive_bias_factor : float, optional
        If given, every positive bias b becomes ``positive_bias_factor * b`` (C6: -1.96, making all biases <= 0).
    bias : bool
        If False, all biases are zero.

    Notes
    -----
    W_l ~ U(-1/sqrt(d_{l-1}), 1/sqrt(d_{l-1})) and b_l likewise, as ``torch.nn.Linear`` does.
    """
    widths = tuple(widths)
    if len(widths) < 2 or any(not isinstance(w, (int, np.integer)) or isinstance(w, bool) or w < 1 for w in widths):
        raise ValueError(f"widths: expected at least two positive integers, got {widths!r}")
    if not np.isfinite(positive_weight_scale) or positive_weight_scale <= 0:
        raise ValueError(f"positive_weight_scale: expected a positive finite number, got {positive_weight_scale!r}")
    if positive_bias_factor is not None and not np.isfinite(positive_bias_factor):
        raise ValueError(f"positive_bias_factor: expected a finite number, got {positive_bias_factor!r}")
    gen = _rng(rng)
    layers = []
    for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        bound = 1.0 / np.sqrt(d_in)
        W = gen.uniform(-bound, bound, size=(d_out, d_in))
        b = gen.uniform(-bound, bound, size=d_out) if bias else np.zeros(d_out)
        W = np.where(W > 0, W * positive_weight_scale, W)
        if positive_bias_factor is not None:
            b = np.where(b > 0, positive_bias_factor * b, b)
        layers.append(Dense(W, b))
        if k < len(widths) - 2 or relu_on_output:
            layers.append(LeakyReLU(negative_slope) if negative_slope else ReLU())
    return Network(layers)


def c6_network(rng=0) -> Network:
    """The C6 setting of [SL22]: widths 10-10-10-2 (three layers), ReLU on every layer, biases <= 0, positive weights x 2.744."""
    return mlp(C6_WIDTHS, rng=rng, relu_on_output=True,
               positive_weight_scale=C6_POSITIVE_WEIGHT_SCALE, positive_bias_factor=C6_POSITIVE_BIAS_FACTOR)
