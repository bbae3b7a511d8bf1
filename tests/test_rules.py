"""Rules: roots on hyperplanes, exact conservation up to the ledger, the documented degenerate-case policies."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, to_fraction
from dtd_ref import rules
from dtd_ref import strategies as dst
from dtd_ref.testing import assert_conserves, assert_exact_equal

ROOT_RULES = [rules.W2(), rules.Z(), rules.ZPlus(), rules.Gamma(Fraction(1, 2)), rules.ZBox(-3, 3)]
ALL_RULES = ROOT_RULES + [rules.LRP0(), rules.Epsilon(Fraction(1, 16)), rules.AlphaBeta(2, 1), rules.Flat()]
GAMMA_LIMIT_RTOL = 1e-5  # |R_gamma - R_z+| relative to sum |R| at gamma = 1e6 (the gap shrinks like 1 / gamma)


def _layer_and_inputs(data, *, exact=True, nonnegative=True, bias=True):
    """A single exact Dense layer, a batch of inputs a in [-2, 2] (or [0, 2]) and relevance R >= 0 per neuron."""
    net = data.draw(dst.networks(max_depth=1, max_width=4, exact=exact, bias=bias))
    layer = net.affine_layers[0]
    a = data.draw(dst.inputs(net, batch=3, denominator=4, exact=exact))
    if nonnegative:
        a = np.abs(a)
    R = np.abs(data.draw(dst.inputs(layer.out_features, batch=3, denominator=4, exact=exact)))
    return layer, a, R


@given(rule=st.sampled_from(ROOT_RULES), data=dst.data())
def test_every_line_search_root_lies_on_its_hyperplane(rule, data):
    layer, a, _ = _layer_and_inputs(data)
    z = layer.forward(a)
    roots, missing = rules.root_point(rule, layer, a, z)
    assert roots.shape == (a.shape[0], layer.out_features, a.shape[1])
    W, b = layer.weight_matrix(), layer.bias_vector()
    for n, j in zip(*np.nonzero(~missing)):
        assert W[j] @ roots[n, j] + b[j] == 0
    # a root is missing exactly when w_j^T v_j = 0
    V = rule.v(a, W)
    np.testing.assert_array_equal(missing, np.asarray(np.einsum("njd,jd->nj", V, W) == 0, dtype=bool))


@given(rule=st.sampled_from(ALL_RULES), data=dst.data())
def test_redistribute_conserves_exactly_up_to_the_ledger(rule, data):
    layer, a, R = _layer_and_inputs(data)
    active = np.asarray(data.draw(dst.inputs(layer.out_features, batch=3, denominator=1)) >= 0)
    lower, ledger = rules.redistribute(rule, layer, a, R, active=active)
    assert set(ledger) == set(rules.LEDGER_KEYS)
    absorbed = sum(entry.sum(axis=1) for entry in ledger.values())
    assert_conserves(lower, R, absorbed)
    assert_exact_equal(ledger["inactive"], np.where(active, 0, R))
    if getattr(rule, "root_search", False):  # root searches leave the bias out: nothing absorbed by it
        assert all(v == 0 for v in ledger["bias"].flat) and all(v == 0 for v in ledger["epsilon"].flat)


@given(data=dst.data())
def test_zplus_roots_lie_on_the_segment_from_the_nonpositive_corner_to_a(data):
    net = data.draw(dst.networks(max_depth=1, exact=True, bias="nonpositive", nonzero_rows=True))
    layer = net.affine_layers[0]
    a = np.abs(data.draw(dst.inputs(net, batch=3, denominator=4, exact=True)))
    z = layer.forward(a)
    active = np.asarray(z > 0, dtype=bool)
    roots, missing = rules.root_point(rules.ZPlus(), layer, a, z, active=active)
    assert not missing.any()  # b <= 0 and z > 0 force sum_i a_i w_ji^+ > 0
    W = layer.weight_matrix()
    for n, j in zip(*np.nonzero(active)):
        # THEORY.md writes the corner a (.) 1[w_j < 0]; with a zero weight w_ji = 0 the root keeps a_i (v_ji = 0), so
        # the corner that is exact for every weight is a (.) 1[w_j <= 0].  Strategies draw zero weights often.
        corner = a[n] * (W[j] <= 0)
        # root = corner + lam (a - corner) for one lam in [0, 1]; on coordinates with w_ji > 0 it is lam a_i
        direction = a[n] - corner
        lam = {root_i / d_i for root_i, d_i, c_i in zip(roots[n, j] - corner, direction, corner) if d_i != 0}
        assert len(lam) <= 1 and all(0 <= t <= 1 for t in lam)
        assert_exact_equal(roots[n, j][direction == 0], corner[direction == 0])


@given(data=dst.data())
def test_alpha1_beta0_equals_zplus_for_nonnegative_inputs(data):
    layer, a, R = _layer_and_inputs(data)
    zplus, ledger_z = rules.redistribute(rules.ZPlus(), layer, a, R)
    ab, ledger_ab = rules.redistribute(rules.AlphaBeta(1, 0), layer, a, R)
    assert_exact_equal(ab, zplus)
    assert_exact_equal(ledger_ab["skipped"], ledger_z["skipped"])


def test_gamma_approaches_zplus_as_gamma_grows():
    rng = np.random.default_rng(0)
    layer = Dense(rng.normal(size=(5, 6)), -np.abs(rng.normal(size=5)))
    a = np.abs(rng.normal(size=(4, 6)))
    R = np.abs(rng.normal(size=(4, 5)))
    active = layer.forward(a) > 0  # b <= 0: an active neuron has a positive weight on a positive input
    assert active.sum() >= 5
    zplus, _ = rules.redistribute(rules.ZPlus(), layer, a, R, active=active)
    gaps = [np.abs(rules.redistribute(rules.Gamma(g), layer, a, R, active=active)[0] - zplus).max()
            for g in (1e2, 1e4, 1e6)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[1] < gaps[0] / 50 and gaps[2] < gaps[1] / 50  # O(1 / gamma)
    assert gaps[2] <= GAMMA_LIMIT_RTOL * np.abs(zplus).sum()
    z_rule, _ = rules.redistribute(rules.Z(), layer, a, R)
    gamma0, _ = rules.redistribute(rules.Gamma(0), layer, a, R)
    np.testing.assert_array_equal(gamma0, z_rule)  # gamma = 0 is the z rule


def test_hand_worked_zplus_and_w2():
    # W = [[2, -1], [1, 1]], b = [-1, 0], a = [1, 2]:  z = [2 - 2 - 1, 1 + 2] = [-1, 3]
    # Only neuron 1 is active.  z+: v_1 = a (.) [1, 1] = [1, 2], w_1^T v_1 = 3, t = 3 / 3 = 1, root = [0, 0];
    # R = [0, 6]: R_i = a_i w_1i^+ / 3 * 6 = [2, 4].
    # w2: v_1 = w_1 = [1, 1], |w_1|^2 = 2, t = 3 / 2, root = [1, 2] - 1.5 [1, 1] = [-1/2, 1/2];
    # R_i = w_1i^2 / 2 * 6 = [3, 3].
    layer = Dense(to_fraction(np.array([[2.0, -1.0], [1.0, 1.0]])), to_fraction(np.array([-1.0, 0.0])))
    a = to_fraction(np.array([[1.0, 2.0]]))
    R = to_fraction(np.array([[0.0, 6.0]]))
    active = np.array([[False, True]])
    z = layer.forward(a)
    R_zplus, _ = rules.redistribute(rules.ZPlus(), layer, a, R, active=active)
    assert_exact_equal(R_zplus, [[2, 4]])
    roots, _ = rules.root_point(rules.ZPlus(), layer, a, z, active=active)
    assert_exact_equal(roots[0], [[1, 2], [0, 0]])  # inactive neuron 0: the root is a itself
    R_w2, _ = rules.redistribute(rules.W2(), layer, a, R, active=active)
    assert_exact_equal(R_w2, [[3, 3]])
    roots, _ = rules.root_point(rules.W2(), layer, a, z, active=active)
    assert_exact_equal(roots[0, 1], [Fraction(-1, 2), Fraction(1, 2)])


def test_lrp0_has_the_constant_root_zero_and_books_the_bias():
    # W = [[1, 1]], b = [-1], a = [1, 2]: z = 2; R = 4 -> R_i = a_i / 2 * 4 = [2, 4], bias b / z R = -2.
    layer = Dense(to_fraction(np.array([[1.0, 1.0]])), to_fraction(np.array([-1.0])))
    a = to_fraction(np.array([[1.0, 2.0]]))
    lower, ledger = rules.redistribute(rules.LRP0(), layer, a, to_fraction(np.array([[4.0]])))
    assert_exact_equal(lower, [[2, 4]])
    assert_exact_equal(ledger["bias"], [[-2]])
    roots, missing = rules.root_point(rules.LRP0(), layer, a, layer.forward(a))
    assert_exact_equal(roots, np.zeros((1, 1, 2))) and not missing.any()


def test_epsilon_uses_sign_zero_plus_one_and_books_epsilon_and_bias():
    # W = [[1, -1]], b = [0], a = [1, 1]: z = 0, sign(0) = +1, den = 0 + 1/4; R = 1 -> s = 4, R_i = [4, -4].
    layer = Dense(to_fraction(np.array([[1.0, -1.0]])), to_fraction(np.array([0.0])))
    a = to_fraction(np.array([[1.0, 1.0]]))
    lower, ledger = rules.redistribute(rules.Epsilon(Fraction(1, 4)), layer, a, to_fraction(np.array([[1.0]])))
    assert_exact_equal(lower, [[4, -4]])
    assert_exact_equal(ledger["epsilon"], [[1]])


def test_zero_denominator_is_skipped_and_booked_or_raises():
    # neuron 0 has w = 0: w^T v = 0 for every rule, so there is no root on the line.
    layer = Dense(to_fraction(np.array([[0.0, 0.0], [1.0, 1.0]])), to_fraction(np.array([1.0, 0.0])))
    a = to_fraction(np.array([[1.0, 1.0]]))
    R = to_fraction(np.array([[3.0, 2.0]]))
    for rule in (rules.W2(), rules.ZPlus(), rules.Z()):
        lower, ledger = rules.redistribute(rule, layer, a, R)
        assert_exact_equal(ledger["skipped"], [[3, 0]])
        roots, missing = rules.root_point(rule, layer, a, layer.forward(a))
        assert missing.tolist() == [[True, False]] and all(v is None for v in roots[0, 0])
    with pytest.raises(ValueError, match="on_zero"):
        rules.redistribute(rules.W2(on_zero="raise"), layer, a, R)
    with pytest.raises(ValueError, match="on_zero"):
        rules.root_point(rules.ZPlus(on_zero="raise"), layer, a, layer.forward(a))
    # LRP-0 divides by z_j: with w_0 = 0 and b_0 = 0, z_0 = 0 is skipped (booked) or raises
    flat_zero = Dense(to_fraction(np.array([[0.0, 0.0], [1.0, 1.0]])), to_fraction(np.array([0.0, 0.0])))
    _, ledger = rules.redistribute(rules.LRP0(), flat_zero, a, R)
    assert_exact_equal(ledger["skipped"], [[3, 0]])
    for rule in (rules.LRP0(on_zero="raise"), rules.AlphaBeta(1, 0, on_zero="raise")):
        with pytest.raises(ValueError, match="on_zero"):
            rules.redistribute(rule, flat_zero, a, R)
    lower, ledger = rules.redistribute(rules.W2(), layer.map_arrays(lambda v: v.astype(float)),
                                       np.ones((1, 2)), np.array([[3.0, 2.0]]))
    roots, missing = rules.root_point(rules.W2(), layer.map_arrays(lambda v: v.astype(float)), np.ones((1, 2)),
                                      np.array([[1.0, 2.0]]))
    assert np.isnan(roots[0, 0]).all() and not np.isnan(roots[0, 1]).any()


def test_zplus_refuses_negative_inputs_unless_allowed():
    layer = Dense(np.array([[1.0, 1.0]]), np.array([0.0]))
    a, R = np.array([[2.0, -1.0]]), np.array([[1.0]])
    with pytest.raises(ValueError, match="non-negative"):
        rules.redistribute(rules.ZPlus(), layer, a, R)
    lower, _ = rules.redistribute(rules.ZPlus(negative_inputs="allow"), layer, a, R)
    np.testing.assert_array_equal(lower, [[2.0, -1.0]])  # v = a (.) 1[w > 0] = a, w^T v = 2 - 1 = 1


@pytest.mark.parametrize("make, name", [
    (lambda: rules.Gamma(-0.5), "gamma"),
    (lambda: rules.Gamma(float("inf")), "gamma"),
    (lambda: rules.AlphaBeta(2, 0.5), "alpha, beta"),
    (lambda: rules.AlphaBeta(1.5, -0.5), "beta"),
    (lambda: rules.AlphaBeta(0.5, -0.5), "alpha"),
    (lambda: rules.Epsilon(-1e-3), "epsilon"),
    (lambda: rules.ZBox(1.0, 0.0), "low, high"),
    (lambda: rules.ZBox([0.0, 0.0], [1.0, 1.0, 1.0]), "low, high"),
    (lambda: rules.W2(on_zero="ignore"), "on_zero"),
    (lambda: rules.LRP0(on_zero=None), "on_zero"),
    (lambda: rules.ZPlus(negative_inputs="clip"), "negative_inputs"),
])
def test_bad_rule_parameters_raise_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        make()


def test_alpha_minus_beta_within_float_rounding_is_accepted_and_exactly_conservative():
    rule = rules.AlphaBeta(1.1, 0.1)  # 1.1 - 0.1 = 1.0000000000000002 in float64
    layer = Dense(to_fraction(np.array([[1.0, -2.0]])), to_fraction(np.array([0.0])))
    a, R = to_fraction(np.array([[1.0, 1.0]])), to_fraction(np.array([[3.0]]))
    lower, ledger = rules.redistribute(rule, layer, a, R)
    assert_conserves(lower, R, sum(v.sum(axis=1) for v in ledger.values()))


def test_bad_arrays_raise_naming_the_argument():
    layer = Dense(np.ones((2, 3)), np.zeros(2))
    a, R = np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="^R:"):
        rules.redistribute(rules.ZPlus(), layer, a, np.ones((4, 3)))
    with pytest.raises(ValueError, match="^R:"):
        rules.redistribute(rules.ZPlus(), layer, a, np.ones((3, 2)))
    with pytest.raises(ValueError, match="^a:"):
        rules.redistribute(rules.ZPlus(), layer, np.ones((4, 2)), R)
    with pytest.raises(ValueError, match="^active:"):
        rules.redistribute(rules.ZPlus(), layer, a, R, active=np.ones((4, 3), dtype=bool))
    with pytest.raises(ValueError, match="^numerator:"):
        rules.root_point(rules.W2(), layer, a, np.ones(2))
    with pytest.raises(ValueError, match="^rule:"):
        rules.root_point(rules.Epsilon(), layer, a, R)
    with pytest.raises(ValueError, match="z\\^B box"):
        rules.redistribute(rules.ZBox(0.0, 0.5), layer, a, R)
    with pytest.raises(ValueError, match="^low:"):
        rules.redistribute(rules.ZBox([0.0, 0.0], [2.0, 2.0]), layer, a, R)
    with pytest.raises(ValueError, match="^a:.*exact"):
        rules.redistribute(rules.ZPlus(), layer, to_fraction(a), R)
