"""All linear regions of a network inside a bounded polytope, found by walking across facets.

``enumerate_regions(net, box=(lo, hi))`` (or ``polytope=(A, b)``) starts in the region of one interior point and
visits every region whose intersection with the domain is full-dimensional, breadth first.  For each region it

1. builds the rows of its closure (``region_rows`` of every activation layer, plus the domain rows),
2. intersects those half-spaces with Qhull (``scipy.spatial.HalfspaceIntersection``), which gives the vertices of
   region ∩ domain and the irredundant rows (the facets) without one LP per row; every vertex is checked against
   every row, so a facet Qhull dropped would show up as a violated row,
3. takes the mean of the vertices as the interior witness and verifies its activation pattern by a forward pass,
4. steps across every facet that belongs to a neuron: from the mean of the facet's vertices (a point in the relative
   interior of the facet) along the outward normal, the one-sided pattern gives the neighbour's pattern and the
   distance to the next hinge gives a point inside the neighbour.

Only when Qhull cannot decide (a seed too close to the boundary, precision trouble) does the walk fall back to the
Chebyshev centre LP of :func:`dtd_ref.lp.chebyshev_center`, and when a float step across a facet is ambiguous, to an
exact walk along the line (:func:`dtd_ref.slices.line_regions` on rationals).  The regions are returned as
:class:`dtd_ref.regions.Region` objects (pattern and H-representation) with verified witnesses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ._enumeration_steps import (
    Domain, domain_from_box, domain_from_polytope, facets_and_vertices, interior_seed, step_across, unit_scales,
)
from .exact import to_exact, to_float, to_fraction
from .layers import ReLU
from .regions import regions_of

__all__ = ["Enumeration", "RegionLimitError", "enumerate_regions"]

_BATCH = 128  # regions processed together (one batched forward pass and one batched row build per batch)


class RegionLimitError(RuntimeError):
    """More regions than ``max_regions`` (raised by :func:`enumerate_regions` with ``on_limit="raise"``)."""


@dataclass
class Enumeration:
    """The linear regions of a network inside a bounded polytope.

    Attributes
    ----------
    net : Network
    domain_A, domain_b : (r, d), (r,)
        The domain {x : domain_A x <= domain_b} (float64).
    patterns : bool (k, U)
        Flat pattern of every region (layout of ``Trace.pattern_vector``), in the order found.
    witnesses : (k, d)
        An interior point of every region ∩ domain whose pattern was verified by a forward pass (Fractions if the
        verification was exact).
    vertices : list of (n_i, d) float64 arrays
        Vertices of every region ∩ domain (from Qhull).
    complete : bool
        False if the walk stopped at ``max_regions`` (``on_limit="stop"``).
    verified_exactly : bool
    stats : dict
        How often the walk needed a fallback: ``lp_centres`` (Chebyshev-centre LPs, for seeds too close to a row or
        vertex means that failed verification) and ``exact_steps`` (exact line walks across an ambiguous facet).
    """

    net: object
    domain_A: np.ndarray
    domain_b: np.ndarray
    patterns: np.ndarray
    witnesses: np.ndarray
    vertices: list
    complete: bool
    verified_exactly: bool
    stats: dict
    _regions: list | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.patterns.shape[0]

    @property
    def regions(self) -> list:
        """The regions as :class:`dtd_ref.regions.Region` (built on first use from the witnesses, in one batch)."""
        if self._regions is None:
            self._regions = regions_of(self.net, self.witnesses) if len(self) else []
        return self._regions

    def __getitem__(self, i):
        return self.regions[i]

    def __iter__(self):
        return iter(self.regions)

    def volumes(self) -> np.ndarray:
        """Volume of every region ∩ domain (float64 (k,)), from the convex hull of its vertices.

        In one dimension the length of the interval.  The volumes add up to the domain's volume when the enumeration
        is complete: a missing region would leave a gap of positive volume.
        """
        if self.domain_A.shape[1] == 1:
            return np.array([float(v.max() - v.min()) for v in self.vertices])
        from scipy.spatial import ConvexHull

        return np.array([ConvexHull(v).volume for v in self.vertices])

    def locate(self, points) -> np.ndarray:
        """Index of the region whose pattern each point (n, d) has, int (n,); -1 if none has it."""
        x, _ = self.net.check_input(points, "points")
        lookup = {row.tobytes(): i for i, row in enumerate(self.patterns)}
        return np.array([lookup.get(row.tobytes(), -1) for row in self.net.trace(x).pattern_vector], dtype=int)


def enumerate_regions(net, *, box=None, polytope=None, max_regions: int = 100_000, on_limit: str = "raise",
                      progress: bool = False, verify=None) -> Enumeration:
    """Every linear region of ``net`` that meets a bounded polytope in a set of positive volume.

    Parameters
    ----------
    net : Network
        Affine layers and ReLU / LeakyReLU activations.
    box : (lo, hi), optional
        The domain lo <= x <= hi; lo and hi are scalars or (d,) arrays with lo < hi.
    polytope : (A, b), optional
        The domain {x : A x <= b}; it must be bounded and have an interior.  Give exactly one of box, polytope.
    max_regions : int
        Guard against runaway enumerations (the number of regions grows quickly with width and depth).
    on_limit : {"raise", "stop"}
        What happens when more than ``max_regions`` regions turn up: raise :class:`RegionLimitError`, or stop, warn
        and return the regions found so far with ``complete=False``.
    progress : bool
        Show a tqdm progress bar (regions found).
    verify : {None, "float", "exact"}
        Arithmetic of the witness verification: None means exact for exact networks and float64 otherwise.

    Returns
    -------
    Enumeration

    Raises
    ------
    ValueError
        Bad arguments, an unbounded or flat polytope, an unsupported activation.
    RegionLimitError
        More than ``max_regions`` regions with ``on_limit="raise"``.
    RuntimeError
        A witness failed verification even after the LP fallback (float64 trouble on a degenerate network; retry
        with ``verify="exact"`` on ``to_exact(net)`` to see which region).

    Notes
    -----
    The regions of a ReLU network are convex polyhedra that tile the input space; two regions meeting in a common
    facet differ in the units whose hinge contains it.  Within a convex domain the regions that meet it in positive
    volume form a connected graph under this adjacency (a segment between two witnesses passes through regions
    sharing facets, up to a perturbation that avoids lower-dimensional faces), so a walk across every neuron facet
    from one region reaches them all.  The walk works in float64 on a float copy of the network; the geometry
    (facets, vertices, steps) is decided with the tolerances of :mod:`dtd_ref._enumeration_steps`, and every
    witness is verified, in rationals when asked.  See the module docstring for the four steps per region.
    """
    if (box is None) == (polytope is None):
        raise ValueError("box, polytope: give exactly one of box=(lo, hi) or polytope=(A, b)")
    if isinstance(max_regions, bool) or not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions: expected a positive integer, got {max_regions!r}")
    if on_limit not in ("raise", "stop"):
        raise ValueError(f"on_limit: expected 'raise' or 'stop', got {on_limit!r}")
    if verify not in (None, "float", "exact"):
        raise ValueError(f"verify: expected None, 'float' or 'exact', got {verify!r}")
    if net.exact and verify == "float":
        raise ValueError("verify: an exact network is verified exactly; use verify=None or 'exact'")
    for layer in net.activation_layers:
        if not isinstance(layer, ReLU):
            raise ValueError(f"net: enumerate_regions supports ReLU and LeakyReLU activations, got {layer!r}")
    d = net.in_features
    domain = domain_from_box(box, d) if box is not None else domain_from_polytope(polytope, d)
    exact_verify = net.exact or verify == "exact"
    work = _float_network(net)
    walk = _Walk(work, domain, int(max_regions), progress) if d > 1 else _Interval(work, domain, int(max_regions))
    complete = walk.run(stop_at_limit=on_limit == "raise")
    if not complete:
        if on_limit == "raise":
            raise RegionLimitError(f"enumerate_regions: more than {max_regions} regions in the domain; raise "
                                   f"max_regions or pass on_limit='stop' for a partial result")
        warnings.warn(f"enumerate_regions: stopped after {max_regions} regions (max_regions); the result is "
                      f"incomplete", RuntimeWarning, stacklevel=2)
    patterns = np.array(walk.patterns, dtype=bool).reshape(len(walk.patterns), -1)
    witnesses = np.array(walk.witnesses, dtype=float).reshape(len(walk.witnesses), d)
    if exact_verify:
        witnesses = to_fraction(witnesses)
        observed = to_exact(net).trace(witnesses).pattern_vector if len(witnesses) else patterns
        wrong = np.flatnonzero((observed != patterns).any(axis=1))
        if wrong.size:
            raise RuntimeError(f"enumerate_regions: {wrong.size} of {len(patterns)} witnesses do not have their "
                               f"region's pattern in exact arithmetic (first: region {wrong[0]}); the float64 walk "
                               f"met a near-degenerate region")
    return Enumeration(net if not exact_verify else to_exact(net), domain.A, domain.b, patterns, witnesses,
                       walk.vertices, complete, exact_verify, dict(walk.stats))


def _float_network(net):
    """A float64 copy of the network (the walk's geometry is float64 whatever the network)."""
    if not net.exact:
        return net
    from .network import Network

    return Network([layer.map_arrays(to_float) for layer in net.layers])


class _Walk:
    """Breadth-first walk over regions; see :func:`enumerate_regions`."""

    def __init__(self, net, domain: Domain, max_regions: int, progress: bool):
        self.net, self.domain, self.max_regions = net, domain, max_regions
        self.scales = unit_scales(net)
        self.seen: set = set()
        self.patterns, self.witnesses, self.vertices = [], [], []
        self.queue: list = []
        self.limited = False
        self.stats = {"lp_centres": 0, "exact_steps": 0}
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc="regions", unit=" regions")

    def run(self, stop_at_limit: bool = True) -> bool:
        """Walk until no region is left; False if more than max_regions exist (at once when ``stop_at_limit``,
        else after expanding the max_regions regions already known, without queueing more)."""
        try:
            seed = interior_seed(self.net, self.domain, self.scales)
            self._push(seed[None, :])
            while self.queue and not (self.limited and stop_at_limit):
                batch, self.queue = self.queue[:_BATCH], self.queue[_BATCH:]
                self._expand(np.array(batch))
            return not self.limited
        finally:
            if self.bar is not None:
                self.bar.close()

    def _push(self, seeds: np.ndarray) -> None:
        """Queue the seeds whose pattern is new, up to max_regions known regions (then set ``limited``)."""
        if not len(seeds):
            return
        for seed, pattern in zip(seeds, self.net.trace(seeds).pattern_vector):
            key = pattern.tobytes()
            if key in self.seen:
                continue
            if len(self.seen) >= self.max_regions:
                self.limited = True
                return
            self.seen.add(key)
            self.queue.append(seed)

    def _expand(self, seeds: np.ndarray) -> None:
        """Facets, vertices and witnesses of the regions of ``seeds``; queue their neighbours."""
        trace = self.net.trace(seeds)
        patterns = trace.pattern_vector
        found = facets_and_vertices(self.net, trace.patterns, seeds, self.domain, self.scales, self.stats)
        witnesses = np.array([item.witness for item in found])
        verified = (self.net.trace(witnesses).pattern_vector == patterns).all(axis=1)
        points, normals, owners = [], [], []
        for i, item in enumerate(found):
            if not verified[i]:
                item = item.recentred(self.net, patterns[i])
                self.stats["lp_centres"] += 1
            self.patterns.append(patterns[i])
            self.witnesses.append(item.witness)
            self.vertices.append(item.vertices)
            points.extend(item.facet_points)
            normals.extend(item.facet_normals)
            owners.extend([i] * len(item.facet_points))
        if self.bar is not None:
            self.bar.update(len(found))
        if not points:
            return
        neighbours = step_across(self.net, np.array(points), np.array(normals), self.domain,
                                 [found[i].witness for i in owners], patterns[owners], self.stats)
        self._push(neighbours)


class _Interval:
    """The one-dimensional case (Qhull needs d >= 2): the pieces of :func:`dtd_ref.slices.line_regions` on [lo, hi]."""

    def __init__(self, net, domain: Domain, max_regions: int):
        self.net, self.domain, self.max_regions = net, domain, max_regions
        self.stats = {"lp_centres": 0, "exact_steps": 0}

    def run(self, stop_at_limit: bool = True) -> bool:
        from .segments import line_regions

        a, b = self.domain.A[:, 0], self.domain.b  # rows a x <= b: x <= b / a if a > 0, x >= b / a if a < 0
        lo, hi = float(np.max(b[a < 0] / a[a < 0])), float(np.min(b[a > 0] / a[a > 0]))
        line = line_regions(self.net, [lo], [hi])
        count = min(len(line), self.max_regions)
        ends = line.points
        self.patterns = list(line.patterns[:count])
        self.witnesses = list(line.midpoints[:count])
        self.vertices = [ends[i:i + 2] for i in range(count)]
        return len(line) <= self.max_regions
