"""Pooling on flat batches: ``AvgPool2d`` (affine) and ``MaxPool2d`` (piecewise linear, an activation layer).

Both read flat images in row-major (C, H, W) order (see :mod:`dtd_ref.conv`) and work per channel.

Max pooling is linear on every region where the winner of each window is fixed, so it is an *activation* layer of the
engine: its pattern records which window element won, and its region rows say that the winner is at least every
other element of its window.  **Ties** go to the first maximal element in row-major window order (k_i, then k_j),
the convention of ``numpy.argmax``; the region rows (winner >= every other element) describe the closure of the
region, as the ReLU rows do.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._validation import is_exact
from .conv import WindowedLayer, WindowGeometry, _receptive_field

__all__ = ["AvgPool2d", "MaxPool2d"]


def _pool_geometry(input_shape, kernel_size, stride, padding, dilation=1) -> WindowGeometry:
    """The windows of a pooling layer (stride defaults to the kernel size), with torch's limit on the padding: at
    most half the effective kernel size dilation * (kernel_size - 1) + 1 on each axis."""
    geo = WindowGeometry(input_shape, kernel_size, kernel_size if stride is None else stride, padding, dilation)
    for axis in (0, 1):
        span = geo.dilation[axis] * (geo.kernel_size[axis] - 1) + 1
        if 2 * geo.padding[axis] > span:
            raise ValueError(f"padding: {geo.padding} must be at most half the effective kernel size "
                             f"(dilation * (kernel_size - 1) + 1 = {span}) on axis {axis}")
    return geo


def _one_hot(r: np.ndarray, K: int) -> np.ndarray:
    """Winner index r (n, C, H_out, W_out) in window order -> pattern bool (n, d_out K), row-major (C, H, W, K)."""
    return (r[..., None] == np.arange(K)).reshape(r.shape[0], -1)


class AvgPool2d(WindowedLayer):
    """Average pooling, an affine layer without bias (``torch.nn.AvgPool2d``, ``ceil_mode=False``).

    Parameters
    ----------
    input_shape : (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Zero padding; at most half the kernel size, as in torch.
    count_include_pad : bool
        Divide by k_H k_W (True, torch's default) or by the number of non-padding elements of the window.
    exact : bool
        Divide exactly (``Fraction(1, divisor)``) on exact arrays; set by ``to_exact``.

    Notes
    -----
    z[c, h, w] = (1 / N_hw) sum_{k_i, k_j} a_pad[c, h s_H + k_i, w s_W + k_j], N_hw the divisor.  The dense matrix
    has entries 1 / N_hw; the bias is zero.

    Being affine, an average pool counts as an affine layer k (``trace.a[k]``, DTD's ``relevance[k]`` /
    ``roots[k]``) and DTD applies a rule to it: on inputs >= 0 the z, z+ and alpha1-beta0 rules all give the
    proportional split R_i = a_i / sum_window(a) R_j (all weights are positive and there is no bias).
    """

    kind = "affine"

    def __init__(self, input_shape, kernel_size, stride=None, padding=0, *, count_include_pad=True, exact=False):
        self.geometry = _pool_geometry(input_shape, kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)
        self._exact = bool(exact)
        index = self.geometry.window_index()  # (C, K, Ho, Wo)
        if self.count_include_pad:
            counts = np.full(index.shape[:1] + index.shape[2:], self.geometry.window_size)
        else:
            counts = (index >= 0).sum(axis=1)
        self.divisor = counts.reshape(-1)  # int (d_out,)

    @property
    def exact(self) -> bool:
        return self._exact

    def scale(self) -> np.ndarray:
        """1 / N per output unit, shape (d_out,): exact Fractions in exact mode, float64 otherwise."""
        if self._exact:
            return np.array([Fraction(1, int(d)) for d in self.divisor], dtype=object)
        return 1.0 / self.divisor

    def linear(self, t: np.ndarray) -> np.ndarray:
        """Window means on the last axis: (..., C H W) -> (..., C H_out W_out)."""
        sums = self.geometry.gather(t).sum(axis=-3)
        sums = sums.reshape(sums.shape[:-3] + (-1,))
        return sums * self.scale() if self._exact else sums / self.divisor

    def linear_T(self, g: np.ndarray) -> np.ndarray:
        """Transpose: every window element receives g / N of its window, overlaps summed."""
        g = g * self.scale() if self._exact else g / self.divisor
        C = self.input_shape[0]
        Ho, Wo = self.geometry.output_hw
        g = g.reshape(g.shape[:-1] + (C, 1, Ho, Wo))
        cols = np.broadcast_to(g, g.shape[:-3] + (self.geometry.window_size, Ho, Wo))
        return self.geometry.scatter(cols)

    def forward(self, a: np.ndarray) -> np.ndarray:
        """Same as ``linear`` (no bias)."""
        return self.linear(a)

    def weight_matrix(self) -> np.ndarray:
        """Dense (d_out, d_in) matrix with 1 / N_hw at every non-padding element of window (c, h, w)."""
        index = self.geometry.window_index()  # (C, K, Ho, Wo)
        index = np.moveaxis(index, 1, -1).reshape(self.out_features, -1)
        scale = self.scale()
        M = np.zeros((self.out_features, self.in_features), dtype=object if self._exact else float)
        rows = np.broadcast_to(np.arange(self.out_features)[:, None], index.shape)
        keep = index >= 0
        M[rows[keep], index[keep]] = np.broadcast_to(scale[:, None], index.shape)[keep]
        return M

    def receptive_field(self) -> np.ndarray:
        """bool (d_out, d_in): True where output unit j averages input i (padding excluded)."""
        C = self.input_shape[0]
        return _receptive_field(self.geometry, self.out_features, C, C)

    def bias_vector(self) -> np.ndarray:
        """Zeros, shape (d_out,)."""
        return np.zeros(self.out_features, dtype=object if self._exact else float)

    def map_arrays(self, fn) -> "AvgPool2d":
        """A copy whose exactness follows ``fn`` (``to_fraction`` makes it exact)."""
        exact = is_exact(fn(np.zeros(1)))
        geo = self.geometry
        return AvgPool2d(geo.input_shape, geo.kernel_size, geo.stride, geo.padding,
                         count_include_pad=self.count_include_pad, exact=exact)

    def __repr__(self) -> str:
        return f"AvgPool2d({self.input_shape} -> {self.output_shape}, {self.geometry.describe()})"


class MaxPool2d(WindowedLayer):
    """Max pooling (``torch.nn.MaxPool2d``, ``ceil_mode=False``), an activation layer of the engine.

    Parameters
    ----------
    input_shape : (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit -inf padding (padding never wins); at most half the effective kernel size.
    dilation : int or (int, int)

    Notes
    -----
    Pattern: bool (n, d_out K) with K = k_H k_W; entry j K + r is True iff window element r (row-major over the
    kernel) is the winner of output unit j (j in row-major (C, H_out, W_out) order).  Exactly one entry per unit is
    True, never a padding element; ties go to the first maximum.  On the region of a pattern the layer is the
    selection z_out[j] = z[w_j] with w_j the winner's flat input index; its region rows are z[i] - z[w_j] <= 0 for
    every element i of window j (one row per pattern entry; the winner's own row and padding rows are 0 <= 0).
    """

    kind = "activation"

    def __init__(self, input_shape, kernel_size, stride=None, padding=0, dilation=1):
        self.geometry = geo = _pool_geometry(input_shape, kernel_size, stride, padding, dilation)
        index = np.moveaxis(geo.window_index(), 1, -1)  # (C, Ho, Wo, K)
        self._index = index.reshape(-1, geo.window_size)  # (d_out, K) flat input index, -1 = padding
        assert (self._index >= 0).any(axis=1).all()

    @property
    def pattern_features(self) -> int:
        """Width of this layer's pattern, d_out K."""
        return self.out_features * self.geometry.window_size

    exact = False  # no parameters; works on exact arrays as they come

    # ------------------------------------------------------------------ pattern
    def pattern(self, z: np.ndarray) -> np.ndarray:
        """Winner one-hot pattern, bool (n, d_out K), from inputs z of shape (n, d_in)."""
        cols = self.geometry.gather(z, fill=-np.inf)  # (n, C, K, Ho, Wo); -inf never wins
        return _one_hot(cols.argmax(axis=2), self.geometry.window_size)  # the first maximum

    def pattern_towards(self, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """Pattern at z with ties broken towards the direction dz: the pattern of z + eps dz for small eps > 0.

        Among the maxima of a window the element with the largest dz wins (then the first); bool (n, d_out K).
        One-sided gradients (the full DTD's gradient of phi at a root, on the side of the input) need it.
        """
        cols = self.geometry.gather(z, fill=-np.inf)
        slopes = np.where(cols == cols.max(axis=2, keepdims=True), self.geometry.gather(dz, fill=0), -np.inf)
        return _one_hot(slopes.argmax(axis=2), self.geometry.window_size)

    def check_pattern(self, pattern: np.ndarray, name: str) -> None:
        """Raise ValueError unless every unit has exactly one winner and it is not a padding element."""
        p = pattern.reshape(pattern.shape[0], self.out_features, -1)
        if not (p.sum(axis=-1) == 1).all() or (p & (self._index < 0)).any():
            raise ValueError(f"{name}: a max-pool pattern needs exactly one winner per window, never padding "
                             f"(shape {pattern.shape})")

    def winners(self, pattern: np.ndarray) -> np.ndarray:
        """Flat input index of the winner of every output unit, int (n, d_out)."""
        r = pattern.reshape(pattern.shape[0], self.out_features, -1).argmax(axis=-1)
        return np.take_along_axis(self._index[None], r[..., None], axis=-1)[..., 0]

    # ------------------------------------------------------------------ maps
    def forward(self, z: np.ndarray) -> np.ndarray:
        """Window maxima, (n, d_in) -> (n, d_out) (the winners' values, whatever the tie convention)."""
        maxima = self.geometry.gather(z, fill=-np.inf).max(axis=2)
        return maxima.reshape(z.shape[0], -1)

    def apply_pattern(self, pattern: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Select the winners along the last axis: t (n, ..., d_in) -> (n, ..., d_out)."""
        w = self.winners(pattern)
        w = w.reshape(w.shape[0], *((1,) * (t.ndim - 2)), w.shape[1])
        return np.take_along_axis(t, w, axis=-1)

    def apply_pattern_T(self, pattern: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Transpose (winner takes all): g (n, ..., d_out) -> (n, ..., d_in), g_j routed to the winner of unit j."""
        geo = self.geometry
        C, (Ho, Wo), K = self.input_shape[0], geo.output_hw, geo.window_size
        onehot = pattern.reshape(pattern.shape[0], *((1,) * (g.ndim - 2)), self.out_features, K)
        cols = np.where(onehot, g[..., None], 0)
        if cols.dtype != g.dtype:
            cols = cols.astype(g.dtype)
        cols = np.moveaxis(cols.reshape(g.shape[:-1] + (C, Ho, Wo, K)), -1, -3)
        return geo.scatter(cols)

    def region_rows(self, pattern: np.ndarray, A: np.ndarray, c: np.ndarray):
        """Half-spaces ``G x <= h`` keeping every window's winner fixed.

        Parameters
        ----------
        pattern : bool (n, d_out K)
        A : (n, d_in, d_x), c : (n, d_in)
            The layer input as affine map of the network input, z = A x + c.

        Returns
        -------
        G : (n, d_out K, d_x), h : (n, d_out K)
            Row j K + r is (A_i - A_w) x <= c_w - c_i, i.e. z_i <= z_w, for element i of window j and its winner w
            (the closure of the region); rows of the winner itself and of padding are zero.
        """
        n = pattern.shape[0]
        w = self.winners(pattern)  # (n, d_out)
        other = np.where(self._index[None] < 0, w[..., None], self._index[None]).reshape(n, -1)
        w = np.repeat(w, self.geometry.window_size, axis=1)
        G = np.take_along_axis(A, other[..., None], axis=1) - np.take_along_axis(A, w[..., None], axis=1)
        h = np.take_along_axis(c, w, axis=1) - np.take_along_axis(c, other, axis=1)
        return G, h

    def region_row_strict(self, pattern: np.ndarray) -> np.ndarray:
        """Which region rows hold strictly on the region itself, bool (n, d_out K).

        Ties go to the first maximum, so an element before the winner (in window order) must stay strictly below
        it and one after it may tie; the winner's own row and padding rows (0 <= 0) are not strict.
        """
        n, K = pattern.shape[0], self.geometry.window_size
        r = pattern.reshape(n, self.out_features, K).argmax(axis=-1)[..., None]
        strict = (np.arange(K) < r) & (self._index[None] >= 0)
        return strict.reshape(n, -1)

    def route_relevance(self, pattern: np.ndarray, R: np.ndarray) -> np.ndarray:
        """Winner-take-all relevance: R (n, d_out) -> (n, d_in), R_j goes to the winner of window j.

        Overlapping windows add up at a shared winner; the sum of relevance is conserved exactly.
        """
        return self.apply_pattern_T(pattern, R)

    def map_arrays(self, fn) -> "MaxPool2d":
        return self

    def __repr__(self) -> str:
        return f"MaxPool2d({self.input_shape} -> {self.output_shape}, {self.geometry.describe()})"
