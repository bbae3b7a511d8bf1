"""Tests of dtd_ref.enumeration: all linear regions in a bounded polytope, and the reference twins of issue 4."""

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtd_ref import Dense, Network, ReLU, mlp, to_exact, to_fraction
from dtd_ref import _reference_slices as reference
from dtd_ref import strategies as dst
from dtd_ref.enumeration import RegionLimitError, enumerate_regions
from dtd_ref.slices import line_regions, slice_regions

# Qhull volumes of the regions vs the domain's volume: sums of a few thousand float64 hull volumes
VOLUME_RTOL = 1e-9
BRUTE_FORCE_EXAMPLES = 12  # each example solves 2^U LPs (U <= 5 units)


def _pattern_set(patterns):
    return {row.tobytes() for row in patterns}


# ---------------------------------------------------------------------------------------------- reference twins
def _twin_line(fast, slow):
    net = mlp((3, 6, 5, 2), rng=11).to_exact()
    p, q = to_fraction(np.array([-2.0, 0.25, 1.0])), to_fraction(np.array([1.5, -1.0, -0.75]))
    a, b = fast(net, p, q), slow(net, p, q)
    assert len(a) > 3 and list(a.t) == list(b.t)
    np.testing.assert_array_equal(a.patterns, b.patterns)


def _twin_slice(fast, slow):
    net = mlp((2, 5, 4, 1), rng=12).to_exact()
    plane = dict(origin=[0, 0], u=[1, 0], v=[0, 1], bounds=((-2, 2), (-2, 2)))
    a, b = fast(net, **plane), slow(net, **plane)
    assert len(a) > 5
    assert {(r.tobytes(), area) for r, area in zip(a.patterns, a.area)} == {(p.tobytes(), area) for p, _, area in b}


def _twin_enumeration(fast, slow):
    net = mlp((3, 4, 3, 1), rng=13)
    a = fast(net, box=(-2, 2))
    patterns, witnesses = slow(net, box=(-2, 2))
    assert len(a) > 5 and _pattern_set(a.patterns) == _pattern_set(patterns)


@pytest.mark.parametrize("name, compare", [("line_regions", _twin_line), ("slice_regions", _twin_slice),
                                           ("enumerate_regions", _twin_enumeration)])
def test_reference_twins(name, compare):
    from dtd_ref import enumeration, slices

    fast = getattr(enumeration if name == "enumerate_regions" else slices, name)
    compare(fast, getattr(reference, name))


# ---------------------------------------------------------------------------------------------- counts
@st.composite
def general_position_planes(draw, d=3, max_n=6):
    """One hidden layer of n in [d, max_n] neurons on R^d, hyperplanes in general position (integer weights).

    Every d of them meet in one point (nonzero determinant), no d + 1 share a point.  Returns (net, reach) with the box
    [-reach, reach]^d strictly containing every vertex.  With n >= d the normals span R^d, so every region has a
    vertex and meets the box.
    """
    n = draw(st.integers(d, max_n))
    W = np.array(draw(st.lists(st.lists(st.integers(-5, 5), min_size=d, max_size=d), min_size=n, max_size=n)))
    b = np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)))
    vertices = []
    for rows in combinations(range(n), d):
        M = np.array([[Fraction(int(v)) for v in W[j]] for j in rows], dtype=object)
        det = _det(M)
        if det == 0:
            return draw(st.nothing())
        x = _solve(M, [Fraction(-int(b[j])) for j in rows])
        on = [j for j in range(n) if sum(Fraction(int(W[j, i])) * x[i] for i in range(d)) + int(b[j]) == 0]
        if len(on) > d:
            return draw(st.nothing())
        vertices.append(x)
    reach = 1 + max(abs(float(c)) for x in vertices for c in x)
    net = Network([Dense(W.astype(float), b.astype(float)), ReLU(), Dense(np.ones((1, n)), np.zeros(1))])
    return net, reach


def _det(M):
    if M.shape[0] == 1:
        return M[0, 0]
    return sum((-1) ** j * M[0, j] * _det(np.delete(M[1:], j, axis=1)) for j in range(M.shape[0]))


def _solve(M, rhs):
    """Cramer's rule in rationals."""
    det = _det(M)
    out = []
    for i in range(M.shape[0]):
        Mi = M.copy()
        Mi[:, i] = rhs
        out.append(_det(Mi) / det)
    return out


@given(general_position_planes(d=3))
def test_count_of_an_arrangement_of_planes(case):
    # n planes in general position cut R^3 into C(n,0) + C(n,1) + C(n,2) + C(n,3) regions.
    net, reach = case
    n = net.widths[1]
    result = enumerate_regions(net, box=(-reach, reach))
    assert len(result) == 1 + n + n * (n - 1) // 2 + n * (n - 1) * (n - 2) // 6


@given(general_position_planes(d=2, max_n=7))
def test_count_of_an_arrangement_of_lines(case):
    net, reach = case
    n = net.widths[1]
    assert len(enumerate_regions(net, box=(-reach, reach))) == 1 + n + n * (n - 1) // 2


@given(st.data())
def test_agrees_with_the_slice_on_2d_inputs(data):
    # grid weights make coincident and parallel hinges, dead units and hinges through box corners common
    net = data.draw(dst.networks(in_features=2, max_depth=3, max_width=4, exact=True))
    result = enumerate_regions(net, box=(-2, 2))
    plane = slice_regions(net, [0, 0], [1, 0], [0, 1], bounds=((-2, 2), (-2, 2)))
    assert _pattern_set(result.patterns) == _pattern_set(plane.patterns)
    assert result.verified_exactly
    assert sum(result.volumes()) == pytest.approx(16, rel=VOLUME_RTOL)


@settings(max_examples=BRUTE_FORCE_EXAMPLES)
@given(st.data())
def test_agrees_with_brute_force(data):
    d = data.draw(st.integers(2, 3))
    net = data.draw(dst.networks(in_features=d, min_depth=2, max_depth=3, max_width=3, out_features=1)
                    .filter(lambda n: sum(n.widths[1:-1]) <= 5))
    result = enumerate_regions(net, box=(-2, 2))
    patterns, _ = reference.enumerate_regions(net, box=(-2, 2))
    assert _pattern_set(result.patterns) == _pattern_set(patterns)


@given(st.data())
def test_volumes_add_up_and_witnesses_have_their_pattern(data):
    d = data.draw(st.integers(2, 4))
    hidden = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=2))
    net = mlp((d, *hidden, 1), rng=data.draw(st.integers(0, 2**16)))
    result = enumerate_regions(net, box=(-1.5, 1.5), verify="exact")
    assert result.volumes().sum() == pytest.approx(3.0**d, rel=VOLUME_RTOL)
    assert (result.volumes() > 0).all() and len(_pattern_set(result.patterns)) == len(result)
    np.testing.assert_array_equal(to_exact(net).trace(result.witnesses).pattern_vector, result.patterns)
    # the Region objects: the witness is inside its own region (strictly: exact pattern membership) and no other
    regions = result.regions
    assert all(region.contains(w, closed=False) for region, w in zip(regions, result.witnesses))
    np.testing.assert_array_equal(result.locate(result.witnesses), np.arange(len(result)))
    if len(result) > 1:
        assert not regions[0].contains(result.witnesses[1], closed=False)


def test_golden_two_layers():
    # relu(x), relu(y), then relu(x' + y' - 1) on [-1, 1]^2 (as in test_slices): five regions, worked by hand.
    net = Network([Dense([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), ReLU(), Dense([[1.0, 1.0]], [-1.0]), ReLU()])
    result = enumerate_regions(net, box=(-1, 1))
    assert _pattern_set(result.patterns) == _pattern_set(np.array(
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [1, 1, 1]], dtype=bool))
    volumes = dict(zip([tuple(r) for r in result.patterns.astype(int).tolist()], result.volumes()))
    assert volumes[(1, 1, 1)] == pytest.approx(0.5) and volumes[(0, 0, 0)] == pytest.approx(1.0)


def test_polytope_domain():
    # The triangle x >= 0, y >= 0, x + y <= 2 (area 2) under relu(x - y), relu(x + y - 1): the hinges y = x and
    # x + y = 1 cut it into four pieces (worked by hand: both lines cross the triangle and meet at (1/2, 1/2)).
    net = Network([Dense([[1.0, -1.0], [1.0, 1.0]], [0.0, -1.0]), ReLU()])
    A, b = np.array([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]), np.array([0.0, 0.0, 2.0])
    result = enumerate_regions(net, polytope=(A, b))
    assert len(result) == 4 and result.volumes().sum() == pytest.approx(2.0)
    assert (result.witnesses @ A.T < b).all()


def test_one_dimensional_input_is_the_line():
    net = mlp((1, 5, 4, 1), rng=3)
    result = enumerate_regions(net, box=(-3.0, 3.0))
    line = line_regions(net, [-3.0], [3.0])
    np.testing.assert_array_equal(result.patterns, line.patterns)
    assert result.volumes().sum() == pytest.approx(6.0)


def test_exact_network_and_degenerate_units():
    # unit 0 dead (zero row, bias -1), unit 1 always active (zero row, bias 1), units 2 and 3 share the hinge x = 0
    net = Network([Dense([[0, 0], [0, 0], [1, 0], [2, 0], [0, 1]], [-1, 1, 0, 0, 0]), ReLU()]).to_exact()
    result = enumerate_regions(net, box=(-1, 1))
    assert len(result) == 4 and result.verified_exactly
    assert not result.patterns[:, 0].any() and result.patterns[:, 1].all()
    np.testing.assert_array_equal(result.patterns[:, 2], result.patterns[:, 3])
    assert all(isinstance(v, Fraction) for v in result.witnesses.flat)


def test_max_regions_guard():
    net = mlp((2, 8, 8, 1), rng=0)
    with pytest.raises(RegionLimitError, match="max_regions"):
        enumerate_regions(net, box=(-3, 3), max_regions=5)
    with pytest.warns(RuntimeWarning, match="incomplete"):
        partial = enumerate_regions(net, box=(-3, 3), max_regions=5, on_limit="stop")
    assert len(partial) == 5 and not partial.complete
    full = enumerate_regions(net, box=(-3, 3), progress=True)
    assert full.complete and len(full) > 5 and _pattern_set(partial.patterns) <= _pattern_set(full.patterns)


def test_validates():
    net = mlp((2, 3, 1), rng=0)
    with pytest.raises(ValueError, match="box, polytope"):
        enumerate_regions(net)
    with pytest.raises(ValueError, match="box, polytope"):
        enumerate_regions(net, box=(-1, 1), polytope=(np.eye(2), np.ones(2)))
    with pytest.raises(ValueError, match="box"):
        enumerate_regions(net, box=(1, -1))
    with pytest.raises(ValueError, match="box"):
        enumerate_regions(net, box=([0, 0, 0], [1, 1, 1]))
    with pytest.raises(ValueError, match="unbounded"):
        enumerate_regions(net, polytope=(np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones(2)))
    flat = (np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]), np.array([0.0, 0.0, 1.0, 1.0]))  # x = 0
    with pytest.raises(ValueError, match="interior"):
        enumerate_regions(net, polytope=flat)
    with pytest.raises(ValueError, match="max_regions"):
        enumerate_regions(net, box=(-1, 1), max_regions=0)
    with pytest.raises(ValueError, match="on_limit"):
        enumerate_regions(net, box=(-1, 1), on_limit="ignore")
    with pytest.raises(ValueError, match="verify"):
        enumerate_regions(net, box=(-1, 1), verify="maybe")
