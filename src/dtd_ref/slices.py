"""Exact partitions of a line segment and of a 2-D plane through input space into linear regions.

``line_regions(net, p, q)`` splits the segment x(t) = p + t (q - p), t in [0, 1], at every point where the activation
pattern changes and returns the pattern of each open piece.  ``slice_regions(net, origin, u, v, bounds=...)`` splits
the rectangle {origin + s u + t v : (s, t) in bounds} into the convex polygons on which the pattern is constant.

Both work in float64 on float networks and exactly (``fractions.Fraction``) on exact networks or exact inputs; in
exact mode every breakpoint and every polygon vertex is a rational number and nothing is decided with a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._polygons import LayerSplitter, area, interior
from ._validation import as_array, check_index, is_exact
from .exact import to_exact, to_fraction
from .layers import ReLU

__all__ = ["LineRegions", "line_regions", "SliceRegions", "slice_regions", "split_pattern", "DEPENDENT_RTOL"]

#: float64: u and v count as linearly dependent when the Gram determinant |u|^2 |v|^2 - (u.v)^2 is at most
#: DEPENDENT_RTOL |u|^2 |v|^2 (the squared sine of the angle between them); exact inputs test it for == 0.
DEPENDENT_RTOL = 1e-20


def split_pattern(net, pattern) -> tuple:
    """Split flat pattern vectors into the per-activation-layer patterns that ``Network`` methods take.

    Parameters
    ----------
    net : Network
    pattern : bool (U,) or (n, U)
        Flat patterns, U = total number of activation units (the layout of ``Trace.pattern_vector``).

    Returns
    -------
    tuple of bool (n, d_m) arrays, one per activation layer (n = 1 for a single flat pattern).
    """
    pattern = np.asarray(pattern)
    flat = np.atleast_2d(pattern)
    sizes = _activation_sizes(net)
    if flat.ndim != 2 or flat.dtype != bool or flat.shape[1] != sum(sizes):
        raise ValueError(f"pattern: expected bool (U,) or (n, U) with U = {sum(sizes)}, got {pattern.dtype} "
                         f"{pattern.shape}")
    bounds = np.cumsum((0,) + tuple(sizes))
    return tuple(flat[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:]))


def _activation_sizes(net) -> tuple:
    sizes, width = [], net.in_features
    for layer in net.layers:
        if layer.kind == "affine":
            width = layer.out_features
        else:
            sizes.append(width)
    return tuple(sizes)


def _exact_pair(net, *points):
    """Validate points of shape (d,); go exact if the network or any point is exact."""
    arrays = [as_array(point, name, ndim=1) for name, point in points]
    for (name, _), array in zip(points, arrays):
        if array.shape[0] != net.in_features:
            raise ValueError(f"{name}: expected shape ({net.in_features},), got {array.shape}")
    exact = net.exact or any(is_exact(array) for array in arrays)
    if exact:
        net = to_exact(net)
        arrays = [array if is_exact(array) else to_fraction(array) for array in arrays]
    return net, exact, arrays


@dataclass(frozen=True)
class LineRegions:
    """The linear pieces of a network along the segment x(t) = p + t (q - p), t in [0, 1].

    Attributes
    ----------
    net : Network
        The network the pieces belong to (exact if the computation was exact).
    p, q : (d,)
        End points of the segment.
    t : (k + 1,)
        Breakpoints, strictly increasing, ``t[0] == 0`` and ``t[-1] == 1``; an object array of ``Fraction`` in exact
        mode.  The activation pattern is constant on every open piece (t[i], t[i+1]) and differs between neighbours.
    patterns : bool (k, U)
        Flat pattern (layout of ``Trace.pattern_vector``) of every open piece.  At a breakpoint itself the pattern
        can differ from both neighbours (a unit exactly at z = 0 is inactive); use :meth:`pattern_at`.
    exact : bool

    Notes
    -----
    On piece i the network is affine in t: f(x(t)) = f(x(t_i)) + (t - t_i) A_i (q - p), with A_i the local
    Jacobian of ``patterns[i]``.  A zero of any affine function of f along the line (phi_j in the DTD) therefore lies
    on the piece where it changes sign and solves a linear equation there.
    """

    net: object
    p: np.ndarray
    q: np.ndarray
    t: np.ndarray
    patterns: np.ndarray
    exact: bool

    def __len__(self) -> int:
        return self.patterns.shape[0]

    @property
    def points(self) -> np.ndarray:
        """Input points at the breakpoints, (k + 1, d): x(t_i) = p + t_i (q - p)."""
        return self.at(self.t)

    @property
    def midpoints(self) -> np.ndarray:
        """One interior point per piece, (k, d): x((t_i + t_{i+1}) / 2); its pattern is ``patterns[i]``."""
        half = Fraction(1, 2) if self.exact else 0.5
        return self.at((self.t[:-1] + self.t[1:]) * half)

    def at(self, t) -> np.ndarray:
        """Points x(t) = p + t (q - p) for t of shape (m,); returns (m, d)."""
        t = np.asarray(t, dtype=object if self.exact else float).reshape(-1, 1)
        return self.p + t * (self.q - self.p)

    def piece(self, t, side: str = "right") -> int:
        """Index of the piece containing t in [0, 1].

        At a breakpoint t_i (0 < i < k) ``side="right"`` returns the piece that starts there (i) and ``side="left"``
        the piece that ends there (i - 1).  t = 0 gives piece 0 and t = 1 the last piece, whatever the side.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
        if not 0 <= t <= 1:
            raise ValueError(f"t: expected a value in [0, 1], got {t!r}")
        index = int(np.searchsorted(self.t, t, side="right" if side == "right" else "left")) - 1
        return min(max(index, 0), len(self) - 1)

    def layer_patterns(self, i: int) -> tuple:
        """Pattern of piece i split per activation layer, bool (1, d_m) each (input of ``Network.forward_fixed``)."""
        i = check_index(i, "i", len(self))
        return split_pattern(self.net, self.patterns[i])

    def pattern_at(self, t) -> np.ndarray:
        """The actual pattern at x(t), bool (U,) (evaluated by a forward pass, exact in exact mode)."""
        return self.net.trace(self.at([t])).pattern_vector[0]


def _right_limit(net, x: np.ndarray, d: np.ndarray):
    """Patterns just after x along d, with every pre-activation z and its derivative dz along d.

    Forward-mode pass on one point: a unit is active on (x, x + eps d) iff z > 0, or z == 0 and dz > 0, where z and dz
    are computed with the upstream units already fixed to their right-limit patterns.
    """
    a, da = x[None, :], d[None, :]
    patterns, zs, dzs = [], [], []
    for layer in net.layers:
        if layer.kind == "affine":
            a, da = layer.forward(a), layer.linear(da)
            continue
        s = layer.pattern(a) | (np.asarray(a == 0, dtype=bool) & layer.pattern(da))
        patterns.append(s[0])
        zs.append(a[0])
        dzs.append(da[0])
        a, da = layer.apply_pattern(s, a), layer.apply_pattern(s, da)
    if not patterns:
        empty = np.zeros(0, dtype=object if net.exact else float)
        return np.zeros(0, dtype=bool), empty, empty
    return np.concatenate(patterns), np.concatenate(zs), np.concatenate(dzs)


def _next_crossing(s: np.ndarray, z: np.ndarray, dz: np.ndarray):
    """Smallest step tau > 0 at which a unit of the current piece reaches z = 0 and switches, or None."""
    dz_negative = np.asarray(dz < 0, dtype=bool)
    dz_positive = np.asarray(dz > 0, dtype=bool)
    switching = (s & dz_negative) | (~s & dz_positive)
    if not switching.any():
        return None
    return min(-z[switching] / dz[switching])


def line_regions(net, p, q) -> LineRegions:
    """The exact breakpoints of a network along the segment p -> q and the pattern of every piece.

    Parameters
    ----------
    net : Network
    p, q : array_like (d,)
        End points; float64, or ``Fraction`` object arrays.

    Returns
    -------
    LineRegions
        Breakpoints ``t`` (including 0 and 1) and the flat pattern of every open piece.

    Notes
    -----
    Walks from t = 0 to 1.  At the start t_0 of a piece one forward-mode pass gives every pre-activation
    z_k(t) = z_k(t_0) + (t - t_0) dz_k on the piece (upstream units fixed to their right-limit patterns); the piece
    ends at the first t > t_0 where an active unit with dz_k < 0, or an inactive one with dz_k > 0, reaches
    z_k = 0, i.e. t_0 - z_k / dz_k.  The lowest-layer unit crossing there keeps its affine z past the crossing, so
    neighbouring pieces always differ in at least one unit.

    The computation is exact (rational breakpoints) when ``net`` is exact or p or q is a ``Fraction`` array; the
    network is then converted with ``to_exact``.  In float64 a computed crossing can land an ulp early, leaving a
    tiny piece with the same pattern as its neighbour; such neighbours are merged.

    Examples
    --------
    >>> from dtd_ref import Dense, ReLU, Network
    >>> net = Network([Dense([[1.0], [-1.0]], [0.0, 0.5]), ReLU()])
    >>> lr = line_regions(net, [-1.0], [1.0])
    >>> lr.t.tolist()
    [0.0, 0.5, 0.75, 1.0]
    >>> lr.patterns.tolist()
    [[False, True], [True, True], [True, False]]
    """
    net, exact, (p, q) = _exact_pair(net, ("p", p), ("q", q))
    d = q - p
    zero, one = (0, 1) if exact else (0.0, 1.0)
    t0 = zero
    breaks, patterns = [t0], []
    while True:
        s, z, dz = _right_limit(net, p + t0 * d, d)
        tau = _next_crossing(s, z, dz)
        assert not exact or tau is None or tau > 0, "line_regions: no progress (right-limit patterns are wrong)"
        t1 = one if tau is None else t0 + tau
        if not exact and t1 <= t0:
            t1 = np.nextafter(t0, 2.0)
        t1 = min(t1, one)
        if patterns and np.array_equal(patterns[-1], s):
            breaks[-1] = t1  # float rounding only: merge the sliver into its neighbour
        else:
            patterns.append(s)
            breaks.append(t1)
        if t1 >= one:
            break
        t0 = t1
    t = np.array([_fraction(v) for v in breaks], dtype=object) if exact else np.array(breaks, dtype=float)
    return LineRegions(net, p, q, t, np.array(patterns, dtype=bool).reshape(len(patterns), -1), exact)


def _fraction(value):
    return Fraction(value)


# ---------------------------------------------------------------------------------------------- 2-D slices
@dataclass(frozen=True)
class SliceRegions:
    """The partition of a rectangle of the plane x(s, t) = origin + s u + t v into linear regions.

    Attributes
    ----------
    net : Network
        The network (exact if the slice was computed exactly).
    origin, u, v : (d,)
        The plane.
    bounds : (2, 2)
        ``[[s_lo, s_hi], [t_lo, t_hi]]``, the rectangle in plane coordinates.
    vertices : (P, K, 2)
        Polygon vertices in (s, t) coordinates, counter-clockwise, padded after ``n_vertices[i]`` entries with
        copies of the first vertex.  Use :meth:`polygon` for one polygon without padding.
    n_vertices : int (P,)
    patterns : bool (P, U)
        Flat activation pattern of every polygon (layout of ``Trace.pattern_vector``); no two polygons share one.
    area : (P,)
        Area in (s, t) coordinates (multiply by sqrt(|u|^2 |v|^2 - (u.v)^2) for the area in input space); the
        areas add up to (s_hi - s_lo)(t_hi - t_lo).
    interior : (P, 2)
        The interior point (mean of the vertices) at which every polygon's pattern was verified.
    exact : bool
        Vertices, areas and interior points are Fractions and the partition is exact.
    verified_exactly : bool
        Whether the verification ran in rational arithmetic.
    """

    net: object
    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bounds: np.ndarray
    vertices: np.ndarray
    n_vertices: np.ndarray
    patterns: np.ndarray
    area: np.ndarray
    interior: np.ndarray
    exact: bool
    verified_exactly: bool

    def __len__(self) -> int:
        return self.patterns.shape[0]

    def polygon(self, i: int) -> np.ndarray:
        """Vertices of polygon i in (s, t) coordinates, (n_vertices[i], 2), counter-clockwise."""
        i = check_index(i, "i", len(self))
        return self.vertices[i, :self.n_vertices[i]]

    @property
    def polygons(self) -> list:
        """All polygons as a list of (n_i, 2) vertex arrays in (s, t) coordinates."""
        return [self.vertices[i, :k] for i, k in enumerate(self.n_vertices)]

    def to_input(self, st) -> np.ndarray:
        """Input points origin + s u + t v for plane coordinates st of shape (n, 2) (or (2,)); returns (n, d)."""
        st = np.asarray(st, dtype=object if self.exact else float)
        st2 = st.reshape(-1, 2)
        points = self.origin + st2[:, :1] * self.u + st2[:, 1:] * self.v
        return points[0] if st.ndim == 1 else points

    @property
    def interior_points(self) -> np.ndarray:
        """The verified interior points in input space, (P, d)."""
        return self.to_input(self.interior)

    def locate(self, points) -> np.ndarray:
        """Index of the polygon whose pattern each input point has, int (n,); -1 if no polygon has it.

        points : (n, d) input points (normally on the plane; the pattern alone decides).  A point on a region
        boundary has the pattern of the boundary (ReLU'(0) = 0) and may match no polygon.
        """
        x, _ = self.net._batch(points, "points")
        lookup = {row.tobytes(): i for i, row in enumerate(self.patterns)}
        keys = self.net.trace(x).pattern_vector
        return np.array([lookup.get(row.tobytes(), -1) for row in keys], dtype=int)


def _bounds_array(bounds, exact: bool) -> np.ndarray:
    box = as_array(bounds, "bounds", ndim=2)
    if box.shape != (2, 2):
        raise ValueError(f"bounds: expected [[s_lo, s_hi], [t_lo, t_hi]] of shape (2, 2), got {box.shape}")
    if not (box[0, 0] < box[0, 1] and box[1, 0] < box[1, 1]):
        raise ValueError(f"bounds: expected s_lo < s_hi and t_lo < t_hi, got {box.tolist()}")
    if exact and not is_exact(box):
        box = to_fraction(box)
    return box


def _check_independent(u: np.ndarray, v: np.ndarray, exact: bool) -> None:
    uu, vv, uv = u @ u, v @ v, u @ v
    gram = uu * vv - uv * uv
    dependent = gram == 0 if exact else gram <= DEPENDENT_RTOL * uu * vv
    if dependent:
        raise ValueError(f"u, v: the directions of shapes {u.shape} and {v.shape} are linearly dependent and span no "
                         f"plane (|u|^2 |v|^2 - (u.v)^2 = {float(gram):.3g})")


def slice_regions(net, origin, u, v, *, bounds=((-1.0, 1.0), (-1.0, 1.0)), verify=None) -> SliceRegions:
    """Exact partition of a rectangle of the plane origin + s u + t v into convex polygons of constant pattern.

    Parameters
    ----------
    net : Network
        Affine layers and ReLU / LeakyReLU activations.
    origin, u, v : array_like (d,)
        The plane; u and v must be linearly independent (else ValueError).
    bounds : array_like (2, 2)
        ``[[s_lo, s_hi], [t_lo, t_hi]]``.
    verify : {None, "float", "exact"}
        Arithmetic of the verification of every polygon's pattern at its interior point.  None: exact for exact
        slices, float64 otherwise.  "exact" converts the network and the interior points losslessly to Fractions.

    Returns
    -------
    SliceRegions

    Raises
    ------
    ValueError
        Bad shapes, dependent u and v, empty bounds, or an activation that is not ReLU / LeakyReLU.
    RuntimeError
        A polygon's interior point does not have the polygon's pattern (float64 rounding on a near-degenerate
        polygon); recompute on ``to_exact(net)``.

    Notes
    -----
    Start from the rectangle with the input as an affine function of (s, t): x = origin + s u + t v.  Each affine
    layer maps the per-polygon affine coefficients (3, d) on; each activation layer splits every polygon with the
    zero line of each of its neurons in turn (the pre-activation z_j is affine on a polygon, whose pattern below is
    fixed) and then applies the polygon's slopes, D_s z.  Polygons are processed together as padded arrays
    (:mod:`dtd_ref._polygons`).  Exact mode (exact network, or any Fraction input) computes every vertex as a
    rational; float64 snaps vertex values within ``SNAP_RTOL`` of a line onto it, which keeps slivers thinner than
    rounding out.  Coincident or parallel lines, lines through vertices and dead units need no special case: a line
    splits a polygon only when some vertex lies strictly on each side.
    """
    net, exact, (origin, u, v) = _exact_pair(net, ("origin", origin), ("u", u), ("v", v))
    if verify not in (None, "float", "exact"):
        raise ValueError(f"verify: expected None, 'float' or 'exact', got {verify!r}")
    if exact and verify == "float":
        raise ValueError("verify: an exact slice is verified exactly; use verify=None or 'exact'")
    for layer in net.activation_layers:
        if not isinstance(layer, ReLU):
            raise ValueError(f"net: slice_regions supports ReLU and LeakyReLU activations, got {layer!r}")
    box = _bounds_array(bounds, exact)
    _check_independent(u, v, exact)
    (s_lo, s_hi), (t_lo, t_hi) = box
    V = np.array([[[s_lo, t_lo], [s_hi, t_lo], [s_hi, t_hi], [s_lo, t_hi]]], dtype=object if exact else float)
    nv = np.array([4])
    coef = np.stack([u, v, origin])[None]  # (1, 3, d): x(s, t) = coef[0] s + coef[1] t + coef[2]
    bits = np.zeros((1, 0), dtype=bool)
    S, T = (max(abs(float(a)), abs(float(b))) for a, b in box)
    last = net.activation_index[-1] if net.activation_index else -1
    for layer in net.layers[:last + 1]:  # affine layers after the last activation split nothing
        if layer.kind == "affine":
            P, _, d_in = coef.shape
            bias = layer.forward(np.zeros((1, d_in), dtype=coef.dtype))[0]
            coef = layer.linear(coef.reshape(3 * P, d_in)).reshape(P, 3, -1)
            coef[:, 2] += bias
            continue
        scale = None if exact else np.abs(coef[:, 0]) * S + np.abs(coef[:, 1]) * T + np.abs(coef[:, 2])
        split = LayerSplitter(V, nv, coef, scale).run()
        V, nv = split.V, split.nv
        bits = np.concatenate([bits[split.source], split.bits], axis=1)
        if layer is not net.layers[last]:
            coef = coef[split.source]
            coef *= layer.slopes(split.bits)[:, None, :]
    inner = interior(V, nv)
    result = SliceRegions(net, origin, u, v, box, V, nv, bits, area(V), inner, exact,
                          exact or verify == "exact")
    _verify(result)
    return result


def _verify(result: SliceRegions) -> None:
    """Forward pass at every interior point; RuntimeError if a pattern differs from its polygon's."""
    net, points = result.net, result.interior_points
    if result.verified_exactly and not result.exact:
        net, points = to_exact(net), to_fraction(points)
    wrong = []
    for start in range(0, len(result), _VERIFY_CHUNK):
        block = slice(start, start + _VERIFY_CHUNK)
        observed = _pattern_vector(net, points[block])
        wrong.extend(start + np.flatnonzero((observed != result.patterns[block]).any(axis=1)))
    if wrong:
        raise RuntimeError(
            f"slice_regions: {len(wrong)} of {len(result)} polygons failed verification at their interior point "
            f"(first: polygon {wrong[0]}, area {float(result.area[wrong[0]]):.3g}); float64 rounding on "
            f"near-degenerate polygons; recompute on to_exact(net)")


_VERIFY_CHUNK = 8192  # points per block of the verification forward pass (keeps activations cache-sized)


def _pattern_vector(net, x: np.ndarray) -> np.ndarray:
    """Flat activation pattern of points x (n, d) by a plain forward pass up to the last activation (ReLU family)."""
    parts, a = [], x
    last = net.activation_index[-1] if net.activation_index else -1
    for layer in net.layers[:last + 1]:
        if layer.kind == "affine":
            a = layer.forward(a)
        else:
            pattern = layer.pattern(a)
            parts.append(pattern)
            a = a * layer.slopes(pattern)
    return np.concatenate(parts, axis=1) if parts else np.zeros((x.shape[0], 0), dtype=bool)
