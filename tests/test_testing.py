"""The public assertion helpers pass on true statements, fail on false ones, and refuse wrong set-ups."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp, to_fraction
from dtd_ref import _lines
from dtd_ref import _reference_network as ref
from dtd_ref import strategies as dst
from dtd_ref.lenet import convnet
from dtd_ref.pooling import MaxPool2d
from dtd_ref._magnitudes import _coordinate_margin
from dtd_ref.testing import (_closed_membership, assert_affine_on_region, assert_conserves, assert_exact_equal,
                             assert_gradient_matches_finite_difference, assert_taylor_exact)

SMALL = dict(max_depth=3, max_width=3, relu_on_output=True)


def ramp():
    """f(x) = relu(x_0 - 1) + 0 * x_1: hinge at x_0 = 1, slope 1 to the right, 0 to the left."""
    return Network([Dense([[1.0, 0.0]], [-1.0]), ReLU()])


# ---------------------------------------------------------------------------------------------------- exact equality
def test_assert_exact_equal():
    assert_exact_equal([Fraction(1, 2), 3], [0.5, 3.0])
    with pytest.raises(AssertionError, match=r"(?s)Mismatched elements: 1 / 2.*index \(1,\)"):
        assert_exact_equal([0.5, Fraction(1, 3)], [0.5, 1 / 3])        # 1/3 is not a float
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_exact_equal([1.0], [[1.0]])
    # integers above 2**53 are compared as integers, not through float64 (which would refuse or merge them)
    assert_exact_equal(np.array([2 ** 53 + 1]), [Fraction(2 ** 53 + 1)])
    with pytest.raises(AssertionError, match="not exactly equal"):
        assert_exact_equal(np.array([2 ** 53 + 1]), np.array([2 ** 53]))


# ---------------------------------------------------------------------------------------------------- conservation
def test_assert_conserves_float_and_exact():
    assert_conserves([[0.1, 0.2], [1.0, -1.0]], [[0.3], [0.0]])           # within CONSERVATION_RTOL
    assert_conserves([[1.0, 1.0]], [[3.0]], absorbed=[1.0])                # the ledger closes the gap
    with pytest.raises(AssertionError, match="not conserved"):
        assert_conserves([[1.0, 1.0]], [[3.0]])
    thirds = np.array([[Fraction(1, 3), Fraction(2, 3)]], dtype=object)
    assert_conserves(thirds, np.array([[1]], dtype=object))
    with pytest.raises(AssertionError, match="not conserved exactly"):
        assert_conserves(thirds, np.array([[1 + Fraction(1, 10 ** 30)]], dtype=object))
    with pytest.raises(ValueError, match="same leading shape"):
        assert_conserves(np.ones((2, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="absorbed"):
        assert_conserves(np.ones((2, 3)), np.ones((2, 1)), absorbed=np.ones(3))


# ---------------------------------------------------------------------------------------------------- affine on region
def test_assert_affine_on_region_catches_a_wrong_local_map(monkeypatch):
    net = mlp((2, 4, 1), rng=0)
    x = np.array([0.3, -0.2])
    points = x + 1e-4 * np.random.default_rng(0).normal(size=(5, 2))
    assert_affine_on_region(net, x, points, outside="skip")
    true_local_affine = net.local_affine
    monkeypatch.setattr(net, "local_affine", lambda z: (true_local_affine(z)[0], true_local_affine(z)[1] + 1e-9))
    with pytest.raises(AssertionError, match=r"not affine on the region of x"):
        assert_affine_on_region(net, x, points, outside="skip")


def test_assert_affine_on_region_preconditions():
    net = ramp()
    with pytest.raises(ValueError, match="outside the closed region of x"):
        assert_affine_on_region(net, [2.0, 0.0], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="none lies in the closed region"):
        assert_affine_on_region(net, [2.0, 0.0], [[0.0, 0.0]], outside="skip")
    with pytest.raises(ValueError, match="outside"):
        assert_affine_on_region(net, [2.0, 0.0], [[1.0, 0.0]], outside="maybe")
    # the hinge itself belongs to the closure of both sides, decided exactly
    assert_affine_on_region(net, [2.0, 0.0], [[1.0, 5.0]])
    assert_affine_on_region(net, [0.0, 0.0], np.array([[1, 5]], dtype=object))


@given(dst.nondegenerate_networks(**SMALL), dst.data())
def test_closed_membership_matches_its_loop_twin_exactly(net, data):
    exact_net = net.to_exact()
    x = data.draw(dst.inputs(net, denominator=2, exact=True))
    points = data.draw(dst.inputs(net, batch=4, denominator=2, exact=True))
    hinge = data.draw(dst.hinge_points(net)).x
    points = np.vstack([points, hinge[None, :], x[None, :]])
    inside = _closed_membership(exact_net, x, points, exact=True)
    np.testing.assert_array_equal(inside, ref.closed_membership(exact_net, x, points))
    assert inside[-1]


# ---------------------------------------------------------------------------------------------------- finite differences
def test_assert_gradient_matches_finite_difference_catches_a_wrong_jacobian(monkeypatch):
    net = mlp((3, 5, 2), rng=1)
    x = np.random.default_rng(2).normal(size=(3, 3))
    assert_gradient_matches_finite_difference(net, x)
    assert_gradient_matches_finite_difference(net, x, output=1)
    true_jacobian = net.jacobian
    monkeypatch.setattr(net, "jacobian", lambda z: true_jacobian(z) * (1 + 1e-6))
    with pytest.raises(AssertionError, match="central finite differences"):
        assert_gradient_matches_finite_difference(net, x)


def test_finite_difference_exact_mode_and_interior_precondition():
    net = ramp()
    assert_gradient_matches_finite_difference(net, np.array([Fraction(4, 3), Fraction(7)], dtype=object))
    with pytest.raises(ValueError, match="lie on a hinge"):
        assert_gradient_matches_finite_difference(net, [1.0, 0.0])
    # a point 1e-12 from the hinge still works: the step shrinks to the margin
    assert_gradient_matches_finite_difference(net, [1.0 + 1e-12, 3.0])
    # with no hinge at all (an affine network) any step is fine
    assert_gradient_matches_finite_difference(Network([Dense([[2.0, -1.0]], [0.5])]), [0.0, 0.0])


def test_finite_difference_decides_float_rounded_hinges_exactly():
    # float64 z = fl(3 x) - 1 = 0 at x = nextafter(fl(1/3), 1), but exactly z = 2**-53 > 0 (test_exact.py): the
    # point is interior (exact margin 2**-53 / 3), the exact differences give slope 3, and the float Jacobian, which
    # used the rounded pattern (inactive, slope 0), is caught
    net = Network([Dense([[3.0]], [-1.0]), ReLU()])
    with pytest.raises(AssertionError, match=r"(?s)actual 3.0, desired 0.0.*exact differences at \[0\]"):
        assert_gradient_matches_finite_difference(net, [np.nextafter(1 / 3, 1)])
    assert_gradient_matches_finite_difference(net.to_exact(), [np.nextafter(1 / 3, 1)])


# ---------------------------------------------------------------------------------------------------- Taylor
def test_assert_taylor_exact_root_on_its_own_hinge():
    net = ramp()
    x, root = np.array([3.0, 1.0]), np.array([1.0, 1.0])       # root on the hinge, segment in the active region
    assert_taylor_exact(net, x, root)                           # f(x) = 2 = 0 + 1 * (3 - 1)
    assert_taylor_exact(net.to_exact(), x, root)
    with pytest.raises(AssertionError, match="Taylor expansion at x_root is not exact"):
        assert_taylor_exact(net, x, root, gradient_at="root")   # ReLU'(0) = 0 gives the gradient of the other side
    with pytest.raises(ValueError, match="cross a region boundary"):
        assert_taylor_exact(net, x, np.array([0.0, 0.0]))       # the segment crosses the hinge at x_0 = 1
    with pytest.raises(ValueError, match="gradient_at"):
        assert_taylor_exact(net, x, root, gradient_at="x")
    with pytest.raises(ValueError, match="x_root: expected shape"):
        assert_taylor_exact(net, np.ones((3, 2)), np.ones((2, 2)))


@given(dst.nondegenerate_networks(**SMALL), dst.data())
def test_taylor_is_exact_towards_points_of_the_same_piece(net, data):
    exact_net = net.to_exact()
    x = data.draw(dst.inputs(net, denominator=4, exact=True))
    root = data.draw(dst.hinge_points(net)).x
    # shrink x towards the root until the segment is one piece (it is, for a small enough step)
    for k in range(40):
        if _lines.segment_is_affine(exact_net, root, x):
            break
        x = root + (x - root) / 2
    assert_taylor_exact(exact_net, x, root)


def test_assert_conserves_takes_single_exact_samples_and_a_scalar_ledger():
    # Single (unbatched) exact relevance vectors: sum (1/2, 1/3) + 1/6 = 1, and 1 != 2 must fail.
    from fractions import Fraction as F

    lower = np.array([F(1, 2), F(1, 3)], dtype=object)
    assert_conserves(lower, np.array([F(1)], dtype=object), absorbed=F(1, 6))
    with pytest.raises(AssertionError):
        assert_conserves(lower, np.array([F(2)], dtype=object), absorbed=F(1, 6))


# ---------------------------------------------------------------------------------------------------- conv and max pool
def window():
    """f(x) = max(x_0, x_1): one max-pool window over the identity (input shape (1, 1, 2)), then the identity."""
    return Network([Dense(np.eye(2), [0.0, 0.0]), MaxPool2d((1, 1, 2), (1, 2)), Dense([[1.0]], [0.0])])


@pytest.mark.parametrize("pool", [None, "max", "avg"])
def test_helpers_on_conv_networks_pass_and_catch_a_wrong_map(pool, monkeypatch):
    net = convnet((1, 5, 5), rng=0, channels=(2,), pool=pool)
    x = np.random.default_rng(1).normal(size=(3, 25))
    assert_gradient_matches_finite_difference(net, x)
    assert_gradient_matches_finite_difference(net.to_exact(), x[:1])
    points = x[0] + 1e-5 * np.random.default_rng(2).normal(size=(4, 25))
    assert_affine_on_region(net, x[0], points, outside="skip")
    true_jacobian, true_local_affine = net.jacobian, net.local_affine
    monkeypatch.setattr(net, "jacobian", lambda z: true_jacobian(z) * (1 + 1e-6))
    with pytest.raises(AssertionError, match="central finite differences"):
        assert_gradient_matches_finite_difference(net, x)
    monkeypatch.setattr(net, "local_affine", lambda z: (true_local_affine(z)[0], true_local_affine(z)[1] + 1e-9))
    with pytest.raises(AssertionError, match="not affine on the region of x"):
        assert_affine_on_region(net, x[0], points, outside="skip")


def test_max_pool_margin_is_the_distance_to_a_tie():
    # max(x_0, x_1) at (1, 3/4): the region row is x_1 - x_0 <= 0 with slack 1/4 and max |G| = 1, so the margin
    # is 1/4 (by hand), not min |z| = 3/4; at (1, 1) the window ties: margin 0.
    net = window().to_exact()
    assert _coordinate_margin(net, to_fraction(np.array([[1.0, 0.75], [1.0, 1.0]]))) == [Fraction(1, 4), 0]


def test_finite_differences_near_a_max_pool_tie():
    # 1e-4 from the tie: a step of |z| / 2 = 0.5 would cross it and average the two slopes (1/2, 1/2)
    net = window()
    assert_gradient_matches_finite_difference(net, [[1.0, 0.9999], [-2.0, 3.0]])
    with pytest.raises(ValueError, match="lie on a hinge"):
        assert_gradient_matches_finite_difference(net, [1.0, 1.0])


def test_affine_on_a_max_pool_region_and_its_closure():
    net = window()
    x = np.array([1.0, 0.5])                                   # x_0 wins: the region is x_1 <= x_0
    assert_affine_on_region(net, x, [[2.0, 1.0], [1.0, 1.0], [-1.0, -3.0]])   # (1, 1) ties: in the closure
    assert_affine_on_region(net.to_exact(), x, np.array([[Fraction(1, 3), Fraction(1, 3)]], dtype=object))
    with pytest.raises(ValueError, match="outside the closed region of x"):
        assert_affine_on_region(net, x, [[0.5, 1.0]])
    np.testing.assert_array_equal(_closed_membership(net.to_exact(), to_fraction(x),
                                                     to_fraction(np.array([[1.0, 1.0], [1.0, 1.0 + 2.0 ** -52]])),
                                                     exact=True), [True, False])


def test_taylor_on_a_max_pool_segment():
    # From the tie (1, 1) towards (1, 3) the window's winner is x_1 (it rises): f(x) - f(root) = 3 - 1 = 2 =
    # (0, 1) . (0, 2) (by hand).  At the root itself the first element wins, gradient (1, 0): the identity fails.
    net = window()
    x, root = np.array([1.0, 3.0]), np.array([1.0, 1.0])
    assert_taylor_exact(net, x, root)
    assert_taylor_exact(net.to_exact(), x, root)
    with pytest.raises(AssertionError, match="not exact"):
        assert_taylor_exact(net, x, root, gradient_at="root")
    with pytest.raises(ValueError, match="cross a region boundary"):
        assert_taylor_exact(net, np.array([0.0, 2.0]), np.array([2.0, 0.0]))    # crosses the tie at (1, 1)


def test_magnitudes_of_a_leaky_relu_with_slope_minus_one():
    # LeakyReLU(-1) is |z|; its magnitude network has slope |-1| = 1, which LeakyReLU itself refuses
    net = Network([Dense([[1.0]], [0.0]), LeakyReLU(-1.0), Dense([[2.0]], [0.0])])
    assert_gradient_matches_finite_difference(net, [[2.0], [-3.0]])
    assert_affine_on_region(net, [-3.0], [[-1.0], [0.0]])


def test_helpers_take_integers_above_2_53_on_exact_networks():
    # relu(x - 2**53): affine on x >= 2**53, where f(x) = x - 2**53 (float64 could not hold 2**53 + 1)
    net = Network([Dense([[1.0]], [-(2.0 ** 53)]), ReLU()]).to_exact()
    assert_affine_on_region(net, np.array([2 ** 53 + 1]), np.array([[2 ** 53], [2 ** 53 + 3]]))
    assert_gradient_matches_finite_difference(net, np.array([2 ** 53 + 1]))
    with pytest.raises(ValueError, match="cannot be represented exactly in float64"):
        assert_gradient_matches_finite_difference(Network([Dense([[1.0]], [0.0]), ReLU()]), np.array([2 ** 53 + 1]))
