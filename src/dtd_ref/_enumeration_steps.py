"""The geometric steps of :func:`dtd_ref.enumeration.enumerate_regions` (float64, vectorised where it pays).

* :func:`facets_and_vertices`: rows of a batch of regions, Qhull half-space intersection per region, facet points;
* :func:`step_across`: from points on facets along the outward normals into the neighbouring regions;
* :func:`interior_seed`: a first point off every hinge; the domain helpers.

All tolerances are named constants here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_array
from .lp import OPTIMAL, UNBOUNDED, chebyshev_center, solve_lp
from .regions import closure_rows

__all__ = ["Domain", "domain_from_box", "domain_from_polytope", "unit_scales", "facets_and_vertices",
           "step_across", "interior_seed", "ZERO_ROW_RTOL", "HINGE_RTOL", "VERTEX_RTOL", "MIN_MARGIN_RTOL"]

#: A region row a_k x <= b_k is constant (the unit's z does not depend on x there, e.g. behind a dead layer) when
#: |a_k| <= ZERO_ROW_RTOL * s_k, with s_k the norm of the unit's row of |W_m| ... |W_1| (a bound on the terms whose
#: rounding a_k carries).  Such rows are never facets.
ZERO_ROW_RTOL = 1e-12

#: A unit counts as being on its hinge at a point when |z| <= HINGE_RTOL * (|W| |a| + |b|) (the magnitude of the
#: terms summed into z); there its one-sided pattern is decided by the sign of the derivative along the step.
HINGE_RTOL = 1e-9

#: Every vertex Qhull returns must satisfy every unit-normalised row up to VERTEX_RTOL * (1 + |v|_inf); otherwise the
#: intersection is recomputed from the Chebyshev centre.
VERTEX_RTOL = 1e-8

#: A seed closer than MIN_MARGIN_RTOL * (domain diameter) to a row of its region is replaced by the Chebyshev centre
#: (an LP) before Qhull, whose dual transform divides by that distance.
MIN_MARGIN_RTOL = 1e-7


@dataclass(frozen=True)
class Domain:
    """Bounded full-dimensional polytope {x : A x <= b}, rows unit-normalised; ``centre`` inside, ``diameter``."""

    A: np.ndarray
    b: np.ndarray
    centre: np.ndarray
    diameter: float


def domain_from_box(box, d: int) -> Domain:
    """The box lo <= x <= hi; lo, hi scalars or (d,)."""
    try:
        lo, hi = box
    except (TypeError, ValueError) as error:
        raise ValueError(f"box: expected a pair (lo, hi), got {box!r}") from error
    lo = np.broadcast_to(_float(lo, "box lo"), (d,)) if np.ndim(lo) == 0 else _float(lo, "box lo")
    hi = np.broadcast_to(_float(hi, "box hi"), (d,)) if np.ndim(hi) == 0 else _float(hi, "box hi")
    if lo.shape != (d,) or hi.shape != (d,):
        raise ValueError(f"box: expected scalars or shape ({d},) for lo and hi, got {lo.shape} and {hi.shape}")
    if not np.all(lo < hi):
        raise ValueError(f"box: expected lo < hi in every coordinate, got lo={lo.tolist()}, hi={hi.tolist()}")
    eye = np.eye(d)
    return Domain(np.vstack([-eye, eye]), np.concatenate([-lo, hi]), (lo + hi) / 2, float(np.linalg.norm(hi - lo)))


def domain_from_polytope(polytope, d: int) -> Domain:
    """{x : A x <= b}; must be bounded and have an interior (checked with LPs through :mod:`dtd_ref.lp`)."""
    try:
        A, b = polytope
    except (TypeError, ValueError) as error:
        raise ValueError(f"polytope: expected a pair (A, b), got {polytope!r}") from error
    A, b = _float(A, "polytope A", ndim=2), _float(b, "polytope b", ndim=1)
    if A.shape != (b.shape[0], d):
        raise ValueError(f"polytope: expected A of shape ({b.shape[0]}, {d}) to match b {b.shape}, got {A.shape}")
    norms = np.linalg.norm(A, axis=1)
    if np.any(norms == 0):
        raise ValueError("polytope: A has an all-zero row")
    A, b = A / norms[:, None], b / norms
    extent = []
    for k in range(d):
        for sign in (1.0, -1.0):
            result = solve_lp(-sign * np.eye(d)[k], A_ub=A, b_ub=b)
            if result.status == UNBOUNDED:
                raise ValueError(f"polytope: unbounded (x_{k} has no {'upper' if sign > 0 else 'lower'} bound)")
            if result.status != OPTIMAL:
                raise ValueError("polytope: empty (the rows A x <= b have no common point)")
            extent.append(sign * -result.fun)
    centre = chebyshev_center(A, b)
    if centre.status != OPTIMAL or not centre.radius > 0:
        raise ValueError("polytope: has no interior (it is flat or empty)")
    widths = np.array(extent[0::2]) - np.array(extent[1::2])
    return Domain(A, b, centre.center, float(np.linalg.norm(widths)))


def _float(value, name, ndim=None):
    array = as_array(value, name, ndim=ndim)
    if array.dtype == object:
        from .exact import to_float

        array = to_float(array)
    return array


def unit_scales(net) -> np.ndarray:
    """Per unit (flat layout), the row norm of |W_m| S ... S |W_1| with S = max(1, |slope|): a pattern-free bound."""
    M, scales = None, []
    for layer in net.layers:
        if layer.kind == "affine":
            W = np.abs(layer.weight_matrix())
            M = W if M is None else W @ M
        else:
            scales.append(np.linalg.norm(M, axis=1))
            M = M * max(1.0, abs(float(layer.negative_slope)))
    return np.concatenate(scales) if scales else np.zeros(0)


# ---------------------------------------------------------------------------------------------- regions
@dataclass
class RegionGeometry:
    """One region ∩ domain: vertices, witness (vertex mean), and for every neuron facet a relative-interior point
    (mean of the facet's vertices), the outward unit normal and the unit index."""

    A: np.ndarray
    b: np.ndarray
    vertices: np.ndarray
    witness: np.ndarray
    facet_points: list
    facet_normals: list
    facet_units: list

    def recentred(self, net, pattern) -> "RegionGeometry":
        """Replace the witness by the Chebyshev centre (LP) if the vertex mean failed verification."""
        centre = chebyshev_center(self.A, self.b)
        if centre.status == OPTIMAL and centre.radius > 0:
            if (net.trace(centre.center[None, :]).pattern_vector[0] == pattern).all():
                self.witness = centre.center
                return self
        raise RuntimeError("enumerate_regions: no verified interior point for a region (float64 trouble on a "
                           "near-degenerate network)")


def facets_and_vertices(net, patterns, seeds, domain: Domain, scales, stats: dict) -> list:
    """Qhull half-space intersection of every region of the batch with the domain; a list of RegionGeometry."""
    G, h = closure_rows(net, patterns, seeds.shape[0])
    norms = np.linalg.norm(G, axis=2)
    keep = norms > ZERO_ROW_RTOL * scales[None, :]
    out = []
    for i in range(G.shape[0]):
        units = np.flatnonzero(keep[i])
        A = np.vstack([G[i, units] / norms[i, units, None], domain.A])
        b = np.concatenate([h[i, units] / norms[i, units], domain.b])
        out.append(_intersect(A, b, units, seeds[i], domain, stats))
    return out


def _intersect(A, b, units, seed, domain: Domain, stats: dict) -> RegionGeometry:
    from scipy.spatial import HalfspaceIntersection
    from scipy.spatial import QhullError

    point = seed
    if np.min(b - A @ seed) < MIN_MARGIN_RTOL * domain.diameter:
        point = _centre(A, b)
        stats["lp_centres"] += 1
    for attempt in range(2):
        try:
            hull = HalfspaceIntersection(np.hstack([A, -b[:, None]]), point)
            V = hull.intersections
            if np.all(A @ V.T - b[:, None] <= VERTEX_RTOL * (1 + np.abs(V).max(axis=1))[None, :]):
                break
        except QhullError:
            pass
        if attempt == 1:
            raise RuntimeError("enumerate_regions: Qhull could not intersect the half-spaces of a region, even from "
                               "its Chebyshev centre (float64 trouble on a near-degenerate network)")
        point = _centre(A, b)
        stats["lp_centres"] += 1
    incidence = np.zeros((V.shape[0], A.shape[0]), dtype=bool)
    sizes = [len(facet) for facet in hull.dual_facets]  # rows through each vertex (not always d of them)
    incidence[np.repeat(np.arange(V.shape[0]), sizes), np.concatenate(hull.dual_facets)] = True
    neuron = np.flatnonzero(incidence[:, :units.size].any(axis=0))  # the irredundant rows that belong to units
    counts = incidence[:, neuron].sum(axis=0)
    points = (incidence[:, neuron].T @ V) / counts[:, None]
    return RegionGeometry(A, b, V, V.mean(axis=0), list(points), list(A[neuron]), list(units[neuron]))


def _centre(A, b) -> np.ndarray:
    centre = chebyshev_center(A, b)
    if centre.status != OPTIMAL or not centre.radius > 0:
        raise RuntimeError("enumerate_regions: a region has no interior (Chebyshev radius 0)")
    return centre.center


# ---------------------------------------------------------------------------------------------- steps
def one_sided(net, Y, D):
    """One-sided patterns just after Y along D, with every pre-activation z, dz and the hinge tolerance.

    Forward mode on a batch (f, d); a unit is active iff z > tol, or |z| <= tol and dz > 0 (tol = HINGE_RTOL times
    the magnitude |W| |a| + |b| of the terms of z).  Returns (pattern, z, dz, tol), each (f, U).
    """
    a, da, mag = Y, D, np.abs(Y)
    parts = ([], [], [], [])
    for layer in net.layers:
        if layer.kind == "affine":
            bias = layer.forward(np.zeros((1, a.shape[1])))
            a, da = layer.forward(a), layer.linear(da)
            mag = mag @ np.abs(layer.weight_matrix()).T + np.abs(bias)
            continue
        tol = HINGE_RTOL * mag
        s = (a > tol) | ((np.abs(a) <= tol) & (da > 0))
        for store, value in zip(parts, (s, a, da, tol)):
            store.append(value)
        slopes = layer.slopes(s)
        a, da, mag = a * slopes, da * slopes, mag * np.abs(slopes)
    if not parts[0]:  # no activation layer: no units
        return np.zeros((Y.shape[0], 0), dtype=bool), *(np.zeros((Y.shape[0], 0)) for _ in range(3))
    return tuple(np.concatenate(p, axis=1) for p in parts)


def step_across(net, Y, D, domain: Domain, origins, origin_patterns, stats: dict) -> np.ndarray:
    """Points inside the regions beyond facet points Y (f, d) along outward normals D (f, d); returns (f', d).

    The one-sided pattern s at y along n holds on (y, y + tau n) with tau the first zero of a unit moving towards its
    hinge, z + t dz = 0 (or the domain's boundary); the point y + tau/2 n lies in the neighbour.  When its traced
    pattern is not s (float64 ambiguity) the neighbour is found by an exact walk along the line from the region's
    witness through y instead.
    """
    inside = (domain.b[None, :] - Y @ domain.A.T).min(axis=1) > VERTEX_RTOL * (1 + np.abs(Y).max(axis=1))
    Y, D, origin_patterns = Y[inside], D[inside], origin_patterns[inside]  # a facet on the domain's boundary
    origins = [origin for origin, keep in zip(origins, inside) if keep]  # (a unit's hinge along it) leads nowhere
    if not len(Y):
        return Y
    s, z, dz, tol = one_sided(net, Y, D)
    moving = (s & (dz < 0)) | (~s & (dz > 0) & (z < -tol))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_unit = np.where(moving, -z / np.where(moving, dz, 1.0), np.inf).min(axis=1)
        rate = D @ domain.A.T
        slack = domain.b[None, :] - Y @ domain.A.T
        t_domain = np.where(rate > 0, slack / np.where(rate > 0, rate, 1.0), np.inf).min(axis=1)
    tau = np.minimum(t_unit, t_domain)
    seeds = Y + (tau / 2)[:, None] * D
    good = np.isfinite(tau) & (tau > 0)
    observed = net.trace(np.where(good[:, None], seeds, Y)).pattern_vector
    good &= (observed == s).all(axis=1) & (s != origin_patterns).any(axis=1)
    out = [seeds[good]]
    for k in np.flatnonzero(~good):
        stats["exact_steps"] += 1
        point = _exact_step(net, np.asarray(origins[k]), Y[k], origin_patterns[k])
        if point is not None and np.all(domain.A @ point < domain.b):
            out.append(point[None, :])
    return np.concatenate(out, axis=0)


def _exact_step(net, w, y, pattern):
    """Midpoint of the first piece after leaving the region of ``pattern`` on the exact segment w -> 2y - w."""
    from .exact import to_float, to_fraction
    from .segments import line_regions

    w_exact = to_fraction(w)
    line = line_regions(net, w_exact, to_fraction(2 * y - w))
    for i in range(len(line)):
        if (line.patterns[i] != pattern).any():
            return to_float(line.midpoints[i])
    return None


def interior_seed(net, domain: Domain, scales) -> np.ndarray:
    """A point inside the domain and off every hinge: the midpoint of the longest piece of a line through the
    domain's centre, along a fixed generic direction (a few are tried)."""
    from .segments import line_regions

    d = domain.A.shape[1]
    for k in range(1, 6):
        g = np.sqrt(np.arange(2, d + 2) + k) % 1.0 + 0.1  # fixed, generic (no randomness)
        g /= np.linalg.norm(g)
        rate = domain.A @ g
        reach = np.min((domain.b - domain.A @ domain.centre)[rate != 0] / np.abs(rate[rate != 0])) * 0.5
        line = line_regions(net, domain.centre - reach * g, domain.centre + reach * g)
        i = int(np.argmax(np.diff(line.t)))
        point = line.midpoints[i]
        G, h = closure_rows(net, net.trace(point[None, :]).patterns, 1)
        norms = np.linalg.norm(G[0], axis=1)
        keep = norms > ZERO_ROW_RTOL * scales  # constant rows (dead units) bound nothing
        if np.all((h[0, keep] - G[0, keep] @ point) / norms[keep] > MIN_MARGIN_RTOL * domain.diameter):
            return point
    raise RuntimeError("enumerate_regions: found no starting point off every hinge near the domain's centre")
