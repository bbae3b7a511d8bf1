"""Tests of dtd_ref.slices: linear pieces along a segment and exact 2-D slices."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp, to_exact, to_fraction
from dtd_ref import _reference_slices as reference
from dtd_ref import slices
from dtd_ref.lenet import convnet
from dtd_ref.pooling import MaxPool2d

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
    np.testing.assert_array_equal(lr.midpoints[:, 0], [-0.5, 0.25, 0.75])
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


def assert_exact_pieces(lr) -> list:
    """Invariants of an exact LineRegions; returns its breakpoints as a list."""
    t = list(lr.t)
    assert t[0] == 0 and t[-1] == 1 and all(a < b for a, b in zip(t[:-1], t[1:]))
    # neighbours differ, and every midpoint has its piece's pattern
    assert all((a != b).any() for a, b in zip(lr.patterns[:-1], lr.patterns[1:]))
    np.testing.assert_array_equal(lr.net.trace(lr.midpoints).pattern_vector, lr.patterns)
    # the network is affine on each piece: the midpoint value is the mean of the end values, exactly
    ends, mids = lr.net(lr.points), lr.net(lr.midpoints)
    assert ((ends[:-1] + ends[1:]) / 2 == mids).all()
    return t


@given(network_and_segment())
def test_line_regions_exact_invariants(case):
    net, p, q = case
    lr = slices.line_regions(net.to_exact(), to_fraction(p), to_fraction(q))
    t = assert_exact_pieces(lr)
    assert lr.patterns.shape == (len(t) - 1, sum(net.widths[1:-1]))
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


def test_line_regions_exact_network_takes_integer_end_points_above_2_53():
    # hinge of relu(x - 2**53) on x from 2**53 - 1 to 2**53 + 3: x = 2**53 at t = 1/4 (by hand); float64 cannot even
    # hold the end point 2**53 + 3, an exact network converts the int64 values losslessly
    net = Network([Dense([[1.0]], [-(2.0 ** 53)]), ReLU()]).to_exact()
    lr = slices.line_regions(net, np.array([2 ** 53 - 1]), np.array([2 ** 53 + 3]))
    assert list(lr.t) == [0, Fraction(1, 4), 1] and lr.patterns.tolist() == [[False], [True]]
    assert lr.q[0] == 2 ** 53 + 3
    with pytest.raises(ValueError, match="q: integer entries"):
        slices.line_regions(Network([Dense([[1.0]], [0.0]), ReLU()]), [0.0], np.array([2 ** 53 + 3]))


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


# ---------------------------------------------------------------------------------------------- line_regions, max pool
def pool_net(weights, biases, kernel):
    """Dense(1 -> K) then one max-pool window over the K units (input shape (1, 1, K)), then the identity."""
    K = len(biases)
    return Network([Dense(np.array(weights, float).reshape(K, -1), biases), MaxPool2d((1, 1, K), (1, kernel)),
                    Dense([[1.0]], [0.0])])


def test_line_regions_max_pool_golden():
    # One window over z = (x, 2x - 1, 1/4) for x = 4t in [0, 4] (worked by hand): 1/4 wins for x < 1/4, x wins for
    # 1/4 < x < 1, 2x - 1 for x > 1; breakpoints x = 1/4 (t = 1/16) and x = 1 (t = 1/4).  At a tie the first
    # maximal element wins: x at both breakpoints.
    net = pool_net([1, 2, 0], [0, -1, 0.25], 3).to_exact()
    lr = slices.line_regions(net, [Fraction(0)], [Fraction(4)])
    assert list(lr.t) == [0, Fraction(1, 16), Fraction(1, 4), 1]
    assert lr.patterns.tolist() == [[False, False, True], [True, False, False], [False, True, False]]
    assert lr.pattern_at(Fraction(1, 16)).tolist() == [True, False, False]
    assert lr.pattern_at(Fraction(1, 4)).tolist() == [True, False, False]
    # float64 gives the same dyadic breakpoints
    approx = slices.line_regions(pool_net([1, 2, 0], [0, -1, 0.25], 3), [0.0], [4.0])
    assert approx.t.tolist() == [0.0, 0.0625, 0.25, 1.0]
    np.testing.assert_array_equal(approx.patterns, lr.patterns)


def test_line_regions_max_pool_ties_along_the_segment():
    # z = (x, x, 1 - x) on x = t in [0, 1]: the two equal elements tie all along; the first of them wins after the
    # crossing at x = 1/2 (worked by hand), and starting on the tie the winner is the one rising along the segment.
    net = pool_net([1, 1, -1], [0, 0, 1], 3).to_exact()
    lr = slices.line_regions(net, [Fraction(0)], [Fraction(1)])
    assert list(lr.t) == [0, Fraction(1, 2), 1]
    assert lr.patterns.tolist() == [[False, False, True], [True, False, False]]
    lr = slices.line_regions(net, [Fraction(1, 2)], [Fraction(0)])   # from the tie towards 1 - x
    assert len(lr) == 1 and lr.patterns.tolist() == [[False, False, True]]


@st.composite
def max_pool_networks(draw):
    """Dense (small integer weights) [- ReLU] - MaxPool2d (overlapping or not) - Dense - ReLU, and a segment."""
    gen = np.random.default_rng(draw(st.integers(0, 2**16)))
    d = draw(st.integers(1, 3))
    C, H, W = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 3))
    kernel = (draw(st.integers(1, H)), draw(st.integers(2, W)))
    stride = draw(st.sampled_from([1, kernel]))
    width = C * H * W
    layers = [Dense(gen.integers(-3, 4, size=(width, d)).astype(float), gen.integers(-2, 3, size=width) / 2)]
    if draw(st.booleans()):
        layers.append(ReLU())
    pool = MaxPool2d((C, H, W), kernel, stride)
    layers += [pool, Dense(gen.integers(-3, 4, size=(2, pool.out_features)).astype(float), [0.5, -0.5]), ReLU()]
    net = Network(layers)
    return net, draw(grid_points(d)), draw(grid_points(d))


@given(max_pool_networks())
def test_line_regions_max_pool_matches_reference_exactly(case):
    net, p, q = case
    fast = slices.line_regions(net.to_exact(), to_fraction(p), to_fraction(q))
    slow = reference.line_regions(net.to_exact(), to_fraction(p), to_fraction(q))
    assert list(fast.t) == list(slow.t)
    np.testing.assert_array_equal(fast.patterns, slow.patterns)


@given(max_pool_networks())
def test_line_regions_max_pool_exact_invariants(case):
    net, p, q = case
    lr = slices.line_regions(net.to_exact(), to_fraction(p), to_fraction(q))
    t = assert_exact_pieces(lr)
    # every inner breakpoint is a hinge (some ReLU z == 0) or a tie of two elements of one max-pool window
    if len(t) == 2:
        return
    trace = lr.net.trace(lr.points[1:-1])
    for k in range(len(t) - 2):
        on_hinge = any((z[k] == 0).any() for layer, z in zip(lr.net.activation_layers, trace.preactivations)
                       if not isinstance(layer, MaxPool2d))
        on_tie = any(z[k, i] == z[k, j] for layer, z in zip(lr.net.activation_layers, trace.preactivations)
                     if isinstance(layer, MaxPool2d) for i, j in reference.window_pairs(layer))
        assert on_hinge or on_tie


@pytest.mark.parametrize("seed", [0, 1])
def test_line_regions_conv_max_pool_matches_twin_and_float(seed):
    net = convnet((1, 4, 4), rng=seed, channels=(2,), kernel_size=2, pool="max")
    p, q = np.random.default_rng(seed).normal(size=(2, 16))
    fast = slices.line_regions(net.to_exact(), p, q)
    slow = reference.line_regions(net.to_exact(), p, q)
    assert list(fast.t) == list(slow.t) and len(slow.t) > 3
    np.testing.assert_array_equal(fast.patterns, slow.patterns)
    approx = slices.line_regions(net, p, q)
    np.testing.assert_allclose(approx.t, slow.t.astype(float), atol=BREAKPOINT_ATOL)
    np.testing.assert_array_equal(approx.patterns, slow.patterns)
    with pytest.raises(ValueError, match="pattern"):
        slices.split_pattern(net, np.ones(6, dtype=bool))


# ---------------------------------------------------------------------------------------------- slice_regions
PLANE = dict(origin=[0, 0], u=[1, 0], v=[0, 1])
# float64 polygon areas vs exact or reference ones, relative to the box area (a shoelace sum of a few products of
# O(1) coordinates, each with an error of a few ulps of the box size)
AREA_RTOL = 1e-12


def _canonical(polygon):
    """Vertex tuples rotated to start at the smallest one (both implementations go counter-clockwise)."""
    points = [tuple(point) for point in polygon]
    k = points.index(min(points))
    return tuple(points[k:] + points[:k])


def _exact_slice(net, bounds=((-2, 2), (-2, 2))):
    return slices.slice_regions(to_exact(net), **PLANE, bounds=bounds)


@st.composite
def general_position_layer(draw, max_n=7):
    """One hidden layer of n in [1, max_n] neurons on R^2 whose lines are in general position.

    Integer weights in [-6, 6] and biases in [-4, 4]; no zero row, no two parallel lines, no three through one
    point.  Returns (net, bounds) with bounds a box strictly containing every pairwise intersection and a point of
    every line.
    """
    n = draw(st.integers(1, max_n))
    W = np.array(draw(st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)).filter(lambda w: w != (0, 0)),
                               min_size=n, max_size=n)), dtype=object)
    b = np.array(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)), dtype=object)
    points = []
    for j in range(n):
        for k in range(j + 1, n):
            det = W[j, 0] * W[k, 1] - W[j, 1] * W[k, 0]
            if det == 0:  # parallel or coincident
                return draw(st.nothing())
            # w_j . x = -b_j, w_k . x = -b_k by Cramer's rule
            x = (Fraction(-b[j] * W[k, 1] + b[k] * W[j, 1], det), Fraction(-W[j, 0] * b[k] + W[k, 0] * b[j], det))
            points.append(x)
    for x in set(points):
        if sum(W[j, 0] * x[0] + W[j, 1] * x[1] + b[j] == 0 for j in range(n)) > 2:
            return draw(st.nothing())
    # the foot of the perpendicular from 0 on every line too, so that a single line also meets the box
    feet = [(Fraction(-b[j] * W[j, 0], W[j] @ W[j]), Fraction(-b[j] * W[j, 1], W[j] @ W[j])) for j in range(n)]
    reach = 1 + max(abs(c) for x in points + feet for c in x)
    net = Network([Dense(to_fraction(W.astype(float)), to_fraction(b.astype(float))), ReLU(),
                   Dense(to_fraction(np.ones((1, n))), to_fraction(np.zeros(1)))])
    return net, ((-reach, reach), (-reach, reach))


@given(general_position_layer())
def test_slice_counts_arrangement_of_lines_in_general_position(case):
    # n lines in general position cut the plane into 1 + n + n(n - 1)/2 faces; the box contains every vertex, so
    # every face meets it (and no face is cut in two by the box, which is convex).
    net, bounds = case
    n = net.widths[1]
    result = slices.slice_regions(net, **PLANE, bounds=bounds)
    assert len(result) == 1 + n + n * (n - 1) // 2


@given(st.data())
def test_slice_exact_invariants(data):
    from dtd_ref import strategies as dst

    net = data.draw(dst.networks(in_features=2, max_depth=3, max_width=4, exact=True))
    result = _exact_slice(net)
    # areas are positive (no zero-area slivers) and add up to the box area, exactly
    assert all(a > 0 for a in result.area) and sum(result.area) == 16
    # no two polygons share a pattern; the verified interior points have their polygon's pattern
    assert len({row.tobytes() for row in result.patterns}) == len(result)
    np.testing.assert_array_equal(result.net.trace(result.interior_points).pattern_vector, result.patterns)
    # the network is affine on each closed polygon: every vertex obeys the local map of the interior point
    A, c = result.net.local_affine(result.interior_points)
    for i, polygon in enumerate(result.polygons):
        x = result.to_input(polygon)
        assert (result.net(x) == x @ A[i].T + c[i]).all()


@given(st.data())
def test_slice_matches_reference(data):
    from dtd_ref import strategies as dst

    net = data.draw(dst.networks(in_features=2, max_depth=3, max_width=3, exact=True))
    fast = _exact_slice(net)
    slow = reference.slice_regions(net, **PLANE, bounds=((-2, 2), (-2, 2)))
    fast_set = {(row.tobytes(), _canonical(poly), area)
                for row, poly, area in zip(fast.patterns, fast.polygons, fast.area)}
    slow_set = {(pattern.tobytes(), _canonical(poly), area) for pattern, poly, area in slow}
    assert fast_set == slow_set


@pytest.mark.parametrize("widths, negative_slope", [((2, 6, 5, 1), 0.0), ((2, 5, 4, 3, 2), 0.1)])
def test_slice_float_matches_reference(widths, negative_slope):
    net = mlp(widths, rng=5, negative_slope=negative_slope)
    bounds = ((-2.0, 1.5), (-1.0, 2.5))
    fast = slices.slice_regions(net, [0.5, -0.25], [1.0, 0.5], [-0.25, 1.0], bounds=bounds)
    slow = reference.slice_regions(net, [0.5, -0.25], [1.0, 0.5], [-0.25, 1.0], bounds=bounds)
    assert len(fast) == len(slow) > 10
    order = {pattern.tobytes(): area for pattern, _, area in slow}
    np.testing.assert_allclose(fast.area, [order[row.tobytes()] for row in fast.patterns], rtol=0,
                               atol=AREA_RTOL * 3.5 * 3.5)
    assert fast.area.sum() == pytest.approx(3.5 * 3.5, rel=AREA_RTOL)


@given(st.data())
def test_slice_float_agrees_with_exact(data):
    net = mlp((2, *data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)), 1),
              rng=data.draw(st.integers(0, 2**16)))
    approx = slices.slice_regions(net, **PLANE, bounds=((-2, 2), (-2, 2)))
    exact = _exact_slice(net)
    assert {row.tobytes() for row in approx.patterns} == {row.tobytes() for row in exact.patterns}
    areas = {row.tobytes(): float(a) for row, a in zip(exact.patterns, exact.area)}
    np.testing.assert_allclose(approx.area, [areas[row.tobytes()] for row in approx.patterns], rtol=0,
                               atol=AREA_RTOL * 16)


def _strictly_inside(polygon, point) -> bool:
    """Exact test: the point lies strictly inside the counter-clockwise convex polygon (left of every edge)."""
    k = len(polygon)
    return all((polygon[(i + 1) % k][0] - polygon[i][0]) * (point[1] - polygon[i][1])
               - (polygon[(i + 1) % k][1] - polygon[i][1]) * (point[0] - polygon[i][0]) > 0 for i in range(k))


@given(st.data())
def test_slice_agrees_with_line_regions(data):
    # Each piece of a segment in the plane has the pattern of the polygon that strictly contains the piece's midpoint
    # (decided geometrically, in rationals).  Pieces whose midpoint lies on a polygon edge (a segment running along
    # a hinge, or a single point) are skipped: their pattern is the hinge's, which no 2-D region need have.
    from dtd_ref import strategies as dst

    net = data.draw(dst.networks(in_features=2, max_depth=3, max_width=4, exact=True))
    ends = data.draw(st.lists(st.integers(-8, 8).map(lambda k: Fraction(k, 4)), min_size=4, max_size=4))
    p, q = to_fraction(np.array(ends[:2])), to_fraction(np.array(ends[2:]))
    result = _exact_slice(net)
    line = slices.line_regions(result.net, p, q)
    for midpoint, pattern in zip(line.midpoints, line.patterns):
        inside = [i for i, polygon in enumerate(result.polygons) if _strictly_inside(polygon, midpoint)]
        assert len(inside) <= 1
        if inside:
            np.testing.assert_array_equal(result.patterns[inside[0]], pattern)


def test_slice_golden_two_units():
    # relu(x) and relu(y) on [-1, 1]^2 (worked by hand): four quadrants of area 1 each; unit 1 of layer 2,
    # z = x + y - 1, cuts the positive quadrant into the triangle x + y <= 1 (area 1/2) and the rest.
    net = Network([Dense([[1, 0], [0, 1]], [0, 0]), ReLU(), Dense([[1, 1]], [-1]), ReLU()]).to_exact()
    result = slices.slice_regions(net, **PLANE, bounds=((-1, 1), (-1, 1)))
    by_pattern = {tuple(row): area for row, area in zip(result.patterns.tolist(), result.area)}
    assert by_pattern == {(False, False, False): 1, (True, False, False): 1, (False, True, False): 1,
                          (True, True, False): Fraction(1, 2), (True, True, True): Fraction(1, 2)}


def test_slice_degenerate_geometry():
    # Rows: x = 0 twice (coincident lines), 2x - 1 = 0 (parallel to them), x + y = 0 (through the corners (1, -1)
    # and (-1, 1), and through (0, 0) where it meets x = 0), a dead unit (zero row, bias -1) and an always active
    # one (zero row, bias 1).  By hand on [-1, 1]^2: the strips x < 0, 0 < x < 1/2 and x > 1/2 are each cut in two
    # by y = -x (which meets every strip inside the box), so six faces, of total area 4.
    W = [[1, 0], [1, 0], [2, 0], [1, 1], [0, 0], [0, 0]]
    b = [0, 0, -1, 0, -1, 1]
    net = Network([Dense(W, b), ReLU()]).to_exact()
    result = slices.slice_regions(net, **PLANE, bounds=((-1, 1), (-1, 1)))
    assert len(result) == 6 and sum(result.area) == 4 and all(a > 0 for a in result.area)
    assert not result.patterns[:, 4].any() and result.patterns[:, 5].all()
    np.testing.assert_array_equal(result.patterns[:, 0], result.patterns[:, 1])
    # the float64 slice finds the same partition
    approx = slices.slice_regions(Network([Dense(np.array(W, float), np.array(b, float)), ReLU()]), **PLANE,
                                  bounds=((-1, 1), (-1, 1)))
    assert {r.tobytes() for r in approx.patterns} == {r.tobytes() for r in result.patterns}


def test_slice_in_higher_dimensions_and_exact_verification():
    net = mlp((4, 6, 5, 2), rng=2)
    origin, u, v = np.array([0.1, -0.2, 0.3, 0.0]), np.array([1.0, 0.5, 0.0, -1.0]), np.array([0.0, 1.0, 1.0, 0.5])
    approx = slices.slice_regions(net, origin, u, v, bounds=((-2, 2), (-1, 3)), verify="exact")
    assert approx.verified_exactly and not approx.exact
    exact = slices.slice_regions(net, to_fraction(origin), u, v, bounds=((-2, 2), (-1, 3)))
    assert exact.exact and sum(exact.area) == 16 and len(exact) == len(approx)


def test_slice_validates():
    net = mlp((3, 4, 1), rng=0)
    good = dict(origin=[0.0, 0.0, 0.0], u=[1.0, 0.0, 0.0], v=[0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="u, v"):
        slices.slice_regions(net, [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-2.0, -4.0, -6.0])
    with pytest.raises(ValueError, match="u, v"):
        slices.slice_regions(net, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="u, v"):
        slices.slice_regions(net.to_exact(), [0, 0, 0], to_fraction(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match="origin"):
        slices.slice_regions(net, [0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="bounds"):
        slices.slice_regions(net, **good, bounds=((1, -1), (0, 1)))
    with pytest.raises(ValueError, match="bounds"):
        slices.slice_regions(net, **good, bounds=(0, 1))
    with pytest.raises(ValueError, match="verify"):
        slices.slice_regions(net, **good, verify="sometimes")
    result = slices.slice_regions(net, **good)
    with pytest.raises(ValueError, match="i"):
        result.polygon(len(result))
