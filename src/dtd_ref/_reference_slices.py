"""Slow loop-per-neuron reference twins of :mod:`dtd_ref.slices` and :mod:`dtd_ref.enumeration`.

Each function has the name of its fast twin and returns the same kind of result, computed by a different and simpler
algorithm with plain Python loops over pieces and neurons.  They exist only to be compared with the fast versions in
tests (``tests/test_slices.py``, ``tests/test_enumeration.py``); they are not part of the public API.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .slices import LineRegions, _exact_pair

__all__ = ["line_regions"]


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


def line_regions(net, p, q) -> LineRegions:
    """Reference twin of :func:`dtd_ref.slices.line_regions`: split the segment layer by layer, neuron by neuron.

    For activation layer m, every current piece [t_a, t_b] has the patterns of layers < m fixed (read at its
    midpoint), so each neuron's z is affine on it; evaluate z at both ends and cut where it changes sign strictly
    inside.  The pattern of each final piece is the forward-pass pattern at its midpoint.
    """
    net, exact, (p, q) = _exact_pair(net, ("p", p), ("q", q))
    half = Fraction(1, 2) if exact else 0.5
    zero, one = (Fraction(0), Fraction(1)) if exact else (0.0, 1.0)
    breaks = [zero, one]
    n_layers = len(net.activation_layers)

    def point(t):
        return p + t * (q - p)

    for m in range(n_layers):
        new_breaks = [breaks[0]]
        for ta, tb in zip(breaks[:-1], breaks[1:]):
            mid = net.trace(point((ta + tb) * half)[None, :]).patterns
            fixed = [pattern[0] for pattern in mid]
            za = _prefix_preactivation(net, point(ta), fixed, m)
            zb = _prefix_preactivation(net, point(tb), fixed, m)
            cuts = []
            for k in range(za.shape[0]):
                if (za[k] < 0 < zb[k]) or (zb[k] < 0 < za[k]):
                    cuts.append(ta + (tb - ta) * (za[k] / (za[k] - zb[k])))
            for cut in sorted(set(cuts)):
                if ta < cut < tb:
                    new_breaks.append(cut)
            new_breaks.append(tb)
        breaks = new_breaks
    patterns = []
    for ta, tb in zip(breaks[:-1], breaks[1:]):
        patterns.append(net.trace(point((ta + tb) * half)[None, :]).pattern_vector[0])
    t = np.array(breaks, dtype=object) if exact else np.array(breaks, dtype=float)
    return LineRegions(net, p, q, t, np.array(patterns, dtype=bool).reshape(len(patterns), -1), exact)

