"""Exact walks along rays: one-sided activation patterns and the first zero of a unit's pre-activation.

Shared by :mod:`dtd_ref.strategies` (points exactly on a hinge) and :mod:`dtd_ref.testing` (is a segment inside one
affine piece?).  On a ray x(s) = x + s u, s >= 0, every pre-activation is continuous and piecewise affine in s.  The
pattern "just after" s = 0 is decided by forward-mode differentiation with a one-sided rule: a unit is active on
(0, eps) iff z > 0, or z = 0 and dz/ds > 0.  On exact (Fraction) arrays nothing here uses a tolerance.
"""

from __future__ import annotations

import numpy as np

__all__ = ["one_sided_trace", "first_zero_on_ray", "segment_is_affine"]


def one_sided_trace(net, x: np.ndarray, u: np.ndarray):
    """Pre-activations, their derivatives along u and the one-sided patterns on the ray x + s u, s -> 0+.

    Parameters
    ----------
    net : Network
    x, u : (n, d_in)
        Base points and directions (same dtype family as the network).

    Returns
    -------
    layers : list of (z, dz, pattern), one per activation layer m, each of shape (n, d_m)
        z_m(x + s u) = z + s dz for 0 <= s <= (end of the current piece); pattern = (z > 0) | (z == 0 & dz > 0).
    out, dout : (n, d_out)
        The network output and its derivative along u on that piece.

    Notes
    -----
    Forward mode: an affine layer maps (v, t) -> (W v + b, W t); an activation with one-sided pattern s maps
    (v, t) -> (D_s v, D_s t) with D_s the diagonal of slopes.
    """
    v, t, layers = x, u, []
    for layer in net.layers:
        if layer.kind == "affine":
            v, t = layer.forward(v), layer.linear(t)
        else:
            pattern = np.asarray((v > 0) | ((v == 0) & (t > 0)), dtype=bool)
            layers.append((v, t, pattern))
            v, t = layer.apply_pattern(pattern, v), layer.apply_pattern(pattern, t)
    return layers, v, t


def _piece_end(layers) -> object:
    """Smallest s > 0 at which one of the given units changes sign, or None if none does (single ray)."""
    end = None
    for z, dz, _ in layers:
        z, dz = z[0], dz[0]
        crossing = (z * dz) < 0
        if np.any(crossing):
            candidate = min(-zi / dzi for zi, dzi, c in zip(z, dz, crossing) if c)
            end = candidate if end is None or candidate < end else end
    return end


def first_zero_on_ray(net, x: np.ndarray, u: np.ndarray, layer: int, unit: int, *, max_pieces: int = 1000):
    """Exact point x + s u, s >= 0 smallest, where pre-activation ``unit`` of activation layer ``layer`` is 0.

    Parameters
    ----------
    net : Network (exact)
    x, u : (d_in,) exact arrays
    layer, unit : int
        Activation layer m and unit j: the target is z_{m, j}(x + s u) = 0.

    Returns
    -------
    (d_in,) exact array or None
        None if no zero is found within ``max_pieces`` affine pieces of the ray.

    Notes
    -----
    Only the patterns of activation layers before m shape z_{m, j}; the walk jumps from piece to piece at their
    sign changes and solves z + s dz = 0 on each piece.
    """
    point = x
    for _ in range(max_pieces):
        layers, _, _ = one_sided_trace(net, point[None, :], u[None, :])
        z, dz = layers[layer][0][0, unit], layers[layer][1][0, unit]
        if z == 0:
            return point
        end = _piece_end(layers[:layer])
        if dz != 0 and -z / dz > 0 and (end is None or -z / dz <= end):
            return point + (-z / dz) * u
        if end is None:
            return None
        point = point + end * u
    return None


def segment_is_affine(net, p: np.ndarray, q: np.ndarray) -> bool:
    """True if every activation pattern is constant on the open segment (p, q) (then f is affine on [p, q]).

    The one-sided pattern at p towards q holds up to the first sign change of any unit; the segment is one piece iff
    that change is at s >= 1.  Exact on exact arrays, rounded otherwise.
    """
    layers, _, _ = one_sided_trace(net, p[None, :], (q - p)[None, :])
    end = _piece_end(layers)
    return end is None or end >= 1
