"""The linear region of a point: its activation pattern and the H-representation of its closure.

Sign convention (written here once, used everywhere in the project): a region is stored as the rows of

    A x <= b,        A of shape (m, d), b of shape (m,),

which describe the **closure** of the region.  For a ReLU unit k with pre-activation z_k(x) = a_k^T x + c_k on the
region (an affine function of x as long as the earlier layers keep their pattern), the row is

    -(2 s_k - 1) a_k^T x <= (2 s_k - 1) c_k,      i.e.   (2 s_k - 1) z_k(x) >= 0,

so an active unit (s_k = 1) contributes -z_k <= 0 and an inactive one z_k <= 0.  The region itself (points with
exactly this pattern, ReLU'(0) = 0 so z_k = 0 counts as inactive) is the closure with the rows of active units made
strict: ``Region.strict`` marks them.  The rows come from each activation layer's ``region_rows`` applied to
``Network.preactivation_maps``, so layers with other row structures (max pooling) fit without changes here.

Float64 membership uses the tolerance ``REGION_RTOL``; exact regions (exact network) or exact points (Fraction) are
decided with no tolerance at all.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import as_batch, is_exact
from ._closure import _row_strict, closure_rows
from .lp import OPTIMAL, chebyshev_center, solve_lp

__all__ = [
    "Region", "Witness", "region_of", "regions_of", "same_region", "closure_rows",
    "REGION_RTOL", "FACET_RTOL", "WITNESS_MAX_RADIUS",
]

#: Float64 membership band.  With rows normalised to unit length (a_i, b_i) and r_i(x) = a_i^T x - b_i the signed
#: distance of x beyond facet i, a closed row holds iff r_i(x) <= REGION_RTOL * (|x| + |b_i|) and a strict row iff
#: r_i(x) < -REGION_RTOL * (|x| + |b_i|).  The band covers the rounding of the rows (products of all earlier weight
#: matrices) and of r_i itself, which are of order (depth * width * 2.2e-16) relative to |x| + |b_i|.  So in
#: float64 ``closed=True`` answers "in the closure, up to rounding" (generous) and ``closed=False`` answers "certainly
#: has the pattern" (conservative); exact mode decides the band.
REGION_RTOL = 1e-9

#: A row is a facet when maximising its left-hand side over the other rows exceeds its bound by more than
#: FACET_RTOL * (1 + |b_i|) (rows normalised); larger than the LP solver's feasibility tolerance (1e-7).
FACET_RTOL = 1e-6

#: Default cap on the Chebyshev radius in ``witness`` (input units), so unbounded regions still get a centre.
WITNESS_MAX_RADIUS = 1.0

_CHUNK = 8192  # points per block in float membership: keeps the (chunk, m) slack block cache-sized


@dataclass(frozen=True)
class Witness:
    """An interior point of a region whose activation pattern has been verified.

    Attributes
    ----------
    point : ndarray (d,)
        float64 for float networks, Fraction objects (the same value, converted losslessly) for exact networks.
    radius : float
        Radius of the inscribed ball around ``point`` found by the LP (> 0).
    """

    point: np.ndarray
    radius: float


class Region:
    """The linear region of an activation pattern: pattern plus closure {x : A x <= b}.

    Build it with :func:`region_of` (the region of a point) or :meth:`Region.from_pattern`.

    Attributes
    ----------
    net : Network
    pattern : tuple of bool arrays (d_m,)
        The pattern of every activation layer m.
    A : (m, d) and b : (m,)
        Rows of the closure, ``A x <= b`` (float64, or Fraction objects for exact networks).
    units : int (m, 2)
        ``units[i] = (activation layer, unit)`` that row i belongs to.
    flat_units : int (m,)
        The same unit as an index into the concatenated pattern (``pattern_vector``).
    strict : bool (m,)
        Rows that must hold strictly for exact pattern membership (the rows of active units).
    x : ndarray (d,) or None
        The point the region was built from, if any.
    """

    def __init__(self, net, pattern, A, b, units, flat_units, strict, x=None):
        self.net = net
        self.pattern = tuple(np.asarray(p, dtype=bool) for p in pattern)
        self.A, self.b = A, b
        self.units, self.flat_units, self.strict = units, flat_units, strict
        self.x = x
        self._float_rows = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pattern(cls, net, pattern) -> "Region":
        """The region of a given pattern (tuple of bool (d_m,), one per activation layer); it may be empty."""
        pattern = tuple(pattern) if isinstance(pattern, (tuple, list)) else (pattern,)
        if len(pattern) != len(net.activation_layers):
            raise ValueError(f"pattern: expected {len(net.activation_layers)} arrays, got {len(pattern)}")
        batched = []
        for m, p in enumerate(pattern):
            p = np.asarray(p)
            if p.ndim != 1 or p.dtype != bool:
                raise ValueError(f"pattern[{m}]: expected a 1-D bool array, got {p.dtype} {p.shape}")
            batched.append(p[None, :])
        return _build(net, tuple(batched), None)[0]

    # ------------------------------------------------------------------ shapes
    @property
    def exact(self) -> bool:
        return is_exact(self.A)

    @property
    def dim(self) -> int:
        return self.A.shape[1]

    @property
    def pattern_vector(self) -> np.ndarray:
        """All layers' patterns concatenated, bool (total units,)."""
        return np.concatenate(self.pattern) if self.pattern else np.zeros(0, bool)

    def __repr__(self) -> str:
        active = int(self.pattern_vector.sum())
        return (f"Region(d={self.dim}, rows={self.A.shape[0]}, active={active}/{self.pattern_vector.size}"
                f"{', exact' if self.exact else ''})")

    def affine_map(self) -> tuple[np.ndarray, np.ndarray]:
        """(A_s, c_s), shapes (d_out, d) and (d_out,), with f(x) = A_s x + c_s on the region."""
        A_s, c_s = self.net.affine_for_pattern(tuple(p[None, :] for p in self.pattern))
        return A_s[0], c_s[0]

    # ------------------------------------------------------------------ membership
    def _strict_rows(self, closed: bool, closed_on) -> np.ndarray:
        if closed:
            if closed_on is not None:
                raise ValueError("closed_on: only meaningful with closed=False (closed=True already closes every unit)")
            return np.zeros(self.A.shape[0], dtype=bool)
        return self.strict & ~np.isin(self.flat_units, self._unit_indices(closed_on))

    def _unit_indices(self, closed_on) -> np.ndarray:
        """Flat unit indices from None, an int, or a sequence of ints and (layer, unit) pairs."""
        sizes = [p.size for p in self.pattern]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        if closed_on is None:
            return np.zeros(0, dtype=int)
        pair = isinstance(closed_on, tuple) and len(closed_on) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in closed_on)
        if isinstance(closed_on, numbers.Integral) or pair:
            items = [closed_on]  # one flat index, or one (layer, unit) pair
        else:
            items = list(closed_on)  # a collection of flat indices and / or pairs
        flat = []
        for item in items:
            if isinstance(item, (bool, np.bool_)):
                raise ValueError(f"closed_on: expected unit indices or (layer, unit) pairs, got {item!r}")
            if isinstance(item, numbers.Integral):
                if not 0 <= int(item) < offsets[-1]:
                    raise ValueError(f"closed_on: flat unit {item} out of range for {offsets[-1]} units")
                flat.append(int(item))
            elif len(item) == 2 and all(isinstance(v, numbers.Integral) for v in item):
                layer, unit = int(item[0]), int(item[1])
                if not (0 <= layer < len(sizes) and 0 <= unit < sizes[layer]):
                    raise ValueError(f"closed_on: unit ({layer}, {unit}) out of range for layer sizes {sizes}")
                flat.append(offsets[layer] + unit)
            else:
                raise ValueError(f"closed_on: expected unit indices or (layer, unit) pairs, got {item!r}")
        return np.asarray(flat, dtype=int)

    def _points(self, points, name: str = "points"):
        x, single = as_batch(points, name, self.dim)
        return x, single, self.exact or is_exact(x)

    def _exact_rows(self):
        from .exact import to_fraction

        return (self.A, self.b) if self.exact else (to_fraction(self.A), to_fraction(self.b))

    def _rows_float(self):
        """Unit-normalised float rows (A_hat, b_hat) of the rows with a_i != 0, and the constant rows' b."""
        if self._float_rows is None:
            from .exact import to_float

            A, b = to_float(self.A), to_float(self.b)
            norms = np.linalg.norm(A, axis=1)
            keep = norms > 0
            self._float_rows = (A[keep] / norms[keep, None], b[keep] / norms[keep], keep, b[~keep])
        return self._float_rows

    def contains(self, points, *, closed: bool = True, closed_on=None):
        """Membership of points in the region.

        Parameters
        ----------
        points : array_like, shape (n, d) or (d,)
        closed : bool
            True: the closure {x : A x <= b}.  False: exact pattern membership (active units z > 0, inactive z <= 0).
        closed_on : int, tuple (layer, unit), or list / array of them, optional
            With ``closed=False``: units whose rows are closed (z >= 0 allowed for an active unit) while every other
            unit keeps the exact pattern; this is how a root lying on its own neuron's hinge is judged.  An int is
            a flat unit index (into ``pattern_vector``), a tuple of two ints is one (activation layer, unit) pair,
            any other list, tuple or array is a collection of flat indices and pairs (a (k, 2) array: k pairs).

        Returns
        -------
        bool (n,) or bool

        Notes
        -----
        Exact regions or exact points: decided exactly, a_i^T x - b_i <= 0 (closed rows) or < 0 (strict rows).
        float64: the band ``REGION_RTOL`` (see there) on the unit-normalised rows.
        """
        x, single, exact = self._points(points)
        strict = self._strict_rows(closed, closed_on)
        if exact:
            inside = self._contains_exact(x, strict)
        else:
            inside = self._contains_float(x, strict)
        return bool(inside[0]) if single else inside

    def _contains_exact(self, x, strict) -> np.ndarray:
        from .exact import to_fraction

        A, b = self._exact_rows()
        x = x if is_exact(x) else to_fraction(x)
        slack = x @ A.T - b  # (n, m): a_i^T x - b_i
        ok = np.where(strict, slack < 0, slack <= 0) if slack.size else np.ones(slack.shape, bool)
        return np.asarray(ok, dtype=bool).all(axis=1)

    def _contains_float(self, x, strict) -> np.ndarray:
        A_hat, b_hat, keep, b_const = self._rows_float()
        strict_const = strict[~keep]
        if np.any(np.where(strict_const, b_const <= 0, b_const < 0)):  # a row 0 <= b_i (or 0 < b_i) that fails
            return np.zeros(x.shape[0], dtype=bool)
        order = np.argsort(strict[keep], kind="stable")  # closed rows first, then strict ones
        A_hat, b_hat, row_strict = A_hat[order], b_hat[order], strict[keep][order]
        n_closed = int((~row_strict).sum())
        sign = np.where(row_strict, -1.0, 1.0) * REGION_RTOL  # +t on closed rows, -t on strict rows
        # [x, 1, |x|] @ M = a^T x - b - sign (|b| + |x|), compared with 0 (<= on closed rows, < on strict rows):
        # one matmul against the stacked rows.
        M = np.vstack([A_hat.T, -(b_hat + sign * np.abs(b_hat))[None, :], -sign[None, :]])
        inside = np.empty(x.shape[0], dtype=bool)
        for start in range(0, x.shape[0], _CHUNK):
            block = x[start:start + _CHUNK]
            aug = np.empty((block.shape[0], block.shape[1] + 2))
            aug[:, :-2] = block
            aug[:, -2] = 1.0
            aug[:, -1] = np.sqrt(np.einsum("ij,ij->i", block, block))
            S = aug @ M
            inside[start:start + _CHUNK] = (S[:, :n_closed] <= 0).all(axis=1) & (S[:, n_closed:] < 0).all(axis=1)
        return inside

    def margin(self, points):
        """Signed Euclidean distance to the nearest violated or tightest facet, positive inside.

        Returns float64 (n,) or float: min_i (b_i - a_i^T x) / |a_i| over rows with a_i != 0.  Inside the closure
        this is the exact distance to the boundary (>= 0); outside it is minus the largest distance to a violated
        half-space, a lower bound on the distance to the region.  A row 0 <= b_i is ignored when true and gives
        -inf when false; no rows at all give +inf.  Exact inputs: the slack is computed exactly, so the sign is
        exact (only the final division by |a_i| is rounded).
        """
        x, single, exact = self._points(points)
        A_hat, b_hat, keep, b_const = self._rows_float()
        if exact:
            from .exact import to_float, to_fraction

            A, b = self._exact_rows()
            norms = np.array([float(np.sqrt(float(v))) for v in (A * A).sum(axis=1)]) if A.size else np.zeros(0)
            x = x if is_exact(x) else to_fraction(x)
            slack = to_float(b[keep] - x @ A[keep].T) if keep.any() else np.zeros((x.shape[0], 0))
            dist = slack / norms[keep]
        else:
            dist = b_hat - x @ A_hat.T
        out = dist.min(axis=1) if dist.shape[1] else np.full(x.shape[0], np.inf)
        if np.any(b_const < 0):
            out = np.full(x.shape[0], -np.inf)
        return float(out[0]) if single else out

    def contains_segment(self, p, q, *, closed: bool = True, closed_on=None):
        """Whether the whole segment [p, q] lies in the region (same semantics options as :meth:`contains`).

        p, q : (n, d) or (d,), paired row by row.  Returns bool (n,) or bool.

        Notes
        -----
        Every set this method can test is an intersection of closed half-spaces {a_i^T x <= b_i} and open ones
        {a_i^T x < b_i}, hence convex: if p and q belong to it so does every p + t (q - p), t in [0, 1], and if
        either endpoint does not, the segment is not contained.  So the two endpoint tests decide exactly.
        """
        p2, single_p, _ = self._points(p, "p")
        q2, single_q, _ = self._points(q, "q")
        if p2.shape != q2.shape:
            raise ValueError(f"p and q: expected the same shape, got {np.shape(p)} and {np.shape(q)}")
        inside = (self.contains(p2, closed=closed, closed_on=closed_on)
                  & self.contains(q2, closed=closed, closed_on=closed_on))
        return bool(inside[0]) if single_p and single_q else inside

    # ------------------------------------------------------------------ LPs
    def witness(self, *, bounds=None, max_radius=WITNESS_MAX_RADIUS):
        """An interior point with the region's pattern, or None if there is none to be found.

        Parameters
        ----------
        bounds : None, (low, high) or d pairs, optional
            Keep the ball inside this box.
        max_radius : float
            Cap on the radius (unbounded regions would otherwise have no finite centre).

        Returns
        -------
        Witness or None
            ``None`` when the region is empty, has no interior (radius 0), or the centre fails verification.

        Notes
        -----
        The Chebyshev centre (largest inscribed ball, :func:`dtd_ref.lp.chebyshev_center`) of the closure, then
        verified by a forward pass: its activation pattern must equal ``pattern``.  For exact networks the centre is
        converted losslessly to Fractions and the verification is exact.
        """
        result = chebyshev_center(self.A, self.b, bounds=bounds, max_radius=max_radius)
        if result.status != OPTIMAL or not result.radius > 0:
            return None
        point = result.center
        if self.net.exact:
            from .exact import to_fraction

            point = to_fraction(point)
        if not self.contains(point, closed=False) or not self.has_pattern(point):
            return None
        return Witness(point, result.radius)

    def has_pattern(self, points):
        """Whether each point's activation pattern (from a forward pass of ``net``) equals ``pattern``."""
        x, single, _ = self._points(points)
        same = (self.net.trace(x).pattern_vector == self.pattern_vector).all(axis=1)
        return bool(same[0]) if single else same

    def facets(self) -> np.ndarray:
        """Indices of the irredundant rows (facets of a full-dimensional region), found by LP; sorted int array.

        Notes
        -----
        Rows are normalised and visited in order; row i is dropped when max a_i^T x over the rows still kept (plus
        a_i^T x <= b_i + 1 to keep the LP bounded) does not exceed b_i by more than FACET_RTOL (1 + |b_i|).  Of
        duplicate rows the last one stays.  Rows with a_i = 0 are never facets.  An empty region has no facets.
        Runs one LP per row in float64.
        """
        A_hat, b_hat, keep, b_const = self._rows_float()
        if np.any(b_const < 0):
            return np.zeros(0, dtype=int)
        rows = np.flatnonzero(keep)
        alive = np.ones(rows.size, dtype=bool)
        for i in range(rows.size):
            others = alive.copy()
            others[i] = False
            A_ub = np.vstack([A_hat[others], A_hat[i]])
            b_ub = np.concatenate([b_hat[others], [b_hat[i] + 1.0]])
            result = solve_lp(-A_hat[i], A_ub=A_ub, b_ub=b_ub)
            if result.status != OPTIMAL:  # infeasible: the region is empty
                return np.zeros(0, dtype=int)
            if -result.fun <= b_hat[i] + FACET_RTOL * (1.0 + abs(b_hat[i])):
                alive[i] = False
        return rows[alive]


def _build(net, patterns, x) -> list:
    """Regions for a batch of patterns (tuple of bool (n, d_m)); ``x`` (n, d) or None."""
    n = patterns[0].shape[0] if patterns else (1 if x is None else x.shape[0])
    A, b = closure_rows(net, patterns, n)
    units, strict, offset = [], [], 0
    for m, (layer, pattern) in enumerate(zip(net.activation_layers, patterns)):
        row_units = getattr(layer, "region_row_units", None)
        unit = row_units(pattern) if row_units else np.broadcast_to(np.arange(pattern.shape[1]), pattern.shape)
        units.append(np.stack([np.full(unit.shape, m), unit, offset + unit], axis=-1))
        strict.append(_row_strict(layer, pattern))
        offset += pattern.shape[1]
    U = np.concatenate(units, axis=1) if units else np.zeros((n, 0, 3), dtype=int)
    S = np.concatenate(strict, axis=1) if strict else np.zeros((n, 0), dtype=bool)
    assert U.shape[1] == A.shape[1], "region_rows must give one row per entry of region_row_units"
    return [Region(net, tuple(p[i] for p in patterns), A[i], b[i], U[i, :, :2].astype(int), U[i, :, 2].astype(int),
                   S[i].astype(bool), None if x is None else x[i]) for i in range(n)]


def region_of(net, x) -> Region:
    """The linear region of a single point x (d,): its pattern and the closure {z : A z <= b}.

    Notes
    -----
    One row per ReLU unit, -(2 s_k - 1) a_k^T z <= (2 s_k - 1) c_k with z_k = a_k^T z + c_k the unit's
    pre-activation on the region ([SL22] linear regions; THEORY.md §1).  Rows may be redundant; see
    :meth:`Region.facets`.
    """
    x2, single = net.check_input(x)
    if not single:
        raise ValueError(f"x: expected a single point of shape ({net.in_features},); use regions_of for a batch, "
                         f"got {np.shape(x)}")
    return regions_of(net, x2)[0]


def regions_of(net, X) -> list:
    """Regions of a batch of points X (n, d), built with one batched pass; a list of n :class:`Region`."""
    X2, _ = net.check_input(X, "X")
    return _build(net, net.trace(X2).patterns, X2)


def same_region(net, x, points):
    """Whether each point has the same activation pattern as x (the exact, strict notion of "same region").

    x : (d,); points : (n, d) or (d,).  Returns bool (n,) or bool.  Patterns come from forward passes of ``net``
    (exact for exact networks; float64 otherwise, where points within rounding of a hinge may go either way).
    """
    x2, single_x = net.check_input(x, "x")
    if not single_x:
        raise ValueError(f"x: expected a single point of shape ({net.in_features},), got {np.shape(x)}")
    p2, single = net.check_input(points, "points")
    same = (net.trace(p2).pattern_vector == net.trace(x2).pattern_vector).all(axis=1)
    return bool(same[0]) if single else same

