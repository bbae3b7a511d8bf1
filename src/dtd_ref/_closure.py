"""The closure rows of linear regions: each activation layer's half-spaces, stacked in the layout of
``pattern_vector`` (used by :mod:`dtd_ref.regions`, the enumeration and the full DTD's region roots).
"""

from __future__ import annotations

import numpy as np

from .layers import ReLU


def _row_strict(layer, pattern) -> np.ndarray:
    """Which rows of ``layer.region_rows`` hold strictly on the region itself (not only on its closure), bool (n, r).

    A layer says so with ``region_row_strict(pattern)`` (max pooling: elements before the winner stay strictly
    below it).  ReLU / LeakyReLU units are active iff z > 0, so the rows of active units are strict.
    """
    custom = getattr(layer, "region_row_strict", None)
    if custom is not None:
        return np.asarray(custom(pattern), dtype=bool)
    if isinstance(layer, ReLU):
        return pattern
    raise ValueError(f"layers: {layer!r} gives region rows but not which of them are strict (region_row_strict)")


def closure_rows(net, patterns, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Closure rows of a batch of regions: G (n, U, d), h (n, U) with G x <= h, in the layout of ``pattern_vector``.

    Each activation layer's ``region_rows`` on its pre-activation written as an affine map of x (the one place the
    rows are stacked; ``patterns`` is a tuple of per-layer patterns with batch n).
    """
    G, h = [], []
    for layer, pattern, (A_m, c_m) in zip(net.activation_layers, patterns, net.preactivation_maps(patterns)):
        G_m, h_m = layer.region_rows(pattern, A_m, c_m)
        G.append(G_m)
        h.append(h_m)
    if not G:  # no activation layer: no rows
        dtype = object if net.exact else float
        return np.zeros((n, 0, net.in_features), dtype=dtype), np.zeros((n, 0), dtype=dtype)
    return np.concatenate(G, axis=1), np.concatenate(h, axis=1)
