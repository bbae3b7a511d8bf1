"""Slow loop-per-neuron twins of the convolution and pooling routines (for tests only).

Each function has the name of the fast method it mirrors and takes the layer as first argument.  Nothing here uses
``WindowGeometry.gather`` / ``scatter`` or matrix products: every output unit is visited in a Python loop and its
window is read from the definition (row h s_H + k_i d_H - p_H, column w s_W + k_j d_W - p_W of the unpadded
input).  Works on float64 and on exact object arrays.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .conv import Conv2d
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["weight_matrix", "receptive_field", "forward", "linear_T", "pattern", "pattern_towards", "apply_pattern",
           "apply_pattern_T", "region_rows"]


def _window(geo, c: int, h: int, w: int) -> list:
    """[(r, flat input index or None for padding)] for window (h, w) of channel c, r in row-major kernel order."""
    C, H, W = geo.input_shape
    (kH, kW), (sH, sW), (pH, pW), (dH, dW) = geo.kernel_size, geo.stride, geo.padding, geo.dilation
    out = []
    for ki in range(kH):
        for kj in range(kW):
            row, col = h * sH + ki * dH - pH, w * sW + kj * dW - pW
            inside = 0 <= row < H and 0 <= col < W
            out.append((ki * kW + kj, (c * H + row) * W + col if inside else None))
    return out


def _units(layer):
    """Yield (j, o, h, w) over output units in row-major (C_out, H_out, W_out) order."""
    C_out = layer.output_shape[0]
    Ho, Wo = layer.geometry.output_hw
    j = 0
    for o in range(C_out):
        for h in range(Ho):
            for w in range(Wo):
                yield j, o, h, w
                j += 1


def _conv_terms(layer: Conv2d, o: int, h: int, w: int) -> list:
    """[(weight, flat input index)] of output unit (o, h, w) of a convolution."""
    C_in_g = layer.W.shape[1]
    group = o // (layer.W.shape[0] // layer.groups)
    kW = layer.geometry.kernel_size[1]
    terms = []
    for c in range(C_in_g):
        for r, i in _window(layer.geometry, group * C_in_g + c, h, w):
            if i is not None:
                terms.append((layer.W[o, c, r // kW, r % kW], i))
    return terms


def _avg_terms(layer: AvgPool2d, o: int, h: int, w: int) -> list:
    window = _window(layer.geometry, o, h, w)
    count = len(window) if layer.count_include_pad else sum(i is not None for _, i in window)
    scale = Fraction(1, count) if layer.exact else 1.0 / count
    return [(scale, i) for _, i in window if i is not None]


def _terms(layer, o, h, w):
    if isinstance(layer, Conv2d):
        return _conv_terms(layer, o, h, w)
    if isinstance(layer, AvgPool2d):
        return _avg_terms(layer, o, h, w)
    raise TypeError(f"no reference for {layer!r}")


def _zeros(shape, like_exact: bool) -> np.ndarray:
    return np.zeros(shape, dtype=object) if like_exact else np.zeros(shape)


def weight_matrix(layer) -> np.ndarray:
    """Dense (d_out, d_in) matrix of a Conv2d or AvgPool2d, one row per output unit."""
    M = _zeros((layer.out_features, layer.in_features), layer.exact)
    for j, o, h, w in _units(layer):
        for weight, i in _terms(layer, o, h, w):
            M[j, i] += weight
    return M


def receptive_field(layer) -> np.ndarray:
    """bool (d_out, d_in): the inputs each output unit of a Conv2d / AvgPool2d reads (padding excluded)."""
    F = np.zeros((layer.out_features, layer.in_features), dtype=bool)
    for j, o, h, w in _units(layer):
        for _, i in _terms(layer, o, h, w):
            F[j, i] = True
    return F


def forward(layer, a: np.ndarray) -> np.ndarray:
    """Output of Conv2d / AvgPool2d (bias included) or MaxPool2d (window maximum) for a of shape (n, d_in)."""
    n = a.shape[0]
    out = _zeros((n, layer.out_features), a.dtype == object)
    for s in range(n):
        for j, o, h, w in _units(layer):
            if isinstance(layer, MaxPool2d):
                out[s, j] = max(a[s, i] for _, i in _window(layer.geometry, o, h, w) if i is not None)
                continue
            total = layer.bias_vector()[j]
            for weight, i in _terms(layer, o, h, w):
                total = total + weight * a[s, i]
            out[s, j] = total
    return out


def linear_T(layer, g: np.ndarray) -> np.ndarray:
    """Transpose of the linear part of Conv2d / AvgPool2d for g of shape (n, d_out): (n, d_in)."""
    n = g.shape[0]
    out = _zeros((n, layer.in_features), g.dtype == object)
    for s in range(n):
        for j, o, h, w in _units(layer):
            for weight, i in _terms(layer, o, h, w):
                out[s, i] += weight * g[s, j]
    return out


def pattern_towards(layer: MaxPool2d, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Winner one-hot of z + eps dz (eps -> 0+): the largest z, among those the largest dz, then the first."""
    K = layer.geometry.window_size
    out = np.zeros((z.shape[0], layer.out_features * K), dtype=bool)
    for s in range(z.shape[0]):
        for j, o, h, w in _units(layer):
            best_r, best = None, None
            for r, i in _window(layer.geometry, o, h, w):
                if i is not None and (best is None or (z[s, i], dz[s, i]) > best):
                    best_r, best = r, (z[s, i], dz[s, i])
            out[s, j * K + best_r] = True
    return out


def pattern(layer: MaxPool2d, z: np.ndarray) -> np.ndarray:
    """Winner one-hot of a MaxPool2d, bool (n, d_out K); the first maximum in window order wins.

    The twin of ``pattern_towards`` along dz = 0, where every tie goes to the first maximum.
    """
    return pattern_towards(layer, z, np.zeros(z.shape, dtype=int))


def _winner(layer: MaxPool2d, pattern_row: np.ndarray, j: int, o: int, h: int, w: int) -> int:
    K = layer.geometry.window_size
    for r, i in _window(layer.geometry, o, h, w):
        if pattern_row[j * K + r]:
            return i
    raise ValueError(f"pattern: unit {j} has no winner")


def apply_pattern(layer: MaxPool2d, pattern: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Winner selection for t of shape (n, m, d_in): (n, m, d_out)."""
    out = _zeros(t.shape[:2] + (layer.out_features,), t.dtype == object)
    for s in range(t.shape[0]):
        for j, o, h, w in _units(layer):
            out[s, :, j] = t[s, :, _winner(layer, pattern[s], j, o, h, w)]
    return out


def apply_pattern_T(layer: MaxPool2d, pattern: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Winner-take-all transpose for g of shape (n, m, d_out): (n, m, d_in)."""
    out = _zeros(g.shape[:2] + (layer.in_features,), g.dtype == object)
    for s in range(g.shape[0]):
        for j, o, h, w in _units(layer):
            out[s, :, _winner(layer, pattern[s], j, o, h, w)] += g[s, :, j]
    return out


def region_rows(layer: MaxPool2d, pattern: np.ndarray, A: np.ndarray, c: np.ndarray):
    """Rows z_i - z_winner <= 0 for every window element, as (G, h) of shapes (n, d_out K, d_x), (n, d_out K)."""
    n, K = pattern.shape[0], layer.geometry.window_size
    G = _zeros((n, layer.out_features * K, A.shape[2]), A.dtype == object)
    h_out = _zeros((n, layer.out_features * K), c.dtype == object)
    for s in range(n):
        for j, o, h, w in _units(layer):
            win = _winner(layer, pattern[s], j, o, h, w)
            for r, i in _window(layer.geometry, o, h, w):
                if i is not None:
                    G[s, j * K + r] = A[s, i] - A[s, win]
                    h_out[s, j * K + r] = c[s, win] - c[s, i]
    return G, h_out
