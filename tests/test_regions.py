"""Tests of ``dtd_ref.regions``: the linear region of a point, membership semantics (closure, exact pattern, closed
on named units), margins, segments, witnesses, facets, and parity with the loop twins of ``_reference_regions``."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp, to_exact
from dtd_ref import _reference_regions as ref
from dtd_ref import strategies as dst
from dtd_ref.exact import to_float, to_fraction
from dtd_ref.regions import REGION_RTOL, Region, region_of, regions_of, same_region

TOL = 1e-7  # agreement with hand-worked LP values (solver accuracy)
MARGIN_SAFE = 1e-6  # float margins beyond this are far outside the membership band REGION_RTOL * (|x| + |b|)
PARITY_RTOL = 1e-12  # float parity of fast routines with their loop twins (different summation order)

F = Fraction


def _flat(region, layer, unit):
    return sum(p.size for p in region.pattern[:layer]) + unit


# ---------------------------------------------------------------------------------------------------- golden example
def golden_net():
    """z = (x1, x2, x1 + x2 - 1, x1 + x2); f = z1 - z2 + 2 z3 (unit 4 has weight 0 in f)."""
    return Network([Dense([[1, 0], [0, 1], [1, 1], [1, 1]], [0, 0, -1, 0]), ReLU(), Dense([[1, -1, 2, 0]], [0])])


def test_golden_region_rows_affine_map_and_margin():
    # At x = (2, 1): z = (2, 1, 2, 3), all active, so every row is -z_k <= 0:
    #   -x1 <= 0, -x2 <= 0, -x1 - x2 <= -1, -x1 - x2 <= 0.
    # f = x1 - x2 + 2 (x1 + x2 - 1) = 3 x1 + x2 - 2, f(2, 1) = 5.
    # Distances from (2, 1): 2, 1, (2 + 1 - 1) / sqrt(2) = sqrt(2), 3 / sqrt(2): margin 1.
    for net in (golden_net(), to_exact(golden_net())):
        region = region_of(net, [2, 1])
        np.testing.assert_array_equal(to_float(region.A), [[-1, 0], [0, -1], [-1, -1], [-1, -1]])
        np.testing.assert_array_equal(to_float(region.b), [0, 0, -1, 0])
        np.testing.assert_array_equal(region.pattern[0], [True, True, True, True])
        np.testing.assert_array_equal(region.units, [[0, 0], [0, 1], [0, 2], [0, 3]])
        A_s, c_s = region.affine_map()
        np.testing.assert_array_equal(to_float(A_s), [[3, 1]])
        np.testing.assert_array_equal(to_float(c_s), [-2])
        assert region.margin([2, 1]) == pytest.approx(1.0, rel=1e-15)
        # (0, -1) violates -x2 <= 0 by 1 and -x1 - x2 <= -1 by 2 / sqrt(2) = sqrt(2): margin -sqrt(2)
        assert region.margin([0, -1]) == pytest.approx(-math.sqrt(2), rel=1e-15)


def test_golden_hinge_semantics_exact():
    # (1/3, 2/3) lies exactly on unit 2's hinge x1 + x2 = 1 (not representable in float64); unit 2 is active in the
    # region of (2, 1), so the point is in the closure but does not have the pattern (z_2 = 0 means inactive).
    region = region_of(to_exact(golden_net()), [2, 1])
    hinge = np.array([F(1, 3), F(2, 3)], dtype=object)
    assert region.contains(hinge)
    assert not region.contains(hinge, closed=False)
    assert region.contains(hinge, closed=False, closed_on=2)
    assert region.contains(hinge, closed=False, closed_on=(0, 2))
    assert region.contains(hinge, closed=False, closed_on=[(0, 2), (0, 0)])
    assert region.contains(hinge, closed=False, closed_on=((0, 2), 1))
    assert region.contains(hinge, closed=False, closed_on=np.array([[0, 2]]))
    assert not region.contains(hinge, closed=False, closed_on=np.array([0, 1]))
    assert not region.contains(hinge, closed=False, closed_on=[0, 1, 3])
    # (0, 3) lies on unit 0's hinge x1 = 0
    assert region.contains([0, 3]) and not region.contains([0, 3], closed=False)
    assert region.contains([0, 3], closed=False, closed_on=0)
    # the float region decides the same points with its band, and (1/3, 2/3) rounded is within it
    float_region = region_of(golden_net(), [2, 1])
    assert float_region.contains(hinge) and not float_region.contains(hinge, closed=False)
    assert float_region.contains(to_float(hinge))


def test_golden_facets_and_witness():
    # Unit 3's row -x1 - x2 <= 0 is implied by -x1 - x2 <= -1: facets are rows 0, 1, 2.
    for net in (golden_net(), to_exact(golden_net())):
        region = region_of(net, [2, 1])
        np.testing.assert_array_equal(region.facets(), [0, 1, 2])
        # In the box [0, 2]^2 the largest ball of {x1, x2 >= 0, x1 + x2 >= 1} has centre (2 - r, 2 - r): the box
        # rows x <= 2 and the row x1 + x2 >= 1 + sqrt(2) r bind, 4 - 2 r = 1 + sqrt(2) r, r = 3 / (2 + sqrt(2)).
        r = 3 / (2 + math.sqrt(2))
        w = region.witness(bounds=(0, 2))
        assert w.radius == pytest.approx(r, abs=TOL)
        np.testing.assert_allclose(to_float(w.point), [2 - r, 2 - r], atol=TOL)
        assert region.has_pattern(w.point) and (region.exact == net.exact)
        assert region.witness().radius == pytest.approx(1.0, abs=TOL)  # unbounded region: the cap


def test_witness_rejects_a_centre_without_the_pattern(monkeypatch):
    # If the LP ever handed back a centre outside the region, the verification must refuse it: fake the LP.
    from dtd_ref import lp, regions

    region = region_of(to_exact(golden_net()), [2, 1])
    fake = lp.ChebyshevResult("optimal", np.array([-1.0, -1.0]), 1.0)  # (-1, -1): every unit inactive
    monkeypatch.setattr(regions, "chebyshev_center", lambda *a, **k: fake)
    assert region.witness() is None
    monkeypatch.setattr(regions, "chebyshev_center", lambda *a, **k: lp.ChebyshevResult("optimal", np.ones(2), 0.0))
    assert region.witness() is None  # radius 0: no interior


# ---------------------------------------------------------------------------------------------------- properties
float_nets = dst.networks(in_features=2, max_depth=3, max_width=4)
exact_nets = dst.networks(in_features=2, max_depth=3, max_width=3, exact=True)
slopes = st.sampled_from([None, 0.125, -0.5])


@given(st.data())
def test_region_of_x_contains_x(data):
    net = data.draw(dst.networks(max_depth=3, max_width=4, negative_slope=data.draw(slopes),
                                 relu_on_output=data.draw(st.booleans())))
    x = data.draw(dst.inputs(net))
    region = region_of(net, x)
    assert region.contains(x)
    assert region.margin(x) >= -MARGIN_SAFE
    exact_region = region_of(to_exact(net), x)
    assert exact_region.contains(x, closed=False) and exact_region.margin(x) >= 0


@given(st.data())
def test_exact_membership_is_pattern_equality(data):
    net = data.draw(dst.networks(in_features=2, max_depth=3, max_width=3, exact=True,
                                 negative_slope=data.draw(slopes)))
    x = data.draw(dst.inputs(net, denominator=4, exact=True))
    Y = data.draw(dst.inputs(net, batch=12, denominator=4, exact=True))
    Y = np.vstack([Y, x + (Y - x) / 8])  # half of the points close to x, so both answers occur
    region = region_of(net, x)
    same = same_region(net, x, Y)
    np.testing.assert_array_equal(region.contains(Y, closed=False), same)
    np.testing.assert_array_equal(region.has_pattern(Y), same)
    assert np.all(region.contains(Y)[same])  # the region lies in its closure


@given(st.data())
def test_hinge_point_is_in_closure_not_in_region_unless_closed_on_its_unit(data):
    net = data.draw(dst.nondegenerate_networks(in_features=2, min_depth=2, max_depth=3, max_width=3, exact=True))
    h = data.draw(dst.hinge_points(net))
    own = region_of(net, h.x)
    assert own.contains(h.x, closed=False)  # z = 0 counts as inactive: the hinge point has its own pattern
    # the neighbouring region where the unit is active: at h its row -z <= 0 holds only with equality
    flipped = [p.copy() for p in own.pattern]
    flipped[h.layer][h.unit] = True
    neighbour = Region.from_pattern(net, flipped)
    k = _flat(neighbour, h.layer, h.unit)
    assert neighbour.contains(h.x)
    assert not neighbour.contains(h.x, closed=False)
    assert neighbour.contains(h.x, closed=False, closed_on=k)
    assert neighbour.contains(h.x, closed=False, closed_on=(h.layer, h.unit))
    row = int(np.flatnonzero(neighbour.flat_units == k)[0])
    if any(v != 0 for v in neighbour.A[row]):  # a row 0 <= 0 (the unit is constant on the region) has no facet
        assert neighbour.margin(h.x) == 0


@given(st.data())
def test_network_is_the_region_affine_map_on_the_closure(data):
    net = data.draw(exact_nets)
    x = data.draw(dst.inputs(net, denominator=4, exact=True))
    Y = data.draw(dst.inputs(net, batch=8, denominator=4, exact=True))
    region = region_of(net, x)
    w = region.witness()
    centre = x if w is None else w.point
    Y = np.vstack([x, centre] + [centre + (Y - centre) * F(1, 2 ** k) for k in (0, 2, 5)])
    A_s, c_s = region.affine_map()
    inside = region.contains(Y)
    assert inside[:2].all()
    # f(y) = A_s y + c_s exactly for every y in the closure (f is continuous, so also on the boundary)
    np.testing.assert_array_equal(net(Y[inside]), Y[inside] @ A_s.T + c_s)


@given(st.data())
def test_witness_has_the_pattern(data):
    exact = data.draw(st.booleans())
    net = data.draw(exact_nets if exact else float_nets)
    x = data.draw(dst.inputs(net))
    region = region_of(net, x)
    w = region.witness()
    if w is None:  # allowed only when x itself is not safely interior
        assert not (region.contains(x, closed=False) and region.margin(x) > MARGIN_SAFE)
        return
    assert w.radius > 0 and is_exact_array(w.point) == net.exact
    assert same_region(net, x, w.point) or not region.contains(x, closed=False)
    for p, q in zip(net.activation_pattern(w.point), region.pattern):
        np.testing.assert_array_equal(p, q)
    assert region.margin(w.point) >= w.radius * (1 - 1e-6) - TOL  # the ball really lies inside


def is_exact_array(a):
    return isinstance(a, np.ndarray) and a.dtype == object


@given(st.data())
def test_margin_sign_agrees_with_contains(data):
    exact = data.draw(st.booleans())
    net = data.draw(exact_nets if exact else float_nets)
    x = data.draw(dst.inputs(net))
    Y = data.draw(dst.inputs(net, batch=10, denominator=8 if exact else None, exact=exact))
    region = region_of(net, x)
    m = region.margin(Y)
    if exact:
        np.testing.assert_array_equal(region.contains(Y), m >= 0)
        assert np.all(region.contains(Y, closed=False)[m > 0])
    else:
        assert np.all(region.contains(Y, closed=False)[m > MARGIN_SAFE])
        assert not np.any(region.contains(Y)[m < -MARGIN_SAFE])


@given(st.data())
def test_segment_containment_matches_points_along_it(data):
    net = data.draw(exact_nets)
    x = data.draw(dst.inputs(net, denominator=4, exact=True))
    P = data.draw(dst.inputs(net, batch=6, denominator=4, exact=True))
    Q = x + (data.draw(dst.inputs(net, batch=6, denominator=4, exact=True)) - x) / 4
    region = region_of(net, x)
    for closed in (True, False):
        seg = region.contains_segment(P, Q, closed=closed)
        np.testing.assert_array_equal(seg, region.contains(P, closed=closed) & region.contains(Q, closed=closed))
        for t in (F(1, 3), F(1, 2), F(7, 9)):
            assert np.all(region.contains(P + t * (Q - P), closed=closed)[seg])


@given(st.data())
def test_regions_of_batch_equals_region_of_each(data):
    net = data.draw(float_nets)
    X = data.draw(dst.inputs(net, batch=4))
    for x, region in zip(X, regions_of(net, X)):
        single = region_of(net, x)
        np.testing.assert_array_equal(region.A, single.A)
        np.testing.assert_array_equal(region.b, single.b)
        np.testing.assert_array_equal(region.strict, single.strict)


@given(st.data())
def test_facets_describe_the_same_region(data):
    net = data.draw(float_nets)
    x = data.draw(dst.inputs(net))
    region = region_of(net, x)
    if region.witness() is None:
        return  # facets are defined for full-dimensional regions
    keep = region.facets()
    Y = np.vstack([data.draw(dst.inputs(net, batch=30)), x])
    full = region.margin(Y)
    reduced = Region(net, region.pattern, region.A[keep], region.b[keep], region.units[keep],
                     region.flat_units[keep], region.strict[keep]).margin(Y)
    clear = np.abs(full) > MARGIN_SAFE
    np.testing.assert_array_equal((reduced >= 0)[clear], (full >= 0)[clear])


# ---------------------------------------------------------------------------------------------------- max pooling
def test_max_pool_region_membership_is_pattern_equality():
    lenet = pytest.importorskip("dtd_ref.lenet")
    net = lenet.convnet((1, 5, 5), rng=0, channels=(2,), pool="max")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(25)
    Y = x + 0.05 * rng.standard_normal((200, 25))
    for network in (net, to_exact(net)):
        region = region_of(network, x)
        Yn = Y[:40] if network.exact else Y
        same = same_region(network, x, Yn)
        assert 0 < same.sum() < len(Yn)
        np.testing.assert_array_equal(region.contains(Yn, closed=False), same)


# ---------------------------------------------------------------------------------------------------- parity with loop twins
def _parity_nets():
    nets = {
        "relu": mlp((3, 4, 3, 2), rng=0),
        "leaky": mlp((3, 4, 3, 2), rng=1, negative_slope=0.1),
        "relu_on_output": mlp((2, 3, 3, 2), rng=2, relu_on_output=True),
    }
    nets.update({f"{k}_exact": to_exact(v) for k, v in list(nets.items())})
    return nets


PARITY_NETS = _parity_nets()


def _points(net, rng):
    d = net.in_features
    x = rng.standard_normal(d)
    Y = np.vstack([x + 0.3 * rng.standard_normal((25, d)), rng.standard_normal((5, d)), x])
    return x, Y


def _close(fast, slow):
    fast, slow = np.asarray(fast), np.asarray(slow)
    if fast.dtype == bool or slow.dtype == bool or is_exact_array(fast):
        np.testing.assert_array_equal(fast, slow)
    else:
        np.testing.assert_allclose(fast, slow, rtol=PARITY_RTOL, atol=0)


PAIRS = {
    "region_rows": (lambda net, x, Y, r: (r.A, r.b, r.pattern_vector), lambda net, x, Y, r: ref.region_rows(net, x)),
    "contains": (lambda net, x, Y, r: r.contains(Y), lambda net, x, Y, r: ref.contains(r, Y)),
    "contains_strict": (lambda net, x, Y, r: r.contains(Y, closed=False),
                        lambda net, x, Y, r: ref.contains(r, Y, closed=False)),
    "contains_closed_on": (lambda net, x, Y, r: r.contains(Y, closed=False, closed_on=[0, (1, 1)]),
                           lambda net, x, Y, r: ref.contains(r, Y, closed=False, closed_on=[0, (1, 1)])),
    "contains_exact_points": (lambda net, x, Y, r: r.contains(to_fraction(Y), closed=False),
                              lambda net, x, Y, r: ref.contains(r, to_fraction(Y), closed=False)),
    "margin": (lambda net, x, Y, r: r.margin(Y), lambda net, x, Y, r: ref.margin(r, Y)),
    "same_region": (lambda net, x, Y, r: same_region(net, x, Y), lambda net, x, Y, r: ref.same_region(net, x, Y)),
}


@pytest.mark.parametrize("net_name", sorted(PARITY_NETS))
@pytest.mark.parametrize("routine", sorted(PAIRS))
def test_fast_routines_match_loop_twins(routine, net_name):
    net = PARITY_NETS[net_name]
    x, Y = _points(net, np.random.default_rng(hash(net_name) % 2**32))
    region = region_of(net, x)
    fast, slow = PAIRS[routine]
    a, b = fast(net, x, Y, region), slow(net, x, Y, region)
    for u, v in zip(a, b) if isinstance(a, tuple) else [(a, b)]:
        _close(u, v)


def test_points_in_the_float_band_are_closed_but_not_strict():
    # a point moved off a hinge by far less than the band counts as in the closure and not (certainly) in the region
    net = golden_net()
    region = region_of(net, [2, 1])
    on_hinge = np.array([0.0, 3.0])  # on unit 0's hinge x1 = 0
    tiny = REGION_RTOL * 1e-3
    for y in (on_hinge, on_hinge + [tiny, 0], on_hinge - [tiny, 0]):
        assert region.contains(y) and not region.contains(y, closed=False)
    far = on_hinge - [1e-6, 0]
    assert not region.contains(far)


# ---------------------------------------------------------------------------------------------------- validation
def test_bad_input_raises_value_error_naming_the_argument():
    net = golden_net()
    region = region_of(net, [2, 1])
    cases = [
        (lambda: region.contains([1, 2, 3]), "points"),
        (lambda: region.contains([[np.nan, 1]]), "points: contains NaN"),
        (lambda: region.contains(np.zeros((2, 2, 2))), "points"),
        (lambda: region.margin(["a", "b"]), "points"),
        (lambda: region.contains([1, 1], closed_on=[0]), "closed_on"),
        (lambda: region.contains([1, 1], closed=False, closed_on=[7]), "closed_on"),
        (lambda: region.contains([1, 1], closed=False, closed_on=[(1, 0)]), "closed_on"),
        (lambda: region.contains([1, 1], closed=False, closed_on=[True]), "closed_on"),
        (lambda: region.contains([1, 1], closed=False, closed_on=["a"]), "closed_on"),
        (lambda: region.contains_segment([1, 1], [[1, 1], [2, 2]]), "p and q"),
        (lambda: region.contains_segment([1, 1], [1, np.inf]), "q"),
        (lambda: region_of(net, [[1, 1], [2, 2]]), "x"),
        (lambda: region_of(net, [1, np.nan]), "x"),
        (lambda: regions_of(net, [1, 2, 3]), "X"),
        (lambda: same_region(net, [[1, 1]], [1, 1]), "x"),
        (lambda: same_region(net, [1, 1], [[1, 1, 1]]), "points"),
        (lambda: Region.from_pattern(net, [np.ones(3, bool)]), "patterns"),
        (lambda: Region.from_pattern(net, [np.ones(4, bool), np.ones(4, bool)]), "pattern"),
        (lambda: Region.from_pattern(net, [np.ones(4)]), "pattern"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()


def test_float_network_refuses_exact_points_but_region_accepts_them():
    net = golden_net()
    with pytest.raises(ValueError, match="x"):
        region_of(net, np.array([F(1), F(2)], dtype=object))
    region = region_of(net, [2, 1])
    assert region.contains(np.array([F(1, 3), F(2, 3)], dtype=object))
