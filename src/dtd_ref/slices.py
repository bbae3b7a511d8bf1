"""Exact partitions of a line segment and of a 2-D plane through input space into linear regions.

``slice_regions(net, origin, u, v, bounds=...)`` splits the rectangle {origin + s u + t v : (s, t) in bounds} into the
convex polygons on which the activation pattern is constant.  ``line_regions(net, p, q)`` (from
:mod:`dtd_ref.segments`, re-exported here) does the same for the segment p -> q.

Both work in float64 on float networks and exactly (``fractions.Fraction``) on exact networks or exact inputs; in
exact mode every breakpoint and every polygon vertex is a rational number and nothing is decided with a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._polygons import LayerSplitter, area, interior
from ._validation import as_array, check_index, is_exact
from .exact import to_exact, to_fraction
from .layers import ReLU
from .segments import LineRegions, _exact_pair, line_regions, split_pattern

__all__ = ["LineRegions", "line_regions", "SliceRegions", "slice_regions", "split_pattern", "DEPENDENT_RTOL"]

#: float64: u and v count as linearly dependent when the Gram determinant |u|^2 |v|^2 - (u.v)^2 is at most
#: DEPENDENT_RTOL |u|^2 |v|^2 (the squared sine of the angle between them); exact inputs test it for == 0.
DEPENDENT_RTOL = 1e-20


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

    def to_plane(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates (n, 2) of the orthogonal projection of input points (n, d), and their distance (n,).

        float64 (least squares on [u v]); a distance above 0 means the point is off the plane.
        """
        from .exact import to_float

        x = to_float(as_array(points, "points", ndim=(1, 2))).reshape(-1, self.u.shape[0])
        basis = to_float(np.stack([self.u, self.v], axis=1))  # (d, 2)
        offset = x - to_float(self.origin)
        st, *_ = np.linalg.lstsq(basis, offset.T, rcond=None)
        return st.T, np.linalg.norm(offset - st.T @ basis.T, axis=1)

    @property
    def interior_points(self) -> np.ndarray:
        """The verified interior points in input space, (P, d)."""
        return self.to_input(self.interior)

    def locate(self, points) -> np.ndarray:
        """Index of the polygon whose pattern each input point has, int (n,); -1 if no polygon has it.

        points : (n, d) input points (normally on the plane; the pattern alone decides).  A point on a region
        boundary has the pattern of the boundary (ReLU'(0) = 0) and may match no polygon.
        """
        x, _ = self.net.check_input(points, "points")
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
        split = LayerSplitter(V, nv, coef, None if exact else (S, T)).run()
        V, nv = split.V, split.nv
        bits = np.concatenate([bits[split.source], split.bits], axis=1)
        if layer is not net.layers[last]:
            coef = coef[split.source]
            coef *= (split.bits if layer.negative_slope == 0 else layer.slopes(split.bits))[:, None, :]
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
            a = a * (pattern if layer.negative_slope == 0 else layer.slopes(pattern))
    return np.concatenate(parts, axis=1) if parts else np.zeros((x.shape[0], 0), dtype=bool)
