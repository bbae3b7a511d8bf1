"""Slow loop-per-neuron twins of the vectorised DTD routines (rules, train-free DTD, full DTD engine).

Written independently of the separable-term machinery: every rule's direction v and propagation weights are spelled
out per neuron from the tables of THEORY.md §3.  ``tests/test_reference_twins.py`` compares each pair.
Use on tiny networks only.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import rules as R
from ._validation import as_batch, is_exact
from .dtd import AUTHORS_SKIP_THRESHOLD, activations_after

__all__ = ["root_point", "redistribute", "train_free_dtd", "full_dtd_relevance"]


def _num(value, exact):
    if exact:
        return value if isinstance(value, Fraction) else Fraction(value)
    return float(value)


def _div(num, den, exact):
    return Fraction(num) / den if exact else num / den


def _v(rule, a, w, exact):
    """Search direction v_j of one neuron (THEORY.md §3 table), a and w of shape (d,)."""
    d = len(a)
    if isinstance(rule, R.W2):
        return [w[i] for i in range(d)]
    if isinstance(rule, R.Z):
        return [a[i] for i in range(d)]
    if isinstance(rule, R.ZPlus):
        return [a[i] if w[i] > 0 else 0 for i in range(d)]
    if isinstance(rule, R.Gamma):
        gamma = _num(rule.gamma, exact)
        return [a[i] * (1 + gamma) if w[i] > 0 else a[i] for i in range(d)]
    if isinstance(rule, R.ZBox):
        low = np.broadcast_to(rule.low, (d,))
        high = np.broadcast_to(rule.high, (d,))
        return [a[i] - (_num(low[i], exact) if w[i] > 0 else 0) - (_num(high[i], exact) if w[i] < 0 else 0)
                for i in range(d)]
    raise ValueError(f"rule: no reference direction for {rule!r}")


def _skip(den, skip_below):
    return abs(den) <= skip_below if skip_below else den == 0


def root_point(rule, W, b, a, numerator, active, skip_below=0):
    """x_root[n, j] = a[n] - numerator[n, j] / (w_j^T v_j) v_j, neuron by neuron; returns (roots, missing)."""
    exact = is_exact(np.asarray(W))
    n, d_out, d_in = a.shape[0], W.shape[0], W.shape[1]
    roots = np.empty((n, d_out, d_in), dtype=object if exact else float)
    missing = np.zeros((n, d_out), dtype=bool)
    for s in range(n):
        for j in range(d_out):
            if isinstance(rule, R.LRP0):
                roots[s, j] = [0] * d_in
                continue
            if not active[s, j]:
                roots[s, j] = a[s]
                continue
            v = _v(rule, a[s], W[j], exact)
            den = sum((W[j, i] * v[i] for i in range(d_in)), 0)
            if _skip(den, skip_below):
                missing[s, j] = True
                roots[s, j] = [None] * d_in if exact else [np.nan] * d_in
                continue
            t = _div(numerator[s, j], den, exact)
            roots[s, j] = [a[s, i] - t * v[i] for i in range(d_in)]
    return roots, missing


def _shares(rule, W, b, a_s, z_s, j, exact):
    """[(coefficient, weights c_i, extra_bias, extra_eps)] of neuron j: R_i += coef * c_i / (sum c + extras) R_j."""
    d_in = W.shape[1]
    if getattr(rule, "root_search", False):
        v = _v(rule, a_s, W[j], exact)
        return [(1, [W[j, i] * v[i] for i in range(d_in)], 0, 0)]
    if isinstance(rule, R.LRP0):
        return [(1, [a_s[i] * W[j, i] for i in range(d_in)], b[j], 0)]
    if isinstance(rule, R.Epsilon):
        eps = _num(rule.epsilon, exact)
        return [(1, [a_s[i] * W[j, i] for i in range(d_in)], b[j], eps if z_s[j] >= 0 else -eps)]
    if isinstance(rule, R.AlphaBeta):
        alpha = _num(rule.alpha, exact)
        products = [a_s[i] * W[j, i] for i in range(d_in)]
        return [(alpha, [p if p > 0 else 0 for p in products], 0, 0),
                (-(alpha - 1), [p if p < 0 else 0 for p in products], 0, 0)]
    if isinstance(rule, R.Flat):
        return [(1, [1] * d_in, 0, 0)]
    raise ValueError(f"rule: no reference for {rule!r}")


def redistribute(rule, W, b, a, R_upper, active, skip_below=0):
    """Loop twin of :func:`dtd_ref.rules.redistribute`; returns (R_lower, ledger)."""
    exact = is_exact(np.asarray(W))
    n, d_out, d_in = a.shape[0], W.shape[0], W.shape[1]
    zero = Fraction(0) if exact else 0.0
    lower = np.full((n, d_in), zero, dtype=object if exact else float)
    ledger = {key: np.full((n, d_out), zero, dtype=object if exact else float) for key in R.LEDGER_KEYS}
    for s in range(n):
        z_s = [sum((W[j, i] * a[s, i] for i in range(d_in)), zero) + b[j] for j in range(d_out)]
        for j in range(d_out):
            Rj = R_upper[s, j]
            if not active[s, j]:
                ledger["inactive"][s, j] = Rj
                continue
            for coef, c, bias, eps in _shares(rule, W, b, a[s], z_s, j, exact):
                den = sum(c, zero) + bias + eps
                if _skip(den, skip_below):
                    ledger["skipped"][s, j] += coef * Rj
                    continue
                for i in range(d_in):
                    lower[s, i] += coef * _div(c[i] * Rj, den, exact)
                ledger["bias"][s, j] += coef * _div(bias * Rj, den, exact)
                ledger["epsilon"][s, j] += coef * _div(eps * Rj, den, exact)
    return lower, ledger


def train_free_dtd(net, x, rules, *, output, convention="exact"):
    """Loop twin of :func:`dtd_ref.dtd.train_free_dtd`: returns (relevance list, roots list)."""
    x2, _ = as_batch(x, "x", net.in_features)
    trace = net.trace(x2)
    L = len(net.affine_layers)
    rules = (rules,) * L if hasattr(rules, "parts") else tuple(rules)
    skip = AUTHORS_SKIP_THRESHOLD if convention == "authors" else 0
    groups = activations_after(net)
    y = trace.output
    Rk = np.zeros(y.shape, dtype=y.dtype)
    Rk[:, output] = y[:, output]
    relevance, roots = [Rk], [None] * L
    for k in reversed(range(L)):
        layer = net.affine_layers[k]
        post = trace.a[k + 1] if k + 1 < L else y
        active = np.array([[bool(post[s, j] != 0) or not groups[k] for j in range(post.shape[1])]
                           for s in range(post.shape[0])])
        W, b = layer.weight_matrix(), layer.bias_vector()
        if getattr(rules[k], "root_search", False) or isinstance(rules[k], R.LRP0):
            numerator = trace.z[k] if convention == "exact" else Rk
            roots[k] = root_point(rules[k], W, b, trace.a[k], numerator, active, skip)[0]
        Rk, _ = redistribute(rules[k], W, b, trace.a[k], Rk, active, skip)
        relevance.append(Rk)
    return relevance[::-1], roots


class ReferenceEngine:
    """Point-by-point twin of the full-DTD engine: R^k and phi evaluated one point and one neuron at a time.

    Offers the interface root finders use (``layers``, ``exact``, ``subnet``, ``phi``).
    """

    def __init__(self, net, finders, output):
        self.net, self.finders, self.output = net, finders, output
        self.layers = net.affine_layers
        self.groups = activations_after(net)
        self.L = len(self.layers)
        self.exact = net.exact

    def subnet(self, k):
        return self.net.sub(k)

    def phi(self, k, Q, dQ, record=None):
        values, grads = [], []
        for q, dq in zip(Q, dQ):
            value, grad = self._phi_point(k, q, dq)
            values.append(value)
            grads.append(grad)
        dtype = object if self.exact else float
        return np.array(values, dtype=dtype), np.array(grads, dtype=dtype)

    def _phi_point(self, k, q, dq):
        W, b = self.layers[k].weight_matrix(), self.layers[k].bias_vector()
        d_out, d_in = W.shape
        v, t, D = [], [], []
        for j in range(d_out):  # dq: (m, d_in) directions; ties go to the first nonzero of (z, dz_1, ..., dz_m)
            zj = sum((W[j, i] * q[i] for i in range(d_in)), 0) + b[j]
            dzj = [sum((W[j, i] * row[i] for i in range(d_in)), 0) for row in dq]
            slope = 1
            for activation in self.groups[k]:
                first = next((value for value in [zj] + dzj if value != 0), 0)
                s = 1 if first > 0 else activation.negative_slope
                zj, dzj, slope = s * zj, [s * value for value in dzj], slope * s
            v.append(zj)
            t.append(dzj)
            D.append(slope)
        if k == self.L - 1:
            R_up = [v[j] if j == self.output else 0 for j in range(d_out)]
            J_up = [1 if j == self.output else 0 for j in range(d_out)]
        else:
            dtype = object if self.exact else float
            t = np.array(t, dtype=dtype).reshape(d_out, len(dq)).T  # (m, d_{k+1})
            R_up, J_up = self._relevance_point(k + 1, np.array(v, dtype=dtype), t)
        grads = [[J_up[j] * D[j] * W[j, i] for i in range(d_in)] for j in range(d_out)]
        return list(R_up), grads

    def _relevance_point(self, k, p, dp, record=None):
        dtype = object if self.exact else float
        phi_p, grad_p = self._phi_point(k, p, dp)
        roots, missing = self.finders[k].find(self, k, p[None], dp[None], np.array([phi_p], dtype=dtype),
                                              np.array([grad_p], dtype=dtype))
        d_in = p.shape[0]
        R_k = [0] * d_in
        J_k = [0] * d_in
        for j in range(len(phi_p)):
            if missing[0, j]:
                continue
            root = roots[0, j]
            diff = [p[i] - root[i] for i in range(d_in)]
            if all(di == 0 for di in diff):
                g = grad_p[j]
            else:
                stack = np.array([diff] + [list(row) for row in dp], dtype=dtype)  # (1 + m, d_k): root -> p first
                g = self._phi_point(k, root, stack)[1][j]
            for i in range(d_in):
                R_k[i] = R_k[i] + g[i] * diff[i]
                J_k[i] = J_k[i] + g[i]
        return R_k, J_k


def full_dtd_relevance(net, x, finders, *, output):
    """R^0 of the full DTD at each row of x (n, d), point by point; ``finders`` one per affine layer."""
    engine = ReferenceEngine(net, tuple(finders), output)
    dtype = object if net.exact else float
    still = np.zeros((1, x.shape[1]), dtype=dtype)  # the input does not move: one zero direction
    return np.array([engine._relevance_point(0, row, still)[0] for row in x], dtype=dtype)
