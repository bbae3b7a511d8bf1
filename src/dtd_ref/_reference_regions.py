"""Slow loop-per-point, loop-per-unit twins of :mod:`dtd_ref.regions`, for parity tests only.

Each function has the name of the fast routine it mirrors and uses plain Python arithmetic on the entries (so it is
exact on Fractions and float64 on floats), one point and one unit at a time, with no matrix products.  Only
``Dense``-like affine layers (``weight_matrix`` / ``bias_vector``) and ReLU / LeakyReLU activations are supported.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .layers import ReLU
from .regions import REGION_RTOL

__all__ = ["forward_pattern", "region_rows", "contains", "margin", "same_region"]


def _dot(u, v):
    total = 0
    for a, b in zip(u, v):
        total = total + a * b
    return total


def _exact_value(value) -> bool:
    return isinstance(value, Fraction) or (isinstance(value, int) and not isinstance(value, bool))


def _layers(net):
    for layer in net.layers:
        if layer.kind == "affine":
            yield "affine", [list(row) for row in layer.weight_matrix()], list(layer.bias_vector())
        elif isinstance(layer, ReLU):
            yield "relu", layer.negative_slope, None
        else:
            raise ValueError(f"reference: unsupported layer {layer!r}")


def _point(net, x) -> list:
    """x as a list, converted to Fractions for exact networks (as the engine does)."""
    return [v if _exact_value(v) else Fraction(float(v)) for v in x] if net.exact else list(x)


def forward_pattern(net, x) -> list:
    """Activation pattern of one point x (d,) as a flat list of bools, unit by unit."""
    values, pattern = _point(net, x), []
    for kind, W_or_slope, b in _layers(net):
        if kind == "affine":
            values = [_dot(row, values) + b_j for row, b_j in zip(W_or_slope, b)]
        else:
            pattern += [v > 0 for v in values]
            values = [v if v > 0 else W_or_slope * v for v in values]
    return pattern


def region_rows(net, x):
    """Rows of the closure of x's region, built unit by unit.

    Every unit keeps its pre-activation as an affine function of the input, z_j(y) = g_j^T y + c_j:  an affine layer
    gives g_j = sum_i W_ji g_i and c_j = sum_i W_ji c_i + b_j, an activation multiplies g_j and c_j by the unit's
    slope on x's region (1 if active, the negative slope otherwise).  The unit's row is -sign g_j^T y <= sign c_j,
    sign = +1 if active and -1 if inactive.

    Returns
    -------
    A : (m, d), b : (m,), pattern : bool (m,)
    """
    x = _point(net, x)
    d = len(x)
    zero = x[0] * 0
    G = [[zero + (1 if i == k else 0) for k in range(d)] for i in range(d)]  # input coordinates y_i = e_i^T y
    c = [zero] * d
    values = list(x)
    rows, rhs, pattern = [], [], []
    for kind, W_or_slope, b in _layers(net):
        if kind == "affine":
            G = [[_dot(row, [g[k] for g in G]) for k in range(d)] for row in W_or_slope]
            c = [_dot(row, c) + b_j for row, b_j in zip(W_or_slope, b)]
            values = [_dot(row, values) + b_j for row, b_j in zip(W_or_slope, b)]
        else:
            for j, v in enumerate(values):
                active = v > 0
                sign = 1 if active else -1
                rows.append([-sign * g for g in G[j]])
                rhs.append(sign * c[j])
                pattern.append(bool(active))
                slope = 1 if active else W_or_slope
                G[j] = [slope * g for g in G[j]]
                c[j] = slope * c[j]
                values[j] = slope * v
    dtype = object if _exact_value(x[0]) else float
    A = np.array(rows, dtype=dtype).reshape(len(rows), d)
    return A, np.array(rhs, dtype=dtype), np.array(pattern, dtype=bool)


def _flat_closed(region, closed_on) -> set:
    if closed_on is None:
        return set()
    items = [closed_on] if isinstance(closed_on, (int, tuple)) else list(closed_on)
    sizes = [p.size for p in region.pattern]
    flat = set()
    for item in items:
        if isinstance(item, (tuple, list, np.ndarray)):
            flat.add(sum(sizes[:int(item[0])]) + int(item[1]))
        else:
            flat.add(int(item))
    return flat


def contains(region, points, *, closed=True, closed_on=None):
    """Membership, one point and one row at a time (same semantics and band as ``Region.contains``)."""
    X = np.atleast_2d(np.asarray(points, dtype=object if np.asarray(points).dtype == object else float))
    closed_units = _flat_closed(region, closed_on)
    out = []
    for x in X:
        exact = region.exact or _exact_value(x[0])
        if exact:
            x = [v if _exact_value(v) else Fraction(float(v)) for v in x]
        inside = True
        for i in range(region.A.shape[0]):
            row, b_i = list(region.A[i]), region.b[i]
            if exact:
                row = [v if _exact_value(v) else Fraction(float(v)) for v in row]
                b_i = b_i if _exact_value(b_i) else Fraction(float(b_i))
            strict = (not closed) and bool(region.strict[i]) and int(region.flat_units[i]) not in closed_units
            r = _dot(row, x) - b_i
            if exact:
                ok = r < 0 if strict else r <= 0
            else:
                scale = math.sqrt(_dot(row, row)) * math.sqrt(_dot(x, x)) + abs(b_i)
                ok = r < -REGION_RTOL * scale if strict else r <= REGION_RTOL * scale
            inside = inside and ok
        out.append(inside)
    return np.array(out, dtype=bool)


def margin(region, points):
    """Signed distance min_i (b_i - a_i^T x) / |a_i|, one point and one row at a time (see ``Region.margin``)."""
    X = np.atleast_2d(np.asarray(points, dtype=object if np.asarray(points).dtype == object else float))
    out = []
    for x in X:
        best = math.inf
        for i in range(region.A.shape[0]):
            row, b_i = list(region.A[i]), region.b[i]
            norm_sq = _dot(row, row)
            if norm_sq == 0:
                best = -math.inf if b_i < 0 else best
                continue
            exact = region.exact or _exact_value(x[0])
            if exact:
                xs = [v if _exact_value(v) else Fraction(float(v)) for v in x]
                rs = [v if _exact_value(v) else Fraction(float(v)) for v in row]
                bs = b_i if _exact_value(b_i) else Fraction(float(b_i))
                slack = float(bs - _dot(rs, xs))
            else:
                slack = b_i - _dot(row, x)
            best = min(best, slack / math.sqrt(float(norm_sq)))
        out.append(best)
    return np.array(out, dtype=float)


def same_region(net, x, points):
    """Pattern equality of each point with x, by per-unit forward passes."""
    reference = forward_pattern(net, list(x))
    X = np.atleast_2d(np.asarray(points, dtype=object if np.asarray(points).dtype == object else float))
    return np.array([forward_pattern(net, list(p)) == reference for p in X], dtype=bool)
