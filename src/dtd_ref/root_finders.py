"""Pluggable root finders for the full recursive DTD (:func:`dtd_ref.full_dtd.full_dtd`).

A root finder chooses, for every point a (the input of affine layer k) and neuron j, a root x_root_j of
phi_j(a) = R^{k+1}_j(f_k(a)).  It is called as ``finder.find(engine, k, P, dP, phiP, GP)`` with

* P (M, d_k) points and dP (M, m, d_k) the stack of directions along which their activation patterns are broken
  (one-sided, lexicographic: the patterns of P + e dP_1 + e^2 dP_2 + ..., :func:`dtd_ref._lines.lex_patterns`),
* phiP : (M, d_{k+1}) the values phi_j(P), GP : (M, d_{k+1}, d_k) their one-sided gradients,
* ``engine.phi(k, Q, dQ)`` to evaluate phi (values and gradients) at other points,

and returns roots (M, d_{k+1}, d_k) and a bool ``missing`` (M, d_{k+1}).  ``locally_constant`` says whether the
roots stay put when P moves inside its region (required above layer 0).

* ``ConstantRoots(points)``: the user's points (e.g. 0, or x_root per neuron); locally constant.
* ``LineRoot(rule)``: the exact zero of phi_j on the rule's line a - t v_j(a) nearest to a (t in [0, t_max]).
  phi_j is piecewise affine along the line (with locally constant roots above), with breakpoints among those of the
  sub-network from layer k (:func:`dtd_ref.slices.line_regions`); on each piece the zero solves one linear equation.
* ``RegionRoot(anchor=None)``: a root inside the closed linear region of the sub-network from layer k that contains
  a (where phi_j is affine, [SL22] region restriction), nearest in L1 to ``anchor`` (default: a itself), found by one
  LP per neuron (:func:`dtd_ref.lp.solve_lp`); missing when the region holds no zero of phi_j.  In exact mode the LP
  vertex is rebuilt in rationals from its active constraints and verified exactly (missing if that fails).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._lines import lex_patterns
from ._validation import as_array, is_exact
from .exact import to_fraction
from .lp import INFEASIBLE, solve_lp
from .regions import closure_rows
from .slices import line_regions

__all__ = ["ConstantRoots", "LineRoot", "RegionRoot", "LINE_SEARCH_MAX_DOUBLINGS", "LINE_ROOT_RTOL",
           "ACTIVE_RTOL"]

#: With ``t_max=None`` the line is searched on |t| in [0, 1], [1, 2], [2, 4], ... for at most this many doublings.
LINE_SEARCH_MAX_DOUBLINGS = 40
#: Float64 only: a zero computed up to this relative distance outside its piece (rounding) is clipped into it.
LINE_ROOT_RTOL = 1e-12
#: Float64 LP solutions: a constraint is taken as active when its slack is below ACTIVE_RTOL * (|A_i||x| + |b_i| + 1).
ACTIVE_RTOL = 1e-9


def _exact_like(array, exact: bool, name: str):
    if exact and not is_exact(array):
        return to_fraction(array)
    if not exact and is_exact(array):
        raise ValueError(f"{name}: exact (Fraction) points given to a float64 network; use to_exact(net) first")
    return array


class ConstantRoots:
    """Roots that do not depend on the point.

    Parameters
    ----------
    points : scalar, (d_k,) or (d_{k+1}, d_k)
        One root for every neuron of the layer (a scalar c means the point (c, ..., c), e.g. 0), or one per neuron.
    """

    locally_constant = True

    def __init__(self, points, *, name: str = "points"):
        self.points = as_array(points, name, ndim=(0, 1, 2))

    def __repr__(self) -> str:
        return f"ConstantRoots(shape={self.points.shape})"

    def check(self, k: int, layer, name: str, units=None) -> None:
        d_in, d_out = layer.in_features, layer.out_features if units is None else units
        if self.points.shape not in ((), (d_in,), (d_out, d_in)):
            raise ValueError(f"{name}: expected a scalar or shape ({d_in},) or ({d_out}, {d_in}) for affine layer {k}, "
                             f"got {self.points.shape}")

    def find(self, engine, k, P, dP, phiP, GP):
        layer = engine.layers[k]
        points = _exact_like(self.points, engine.exact, "roots")
        units = engine.units(k) if hasattr(engine, "units") else layer.out_features  # or max-pool windows
        shape = (P.shape[0], units, layer.in_features)
        roots = np.empty(shape, dtype=object if engine.exact else float)
        roots[...] = points
        return roots, np.zeros(shape[:2], dtype=bool)


class LineRoot:
    """The exact zero of phi_j on the line a - t v_j(a) of a root-search rule nearest to a.

    Parameters
    ----------
    rule : W2, Z, ZPlus, Gamma or ZBox
        Supplies the direction v_j(a).
    t_max : float, None or "domain"
        Search t in [0, t_max] (the direction -v_j in which [M17] looks for the root of a positive relevance);
        None searches the whole line in windows |t| in [0, 1], [1, 2], [2, 4], ... and takes the zero nearest to a
        (t may be negative, as the train-free root z_j / (w_j^T v_j) is when z_j < 0).  "domain" (default) uses
        t_max = 1 for ZPlus and ZBox (the segment to the corner of their input domain) and the whole line otherwise.
    """

    locally_constant = False

    def __init__(self, rule, *, t_max="domain"):
        if not getattr(rule, "root_search", False):
            raise ValueError(f"rule: expected a root-search rule (W2, Z, ZPlus, Gamma, ZBox), got {rule!r}")
        if isinstance(t_max, str):
            if t_max != "domain":
                raise ValueError(f"t_max: expected a positive number, None or 'domain', got {t_max!r}")
            t_max = 1 if type(rule).__name__ in ("ZPlus", "ZBox") else None
        elif t_max is not None:
            t_max = as_array(t_max, "t_max", ndim=0)[()]
            if not t_max > 0:
                raise ValueError(f"t_max: expected a positive number, got {t_max!r}")
        self.rule, self.t_max = rule, t_max

    def __repr__(self) -> str:
        return f"LineRoot({self.rule!r}, t_max={self.t_max!r})"

    def check(self, k, layer, name) -> None:
        return None

    def find(self, engine, k, P, dP, phiP, GP):
        layer = engine.layers[k]
        self.rule.check_input(P, "x" if k == 0 else f"x (activations entering affine layer {k})")
        V = self.rule.v(P, layer.weight_matrix())
        M, d_out, d_in = V.shape
        roots = np.empty((M, d_out, d_in), dtype=object) if engine.exact else np.full((M, d_out, d_in), np.nan)
        missing = np.ones((M, d_out), dtype=bool)
        for m, j in zip(*np.nonzero(np.asarray(phiP == 0, dtype=bool))):  # phi_j(a) = 0: a is a root
            roots[m, j], missing[m, j] = P[m], False
        pending = [(m, j) for m, j in zip(*np.nonzero(missing)) if np.any(np.asarray(V[m, j] != 0, dtype=bool))]
        number = Fraction if engine.exact else float
        lo, hi = number(0), number(1 if self.t_max is None else self.t_max)
        signs = (1,) if self.t_max is not None else (1, -1)  # the whole line: both rays, nearest zero wins
        for _ in range(LINE_SEARCH_MAX_DOUBLINGS if self.t_max is None else 1):
            if not pending:
                break
            best = {}
            for sign in signs:
                for key, t in self._search(engine, k, P, sign * V, pending, lo, hi).items():
                    if key not in best or t < abs(best[key]):
                        best[key] = sign * t
            for (m, j), t in best.items():
                roots[m, j], missing[m, j] = P[m] - t * V[m, j], False
            pending = [key for key in pending if key not in best]
            lo, hi = hi, 2 * hi
        return roots, missing

    def _search(self, engine, k, P, V, pending, lo, hi) -> dict:
        """First zero with t in [lo, hi] for every pending (m, j); returns {(m, j): t}."""
        sub = engine.subnet(k)
        pieces, mids, dirs = [], [], []
        for m, j in pending:
            p, q = P[m] - lo * V[m, j], P[m] - hi * V[m, j]
            lines = line_regions(sub, p, q)
            pieces.append((m, j, lines, len(mids)))
            mids.extend(lines.midpoints)
            dirs.extend([q - p] * len(lines))
        values, grads = engine.phi(k, np.array(mids), np.array(dirs)[:, None, :])
        found = {}
        for m, j, lines, start in pieces:
            u = lines.q - lines.p
            for i in range(len(lines)):
                s = self._zero_on_piece(values[start + i, j], grads[start + i, j] @ u, lines.t[i], lines.t[i + 1],
                                        engine.exact)
                if s is not None:
                    found[(m, j)] = lo + s * (hi - lo)
                    break
        return found

    @staticmethod
    def _zero_on_piece(value, slope, s_lo, s_hi, exact):
        """Smallest s in [s_lo, s_hi] with value + (s - s_mid) slope = 0 (the affine form of phi_j on the piece)."""
        s_mid = (s_lo + s_hi) / 2
        if slope == 0:
            return s_lo if value == 0 else None
        s = s_mid - (Fraction(value) / slope if exact else value / slope)
        if exact:
            return s if s_lo <= s <= s_hi else None
        slack = LINE_ROOT_RTOL * max(1.0, abs(s_hi))
        return min(max(s, s_lo), s_hi) if s_lo - slack <= s <= s_hi + slack else None


class RegionRoot:
    """A root of phi_j in the closed linear region (sub-network from layer k) of a, nearest in L1 to ``anchor``.

    Parameters
    ----------
    anchor : None, scalar or (d_k,)
        None: the nearest root to a itself (input-dependent, allowed on layer 0 only).  A fixed anchor makes the
        root depend only on a's region (locally constant, allowed on every layer).
    """

    def __init__(self, anchor=None):
        self.anchor = None if anchor is None else as_array(anchor, "anchor", ndim=(0, 1))

    @property
    def locally_constant(self) -> bool:
        return self.anchor is not None

    def __repr__(self) -> str:
        return f"RegionRoot(anchor={'a' if self.anchor is None else self.anchor.shape})"

    def check(self, k, layer, name) -> None:
        if self.anchor is not None and self.anchor.shape not in ((), (layer.in_features,)):
            raise ValueError(f"{name}: anchor of shape {self.anchor.shape} does not fit affine layer {k} with "
                             f"{layer.in_features} inputs")

    def find(self, engine, k, P, dP, phiP, GP):
        sub = engine.subnet(k)
        patterns = tuple(lex_patterns(sub, P, dP))
        M, d_out, d_in = GP.shape
        A, b = closure_rows(sub, patterns, M)
        roots = np.empty((M, d_out, d_in), dtype=object) if engine.exact else np.full((M, d_out, d_in), np.nan)
        missing = np.ones((M, d_out), dtype=bool)
        for m in range(M):
            anchor = P[m] if self.anchor is None else np.broadcast_to(
                _exact_like(self.anchor, engine.exact, "anchor"), (d_in,))
            for j in range(d_out):
                g = GP[m, j]
                root = _region_root(A[m], b[m], g, g @ P[m] - phiP[m, j], anchor, engine.exact)
                if root is not None:
                    roots[m, j], missing[m, j] = root, False
        return roots, missing


def _region_root(A, b, g, rhs, anchor, exact):
    """argmin |x - anchor|_1 subject to A x <= b, g^T x = rhs (exactly verified in exact mode), or None."""
    d = anchor.shape[0]
    no_gradient = not np.any(np.asarray(g != 0, dtype=bool))
    if no_gradient and rhs != 0:
        return None  # phi_j is a nonzero constant on the region
    eye = np.eye(d)
    c = np.concatenate([np.zeros(d), np.ones(d)])
    A_ub = np.vstack([np.hstack([_float(A), np.zeros((A.shape[0], d))]), np.hstack([eye, -eye]),
                      np.hstack([-eye, -eye])])
    b_ub = np.concatenate([_float(b), _float(anchor), -_float(anchor)])
    eq = {} if no_gradient else dict(A_eq=np.concatenate([_float(g), np.zeros(d)])[None, :],
                                     b_eq=np.array([float(rhs)]))
    result = solve_lp(c, A_ub=A_ub, b_ub=b_ub, **eq)
    if result.status == INFEASIBLE or result.x is None:
        return None
    x = result.x[:d]
    if not exact:
        gg = float(g @ g)
        return x if no_gradient else x - (float(g @ x) - float(rhs)) / gg * _float(g)
    return _exact_vertex(A, b, g, rhs, anchor, x, no_gradient)


def _float(array):
    return np.array([float(v) for v in np.ravel(array)]).reshape(np.shape(array))


def _exact_vertex(A, b, g, rhs, anchor, x_float, no_gradient):
    """Rebuild the LP optimum in rationals from its (float-detected) active constraints and verify it exactly."""
    xf = to_fraction(x_float)
    d = xf.shape[0]
    candidates = []  # (relative slack, row, rhs) of every constraint that looks active at xf
    scale = _float(np.abs(A)) @ np.abs(x_float) + np.abs(_float(b)) + 1
    slack = _float(b - A @ xf) / scale
    candidates += [(slack[i], list(A[i]), b[i]) for i in np.argsort(slack) if slack[i] <= ACTIVE_RTOL]
    unit = [[1 if c == i else 0 for c in range(d)] for i in range(d)]
    gap = np.abs(x_float - _float(anchor)) / (np.abs(_float(anchor)) + 1)
    candidates += [(gap[i], list(unit[i]), anchor[i]) for i in range(d) if gap[i] <= ACTIVE_RTOL]
    candidates.sort(key=lambda item: item[0])
    system = [] if no_gradient else [(list(g), rhs)]
    for _, row, value in candidates:  # greedily keep the constraints that stay consistent
        if _solve(system + [(row, value)], xf) is not None:
            system.append((row, value))
    for x in (_solve(system, xf), None if no_gradient else xf - (g @ xf - rhs) / Fraction(g @ g) * g):
        if x is None:
            continue
        x = np.array(x, dtype=object)
        if all(v <= w for v, w in zip(A @ x, b)) and (no_gradient or g @ x == rhs):
            return x
    return None


def _rational(value) -> Fraction:
    """A Fraction with Python-int numerator and denominator (Fraction(numpy.int64) would keep fixed-width ints)."""
    if isinstance(value, np.integer):
        return Fraction(int(value))
    return value if isinstance(value, Fraction) else Fraction(value)


def _solve(system, default):
    """Exact solution of rows x = rhs (Gaussian elimination on Fractions), free variables at ``default``; or None."""
    d = len(default)
    M = [[_rational(v) for v in row] + [_rational(rhs)] for row, rhs in system]
    pivots, r = [], 0
    for col in range(d):
        piv = next((i for i in range(r, len(M)) if M[i][col] != 0), None)
        if piv is None:
            continue
        M[r], M[piv] = M[piv], M[r]
        M[r] = [v / M[r][col] for v in M[r]]
        for i in range(len(M)):
            if i != r and M[i][col] != 0:
                factor = M[i][col]
                M[i] = [v - factor * w for v, w in zip(M[i], M[r])]
        pivots.append(col)
        r += 1
    if any(M[i][d] != 0 for i in range(r, len(M))):
        return None
    x = [_rational(v) for v in default]
    free = [c for c in range(d) if c not in pivots]
    for i, col in enumerate(pivots):
        x[col] = M[i][d] - sum((M[i][c] * x[c] for c in free), Fraction(0))
    return x
