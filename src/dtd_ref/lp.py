"""The single wrapper through which every linear program of the project is solved.

``solve_lp`` calls ``scipy.optimize.linprog(method="highs")`` and returns an :class:`LPResult` whose ``x`` is set
only when the solver reports an optimal solution *and* that solution satisfies the constraints it was given (a
residual check independent of the solver).  Infeasible and unbounded problems are reported through ``status``;
every other outcome of the solver (iteration limit, numerical trouble, a claimed optimum that violates the
constraints) raises :class:`LPError`.  No caller ever reads a solution that is not optimal.

Two differences from ``linprog`` are deliberate:

* variables are **free** by default (``linprog`` silently imposes x >= 0 unless told otherwise);
* exact (``fractions.Fraction``) coefficients are accepted and rounded to float64, since the solver is floating
  point.  Callers that need an exact verdict verify the returned point in exact arithmetic (as
  :meth:`dtd_ref.regions.Region.witness` does).

``chebyshev_center`` finds the largest ball inside a polyhedron {x : A x <= b} with one such LP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_array, is_exact

__all__ = [
    "LPResult", "LPError", "solve_lp", "ChebyshevResult", "chebyshev_center",
    "OPTIMAL", "INFEASIBLE", "UNBOUNDED", "LP_FEASIBILITY_RTOL",
]

OPTIMAL = "optimal"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"

#: A claimed optimum x must satisfy every row a_i x <= b_i up to LP_FEASIBILITY_RTOL * (|a_i| |x| + |b_i| + 1),
#: with |.| the absolute values; HiGHS works to a primal feasibility tolerance of 1e-7 on its scaled model, so a
#: larger violation means the solution cannot be trusted.
LP_FEASIBILITY_RTOL = 1e-6

_SCIPY_OPTIMAL, _SCIPY_INFEASIBLE, _SCIPY_UNBOUNDED = 0, 2, 3


class LPError(RuntimeError):
    """The solver failed to decide the problem (iteration limit, numerical difficulties, inconsistent answer)."""


@dataclass(frozen=True)
class LPResult:
    """Outcome of :func:`solve_lp`.

    Attributes
    ----------
    status : {"optimal", "infeasible", "unbounded"}
    x : ndarray (d,) or None
        The optimal point; ``None`` unless ``status == "optimal"``.
    fun : float or None
        The optimal value c^T x; ``None`` unless optimal.
    message : str
        The solver's message, for reports.
    """

    status: str
    x: np.ndarray | None
    fun: float | None
    message: str

    @property
    def optimal(self) -> bool:
        return self.status == OPTIMAL


def _float_array(value, name: str, ndim: int, *, allow_empty: bool = False) -> np.ndarray:
    array = as_array(value, name, ndim=ndim, allow_empty=allow_empty)
    if is_exact(array):
        from .exact import to_float

        array = to_float(array)
    return array


def _constraints(A, b, d: int, A_name: str, b_name: str):
    if A is None and b is None:
        return np.zeros((0, d)), np.zeros(0)
    if A is None or b is None:
        raise ValueError(f"{A_name} and {b_name} must be given together")
    A = _float_array(A, A_name, 2, allow_empty=True)
    b = _float_array(b, b_name, 1, allow_empty=True)
    if A.shape != (b.shape[0], d):
        raise ValueError(f"{A_name}: expected shape ({b.shape[0]}, {d}) to match {b_name} {b.shape} and c ({d},), "
                         f"got {A.shape}")
    return A, b


def _bounds(bounds, d: int) -> np.ndarray:
    """Bounds as a float (d, 2) array of [low, high] with -inf / inf for no bound."""
    if bounds is None:
        return np.tile([-np.inf, np.inf], (d, 1))
    try:
        raw = np.array(bounds, dtype=object)
    except ValueError as error:  # ragged input
        raise ValueError(f"bounds: expected None, a pair (low, high) or d pairs, got {bounds!r}") from error
    if raw.shape == (2,):
        raw = np.tile(raw, (d, 1))
    if raw.shape != (d, 2):
        raise ValueError(f"bounds: expected None, a pair (low, high) or shape ({d}, 2), got shape {raw.shape}")
    out = np.empty((d, 2))
    for (i, j), value in np.ndenumerate(raw):
        default = -np.inf if j == 0 else np.inf
        try:
            out[i, j] = default if value is None else float(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"bounds: entry [{i}, {j}] = {value!r} is not a number or None") from error
    if np.isnan(out).any() or (out[:, 0] == np.inf).any() or (out[:, 1] == -np.inf).any():
        raise ValueError(f"bounds: NaN, a low bound of +inf or a high bound of -inf in shape {out.shape}")
    return out


def _check_solution(x, A, b, name: str):
    if A.shape[0] == 0:
        return
    scale = np.abs(A) @ np.abs(x) + np.abs(b) + 1.0
    violation = (A @ x - b) / scale
    worst = int(np.argmax(violation))
    if violation[worst] > LP_FEASIBILITY_RTOL:
        raise LPError(f"solver returned a point violating {name} row {worst} by a relative {violation[worst]:.3g}")


def solve_lp(c, *, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=None) -> LPResult:
    """Minimise c^T x subject to A_ub x <= b_ub, A_eq x = b_eq and bounds, with HiGHS.

    Parameters
    ----------
    c : array_like, shape (d,)
        Objective (minimised).  Use ``-c`` to maximise.
    A_ub : array_like, shape (m, d), optional
    b_ub : array_like, shape (m,), optional
    A_eq : array_like, shape (k, d), optional
    b_eq : array_like, shape (k,), optional
    bounds : None, (low, high) or sequence of d pairs, optional
        ``None`` (default) leaves every variable free; ``None`` inside a pair means no bound on that side.

    Returns
    -------
    LPResult
        ``status`` "optimal" (with ``x`` and ``fun``), "infeasible" or "unbounded".

    Raises
    ------
    ValueError
        Bad shapes, NaN / inf coefficients, malformed bounds.
    LPError
        The solver gave up (iteration limit, numerical difficulties) or claimed an optimum violating the constraints
        by more than ``LP_FEASIBILITY_RTOL``.

    Notes
    -----
    An "infeasible" verdict is confirmed by a second solve with presolve off (HiGHS' presolve has declared feasible
    LPs infeasible).  When HiGHS can only say "infeasible or unbounded", the problem is solved again with c = 0:
    infeasible then means infeasible, feasible means unbounded.
    """
    from scipy.optimize import linprog

    c = _float_array(c, "c", 1)
    d = c.shape[0]
    A_ub, b_ub = _constraints(A_ub, b_ub, d, "A_ub", "b_ub")
    A_eq, b_eq = _constraints(A_eq, b_eq, d, "A_eq", "b_eq")
    box = _bounds(bounds, d)
    args = dict(A_ub=A_ub if A_ub.shape[0] else None, b_ub=b_ub if A_ub.shape[0] else None,
                A_eq=A_eq if A_eq.shape[0] else None, b_eq=b_eq if A_eq.shape[0] else None,
                bounds=[(None if np.isinf(lo) else lo, None if np.isinf(hi) else hi) for lo, hi in box],
                method="highs")
    res = linprog(c, **args)
    if res.status == _SCIPY_INFEASIBLE:
        # HiGHS' presolve has wrongly declared feasible LPs infeasible (e.g. ERGO-Code/HiGHS#2511, #1530; here: the
        # unbounded LP min x_2 - x_1 s.t. -1 <= x_0 + x_1 + x_2 <= 1); confirm every such verdict without presolve.
        res = linprog(c, options={"presolve": False}, **args)
    message = str(res.message)
    if res.status == _SCIPY_OPTIMAL:
        x = _checked_optimum(res.x, c, A_ub, b_ub, A_eq, b_eq, box)
        return LPResult(OPTIMAL, x, float(c @ x), message)
    if res.status == _SCIPY_INFEASIBLE:
        return LPResult(INFEASIBLE, None, None, message)
    if res.status == _SCIPY_UNBOUNDED:
        return LPResult(UNBOUNDED, None, None, message)
    if "unbounded or infeasible" in message.lower():
        feasibility = linprog(np.zeros(d), options={"presolve": False}, **args)
        if feasibility.status == _SCIPY_INFEASIBLE:
            return LPResult(INFEASIBLE, None, None, message)
        if feasibility.status == _SCIPY_OPTIMAL:
            return LPResult(UNBOUNDED, None, None, message)
    raise LPError(f"linprog(method='highs') failed with status {res.status}: {message}")


def _checked_optimum(x, c, A_ub, b_ub, A_eq, b_eq, box) -> np.ndarray:
    """The solver's optimum as float64 after an independent residual check of every constraint and bound."""
    d = c.shape[0]
    x = np.asarray(x, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    if x.shape != (d,) or not np.all(np.isfinite(x)):
        raise LPError(f"solver reported an optimum but returned x of shape {x.shape} with non-finite entries")
    _check_solution(x, A_ub, b_ub, "A_ub")
    _check_solution(x, np.vstack([A_eq, -A_eq]), np.concatenate([b_eq, -b_eq]), "A_eq")
    eye = np.eye(d)
    finite_lo, finite_hi = np.isfinite(box[:, 0]), np.isfinite(box[:, 1])
    _check_solution(x, np.vstack([-eye[finite_lo], eye[finite_hi]]),
                    np.concatenate([-box[finite_lo, 0], box[finite_hi, 1]]), "bounds")
    return x


@dataclass(frozen=True)
class ChebyshevResult:
    """Largest ball {center + u : |u| <= radius} inside a polyhedron.

    Attributes
    ----------
    status : {"optimal", "infeasible", "unbounded"}
        "infeasible": the polyhedron is empty; "unbounded": it holds balls of every radius (only when no
        ``max_radius`` was given).
    center : ndarray (d,) or None
    radius : float
        0 when the polyhedron is non-empty but has no interior; ``inf`` when unbounded; ``nan`` when empty.
    """

    status: str
    center: np.ndarray | None
    radius: float


def chebyshev_center(A, b, *, bounds=None, max_radius=None) -> ChebyshevResult:
    """Centre and radius of the largest Euclidean ball inside P = {x : A x <= b} (intersected with ``bounds``).

    Parameters
    ----------
    A : array_like, shape (m, d)
    b : array_like, shape (m,)
    bounds : None, (low, high) or d pairs, optional
        A box the ball must also lie in (its faces are added as rows).
    max_radius : float, optional
        Cap on the radius, so that unbounded polyhedra still give a centre.

    Returns
    -------
    ChebyshevResult

    Notes
    -----
    One LP in (x, r):  maximise r  subject to  a_i^T x + |a_i|_2 r <= b_i  for every row, 0 <= r <= max_radius.
    A ball of radius r around x lies in the half-space a_i^T y <= b_i iff a_i^T x + r |a_i| <= b_i, so the optimum
    is the largest inscribed ball.  Rows with a_i = 0 say 0 <= b_i: they are dropped when true and make P empty
    when false.  Radius 0 means P has no interior (it may still be non-empty).
    """
    A = _float_array(A, "A", 2, allow_empty=True)
    b = _float_array(b, "b", 1, allow_empty=True)
    if A.ndim != 2 or A.shape[0] != b.shape[0] or A.shape[1] == 0:
        raise ValueError(f"A: expected shape ({b.shape[0]}, d) with d >= 1 to match b {b.shape}, got {A.shape}")
    d = A.shape[1]
    if max_radius is not None:
        max_radius = float(as_array(max_radius, "max_radius", ndim=0))
        if not max_radius > 0:
            raise ValueError(f"max_radius: expected a positive number, got {max_radius}")
    box = _bounds(bounds, d)
    eye = np.eye(d)
    finite_lo, finite_hi = np.isfinite(box[:, 0]), np.isfinite(box[:, 1])
    A = np.vstack([A, -eye[finite_lo], eye[finite_hi]])
    b = np.concatenate([b, -box[finite_lo, 0], box[finite_hi, 1]])
    norms = np.linalg.norm(A, axis=1)
    zero = norms == 0
    if np.any(b[zero] < 0):
        return ChebyshevResult(INFEASIBLE, None, float("nan"))
    A, b, norms = A[~zero], b[~zero], norms[~zero]
    c = np.zeros(d + 1)
    c[-1] = -1.0
    result = solve_lp(c, A_ub=np.hstack([A, norms[:, None]]), b_ub=b,
                      bounds=[(None, None)] * d + [(0.0, max_radius)])
    if result.status == INFEASIBLE:
        return ChebyshevResult(INFEASIBLE, None, float("nan"))
    if result.status == UNBOUNDED:
        return ChebyshevResult(UNBOUNDED, None, float("inf"))
    return ChebyshevResult(OPTIMAL, result.x[:d], max(float(result.x[-1]), 0.0) + 0.0)
