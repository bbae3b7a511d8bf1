"""Tests of dtd_ref.slices: linear pieces along a segment and exact 2-D slices."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp, to_exact, to_fraction
from dtd_ref import _reference_slices as reference
from dtd_ref import slices

# float64 breakpoints of the fast and reference algorithms are computed by different formulas
BREAKPOINT_ATOL = 1e-9


# ---------------------------------------------------------------------------------------------- local strategies
@st.composite
def small_networks(draw, d_in=None):
    """Small random MLPs (1-3 hidden layers of 1-6 units, ReLU or LeakyReLU), from a seed."""
    d = draw(st.integers(1, 3)) if d_in is None else d_in
    hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    slope = draw(st.sampled_from([0.0, 0.0, 0.25]))
    return mlp((d, *hidden, 2), rng=draw(st.integers(0, 2**16)), negative_slope=slope)


def grid_points(d):
    """Points with coordinates on a 1/4 grid in [-2, 2] (they hit hinges of integer networks exactly)."""
    return st.lists(st.integers(-8, 8).map(lambda k: k / 4), min_size=d, max_size=d).map(np.array)


@st.composite
def network_and_segment(draw):
    net = draw(small_networks())
    p = draw(grid_points(net.in_features))
    q = draw(grid_points(net.in_features))
    return net, p, q


# ---------------------------------------------------------------------------------------------- line_regions
def test_line_regions_golden():
    # z1 = x, z2 = 0.5 - x on x(t) = -1 + 2t: z1 > 0 iff t > 1/2, z2 > 0 iff t < 3/4 (worked by hand).
    net = Network([Dense([[1.0], [-1.0]], [0.0, 0.5]), ReLU()])
    lr = slices.line_regions(net, [-1.0], [1.0])
    assert lr.t.tolist() == [0.0, 0.5, 0.75, 1.0]
    assert lr.patterns.tolist() == [[False, True], [True, True], [True, False]]
    assert lr.piece(0.5) == 1 and lr.piece(0.5, side="left") == 0 and lr.piece(1.0) == 2
    np.testing.assert_array_equal(lr.points[:, 0], [-1.0, 0.0, 0.5, 1.0])
    # at t = 1/2 the point x = 0 has z1 = 0 exactly: inactive there, unlike on the piece to its right
    assert lr.pattern_at(0.5).tolist() == [False, True]


def test_line_regions_golden_second_layer():
    # Layer 1: h = relu(x) on x in [-1, 3], t = (x + 1) / 4.  Layer 2: z = h - 1 crosses at x = 1, i.e. t = 1/2;
    # h crosses at x = 0, i.e. t = 1/4 (worked by hand).  Exact mode gives the rationals.
    net = Network([Dense([[1]], [0]), ReLU(), Dense([[1]], [-1]), ReLU()]).to_exact()
    lr = slices.line_regions(net, [Fraction(-1)], [Fraction(3)])
    assert list(lr.t) == [0, Fraction(1, 4), Fraction(1, 2), 1]
    assert lr.patterns.tolist() == [[False, False], [True, False], [True, True]]


@given(network_and_segment())
def test_line_regions_matches_reference_exactly(case):
    net, p, q = case
    exact = to_exact(net)
    fast = slices.line_regions(exact, to_fraction(p), to_fraction(q))
    slow = reference.line_regions(exact, to_fraction(p), to_fraction(q))
    assert list(fast.t) == list(slow.t)
    np.testing.assert_array_equal(fast.patterns, slow.patterns)


@given(network_and_segment())
def test_line_regions_exact_invariants(case):
    net, p, q = case
    lr = slices.line_regions(net.to_exact(), to_fraction(p), to_fraction(q))
    t = list(lr.t)
    assert t[0] == 0 and t[-1] == 1 and all(a < b for a, b in zip(t[:-1], t[1:]))
    assert lr.patterns.shape == (len(t) - 1, sum(net.widths[1:-1]))
    # neighbours differ, and every midpoint has its piece's pattern
    assert all((a != b).any() for a, b in zip(lr.patterns[:-1], lr.patterns[1:]))
    np.testing.assert_array_equal(lr.net.trace(lr.midpoints).pattern_vector, lr.patterns)
    # the network is affine on each piece: the midpoint value is the mean of the end values, exactly
    ends, mids = lr.net(lr.points), lr.net(lr.midpoints)
    assert ((ends[:-1] + ends[1:]) / 2 == mids).all()
    # every inner breakpoint lies on a hinge: some unit has z == 0 there exactly
    pre = np.concatenate(lr.net.trace(lr.points[1:-1]).preactivations, axis=1) if len(t) > 2 else np.ones((0, 1))
    assert (pre == 0).any(axis=1).all()


@given(network_and_segment())
def test_line_regions_float_agrees_with_exact(case):
    net, p, q = case
    exact = slices.line_regions(net, to_fraction(p), q)
    approx = slices.line_regions(net, p, q)
    t_exact = np.array([float(v) for v in exact.t])
    if len(approx) == len(exact):
        np.testing.assert_allclose(approx.t, t_exact, atol=BREAKPOINT_ATOL)
        np.testing.assert_array_equal(approx.patterns, exact.patterns)
    else:  # float rounding merged or split a piece only where two breakpoints (nearly) coincide
        assert np.min(np.diff(t_exact)) < BREAKPOINT_ATOL or np.min(np.diff(approx.t)) < BREAKPOINT_ATOL


@pytest.mark.parametrize("exact", [False, True])
def test_line_regions_float_matches_reference(exact):
    net = mlp((3, 7, 7, 2), rng=3)
    if exact:
        net = net.to_exact()
    p, q = np.array([-2.0, 0.5, 1.0]), np.array([1.5, -1.0, -2.0])
    fast, slow = slices.line_regions(net, p, q), reference.line_regions(net, p, q)
    assert len(fast) == len(slow) > 3
    np.testing.assert_allclose(np.array(fast.t, float), np.array(slow.t, float), atol=BREAKPOINT_ATOL)
    np.testing.assert_array_equal(fast.patterns, slow.patterns)


def test_line_regions_degenerate_segments():
    net = Network([Dense([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]], [0.0, 0.0, 0.0]), ReLU()])  # unit 2 is dead
    # a single point: one piece
    lr = slices.line_regions(net, [1.0, 1.0], [1.0, 1.0])
    assert len(lr) == 1 and lr.patterns.tolist() == [[True, True, False]]
    # a segment inside the (twice present, coincident) hinge x_0 = 0: z == 0 all along, inactive
    lr = slices.line_regions(net, [0.0, -1.0], [0.0, 2.0])
    assert len(lr) == 1 and lr.patterns.tolist() == [[False, False, False]]
    # starting on the hinge and leaving it: the first piece already is active (right limit)
    lr = slices.line_regions(net, [0.0, 0.0], [1.0, 0.0])
    assert len(lr) == 1 and lr.patterns.tolist() == [[True, True, False]]
    # ending on the hinge: no zero-length piece at t = 1
    lr = slices.line_regions(net, [-1.0, 0.0], [0.0, 0.0])
    assert lr.t.tolist() == [0.0, 1.0] and lr.patterns.tolist() == [[False, False, False]]


def test_line_regions_leaky_and_fraction_points_go_exact():
    net = Network([Dense([[2.0]], [-1.0]), LeakyReLU(0.5), Dense([[1.0]], [0.25]), ReLU()])
    # z1 = 2x - 1 = 0 at x = 1/2; below it h = (2x - 1)/2, z2 = x - 1/4 = 0 at x = 1/4 (worked by hand).
    lr = slices.line_regions(net, [Fraction(0)], [1.0])
    assert lr.exact and list(lr.t) == [0, Fraction(1, 4), Fraction(1, 2), 1]
    assert lr.patterns.tolist() == [[False, False], [False, True], [True, True]]


def test_line_regions_validates():
    net = mlp((2, 3, 1), rng=0)
    with pytest.raises(ValueError, match="p"):
        slices.line_regions(net, [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="q"):
        slices.line_regions(net, [0.0, 0.0], [np.nan, 1.0])
    lr = slices.line_regions(net, [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="side"):
        lr.piece(0.5, side="middle")
    with pytest.raises(ValueError, match="t"):
        lr.piece(1.5)


def test_split_pattern_round_trip():
    net = mlp((2, 3, 4, 1), rng=1)
    x = np.array([[0.3, -0.2], [1.0, 2.0]])
    trace = net.trace(x)
    parts = slices.split_pattern(net, trace.pattern_vector)
    for part, expected in zip(parts, trace.patterns):
        np.testing.assert_array_equal(part, expected)
    with pytest.raises(ValueError, match="pattern"):
        slices.split_pattern(net, np.ones(6, dtype=bool))
