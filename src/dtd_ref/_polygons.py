"""Vectorised convex-polygon splitting for :func:`dtd_ref.slices.slice_regions`.

Polygons live in the (s, t) coordinates of a plane, as padded vertex arrays ``V`` of shape (P, K, 2) in
counter-clockwise order with ``nv`` (P,) vertices each; padding slots hold a copy of vertex 0, so maxima and minima of
an affine function over the padded rows are those over the polygon.  Everything is dtype-generic: float64, or object
arrays of ``fractions.Fraction`` for exact slices (then no value is snapped).
"""

from __future__ import annotations

import numpy as np

__all__ = ["clip", "area", "interior", "LayerSplitter", "SNAP_RTOL"]

#: float64 only: a vertex whose value |z| of a neuron's affine function is at most SNAP_RTOL times the scale of that
#: function on the box (|z_s| S + |z_t| T + |z_c|, S and T the largest |s| and |t| of the box) counts as lying on the
#: neuron's line.  This keeps slivers thinner than rounding out of the partition; exact slices use no snapping.
SNAP_RTOL = 1e-11

_CHUNK = 4096  # polygons per block when classifying all neurons of a layer (bounds the (block, d) temporaries)
_REACH_SAFETY = 1 + 1e-9  # widens the prefilter's bound on |z(v) - z(centre)| against its own rounding


def clip(V: np.ndarray, nv: np.ndarray, z: np.ndarray):
    """Split each convex polygon by the zero line of an affine function that strictly changes sign on it.

    Parameters
    ----------
    V : (m, K, 2), nv : int (m,)
        Polygons (padded, counter-clockwise).
    z : (m, K)
        The function at the vertices (already snapped: exact zeros mark vertices on the line).

    Returns
    -------
    (V_pos, nv_pos), (V_neg, nv_neg)
        The parts {z >= 0} and {z <= 0}, counter-clockwise, padded to a common width with copies of vertex 0.

    Notes
    -----
    Walk the boundary: vertex k goes to the side(s) of its sign (both if z_k = 0); an edge (k, k+1) whose end values
    have strictly opposite signs contributes its crossing v_k + z_k / (z_k - z_{k+1}) (v_{k+1} - v_k) to both parts.
    """
    m, K = z.shape
    k = np.arange(K)
    valid = k < nv[:, None]
    nxt = np.where(k + 1 < nv[:, None], k + 1, 0)
    z_next = np.take_along_axis(z, nxt, axis=1)
    V_next = np.take_along_axis(V, nxt[..., None], axis=1)
    positive, negative = np.asarray(z > 0, dtype=bool), np.asarray(z < 0, dtype=bool)
    positive_next, negative_next = np.asarray(z_next > 0, dtype=bool), np.asarray(z_next < 0, dtype=bool)
    crossing = valid & ((positive & negative_next) | (negative & positive_next))
    one = 1 if V.dtype == object else 1.0
    lam = z / np.where(crossing, z - z_next, one)
    X = V + lam[..., None] * (V_next - V)
    slots = np.empty((m, 2 * K, 2), dtype=V.dtype)
    slots[:, 0::2], slots[:, 1::2] = V, X
    keep_pos = np.empty((m, 2 * K), dtype=bool)
    keep_neg = np.empty((m, 2 * K), dtype=bool)
    keep_pos[:, 0::2], keep_pos[:, 1::2] = valid & ~negative, crossing
    keep_neg[:, 0::2], keep_neg[:, 1::2] = valid & ~positive, crossing
    return _compact(slots, keep_pos), _compact(slots, keep_neg)


def _compact(slots: np.ndarray, keep: np.ndarray):
    """Move the kept slots to the front of each row (order preserved) and pad with copies of the first one."""
    count = keep.sum(axis=1)
    width = int(count.max())
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    out = np.take_along_axis(slots, order[..., None], axis=1)
    pad = np.arange(width)[None, :] >= count[:, None]
    out[pad] = np.broadcast_to(out[:, :1], out.shape)[pad]
    return out, count


def area(V: np.ndarray) -> np.ndarray:
    """Shoelace area of padded counter-clockwise polygons (P, K, 2) -> (P,); padding adds zero-length edges."""
    s, t = V[..., 0], V[..., 1]
    s_next, t_next = np.roll(s, -1, axis=1), np.roll(t, -1, axis=1)
    return (s * t_next - s_next * t).sum(axis=1) / 2


def interior(V: np.ndarray, nv: np.ndarray) -> np.ndarray:
    """Mean of the vertices, (P, 2): an interior point of every convex polygon with positive area."""
    valid = np.arange(V.shape[1])[None, :] < nv[:, None]
    total = np.where(valid[..., None], V, 0).sum(axis=1)
    return total / nv[:, None]


class LayerSplitter:
    """Split polygons by every neuron of one activation layer, vectorised over polygons.

    Parameters
    ----------
    V : (P, K, 2), nv : (P,)
        The polygons at the start of the layer (each has one fixed pattern of the layers below).
    lines : (P, 3, d)
        The layer's pre-activation on each polygon, z(s, t) = lines[:, 0] s + lines[:, 1] t + lines[:, 2].
    extent : (S, T) or None
        The largest |s| and |t| of the rectangle being sliced (float64), which set the snapping scale
        |z_s| S + |z_t| T + |z_c| of a neuron's function; None for exact arithmetic (no snapping).

    After :meth:`run`: ``V``, ``nv`` hold the final polygons, ``source`` (P',) the index of the polygon each came
    from and ``bits`` bool (P', d) the layer's pattern on it.

    Notes
    -----
    Neuron by neuron j = 0..d-1, only the polygons whose vertices have strictly positive and strictly negative
    z_j are split (``crossed``).  A child lies inside its parent, so it can only be crossed by a later neuron that
    also crossed the parent: the children are re-evaluated on those neurons alone.  Every other polygon's bit of a
    neuron is 1 iff some vertex has z_j > 0 (it then has no vertex with z_j < 0).
    """

    def __init__(self, V, nv, lines, extent):
        self.lines, self.extent = lines, extent
        P, d = V.shape[0], lines.shape[2]
        capacity = max(2 * P, 64)
        self.exact = V.dtype == object
        self.V = _grow(V, capacity)
        self.nv = _grow(nv, capacity)
        self.source = _grow(np.arange(P), capacity)
        self.crossed = np.zeros((d, capacity), dtype=bool)  # neuron-major: column scans are contiguous
        self.bitsT = np.zeros((d, capacity), dtype=bool)
        self.P = P
        for first in range(0, P, _CHUNK):
            rows = np.arange(first, min(first + _CHUNK, P))
            candidate = self._prefilter(slice(first, first + rows.size), rows.size)
            pair_rows, pair_cols = np.nonzero(candidate)
            crossed, active = self._classify(rows[pair_rows], pair_cols)
            self.crossed[pair_cols, rows[pair_rows]] = crossed
            self.bitsT[pair_cols, rows[pair_rows]] = active

    def _prefilter(self, rows: slice, n: int):
        """Bool (n, d): which (polygon, neuron) pairs of the n polygons ``rows`` need a vertex test.

        Sets the bits of the other pairs.

        float64: with (c_s, c_t) the centre and (h_s, h_t) the half-widths of the polygon's bounding box, every
        vertex value of z_j = a s + b t + c lies within |a| h_s + |b| h_t of z_j(c_s, c_t); when z_j there is
        farther than that plus the snapping tolerance SNAP_RTOL (|a| S + |b| T + |c|) from 0, its sign is the
        neuron's bit and the line does not cross.  Exact slices test every pair.
        """
        d = self.lines.shape[2]
        if self.extent is None:
            return np.ones((n, d), dtype=bool)
        V, lines = self.V[rows], self.lines[rows]
        high, low = V.max(axis=1), V.min(axis=1)  # padding repeats vertex 0, so the box is the polygon's
        S, T = self.extent
        centre = np.ones((n, 1, 3))
        centre[:, 0, :2] = (high + low) / 2
        weight = np.full((n, 1, 3), SNAP_RTOL)
        weight[:, 0, :2] = (high - low) / 2 * _REACH_SAFETY + SNAP_RTOL * np.array([S, T])
        z_centre = np.matmul(centre, lines)[:, 0]  # (n, d): z at the box centre
        reach = np.matmul(weight, np.abs(lines))[:, 0]  # |a| (h_s + eps S) + |b| (h_t + eps T) + eps |c|
        self.bitsT[:, rows] = (z_centre > reach).T
        return np.abs(z_centre) <= reach

    def _classify(self, rows, cols):
        """(crossed, active) bool (n,) for the (polygon, neuron) pairs (rows[i], cols[i]), from the vertex values.

        A neuron crosses a polygon when some vertex value exceeds the snapping tolerance and another is below its
        negative; it is active on a polygon it does not cross when some vertex value exceeds the tolerance.
        """
        source = self.source[rows]
        line = self.lines[source, :, cols]  # (n, 3)
        V = self.V[rows]
        values = V[:, :, 0] * line[:, 0, None] + V[:, :, 1] * line[:, 1, None] + line[:, 2, None]
        high, low = values.max(axis=1), values.min(axis=1)
        if self.extent is None:
            active = np.asarray(high > 0, dtype=bool)
            return active & np.asarray(low < 0, dtype=bool), active
        tol = self._tolerance(line)
        active = high > tol
        return active & (low < -tol), active

    def _tolerance(self, line):
        """Snapping tolerance SNAP_RTOL (|a| S + |b| T + |c|) of functions a s + b t + c, line (n, 3) -> (n,)."""
        S, T = self.extent
        return SNAP_RTOL * (np.abs(line[:, 0]) * S + np.abs(line[:, 1]) * T + np.abs(line[:, 2]))

    def run(self):
        d = self.lines.shape[2]
        for j in range(d):
            rows = np.flatnonzero(self.crossed[j, :self.P])
            if rows.size:
                self._split(rows, j)
        P = self.P
        self.V, self.nv, self.source = self.V[:P], self.nv[:P], self.source[:P]
        self.bits = self.bitsT[:, :P].T.copy()
        return self

    def _split(self, rows, j):
        m = rows.size
        line = self.lines[self.source[rows], :, j]  # (m, 3)
        V = self.V[rows]
        z = V[:, :, 0] * line[:, 0, None] + V[:, :, 1] * line[:, 1, None] + line[:, 2, None]
        if self.extent is not None:
            z = np.where(np.abs(z) <= self._tolerance(line)[:, None], 0.0, z)
        (V_pos, nv_pos), (V_neg, nv_neg) = clip(V, self.nv[rows], z)
        new = np.arange(self.P, self.P + m)
        self._reserve(self.P + m, max(V_pos.shape[1], V_neg.shape[1]))
        self._write(rows, V_pos, nv_pos)
        self._write(new, V_neg, nv_neg)
        self.source[new] = self.source[rows]
        self.crossed[:, new] = self.crossed[:, rows]
        self.bitsT[:, new] = self.bitsT[:, rows]
        self.crossed[j, rows] = self.crossed[j, new] = False
        self.bitsT[j, rows], self.bitsT[j, new] = True, False
        self.P += m
        both = np.concatenate([rows, new])
        later, which = np.nonzero(self.crossed[j + 1:, both])  # children can only be crossed where the parent was
        if later.size:
            later, which = later + j + 1, both[which]
            self.crossed[later, which], self.bitsT[later, which] = self._classify(which, later)

    def _write(self, rows, V, nv):
        K = self.V.shape[1]
        if V.shape[1] < K:
            V = np.concatenate([V, np.repeat(V[:, :1], K - V.shape[1], axis=1)], axis=1)
        self.V[rows], self.nv[rows] = V, nv

    def _reserve(self, size, width):
        capacity = self.V.shape[0]
        if size > capacity:
            capacity = max(size, 2 * capacity)
            self.V, self.nv, self.source = (_grow(a, capacity) for a in (self.V, self.nv, self.source))
            self.crossed = _grow(self.crossed, capacity, axis=1)
            self.bitsT = _grow(self.bitsT, capacity, axis=1)
        if width > self.V.shape[1]:
            self.V = np.concatenate([self.V, np.repeat(self.V[:, :1], width - self.V.shape[1], axis=1)], axis=1)


def _grow(array: np.ndarray, capacity: int, axis: int = 0) -> np.ndarray:
    """A copy of ``array`` with room for ``capacity`` entries along ``axis`` (new entries zero / False / None)."""
    shape = list(array.shape)
    shape[axis] = capacity - array.shape[axis]
    if shape[axis] <= 0:
        return array
    filler = np.zeros(shape, dtype=array.dtype) if array.dtype != object else np.full(shape, 0, dtype=object)
    return np.concatenate([array, filler], axis=axis)
