"""Train-free DTD: conservation layer by layer, the [A18] equivalences, root conventions, shapes and bad input."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, Network, ReLU, c6_network, mlp, to_exact, to_fraction, to_float
from dtd_ref import rules
from dtd_ref import strategies as dst
from dtd_ref.dtd import AUTHORS_SKIP_THRESHOLD, train_free_dtd
from dtd_ref.testing import assert_conserves, assert_exact_equal

ROOT_RULES = [rules.W2(), rules.Z(), rules.ZPlus(), rules.Gamma(1), rules.ZBox(-1000, 1000)]  # box holds every layer
EXACT_VS_FLOAT_RTOL = 1e-12  # float64 train-free relevance vs the exact result, relative to sum |R|
BATCH_RTOL = 1e-12  # one row explained alone vs inside a batch (BLAS may sum in another order)


def _draw(data, *, nonnegative=True, off_hinges=False, **net_kwargs):
    net = data.draw(dst.networks(exact=True, max_depth=3, max_width=3, **net_kwargs))
    inputs = dst.inputs(net, batch=2, denominator=4, exact=True)
    if off_hinges:
        inputs = inputs.filter(lambda x: _no_zero_preactivation(net, np.abs(x) if nonnegative else x))
    x = data.draw(inputs)
    return net, (np.abs(x) if nonnegative else x)


def _no_zero_preactivation(net, x):
    """No unit (hidden or output) has z = 0 at x: LRP-0 divides by z_j, and a_j / z_j is 0 / 0 there."""
    return all(np.all(z != 0) for z in net.trace(x).z)


ALL_RULES = ROOT_RULES + [rules.LRP0(), rules.Epsilon(Fraction(1, 8)), rules.AlphaBeta(2, 1), rules.Flat()]


@given(rule=st.sampled_from(ALL_RULES), data=dst.data())
def test_relevance_is_conserved_layer_by_layer_up_to_the_ledger(rule, data):
    relu_on_output = data.draw(st.booleans())
    net, x = _draw(data, relu_on_output=relu_on_output)
    output = data.draw(st.integers(0, net.out_features - 1))
    e = train_free_dtd(net, x, rule, output=output)
    for k in range(len(net.affine_layers)):
        assert_conserves(e.relevance[k], e.relevance[k + 1], e.absorbed(k))
        assert all(v == 0 for v in e.conservation_gap(k))
        if getattr(rule, "root_search", False):
            assert all(v == 0 for v in e.ledger[k]["bias"].flat)


@given(data=dst.data())
def test_root_search_conserves_exactly_without_skips_on_nonpositive_bias_relu_networks(data):
    # z+ on a >= 0 with b <= 0: every active neuron has w_j^T v_j > 0 and relevance stays on active neurons, so
    # the whole output reaches the input.
    net, x = _draw(data, bias="nonpositive", relu_on_output=True)
    e = train_free_dtd(net, x, rules.ZPlus(), output=0)
    assert_exact_equal(e.relevance[0].sum(axis=1), net(x)[:, 0])


@given(data=dst.data())
def test_lrp0_equals_gradient_times_input_for_relu_networks_with_biases(data):
    net, x = _draw(data, nonnegative=False, off_hinges=True, relu_on_output=data.draw(st.booleans()))
    e = train_free_dtd(net, x, rules.LRP0(), output=0)
    assert_exact_equal(e.relevance[0], net.gradient_x_input(x, output=0))


@given(data=dst.data())
def test_lrp0_equals_gradient_times_input_for_leaky_relu_networks(data):
    net, x = _draw(data, nonnegative=False, off_hinges=True, negative_slope=0.125)
    e = train_free_dtd(net, x, rules.LRP0(), output=0)
    assert_exact_equal(e.relevance[0], net.gradient_x_input(x, output=0))


@given(data=dst.data())
def test_zero_biases_make_z_roots_zero_and_z_dtd_gradient_times_input(data):
    net, x = _draw(data, nonnegative=False, off_hinges=True, bias=False)
    e = train_free_dtd(net, x, rules.Z(), output=0)
    assert_exact_equal(e.relevance[0], net.gradient_x_input(x, output=0))
    trace = net.trace(x)
    for k, (roots, missing) in enumerate(zip(e.roots, e.missing)):
        z = trace.z[k]
        active = (trace.a[k + 1] if k + 1 < len(e.roots) else trace.output) != 0
        found = ~missing & np.asarray(active, dtype=bool)
        # an active neuron with w_j^T a != 0 has the root -b_j a / (w_j^T a) = 0
        assert all(v == 0 for v in roots[found].flat)
        assert not np.any(missing & np.asarray(z != 0, dtype=bool))


@given(data=dst.data())
def test_float_and_exact_agree(data):
    net, x = _draw(data)
    rule = data.draw(st.sampled_from(ROOT_RULES))
    exact = train_free_dtd(net, x, rule, output=0).relevance[0]
    net_f = Network([layer.map_arrays(to_float) for layer in net.layers])
    approx = train_free_dtd(net_f, to_float(x), rule, output=0).relevance[0]
    scale = np.abs(to_float(exact)).sum() + 1
    np.testing.assert_allclose(approx, to_float(exact), rtol=0, atol=EXACT_VS_FLOAT_RTOL * scale)


def test_output_relevance_is_the_explained_output():
    net = mlp((3, 4, 2), rng=0)
    x = np.random.default_rng(1).normal(size=(5, 3))
    e = train_free_dtd(net, x, rules.W2(), output=1)
    y = net(x)
    np.testing.assert_array_equal(e.relevance[2][:, 1], y[:, 1])  # no ReLU on the output: f_xi may be negative
    np.testing.assert_array_equal(e.relevance[2][:, 0], 0)
    net_relu = mlp((3, 4, 2), rng=0, relu_on_output=True)
    e = train_free_dtd(net_relu, x, rules.W2(), output=1)
    np.testing.assert_array_equal(e.relevance[2][:, 1], np.maximum(y[:, 1], 0))


def test_shapes_single_input_and_per_layer_rules():
    net = mlp((4, 5, 3, 2), rng=0)
    x = np.abs(np.random.default_rng(1).normal(size=(6, 4)))
    e = train_free_dtd(net, x, [rules.ZBox(0, 5), rules.ZPlus(), rules.Epsilon()], output=0)
    assert [r.shape for r in e.relevance] == [(6, 4), (6, 5), (6, 3), (6, 2)]
    assert e.roots[0].shape == (6, 5, 4) and e.roots[1].shape == (6, 3, 5) and e.roots[2] is None
    assert [set(d) for d in e.ledger] == [{"bias", "epsilon", "skipped", "inactive"}] * 3
    single = train_free_dtd(net, x[2], [rules.ZBox(0, 5), rules.ZPlus(), rules.Epsilon()], output=0)
    assert single.relevance[0].shape == (4,) and single.roots[0].shape == (5, 4)
    np.testing.assert_allclose(single.relevance[0], e.relevance[0][2], rtol=BATCH_RTOL)
    assert single.ledger[1]["bias"].shape == (3,) and np.shape(single.absorbed(1)) == ()
    assert train_free_dtd(net, x, rules.ZPlus(), output=0, return_roots=False).roots == (None, None, None)


def test_hand_worked_two_layer_zplus():
    # Layer 0: W = [[1, -1], [1, 1]], b = [0, -1]; layer 1: W = [[1, 2]], b = [0]; x = [2, 1].
    # z0 = [1, 2], a1 = [1, 2], y = 1 + 4 = 5 = R^2.
    # Layer 1 (z+): R^1_j = a_j w_j / (1 + 4) * 5 = [1, 4].
    # Layer 0 (z+): neuron 0: v = x (.) [1, 0] = [2, 0], R = [1, 0] * 1 = [1, 0]... R_i = x_i w^+ / 2 * 1 = [1, 0];
    # neuron 1: v = [2, 1], w^T v = 3, R_i = [2, 1] / 3 * 4 = [8/3, 4/3].  R^0 = [11/3, 4/3], sum 5.
    # Roots: neuron 0: t = 1 / 2, root = [2, 1] - [1, 0] = [1, 1]; neuron 1: t = 2 / 3, root = [2/3, 1/3].
    net = to_exact(Network([Dense([[1.0, -1.0], [1.0, 1.0]], [0.0, -1.0]), ReLU(), Dense([[1.0, 2.0]], [0.0])]))
    e = train_free_dtd(net, np.array([2.0, 1.0]), rules.ZPlus(), output=0)
    assert_exact_equal(e.relevance[1], [1, 4])
    assert_exact_equal(e.relevance[0], [Fraction(11, 3), Fraction(4, 3)])
    assert_exact_equal(e.roots[0], [[1, 1], [Fraction(2, 3), Fraction(1, 3)]])


def test_authors_convention_uses_the_upper_relevance_and_agrees_at_the_output_layer():
    net = c6_network(rng=0)
    rng = np.random.default_rng(3)
    X = np.abs(rng.normal(size=(400, 10)))
    X = X[net(X)[:, 1] > 0.1][:20]  # with seed 0, output 1 is the one that is usually on
    assert len(X) == 20
    exact = train_free_dtd(net, X, rules.ZPlus(), output=1)
    authors = train_free_dtd(net, X, rules.ZPlus(), output=1, convention="authors")
    # output layer (ReLU on the output): R_j = z_j for the explained unit, so both conventions give the same root
    np.testing.assert_array_equal(authors.roots[2][:, 1], exact.roots[2][:, 1])
    # below, t = R_j / (w^T v) != z_j / (w^T v): the authors' points are not on the neuron's hinge
    layer = net.affine_layers[0]
    residual = np.einsum("njd,jd->nj", authors.roots[0], layer.W) + layer.b
    active = net.trace(X).a[1] > 0
    assert np.abs(residual[active]).max() > 1e-3
    residual_exact = np.einsum("njd,jd->nj", exact.roots[0], layer.W) + layer.b
    assert np.abs(residual_exact[active]).max() < 1e-12
    assert AUTHORS_SKIP_THRESHOLD == 1e-5


def test_bad_input_raises_naming_the_argument():
    net = mlp((3, 4, 2), rng=0)
    x = np.abs(np.random.default_rng(1).normal(size=(2, 3)))
    with pytest.raises(ValueError, match="^output:"):
        train_free_dtd(net, x, rules.ZPlus(), output=2)
    with pytest.raises(ValueError, match="^x:"):
        train_free_dtd(net, np.ones((2, 4)), rules.ZPlus(), output=0)
    with pytest.raises(ValueError, match="^x:.*z\\^B box"):
        train_free_dtd(net, x, [rules.ZBox(0.0, 0.01), rules.ZPlus()], output=0)
    with pytest.raises(ValueError, match="^x:.*non-negative"):
        train_free_dtd(net, -x, rules.ZPlus(), output=0)
    with pytest.raises(ValueError, match="^rule_or_rules:"):
        train_free_dtd(net, x, [rules.ZPlus()], output=0)
    with pytest.raises(ValueError, match="^rule_or_rules"):
        train_free_dtd(net, x, "zplus", output=0)
    with pytest.raises(ValueError, match="^convention:"):
        train_free_dtd(net, x, rules.ZPlus(), output=0, convention="paper")
    with pytest.raises(ValueError, match="^x:.*exact"):
        train_free_dtd(net, to_fraction(x), rules.ZPlus(), output=0)
