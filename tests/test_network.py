"""The piecewise-linear engine: golden values, the local affine map, gradients, reference parity, models."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from dtd_ref import Dense, LeakyReLU, Network, ReLU, c6_network, mlp, to_exact, to_fraction
from dtd_ref import _reference_network as ref
from dtd_ref import strategies as dst
from dtd_ref.models import C6_POSITIVE_BIAS_FACTOR, C6_POSITIVE_WEIGHT_SCALE, C6_WIDTHS
from dtd_ref.testing import (assert_affine_on_region, assert_exact_equal,
                             assert_gradient_matches_finite_difference)

PARITY_RTOL = 1e-12   # vectorised vs loop twin in float64 (different summation order only)
PARITY_ATOL = 1e-12

SMALL = dict(min_depth=1, max_depth=3, max_width=3, relu_on_output=True)


# ---------------------------------------------------------------------------------------------------- golden values
def tiny_network(slope=None):
    """f(x) = W2 relu(W1 x + b1) + b2 with W1 = [[1, -1], [2, 1]], b1 = [0, -1], W2 = [[1, -2]], b2 = [1/2]."""
    act = ReLU() if slope is None else LeakyReLU(slope)
    return Network([Dense([[1.0, -1.0], [2.0, 1.0]], [0.0, -1.0]), act, Dense([[1.0, -2.0]], [0.5])])


# Worked by hand (all numbers dyadic, so float64 is exact and the same values hold in exact mode):
#   x = (3, 1): z1 = (3 - 1 + 0, 6 + 1 - 1) = (2, 6) > 0, pattern (T, T), f = 2 - 2*6 + 1/2 = -9.5
#       J = W2 W1 = [1 - 4, -1 - 2] = [-3, -3]; c = W2 b1 + b2 = (0 + 2) + 1/2 = 2.5 (check -9 - 3 + 2.5 = -9.5)
#       gradient x input = (-3*3, -3*1) = (-9, -3)
#   x = (1, 2): z1 = (1 - 2, 2 + 2 - 1) = (-1, 3), pattern (F, T), f = -2*3 + 1/2 = -5.5
#       J = -2 * W1[1] = [-4, -2]; c = -2*(-1) + 1/2 = 2.5 (check -4 - 4 + 2.5 = -5.5)
#   x = (1, 1) lies on the hinge of unit 0: z1 = (0, 2), pattern (F, T) since ReLU'(0) = 0, f = -4 + 1/2 = -3.5,
#       J = [-4, -2] (the region of pattern (F, T))
GOLDEN_X = [[3.0, 1.0], [1.0, 2.0], [1.0, 1.0]]
GOLDEN = dict(
    out=[[-9.5], [-5.5], [-3.5]],
    z1=[[2.0, 6.0], [-1.0, 3.0], [0.0, 2.0]],
    pattern=[[True, True], [False, True], [False, True]],
    jacobian=[[[-3.0, -3.0]], [[-4.0, -2.0]], [[-4.0, -2.0]]],
    c=[[2.5], [2.5], [2.5]],
    gxi=[[-9.0, -3.0], [-4.0, -4.0], [-4.0, -2.0]],
)
# LeakyReLU(1/4) at x = (1, 2): a1 = (-1/4, 3), f = -1/4 - 6 + 1/2 = -5.75;
#   J = [1/4, -2] W1 = [1/4 - 4, -1/4 - 2] = [-3.75, -2.25]; c = 1/4 * 0 - 2*(-1) + 1/2 = 2.5 (check -3.75 - 4.5 + 2.5)


@pytest.mark.parametrize("exact", [False, True], ids=["float64", "exact"])
def test_golden_values_by_hand(exact):
    net = tiny_network()
    net = net.to_exact() if exact else net
    x = np.array(GOLDEN_X)
    trace = net.trace(x)
    assert_exact_equal(net(x), GOLDEN["out"])
    assert_exact_equal(trace.z[0], GOLDEN["z1"])
    np.testing.assert_array_equal(trace.patterns[0], GOLDEN["pattern"])
    assert_exact_equal(net.jacobian(x), GOLDEN["jacobian"])
    A, c = net.local_affine(x)
    assert_exact_equal(A, GOLDEN["jacobian"])
    assert_exact_equal(c, GOLDEN["c"])
    assert_exact_equal(net.gradient_x_input(x), GOLDEN["gxi"])
    assert_exact_equal(net(x[0]), GOLDEN["out"][0])   # a single (d,) input gives (d_out,)


def test_golden_values_leaky_relu():
    net = tiny_network(slope=0.25)
    assert_exact_equal(net([1.0, 2.0]), [-5.75])
    assert_exact_equal(net.gradient([1.0, 2.0]), [-3.75, -2.25])
    assert_exact_equal(net.local_affine([1.0, 2.0])[1], [2.5])


# ---------------------------------------------------------------------------------------------------- properties
@given(dst.nondegenerate_networks(**SMALL), dst.data())
def test_network_is_affine_on_the_region_of_x(net, data):
    x = data.draw(dst.inputs(net))
    direction = data.draw(dst.inputs(net, bound=1.0))
    scales = np.array([0.0, 1e-9, 1e-6, 1e-3, 1e-1, 1.0])
    points = x + scales[:, None] * direction     # x itself (scale 0) is always in its closed region
    assert_affine_on_region(net, x, points, outside="skip")


@given(dst.nondegenerate_networks(**{**SMALL, "max_width": 2}), dst.data())
def test_network_is_affine_on_the_region_of_x_exactly(net, data):
    net = net.to_exact()
    x = data.draw(dst.inputs(net, denominator=4, exact=True))
    direction = data.draw(dst.inputs(net, denominator=3, exact=True))
    points = np.array([x + Fraction(1, 2 ** k) * direction for k in range(0, 12, 3)] + [x])
    assert_affine_on_region(net, x, points, outside="skip")


@given(dst.nondegenerate_networks(**SMALL), dst.data())
def test_gradient_matches_central_finite_difference(net, data):
    # float_safe: at points where rounding flips a pattern the float Jacobian is wrong by design (test_exact.py)
    x = data.draw(dst.interior_inputs(net, batch=3, float_safe=True))
    assert_gradient_matches_finite_difference(net, x)


@given(dst.nondegenerate_networks(**{**SMALL, "max_width": 2}), dst.data())
def test_gradient_matches_central_finite_difference_exactly(net, data):
    x = data.draw(dst.interior_inputs(net, denominator=8, exact=True))
    assert_gradient_matches_finite_difference(net.to_exact(), x)


@given(dst.networks(**SMALL), dst.data())
def test_jacobian_rows_are_gradients_and_gxi_is_gradient_times_x(net, data):
    x = data.draw(dst.inputs(net, batch=4))
    J = net.jacobian(x)
    for j in range(net.out_features):
        np.testing.assert_array_equal(net.gradient(x, output=j), J[:, j, :])
        np.testing.assert_array_equal(net.gradient_x_input(x, output=j), J[:, j, :] * x)


@given(dst.networks(**SMALL), dst.data())
def test_trace_is_consistent_with_forward_fixed_maps_and_sub_networks(net, data):
    x = data.draw(dst.inputs(net, batch=3))
    trace = net.trace(x)
    np.testing.assert_array_equal(trace.output, net(x))
    for i in range(x.shape[0]):   # single input = row of the batch, up to BLAS summation order (gemv vs gemm)
        np.testing.assert_allclose(net(x[i]), trace.output[i], rtol=PARITY_RTOL, atol=PARITY_ATOL)
    assert [a.shape[1] for a in trace.a] == list(net.widths[:-1])
    assert [z.shape[1] for z in trace.z] == list(net.widths[1:])
    for m, z in enumerate(trace.preactivations):
        np.testing.assert_array_equal(trace.patterns[m], z > 0)
    assert trace.pattern_vector.shape == (3, sum(p.shape[1] for p in trace.patterns))
    # the fixed-pattern maps of x's own pattern reproduce f(x) and (A, c)
    np.testing.assert_allclose(net.forward_fixed(x, trace.patterns), trace.output, rtol=1e-12, atol=1e-12)
    A, c = net.affine_for_pattern(trace.patterns)
    A2, c2 = net.local_affine(x)
    np.testing.assert_array_equal(A, A2)
    np.testing.assert_array_equal(c, c2)
    for (A_m, c_m), z in zip(net.preactivation_maps(trace.patterns), trace.preactivations):
        np.testing.assert_allclose(np.einsum("nji,ni->nj", A_m, x) + c_m, z, rtol=1e-12, atol=1e-12)
    for k in range(len(net.affine_layers)):
        np.testing.assert_array_equal(net.sub(k)(trace.a[k]), trace.output)


# ---------------------------------------------------------------------------------------------------- reference twins
def _parity_cases():
    patterns = lambda net, x: [np.asarray(p) for p in net.trace(x).patterns]  # noqa: E731
    return {
        "forward": (lambda net, x: net(x), lambda net, x: ref.forward(net, x)),
        "preactivations": (lambda net, x: list(net.trace(x).preactivations), ref.trace_preactivations),
        "activation_pattern": (lambda net, x: list(net.activation_pattern(x)), ref.activation_pattern),
        "jacobian": (lambda net, x: net.jacobian(x), ref.jacobian),
        "gradient": (lambda net, x: net.gradient(x, output=net.out_features - 1),
                     lambda net, x: ref.gradient(net, x, net.out_features - 1)),
        "gradient_x_input": (lambda net, x: net.gradient_x_input(x, output=0), ref.gradient_x_input),
        "local_affine": (lambda net, x: list(net.local_affine(x)), lambda net, x: list(ref.local_affine(net, x))),
        "preactivation_maps": (lambda net, x: [a for pair in net.preactivation_maps(patterns(net, x)) for a in pair],
                               lambda net, x: [a for pair in ref.preactivation_maps(net, patterns(net, x))
                                               for a in pair]),
    }


def _compare(fast, slow, exact):
    fast = fast if isinstance(fast, list) else [fast]
    slow = slow if isinstance(slow, list) else [slow]
    assert len(fast) == len(slow)
    for f, s in zip(fast, slow):
        if exact or f.dtype == bool:
            assert_exact_equal(f, s) if f.dtype != bool else np.testing.assert_array_equal(f, s)
        else:
            np.testing.assert_allclose(f, s, rtol=PARITY_RTOL, atol=PARITY_ATOL)


@pytest.mark.parametrize("name", sorted(_parity_cases()))
@pytest.mark.parametrize("exact", [False, True], ids=["float64", "exact"])
def test_vectorised_routines_match_loop_twins(name, exact):
    fast, slow = _parity_cases()[name]
    nets = [mlp((3, 4, 3, 2), rng=1), mlp((2, 3, 2), rng=2, negative_slope=0.25, relu_on_output=True),
            tiny_network()]
    for net in nets:
        x = np.random.default_rng(3).normal(size=(4, net.in_features))
        if net is nets[-1]:
            x = np.array(GOLDEN_X)      # includes a point on a hinge
        if exact:
            net, x = to_exact(net), to_fraction(x)
        _compare(fast(net, x), slow(net, x), exact)


# ---------------------------------------------------------------------------------------------------- models
def test_mlp_is_deterministic_for_a_seed_and_differs_across_seeds():
    a, b, c = mlp((4, 5, 2), rng=7), mlp((4, 5, 2), rng=7), mlp((4, 5, 2), rng=8)
    for la, lb, lc in zip(a.affine_layers, b.affine_layers, c.affine_layers):
        assert la.W.tobytes() == lb.W.tobytes() and la.b.tobytes() == lb.b.tobytes()
        assert not np.array_equal(la.W, lc.W)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(mlp((3, 2), rng=g1).affine_layers[0].W, mlp((3, 2), rng=g2).affine_layers[0].W)


def test_mlp_structure_and_torch_default_init_bounds():
    net = mlp((6, 5, 4, 3), rng=0)
    assert net.widths == (6, 5, 4, 3)
    assert [type(l).__name__ for l in net.layers] == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    for layer in net.affine_layers:
        bound = 1 / np.sqrt(layer.in_features)
        assert np.all(np.abs(layer.W) <= bound) and np.all(np.abs(layer.b) <= bound)
    assert isinstance(mlp((2, 2), rng=0, relu_on_output=True).layers[-1], ReLU)
    leaky = mlp((2, 3, 2), rng=0, negative_slope=0.1)
    assert isinstance(leaky.layers[1], LeakyReLU) and leaky.layers[1].negative_slope == 0.1
    assert all(np.all(l.b == 0) for l in mlp((3, 3, 1), rng=0, bias=False).affine_layers)


def test_positive_weight_scale_multiplies_exactly_the_positive_weights():
    plain = mlp((5, 4, 2), rng=3)
    scaled = mlp((5, 4, 2), rng=3, positive_weight_scale=2.5)
    for p, s in zip(plain.affine_layers, scaled.affine_layers):
        np.testing.assert_array_equal(s.W, np.where(p.W > 0, p.W * 2.5, p.W))
        np.testing.assert_array_equal(s.b, p.b)


def test_c6_network_matches_the_paper_setting():
    net = c6_network(rng=0)
    plain = mlp(C6_WIDTHS, rng=0, relu_on_output=True)
    assert net.widths == (10, 10, 10, 2) and isinstance(net.layers[-1], ReLU)
    assert C6_POSITIVE_WEIGHT_SCALE == pytest.approx(2.744, rel=1e-12)    # 1.4**3: three visits of x1.4
    for layer, base in zip(net.affine_layers, plain.affine_layers):
        assert np.all(layer.b <= 0)
        np.testing.assert_array_equal(layer.W, np.where(base.W > 0, base.W * C6_POSITIVE_WEIGHT_SCALE, base.W))
        np.testing.assert_array_equal(layer.b, np.where(base.b > 0, C6_POSITIVE_BIAS_FACTOR * base.b, base.b))
    for a, b in zip(net.affine_layers, c6_network(rng=0).affine_layers):
        np.testing.assert_array_equal(a.W, b.W)


@pytest.mark.parametrize("kwargs, match", [
    (dict(widths=(3,), rng=0), "widths"),
    (dict(widths=(3, 0), rng=0), "widths"),
    (dict(widths=(3, 2.0), rng=0), "widths"),
    (dict(widths=(3, 2), rng=None), "rng"),
    (dict(widths=(3, 2), rng=1.5), "rng"),
    (dict(widths=(3, 2), rng=0, positive_weight_scale=0), "positive_weight_scale"),
    (dict(widths=(3, 2), rng=0, positive_bias_factor=float("nan")), "positive_bias_factor"),
])
def test_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)


# ---------------------------------------------------------------------------------------------------- LeakyReLU
@given(dst.networks(**SMALL, negative_slope=0.125), dst.data())
def test_leaky_relu_network_matches_its_definition(net, data):
    x = data.draw(dst.inputs(net, batch=3))
    t = x
    for layer in net.layers:   # independent evaluation: z if z > 0 else slope * z
        t = t @ layer.W.T + layer.b if isinstance(layer, Dense) else np.where(t > 0, t, 0.125 * t)
    np.testing.assert_allclose(net(x), t, rtol=1e-12, atol=1e-12)
    for z, pattern in zip(net.trace(x).preactivations, net.trace(x).patterns):
        np.testing.assert_array_equal(pattern, z > 0)


def test_leaky_relu_slope_validation():
    with pytest.raises(ValueError, match="negative_slope"):
        LeakyReLU(1)
    with pytest.raises(ValueError, match="negative_slope"):
        LeakyReLU(float("nan"))
    assert LeakyReLU(Fraction(1, 3)).negative_slope == Fraction(1, 3)


def test_local_affine_of_a_network_without_activations_has_the_batch_size():
    net = Network([Dense([[1.0, 2.0]], [0.5])])
    A, c = net.local_affine(np.zeros((5, 2)))
    assert A.shape == (5, 1, 2) and c.shape == (5, 1)
    assert_exact_equal(A[4], [[1.0, 2.0]])
    assert_exact_equal(c[4], [0.5])
