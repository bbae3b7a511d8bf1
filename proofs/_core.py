"""Result records and the runner shared by every claim module.

A claim module lists its checks; each check is a function without arguments that returns a :class:`Check`.  There are
four kinds of checks:

``symbolic``
    An identity proven for all sizes (index form with a symbolic width, or aggregated sums).
``exhaustive``
    An identity checked for every architecture / pattern / sign case up to a stated size, with fully symbolic weights.
``negative``
    A negative control: one hypothesis is dropped and the identity must fail with a concrete nonzero residual.  The
    check is ``ok`` when the residual is a nonzero number, i.e. when the identity *fails* as it should.
``engine``
    A cross-check of the symbolic objects against the numerical engine in exact (Fraction) mode at rational points.

:func:`run_checks` runs the checks of one claim, times them and never lets an exception escape: a check that raises
is reported as failed, with the exception in its detail.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Sequence

import sympy as sp
from sympy.polys.fields import sfield
from sympy.polys.rings import PolyElement

__all__ = ["Check", "ProofResult", "KINDS", "identity_check", "negative_check", "truth_check", "run_checks",
           "is_zero", "nonzero_entries"]

KINDS = ("symbolic", "exhaustive", "negative", "engine")


@dataclass(frozen=True)
class Check:
    """Outcome of one check.

    Attributes
    ----------
    name : str
        Short identifier, unique within its claim.
    kind : str
        One of :data:`KINDS`.
    ok : bool
        True when the check came out as the claim predicts (for a negative control: the identity failed).
    detail : str
        One human-readable sentence: what was checked, on how many cases, or the residual found.
    residual : object
        For negative controls the concrete nonzero residual that witnesses the failure, otherwise None.
    seconds : float
        Wall-clock time of the check.
    """

    name: str
    kind: str
    ok: bool
    detail: str
    residual: object = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one claim: ``ok`` iff every one of its checks is ok."""

    claim: str
    title: str
    scope: str
    ok: bool
    seconds: float
    details: tuple = field(default_factory=tuple)

    def line(self) -> str:
        """One line for the command line: verdict, claim, time, number of checks per kind."""
        counts = ", ".join(f"{sum(c.kind == k for c in self.details)} {k}" for k in KINDS
                           if any(c.kind == k for c in self.details))
        verdict = "PASS" if self.ok else "FAIL"
        return f"[{verdict}] {self.claim:<22} {self.seconds:6.2f} s  {self.title}  ({counts})"

    def failures(self) -> tuple:
        return tuple(c for c in self.details if not c.ok)


def is_zero(expr) -> bool:
    """True iff ``expr`` (a sympy expression or matrix) is identically zero as a rational function.

    Ring elements (``sympy.polys.rings``) are canonical already; a polynomial expression is expanded.  Otherwise the
    expression is converted into an element of the field of rational functions over QQ in its symbols (sympy's sparse
    ``sfield``, a canonical form: numerator and denominator coprime), which is zero iff the expression is.
    Expressions that are not rational functions of their atoms fall back to ``together`` and ``expand``.  No
    numerical evaluation is used.
    """
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if isinstance(expr, PolyElement):   # an element of a polynomial ring is in canonical form already
        return expr == 0
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    if not any(power.exp.is_negative for power in expr.atoms(sp.Pow)):
        if sp.expand(expr) == 0:      # a polynomial: expansion is canonical
            return True
    try:
        _, element = sfield(expr)
        return element == 0
    except (sp.polys.polyerrors.PolynomialError, sp.polys.polyerrors.GeneratorsError, ValueError, TypeError):
        numerator, _ = sp.fraction(sp.together(expr))
        return sp.expand(numerator) == 0


def nonzero_entries(value) -> list:
    """The nonzero entries of a concrete value (number, matrix or sequence); raises if an entry is not a number."""
    entries = list(value) if isinstance(value, (sp.MatrixBase, list, tuple)) else [value]
    out = []
    for entry in entries:
        entry = sp.nsimplify(entry) if not isinstance(entry, sp.Basic) else entry
        if not entry.is_number:
            raise ValueError(f"residual: expected a concrete number, got the expression {entry}")
        if sp.simplify(entry) != 0:
            out.append(entry)
    return out


def identity_check(name: str, kind: str, residuals, detail: str) -> Check:
    """A check that every residual in ``residuals`` (sympy expressions) is identically zero."""
    residuals = list(residuals)
    bad = [r for r in residuals if not is_zero(r)]
    if bad:
        return Check(name, kind, False, f"{detail}: {len(bad)} of {len(residuals)} residuals nonzero, "
                                        f"first {sp.sstr(bad[0])[:200]}")
    return Check(name, kind, True, f"{detail}: {len(residuals)} residuals identically 0")


def truth_check(name: str, kind: str, facts: dict, detail: str) -> Check:
    """A check that every value of ``facts`` (label -> bool or sympy truth value) is exactly True."""
    bad = [label for label, value in facts.items() if value is not True and value != sp.true]
    if bad:
        return Check(name, kind, False, f"{detail}: not established: {', '.join(bad[:5])}")
    return Check(name, kind, True, f"{detail}: {len(facts)} facts established")


def negative_check(name: str, residual, detail: str) -> Check:
    """A negative control: ok iff ``residual`` is concrete and has a nonzero entry."""
    nonzero = nonzero_entries(residual)
    shown = sp.sstr(residual)[:160]
    if nonzero:
        return Check(name, "negative", True, f"{detail}: residual {shown} (nonzero, as it must be)", residual)
    return Check(name, "negative", False, f"{detail}: residual {shown} is zero, the control did not fail", residual)


def run_checks(claim: str, title: str, scope: str, checks: Sequence[Callable[[], Check]]) -> ProofResult:
    """Run ``checks`` in order and collect a :class:`ProofResult` (exceptions become failed checks)."""
    start = time.perf_counter()
    done = []
    for check in checks:
        t0 = time.perf_counter()
        try:
            outcome = check()
            if not isinstance(outcome, Check):
                raise TypeError(f"{check.__name__} returned {type(outcome).__name__}, not Check")
        except Exception as error:  # a crashing check is a failed check, never a crashed run
            last = traceback.format_exception_only(type(error), error)[-1].strip()
            outcome = Check(check.__name__, "error", False, f"raised {last}")
        done.append(Check(outcome.name, outcome.kind, outcome.ok, outcome.detail, outcome.residual,
                          time.perf_counter() - t0))
    ok = bool(done) and all(c.ok for c in done)
    return ProofResult(claim, title, scope, ok, time.perf_counter() - start, tuple(done))
