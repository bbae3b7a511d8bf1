"""Tests of the LP wrapper ``dtd_ref.lp``: hand-worked optima, detection of infeasible / unbounded problems, and that
no non-optimal solution ever leaves the wrapper."""

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dtd_ref import lp
from dtd_ref.lp import LPError, chebyshev_center, solve_lp

TOL = 1e-7  # agreement with hand-worked optima (HiGHS works to ~1e-9 on these tiny problems)
FEAS_TOL = 1e-7  # constraint residual accepted on solver output in the properties


# ---------------------------------------------------------------------------------------------------- golden values
def test_golden_two_constraint_lp():
    # min x1 + x2  s.t.  x1 + 2 x2 >= 2,  3 x1 + x2 >= 3,  x >= 0.
    # Vertices: (2, 0) (sum 2), (0, 3) (sum 3), and the crossing of both lines: x2 = 3 - 3 x1 in x1 + 2 x2 = 2 gives
    # x1 = 4/5, x2 = 3/5, sum 7/5: the optimum.
    res = solve_lp([1, 1], A_ub=[[-1, -2], [-3, -1]], b_ub=[-2, -3], bounds=(0, None))
    assert res.status == "optimal" and res.optimal
    np.testing.assert_allclose(res.x, [0.8, 0.6], atol=TOL)
    assert res.fun == pytest.approx(1.4, abs=TOL)


def test_variables_are_free_by_default():
    # min x s.t. -x <= 5 (x >= -5): optimum -5; scipy's own default bounds (x >= 0) would give 0.
    res = solve_lp([1.0], A_ub=[[-1.0]], b_ub=[5.0])
    assert res.x[0] == pytest.approx(-5.0, abs=TOL)


def test_equality_constraints_and_per_variable_bounds():
    # min -x1 - x2 s.t. x1 - x2 = 1, x1 <= 3 (bound), x2 free: x1 = 3, x2 = 2, value -5.
    res = solve_lp([-1, -1], A_eq=[[1, -1]], b_eq=[1], bounds=[(None, 3), (None, None)])
    np.testing.assert_allclose(res.x, [3, 2], atol=TOL)
    assert res.fun == pytest.approx(-5, abs=TOL)


def test_exact_coefficients_are_accepted():
    c = np.array([Fraction(1, 3), Fraction(2, 3)], dtype=object)
    res = solve_lp(c, A_ub=np.array([[Fraction(-1), 0], [0, -1]], dtype=object), b_ub=[1, 1])
    np.testing.assert_allclose(res.x, [-1, -1], atol=TOL)


def test_infeasible_and_unbounded_are_reported_without_a_point():
    infeasible = solve_lp([1], A_ub=[[1], [-1]], b_ub=[-1, 0])  # x <= -1 and x >= 0
    assert infeasible.status == "infeasible" and infeasible.x is None and infeasible.fun is None
    unbounded = solve_lp([-1], A_ub=[[-1]], b_ub=[0])  # max x with x >= 0
    assert unbounded.status == "unbounded" and unbounded.x is None and not unbounded.optimal


def test_presolve_false_infeasibility_is_not_believed():
    # Found by the recession-direction property below: HiGHS' presolve (scipy 1.17) calls this LP infeasible, yet
    # x = 0 is feasible (|0| <= 1) and x = t (0, 1, -1) keeps x_0 + x_1 + x_2 = 0 while c^T x = -2 t -> -inf.
    res = solve_lp([0, -1, 1], A_ub=[[0, 0, 0], [0, 0, 0], [1, 1, 1], [-1, -1, -1]], b_ub=[1, 1, 1, 1])
    assert res.status == "unbounded"


# ---------------------------------------------------------------------------------------------------- properties
def _lp_data(draw, m, d):
    A = draw(hnp.arrays(np.float64, (m, d), elements=st.integers(-4, 4).map(float)))
    y0 = draw(hnp.arrays(np.float64, (d,), elements=st.integers(-3, 3).map(float)))
    s = draw(hnp.arrays(np.float64, (m,), elements=st.integers(0, 3).map(float)))
    c = draw(hnp.arrays(np.float64, (d,), elements=st.integers(-3, 3).map(float)))
    return A, y0, s, c


@st.composite
def feasible_boxed_lps(draw):
    m, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    A, y0, s, c = _lp_data(draw, m, d)
    return A, A @ y0 + s, c, y0  # y0 is feasible by construction; the box [-5, 5]^d contains it


@given(feasible_boxed_lps(), st.data())
def test_feasible_bounded_lp_is_optimal_and_beats_feasible_points(problem, data):
    A, b, c, y0 = problem
    res = solve_lp(c, A_ub=A, b_ub=b, bounds=(-5, 5))
    assert res.optimal
    assert np.all(A @ res.x <= b + FEAS_TOL * (1 + np.abs(b)))
    assert np.all(np.abs(res.x) <= 5 + FEAS_TOL)
    assert res.fun == pytest.approx(float(c @ res.x))
    assert res.fun <= c @ y0 + FEAS_TOL  # y0 is feasible, so the optimum is no worse
    # and no worse than other feasible points on segments from y0
    for t in data.draw(st.lists(st.floats(0, 1), max_size=5)):
        y = np.clip(y0 + t * (res.x - y0) * 2, -5, 5)
        if np.all(A @ y <= b):
            assert res.fun <= c @ y + FEAS_TOL


@given(feasible_boxed_lps())
def test_contradictory_row_pair_is_infeasible(problem):
    A, b, c, _ = problem
    a = np.zeros(A.shape[1])
    a[0] = 1.0  # x_0 <= -1 and x_0 >= 1 cannot both hold
    res = solve_lp(c, A_ub=np.vstack([A, a, -a]), b_ub=np.concatenate([b, [-1.0, -1.0]]))
    assert res.status == "infeasible" and res.x is None


@given(feasible_boxed_lps(), hnp.arrays(np.float64, (4,), elements=st.integers(-2, 2).map(float)))
def test_objective_along_a_recession_direction_is_unbounded(problem, direction):
    A, _, _, y0 = problem
    d = direction[:A.shape[1]]
    if not np.any(d):
        d = np.eye(A.shape[1])[0]
    A = np.where((A @ d > 0)[:, None], -A, A)  # now A d <= 0: d is a recession direction
    b = A @ y0 + 1.0
    res = solve_lp(-d, A_ub=A, b_ub=b)  # -d^T (y0 + t d) -> -inf
    assert res.status == "unbounded" and res.x is None


# ---------------------------------------------------------------------------------------------------- never non-optimal
class _Fake:
    def __init__(self, status, x=None, message="fake"):
        self.status, self.x, self.message, self.fun = status, x, message, None


@pytest.mark.parametrize("status, message", [(1, "Iteration limit reached."), (4, "Numerical difficulties.")])
def test_solver_failures_raise(monkeypatch, status, message):
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: _Fake(status, np.zeros(1), message))
    with pytest.raises(LPError, match="status"):
        solve_lp([1.0], A_ub=[[1.0]], b_ub=[1.0])


def test_claimed_optimum_violating_constraints_raises(monkeypatch):
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: _Fake(0, np.array([2.0])))
    with pytest.raises(LPError, match="violating"):
        solve_lp([1.0], A_ub=[[1.0]], b_ub=[1.0])  # x = 2 violates x <= 1


def test_claimed_optimum_outside_bounds_raises(monkeypatch):
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: _Fake(0, np.array([-3.0])))
    with pytest.raises(LPError, match="bounds"):
        solve_lp([1.0], bounds=(0, 1))


def test_infeasible_or_unbounded_is_resolved_by_a_feasibility_solve(monkeypatch):
    real = scipy.optimize.linprog
    calls = []

    def fake(c, **kwargs):
        calls.append(np.asarray(c))
        if len(calls) == 1:
            return _Fake(4, None, "The problem is unbounded or infeasible. (HiGHS Status 9)")
        return real(c, **kwargs)

    monkeypatch.setattr(scipy.optimize, "linprog", fake)
    assert solve_lp([-1.0], A_ub=[[-1.0]], b_ub=[0.0]).status == "unbounded"
    assert not np.any(calls[1])  # the second solve has c = 0
    calls.clear()
    assert solve_lp([1.0], A_ub=[[1.0], [-1.0]], b_ub=[-1.0, 0.0]).status == "infeasible"


# ---------------------------------------------------------------------------------------------------- Chebyshev centre
def test_chebyshev_triangle_golden():
    # Triangle x >= 0, y >= 0, x + y <= 1: the inscribed circle touches all three sides, centre (r, r) with
    # r = (1 - 2 r) / sqrt(2), so r = 1 / (2 + sqrt(2)) = (2 - sqrt(2)) / 2.
    r = (2 - math.sqrt(2)) / 2
    res = chebyshev_center([[-1, 0], [0, -1], [1, 1]], [0, 0, 1])
    assert res.status == "optimal"
    assert res.radius == pytest.approx(r, abs=TOL)
    np.testing.assert_allclose(res.center, [r, r], atol=TOL)


def test_chebyshev_bounds_and_cap():
    # Half-plane x <= 1 inside the box [-3, 3]^2: the largest ball has radius 2 (from x = -3 to x = 1), centre x = -1,
    # y anywhere in [-1, 1].
    res = chebyshev_center([[1, 0]], [1], bounds=(-3, 3))
    assert res.radius == pytest.approx(2, abs=TOL) and res.center[0] == pytest.approx(-1, abs=TOL)
    assert chebyshev_center([[1, 0]], [1]).status == "unbounded"
    capped = chebyshev_center([[1, 0]], [1], max_radius=0.5)
    assert capped.radius == pytest.approx(0.5, abs=TOL) and capped.center[0] <= 0.5 + TOL


def test_chebyshev_degenerate_cases():
    flat = chebyshev_center([[1, 0], [-1, 0]], [0, 0], bounds=(-1, 1))  # the segment x = 0: no interior
    assert flat.status == "optimal" and flat.radius == 0.0
    assert chebyshev_center([[1.0], [-1.0]], [-1.0, 0.0]).status == "infeasible"
    assert chebyshev_center([[0.0, 0.0]], [-1.0]).status == "infeasible"  # 0 <= -1
    trivial = chebyshev_center([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], [0.0, 1.0, 1.0], bounds=(-5, 5))
    assert trivial.radius == pytest.approx(1.0, abs=TOL)  # the zero row 0 <= 0 is dropped


# ---------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(c=[1, 1], A_ub=[[1, 1, 1]], b_ub=[1]), "A_ub"),
    (dict(c=[1, 1], A_ub=[[1, 1]], b_ub=[1, 2]), "A_ub"),
    (dict(c=[1, 1], A_ub=[[1, 1]]), "A_ub and b_ub"),
    (dict(c=[np.nan, 1]), "c: contains NaN"),
    (dict(c=[1, 1], A_ub=[[1, np.inf]], b_ub=[1]), "A_ub: contains NaN or inf"),
    (dict(c=[[1, 1]]), "c: expected 1 dimensions"),
    (dict(c=[1, 1], bounds=[(0, 1)]), "bounds"),
    (dict(c=[1, 1], bounds=("a", 1)), "bounds"),
    (dict(c=[1, 1], bounds=(np.inf, None)), "bounds"),
    (dict(c=["x", "y"]), "c: expected a real numeric"),
    (dict(c=[1, 1], A_eq=[[1, 1]], b_eq=[[1]]), "b_eq"),
])
def test_bad_input_raises_value_error_naming_the_argument(kwargs, match):
    c = kwargs.pop("c")
    with pytest.raises(ValueError, match=match):
        solve_lp(c, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    (([[1, 0]], [1, 2]), {}, "A:"),
    (([[1, 0]], [np.nan]), {}, "b:"),
    (([[1, 0]], [1]), dict(max_radius=0), "max_radius"),
    (([[1, 0]], [1]), dict(max_radius=-1.0), "max_radius"),
])
def test_chebyshev_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        chebyshev_center(*args, **kwargs)


def test_public_names():
    assert set(lp.__all__) >= {"solve_lp", "LPResult", "LPError", "chebyshev_center", "ChebyshevResult"}
