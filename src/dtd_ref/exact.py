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


def _fractions(value, name: str, *, ndim=None, allow_empty: bool = False) -> np.ndarray:
    """Validate ``value`` (as :func:`dtd_ref._validation.as_array` does) and convert it losslessly to Fractions.

    Integer arrays are converted through Python ints, never through float64, so int64 / uint64 entries above 2**53
    stay exact; float arrays convert to their exact dyadic values; exact object arrays are copied.
    """
    raw = np.asarray(value)
    if raw.dtype.kind in "iu":
        raw = raw.astype(object)  # Python ints: exact whatever their size
    array = as_array(raw, name, ndim=ndim, allow_empty=allow_empty)
    out = np.empty(array.shape, dtype=object)
    out.flat[:] = [_one(v.item() if isinstance(v, np.generic) else v) for v in array.flat]
    return out


def to_fraction(array) -> np.ndarray:
    """Convert a float64 (or int, or already exact) array to an object array of Fractions, losslessly.

    Integers of any size are accepted (int64 values above 2**53, which float64 cannot hold, included).
    """
    return _fractions(array, "array", allow_empty=True)


def _inputs_for(net, named, *, ndim) -> tuple:
    """Validate the arrays ``named`` ((name, value) pairs) for ``net`` and put all of them in one arithmetic.

    Each array must have ``ndim`` dimensions and ``net.in_features`` entries on its last axis.  If the network or
    any array is exact (an object array), the result is exact: ``to_exact(net)`` and every array as Fractions
    (integers of any size converted losslessly); otherwise float64, where integers that float64 cannot hold are
    refused.  Returns ``(net, exact, [arrays])`` in the order of ``named``.
    """
    raw = [(name, np.asarray(value)) for name, value in named]
    exact = net.exact or any(is_exact(value) for _, value in raw)
    arrays = []
    for name, value in raw:
        if exact and not is_exact(value):
            array = _fractions(value, name, ndim=ndim)
        else:
            array = as_array(value, name, ndim=ndim)
        if array.shape[-1] != net.in_features:
            d = net.in_features
            expected = f"({d},)" if ndim == 1 else f"(n, {d}) or ({d},)"
            raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")
        arrays.append(array)
    return (to_exact(net) if exact else net), exact, arrays


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
