"""Slow one-draw-at-a-time twin of :func:`dtd_ref.study.sample_inputs` (for tests only)."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_inputs"]


def sample_inputs(net, n, *, rng, output=0, threshold=0.1, max_draws=None):
    """Draw x = |N(0, I)| one at a time, keep it when f_output(x) > threshold; (X, draws)."""
    gen = np.random.default_rng(rng)
    max_draws = 1000 * n if max_draws is None else max_draws
    kept, draws = [], 0
    while len(kept) < n and draws < max_draws:
        x = np.abs(gen.standard_normal(net.in_features))
        draws += 1
        if net(x)[output] > threshold:
            kept.append(x)
    if len(kept) < n:
        raise ValueError("not enough inputs")
    return np.array(kept), draws
