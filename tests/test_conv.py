"""Conv2d and Flatten: dense-matrix and loop-twin parity, adjointness, exact mode, and the engine on conv networks.

Pooling layers have their own file (test_pooling.py); torch / zennit parity is in test_conv_crosscheck.py.
"""

from fractions import Fraction

import numpy as np
import pytest
from _conv_strategies import conv_configs, conv_from_config
from hypothesis import given, strategies as st

from dtd_ref import _reference_conv as ref
from dtd_ref.conv import Conv2d, Flatten, WindowGeometry
from dtd_ref.exact import to_float, to_fraction
from dtd_ref.layers import Dense, ReLU
from dtd_ref.lenet import convnet, lenet
from dtd_ref.network import Network
from dtd_ref.pooling import AvgPool2d, MaxPool2d
from dtd_ref.regions import region_of

#: Relative tolerance of float64 comparisons between two summation orders of the same products.
SUM_ORDER_RTOL = 1e-12


def _close(actual, desired, rtol=SUM_ORDER_RTOL):
    actual, desired = to_float(np.asarray(actual)), to_float(np.asarray(desired))
    scale = max(1.0, float(np.max(np.abs(desired))) if desired.size else 1.0)
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale)


# ---------------------------------------------------------------------------------------------------- layer table
def _conv(seed, c_in=2, c_out=4, k=(3, 3), hw=(5, 6), **kw):
    rng = np.random.default_rng(seed)
    groups = kw.get("groups", 1)
    W = rng.normal(size=(c_out, c_in // groups) + tuple(k))
    return Conv2d(W, rng.normal(size=c_out), input_shape=(c_in,) + hw, **kw)


LAYERS = {
    "conv": lambda: _conv(0),
    "conv_stride2_pad1": lambda: _conv(1, stride=2, padding=1),
    "conv_dilation2": lambda: _conv(2, dilation=2, padding=(2, 1)),
    "conv_groups2": lambda: _conv(3, c_in=4, c_out=6, groups=2, padding=1),
    "conv_depthwise_rect": lambda: _conv(4, c_in=3, c_out=3, k=(1, 3), groups=3, stride=(2, 1)),
    "avgpool": lambda: AvgPool2d((2, 5, 6), 2),
    "avgpool_pad_exclude": lambda: AvgPool2d((2, 5, 6), 3, 2, padding=1, count_include_pad=False),
    "avgpool_pad_include": lambda: AvgPool2d((2, 5, 6), (2, 3), 1, padding=(1, 1)),
}
POOLS = {
    "maxpool": lambda: MaxPool2d((2, 5, 6), 2),
    "maxpool_overlap_pad": lambda: MaxPool2d((2, 5, 6), 3, 1, padding=1),
    "maxpool_dilated": lambda: MaxPool2d((1, 6, 6), 2, 1, dilation=2),
}


@pytest.mark.parametrize("routine", ["weight_matrix", "receptive_field", "forward", "linear_T"])
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("exact", [False, True], ids=["float", "exact"])
def test_affine_routines_match_loop_twins(name, routine, exact):
    layer = LAYERS[name]()
    if exact:
        layer = layer.map_arrays(to_fraction)
    rng = np.random.default_rng(7)
    convert = to_fraction if exact else (lambda v: v)
    if routine == "weight_matrix":
        fast, slow = layer.weight_matrix(), ref.weight_matrix(layer)
    elif routine == "receptive_field":
        fast, slow = layer.receptive_field(), ref.receptive_field(layer)
        assert fast.dtype == bool and (fast == slow).all()
        return
    elif routine == "forward":
        a = convert(rng.normal(size=(2, layer.in_features)))
        fast, slow = layer.forward(a), ref.forward(layer, a)
    else:
        g = convert(rng.normal(size=(2, layer.out_features)))
        fast, slow = layer.linear_T(g), ref.linear_T(layer, g)
    assert fast.shape == slow.shape
    if exact:
        assert fast.dtype == object and (fast == slow).all()
    else:
        _close(fast, slow)


@pytest.mark.parametrize("routine", ["forward", "pattern", "pattern_towards", "apply_pattern", "apply_pattern_T",
                                     "region_rows"])
@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize("ties", [False, True], ids=["generic", "ties"])
def test_maxpool_routines_match_loop_twins(name, routine, ties):
    layer = POOLS[name]()
    rng = np.random.default_rng(8)
    n, d = 3, layer.in_features
    z = rng.integers(-1, 2, size=(n, d)).astype(float) if ties else rng.normal(size=(n, d))
    pattern = layer.pattern(z)
    if routine == "forward":
        fast, slow = layer.forward(z), ref.forward(layer, z)
    elif routine == "pattern":
        fast, slow = pattern, ref.pattern(layer, z)
    elif routine == "pattern_towards":
        dz = rng.integers(-1, 2, size=(n, d)).astype(float)
        fast, slow = layer.pattern_towards(z, dz), ref.pattern_towards(layer, z, dz)
    elif routine == "apply_pattern":
        t = rng.normal(size=(n, 4, d))
        fast, slow = layer.apply_pattern(pattern, t), ref.apply_pattern(layer, pattern, t)
    elif routine == "apply_pattern_T":
        g = rng.normal(size=(n, 4, layer.out_features))
        fast, slow = layer.apply_pattern_T(pattern, g), ref.apply_pattern_T(layer, pattern, g)
    else:
        A, c = rng.normal(size=(n, d, 5)), rng.normal(size=(n, d))
        fast, slow = layer.region_rows(pattern, A, c), ref.region_rows(layer, pattern, A, c)
        assert fast[1].shape == slow[1].shape
        np.testing.assert_array_equal(fast[1], slow[1])
        fast, slow = fast[0], slow[0]
    assert fast.shape == slow.shape
    if routine == "apply_pattern_T":  # overlapping windows sum at a shared winner, in another order
        _close(fast, slow)
    else:
        np.testing.assert_array_equal(fast, slow)  # selections and differences of single entries: no rounding


# ---------------------------------------------------------------------------------------------------- properties
def conv_layers():
    """Valid Conv2d layers with small shapes (see _conv_strategies.conv_configs)."""
    return conv_configs(max_groups=2, max_hw=6).map(lambda cfg: conv_from_config(cfg, np.random.default_rng(cfg["seed"])))


@given(conv_layers(), st.integers(0, 2**32 - 1))
def test_conv_is_its_dense_matrix(layer, seed):
    M = layer.weight_matrix()
    np.testing.assert_array_equal(M, ref.weight_matrix(layer))
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, layer.in_features))
    _close(layer.forward(a), a @ M.T + layer.bias_vector())
    T = rng.normal(size=(2, 3, layer.in_features))  # batched matrices, as Jacobians pass through
    _close(layer.linear(T), T @ M.T)
    G = rng.normal(size=(2, 3, layer.out_features))
    _close(layer.linear_T(G), G @ M)


@given(conv_layers(), st.integers(0, 2**32 - 1))
def test_conv_exact_equals_dense_matrix_exactly(layer, seed):
    exact = layer.map_arrays(to_fraction)
    rng = np.random.default_rng(seed)
    a = to_fraction(rng.integers(-3, 4, size=(1, layer.in_features)) / 4)
    M = exact.weight_matrix()
    z = exact.forward(a)
    assert z.dtype == object
    assert (z == a @ M.T + exact.bias_vector()).all()
    g = to_fraction(rng.integers(-3, 4, size=(1, layer.out_features)) / 2)
    assert (exact.linear_T(g) == g @ M).all()


def test_conv_golden_by_hand():
    # 1x3x3 input 1..9 (row-major), one 2x2 kernel [[1, 0], [0, -1]], bias 1/2, stride 1, no padding:
    # z[h, w] = x[h, w] - x[h+1, w+1] + 1/2 = -4 + 1/2 everywhere (neighbours on the diagonal differ by 4).
    layer = Conv2d([[[[1.0, 0.0], [0.0, -1.0]]]], [0.5], input_shape=(1, 3, 3))
    np.testing.assert_array_equal(layer.forward(np.arange(1.0, 10.0)[None]), [[-3.5, -3.5, -3.5, -3.5]])
    # padding 1, stride 2: output 2x2 at padded rows/cols {0, 2}; window (0, 0) reads pad and x[0, 0] = 1 at its
    # bottom-right, so z = 0 - 1 + 1/2 = -1/2; window (1, 1) reads x[1, 1] = 5 and x[2, 2] = 9: 5 - 9 + 1/2.
    padded = Conv2d([[[[1.0, 0.0], [0.0, -1.0]]]], [0.5], input_shape=(1, 3, 3), padding=1, stride=2)
    np.testing.assert_array_equal(padded.forward(np.arange(1.0, 10.0)[None]), [[-0.5, -2.5, -6.5, -3.5]])


def test_window_geometry_output_size_formula():
    # H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1: (7 + 2 - 2*2 - 1) / 2 + 1 = 3; (5 + 0 - 1 - 1) / 1 + 1 = 4
    geo = WindowGeometry((1, 7, 5), (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))
    assert geo.output_hw == (3, 4)
    assert geo.window_index().shape == (1, 6, 3, 4)


# ---------------------------------------------------------------------------------------------------- networks
def _tiny_net(seed, pool="max", **kw):
    return convnet((2, 6, 6), rng=seed, channels=(2,), pool=pool, classes=3, **kw)


@pytest.mark.parametrize("pool", ["max", "avg", None])
def test_conv_network_equals_its_dense_twin(pool):
    # Replacing every Conv2d / AvgPool2d by Dense(weight_matrix, bias_vector) must change nothing: outputs,
    # Jacobians and local affine maps of the two networks agree.
    net = _tiny_net(3, pool=pool, padding=1)
    dense = Network([Dense(l.weight_matrix(), l.bias_vector()) if l.kind == "affine" else l for l in net.layers])
    x = np.random.default_rng(0).normal(size=(4, net.in_features))
    _close(net(x), dense(x))
    _close(net.jacobian(x), dense.jacobian(x))
    for mine, theirs in zip(net.local_affine(x), dense.local_affine(x)):
        _close(mine, theirs)


@given(st.integers(0, 2**32 - 1), st.sampled_from(["max", "avg"]), st.integers(0, 1))
def test_gradient_is_an_exact_directional_derivative(seed, pool, padding):
    # On the region of x, f(x + h u) - f(x) = h grad f(x)^T u with no remainder (piecewise linear).  Checked in
    # exact rationals, so equality is exact; h is halved until x + h u has x's pattern (generic x: a few steps).
    net = _tiny_net(seed, pool=pool, padding=padding).to_exact()
    rng = np.random.default_rng(seed)
    x = to_fraction(rng.integers(-8, 9, size=net.in_features) / 8)
    u = to_fraction(rng.integers(-4, 5, size=net.in_features) / 4)
    h = Fraction(1, 64)
    pattern = net.trace(x[None]).pattern_vector
    while not (net.trace((x + h * u)[None]).pattern_vector == pattern).all():
        h /= 2
    J = net.jacobian(x)
    assert ((net(x + h * u) - net(x)) == h * (J @ u)).all()
    A, c = net.local_affine(x)
    assert (A @ (x + h * u) + c == net(x + h * u)).all()


@given(st.integers(0, 2**32 - 1), st.sampled_from(["max", "avg"]))
def test_region_membership_is_pattern_equality(seed, pool):
    # region_of(net, x) with strict rows must contain exactly the points that have x's pattern, on conv networks
    # with max pooling (rows: winner >= window) and average pooling (affine, no rows).
    net = _tiny_net(seed, pool=pool, padding=1)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=net.in_features)
    region = region_of(net, x)
    points = x + rng.normal(size=(40, net.in_features)) * np.logspace(-4, 0, 40)[:, None]
    same = (net.trace(points).pattern_vector == net.trace(x[None]).pattern_vector).all(axis=1)
    assert same[0] and not same[-1]  # both outcomes occur, so the check is not vacuous
    np.testing.assert_array_equal(region.contains(points, closed=False), same)
    assert region.contains(x[None]).all()


def test_exact_mode_on_a_tiny_conv_net_agrees_with_float():
    net = _tiny_net(5, padding=1)
    exact = net.to_exact()
    x = np.random.default_rng(1).normal(size=(2, net.in_features))
    y = exact(x)
    assert y.dtype == object and all(isinstance(v, Fraction) for v in y.flat)
    _close(to_float(y), net(x))
    assert [p.tolist() for p in exact.trace(x).patterns] == [p.tolist() for p in net.trace(x).patterns]
    A, c = exact.local_affine(x)
    assert (np.einsum("nij,nj->ni", A, to_fraction(x)) + c == y).all()


def test_lenet_shapes_and_layer_indexing():
    net = lenet(rng=0)
    assert net.in_features == 784 and net.out_features == 10
    assert net.widths == (784, 6 * 24 * 24, 16 * 8 * 8, 120, 84, 10)  # affine layers: conv1, conv2, 3 dense
    assert not any(isinstance(l, Flatten) for l in net.layers)  # Flatten counts in no index
    trace = net.trace(np.random.default_rng(0).random((2, 784)))
    assert [a.shape[1] for a in trace.a] == [784, 6 * 12 * 12, 256, 120, 84]
    assert lenet(rng=0, pool="avg").widths == (784, 3456, 864, 1024, 256, 120, 84, 10)


def test_flatten_is_dropped_and_checks_its_size():
    dense = Dense(np.ones((2, 8)), np.zeros(2))
    conv = Conv2d(np.ones((2, 1, 1, 1)), np.zeros(2), input_shape=(1, 2, 2))
    net = Network([conv, ReLU(), Flatten((2, 2, 2)), dense])
    assert len(net.layers) == 3 and net.affine_index == (0, 2)
    assert Network([conv, Flatten(), dense]).widths == (4, 8, 2)
    with pytest.raises(ValueError, match="inputs"):
        Network([conv, Flatten((3, 2, 2)), Dense(np.ones((2, 12)), np.zeros(2))])


@pytest.mark.parametrize("kwargs, match", [
    (dict(W=np.ones((2, 1, 3)), b=np.zeros(2), input_shape=(1, 4, 4)), "W"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(3), input_shape=(1, 4, 4)), "b"),
    (dict(W=np.ones((3, 1, 3, 3)), b=np.zeros(3), input_shape=(2, 4, 4), groups=2), "groups"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(2), input_shape=(1, 2, 4)), "kernel_size"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(2), input_shape=(1, 4)), "input_shape"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(2), input_shape=(1, 4, 4), stride=0), "stride"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(2), input_shape=(1, 4, 4), padding=-1), "padding"),
    (dict(W=np.ones((2, 1, 3, 3)), b=np.zeros(2), input_shape=(1, 4, 4), groups=0), "groups"),
    (dict(W=np.full((2, 1, 3, 3), np.nan), b=np.zeros(2), input_shape=(1, 4, 4)), "W"),
])
def test_conv_rejects_bad_arguments(kwargs, match):
    W, b = kwargs.pop("W"), kwargs.pop("b")
    with pytest.raises(ValueError, match=match):
        Conv2d(W, b, **kwargs)


def test_network_rejects_size_mismatch_after_conv():
    conv = Conv2d(np.ones((2, 1, 3, 3)), np.zeros(2), input_shape=(1, 4, 4))  # 16 -> 2*2*2 = 8
    with pytest.raises(ValueError, match="affine layer 1 expects 9 inputs"):
        Network([conv, ReLU(), Dense(np.ones((1, 9)), np.zeros(1))])


# ---------------------------------------------------------------------------------------------------- DTD on conv nets
from dtd_ref import rules  # noqa: E402
from dtd_ref.dtd import train_free_dtd  # noqa: E402

RULES = {
    "zplus": rules.ZPlus(), "w2": rules.W2(), "z": rules.Z(), "gamma": rules.Gamma(0.5), "lrp0": rules.LRP0(),
    "epsilon": rules.Epsilon(0.1), "alphabeta": rules.AlphaBeta(2, 1), "flat": rules.Flat(),
    "zbox": rules.ZBox(0.0, 1.0),
}


def _dtd_net(seed, pool, **kw):
    return convnet((1, 6, 6), rng=seed, channels=(2,), pool=pool, classes=2, relu_on_output=True,
                   positive_bias_factor=-1.0, **kw)


def _densified(net):
    return Network([Dense(l.weight_matrix(), l.bias_vector()) if l.kind == "affine" else l for l in net.layers])


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_conv_rules_equal_the_dense_matrix_rules(name, pool):
    # The kernel path (modified kernels, im2col) and the dense-matrix path of the same network give the same
    # relevance at every layer, and the same roots (conv roots search only the receptive field; for z / gamma /
    # z^B the dense twin's direction also moves unconnected inputs, so roots are compared for the other rules).
    net = _dtd_net(11, pool, padding=1)
    x = np.random.default_rng(2).random((3, net.in_features))
    mine = train_free_dtd(net, x, RULES[name], output=1)
    dense = train_free_dtd(_densified(net), x, RULES[name], output=1)
    for r_mine, r_dense in zip(mine.relevance, dense.relevance):
        _close(r_mine, r_dense)
    if name in ("zplus", "w2", "lrp0") and mine.roots[0] is not None:
        _close(np.nan_to_num(mine.roots[0]), np.nan_to_num(dense.roots[0]))


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_conv_dtd_is_exactly_conservative_and_roots_are_zeros(pool):
    # z+ with biases <= 0 (THEORY.md §3): every active neuron's root is an exact zero of w_j^T a + b_j, it moves
    # only inputs of the neuron's receptive field, and relevance is conserved exactly layer by layer.
    net = _dtd_net(4, pool).to_exact()
    x = to_fraction(np.random.default_rng(4).integers(0, 9, size=(2, net.in_features)) / 8)
    explanation = train_free_dtd(net, x, rules.ZPlus(), output=0)
    for k, layer in enumerate(net.affine_layers):
        assert (explanation.conservation_gap(k) == 0).all()
        roots, missing = explanation.roots[k], explanation.missing[k]
        a = net.trace(x).a[k]
        active = net.trace(x).z[k] > 0
        for n in range(x.shape[0]):
            for j in np.flatnonzero(active[n] & ~missing[n]):
                assert layer.forward(roots[n, j][None])[0, j] == 0
                if hasattr(layer, "receptive_field"):
                    moved = roots[n, j] != a[n]
                    assert not (moved & ~layer.receptive_field()[j]).any()


def test_lrp0_with_winner_take_all_pooling_is_gradient_times_input():
    # [A18]: with zero biases, LRP-0 equals gradient x input on ReLU networks; winner-take-all through a max-pool
    # is exactly the gradient's routing, so the identity must hold on conv - ReLU - MaxPool nets too (exactly).
    net = convnet((1, 6, 6), rng=6, channels=(2, 2), pool="max", classes=2, padding=1)
    zero_bias = Network([l.with_parameters(l.W, np.zeros_like(l.b)) if isinstance(l, Conv2d)
                         else Dense(l.W, np.zeros_like(l.b)) if isinstance(l, Dense) else l for l in net.layers])
    exact = zero_bias.to_exact()
    x = to_fraction(np.random.default_rng(6).integers(0, 9, size=(2, net.in_features)) / 8)
    R = train_free_dtd(exact, x, rules.LRP0(), output=0).relevance[0]
    assert (R == exact.gradient_x_input(x, output=0)).all()
    assert (R != 0).sum() > 10  # not vacuous


def test_dtd_rejects_a_max_pool_before_the_relu():
    rng = np.random.default_rng(0)
    conv = Conv2d(rng.normal(size=(1, 1, 3, 3)), np.zeros(1), input_shape=(1, 6, 6))
    net = Network([conv, MaxPool2d((1, 4, 4), 2), ReLU(), Dense(np.ones((1, 4)), np.zeros(1))])
    with pytest.raises(ValueError, match="max-pool"):
        train_free_dtd(net, np.ones(36), rules.ZPlus(), output=0)


def _without_biases(net):
    """The same network with every Dense and Conv2d bias set to 0."""
    return Network([l.with_parameters(l.W, np.zeros_like(l.b)) if isinstance(l, Conv2d)
                    else Dense(l.W, np.zeros_like(l.b)) if isinstance(l, Dense) else l for l in net.layers])


def test_full_dtd_on_conv_and_avg_pool_with_zero_roots_is_gradient_times_input():
    # [SL22] "locally constant roots": with every root at 0 and zero biases, the full DTD's R^1 is exactly
    # grad f(x) (.) x; the conv and avg-pool layers go through the full recursion (phi_j via their dense rows).
    from dtd_ref.full_dtd import full_dtd

    net = convnet((1, 4, 4), rng=0, channels=(1,), kernel_size=3, pool="avg", classes=2)
    zero_bias = _without_biases(net).to_exact()
    x = to_fraction(np.random.default_rng(0).integers(0, 5, size=(2, 16)) / 4)
    explanation = full_dtd(zero_bias, x, [np.zeros(l.in_features) for l in zero_bias.affine_layers], output=0)
    assert (explanation.relevance[0] == zero_bias.gradient_x_input(x, output=0)).all()
    assert (explanation.relevance[0] != 0).sum() > 4



def test_full_dtd_through_a_max_pool_with_zero_roots_is_gradient_times_input():
    # Behind conv - ReLU - MaxPool2d the units phi_j of the conv layer are the pooled windows and their gradient
    # routes to the winner (ties broken towards the input's side); with zero roots and zero biases [SL22]'s
    # "locally constant roots" makes R^1 exactly grad f(x) (.) x, and relevance is conserved exactly.
    from dtd_ref.full_dtd import LineRoot, full_dtd

    net = convnet((1, 5, 5), rng=3, channels=(2,), kernel_size=2, pool="max", classes=2)
    zero_bias = _without_biases(net).to_exact()
    x = to_fraction(np.random.default_rng(0).integers(0, 5, size=(2, 25)) / 4)
    explanation = full_dtd(zero_bias, x, 0, output=0)
    assert (explanation.relevance[0] == zero_bias.gradient_x_input(x, output=0)).all()
    assert (explanation.relevance[0] != 0).sum() > 4
    assert explanation.roots[0].shape == (2, 8, 25)  # one root per pooled window (2 channels x 2 x 2)
    assert all((explanation.conservation_gap(k) == 0).all() for k in range(2))
    with pytest.raises(ValueError, match="max-pool"):
        full_dtd(zero_bias, x, [LineRoot(rules.ZPlus()), 0], output=0)


# ---------------------------------------------------------------------------------------------------- save / load
def _round_trip(net):
    import io as _io

    from dtd_ref import io

    buffer = _io.BytesIO()
    io.save(net, buffer)
    buffer.seek(0)
    return io.load(buffer), buffer


@pytest.mark.parametrize("make", [
    lambda: lenet(rng=0),
    lambda: convnet((2, 5, 5), rng=1, channels=(2,), groups=2, dilation=2, padding=1, pool="avg"),
    lambda: convnet((1, 5, 5), rng=2, pool="max").to_exact(),
    lambda: Network([Conv2d(np.ones((1, 1, 2, 2)), [0.0], input_shape=(1, 4, 4)),
                     AvgPool2d((1, 3, 3), 3, 2, padding=1, count_include_pad=False)]).to_exact(),
], ids=["lenet", "grouped_dilated_avg", "exact_max", "exact_avg_exclude_pad"])
def test_save_load_round_trip_of_image_layers(make):
    net = make()
    back, _ = _round_trip(net)
    assert repr(back) == repr(net)
    for mine, theirs in zip(net.layers, back.layers):
        if isinstance(mine, Conv2d):
            assert mine.W.dtype == theirs.W.dtype and (mine.W == theirs.W).all() and (mine.b == theirs.b).all()
            assert (mine.geometry.stride, mine.geometry.padding, mine.geometry.dilation, mine.groups) == \
                (theirs.geometry.stride, theirs.geometry.padding, theirs.geometry.dilation, theirs.groups)
        if isinstance(mine, AvgPool2d):
            assert (mine.count_include_pad, mine.exact) == (theirs.count_include_pad, theirs.exact)
    x = np.random.default_rng(0).random((2, net.in_features))
    assert (back(x) == net(x)).all()


def test_load_rejects_a_corrupt_geometry_entry():
    import io as _io

    from dtd_ref import io

    _, buffer = _round_trip(convnet((1, 5, 5), rng=2, pool="max"))
    buffer.seek(0)
    with np.load(buffer) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["layer0.stride"] = np.array([1.5, 1.0])
    broken = _io.BytesIO()
    np.savez(broken, **arrays)
    broken.seek(0)
    with pytest.raises(ValueError, match="layer0.stride"):
        io.load(broken)
