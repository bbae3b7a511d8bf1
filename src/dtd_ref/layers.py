"""Piecewise-linear layers.

Every layer acts on flat batches ``(n, d)``.  There are two kinds:

* **affine** layers (``Dense``; later convolution and average pooling) have a weight matrix ``W`` of shape
  ``(d_out, d_in)`` (``W[j, i]`` is w_ji of THEORY.md) and a bias ``b`` of shape ``(d_out,)``; they provide
  ``forward(a) = a W^T + b``, the linear part ``linear(t)`` acting on the last axis and its transpose ``linear_T(g)``.
* **activation** layers (``ReLU``, ``LeakyReLU``, and ``MaxPool2d`` in :mod:`dtd_ref.pooling`) are piecewise
  linear.  ``pattern(z)`` returns the activation pattern (bool ``(n, d)``: unit active iff z > 0, so ReLU'(0) = 0),
  ``pattern_towards(z, dz)`` its right limit along a direction, and ``apply_pattern`` / ``apply_pattern_T`` apply
  the linear map that the layer is on the region of that pattern, along the last axis.  ``region_rows`` writes the
  half-spaces that keep a pattern fixed, given the pre-activation as an affine map of x.

All operations are dtype-generic: on float64 arrays they run in floating point, on object arrays of
``fractions.Fraction`` they are exact (see :mod:`dtd_ref.exact`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._validation import as_array, frozen, is_exact

__all__ = ["Dense", "ReLU", "LeakyReLU", "expand_pattern"]


def expand_pattern(pattern: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Reshape a batched pattern ``(n, d)`` so that it broadcasts against ``t`` of shape ``(n, ..., d)``."""
    return pattern.reshape(pattern.shape[0], *((1,) * (t.ndim - 2)), pattern.shape[-1])


class Dense:
    """Fully connected affine layer z = W a + b.

    Parameters
    ----------
    W : array_like, shape (d_out, d_in)
        Weights; ``W[j, i]`` connects input i to neuron j.
    b : array_like, shape (d_out,)
        Biases.
    """

    kind = "affine"

    def __init__(self, W, b):
        W = as_array(W, "W", ndim=2)
        b = as_array(b, "b", ndim=1)
        if b.shape[0] != W.shape[0]:
            raise ValueError(f"b: expected shape ({W.shape[0]},) to match W of shape {W.shape}, got {b.shape}")
        if is_exact(W) != is_exact(b):
            raise ValueError(f"W and b must both be exact (object) or both float64, got {W.dtype} and {b.dtype}")
        self._W = frozen(W)
        self._b = frozen(b)

    @property
    def W(self) -> np.ndarray:
        """Weights (d_out, d_in), read-only: build a new layer to change them."""
        return self._W

    @property
    def b(self) -> np.ndarray:
        """Biases (d_out,), read-only."""
        return self._b

    @property
    def in_features(self) -> int:
        return self.W.shape[1]

    @property
    def out_features(self) -> int:
        return self.W.shape[0]

    @property
    def exact(self) -> bool:
        return is_exact(self.W)

    def forward(self, a: np.ndarray) -> np.ndarray:
        """z = a W^T + b for a of shape (n, d_in); returns (n, d_out)."""
        return a @ self.W.T + self.b

    def linear(self, t: np.ndarray) -> np.ndarray:
        """Linear part on the last axis: (..., d_in) -> (..., d_out)."""
        return t @ self.W.T

    def linear_T(self, g: np.ndarray) -> np.ndarray:
        """Transpose of the linear part on the last axis: (..., d_out) -> (..., d_in)."""
        return g @ self.W

    def weight_matrix(self) -> np.ndarray:
        """The dense matrix W, shape (d_out, d_in)."""
        return self.W

    def cached_weights(self, h) -> np.ndarray:
        """h(W) for an elementwise weight map h (e.g. w -> max(w, 0)), computed once per layer and h; read-only.

        Rules call it with a few module-level functions h (W^+, W^-, W^2), so the cache holds at most one array per
        such h.  W is read-only, so the cached h(W) cannot go stale.
        """
        cache = self.__dict__.setdefault("_cached_weights", {})
        if h not in cache:
            M = np.array(h(self.W))  # an owned copy
            M.flags.writeable = False
            cache[h] = M
        return cache[h]

    def bias_vector(self) -> np.ndarray:
        """The bias b, shape (d_out,)."""
        return self.b

    def map_arrays(self, fn) -> "Dense":
        """A copy with ``fn`` applied to W and b (used for exact conversion)."""
        return Dense(fn(self.W), fn(self.b))

    def __repr__(self) -> str:
        return f"Dense({self.in_features} -> {self.out_features}{', exact' if self.exact else ''})"


class ReLU:
    """relu(z) = max(z, 0); pattern s = 1[z > 0]."""

    kind = "activation"
    negative_slope = 0

    def forward(self, z: np.ndarray) -> np.ndarray:
        if self.negative_slope == 0:
            return np.maximum(z, 0)  # the fastest ReLU on float64; exact on Fraction object arrays
        return np.where(z > 0, z, self._slope(is_exact(z)) * z)

    def _slope(self, exact: bool | None):
        """The slope in the arithmetic of the data: Fraction (exact), float (float64), or as stored (None)."""
        slope = self.negative_slope
        if exact is None:
            return slope
        if exact:
            return slope if isinstance(slope, Fraction) else Fraction(slope)
        return float(slope)

    def pattern(self, z: np.ndarray) -> np.ndarray:
        """Activation pattern, bool (n, d): unit active iff z > 0."""
        return np.asarray(z > 0, dtype=bool)

    def pattern_towards(self, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """Pattern of z + eps dz for small eps > 0 (the right limit along dz), bool (n, d).

        Unit k is active iff z_k > 0, or z_k = 0 and dz_k > 0: a unit on its hinge takes the side dz points to.
        Every activation layer has this method (``MaxPool2d`` breaks ties towards dz); one-sided gradients and
        walks along rays use it.
        """
        return np.asarray((z > 0) | ((z == 0) & (dz > 0)), dtype=bool)

    def slopes(self, pattern: np.ndarray, exact: bool | None = None):
        """Per-unit slope of the layer on the region of ``pattern``: 1 where active, ``negative_slope`` elsewhere.

        ``exact`` selects the type of the slope (Fraction for True, float for False); None keeps it as stored.
        """
        return np.where(pattern, 1, self._slope(exact))

    def apply_pattern(self, pattern: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Linearisation on the region of ``pattern`` applied along the last axis of t (n, ..., d)."""
        if self.negative_slope == 0:
            return np.where(expand_pattern(pattern, t), t, 0)
        return t * expand_pattern(self.slopes(pattern, is_exact(t)), t)

    apply_pattern_T = apply_pattern  # the linearisation is diagonal, hence symmetric

    def region_rows(self, pattern: np.ndarray, A: np.ndarray, c: np.ndarray):
        """Half-spaces ``G x <= h`` keeping the pattern of this layer fixed.

        Parameters
        ----------
        pattern : bool (n, d)
        A : (n, d, d_x), c : (n, d)
            The pre-activation as affine map of the network input, z = A x + c.

        Returns
        -------
        G : (n, d, d_x), h : (n, d)
            Row k is -(2 s_k - 1) A_k x <= (2 s_k - 1) c_k, i.e. (2 s_k - 1) z_k >= 0 (the closure of the region).
        """
        sign = np.where(pattern, 1, -1)
        return -sign[..., None] * A, sign * c

    def map_arrays(self, fn) -> "ReLU":
        return self

    def __repr__(self) -> str:
        return "ReLU()"


class LeakyReLU(ReLU):
    """leaky_relu(z) = z if z > 0 else negative_slope * z, for any finite slope other than 1.

    The pattern and the region are those of ReLU: a unit is active iff z > 0.
    """

    def __init__(self, negative_slope=0.01):
        if isinstance(negative_slope, Fraction):
            slope = negative_slope
        else:
            slope = float(as_array(negative_slope, "negative_slope", ndim=0))
        if slope == 1:
            raise ValueError("negative_slope: 1 makes the layer linear; use no activation instead")
        self.negative_slope = slope

    def map_arrays(self, fn) -> "LeakyReLU":
        converted = fn(np.asarray(self.negative_slope, dtype=object if isinstance(self.negative_slope, Fraction)
                                  else float))
        return LeakyReLU(converted.item() if isinstance(converted, np.ndarray) else converted)

    def __repr__(self) -> str:
        return f"LeakyReLU({self.negative_slope})"
