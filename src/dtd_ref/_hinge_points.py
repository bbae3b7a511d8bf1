"""Hypothesis strategies for points defined by a network: exactly on a hinge, near one, or off every hinge.

Part of the public :mod:`dtd_ref.strategies` (import them from there).  A hinge point is found by an exact walk
along a ray through the affine pieces of the network (:mod:`dtd_ref._lines`), so it satisfies z = 0 in rationals,
not up to rounding.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._lines import first_zero_on_ray
from .exact import to_fraction, to_float
from .layers import ReLU
from .network import Network


def _strategies():
    # strategies.py re-exports this module's strategies, so it is imported here lazily (no import cycle).
    from . import strategies

    return strategies

__all__ = ["HingePoint", "NearHingePoint", "hinge_points", "near_hinge_points", "interior_inputs", "on_hinge",
           "float_pattern_is_exact", "MAX_RAY_PIECES"]

MAX_RAY_PIECES = 200  # affine pieces a hinge walk may cross before giving up on a ray


def on_hinge(net: Network, x) -> np.ndarray:
    """Bool (n,): x lies on a hinge, a boundary of its linear region where f can bend.

    Decided in exact arithmetic from every activation layer's ``region_rows`` on x's region: some row is tight at x
    (slack 0) and not identically zero in x.  For a ReLU-family unit that is z_k = 0 with a nonzero gradient row A_k;
    for a max-pool window element i it is a tie z_i = z_winner with A_i != A_winner.  A unit whose gradient row on
    x's region is zero (z_k = A_k x + c_k with A_k = 0) does not bend f near x, so z_k = 0 there does not count.
    """
    exact_net = net.to_exact()
    x2 = np.atleast_2d(to_fraction(x))
    patterns = exact_net.trace(x2).patterns
    result = np.zeros(x2.shape[0], dtype=bool)
    for act, s, (A, c) in zip(exact_net.activation_layers, patterns, exact_net.preactivation_maps(patterns)):
        G, h = act.region_rows(s, A, c)
        tight = np.asarray(h - (G @ x2[:, :, None])[..., 0] == 0, dtype=bool)
        bends = np.any(np.asarray(G != 0, dtype=bool), axis=2)
        result |= np.any(tight & bends, axis=1)
    return result


def float_pattern_is_exact(net: Network, x) -> np.ndarray:
    """Bool (n,): float64 evaluation of the float network ``net`` gives the exact activation pattern at x."""
    if net.exact:
        raise ValueError("net: expected a float64 network (an exact network has no rounding to check)")
    x2 = np.atleast_2d(to_float(x))
    exact_patterns = net.to_exact().trace(to_fraction(x2)).pattern_vector
    return np.all(net.trace(x2).pattern_vector == exact_patterns, axis=1)


def interior_inputs(net: Network, *, batch: int | None = None, bound=2.0, denominator: int | None = None,
                    exact: bool = False, float_safe: bool = False):
    """``inputs(net, ...)`` restricted to points in the interior of their linear region (no point on a hinge).

    The excluded points are those where :func:`on_hinge` is True (checked exactly); they are where gradients and
    patterns are one-sided, so finite differences and "same pattern nearby" properties must avoid them.  With
    ``float_safe=True`` (float networks only) points where float64 rounding flips a unit's pattern are excluded too
    (:func:`float_pattern_is_exact`): there the float engine is wrong by design and only exact mode is right.
    """
    if not isinstance(net, Network):
        raise ValueError(f"net: expected a Network, got {type(net).__name__}")
    if float_safe and net.exact:
        raise ValueError("float_safe: needs a float64 network")

    def keep(x) -> bool:
        return not on_hinge(net, x).any() and (not float_safe or float_pattern_is_exact(net, x).all())

    return _strategies().inputs(net, batch=batch, bound=bound, denominator=denominator, exact=exact).filter(keep)


# ---------------------------------------------------------------------------------------------------- hinges
class HingePoint(NamedTuple):
    """A point x (exact, (d,)) with pre-activation ``trace.preactivations[layer][:, unit]`` exactly zero."""

    x: np.ndarray
    layer: int
    unit: int


class NearHingePoint(NamedTuple):
    """A float64 point x (d,) at signed distance ``offset`` (along ``direction``, unit length) from ``hinge.x``."""

    x: np.ndarray
    hinge: HingePoint
    offset: float
    direction: np.ndarray


def _check_unit(net: Network, layer, unit):
    """Pattern widths of the hinge layers (ReLU family; None for other activation layers), after checking the
    requested layer and unit."""
    sizes = [size if isinstance(act, ReLU) else None for act, size in zip(net.activation_layers, net.pattern_widths)]
    if not any(size is not None for size in sizes):
        raise ValueError(f"net: has no activation layer of the ReLU family, so no hinge at z = 0 ({net!r})")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, numbers.Integral)
                              or not 0 <= layer < len(sizes)):
        raise ValueError(f"layer: expected an activation-layer index in [0, {len(sizes)}), got {layer!r}")
    if layer is not None and sizes[layer] is None:
        raise ValueError(f"layer: activation layer {layer} is {net.activation_layers[layer]!r}; hinge points are "
                         f"drawn on ReLU-family layers only (a max-pool hinge is a tie, not z = 0)")
    if unit is not None:
        if layer is None:
            raise ValueError("unit: needs layer as well")
        if isinstance(unit, bool) or not isinstance(unit, numbers.Integral) or not 0 <= unit < sizes[layer]:
            raise ValueError(f"unit: expected an index in [0, {sizes[layer]}) for layer {layer}, got {unit!r}")
    return sizes


def hinge_points(net: Network, *, layer: int | None = None, unit: int | None = None, bound=2, denominator: int = 4):
    """Points exactly on the hinge of one unit: z_{layer, unit}(x) = 0 in exact arithmetic.

    A start point x0 is drawn from the grid in [-bound, bound]^d.  The walk goes from x0 along the unit's gradient on
    x0's region (towards the hinge), from affine piece to affine piece of the ray, and solves z = 0 exactly on the
    piece where it happens.  The result is a ``Fraction`` array, usually not representable in float64.

    Parameters
    ----------
    net : Network
        Any network with at least one ReLU or LeakyReLU layer (float networks are converted with ``to_exact``);
        max-pool layers may sit anywhere, the walk crosses their ties.
    layer, unit : int, optional
        The activation layer m (ReLU family) and unit j; drawn when None (among the ReLU-family layers; units
        without a reachable hinge are skipped).
    bound, denominator
        Grid of the start point.

    Returns
    -------
    SearchStrategy of HingePoint
        ``net.to_exact().trace(h.x).preactivations[h.layer][0, h.unit] == 0``.
    """
    st, _ = _strategies()._hypothesis()
    from hypothesis import reject

    if not isinstance(net, Network):
        raise ValueError(f"net: expected a Network, got {type(net).__name__}")
    sizes = _check_unit(net, layer, unit)
    bound = _strategies()._check_positive(bound, "bound")
    denominator = _strategies()._check_int(denominator, "denominator")
    exact_net = net.to_exact()
    candidates = [(m, j) for m, size in enumerate(sizes) if size is not None for j in range(size)
                  if (layer is None or m == layer) and (unit is None or j == unit)]

    @st.composite
    def build(draw):
        x0 = draw(_strategies().inputs(net.in_features, bound=bound, denominator=denominator, exact=True))
        order = draw(st.permutations(candidates))
        fallback = draw(_strategies().inputs(net.in_features, bound=1, denominator=denominator, exact=True))
        for m, j in order:
            x = _walk_to_hinge(exact_net, x0, m, j, fallback)
            if x is not None:
                return HingePoint(x, m, j)
        reject()  # no unit has a hinge on these rays (e.g. only units with a zero row and b != 0)

    return build()


def _walk_to_hinge(exact_net: Network, x0: np.ndarray, m: int, j: int, fallback: np.ndarray):
    """Zero of z_{m, j} on the ray from x0 along -sign(z) grad z (or along +-fallback if that gradient is 0)."""
    maps = exact_net.preactivation_maps(exact_net.trace(x0).patterns)
    A, c = maps[m]
    grad = A[0, j]
    z = c[0, j] + grad @ x0
    if z == 0:
        return x0
    directions = [grad * (-1 if z > 0 else 1)] if any(g != 0 for g in grad) else []
    directions += [fallback, -fallback] if any(v != 0 for v in fallback) else []
    for u in directions:
        x = first_zero_on_ray(exact_net, x0, u, m, j, max_pieces=MAX_RAY_PIECES)
        if x is not None:
            return x
    return None


def near_hinge_points(net: Network, *, layer: int | None = None, unit: int | None = None, max_offset=1e-6,
                      bound=2, denominator: int = 4):
    """Float64 points close to a hinge: the rounded hinge point moved by ``offset`` along the unit's normal.

    ``offset`` is drawn from [-max_offset, max_offset] (0 included: then x is the hinge point rounded to float64,
    which in general lies off the hinge by rounding).  ``direction`` is the unit gradient of z_{layer, unit} on the
    region the walk arrived from, normalised in float64.
    """
    st, _ = _strategies()._hypothesis()
    max_offset = _strategies()._check_positive(max_offset, "max_offset")
    hinges = hinge_points(net, layer=layer, unit=unit, bound=bound, denominator=denominator)
    exact_net = net.to_exact()

    @st.composite
    def build(draw):
        hinge = draw(hinges)
        maps = exact_net.preactivation_maps(exact_net.trace(hinge.x).patterns)
        normal = to_float(maps[hinge.layer][0][0, hinge.unit])
        norm = float(np.linalg.norm(normal))
        if norm == 0:
            normal = np.zeros(net.in_features)
            normal[0], norm = 1.0, 1.0
        direction = normal / norm
        offset = draw(st.floats(-float(max_offset), float(max_offset), allow_nan=False, allow_subnormal=False))
        return NearHingePoint(to_float(hinge.x) + offset * direction, hinge, offset, direction)

    return build()
