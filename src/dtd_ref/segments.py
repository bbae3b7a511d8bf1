"""Linear pieces of a network along a segment: exact breakpoints and the pattern of every piece.

``line_regions(net, p, q)`` splits the segment x(t) = p + t (q - p), t in [0, 1], at every point where the activation
pattern changes (a ReLU unit crosses 0, a max-pool window changes its winner) and returns the pattern of each open
piece (:class:`LineRegions`).  It works in float64 on float networks and exactly (``fractions.Fraction``) on exact
networks or exact end points; then every breakpoint is a rational number and nothing is decided with a tolerance.
The full DTD's line-search root finder uses it to find the exact zero of phi_j along a rule's search line.
Re-exported by :mod:`dtd_ref.slices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._lines import next_crossing, one_sided_trace, ray_rows
from ._validation import check_index
from .exact import _inputs_for

__all__ = ["LineRegions", "line_regions", "split_pattern"]


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
    sizes = net.pattern_widths
    if flat.ndim != 2 or flat.dtype != bool or flat.shape[1] != sum(sizes):
        raise ValueError(f"pattern: expected bool (U,) or (n, U) with U = {sum(sizes)}, got {pattern.dtype} "
                         f"{pattern.shape}")
    bounds = np.cumsum((0,) + tuple(sizes))
    return tuple(flat[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:]))


def _exact_pair(net, *points):
    """Validate points of shape (d,); go exact if the network or any point is exact."""
    return _inputs_for(net, points, ndim=1)


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
    """Patterns just after x along d, and every region row's slack and rate of closing along d.

    One forward-mode pass on one point (:func:`dtd_ref._lines.one_sided_trace`, upstream layers fixed to their
    right-limit patterns) and each activation layer's ``region_rows`` written for the step tau along d
    (:func:`dtd_ref._lines.ray_rows`): rows G tau <= h that keep the pattern; a row with G > 0 closes at tau = h / G.
    For a ReLU unit that is z = 0; for a max-pool window it is a tie z_i = z_winner.

    Returns (pattern bool (U,), h (R,), G (R,)) concatenated over the activation layers.
    """
    layers, _, _ = one_sided_trace(net, x[None, :], d[None, :])
    h, G = ray_rows(net, layers)
    pattern = np.concatenate([s[0] for _, _, s in layers]) if layers else np.zeros(0, dtype=bool)
    return pattern, h[0], G[0]


def line_regions(net, p, q) -> LineRegions:
    """The exact breakpoints of a network along the segment p -> q and the pattern of every piece.

    Parameters
    ----------
    net : Network
        Affine layers with ReLU, LeakyReLU or MaxPool2d activations.
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

    A max-pool layer (``MaxPool2d``) changes its pattern where an element i of a window overtakes the window's
    winner w: z_i(t) = z_w(t) with dz_i > dz_w, at t_0 + (z_w - z_i) / (dz_i - dz_w); among tied elements the one
    with the largest dz wins on the piece that follows (then the first, numpy's convention).  Both cases are the
    rows of the layer's ``region_rows`` (the slack of a row reaching 0), so any activation layer with region rows
    works.

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
        s, h, G = _right_limit(net, p + t0 * d, d)
        tau = next_crossing(h, G)
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
