"""MaxPool2d and AvgPool2d: hand-worked values, the tie convention, adjointness, region rows, pattern validation."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from dtd_ref.exact import to_fraction
from dtd_ref.layers import Dense, ReLU
from dtd_ref.network import Network
from dtd_ref.pooling import AvgPool2d, MaxPool2d
from dtd_ref.regions import region_of

#: Relative tolerance of float64 comparisons between two summation orders.
SUM_ORDER_RTOL = 1e-12

# One 4x4 image (channel 0), row-major:
#   1 5 | 2 2
#   3 0 | 2 1
#   ----+----
#   7 7 | 0 -1
#   6 7 | -2 -3
IMAGE = np.array([1, 5, 2, 2, 3, 0, 2, 1, 7, 7, 0, -1, 6, 7, -2, -3], dtype=float)


def test_maxpool_golden_with_ties():
    pool = MaxPool2d((1, 4, 4), 2)
    z = IMAGE[None]
    # window maxima: top-left 5, top-right 2 (three 2s tie), bottom-left 7 (three 7s), bottom-right 0
    np.testing.assert_array_equal(pool.forward(z), [[5, 2, 7, 0]])
    # winners in row-major window order (k_i, k_j): TL element 1 (the 5), TR element 0 (first of the 2s at input
    # index 2), BL element 0 (first 7, input index 8), BR element 0 (the 0 at input index 10)
    pattern = pool.pattern(z).reshape(4, 4)
    np.testing.assert_array_equal(pattern.argmax(axis=1), [1, 0, 0, 0])
    assert pattern.sum() == 4
    np.testing.assert_array_equal(pool.winners(pool.pattern(z)), [[1, 2, 8, 10]])
    # winner takes all: relevance 1, 2, 3, 4 of the four windows lands on input indices 1, 2, 8, 10
    R = pool.route_relevance(pool.pattern(z), np.array([[1.0, 2.0, 3.0, 4.0]]))
    expected = np.zeros(16)
    expected[[1, 2, 8, 10]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(R, [expected])


def test_maxpool_region_rows_golden_and_strictness():
    pool = MaxPool2d((1, 4, 4), 2)
    z = IMAGE[None]
    pattern = pool.pattern(z)
    A = np.broadcast_to(np.eye(16), (1, 16, 16))  # z = x: the rows are x_i - x_winner <= 0
    G, h = pool.region_rows(pattern, A, np.zeros((1, 16)))
    assert G.shape == (1, 16, 16) and (h == 0).all()
    # top-right window: elements at inputs 2, 3, 6, 7; winner input 2.  Row of element 1 (input 3): x_3 - x_2 <= 0
    row = np.zeros(16)
    row[[3, 2]] = [1, -1]
    np.testing.assert_array_equal(G[0, 4 + 1], row)
    np.testing.assert_array_equal(G[0, 4 + 0], np.zeros(16))  # the winner's own row is 0 <= 0
    # strict rows: elements before the winner in window order.  TL winner is element 1, so element 0 is strict;
    # the other windows' winners are element 0, so nothing there is strict.
    strict = pool.region_row_strict(pattern).reshape(4, 4)
    np.testing.assert_array_equal(strict, [[True, False, False, False]] + [[False] * 4] * 3)


def test_maxpool_tie_region_is_exact():
    # Exact: at the tie x_8 = x_9 = x_13 = 7, the pattern says element 0 wins; moving x_9 up by 1/1000 flips the
    # winner (strict row of a later element is not strict, but the earlier winner loses), moving it down keeps it.
    net = Network([Dense(np.eye(16), np.zeros(16)), MaxPool2d((1, 4, 4), 2)]).to_exact()
    x = to_fraction(IMAGE)
    region = region_of(net, x)
    up, down = x.copy(), x.copy()
    up[9] += Fraction(1, 1000)
    down[9] -= Fraction(1, 1000)
    assert region.contains(np.stack([x, down]), closed=False).tolist() == [True, True]
    assert region.contains(up[None], closed=False).tolist() == [False]
    assert region.contains(up[None], closed=True).tolist() == [False]
    # an earlier element rising to tie the winner flips the first-maximum winner: outside the open region, on
    # the closure
    tie = x.copy()
    tie[0] = Fraction(5)  # the TL window (1, 5, 3, 0): element 0 now ties the winner element 1
    assert region.contains(tie[None], closed=False).tolist() == [False]
    assert region.contains(tie[None], closed=True).tolist() == [True]


def test_avgpool_golden():
    pool = AvgPool2d((1, 4, 4), 2)
    # window means: (1+5+3+0)/4, (2+2+2+1)/4, (7+7+6+7)/4, (0-1-2-3)/4
    np.testing.assert_array_equal(pool.forward(IMAGE[None]), [[9 / 4, 7 / 4, 27 / 4, -6 / 4]])
    # 3x3 windows, stride 3, padding 1 on a 4x4 image: output 2x2.  Window (0, 0) covers rows/cols -1..1, i.e.
    # x[0:2, 0:2] = 1, 5, 3, 0 (sum 9) plus 5 padding zeros.  Include padding: 9/9; exclude: 9/4.
    incl = AvgPool2d((1, 4, 4), 3, 3, padding=1)
    excl = AvgPool2d((1, 4, 4), 3, 3, padding=1, count_include_pad=False)
    assert incl.forward(IMAGE[None])[0, 0] == 1.0 and excl.forward(IMAGE[None])[0, 0] == 9 / 4
    # exact: window (1, 1) covers rows/cols 2..4 -> x[2:4, 2:4] = 0, -1, -2, -3, sum -6, 4 real elements
    exact = excl.map_arrays(to_fraction)
    assert exact.forward(to_fraction(IMAGE)[None])[0, 3] == Fraction(-6, 4)
    assert incl.map_arrays(to_fraction).forward(to_fraction(IMAGE)[None])[0, 3] == Fraction(-6, 9)


@st.composite
def pools(draw):
    C = draw(st.integers(1, 2))
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, k // 2))
    H, W = draw(st.integers(max(1, k - 2 * padding), 6)), draw(st.integers(max(1, k - 2 * padding), 6))
    if draw(st.booleans()):
        return MaxPool2d((C, H, W), k, stride, padding)
    return AvgPool2d((C, H, W), k, stride, padding, count_include_pad=draw(st.booleans()))


@given(pools(), st.integers(0, 2**32 - 1))
def test_transposes_are_adjoint(pool, seed):
    # <L t, g> = <t, L^T g> for the linear map L of an AvgPool2d and of a MaxPool2d on a fixed pattern
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(2, 3, pool.in_features))
    g = rng.normal(size=(2, 3, pool.out_features))
    if isinstance(pool, MaxPool2d):
        p = pool.pattern(rng.normal(size=(2, pool.in_features)))
        left, right = pool.apply_pattern(p, t), pool.apply_pattern_T(p, g)
    else:
        left, right = pool.linear(t), pool.linear_T(g)
        if not pool.count_include_pad or pool.geometry.padding == (0, 0):  # a mean over real elements only
            np.testing.assert_allclose(pool.weight_matrix().sum(axis=1), 1.0, rtol=SUM_ORDER_RTOL)
    lhs, rhs = (left * g).sum(axis=-1), (t * right).sum(axis=-1)
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=SUM_ORDER_RTOL * max(1.0, np.abs(lhs).max()))


@given(pools(), st.integers(0, 2**32 - 1))
def test_maxpool_forward_is_window_max_and_winner_attains_it(pool, seed):
    if not isinstance(pool, MaxPool2d):
        pool = MaxPool2d(pool.input_shape, pool.geometry.kernel_size, pool.geometry.stride, pool.geometry.padding)
    rng = np.random.default_rng(seed)
    z = rng.integers(-2, 3, size=(3, pool.in_features)).astype(float)  # many ties
    y = pool.forward(z)
    index = np.moveaxis(pool.geometry.window_index(), 1, -1).reshape(pool.out_features, -1)
    window = np.where(index >= 0, z[:, np.maximum(index, 0)], -np.inf)
    np.testing.assert_array_equal(y, window.max(axis=-1))
    r = pool.pattern(z).reshape(3, pool.out_features, -1).argmax(axis=-1)
    np.testing.assert_array_equal(r, window.argmax(axis=-1))  # numpy's first maximum is the convention


def test_maxpool_pattern_validation():
    pool = MaxPool2d((1, 4, 4), 2)
    net = Network([Dense(np.eye(16), np.zeros(16)), ReLU(), pool])
    good = pool.pattern(IMAGE[None])
    two = good.copy()
    two[0, 3] = True  # a second winner in the first window
    none = good.copy()
    none[0, :4] = False
    for bad in (two, none):
        with pytest.raises(ValueError, match="patterns\\[1\\].*one winner"):
            net.forward_fixed(IMAGE[None], (IMAGE[None] > 0, bad))
    with pytest.raises(ValueError, match="patterns\\[1\\]: expected bool \\(n, 16\\)"):
        net.forward_fixed(IMAGE[None], (IMAGE[None] > 0, good[:, :8]))
    padded = MaxPool2d((1, 3, 3), 2, 2, padding=1)
    p = padded.pattern(np.zeros((1, 9)))
    p[0, :4] = [True, False, False, False]  # window (0, 0): elements 0, 1, 2 are padding
    with pytest.raises(ValueError, match="padding"):
        padded.check_pattern(p, "p")


@pytest.mark.parametrize("make, match", [
    (lambda: MaxPool2d((1, 4, 4), 2, padding=2), "padding"),
    (lambda: AvgPool2d((1, 4, 4), 2, padding=2), "padding"),
    (lambda: MaxPool2d((1, 4, 4), 0), "kernel_size"),
    (lambda: AvgPool2d((1, 4, 4), 5), "kernel_size"),
    (lambda: MaxPool2d((0, 4, 4), 2), "input_shape"),
])
def test_pooling_rejects_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
