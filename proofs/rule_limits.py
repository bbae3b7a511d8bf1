"""Claim 6 ([M19], [SL22]): α1β0 equals z⁺ on non-negative inputs; γ interpolates between z (γ = 0) and z⁺ (γ → ∞).

Claim
-----
For one neuron j with inputs a and weights w (bias ignored by all three rules), write the propagation weights
  z⁺:   a_i w_i⁺ / Σ_i' a_i' w_i'⁺,
  αβ:   α (a_i w_i)⁺ / Σ (a w)⁺ - β (a_i w_i)⁻ / Σ (a w)⁻     (α - β = 1),
  γ:    a_i (w_i + γ w_i⁺) / Σ_i' a_i' (w_i' + γ w_i'⁺),
  z:    a_i w_i / Σ_i' a_i' w_i'.
Then (i) αβ with α = 1, β = 0 equals z⁺ when a >= 0; (ii) γ = 0 gives z exactly; (iii) as γ → ∞ the γ weights tend to
the z⁺ weights, with exact error (u_i P - p_i Z) / (P (Z + γ P)) = O(1/γ) (u_i = a_i w_i, p_i = a_i w_i⁺, Z = Σ u,
P = Σ p); the γ root displacement t_γ v_γ tends to the z⁺ one.

Hypotheses
----------
(i) a >= 0 and Σ (a w)⁺ ≠ 0; (ii) Σ a w ≠ 0; (iii) P = Σ a_i w_i⁺ ≠ 0 (else z⁺ has no root and passes nothing).

Scope
-----
* For all widths: (i) term by term ((a_i w_i)⁺ = a_i w_i⁺ for a_i >= 0, both signs of w_i), which makes the weights
  equal for any width; (ii) in index form; (iii) in aggregated form (u, p, Z, P symbols) with sympy's limit and the
  exact error term, and for the root displacement.
* Exhaustively for n <= 3: every sign case of w (positive, negative, zero) with symbolic a (>= 0 for (i)) and γ; the
  limit is read off the leading coefficients in γ.
* Negative controls: α1β0 with a negative input differs from z⁺; with P = 0 the γ weights stay at the z weights for
  every γ, not at z⁺'s (which passes nothing).
* Engine: ``dtd_ref.rules`` in exact mode on a Dense layer at a rational a > 0: its weights equal the formulas,
  AlphaBeta(1, 0) = ZPlus, Gamma(0) = Z, and Gamma(γ) - ZPlus equals the exact error at γ = 10, ..., 10^4; through
  ``train_free_dtd`` AlphaBeta(1, 0) = ZPlus on a whole network at x >= 0.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import numpy as np
import sympy as sp

from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import rational_case, rational_network, rational_vector, rng_of, to_sympy

CLAIM = "6-rule-limits"
TITLE = "alpha1beta0 = z+ for a >= 0; gamma = 0 is z; gamma -> oo tends to z+ with O(1/gamma) error"
SCOPE = ("term-wise / index / aggregated proofs for all widths; every sign case of w for n <= 3; two negative "
         "controls; exact engine at growing gamma")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "weights"]


def _plus(x):
    return sp.Max(0, x)


def _minus(x):
    return sp.Min(0, x)


def weights(rule: str, a, w, *, gamma=None, alpha=1, beta=0) -> list:
    """Propagation weights of one neuron for ``rule`` in {"z", "zplus", "gamma", "alphabeta"} (bias ignored)."""
    if rule == "z":
        terms = [ai * wi for ai, wi in zip(a, w)]
    elif rule == "zplus":
        terms = [ai * _plus(wi) for ai, wi in zip(a, w)]
    elif rule == "gamma":
        terms = [ai * (wi + gamma * _plus(wi)) for ai, wi in zip(a, w)]
    elif rule == "alphabeta":
        pos = [_plus(ai * wi) for ai, wi in zip(a, w)]
        neg = [_minus(ai * wi) for ai, wi in zip(a, w)]
        P, N = sum(pos), sum(neg)
        return [alpha * p / P - (beta * n / N if beta != 0 else 0) for p, n in zip(pos, neg)]
    else:
        raise ValueError(f"rule: unknown rule {rule!r}")
    total = sum(terms)
    return [t / total for t in terms]


def _sign_cases(n: int):
    for signs in product(("+", "-", "0"), repeat=n):
        yield signs, [sp.Symbol(f"w{i}", positive=True) if s == "+" else sp.Symbol(f"w{i}", negative=True)
                      if s == "-" else sp.Integer(0) for i, s in enumerate(signs)]


# ---------------------------------------------------------------------------------------------- checks
def check_alpha1beta0_termwise() -> Check:
    a = sp.Symbol("a", nonnegative=True)
    w_pos, w_nonpos = sp.Symbol("w", positive=True), sp.Symbol("w", nonpositive=True)
    facts = {
        "(a w)+ = a w+ for w > 0": sp.simplify(_plus(a * w_pos) - a * _plus(w_pos)) == 0,
        "(a w)+ = a w+ for w <= 0": sp.simplify(_plus(a * w_nonpos) - a * _plus(w_nonpos)) == 0,
    }
    return truth_check("alpha1beta0_termwise", "symbolic", facts,
                       "a >= 0, each real w: equal terms give equal weights for every width")


def check_gamma_all_widths() -> Check:
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    a, w, wp = sp.IndexedBase("a"), sp.IndexedBase("w"), sp.IndexedBase("wp")   # wp[i] stands for w_i⁺
    gamma = sp.Symbol("gamma", positive=True)
    u, p, Z, P, z = sp.symbols("u p Z P z")
    P_nz = sp.Symbol("P", nonzero=True)
    gamma_weight = a[i] * (w[i] + gamma * wp[i]) / sp.Sum(a[i] * (w[i] + gamma * wp[i]), (i, 1, n))
    z_weight = a[i] * w[i] / sp.Sum(a[i] * w[i], (i, 1, n))
    ratio = (u + gamma * p) / (Z + gamma * P_nz)
    error = (u * P - p * Z) / (P * (Z + gamma * P))
    displacement = z / (Z + gamma * P_nz) * (sp.Symbol("a_i") + gamma * sp.Symbol("q_i"))  # q_i = a_i 1[w_i > 0]
    facts = {
        "gamma = 0 gives z (index form)": sp.simplify(gamma_weight.subs(gamma, 0) - z_weight) == 0,
        "lim gamma->oo (u + gamma p) / (Z + gamma P) = p / P": sp.simplify(
            sp.limit(ratio, gamma, sp.oo) - p / P_nz) == 0,
        "exact error (u P - p Z) / (P (Z + gamma P))": sp.simplify(
            (u + gamma * p) / (Z + gamma * P) - p / P - error) == 0,
        "root displacement tends to z q_i / P (z+)": sp.simplify(
            sp.limit(displacement, gamma, sp.oo) - z * sp.Symbol("q_i") / P_nz) == 0,
    }
    return truth_check("gamma_all_widths", "symbolic", facts, "index / aggregated form, any width")


def _limit_by_leading_coefficients(expr, gamma):
    """lim_{γ→∞} of a rational function of γ: 0 if deg num < deg den, the ratio of leading coefficients if equal."""
    num, den = sp.fraction(sp.together(expr))
    if sp.expand(num) == 0:
        return sp.Integer(0)
    num, den = sp.Poly(sp.expand(num), gamma), sp.Poly(sp.expand(den), gamma)
    if num.degree() > den.degree():
        raise ValueError(f"unbounded in gamma: degrees {num.degree()} / {den.degree()}")
    if num.degree() < den.degree():
        return sp.Integer(0)
    return num.LC() / den.LC()


def check_sign_cases(max_width: int = 3) -> Check:
    residuals, cases, degenerate = [], 0, 0
    gamma = sp.Symbol("gamma", positive=True)
    for n in range(1, max_width + 1):
        a = list(sp.symbols(f"a0:{n}", nonnegative=True))
        for signs, w in _sign_cases(n):
            if "+" not in signs or all(s == "0" for s in signs):
                degenerate += 1      # P ≡ 0 (no positive weight): z⁺ and α1β0 have no denominator
                continue
            zplus = weights("zplus", a, w)
            residuals.extend(x - y for x, y in zip(weights("alphabeta", a, w), zplus))       # (i)
            gamma_w = weights("gamma", a, w, gamma=gamma)
            residuals.extend(x.subs(gamma, 0) - y for x, y in zip(gamma_w, weights("z", a, w)))  # (ii)
            residuals.extend(_limit_by_leading_coefficients(x, gamma) - y for x, y in zip(gamma_w, zplus))  # (iii)
            cases += 1
    return identity_check("sign_cases", "exhaustive", residuals,
                          f"every sign case of w for n <= {max_width} ({cases} cases, {degenerate} without a positive "
                          f"weight excluded): alpha1beta0 = z+, gamma(0) = z, gamma(oo) = z+")


def check_negative_alpha1beta0_negative_input() -> Check:
    a, w = [sp.Integer(-1), sp.Integer(2)], [sp.Integer(-2), sp.Integer(1)]
    residual = sp.Matrix([x - y for x, y in zip(weights("alphabeta", a, w), weights("zplus", a, w))])
    return negative_check("negative_alpha1beta0_negative_input", residual,
                          "a = (-1, 2), w = (-2, 1): alpha1beta0 weights - z+ weights")


def check_negative_gamma_without_positive_weight() -> Check:
    """P = 0: the γ weights equal the z weights (1/3, 2/3) for every γ, while z⁺ passes nothing (weights 0)."""
    gamma = sp.Symbol("gamma", positive=True)
    a, w = [sp.Integer(1), sp.Integer(1)], [sp.Integer(-1), sp.Integer(-2)]
    gamma_w = [sp.simplify(x) for x in weights("gamma", a, w, gamma=gamma)]
    independent = all(not x.has(gamma) for x in gamma_w)
    residual = sp.Matrix([sp.limit(x, gamma, sp.oo) for x in gamma_w])   # minus z⁺'s 0, 0
    check = negative_check("negative_gamma_without_positive_weight", residual,
                           "a = (1, 1), w = (-1, -2), P = 0: lim gamma weights - z+ (nothing passed)")
    if not independent:
        return Check(check.name, "negative", False, "the gamma weights unexpectedly depend on gamma")
    return check


def check_engine(widths=(3, 3), *, rng=2) -> Check:
    """``dtd_ref.rules`` in exact mode: per neuron (R = e_j) on a Dense layer at rational a > 0 its AlphaBeta(1, 0),
    Gamma(γ), Z and ZPlus weights equal the formulas; α1β0 = z⁺, γ = 0 is z, and the γ - z⁺ gap equals the exact
    error at γ = 10 ... 10^4; on a whole network at x >= 0 train_free_dtd with AlphaBeta(1, 0) equals ZPlus."""
    from dtd_ref.dtd import train_free_dtd
    from dtd_ref.propagation import redistribute
    from dtd_ref.rules import AlphaBeta, Gamma, Z, ZPlus

    gen = rng_of(rng)
    net = rational_network(widths, rng=gen, relu_output=False)
    dense = net.affine_layers[0]
    W = dense.weight_matrix()
    a = rational_vector(widths[0], rng=gen, nonnegative=True) + 1                       # a > 0
    a_s = to_sympy(a)
    ones = np.ones((1, widths[1]), dtype=bool)

    def engine_weights(rule, j):
        R = np.zeros((1, widths[1]), dtype=object)
        R[0, j] = Fraction(1)
        return to_sympy(redistribute(rule, dense, a[None], R, active=ones)[0][0])

    facts = {}
    for j in range(widths[1]):
        w = to_sympy(W[j])
        P = sum(ai * max(wi, 0) for ai, wi in zip(a_s, w))
        Z_sum = sum(ai * wi for ai, wi in zip(a_s, w))
        if P == 0 or Z_sum == 0:
            continue
        zplus = engine_weights(ZPlus(), j)
        facts[f"neuron {j}: engine z+ = formula"] = zplus == [sp.nsimplify(x) for x in weights("zplus", a_s, w)]
        facts[f"neuron {j}: engine alpha1beta0 = engine z+"] = engine_weights(AlphaBeta(1, 0), j) == zplus
        facts[f"neuron {j}: engine gamma(0) = engine z"] = engine_weights(Gamma(0), j) == engine_weights(Z(), j)
        gaps = []
        for k in range(1, 5):
            g = 10**k
            gamma_w = engine_weights(Gamma(g), j)
            error = [(ai * wi * P - ai * max(wi, 0) * Z_sum) / (P * (Z_sum + g * P)) for ai, wi in zip(a_s, w)]
            facts[f"neuron {j}: engine gamma({g}) - z+ = exact error"] = [x - y for x, y in
                                                                         zip(gamma_w, zplus)] == error
            gaps.append(max(abs(e) for e in error))
        facts[f"neuron {j}: gap decreases"] = all(x > y for x, y in zip(gaps, gaps[1:])) or max(gaps) == 0
    deep, x = rational_case((3, 3, 3, 2), rng=gen, nonnegative_x=True)
    facts["train_free_dtd AlphaBeta(1, 0) = ZPlus on x >= 0"] = list(
        train_free_dtd(deep, x, AlphaBeta(1, 0), output=0).input_relevance) == list(
        train_free_dtd(deep, x, ZPlus(), output=0).input_relevance)
    facts["some neuron was checked"] = len(facts) > 1
    return truth_check("engine", "engine", facts, f"dtd_ref.rules in exact mode, Dense {widths} at rational a > 0")


CHECKS = (check_alpha1beta0_termwise, check_gamma_all_widths, check_sign_cases,
          check_negative_alpha1beta0_negative_input, check_negative_gamma_without_positive_weight, check_engine)


def prove():
    """Run every check of claim 6; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
