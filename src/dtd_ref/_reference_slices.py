"""Slow loop-per-neuron reference twins of :mod:`dtd_ref.slices` and :mod:`dtd_ref.enumeration`.

Each function has the name of its fast twin and returns the same kind of result, computed by a different and simpler
algorithm with plain Python loops over pieces and neurons.  They exist only to be compared with the fast versions in
tests (``tests/test_slices.py``, ``tests/test_enumeration.py``); they are not part of the public API.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .segments import LineRegions, _exact_pair

__all__ = ["line_regions", "window_pairs", "slice_regions", "enumerate_regions"]


def _prefix_preactivation(net, x, fixed, upto: int):
    """z of activation layer ``upto`` at point x with the patterns of the layers below fixed to ``fixed``."""
    a, m = x[None, :], 0
    for layer in net.layers:
        if layer.kind == "affine":
            a = layer.forward(a)
            continue
        if m == upto:
            return a[0]
        a = layer.apply_pattern(fixed[m][None, :], a)
        m += 1
    raise AssertionError("activation layer index out of range")


def window_pairs(layer):
    """Pairs (i, k) of flat inputs of one window of a max-pool layer, i before k in window order (padding left out).

    Their order decides the layer's pattern, as the sign of z_j decides a ReLU unit's; None for other layers.
    """
    if not hasattr(layer, "winners"):
        return None
    index = np.moveaxis(layer.geometry.window_index(), 1, -1).reshape(-1, layer.geometry.window_size)
    return [(int(i), int(k)) for row in index for a, i in enumerate(row) for k in row[a + 1:] if i >= 0 and k >= 0]


def line_regions(net, p, q) -> LineRegions:
    """Reference twin of :func:`dtd_ref.slices.line_regions`: split the segment layer by layer, unit by unit.

    For activation layer m, every current piece [t_a, t_b] has the patterns of layers < m fixed (read at its
    midpoint), so the layer's input is affine on it; evaluate it at both ends and cut where a ReLU unit's z, or the
    difference z_i - z_k of two elements of one max-pool window, changes sign strictly inside.  The pattern of each
    final piece is the forward-pass pattern at its midpoint (all orders inside every window are fixed there), and
    neighbours with the same pattern are merged (a tie between two losers of a window changes nothing).
    """
    net, exact, (p, q) = _exact_pair(net, ("p", p), ("q", q))
    half = Fraction(1, 2) if exact else 0.5
    zero, one = (Fraction(0), Fraction(1)) if exact else (0.0, 1.0)
    breaks = [zero, one]

    def point(t):
        return p + t * (q - p)

    for m, layer in enumerate(net.activation_layers):
        pairs = window_pairs(layer)
        new_breaks = [breaks[0]]
        for ta, tb in zip(breaks[:-1], breaks[1:]):
            mid = net.trace(point((ta + tb) * half)[None, :]).patterns
            fixed = [pattern[0] for pattern in mid]
            za = _prefix_preactivation(net, point(ta), fixed, m)
            zb = _prefix_preactivation(net, point(tb), fixed, m)
            if pairs is None:
                values = [(za[k], zb[k]) for k in range(za.shape[0])]
            else:
                values = [(za[i] - za[k], zb[i] - zb[k]) for i, k in pairs]
            cuts = []
            for va, vb in values:
                if (va < 0 < vb) or (vb < 0 < va):
                    cuts.append(ta + (tb - ta) * (va / (va - vb)))
            for cut in sorted(set(cuts)):
                if ta < cut < tb:
                    new_breaks.append(cut)
            new_breaks.append(tb)
        breaks = new_breaks
    t, patterns = [breaks[0]], []
    for ta, tb in zip(breaks[:-1], breaks[1:]):
        pattern = net.trace(point((ta + tb) * half)[None, :]).pattern_vector[0]
        if patterns and np.array_equal(patterns[-1], pattern):
            t[-1] = tb
        else:
            patterns.append(pattern)
            t.append(tb)
    t = np.array(t, dtype=object) if exact else np.array(t, dtype=float)
    return LineRegions(net, p, q, t, np.array(patterns, dtype=bool).reshape(len(patterns), -1), exact)


def _clip_polygon(polygon: list, z: list) -> tuple[list, list]:
    """Split one polygon (list of (s, t)) by the values z of an affine function at its vertices: (z >= 0, z <= 0)."""
    positive, negative = [], []
    n = len(polygon)
    for k in range(n):
        (s0, t0), (s1, t1), z0, z1 = polygon[k], polygon[(k + 1) % n], z[k], z[(k + 1) % n]
        if z0 >= 0:
            positive.append((s0, t0))
        if z0 <= 0:
            negative.append((s0, t0))
        if (z0 < 0 < z1) or (z1 < 0 < z0):
            lam = z0 / (z0 - z1)
            point = (s0 + lam * (s1 - s0), t0 + lam * (t1 - t0))
            positive.append(point)
            negative.append(point)
    return positive, negative


def slice_regions(net, origin, u, v, *, bounds):
    """Reference twin of :func:`dtd_ref.slices.slice_regions` on Python lists, one polygon and one neuron at a time.

    Returns a list of (pattern (U,) bool, vertices list of (s, t), area) in no particular order.  The patterns of the
    layers below a polygon are read by a forward pass at its vertex mean; each neuron's z at the vertices comes from
    the prefix network with those patterns fixed, and a polygon is cut when some vertex has z > 0 and another z < 0.
    """
    net, exact, (origin, u, v) = _exact_pair(net, ("origin", origin), ("u", u), ("v", v))
    (s_lo, s_hi), (t_lo, t_hi) = [[Fraction(value) if exact else float(value) for value in row] for row in bounds]
    polygons = [[(s_lo, t_lo), (s_hi, t_lo), (s_hi, t_hi), (s_lo, t_hi)]]

    def point(st):
        return origin + st[0] * u + st[1] * v

    def mean(polygon):
        k = len(polygon)
        return (sum(p[0] for p in polygon) / k, sum(p[1] for p in polygon) / k)

    for m in range(len(net.activation_layers)):
        for neuron in range(_layer_width(net, m)):
            cut = []
            for polygon in polygons:
                fixed = [pattern[0] for pattern in net.trace(point(mean(polygon))[None, :]).patterns]
                z = [_prefix_preactivation(net, point(vertex), fixed, m)[neuron] for vertex in polygon]
                if any(value > 0 for value in z) and any(value < 0 for value in z):
                    cut.extend(_clip_polygon(polygon, z))
                else:
                    cut.append(polygon)
            polygons = cut
    out = []
    for polygon in polygons:
        pattern = net.trace(point(mean(polygon))[None, :]).pattern_vector[0]
        k = len(polygon)
        twice = sum(polygon[i][0] * polygon[(i + 1) % k][1] - polygon[(i + 1) % k][0] * polygon[i][1]
                    for i in range(k))
        out.append((pattern, polygon, twice / 2))
    return out


def _layer_width(net, m: int) -> int:
    width = net.in_features
    for i, layer in enumerate(net.layers):
        if layer.kind == "affine":
            width = layer.out_features
        elif i == net.activation_index[m]:
            return width
    raise AssertionError("activation layer index out of range")


def enumerate_regions(net, *, box):
    """Reference twin of :func:`dtd_ref.enumeration.enumerate_regions` by brute force: every sign pattern, one LP each.

    For each of the 2^U patterns, the Chebyshev centre of its closure inside ``box = (lo, hi)`` is found by LP
    (:meth:`dtd_ref.regions.Region.witness`); the pattern is a region meeting the box in positive volume iff the ball
    has positive radius and its centre has the pattern.  Returns (patterns bool (k, U), witnesses (k, d)) in the
    order of the patterns as binary numbers.  Only for tiny networks (U <= 10 or so).
    """
    import itertools

    from .regions import Region
    from .segments import split_pattern

    units = sum(p.shape[1] for p in net.trace(np.zeros((1, net.in_features))).patterns)
    lo, hi = box
    patterns, witnesses = [], []
    for bits in itertools.product([False, True], repeat=units):
        pattern = np.array(bits, dtype=bool)
        region = Region.from_pattern(net, tuple(p[0] for p in split_pattern(net, pattern)))
        witness = region.witness(bounds=(lo, hi))
        if witness is not None:
            patterns.append(pattern)
            witnesses.append(witness.point)
    return np.array(patterns, dtype=bool).reshape(len(patterns), units), np.array(witnesses)
