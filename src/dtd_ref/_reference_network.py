"""Slow loop-per-neuron twins of the vectorised engine routines, for parity tests only.

Each function has the name and the return shapes of the routine it mirrors (``Network`` methods, and the one-sided
ray trace of :mod:`dtd_ref._lines`) but is written with explicit Python loops over samples, neurons and inputs, one
scalar multiply-add at a time, straight from the definitions:

    z_j = sum_i w_ji a_i + b_j,      s_j = 1[z_j > 0],      a'_j = z_j if s_j else slope * z_j,
    d f_o / d x_i = sum over paths of products of w and slopes (accumulated layer by layer, backwards).

They work on float64 and on exact (Fraction) arrays alike.  Never used by the library itself.
"""

from __future__ import annotations

import numpy as np

from . import _reference_conv

__all__ = ["forward", "trace_preactivations", "activation_pattern", "jacobian", "gradient", "gradient_x_input",
           "local_affine", "preactivation_maps", "one_sided_trace"]


def _zeros(shape, exact: bool) -> np.ndarray:
    return np.zeros(shape, dtype=object) if exact else np.zeros(shape)


def _dense(layer, a: list) -> list:
    W, b = layer.W, layer.b
    z = []
    for j in range(W.shape[0]):
        total = b[j]
        for i in range(W.shape[1]):
            total = total + W[j, i] * a[i]
        z.append(total)
    return z


def _slope(layer, active: bool):
    return 1 if active else layer.negative_slope


def _walk(net, x_row):
    """Per layer, for one sample: (preactivations z, pattern s) of every activation layer and the output."""
    a, records = list(x_row), []
    for layer in net.layers:
        if layer.kind == "affine":
            a = _dense(layer, a)
        else:
            s = [bool(z > 0) for z in a]
            records.append((list(a), s))
            a = [z * _slope(layer, active) if not active else z for z, active in zip(a, s)]
    return a, records


def forward(net, x: np.ndarray) -> np.ndarray:
    """f(x), (n, d_out)."""
    return np.array([_walk(net, row)[0] for row in x], dtype=x.dtype)


def trace_preactivations(net, x: np.ndarray) -> list:
    """Input of every activation layer m, list of (n, d_m)."""
    records = [_walk(net, row)[1] for row in x]
    return [np.array([r[m][0] for r in records], dtype=x.dtype) for m in range(len(records[0]))] if records else []


def activation_pattern(net, x: np.ndarray) -> list:
    """Pattern of every activation layer m, list of bool (n, d_m)."""
    records = [_walk(net, row)[1] for row in x]
    return [np.array([r[m][1] for r in records], dtype=bool) for m in range(len(records[0]))]


def _jacobian_for_pattern(net, pattern: list, d_in: int, exact: bool) -> np.ndarray:
    """Backward accumulation of d output / d (layer input), one entry at a time, for one sample's pattern."""
    d_out = net.out_features
    J = [[1 if o == j else 0 for j in range(d_out)] for o in range(d_out)]   # d out / d out
    m = len(pattern)
    for layer in reversed(net.layers):
        if layer.kind == "affine":
            W = layer.W
            new = []
            for o in range(d_out):
                row = []
                for i in range(W.shape[1]):
                    total = 0
                    for j in range(W.shape[0]):
                        total = total + J[o][j] * W[j, i]
                    row.append(total)
                new.append(row)
            J = new
        else:
            m -= 1
            J = [[J[o][j] * _slope(layer, pattern[m][j]) for j in range(len(J[o]))] for o in range(d_out)]
    out = _zeros((d_out, d_in), exact)
    for o in range(d_out):
        for i in range(d_in):
            out[o, i] = J[o][i]
    return out


def jacobian(net, x: np.ndarray) -> np.ndarray:
    """Jacobian on the region of each x, (n, d_out, d_in)."""
    exact = x.dtype == object
    result = _zeros((x.shape[0], net.out_features, net.in_features), exact)
    for n, row in enumerate(x):
        pattern = [s for _, s in _walk(net, row)[1]]
        result[n] = _jacobian_for_pattern(net, pattern, net.in_features, exact)
    return result


def gradient(net, x: np.ndarray, output: int = 0) -> np.ndarray:
    """Row ``output`` of the Jacobian, (n, d_in)."""
    return jacobian(net, x)[:, output, :]


def gradient_x_input(net, x: np.ndarray, output: int = 0) -> np.ndarray:
    """grad f_output(x) * x entry by entry, (n, d_in)."""
    g = gradient(net, x, output)
    out = _zeros(x.shape, x.dtype == object)
    for n in range(x.shape[0]):
        for i in range(x.shape[1]):
            out[n, i] = g[n, i] * x[n, i]
    return out


def _forward_with_pattern(net, x_row, pattern: list) -> list:
    a, m = list(x_row), 0
    for layer in net.layers:
        if layer.kind == "affine":
            a = _dense(layer, a)
        else:
            a = [z if pattern[m][j] else z * layer.negative_slope for j, z in enumerate(a)]
            m += 1
    return a


def local_affine(net, x: np.ndarray):
    """(A, c) with f = A x + c on the region of each x: A is the Jacobian, c = f evaluated at 0 under the pattern."""
    exact = x.dtype == object
    A = jacobian(net, x)
    c = _zeros((x.shape[0], net.out_features), exact)
    zero = [0] * net.in_features if exact else [0.0] * net.in_features
    for n, row in enumerate(x):
        pattern = [s for _, s in _walk(net, row)[1]]
        c[n] = _forward_with_pattern(net, zero, pattern)
    return A, c


def preactivation_maps(net, patterns) -> list:
    """z_m = A_m x + c_m for every activation layer m under ``patterns`` (list of bool (n, d_m)).

    A_m[n, j, i] is found by pushing the basis vector e_i through the linearised layers (no bias) and c_m by pushing
    the zero input through with biases, neuron by neuron.
    """
    exact = net.exact
    n_samples, d_in = patterns[0].shape[0], net.in_features
    maps = []
    for m_target in range(len(patterns)):
        sizes = None
        A_rows, c_rows = [], []
        for n in range(n_samples):
            columns = []
            for i in range(d_in):
                columns.append(_pre(net, [1 if k == i else 0 for k in range(d_in)], patterns, n, m_target, False))
            c_rows.append(_pre(net, [0] * d_in, patterns, n, m_target, True))
            sizes = len(c_rows[-1])
            A_rows.append([[columns[i][j] for i in range(d_in)] for j in range(sizes)])
        A = _zeros((n_samples, sizes, d_in), exact)
        c = _zeros((n_samples, sizes), exact)
        for n in range(n_samples):
            for j in range(sizes):
                c[n, j] = c_rows[n][j]
                for i in range(d_in):
                    A[n, j, i] = A_rows[n][j][i]
        maps.append((A, c))
    return maps


def _pre(net, a: list, patterns, n: int, m_target: int, with_bias: bool) -> list:
    m = 0
    for layer in net.layers:
        if layer.kind == "affine":
            z = []
            for j in range(layer.W.shape[0]):
                total = layer.b[j] if with_bias else 0
                for i in range(layer.W.shape[1]):
                    total = total + layer.W[j, i] * a[i]
                z.append(total)
            a = z
        else:
            if m == m_target:
                return a
            a = [v if patterns[m][n, j] else v * layer.negative_slope for j, v in enumerate(a)]
            m += 1
    raise AssertionError("activation layer index out of range")


def one_sided_trace(net, x: np.ndarray, u: np.ndarray):
    """Twin of :func:`dtd_ref._lines.one_sided_trace`: (z, dz, pattern) per activation layer, then (out, dout).

    Dense layers, the ReLU family and ``MaxPool2d`` (through the loop twins of :mod:`dtd_ref._reference_conv`).
    """
    exact = x.dtype == object
    per_layer = None
    outs, douts = [], []
    for row, direction in zip(x, u):
        v, t, records = list(row), list(direction), []
        for layer in net.layers:
            if layer.kind == "affine":
                v = _dense(layer, v)
                t = [sum((layer.W[j, i] * t[i] for i in range(layer.W.shape[1])), 0 * layer.W[j, 0])
                     for j in range(layer.W.shape[0])]
            elif hasattr(layer, "winners"):  # max pooling: the loop twins of its pattern and winner selection
                s = _reference_conv.pattern_towards(layer, np.array([v]), np.array([t]))[0]
                records.append((list(v), list(t), list(s)))
                v, t = (list(_reference_conv.apply_pattern(layer, s[None], np.array([[e]]))[0, 0]) for e in (v, t))
            else:
                s = [bool(vj > 0 or (vj == 0 and tj > 0)) for vj, tj in zip(v, t)]
                records.append((list(v), list(t), s))
                v = [vj if sj else vj * layer.negative_slope for vj, sj in zip(v, s)]
                t = [tj if sj else tj * layer.negative_slope for tj, sj in zip(t, s)]
        outs.append(v)
        douts.append(t)
        per_layer = [[] for _ in records] if per_layer is None else per_layer
        for m, record in enumerate(records):
            per_layer[m].append(record)
    dtype = object if exact else float
    layers = [(np.array([r[0] for r in recs], dtype=dtype), np.array([r[1] for r in recs], dtype=dtype),
               np.array([r[2] for r in recs], dtype=bool)) for recs in per_layer]
    return layers, np.array(outs, dtype=dtype), np.array(douts, dtype=dtype)


def closed_membership(net, x_row: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Twin of ``testing._closed_membership`` in exact mode: every unit keeps (2 s_k - 1) z_k >= 0 under s(x)."""
    pattern = [np.array([s]) for _, s in _walk(net, x_row)[1]]
    inside = []
    for point in points:
        ok = True
        for m in range(len(pattern)):
            z = _pre(net, list(point), pattern, 0, m, True)
            for j, value in enumerate(z):
                ok = ok and (value >= 0 if pattern[m][0, j] else value <= 0)
        inside.append(ok)
    return np.array(inside, dtype=bool)
