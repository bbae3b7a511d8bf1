"""Slow loop-per-input twins of the vectorised routines in :mod:`dtd_ref.sanity` (for tests only).

Each function has the name and the signature of its fast twin and is written as plainly as possible: one input,
one subset, one feature at a time, with scipy's own ``spearmanr`` for the rank correlation.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from .exact import to_float
from .sanity import ZERO_MAP_ATOL

__all__ = ["spearman_rows", "cosine_rows", "sensitivity_n_correlation"]


def spearman_rows(R1, R2) -> np.ndarray:
    R1, R2 = to_float(np.asarray(R1)), to_float(np.asarray(R2))
    out = np.full(R1.shape[0], np.nan)
    for i in range(R1.shape[0]):
        if np.all(R1[i] == R1[i][0]) or np.all(R2[i] == R2[i][0]):
            continue
        out[i] = spearmanr(R1[i], R2[i]).statistic
    return out


def cosine_rows(R1, R2) -> np.ndarray:
    R1, R2 = to_float(np.asarray(R1)), to_float(np.asarray(R2))
    out = np.full(R1.shape[0], np.nan)
    for i in range(R1.shape[0]):
        m1, m2 = max(abs(a) for a in R1[i]), max(abs(b) for b in R2[i])
        if m1 <= ZERO_MAP_ATOL or m2 <= ZERO_MAP_ATOL:
            continue  # a zero map: cosine undefined
        u, w = [a / m1 for a in R1[i]], [b / m2 for b in R2[i]]  # scaled, so no square underflows
        dot = 0.0
        for a, b in zip(u, w):
            dot += a * b
        out[i] = min(1.0, max(-1.0, dot / (np.sqrt(sum(a * a for a in u)) * np.sqrt(sum(b * b for b in w)))))
    return out


def sensitivity_n_correlation(net, X, R, *, output, ns, n_subsets, baseline, rng) -> np.ndarray:
    """Correlation matrix (n_inputs, len(ns)) of Sensitivity-n, drawing the subsets from ``rng`` like the fast twin."""
    X, R = to_float(np.asarray(X)), to_float(np.asarray(R))
    n_inputs, d = X.shape
    out = np.full((n_inputs, len(ns)), np.nan)
    for c, n in enumerate(ns):
        u = rng.random((n_inputs, n_subsets, d))
        for i in range(n_inputs):
            f_x = net(X[i])[output]
            sums, drops = [], []
            for s in range(n_subsets):
                chosen = np.argsort(u[i, s])[:n]
                x_masked = X[i].copy()
                total = 0.0
                for feature in chosen:
                    x_masked[feature] = baseline
                    total += R[i, feature]
                sums.append(total)
                drops.append(f_x - net(x_masked)[output])
            if _spread(sums) and _spread(drops):
                out[i, c] = pearsonr(sums, drops).statistic
    return out


def _spread(values) -> bool:
    """Not constant up to rounding: the largest deviation from the mean exceeds 1e-12 of the largest value."""
    values = np.asarray(values, dtype=float)
    return np.max(np.abs(values - values.mean())) > 1e-12 * np.max(np.abs(values))
