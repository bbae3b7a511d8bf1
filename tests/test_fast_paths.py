"""The shortcuts that make train-free DTD fast keep every result: cached W^+, branch-free selection, fused products.

The DTD results themselves are compared with their loop twins in test_reference_twins.py and with zennit / captum
in the cross-checks; here each shortcut is compared with the plain NumPy expression it replaces, bit for bit.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dtd_ref import Dense, LeakyReLU, ReLU, rules
from dtd_ref.dtd import _relu_inputs, train_free_dtd
from dtd_ref.network import Network
from dtd_ref.pooling import MaxPool2d
from dtd_ref.propagation import _keep, _negative_part, _positive_part, _signed, _square

# every float64, including -0.0, NaN (with payloads), +-inf and subnormals
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint64)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
def test_keep_is_np_where_with_zero_bit_for_bit(data, shape):
    values = data.draw(hnp.arrays(np.float64, shape, elements=ANY_FLOAT))
    mask = data.draw(hnp.arrays(np.bool_, shape))
    expected = np.where(mask, values, 0.0)
    np.testing.assert_array_equal(_bits(_keep(mask, values)), _bits(expected))
    in_place = values.copy()
    assert _keep(mask, in_place, out=in_place) is not None
    np.testing.assert_array_equal(_bits(in_place), _bits(expected))


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=6),
       epsilon=st.floats(min_value=0.0, allow_infinity=False) | st.sampled_from([0.0, -0.0, 5e-324, 1e308]))
def test_signed_epsilon_is_np_where_bit_for_bit(data, shape, epsilon):
    z = data.draw(hnp.arrays(np.float64, shape, elements=ANY_FLOAT))
    expected = np.where(z >= 0, epsilon, -epsilon)  # sign(0) = +1, NaN counts as negative (not z >= 0)
    np.testing.assert_array_equal(_bits(_signed(epsilon, z, False)), _bits(expected))


def test_keep_clears_negative_zero_and_keeps_it_where_asked():
    values = np.array([-0.0, -0.0, np.nan, -np.inf])
    out = _keep(np.array([True, False, False, True]), values)
    np.testing.assert_array_equal(np.signbit(out), [True, False, False, True])
    assert out[2] == 0 and out[3] == -np.inf


@pytest.mark.parametrize("h", [_positive_part, _negative_part, _square])
def test_cached_weights_equal_the_map_and_protect_w(h):
    W = np.array([[1.5, -2.0, 0.0], [-0.0, 3.0, -1.0]])
    layer = Dense(W, np.zeros(2))
    M = layer.cached_weights(h)
    np.testing.assert_array_equal(_bits(M), _bits(h(W)))
    assert layer.cached_weights(h) is M  # computed once
    assert not M.flags.writeable and W.flags.writeable  # the cache is read-only, the layer's own W is untouched
    with pytest.raises(ValueError):
        M[0, 0] = 7.0


def test_layer_parameters_are_read_only_so_the_cache_cannot_go_stale():
    W = np.array([[1.0, -1.0]])
    layer = Dense(W, np.zeros(1))
    np.testing.assert_array_equal(layer.cached_weights(_positive_part), [[1.0, 0.0]])
    with pytest.raises(ValueError):
        layer.W[0, 0] = -5.0  # in-place edits are refused ...
    with pytest.raises(AttributeError):
        layer.W = np.array([[-1.0, 2.0]])  # ... and so is rebinding: build a new Dense instead
    W[0, 0] = -5.0  # the caller's array stays theirs: the layer holds a copy
    assert layer.W[0, 0] == 1.0
    np.testing.assert_array_equal(layer.cached_weights(_positive_part), [[1.0, 0.0]])


def _net(*layers):
    return Network(list(layers))


def test_zplus_still_refuses_negative_hidden_inputs_after_a_leaky_relu():
    # the domain check is skipped only where the input is a ReLU output; LeakyReLU(0.5) passes -0.5 * 2 = -1 on
    W1, W2 = np.array([[1.0], [-2.0]]), np.array([[1.0, 1.0]])
    leaky = _net(Dense(W1, np.zeros(2)), LeakyReLU(0.5), Dense(W2, np.zeros(1)))
    with pytest.raises(ValueError, match="affine layer 1"):
        train_free_dtd(leaky, np.array([[1.0]]), rules.ZPlus(), output=0)
    relu = _net(Dense(W1, np.zeros(2)), ReLU(), Dense(W2, np.zeros(1)))
    # z = (1, -2): relu -> (1, 0); layer 1 gives R = 1 to unit 0 (z+ share 1 * 1 / 1), unit 1 is inactive
    explanation = train_free_dtd(relu, np.array([[1.0]]), rules.ZPlus(), output=0)
    np.testing.assert_array_equal(explanation.relevance[1], [[1.0, 0.0]])


@pytest.mark.parametrize("group, known", [
    ((ReLU(),), True), ((LeakyReLU(0.5),), False), ((ReLU(), LeakyReLU(0.5)), False), ((), False),
    ((LeakyReLU(0.0),), True), ((ReLU(), MaxPool2d((1, 2, 2), 2)), True), ((MaxPool2d((1, 2, 2), 2),), False),
])
def test_relu_inputs_marks_only_relu_outputs(group, known):
    assert _relu_inputs((group, ())) == (False, known)


@pytest.mark.parametrize("rule", [rules.ZPlus(), rules.LRP0(), rules.Epsilon(0.25), rules.W2(), rules.AlphaBeta(2, 1)])
def test_redistribute_leaves_its_inputs_alone_and_returns_read_only_unbooked_zeros(rule):
    rng = np.random.default_rng(0)
    layer = Dense(rng.standard_normal((4, 3)), rng.standard_normal(4))
    a, R = rng.uniform(0, 1, (5, 3)), rng.standard_normal((5, 4))
    z = layer.forward(a)
    active = rng.uniform(size=(5, 4)) < 0.5
    copies = [array.copy() for array in (a, R, z, active)]
    _, ledger = rules.redistribute(rule, layer, a, R, z=z, active=active)
    for before, after in zip(copies, (a, R, z, active)):
        np.testing.assert_array_equal(before, after)
    for key, entry in ledger.items():
        assert entry.shape == R.shape
        if not entry.flags.writeable:  # nothing booked: zeros
            np.testing.assert_array_equal(entry, 0.0)
    assert not ledger["skipped"].flags.writeable  # every denominator is nonzero here


@pytest.mark.parametrize("a, raises", [
    ([[0.0, 1.0]], False), ([[-0.0, 2.0]], False), ([[np.nan, 1.0]], False), ([[np.nan, -1.0]], True),
    ([[3.0, -1e-300]], True),
])
def test_zplus_domain_check_by_minimum_agrees_with_the_entrywise_test(a, raises):
    a = np.array(a)
    assert bool(np.any(a < 0)) == raises  # the definition the shortcut must reproduce
    if raises:
        with pytest.raises(ValueError, match="non-negative"):
            rules.ZPlus().check_input(a, "a")
    else:
        rules.ZPlus().check_input(a, "a")
    rules.ZPlus().check_input(a, "a", nonnegative=True)  # the caller's guarantee skips the test
