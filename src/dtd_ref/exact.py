"""Exact mode: the same engine on object arrays of ``fractions.Fraction``.

Every float64 number is a dyadic rational, so ``Fraction(float)`` converts weights and inputs without any loss;
afterwards every sum, product and comparison of the engine is exact.  A point exactly on a hinge then has z = 0 (not
±1e-16), membership of a root on its own neuron's hyperplane is decided without tolerance, and conservation of
relevance can be checked with ``==``.

The cost is speed: object arrays run Python arithmetic, roughly 100x to 1000x slower than float64.  Use exact mode to
confirm verdicts, on small networks or few points.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._validation import as_array, is_exact

__all__ = ["to_exact", "to_fraction", "to_float", "is_exact"]


def _one(value) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


def to_fraction(array) -> np.ndarray:
    """Convert a float64 (or int, or already exact) array to an object array of Fractions, losslessly."""
    array = as_array(array, "array", allow_empty=True)
    out = np.empty(array.shape, dtype=object)
    out.flat[:] = [_one(v.item() if isinstance(v, np.generic) else v) for v in array.flat]
    return out


def to_float(array) -> np.ndarray:
    """Round an exact array to the nearest float64 (entrywise correctly rounded)."""
    array = np.asarray(array)
    if not is_exact(array):
        return array.astype(np.float64, copy=False)
    return np.array([float(v) for v in array.flat], dtype=np.float64).reshape(array.shape)


def to_exact(net):
    """The same network with every weight, bias and slope as an exact Fraction (lossless)."""
    from .network import Network

    if net.exact:
        return net
    return Network([layer.map_arrays(to_fraction) for layer in net.layers])
