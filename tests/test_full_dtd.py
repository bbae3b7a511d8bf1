"""Full recursive DTD: the [SL22] theorem on locally constant roots, its counter-example, exact line / region roots."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, Network, ReLU, mlp, to_exact, to_fraction
from dtd_ref import _reference_dtd as ref
from dtd_ref import full_dtd as full_module
from dtd_ref import rules
from dtd_ref import strategies as dst
from dtd_ref.dtd import train_free_dtd
from dtd_ref.full_dtd import ConstantRoots, LineRoot, RegionRoot, _finders, estimate_points, full_dtd
from dtd_ref.pooling import MaxPool2d
from dtd_ref.regions import region_of
from dtd_ref.testing import assert_conserves, assert_exact_equal

F = Fraction
EXACT_VS_FLOAT_RTOL = 1e-9  # float64 full DTD (LP roots to HiGHS tolerance, then projected) vs exact, relative


def _no_zero_preactivation(net, x):
    """No unit has z = 0 at any row of x (a point on a hinge has no open region around it)."""
    return all(np.all(z != 0) for z in net.trace(x).z)


def _draw(data, *, batch=1, off_hinges=False, nonnegative=False, max_depth=3, **kwargs):
    net = data.draw(dst.networks(exact=True, max_depth=max_depth, max_width=3, **kwargs))
    inputs = dst.inputs(net, batch=batch, denominator=4, exact=True)
    if nonnegative:
        inputs = inputs.map(np.abs)
    if off_hinges:
        inputs = inputs.filter(lambda x: _no_zero_preactivation(net, x))
    return net, data.draw(inputs)


def _roots_beside(net, x):
    """Constant roots a_k - delta_k (every coordinate) with delta_k too small for any unit of layer k to change sign.

    |z_j(a - delta 1) - z_j(a)| <= delta sum_i |w_ji| < |z_j(a)| / 2, so each root lies on a's side of every hinge of
    its layer: with constant roots above, that is the region where phi_j is affine.
    """
    trace = net.trace(x)
    roots = []
    for k, layer in enumerate(net.affine_layers):
        z = trace.z[k][0]
        spread = max(sum(abs(w) for w in row) for row in layer.weight_matrix()) + 1
        delta = min(abs(v) for v in z) / (2 * spread)
        roots.append(trace.a[k][0] - delta)
    return roots


@given(data=dst.data())
def test_constant_roots_inside_the_region_give_gradient_times_input_minus_root(data):
    # [SL22] locally constant roots: R^0(x) = grad f(x) (.) (x - x_root) for the shared input root, whatever the
    # (in-region) roots of the upper layers and whatever the biases.
    net, x = _draw(data, off_hinges=True, relu_on_output=data.draw(st.booleans()))
    roots = _roots_beside(net, x)
    e = full_dtd(net, x, roots, output=0)
    assert_exact_equal(e.relevance[0], net.gradient(x, output=0) * (x - roots[0]))


@given(data=dst.data())
def test_constant_root_zero_without_biases_is_gradient_times_input(data):
    # f is positively homogeneous without biases: the segment (0, a] stays in a's region, so root 0 is in it.
    net, x = _draw(data, batch=2, bias=False)
    e = full_dtd(net, x, 0, output=0)
    assert_exact_equal(e.relevance[0], net.gradient_x_input(x, output=0))
    for k in range(len(net.affine_layers)):  # roots 0 are exact zeros of phi_j here: exactly conservative
        assert_conserves(e.relevance[k], e.relevance[k + 1])


def test_input_dependent_roots_are_not_gradient_times_input_plus_a_constant():
    # Counter-example to "R^0(x) = grad f(x) (.) x + c": x1 and x2 lie in the same linear region (same gradient),
    # yet R^0 - grad f (.) x differs between them when the input roots move with x (exact line zeros of phi_j
    # along the w^2 direction).  With constant input roots it does not (control).
    net = to_exact(Network([Dense([[1.0, 2.0], [-1.0, 1.0]], [-0.5, 0.25]), ReLU(), Dense([[1.0, -2.0]], [0.5])]))
    x1 = to_fraction(np.array([1.0, 1.0]))
    x2 = to_fraction(np.array([1.25, 1.5]))
    assert np.array_equal(net.activation_pattern(x1)[0], net.activation_pattern(x2)[0])
    grad = net.gradient(x1, output=0)
    assert_exact_equal(net.gradient(x2, output=0), grad)
    upper = to_fraction(np.array([0.5, 0.5]))

    def offset(x, input_roots):
        return full_dtd(net, x, [input_roots, ConstantRoots(upper)], output=0).relevance[0] - grad * x

    line = LineRoot(rules.W2())
    assert np.any(offset(x1, line) != offset(x2, line))
    constant = ConstantRoots(to_fraction(np.array([0.5, 0.75])))
    assert_exact_equal(offset(x1, constant), offset(x2, constant))


@given(data=dst.data(), rule=st.sampled_from([rules.W2(), rules.ZPlus(), rules.Z(), rules.Gamma(1)]))
def test_line_roots_are_exact_zeros_of_phi_on_the_rule_line(data, rule):
    net, x = _draw(data, nonnegative=True, max_depth=2)
    finder = LineRoot(rule)  # z+: t in [0, 1] (its domain); the others: the whole line
    e = full_dtd(net, x, [finder] + [ConstantRoots(0)] * (len(net.affine_layers) - 1), output=0)
    assert all(v == 0 for v in e.ledger[0]["residual"].flat)
    V = rule.v(x, net.affine_layers[0].weight_matrix())
    for j in np.nonzero(~e.missing[0][0])[0]:
        step = x[0] - e.roots[0][0, j]  # = t v_j
        ratios = {s / v for s, v in zip(step, V[0, j]) if v != 0}
        assert len(ratios) <= 1
        assert all(s == 0 for s, v in zip(step, V[0, j]) if v == 0)
        if finder.t_max is not None:
            assert all(0 <= t <= finder.t_max for t in ratios)
    assert_exact_equal(e.conservation_gap(0), np.zeros(1, dtype=object))


@given(data=dst.data())
def test_region_roots_lie_in_the_region_and_conserve_up_to_missing(data):
    net, x = _draw(data, off_hinges=True, max_depth=2)
    e = full_dtd(net, x, [RegionRoot()] + [RegionRoot(anchor=0)] * (len(net.affine_layers) - 1), output=0)
    region = region_of(net, x[0])
    for j in np.nonzero(~e.missing[0][0])[0]:
        assert region.contains(e.roots[0][0, j], closed=True)
    for k in range(len(net.affine_layers)):
        assert all(v == 0 for v in e.ledger[k]["residual"].flat)  # exact zeros of phi_j
        assert all(v == 0 for v in e.ledger[k]["remainder"].flat)  # phi_j affine on [root, a]: Taylor is exact
        assert_conserves(e.relevance[k], e.relevance[k + 1], e.ledger[k]["missing"].sum(axis=1))


@given(data=dst.data(), upper_bias=st.booleans())
def test_region_roots_below_a_max_pool_are_zeros_of_phi_in_the_region(data, upper_bias):
    # Dense - ReLU - Dense - MaxPool - Dense: layer 0 is not closed by the pool, so RegionRoot may serve it, and its
    # region (sub-network from layer 0) includes the pool's rows "winner >= every element of its window".  The
    # region is taken on the side of the search direction (each layer's pattern_towards), not from z > 0 of the
    # pool's inputs.  Nonzero weights and x off hinges and ties, as in the ReLU test above.  Without biases above
    # layer 0 the roots 0 there are exact zeros in their region (positive homogeneity), so every remainder vanishes
    # and relevance is conserved up to the missing roots, also when a layer-0 root lies on a tie of the pool.
    weights = st.sampled_from([-2, -1, 1, 2]).map(Fraction)
    biases = st.integers(-2, 2).map(Fraction)
    upper = biases if upper_bias else st.just(Fraction(0))

    def array(shape, values):
        return np.array([data.draw(values) for _ in range(int(np.prod(shape)))], dtype=object).reshape(shape)

    net = Network([Dense(array((3, 2), weights), array(3, biases)), ReLU(),
                   Dense(array((4, 3), weights), array(4, upper)), MaxPool2d((1, 2, 2), (1, 2)),
                   Dense(array((1, 2), weights), array(1, upper))])
    x = data.draw(dst.inputs(net, batch=1, denominator=4, exact=True).filter(
        lambda x: _no_zero_preactivation(net, x) and len(set(net.trace(x).z[1][0, :2])) == 2
        and len(set(net.trace(x).z[1][0, 2:])) == 2))
    e = full_dtd(net, x, [RegionRoot(), 0, 0], output=0)
    region = region_of(net, x[0])
    for j in np.nonzero(~e.missing[0][0])[0]:
        assert region.contains(e.roots[0][0, j], closed=True)
    assert all(v == 0 for v in e.ledger[0]["residual"].flat)   # exact zeros of phi_j
    if not upper_bias:
        for k in range(3):
            assert all(v == 0 for v in e.ledger[k]["remainder"].flat)
            assert_conserves(e.relevance[k], e.relevance[k + 1], e.ledger[k]["missing"].sum(axis=1))


def _second_hinge_net():
    """2-3-4-1 ReLU network (bias only on layer 0) with a layer-0 root of neuron 1 on a hinge of layer 1 (see below)."""
    return to_exact(Network([Dense([[-2.0, 1.0], [-2.0, -2.0], [-2.0, -1.0]], [0.0, 2.0, 2.0]), ReLU(),
                             Dense([[-2.0, -2.0, -2.0], [-2.0, -1.0, 2.0], [-2.0, -2.0, -2.0], [-2.0, -2.0, -2.0]],
                                   np.zeros(4)), ReLU(),
                             Dense([[-2.0, -2.0, -2.0, -2.0]], [0.0])]))


def test_root_on_a_hinge_of_the_layer_above_takes_the_gradient_of_the_side_the_point_moves_to():
    # Worked by hand.  x = (0, 3/4): z^0 = (3/4, 1/2, 5/4), a^1 = z^0, z^1 = (-5, 1/2, -5, -5), f(x) = -1.  Roots 0
    # above (no biases there: exact zeros, and the segment (0, a] stays in a's region) give R^2 = (0, -1, 0, 0) and
    # R^1 = grad (.) a^1 = (4, 2, -4) (.) a^1 = (3, 1, -5); near x, phi(a) = (4 z^0_0, 2 z^0_1, -4 z^0_2).
    # Root of phi_1: (0, 1), where z^0 = (1, 0, 1) and z^1_1 = -2 + 0 + 2 = 0: on a hinge of layer 1.  Along
    # x - root = (0, -1/4), dz^0 = (-1/4, 1/2, 1/4) and dz^1_1 = 1/2 - 1/2 + 1/2 = 1/2 > 0: on the segment unit 1 of
    # layer 1 is active, phi_1 = 2 relu(-2 a_0 - 2 a_1 + 2), gradient (-4, -4), Taylor term (-4, -4).(0, -1/4) = 1 =
    # phi_1(x).  (At layer 1's root 0 the direction a^1(root) - 0 = (1, 0, 1) leaves z^1_1 = 0 with dz = 0; only the
    # direction a^1 moves in, (-1/4, 1/2, 1/4), decides: the bug took unit 1 inactive there, gradient 0, remainder 1.)
    # Root of phi_0: (1/3, 2/3), z^0 = (0, 0, 2/3); along x - root = (-1/3, 1/12), dz^0 = (3/4, 1/2, 7/12) and
    # z^1_1 = 4/3 - 5s/6 > 0 on s in [0, 1]: gradient 4 (-2, 1) = (-8, 4), Taylor term 8/3 + 1/3 = 3 = phi_0(x).
    # Neuron 2: root x itself (phi_2 has no zero in x's region), so R^0 = (8/3, 1/3) + (0, 1) = (8/3, 4/3) and the
    # residual -5 = phi_2(x) closes the ledger: 8/3 + 4/3 - 5 = -1 = sum R^1.
    net = _second_hinge_net()
    x = to_fraction(np.array([0.0, 0.75]))
    input_roots = np.array([[F(1, 3), F(2, 3)], [F(0), F(1)], list(x)], dtype=object)
    e = full_dtd(net, x, [ConstantRoots(input_roots), 0, 0], output=0)
    assert_exact_equal(e.relevance[0], [F(8, 3), F(4, 3)])
    assert_exact_equal(e.relevance[1], [3, 1, -5])
    assert_exact_equal(e.ledger[0]["residual"], [0, 0, -5])
    for k in range(3):
        assert all(v == 0 for v in e.ledger[k]["remainder"].flat)
    # The same with the roots found by LP (the reported reproducer): exact zeros in x's region or missing.
    finders = [RegionRoot(), 0, 0]
    e = full_dtd(net, x, finders, output=0)
    assert_exact_equal(e.roots[0][1], [0, 1])
    assert_exact_equal(ref.full_dtd_relevance(net, x[None], _finders(finders, net), output=0)[0], e.relevance[0])
    for k in range(3):
        assert all(v == 0 for v in e.ledger[k]["remainder"].flat)
        assert_conserves(e.relevance[k], e.relevance[k + 1], e.ledger[k]["missing"].sum())


def _integer_network(data, *, upper_bias: bool):
    """Dense - ReLU - Dense - ReLU - Dense (optional output ReLU), weights in {-2, -1, 1, 2}, biases in [-2, 2].

    Such coarse weights put roots on hinges of the layers above often (the degenerate cases of the test below).
    ``upper_bias=False`` zeroes the biases above layer 0, so roots 0 there are exact zeros in their region.
    """
    weights = st.sampled_from([-2, -1, 1, 2]).map(F)
    biases = st.integers(-2, 2).map(F)
    widths = [2, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), 1]
    layers = []
    for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        W = np.array([[data.draw(weights) for _ in range(d_in)] for _ in range(d_out)], dtype=object)
        b = np.array([data.draw(biases) if k == 0 or upper_bias else F(0) for _ in range(d_out)], dtype=object)
        layers += [Dense(W, b), ReLU()]
    return Network(layers if data.draw(st.booleans()) else layers[:-1])


@given(data=dst.data(), upper_bias=st.booleans())
def test_exact_zero_roots_in_their_region_leave_no_remainder_on_degenerate_integer_networks(data, upper_bias):
    # [SL22] section 2: conservation holds exactly when every root is an exact zero of phi_j in the region where
    # phi_j is affine on [root, a].  Layer 0: RegionRoot (exact zeros in the closed region of x, or missing).  Above:
    # root 0 without biases (positively homogeneous: the segment (0, a] stays in a's region), or RegionRoot(anchor=0)
    # with biases.  The remainder must vanish even when a root lies on a hinge of an upper layer.
    net = _integer_network(data, upper_bias=upper_bias)
    x = data.draw(dst.inputs(net, batch=1, denominator=4, exact=True))
    upper = RegionRoot(anchor=0) if upper_bias else ConstantRoots(0)
    e = full_dtd(net, x, [RegionRoot(), upper, upper], output=0)
    for k in range(3):
        assert all(v == 0 for v in e.ledger[k]["residual"].flat)
        assert all(v == 0 for v in e.ledger[k]["remainder"].flat)
        assert_conserves(e.relevance[k], e.relevance[k + 1], e.ledger[k]["missing"].sum(axis=1))


@given(data=dst.data(), rule=st.sampled_from([rules.W2(), rules.Z(), rules.Gamma(Fraction(1, 2))]))
def test_one_layer_full_dtd_with_line_roots_equals_train_free_dtd(data, rule):
    # With one affine layer, phi(a) = w^T a + b is the relevance model itself: its line zero is the train-free root.
    net, x = _draw(data, batch=2, max_depth=1, nonnegative=True)
    full = full_dtd(net, x, LineRoot(rule, t_max=None), output=0)
    free = train_free_dtd(net, x, rule, output=0)
    assert_exact_equal(full.relevance[0], free.relevance[0])


def test_float_and_exact_agree_and_single_input_is_unbatched():
    net = mlp((3, 4, 3, 2), rng=1)
    x = np.abs(np.random.default_rng(0).normal(size=(2, 3)))
    finders = [RegionRoot(), RegionRoot(anchor=0), RegionRoot(anchor=0)]
    approx = full_dtd(net, x, finders, output=1)
    exact = full_dtd(to_exact(net), x, finders, output=1)
    np.testing.assert_array_equal(approx.missing[0], exact.missing[0])
    scale = np.abs(approx.relevance[0]).sum() + 1
    np.testing.assert_allclose(approx.relevance[0], exact.relevance[0].astype(float), rtol=0,
                               atol=EXACT_VS_FLOAT_RTOL * scale)
    single = full_dtd(net, x[1], finders, output=1)
    assert single.relevance[0].shape == (3,) and single.roots[0].shape == (4, 3)
    assert set(single.ledger[0]) == set(full_module.FULL_LEDGER_KEYS)


def test_cost_budget_refuses_what_it_cannot_finish(monkeypatch):
    big = mlp((784, 512, 512, 10), rng=0)
    # c_2 = 1, c_1 = 1 + 11 * 1 = 12, c_0 = 1 + 513 * 12 = 6157; R^0 at one input: 513 * 6157
    assert estimate_points(big, 1) == 513 * 6157
    with pytest.raises(ValueError, match="^x:.*FULL_DTD_MAX_POINTS"):
        full_dtd(big, np.zeros(784), 0, output=0)
    net = mlp((3, 4, 3, 2), rng=1)
    monkeypatch.setattr(full_module, "FULL_DTD_MAX_POINTS", estimate_points(net, 1))
    full_dtd(net, np.ones(3), 0, output=0)  # within budget
    with pytest.raises(ValueError, match="^x:.*FULL_DTD_MAX_POINTS"):  # line searches cost more than the estimate
        full_dtd(net, np.ones(3), [LineRoot(rules.W2()), 0, 0], output=0)


def test_bad_input_raises_naming_the_argument():
    net = mlp((3, 4, 2), rng=0)
    x = np.ones(3)
    with pytest.raises(ValueError, match="^output:"):
        full_dtd(net, x, 0, output=5)
    with pytest.raises(ValueError, match=r"^roots\[1\]:"):
        full_dtd(net, x, [0, np.zeros(3)], output=0)
    with pytest.raises(ValueError, match=r"^roots\[1\]:.*locally constant"):
        full_dtd(net, x, [0, LineRoot(rules.W2())], output=0)
    with pytest.raises(ValueError, match=r"^roots\[1\]:.*locally constant"):
        full_dtd(net, x, [0, RegionRoot()], output=0)
    with pytest.raises(ValueError, match="^roots:"):
        full_dtd(net, x, [0, 0, 0], output=0)  # a flat list of numbers is one array of points
    with pytest.raises(ValueError, match="^roots:"):
        full_dtd(net, x, [np.zeros(3), 0, 0], output=0)
    with pytest.raises(ValueError, match="^roots:"):
        full_dtd(net, x, "zero", output=0)
    with pytest.raises(ValueError, match=r"^roots\[0\]:"):
        full_dtd(net, x, [RegionRoot(anchor=np.zeros(4)), 0], output=0)
    with pytest.raises(ValueError, match="^rule:"):
        LineRoot(rules.Epsilon())
    with pytest.raises(ValueError, match="^t_max:"):
        LineRoot(rules.W2(), t_max=0)
    with pytest.raises(ValueError, match="^x:"):
        full_dtd(net, np.ones(4), 0, output=0)
