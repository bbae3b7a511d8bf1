"""Input validation shared by every public function.

Public functions validate shapes, dtypes and finiteness here and raise ``ValueError`` naming the argument and its
shape.  Nothing is silently cast to a narrower type: float16/float32 are widened to float64 (lossless), integers are
converted only when the conversion is exact, and object arrays are accepted only when every entry is an exact
rational (``fractions.Fraction`` or ``int``), which is the exact mode of :mod:`dtd_ref.exact`.
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

__all__ = ["as_array", "as_batch", "is_exact", "check_index", "frozen"]


def is_exact(array: np.ndarray) -> bool:
    """True if ``array`` is an object array of exact rationals (exact mode)."""
    return isinstance(array, np.ndarray) and array.dtype == object


def _check_object(array: np.ndarray, name: str) -> np.ndarray:
    for value in array.flat:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Fraction, numbers.Integral)):
            raise ValueError(
                f"{name}: object arrays must hold only fractions.Fraction or int (exact mode), "
                f"found {type(value).__name__} in an array of shape {array.shape}"
            )
    return array


def _to_float64(array: np.ndarray, name: str) -> np.ndarray:
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float64, copy=False)
    if kind in "iu":
        converted = array.astype(np.float64)
        if not np.array_equal(converted.astype(array.dtype), array):
            raise ValueError(f"{name}: integer entries of shape {array.shape} cannot be represented exactly in float64")
        return converted
    raise ValueError(
        f"{name}: expected a real numeric array (float or int, or Fraction objects for exact mode), "
        f"got dtype {array.dtype} with shape {array.shape}"
    )


def as_array(value, name: str, *, ndim: int | tuple[int, ...] | None = None, allow_empty: bool = False) -> np.ndarray:
    """Validate ``value`` and return it as float64 or as an exact object array.

    Parameters
    ----------
    value : array_like
        The data.  Lists of ``Fraction`` become object arrays (exact mode).
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    allow_empty : bool
        Whether arrays with a zero-length axis are accepted.

    Raises
    ------
    ValueError
        Wrong rank, empty, non-numeric dtype, or a NaN / inf entry.
    """
    array = np.asarray(value)
    if array.dtype == object:
        array = _check_object(array, name)
    else:
        array = _to_float64(array, name)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: contains NaN or inf (shape {array.shape})")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise ValueError(f"{name}: expected {' or '.join(map(str, allowed))} dimensions, got shape {array.shape}")
    if not allow_empty and array.size == 0:
        raise ValueError(f"{name}: empty array of shape {array.shape}")
    return array


def as_batch(x, name: str, d: int) -> tuple[np.ndarray, bool]:
    """Validate inputs of shape ``(n, d)`` or ``(d,)``; return ``(x2d, was_single)``."""
    x = as_array(x, name, ndim=(1, 2))
    single = x.ndim == 1
    x2 = x[None, :] if single else x
    if x2.shape[1] != d:
        raise ValueError(f"{name}: expected shape (n, {d}) or ({d},), got {x.shape}")
    return x2, single


def check_index(index, name: str, size: int) -> int:
    """Validate an integer index into an axis of length ``size``."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
        raise ValueError(f"{name}: expected an integer index, got {index!r}")
    if not 0 <= int(index) < size:
        raise ValueError(f"{name}: index {index} out of range for size {size}")
    return int(index)


def frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array``: layer parameters never change after construction.

    Anything derived from them (e.g. the cached W^+ of a Dense layer) therefore stays valid; to change a weight, build
    a new layer.  The caller's array is left writeable.
    """
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out
