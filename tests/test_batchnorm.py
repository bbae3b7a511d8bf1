"""fold_batchnorm: output equality with an explicit eval-mode batch norm, a hand-worked value, exact mode, errors."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from dtd_ref.batchnorm import fold_batchnorm
from dtd_ref.conv import Conv2d
from dtd_ref.exact import to_fraction
from dtd_ref.layers import Dense

#: Folding reassociates s (W a + b - mean) into (s W) a + s (b - mean): a few roundings apart.
FOLD_RTOL = 1e-12


def _batchnorm(z, channels, gamma, beta, mean, var, eps):
    """Eval-mode batch norm written out per channel on flat (n, C * P) outputs (P positions per channel)."""
    z = z.reshape(z.shape[0], channels, -1)
    out = gamma[:, None] * (z - mean[:, None]) / np.sqrt(var[:, None] + eps) + beta[:, None]
    return out.reshape(z.shape[0], -1)


def test_fold_golden_by_hand():
    # W = [[2]], b = [1], gamma 3, beta 1/2, mean 1, var 3, eps 1: s = 3 / sqrt(4) = 3/2,
    # W' = 3, b' = 3/2 (1 - 1) + 1/2 = 1/2
    folded = fold_batchnorm(Dense([[2.0]], [1.0]), gamma=[3.0], beta=[0.5], running_mean=[1.0], running_var=[3.0],
                            eps=1.0)
    assert folded.W.tolist() == [[3.0]] and folded.b.tolist() == [0.5]


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_folded_layer_equals_layer_then_batchnorm(seed, conv):
    rng = np.random.default_rng(seed)
    if conv:
        layer = Conv2d(rng.normal(size=(4, 1, 3, 3)), rng.normal(size=4), input_shape=(2, 5, 5), padding=1,
                       groups=2)
    else:
        layer = Dense(rng.normal(size=(4, 6)), rng.normal(size=4))
    gamma, beta, mean = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    var = rng.random(4) * 3
    eps = 10.0 ** rng.integers(-6, 0)
    folded = fold_batchnorm(layer, gamma=gamma, beta=beta, running_mean=mean, running_var=var, eps=eps)
    assert type(folded) is type(layer) and folded.in_features == layer.in_features
    a = rng.normal(size=(3, layer.in_features))
    expected = _batchnorm(layer.forward(a), 4, gamma, beta, mean, var, eps)
    np.testing.assert_allclose(folded.forward(a), expected, rtol=0,
                               atol=FOLD_RTOL * max(1.0, np.abs(expected).max()))


def test_fold_exact_keeps_everything_but_the_root_exact():
    # var + eps = 1/4 + 0 has the exact float root 1/2, so here the folded exact layer is exactly BN o layer:
    # s = gamma / (1/2) = 2/3 * 2 = 4/3, W' = 4/3 * [1/3, -1] = [4/9, -4/3], b' = 4/3 (1/5 - 1/7) + 1/11
    layer = Dense(to_fraction(np.array([[1.0, -3.0]])) / 3, to_fraction(np.array([1.0])) / 5)
    folded = fold_batchnorm(layer, gamma=[Fraction(2, 3)], beta=[Fraction(1, 11)], running_mean=[Fraction(1, 7)],
                            running_var=[Fraction(1, 4)], eps=0)
    assert folded.exact
    assert folded.W.tolist() == [[Fraction(4, 9), Fraction(-4, 3)]]
    assert folded.b.tolist() == [Fraction(4, 3) * (Fraction(1, 5) - Fraction(1, 7)) + Fraction(1, 11)]


@pytest.mark.parametrize("kwargs, match", [
    (dict(gamma=[1.0, 1.0]), "gamma"),
    (dict(running_var=[-1.0]), "running_var"),
    (dict(eps=-1.0), "eps"),
    (dict(running_mean=[np.nan]), "running_mean"),
])
def test_fold_rejects_bad_statistics(kwargs, match):
    base = dict(gamma=[1.0], beta=[0.0], running_mean=[0.0], running_var=[1.0])
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fold_batchnorm(Dense([[1.0]], [0.0]), **base)


def test_fold_rejects_other_layers():
    from dtd_ref.layers import ReLU

    with pytest.raises(ValueError, match="layer"):
        fold_batchnorm(ReLU(), gamma=[1.0], beta=[0.0], running_mean=[0.0], running_var=[1.0])
