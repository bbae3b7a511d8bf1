"""Fold an eval-mode batch normalisation into the affine layer before it.

In evaluation mode a batch norm is the affine map y = gamma (z - mean) / sqrt(var + eps) + beta per channel, so
BN(W a + b) is again an affine layer of the same kind: W' = s W (row-wise per output channel), b' = s (b - mean) +
beta with s = gamma / sqrt(var + eps).  Folding keeps networks piecewise linear with one affine layer per
Dense / Conv2d, which is what the DTD rules and the layer indexing expect.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_array
from .conv import Conv2d
from .exact import to_float, to_fraction
from .layers import Dense

__all__ = ["fold_batchnorm", "DEFAULT_BATCHNORM_EPS"]

DEFAULT_BATCHNORM_EPS = 1e-5  # torch.nn.BatchNorm{1,2}d's default


def fold_batchnorm(layer, *, gamma, beta, running_mean, running_var, eps=DEFAULT_BATCHNORM_EPS):
    """The affine layer BN o layer, for a ``Dense`` or ``Conv2d`` followed by an eval-mode batch norm.

    Parameters
    ----------
    layer : Dense or Conv2d
        The layer whose output channels (rows of a Dense, output channels of a Conv2d) the batch norm normalises.
    gamma, beta, running_mean, running_var : array_like, shape (C,)
        Scale, shift and running statistics, one per output channel (C = out_features of a Dense, C_out of a
        Conv2d).  ``running_var`` must be >= 0.
    eps : float
        Added to the variance (torch's default 1e-5).

    Returns
    -------
    Dense or Conv2d
        Same kind and geometry as ``layer``, with W' = s W and b' = s (b - running_mean) + beta per output channel,
        s = gamma / sqrt(running_var + eps).

    Notes
    -----
    The square root of running_var + eps is taken in float64, so the folded layer equals BN o layer up to float
    rounding.  For an exact ``layer`` every other quantity stays exact and only that rounded root is converted to a
    Fraction (the root of a rational is irrational in general): the result is an exact layer equal to a batch norm
    whose sqrt(running_var + eps) is rounded to float64.
    """
    if not isinstance(layer, (Dense, Conv2d)):
        raise ValueError(f"layer: expected a Dense or Conv2d layer to fold into, got {layer!r}")
    C = layer.W.shape[0]
    stats = {}
    for name, value in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var)):
        array = as_array(value, name, ndim=1)
        if array.shape != (C,):
            raise ValueError(f"{name}: expected shape ({C},) for a layer with {C} output channels, got {array.shape}")
        stats[name] = to_fraction(array) if layer.exact else to_float(array)
    eps = as_array(eps, "eps", ndim=0).item()
    variance = to_float(stats["running_var"]) + float(eps)
    if (to_float(stats["running_var"]) < 0).any() or eps < 0 or (variance <= 0).any():
        raise ValueError("running_var, eps: need running_var >= 0, eps >= 0 and running_var + eps > 0")
    root = np.sqrt(variance)  # rounded: the one inexact step
    s = stats["gamma"] / (to_fraction(root) if layer.exact else root)
    shift_mean, beta = stats["running_mean"], stats["beta"]
    W = layer.W * s.reshape((C,) + (1,) * (layer.W.ndim - 1))
    b = s * (layer.b - shift_mean) + beta
    if isinstance(layer, Dense):
        return Dense(W, b)
    return layer.with_parameters(W, b)
