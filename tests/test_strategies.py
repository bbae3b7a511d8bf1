"""The public hypothesis strategies draw what they promise and validate their bounds when built."""

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, LeakyReLU, Network, ReLU, to_float
from dtd_ref import strategies as dst
from dtd_ref.pooling import MaxPool2d


def on_grid(array, denominator, bound):
    return all(Fraction(v) * denominator == int(Fraction(v) * denominator) and abs(Fraction(v)) <= bound
               for v in np.asarray(array).flat)


@given(dst.networks(in_features=3, out_features=2, min_depth=2, max_depth=4, min_width=2, max_width=5,
                    weight_bound=1.5, weight_denominator=4))
def test_networks_respect_shape_and_weight_bounds(net):
    assert net.in_features == 3 and net.out_features == 2
    assert 2 <= len(net.affine_layers) <= 4
    assert all(2 <= w <= 5 for w in net.widths[1:-1])
    for layer in net.affine_layers:
        assert layer.W.dtype == np.float64
        assert on_grid(layer.W, 4, 1.5) and on_grid(layer.b, 4, 1.5)
    kinds = [type(l) for l in net.layers]
    assert kinds[-1] is Dense and kinds.count(ReLU) == len(net.affine_layers) - 1


@given(dst.networks(bias="nonpositive", relu_on_output=True, negative_slope=0.25, exact=True, weight_denominator=3))
def test_networks_options(net):
    assert net.exact
    assert isinstance(net.layers[-1], LeakyReLU) and net.layers[-1].negative_slope == Fraction(1, 4)
    for layer in net.affine_layers:
        assert all(isinstance(v, Fraction) for v in layer.W.flat)
        assert np.all(layer.b <= 0)
        assert on_grid(layer.W, 3, 2)


@given(dst.networks(bias=False, in_features=st.sampled_from([1, 7])))
def test_networks_without_bias_and_with_a_size_strategy(net):
    assert net.in_features in (1, 7)
    assert all(np.all(layer.b == 0) for layer in net.affine_layers)


@given(dst.nondegenerate_networks(max_width=3, weight_bound=0.25))
def test_nondegenerate_networks_have_proper_distinct_hinges(net):
    # weight_bound 1/4 on the grid of eighths leaves only 5 values: zero rows and repeated rows would be common
    for layer in net.affine_layers:
        assert np.all(np.any(layer.W != 0, axis=1))
        rows = {tuple(np.append(layer.W[j], layer.b[j]) / np.max(np.abs(layer.W[j]))) for j in range(layer.out_features)}
        assert len(rows) == layer.out_features


@given(dst.degenerate_networks(max_width=3))
def test_degenerate_networks_have_a_zero_row(net):
    assert any(np.any(np.all(layer.W == 0, axis=1)) for layer in net.affine_layers)


@given(dst.data())
def test_inputs_shapes_bounds_and_grids(data):
    x = data.draw(dst.inputs(3, batch=4, bound=0.5))
    assert x.shape == (4, 3) and x.dtype == np.float64 and np.all(np.abs(x) <= 0.5) and np.all(np.isfinite(x))
    single = data.draw(dst.inputs(Network([Dense(np.ones((1, 2)), [0.0])])))
    assert single.shape == (2,)
    thirds = data.draw(dst.inputs(2, denominator=3, exact=True, bound=1))
    assert thirds.dtype == object and all(isinstance(v, Fraction) and (3 * v).denominator == 1 and abs(v) <= 1
                                          for v in thirds)
    eighths = data.draw(dst.inputs(2, batch=2, denominator=8))
    assert eighths.dtype == np.float64 and on_grid(eighths, 8, 2)


@given(dst.nondegenerate_networks(min_depth=2, max_depth=3, max_width=3, relu_on_output=True), dst.data())
def test_hinge_points_lie_exactly_on_the_named_unit(net, data):
    hinge = data.draw(dst.hinge_points(net))
    trace = net.to_exact().trace(hinge.x)
    assert hinge.x.dtype == object and hinge.x.shape == (net.in_features,)
    assert trace.preactivations[hinge.layer][0, hinge.unit] == 0
    assert dst.on_hinge(net, hinge.x)[0] or not np.any(
        net.to_exact().preactivation_maps(trace.patterns)[hinge.layer][0][0, hinge.unit] != 0)


@given(dst.nondegenerate_networks(min_depth=3, max_depth=3, max_width=3), dst.data())
def test_hinge_points_honour_a_chosen_deep_unit(net, data):
    hinge = data.draw(dst.hinge_points(net, layer=1, unit=0))
    assert (hinge.layer, hinge.unit) == (1, 0)
    assert net.to_exact().trace(hinge.x).preactivations[1][0, 0] == 0


@given(dst.nondegenerate_networks(min_depth=2, max_width=3), dst.data())
def test_near_hinge_points_are_offset_along_the_normal(net, data):
    near = data.draw(dst.near_hinge_points(net, max_offset=1e-3))
    assert near.x.dtype == np.float64 and abs(near.offset) <= 1e-3
    assert np.linalg.norm(near.direction) == pytest.approx(1.0)
    np.testing.assert_allclose(near.x, to_float(near.hinge.x) + near.offset * near.direction, rtol=0, atol=1e-15)


@given(dst.nondegenerate_networks(max_width=3, relu_on_output=True), dst.data())
def test_interior_inputs_are_not_on_a_hinge(net, data):
    x = data.draw(dst.interior_inputs(net, batch=3, denominator=2))   # a coarse grid puts many points on hinges
    assert not dst.on_hinge(net, x).any()


def test_float_pattern_is_exact_flags_rounding_flips():
    # 3 * nextafter(fl(1/3), 1) = 1 + 2**-53 exactly but rounds to 1.0: float z = 0 (inactive), exact z > 0 (active)
    net = Network([Dense([[3.0]], [-1.0]), ReLU()])
    np.testing.assert_array_equal(dst.float_pattern_is_exact(net, [[np.nextafter(1 / 3, 1)], [0.5]]), [False, True])
    with pytest.raises(ValueError, match="float64 network"):
        dst.float_pattern_is_exact(net.to_exact(), [[0.5]])


def test_on_hinge_detects_exact_zeros_only():
    net = Network([Dense([[3.0]], [-1.0]), ReLU()])
    assert dst.on_hinge(net, np.array([Fraction(1, 3)], dtype=object))[0]
    assert not dst.on_hinge(net, np.array([1 / 3]))[0]          # fl(1/3) is off the hinge by 2**-54
    dead = Network([Dense([[0.0]], [0.0]), ReLU()])                 # z = 0 everywhere: no hinge to be on
    assert not dst.on_hinge(dead, np.array([0.5]))[0]


def window(rows):
    """One max-pool window over the two units ``Dense(rows)`` x (input shape (1, 1, 2)), then the identity."""
    return Network([Dense(rows, [0.0, 0.0]), MaxPool2d((1, 1, 2), (1, 2)), Dense([[1.0]], [0.0])])


def test_on_hinge_counts_bending_max_pool_ties_only():
    # max(x_0, x_1): the tie x_0 = x_1 is where f bends; a window input equal to 0 is no hinge at all.
    net = window(np.eye(2))
    points = np.array([[1, 1], [1, Fraction(1, 2)], [0, -1]], dtype=object)
    np.testing.assert_array_equal(dst.on_hinge(net, points), [True, False, False])
    same = window([[1.0, 0.0], [1.0, 0.0]])                          # max(x_0, x_0): tied everywhere, never bends
    assert not dst.on_hinge(same, np.array([1, 1], dtype=object))[0]


@st.composite
def pooled_networks(draw):
    """Dense(2 -> 4), max-pool windows of 2 over (1, 2, 2), Dense(2 -> 2), ReLU; small nonzero integer weights."""
    ints = st.sampled_from([-2.0, -1.0, 1.0, 2.0])
    W1 = np.array(draw(st.lists(ints, min_size=8, max_size=8))).reshape(4, 2)
    W2 = np.array(draw(st.lists(ints, min_size=4, max_size=4))).reshape(2, 2)
    b1, b2 = (np.array(draw(st.lists(st.integers(-2, 2).map(float), min_size=k, max_size=k))) for k in (4, 2))
    return Network([Dense(W1, b1), MaxPool2d((1, 2, 2), (1, 2)), Dense(W2, b2), ReLU()])


@given(pooled_networks(), dst.data())
def test_hinge_points_behind_a_max_pool_lie_exactly_on_a_relu_unit(net, data):
    # The walk crosses the pool's ties on its way (the pooled map changes its slope there); the hinge is a zero of
    # the ReLU's pre-activation, never of a window element (the pool has no hinge at z = 0).
    hinge = data.draw(dst.hinge_points(net))
    assert hinge.layer == 1
    assert net.to_exact().trace(hinge.x).preactivations[1][0, hinge.unit] == 0


@pytest.mark.parametrize("build, match", [
    (lambda: dst.networks(min_depth=0), "min_depth"),
    (lambda: dst.networks(min_depth=3, max_depth=2), "min_depth=3 exceeds max_depth=2"),
    (lambda: dst.networks(min_width=0), "min_width"),
    (lambda: dst.networks(min_width=4, max_width=3), "min_width=4 exceeds max_width=3"),
    (lambda: dst.networks(weight_bound=-1), "weight_bound"),
    (lambda: dst.networks(weight_bound=float("inf")), "weight_bound"),
    (lambda: dst.networks(weight_bound=0.1, weight_denominator=2), "allows only 0"),
    (lambda: dst.networks(weight_denominator=0), "weight_denominator"),
    (lambda: dst.networks(bias="negative"), "bias"),
    (lambda: dst.networks(bias=1), "bias"),
    (lambda: dst.networks(relu_on_output="yes"), "relu_on_output"),
    (lambda: dst.networks(negative_slope=1.0), "negative_slope"),
    (lambda: dst.networks(negative_slope=float("nan")), "negative_slope"),
    (lambda: dst.networks(in_features=0), "in_features"),
    (lambda: dst.networks(out_features=2.5), "out_features"),
    (lambda: dst.nondegenerate_networks(nonzero_rows=False), "nonzero_rows"),
    (lambda: dst.inputs(0), "net_or_d"),
    (lambda: dst.interior_inputs(Network([Dense([[1.0]], [0.0])]).to_exact(), float_safe=True), "float_safe"),
    (lambda: dst.inputs(2, batch=0), "batch"),
    (lambda: dst.inputs(2, bound=0), "bound"),
    (lambda: dst.inputs(2, denominator=-1), "denominator"),
    (lambda: dst.grid_values(bound=0.1, denominator=2, nonzero=True), "no nonzero value"),
    (lambda: dst.hinge_points("net"), "net: expected a Network"),
    (lambda: dst.hinge_points(Network([Dense([[1.0]], [0.0])])), "no activation layer"),
    (lambda: dst.hinge_points(Network([Dense([[1.0]], [0.0]), ReLU()]), layer=1), "layer"),
    (lambda: dst.hinge_points(Network([Dense([[1.0]], [0.0]), ReLU()]), layer=0, unit=1), "unit"),
    (lambda: dst.hinge_points(Network([Dense([[1.0]], [0.0]), ReLU()]), unit=0), "unit: needs layer"),
    (lambda: dst.near_hinge_points(Network([Dense([[1.0]], [0.0]), ReLU()]), max_offset=0), "max_offset"),
    (lambda: dst.hinge_points(window(np.eye(2))), "no activation layer of the ReLU family"),
    (lambda: dst.hinge_points(Network(window(np.eye(2)).layers + (ReLU(),)), layer=0), "ReLU-family layers only"),
])
def test_bad_bounds_are_rejected_when_the_strategy_is_built(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_modules_import_without_hypothesis_and_explain_how_to_get_it():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import dtd_ref.strategies as s, dtd_ref.testing as t\n"
        "t.assert_conserves([[1.0, 2.0]], [[3.0]])\n"
        "try:\n    s.networks()\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install" in result.stdout and "hypothesis" in result.stdout
