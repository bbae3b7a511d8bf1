"""Slow loop-per-neuron twin of :func:`dtd_ref.roots.analyze_roots` (for tests only).

Exact networks only: every quantity is computed with Python scalars (Fractions) one input, one neuron and one
coordinate at a time, and membership is decided by :meth:`dtd_ref.regions.Region.contains` with ``closed_on`` the
rooted neuron, an implementation of region membership independent of the fast path's pattern comparison.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .layers import Dense
from .network import Network
from .regions import region_of
from .roots import AUTHORS_SKIP_ATOL, as_root_rule

__all__ = ["analyze_roots"]


def _dense_layers(net):
    """[(W, b, has_relu, slope)] per affine layer."""
    out = []
    for i in net.affine_index:
        following = net.layers[i + 1] if i + 1 < len(net.layers) else None
        relu = following is not None and following.kind == "activation"
        out.append((net.layers[i].weight_matrix(), net.layers[i].bias_vector(), relu,
                    following.negative_slope if relu else None))
    return out


def _forward_layer(W, b, relu, slope, a):
    z = [sum((W[j, i] * a[i] for i in range(len(a))), Fraction(0)) + b[j] for j in range(W.shape[0])]
    return z, [(zj if zj > 0 else slope * zj) if relu else zj for zj in z]


def _direction(rule, a, w):
    d = len(a)
    if rule.name == "w2":
        return [w[i] for i in range(d)]
    if rule.name == "z":
        return [a[i] for i in range(d)]
    if rule.name == "z+":
        return [a[i] if w[i] > 0 else Fraction(0) for i in range(d)]
    if rule.name == "gamma":
        return [a[i] * (1 + Fraction(rule.gamma)) if w[i] > 0 else a[i] for i in range(d)]
    low, high = rule.low, rule.high
    return [a[i] - (Fraction(low[i]) if w[i] > 0 else 0) - (Fraction(high[i]) if w[i] < 0 else 0) for i in range(d)]


def _upper(layers, acts, rule, output, y):
    """R[k][j] for every affine layer k, by loops (the authors' train-free relevance)."""
    L = len(layers)
    R = [None] * L
    R[L - 1] = [y[j] if j == output else Fraction(0) for j in range(len(y))]
    for k in range(L - 1, 0, -1):
        W = layers[k][0]
        a = acts[k]
        lower = [Fraction(0)] * len(a)
        for j in range(W.shape[0]):
            if rule.name == "0":
                for i in range(len(a)):
                    lower[i] += W[j, i] * a[i]
                continue
            v = _direction(rule, a, W[j])
            wv = sum((W[j, i] * v[i] for i in range(len(a))), Fraction(0))
            if abs(wv) <= AUTHORS_SKIP_ATOL:
                continue
            for i in range(len(a)):
                lower[i] += W[j, i] * v[i] / wv * R[k][j]
        R[k - 1] = lower
    return R


def _subnetwork(net, k, output, all_outputs):
    layers = list(net.layers[net.affine_index[k]:])
    if not all_outputs:
        last = [i for i, layer in enumerate(layers) if layer.kind == "affine"][-1]
        W, b = layers[last].weight_matrix(), layers[last].bias_vector()
        layers[last] = Dense(W[output:output + 1], b[output:output + 1])
    return Network(layers)


def analyze_roots(net, X, rule, *, output=0, layers=None, convention="exact", all_outputs=False) -> dict:
    """{k: dict of (n, J) arrays: roots, has_root, inside, unchanged, in_domain, delta_f} for an exact ``net``."""
    assert net.exact, "the reference twin works in exact arithmetic only"
    rule = as_root_rule(rule)
    dense = _dense_layers(net)
    L = len(dense)
    ks = range(L) if layers is None else layers
    result = {}
    for k in ks:
        F = _subnetwork(net, k, output, all_outputs)
        col = output if all_outputs else 0
        neurons = [output] if k == L - 1 else list(range(dense[k][0].shape[0]))
        rooted_units = [output if all_outputs else 0] if k == L - 1 else neurons
        per = {key: [] for key in ("roots", "has_root", "inside", "unchanged", "in_domain", "delta_f")}
        for x in X:
            acts, a = [], [Fraction(v) for v in x]
            for W, b, relu, slope in dense:
                acts.append(a)
                _, a = _forward_layer(W, b, relu, slope, a)
            y = a
            R = _upper(dense, acts, rule, output, y) if convention == "authors" else None
            a = acts[k]
            W, b = dense[k][0], dense[k][1]
            region = region_of(F, np.array(a, dtype=object))
            f_a = F(np.array(a, dtype=object))[col]
            row = {key: [] for key in per}
            for j, unit in zip(neurons, rooted_units):
                z_j = sum((W[j, i] * a[i] for i in range(len(a))), Fraction(0)) + b[j]
                has_root, t, v = True, Fraction(0), [Fraction(0)] * len(a)
                if rule.name == "0":
                    root = [Fraction(0)] * len(a)
                else:
                    v = _direction(rule, a, W[j])
                    wv = sum((W[j, i] * v[i] for i in range(len(a))), Fraction(0))
                    if convention == "exact":
                        if z_j > 0 and wv == 0:
                            has_root = False
                        elif z_j > 0:
                            t = z_j / wv
                    elif abs(wv) <= AUTHORS_SKIP_ATOL:
                        has_root = False
                    else:
                        t = R[k][j] / wv
                    root = [a[i] - t * v[i] for i in range(len(a))]
                point = np.array(root, dtype=object)
                has_unit = len(F.activation_layers) > 0 and F.layers[1].kind == "activation"
                inside = bool(region.contains(point, closed=False, closed_on=(0, unit) if has_unit else None))
                delta = F(point)[col] - f_a
                if rule.name in ("z+", "gamma"):
                    in_domain = all(r >= 0 for r in root)
                elif rule.name == "zB":
                    in_domain = all(Fraction(lo) <= r <= Fraction(hi) for r, lo, hi in zip(root, rule.low, rule.high))
                else:
                    in_domain = True
                for key, value in (("roots", root), ("has_root", has_root), ("inside", inside),
                                   ("unchanged", delta == 0), ("in_domain", in_domain), ("delta_f", delta)):
                    row[key].append(value)
            for key in per:
                per[key].append(row[key])
        result[k] = {key: np.array(value, dtype=object if key in ("roots", "delta_f") else bool)
                     for key, value in per.items()}
    return result
