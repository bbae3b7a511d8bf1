"""Magnitudes and margins behind the float64 tolerances and the finite-difference steps of :mod:`dtd_ref.testing`.

* Magnitudes: the network with |W|, |b| and |slope| (``_abs_network``), applied with a fixed pattern to |x|, bounds
  every partial sum of the forward pass, so a tolerance relative to it survives cancellation (``_magnitude``).
* Margins: every activation layer's region rows G x <= h (``_layer_rows``) and, per point, how far it may move along
  any coordinate before a row closes (``_coordinate_margin``: a ReLU unit's sign change, a max-pool tie).

Private: the public helpers in :mod:`dtd_ref.testing` document what they guarantee.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d
from .exact import to_float
from .layers import Dense, ReLU
from .network import Network


class _MagnitudeSlope(ReLU):
    """Slope |negative_slope| on the inactive side (may be 1, which ``LeakyReLU`` refuses): for magnitudes only."""

    def __init__(self, slope):
        self.negative_slope = slope


def _abs_layer(layer):
    """The layer with |W|, |b| (affine) or |slope| (activation); max pooling and ReLU stay as they are."""
    if layer.kind == "affine":
        if isinstance(layer, Dense):
            return Dense(np.abs(layer.W), np.abs(layer.b))
        if isinstance(layer, Conv2d):  # same geometry, |kernels| and |biases|
            return layer.with_parameters(np.abs(layer.W), np.abs(layer.b))
        return Dense(np.abs(layer.weight_matrix()), np.abs(layer.bias_vector()))  # any other affine layer
    slope = getattr(layer, "negative_slope", 0)
    return _MagnitudeSlope(abs(slope)) if slope < 0 else layer


def _abs_network(net: Network) -> Network:
    """The network with |W|, |b| (and |slope|): applied with a fixed pattern to |x| it bounds every partial sum."""
    return Network([_abs_layer(layer) for layer in net.layers])


def _magnitude(net: Network, points: np.ndarray, patterns) -> np.ndarray:
    """|W_L| D |W_{L-1}| ... (|W_1| |p| + |b_1|) ... + |b_L| under ``patterns``: a scale for rounding, (n, d_out)."""
    patterns = tuple(np.broadcast_to(p, (points.shape[0], p.shape[1])) for p in patterns)
    return np.abs(to_float(_abs_network(net).forward_fixed(np.abs(to_float(points)), patterns)))


def _layer_rows(net: Network, patterns) -> list:
    """Per activation layer: (layer, pattern, G, h) with G x <= h its region rows, G (n, rows, d), h (n, rows).

    The rows come from the layer's own ``region_rows`` (the closure of the region of ``patterns``): one row per ReLU
    unit, (2 s_k - 1) z_k >= 0; one per max-pool window element, z_i <= z_winner.
    """
    maps = net.preactivation_maps(patterns)
    return [(layer, pattern) + layer.region_rows(pattern, A, c)
            for layer, pattern, (A, c) in zip(net.activation_layers, patterns, maps)]


def _coordinate_margin(net: Network, x2: np.ndarray) -> list:
    """Per point: the largest h such that every activation keeps its pattern under any coordinate move of size < h.

    With G x <= h the region rows of the point's pattern (``region_rows``: (2 s_k - 1) z_k >= 0 for a ReLU unit,
    z_i <= z_winner for a max-pool window element), row k keeps its strict sign while |t| max_i |G_ki| < slack_k, so
    the margin is min_k slack_k / max_i |G_ki| over rows with G_k != 0.  The slack comes from the forward pass (for
    ReLU |z_k|, for max pooling z_winner - z_i), so it is >= 0 and 0 exactly at a hinge or a tie.  Returns None
    for a point with no such row (f is affine everywhere near it) and 0 for a point on a hinge.
    """
    trace = net.trace(x2)
    margins = [None] * x2.shape[0]
    for (layer, pattern, G, _), z in zip(_layer_rows(net, trace.patterns), trace.preactivations):
        slack = layer.region_rows(pattern, z[:, :, None], z)[1]          # (n, rows), from the forward pass
        row_max = np.max(np.abs(G), axis=2) if G.shape[2] else np.zeros(slack.shape)
        for n in range(x2.shape[0]):
            moving = np.asarray(row_max[n] != 0, dtype=bool)
            if moving.any():
                margin = min(slack[n][moving] / row_max[n][moving])
                margins[n] = margin if margins[n] is None or margin < margins[n] else margins[n]
    return margins
