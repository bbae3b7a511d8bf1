"""Ray walks (dtd_ref._lines): one-sided patterns, pieces of a ray and first zeros, across ReLU hinges and max-pool ties."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, LeakyReLU, Network, ReLU, to_fraction
from dtd_ref import _lines
from dtd_ref import _reference_network as ref
from dtd_ref import strategies as dst
from dtd_ref.pooling import MaxPool2d
from dtd_ref.testing import assert_exact_equal

SMALL = dict(max_depth=3, max_width=3, relu_on_output=True)
F = Fraction


def ramp():
    """f(x) = relu(x_0 - 1) + 0 * x_1: hinge at x_0 = 1, slope 1 to the right, 0 to the left."""
    return Network([Dense([[1.0, 0.0]], [-1.0]), ReLU()])


def abs_net():
    """relu(y) with y = max(x + 3, 3 - x) - 7/2 = |x| - 1/2: a max-pool tie at x = 0, y = 0 at x = -1/2 and 1/2.

    Both window elements are positive near 0, so a ReLU-style pattern (z > 0) of the pool's inputs would mark both.
    """
    return Network([Dense([[1.0], [-1.0]], [3.0, 3.0]), MaxPool2d((1, 1, 2), (1, 2)), Dense([[1.0]], [-3.5]),
                    ReLU()]).to_exact()


@st.composite
def pool_networks(draw):
    """Dense(2 -> 6), overlapping max-pool windows (1, 2) with stride 1 over (1, 2, 3), Dense(4 -> 2), LeakyReLU(1/2).

    Small integer weights: with inputs on a coarse grid, window ties and zero pre-activations are frequent.
    """
    ints = st.integers(-2, 2)
    W1 = np.array(draw(st.lists(ints, min_size=12, max_size=12)), dtype=object).reshape(6, 2)
    b1 = np.array(draw(st.lists(ints, min_size=6, max_size=6)), dtype=object)
    W2 = np.array(draw(st.lists(ints, min_size=8, max_size=8)), dtype=object).reshape(2, 4)
    b2 = np.array(draw(st.lists(ints, min_size=2, max_size=2)), dtype=object)
    return Network([Dense(to_fraction(W1), to_fraction(b1)), MaxPool2d((1, 2, 3), (1, 2), 1),
                    Dense(to_fraction(W2), to_fraction(b2)), LeakyReLU(F(1, 2))])


def _grid_points(net, batch):
    return dst.inputs(net, batch=batch, bound=2, denominator=2, exact=True)


# ---------------------------------------------------------------------------------------------------- one-sided trace
@pytest.mark.parametrize("family", ["relu", "max_pool"])
@given(data=dst.data())
def test_one_sided_trace_matches_its_loop_twin(family, data):
    net = data.draw(dst.networks(**SMALL, negative_slope=0.5) if family == "relu" else pool_networks()).to_exact()
    x, u = data.draw(_grid_points(net, 3)), data.draw(_grid_points(net, 3))
    fast_layers, fast_out, fast_dout = _lines.one_sided_trace(net, x, u)
    slow_layers, slow_out, slow_dout = ref.one_sided_trace(net, x, u)
    assert len(fast_layers) == len(slow_layers) == len(net.activation_layers)
    for (z, dz, p), (z2, dz2, p2), width in zip(fast_layers, slow_layers, net.pattern_widths):
        assert_exact_equal(z, z2)
        assert_exact_equal(dz, dz2)
        assert p.shape == (3, width)
        np.testing.assert_array_equal(p, p2)
    assert_exact_equal(fast_out, slow_out)
    assert_exact_equal(fast_dout, slow_dout)


@given(net=pool_networks(), data=dst.data())
def test_the_ray_is_affine_with_the_one_sided_pattern_up_to_the_next_crossing(net, data):
    # Up to the first closing region row (a ReLU sign change or an element overtaking its window's winner) the
    # layer inputs are z + s dz and the pattern at x + s u is the one-sided pattern (ties that persist along the
    # ray go to the first element in both).
    net = net.to_exact()
    x, u = data.draw(_grid_points(net, 1)), data.draw(_grid_points(net, 1))
    layers, out, dout = _lines.one_sided_trace(net, x, u)
    h, G = _lines.ray_rows(net, layers)
    assert all(v >= 0 for v in h[0])
    end = _lines.next_crossing(h[0], G[0])
    s = F(1) if end is None else end / 2
    trace = net.trace(x + s * u)
    np.testing.assert_array_equal(trace.pattern_vector, np.concatenate([p for _, _, p in layers], axis=1))
    for (z, dz, _), z_at in zip(layers, trace.preactivations):
        assert_exact_equal(z_at, z + s * dz)
    assert_exact_equal(trace.output, out + s * dout)


def test_one_sided_pattern_at_a_hinge_follows_the_direction():
    net = ramp().to_exact()
    x = to_fraction(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    u = to_fraction(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]))
    (z, dz, pattern), = _lines.one_sided_trace(net, x, u)[0]
    np.testing.assert_array_equal(pattern[:, 0], [True, False, False])
    assert_exact_equal(dz[:, 0], [1, -1, 0])
    leaky = Network([Dense([[1.0]], [0.0]), LeakyReLU(0.5)]).to_exact()
    _, out, dout = _lines.one_sided_trace(leaky, to_fraction(np.zeros((1, 1))), to_fraction(-np.ones((1, 1))))
    assert_exact_equal(dout, [[F(-1, 2)]])


def test_one_sided_pattern_at_a_max_pool_tie_follows_the_direction():
    # At x = 0 the window (x + 3, 3 - x) ties at 3.  Towards u = +1 the element x + 3 wins, towards u = -1 the element
    # 3 - x; either way the pooled value grows at rate 1 along u, so y = |x| - 1/2 has dy/ds = 1 (by hand).  Along
    # u = 0 the tie persists and the first element wins (numpy's argmax convention).
    x, u = to_fraction(np.zeros((3, 1))), to_fraction(np.array([[1.0], [-1.0], [0.0]]))
    (_, _, pool_pattern), (y, dy, _) = _lines.one_sided_trace(abs_net(), x, u)[0]
    assert pool_pattern.tolist() == [[True, False], [False, True], [True, False]]
    assert_exact_equal(y[:, 0], [F(-1, 2)] * 3)
    assert_exact_equal(dy[:, 0], [1, 1, 0])


# ------------------------------------------------------------------------------------------- stacks of directions
LEX_BOUND = 3  # integer entries of z and of the directions lie in [-LEX_BOUND, LEX_BOUND]


@pytest.mark.parametrize("activation", [ReLU(), LeakyReLU(F(1, 4)), MaxPool2d((1, 2, 3), (1, 2), 1)],
                         ids=["relu", "leaky", "max_pool"])
@given(data=dst.data(), m=st.integers(0, 3))
def test_pattern_lex_is_the_pattern_of_a_polynomial_perturbation(activation, data, m):
    # Definition: the pattern of z + e dz_1 + e^2 dz_2 + ... for small e > 0.  With integer entries |.| <= B every
    # nonzero difference of two entries (of z, or of one direction) is at least 1 and at most 2B, and the tail
    # e dz_1 + ... + e^m dz_m of a difference is below 2B e / (1 - e) < 1 for e = 1 / (4B + 4): so at that e the
    # perturbed point's plain pattern (pattern_towards along 0: z > 0, first maximum) is the lexicographic one.
    d = 6
    ints = st.integers(-LEX_BOUND, LEX_BOUND).map(F)
    z = np.array([[data.draw(ints) for _ in range(d)] for _ in range(2)], dtype=object)
    dz = np.array([[[data.draw(ints) for _ in range(d)] for _ in range(m)] for _ in range(2)],
                  dtype=object).reshape(2, m, d)
    e = F(1, 4 * LEX_BOUND + 4)
    perturbed = z + sum((e ** (i + 1) * dz[:, i] for i in range(m)), np.zeros_like(z))
    expected = activation.pattern_towards(perturbed, perturbed * 0)
    assert np.array_equal(_lines.pattern_lex(activation, z, dz), expected)
    if m == 1:
        assert np.array_equal(_lines.pattern_lex(activation, z, dz), activation.pattern_towards(z, dz[:, 0]))


def test_lex_patterns_breaks_a_tie_of_the_first_direction_by_the_second():
    # ramp: z = x_0 - 1.  At x = (1, 0) along U_1 = (0, 1) the unit stays on its hinge (dz = 0); U_2 = (-1, 0) then
    # decides (inactive) and U_2 = (1, 0) too (active), by hand.  With U_1 alone the tie stays: inactive.
    x = to_fraction(np.array([[1.0, 0.0]] * 3))
    U = to_fraction(np.array([[[0.0, 1.0], [-1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]]))
    (pattern,) = _lines.lex_patterns(ramp().to_exact(), x, U)
    assert pattern[:, 0].tolist() == [False, True, False]


# ---------------------------------------------------------------------------------------------------- ray walks
@pytest.mark.parametrize("start, direction, zero", [
    # y = |x| - 1/2 (worked by hand): from 1/4 towards -1 the walk crosses the tie at 0 and reaches y = 0 at -1/2;
    # towards +1 it reaches 1/2 without a tie; from -1/4 towards +1 it crosses the tie and reaches 1/2.
    (F(1, 4), -1, F(-1, 2)),
    (F(1, 4), 1, F(1, 2)),
    (F(-1, 4), 1, F(1, 2)),
    (F(-1, 2), 1, F(-1, 2)),     # already on the hinge
    (F(3, 4), 1, None),          # y grows for ever along +1
])
def test_first_zero_on_ray_crosses_max_pool_ties(start, direction, zero):
    x = np.array([start], dtype=object)
    u = np.array([F(direction)], dtype=object)
    found = _lines.first_zero_on_ray(abs_net(), x, u, 1, 0)
    assert (found is None) if zero is None else list(found) == [zero]


def test_segment_is_affine_sees_max_pool_ties_and_relu_hinges():
    net = abs_net()

    def affine(p, q):
        return _lines.segment_is_affine(net, np.array([F(p)], dtype=object), np.array([F(q)], dtype=object))

    assert affine(F(1, 8), F(3, 8))           # no tie, y < 0 throughout
    assert affine(F(-1, 4), F(-3, 8))
    assert not affine(F(1, 8), F(-1, 8))      # the tie at x = 0
    assert not affine(F(1, 4), F(1))          # y = 0 at x = 1/2
    assert affine(F(0), F(1, 4))              # starts on the tie, leaves it at once towards x > 0


def test_first_zero_on_ray_refuses_a_max_pool_target():
    x = np.array([F(1)], dtype=object)
    with pytest.raises(ValueError, match="only ReLU-family units have a hinge"):
        _lines.first_zero_on_ray(abs_net(), x, x, 0, 0)
