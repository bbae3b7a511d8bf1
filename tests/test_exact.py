"""Exact (Fraction) mode: agreement with float64, and hinge classification where float64 rounds wrongly."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp, to_exact, to_float, to_fraction
from dtd_ref import strategies as dst
from dtd_ref._magnitudes import _magnitude
from dtd_ref.testing import assert_exact_equal

AGREEMENT_RTOL = 1e-12   # float64 vs exact, relative to the magnitude |W| ... |W| |x| + |b| of the computation

SMALL = dict(min_depth=1, max_depth=3, max_width=3, relu_on_output=True)


@given(dst.networks(**SMALL, weight_denominator=7), dst.data())
def test_exact_and_float64_agree_to_1e_12_relative(net, data):
    # denominator 7: the float weights are rounded sevenths, so the float64 pass really rounds
    x = data.draw(dst.inputs(net, batch=4))
    exact_net = to_exact(net)
    exact_out = exact_net(x)
    assert exact_out.dtype == object and all(isinstance(v, (Fraction, int)) for v in exact_out.flat)
    patterns = net.trace(x).patterns
    scale = _magnitude(net, x, patterns)
    np.testing.assert_array_less(np.abs(net(x) - to_float(exact_out)), AGREEMENT_RTOL * scale + 1e-300)
    # patterns agree wherever the exact pre-activation is not within rounding of 0
    for z_float, z_exact in zip(net.trace(x).preactivations, exact_net.trace(x).preactivations):
        clear = np.abs(to_float(z_exact)) > AGREEMENT_RTOL * (np.abs(z_float) + 1)
        np.testing.assert_array_equal((z_float > 0)[clear], np.asarray(z_exact > 0, dtype=bool)[clear])


def test_exact_network_converts_float_input_losslessly_and_float_network_refuses_fractions():
    net = mlp((3, 4, 2), rng=0)
    exact_net = net.to_exact()
    x = np.random.default_rng(0).normal(size=(2, 3))
    assert_exact_equal(exact_net(x), exact_net(to_fraction(x)))
    with pytest.raises(ValueError, match="x: exact"):
        net(to_fraction(x))
    assert to_exact(exact_net) is exact_net
    for layer, exact_layer in zip(net.affine_layers, exact_net.affine_layers):
        assert_exact_equal(exact_layer.W, layer.W)     # Fraction(float) is the float's exact dyadic value


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4),
                  elements=st.floats(allow_nan=False, allow_infinity=False)))
def test_to_fraction_then_to_float_is_the_identity(array):
    back = to_float(to_fraction(array))
    assert back.dtype == np.float64 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)      # -0.0 comes back as 0.0, which compares equal


def test_to_float_rounds_correctly():
    # 1/3 lies between the floats 6004799503160661 * 2**-54 and the next one; the nearest is the former
    assert to_float(np.array([Fraction(1, 3)], dtype=object))[0] == 6004799503160661 * 2.0 ** -54
    assert to_float(np.array([Fraction(10 ** 400, 3 * 10 ** 400)], dtype=object))[0] == 1 / 3


# ---------------------------------------------------------------------------------------------------- hinge points
def test_exact_hinge_point_has_zero_preactivation_where_float64_has_a_tiny_nonzero_one():
    # z = 49 x - 1 has its hinge at x* = 1/49, which float64 cannot hold.  fl(1/49) = 5882252574524729 * 2**-58
    # (2**58 / 49 = 5882252574524728.98, rounded up).  Then 49 * fl(1/49) = (2**58 - 23) * 2**-58 = 1 - 23 * 2**-58
    # exactly; the float product rounds it to the nearest float below 1 spaced 2**-53: 1 - 2**-53 (0.28 ulp away,
    # against 0.72 ulp to 1.0), so float64 gives z = -2**-53 = -1.11e-16 instead of 0.
    net = Network([Dense([[49.0]], [-1.0]), ReLU(), Dense([[1.0]], [0.0])])
    exact_z = net.to_exact().trace(np.array([Fraction(1, 49)], dtype=object)).z[0]
    assert exact_z[0, 0] == 0 and isinstance(exact_z[0, 0], Fraction)
    float_z = net.trace(np.array([1 / 49])).z[0]
    assert float_z[0, 0] == -(2.0 ** -53)
    assert net.to_exact().trace(np.array([1 / 49])).z[0][0, 0] == Fraction(-23, 2 ** 58)   # exact at the float


def test_exact_mode_classifies_a_point_that_float64_puts_on_the_wrong_side():
    # z = 3 x - 1 at x = the float just above fl(1/3).  fl(1/3) = 6004799503160661 * 2**-54 (2**54 / 3 =
    # 6004799503160661.33), so x = 6004799503160662 * 2**-54 and 3 x = 18014398509481986 * 2**-54 = 1 + 2**-53
    # exactly: z = 2**-53 > 0, the unit is ACTIVE with slope 3.  In float64, 1 + 2**-53 is the midpoint of 1 and
    # 1 + 2**-52; ties-to-even gives 1.0, so z = 0: INACTIVE, and the float gradient is 0 instead of 3.
    x = np.array([np.nextafter(1 / 3, 1)])
    assert Fraction(x[0]) == Fraction(6004799503160662, 2 ** 54)
    net = Network([Dense([[3.0]], [-1.0]), ReLU(), Dense([[1.0]], [0.0])])
    assert net.trace(x).z[0][0, 0] == 0.0
    assert not net.activation_pattern(x)[0][0]
    assert net.gradient(x)[0] == 0.0
    exact = net.to_exact()
    assert exact.trace(x).z[0][0, 0] == Fraction(1, 2 ** 53)
    assert exact.activation_pattern(x)[0][0]
    assert exact.gradient(x)[0] == 3
    assert exact(x)[0] == Fraction(1, 2 ** 53)


@given(dst.nondegenerate_networks(**SMALL), dst.data())
def test_hinge_points_are_classified_exactly(net, data):
    hinge = data.draw(dst.hinge_points(net))
    exact_net = net.to_exact()
    trace = exact_net.trace(hinge.x)
    assert trace.preactivations[hinge.layer][0, hinge.unit] == 0
    assert not trace.patterns[hinge.layer][0, hinge.unit]          # ReLU'(0) = 0: on the hinge means inactive


def test_exact_mode_accepts_python_ints_and_huge_rationals():
    W = np.array([[1, 2 ** 80]], dtype=object)
    b = np.array([Fraction(-1, 3 ** 40)], dtype=object)
    net = Network([Dense(W, b), ReLU()])
    x = np.array([Fraction(1, 3 ** 40), Fraction(1, 2 ** 80)], dtype=object)
    # z = 3**-40 + 2**80 * 2**-80 - 3**-40 = 1 exactly
    assert net(x)[0] == 1
    assert net.exact and net.gradient(x)[1] == 2 ** 80


def test_exact_leaky_relu_slope_is_the_exact_value_of_the_float():
    net = Network([Dense([[1.0]], [0.0]), LeakyReLU(0.1)]).to_exact()
    assert net.layers[1].negative_slope == Fraction(0.1)
    assert net(np.array([-1.0]))[0] == -Fraction(0.1)


def test_leaky_relu_slope_follows_the_arithmetic_of_the_network():
    # a float slope in an exact network counts with its exact dyadic value (as to_exact would give it) ...
    exact_net = Network([Dense(np.array([[Fraction(1)]]), np.array([Fraction(0)])), LeakyReLU(0.1)])
    assert exact_net(np.array([-1.0]))[0] == -Fraction(0.1)
    assert exact_net.gradient(np.array([-1.0]))[0] == Fraction(0.1)
    # ... and a Fraction slope in a float network is rounded once to float64: outputs stay float64 arrays
    float_net = Network([Dense([[1.0]], [0.0]), LeakyReLU(Fraction(1, 3))])
    out = float_net(np.array([[-1.0], [2.0]]))
    assert out.dtype == np.float64 and out[0, 0] == -(1 / 3) and out[1, 0] == 2.0
    assert float_net.gradient([-1.0]).dtype == np.float64


# ---------------------------------------------------------------------------------------------------- large integers
def test_to_fraction_keeps_integers_above_2_53_exact():
    # 2**53 + 1 is the first integer float64 cannot hold (it rounds to 2**53); int64 and uint64 extremes likewise.
    values = np.array([2 ** 53 + 1, -(2 ** 63), 2 ** 63 - 1, 7], dtype=np.int64)
    out = to_fraction(values)
    assert out.dtype == object and all(isinstance(v, Fraction) for v in out.flat)
    assert list(out) == [2 ** 53 + 1, -(2 ** 63), 2 ** 63 - 1, 7]
    assert to_fraction(np.array([[2 ** 64 - 1]], dtype=np.uint64))[0, 0] == 2 ** 64 - 1
    assert to_fraction(np.zeros((0, 2), dtype=np.int64)).shape == (0, 2)


def test_float_networks_still_refuse_integers_that_float64_cannot_hold():
    net = Network([Dense([[1.0]], [0.0]), ReLU()])
    with pytest.raises(ValueError, match="cannot be represented exactly in float64"):
        net(np.array([2 ** 53 + 1]))
    with pytest.raises(ValueError, match="cannot be represented exactly in float64"):
        Dense(np.array([[2 ** 53 + 1]]), [0.0])
    assert net(np.array([2 ** 53]))[0] == 2.0 ** 53       # a power of two is held exactly, and accepted


def test_exact_network_from_large_integer_parameters():
    # z = (2**53 + 1) x - (2**53 + 1) at x = 2: exactly 2**53 + 1, which float64 would round to 2**53
    W = to_fraction(np.array([[2 ** 53 + 1]], dtype=np.int64))
    b = to_fraction(np.array([-(2 ** 53 + 1)], dtype=np.int64))
    net = Network([Dense(W, b), ReLU()])
    assert net(np.array([2.0]))[0] == 2 ** 53 + 1


def test_exact_network_takes_integer_inputs_beyond_float64():
    # 2**53 + 1 is not a float64; through the exact network y = 1 * x + 0 it must come out unchanged.
    from dtd_ref import Dense, Network

    net = Network([Dense([[1]], [0])]).to_exact()
    big = np.array([2**53 + 1], dtype=np.int64)
    assert net(big)[0] == 2**53 + 1
