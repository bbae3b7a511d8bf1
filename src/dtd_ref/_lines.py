"""Exact walks along rays: one-sided activation patterns, the pieces of a ray and the first zero of a unit.

Shared by :mod:`dtd_ref.segments` (``line_regions``), :mod:`dtd_ref.root_finders` (the region of a point on the side
of a direction), :mod:`dtd_ref.strategies` (points exactly on a hinge) and the tests (is a segment inside one affine
piece?).  On a ray x(s) = x + s u, s >= 0, every pre-activation is continuous and piecewise affine in s.  The pattern
"just after" s = 0 is decided by forward-mode differentiation with each activation layer's ``pattern_towards``: a
ReLU unit is active on (0, eps) iff z > 0, or z = 0 and dz/ds > 0; a max-pool tie goes to the element with the
largest dz/ds.  The current piece ends where the first of the layers' region rows closes.  On exact (Fraction) arrays
nothing here uses a tolerance.

Stacks of directions.  The full DTD evaluates gradients at a root r whose own point moves: the pattern it needs is the
one on r + e (u_1 + e u_2 + e^2 u_3 + ...) for small e > 0, i.e. ties of u_1 broken by u_2, then u_3 (lexicographic,
:func:`pattern_lex`, :func:`lex_patterns`).
"""

from __future__ import annotations

import numpy as np

from .layers import ReLU

__all__ = ["one_sided_trace", "pattern_lex", "lex_patterns", "ray_rows", "next_crossing", "first_zero_on_ray",
           "segment_is_affine"]


def one_sided_trace(net, x: np.ndarray, u: np.ndarray):
    """Layer inputs, their derivatives along u and the one-sided patterns on the ray x + s u, s -> 0+.

    Parameters
    ----------
    net : Network
        Affine layers with ReLU, LeakyReLU or MaxPool2d activations.
    x, u : (n, d_in)
        Base points and directions (same dtype family as the network).

    Returns
    -------
    layers : list of (z, dz, pattern), one per activation layer m
        z, dz of shape (n, d_m): the layer's input is z + s dz for 0 <= s <= (end of the current piece).
        pattern of shape (n, ``net.pattern_widths[m]``): ``layer.pattern_towards(z, dz)``, the pattern on (0, eps).
    out, dout : (n, d_out)
        The network output and its derivative along u on that piece.

    Notes
    -----
    Forward mode: an affine layer maps (v, t) -> (W v + b, W t); an activation with one-sided pattern s maps
    (v, t) -> (D_s v, D_s t), D_s its linear map on the region of s (diagonal slopes for the ReLU family, the
    selection of every window's winner for max pooling).
    """
    v, t, layers = x, u, []
    for layer in net.layers:
        if layer.kind == "affine":
            v, t = layer.forward(v), layer.linear(t)
        else:
            pattern = layer.pattern_towards(v, t)
            layers.append((v, t, pattern))
            v, t = layer.apply_pattern(pattern, v), layer.apply_pattern(pattern, t)
    return layers, v, t


def pattern_lex(activation, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Pattern of an activation layer at z + e dz_1 + e^2 dz_2 + ... for small e > 0 (lexicographic tie-breaking).

    Parameters
    ----------
    activation : ReLU, LeakyReLU or MaxPool2d
    z : (n, d_m)
        The layer input.
    dz : (n, m, d_m)
        m directions in order of priority (m = 0 allowed: the pattern at z itself, ties as ``pattern_towards(z, 0)``).

    Returns
    -------
    bool (n, ``pattern width``)
        ReLU family: unit k is active iff the first nonzero of (z_k, dz_1k, ..., dz_mk) is positive.  Max-pool: the
        winner of a window maximises (z_i, dz_1i, ..., dz_mi) lexicographically (then the first in window order).
        With m = 1 this is ``activation.pattern_towards(z, dz_1)``.
    """
    m = dz.shape[1]
    if hasattr(activation, "slopes"):  # elementwise: the first nonzero entry decides
        key = z
        for i in range(m - 1):
            key = np.where(np.asarray(key == 0, dtype=bool), dz[:, i], key)
        return activation.pattern_towards(key, dz[:, m - 1] if m else z * 0)
    gather = activation.geometry.gather  # (n, ..., d_m) -> (n, C, K, H_out, W_out)
    cols = gather(z, fill=-np.inf)
    best = np.asarray(cols == cols.max(axis=2, keepdims=True), dtype=bool)
    for i in range(m):
        key = np.where(best, gather(dz[:, i], fill=0), -np.inf)
        best &= np.asarray(key == key.max(axis=2, keepdims=True), dtype=bool)
    first = best.argmax(axis=2)  # (n, C, H_out, W_out)
    return (first[..., None] == np.arange(cols.shape[2])).reshape(z.shape[0], -1)


def lex_patterns(net, x: np.ndarray, U: np.ndarray) -> list:
    """One-sided patterns of every activation layer at x + e U_1 + e^2 U_2 + ..., e -> 0+.

    x : (n, d_in); U : (n, m, d_in) directions in order of priority.  Returns one bool pattern
    (n, ``net.pattern_widths[l]``) per activation layer (:func:`pattern_lex`); with m = 1 these are the patterns of
    ``one_sided_trace(net, x, U[:, 0])``.
    """
    v, t, patterns = x, U, []
    for layer in net.layers:
        if layer.kind == "affine":
            v, t = layer.forward(v), layer.linear(t)
        else:
            pattern = pattern_lex(layer, v, t)
            patterns.append(pattern)
            v, t = layer.apply_pattern(pattern, v), layer.apply_pattern(pattern, t)
    return patterns


def ray_rows(net, layers):
    """Every region row of the current piece of a ray, as slack h and closing rate G: the row holds while G s <= h.

    Parameters
    ----------
    net : Network
    layers : list of (z, dz, pattern)
        The first ``len(layers)`` entries of ``one_sided_trace(net, x, u)[0]`` (a prefix selects the layers below).

    Returns
    -------
    h, G : (n, R)
        R = sum of the pattern widths of those layers.  h >= 0 is the slack at s = 0 and a row with G > 0 closes at
        s = h / G.  For a ReLU unit h = |z| and G = -dz (active) or dz (inactive); for a max-pool window element i
        with winner w, h = z_w - z_i and G = dz_i - dz_w (the element overtakes the winner).

    Notes
    -----
    Each activation layer's ``region_rows(pattern, A, c)`` with the layer input written as an affine map of the step
    s, z(s) = dz s + z (A = dz as (n, d_m, 1), c = z).
    """
    rows = [act.region_rows(s, dz[:, :, None], z) for act, (z, dz, s) in zip(net.activation_layers, layers)]
    if not rows:
        n = layers[0][0].shape[0] if layers else 1
        empty = np.zeros((n, 0), dtype=object if net.exact else float)
        return empty, empty
    return np.concatenate([h for _, h in rows], axis=1), np.concatenate([G[..., 0] for G, _ in rows], axis=1)


def next_crossing(h: np.ndarray, G: np.ndarray):
    """Smallest step s > 0 at which a row of one ray closes (h - G s = 0 with G > 0), or None; h, G of shape (R,)."""
    closing = np.asarray(G > 0, dtype=bool)
    if not closing.any():
        return None
    return min(h[closing] / G[closing])


def first_zero_on_ray(net, x: np.ndarray, u: np.ndarray, layer: int, unit: int, *, max_pieces: int = 1000):
    """Exact point x + s u, s >= 0 smallest, where pre-activation ``unit`` of activation layer ``layer`` is 0.

    Parameters
    ----------
    net : Network (exact)
        Any activation layers below ``layer`` (ReLU family or max pooling).
    x, u : (d_in,) exact arrays
    layer, unit : int
        Activation layer m, which must be a ReLU or LeakyReLU, and its unit j: the target is z_{m, j}(x + s u) = 0.

    Returns
    -------
    (d_in,) exact array or None
        None if no zero is found within ``max_pieces`` affine pieces of the ray.

    Raises
    ------
    ValueError
        If activation layer m is not of the ReLU family: a max-pool layer has no hinge at z = 0 (its hinges are ties
        between window elements).

    Notes
    -----
    Only the patterns of activation layers before m shape z_{m, j}; the walk jumps from piece to piece where the
    first of their region rows closes (:func:`ray_rows`) and solves z + s dz = 0 on each piece.
    """
    target = net.activation_layers[layer]
    if not isinstance(target, ReLU):
        raise ValueError(f"layer: activation layer {layer} is {target!r}; only ReLU-family units have a hinge at "
                         f"z = 0 (a max-pool hinge is a tie between window elements)")
    point = x
    for _ in range(max_pieces):
        layers, _, _ = one_sided_trace(net, point[None, :], u[None, :])
        z, dz = layers[layer][0][0, unit], layers[layer][1][0, unit]
        if z == 0:
            return point
        h, G = ray_rows(net, layers[:layer])
        end = next_crossing(h[0], G[0])
        if dz != 0 and -z / dz > 0 and (end is None or -z / dz <= end):
            return point + (-z / dz) * u
        if end is None:
            return None
        point = point + end * u
    return None


def segment_is_affine(net, p: np.ndarray, q: np.ndarray) -> bool:
    """True if every activation pattern is constant on the open segment (p, q) (then f is affine on [p, q]).

    The one-sided pattern at p towards q holds up to the first closing of a region row (a ReLU unit's sign change, a
    max-pool element overtaking its window's winner); the segment is one piece iff that happens at s >= 1.  Exact on
    exact arrays, rounded otherwise.
    """
    layers, _, _ = one_sided_trace(net, p[None, :], (q - p)[None, :])
    h, G = ray_rows(net, layers)
    end = next_crossing(h[0], G[0])
    return end is None or end >= 1
