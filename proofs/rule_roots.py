"""Claim 3 ([M17], [SL22]): the root-search rules put their roots on the hyperplane and conserve relevance.

Claim
-----
For a search direction v_j, the root ã = a - t v_j with t = z_j / (w_j^T v_j) satisfies w_j^T ã + b_j = 0; the
propagation weights w_ji v_ji / Σ_i' w_ji' v_ji' sum to one; and the DTD step of the relevance model φ_j = c_j relu(z_j)
(R_j = c_j z_j), ∇φ_j ⊙ (a - ã), equals the propagation form (w_ji v_ji / Σ w v) R_j, hence conserves R_j.  This holds
for the directions of w², z, z⁺, γ and z^B (THEORY.md §3).  For z⁺ with a >= 0, b_j <= 0 and z_j > 0 moreover
0 <= t <= 1, so the root lies on the segment [a ⊙ 1[w_j <= 0], a] (which is [a ⊙ 1[w_j < 0], a] of THEORY.md when no
weight is exactly zero; with a zero weight the root keeps a_i there, see the negative control).

Hypotheses
----------
w_j^T v_j ≠ 0 (else there is no root on the line: such sign cases are counted as degenerate and excluded);
t = z_j / (w_j^T v_j) (the exact zero of the relevance model, not the authors' R_j / (w_j^T v_j)); the bias is left out
of the propagation denominator; for the z⁺ segment a >= 0 and b_j <= 0.

Scope
-----
* For all widths: the hyperplane, weights-sum-to-one and propagation identities for an arbitrary direction v (index
  form), and the z⁺ segment from aggregated sums P = Σ a_i w_ji⁺ >= 0, N = Σ a_i w_ji⁻ <= 0 (sympy assumptions).
* Exhaustively for n <= 3: every sign case of w_j (each weight positive, negative or zero) for each of the five rules
  with symbolic a, b, γ, l, h; and the z⁺ inequality per sign case with sign-assumed symbols.
* Negative controls: z⁺ with b_j > 0, z⁺ with a negative input, the authors' t = R_j / (w^T v), the bias in the
  denominator, and THEORY's segment endpoint with a zero weight.
* Engine: ``dtd_ref.rules`` in exact mode on a Dense layer at a rational a >= 1 with b <= 0: its ``root_point`` equals
  the formula, has z_j = 0, and its ``redistribute`` equals the propagation weights and the DTD step at its roots.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import numpy as np
import sympy as sp

from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import from_sympy, rational_network, rational_vector, rng_of

CLAIM = "3-rule-roots"
TITLE = "w2, z, z+, gamma, zB roots lie on w^T a + b = 0; weights sum to 1; z+ root on its segment"
SCOPE = ("line-search identities and z+ segment for all widths (index / aggregated form); every sign case of w for "
         "n <= 3 and all five rules; five negative controls; exact engine")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "RULES", "direction", "root_point"]


def _pos(w) -> int:
    """1[w > 0] for a number or a sign-assumed symbol."""
    w = sp.sympify(w)
    if w.is_positive is None:
        raise ValueError(f"w: the sign of {w} is not decided; use sign-assumed symbols")
    return int(bool(w.is_positive))


def _neg(w) -> int:
    """1[w < 0] for a number or a sign-assumed symbol."""
    w = sp.sympify(w)
    if w.is_negative is None:
        raise ValueError(f"w: the sign of {w} is not decided; use sign-assumed symbols")
    return int(bool(w.is_negative))


# A rule is data: its direction v(a, w, params), elementwise over the inputs i of one neuron.
RULES = {
    "w2": lambda a, w, p: w,
    "z": lambda a, w, p: a,
    "zplus": lambda a, w, p: a * _pos(w),
    "gamma": lambda a, w, p: a * (1 + p["gamma"] * _pos(w)),
    "zB": lambda a, w, p: a - p["low"] * _pos(w) - p["high"] * _neg(w),
}


def direction(rule: str, a, w, params) -> list:
    """v_j of ``rule`` for one neuron: a, w sequences; params has gamma, low, high (sequences for the box)."""
    out = []
    for i, (a_i, w_i) in enumerate(zip(a, w)):
        local = {"gamma": params.get("gamma"), "low": params["low"][i] if "low" in params else None,
                 "high": params["high"][i] if "high" in params else None}
        out.append(sp.sympify(RULES[rule](a_i, sp.sympify(w_i), local)))
    return out


def root_point(a, w, b, v):
    """ã = a - t v with t = (w^T a + b) / (w^T v); returns (root, t)."""
    t = (sum(w_i * a_i for w_i, a_i in zip(w, a)) + b) / sum(w_i * v_i for w_i, v_i in zip(w, v))
    return [a_i - t * v_i for a_i, v_i in zip(a, v)], t


# ---------------------------------------------------------------------------------------------- checks
def check_line_search_all_widths() -> Check:
    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True, positive=True)
    w, a, v = (sp.IndexedBase(name) for name in ("w", "a", "v"))
    b, c = sp.symbols("b c")
    z = sp.Sum(w[i] * a[i], (i, 1, n)) + b
    wv = sp.Sum(w[i] * v[i], (i, 1, n))
    t = z / wv
    dtd_k = c * w[k] * t * v[k]                       # ∇φ_j ⊙ (a - ã) with ∇φ_j = c w_j, a - ã = t v
    residuals = {
        "w^T root + b = 0": sp.factor_terms(sp.expand(sp.Sum(w[i] * (a[i] - t * v[i]), (i, 1, n)) + b)),
        "sum_i w_i v_i / w^T v = 1": sp.simplify(sp.Sum(w[i] * v[i] / wv, (i, 1, n)) - 1),
        "DTD step = (w_k v_k / w^T v) c z": sp.simplify(dtd_k - w[k] * v[k] / wv * c * z),
        "sum of DTD step = c z": sp.simplify(sp.factor_terms(sp.Sum(c * w[i] * t * v[i], (i, 1, n))) - c * z),
    }
    bad = [name for name, res in residuals.items() if sp.simplify(res) != 0]
    if bad:
        return Check("line_search_all_widths", "symbolic", False, f"nonzero residual in: {', '.join(bad)}")
    return Check("line_search_all_widths", "symbolic", True,
                 "index form, symbolic width n, arbitrary direction v: " + "; ".join(residuals))


def _sign_cases(n: int):
    """Weights with each sign decided: positive symbol, negative symbol or 0."""
    for signs in product(("+", "-", "0"), repeat=n):
        yield signs, [sp.Symbol(f"w{i}", positive=True) if s == "+" else sp.Symbol(f"w{i}", negative=True)
                      if s == "-" else sp.Integer(0) for i, s in enumerate(signs)]


def check_rules_sign_cases(max_width: int = 3) -> Check:
    residuals, cases, degenerate = [], 0, 0
    b, c = sp.symbols("b c")
    for n in range(1, max_width + 1):
        a = list(sp.symbols(f"a0:{n}"))
        params = {"gamma": sp.Symbol("gamma", nonnegative=True), "low": list(sp.symbols(f"l0:{n}")),
                  "high": list(sp.symbols(f"h0:{n}"))}
        for rule in RULES:
            for _, w in _sign_cases(n):
                v = direction(rule, a, w, params)
                if sp.expand(sum(wi * vi for wi, vi in zip(w, v))) == 0:
                    degenerate += 1                      # w^T v ≡ 0: no root on this line (hypothesis fails)
                    continue
                root, t = root_point(a, w, b, v)
                wv = sum(wi * vi for wi, vi in zip(w, v))
                z = sum(wi * ai for wi, ai in zip(w, a)) + b
                # every residual is multiplied by w^T v ≠ 0, which clears the denominators exactly
                residuals.append((sum(wi * ri for wi, ri in zip(w, root)) + b) * wv)
                residuals.append((sum(wi * vi for wi, vi in zip(w, v)) / wv - 1) * wv)
                residuals.extend((c * wi * (ai - ri) - wi * vi / wv * c * z) * wv
                                 for wi, ai, ri, vi in zip(w, a, root, v))
                cases += 1
    return identity_check("rules_sign_cases", "exhaustive", residuals,
                          f"5 rules x every sign case of w for n <= {max_width}: {cases} cases ({degenerate} "
                          f"degenerate with w^T v = 0 excluded): hyperplane, weights sum to 1, DTD = propagation")


def check_zplus_segment_all_widths() -> Check:
    """Aggregated sums: P = Σ a w⁺ >= 0 and N = Σ a w⁻ <= 0 term by term, b = -beta <= 0, z = P + N - beta > 0."""
    a_i, w_i = sp.Symbol("a_i", nonnegative=True), sp.Symbol("w_i", real=True)
    beta, N, zeta = sp.Symbol("beta", nonnegative=True), sp.Symbol("N", nonpositive=True), sp.Symbol("z", positive=True)
    Q = beta - N                      # = P - z
    P = zeta + Q
    t = zeta / P
    facts = {
        "a_i w_i+ >= 0": (a_i * sp.Max(0, w_i)).is_nonnegative,
        "a_i w_i- <= 0": (a_i * sp.Min(0, w_i)).is_nonpositive,
        "P - z = beta - N >= 0": Q.is_nonnegative,
        "P > 0": P.is_positive,
        "t >= 0": t.is_nonnegative,
        "1 - t >= 0": sp.cancel(1 - t).is_nonnegative,
    }
    return truth_check("zplus_segment_all_widths", "symbolic", facts,
                       "aggregated sums (any width), a >= 0, b <= 0, z > 0: 0 <= t = z / P <= 1")


def check_zplus_segment_cases(max_width: int = 3) -> Check:
    facts, cases = {}, 0
    beta, zeta = sp.Symbol("beta", nonnegative=True), sp.Symbol("z", positive=True)
    for n in range(1, max_width + 1):
        a = list(sp.symbols(f"a0:{n}", nonnegative=True))
        for signs, w in _sign_cases(n):
            label = f"n={n} signs={''.join(signs)}"
            z = sum(wi * ai for wi, ai in zip(w, a)) - beta
            P = sum(ai * _pos(wi) * wi for wi, ai in zip(w, a))
            if "+" not in signs:        # then z <= 0: the active-neuron hypothesis z > 0 is impossible
                facts[f"{label}: z <= 0 (vacuous)"] = z.is_nonpositive
                continue
            Q = sp.expand(P - z)
            facts[f"{label}: P - z >= 0"] = Q.is_nonnegative
            t = zeta / (zeta + Q)       # z / P with P = z + Q
            facts[f"{label}: t >= 0"] = t.is_nonnegative
            facts[f"{label}: 1 - t >= 0"] = sp.cancel(1 - t).is_nonnegative
            v = [ai * _pos(wi) for wi, ai in zip(w, a)]
            root = [ai - t * vi for ai, vi in zip(a, v)]
            endpoint = [ai * (1 - _pos(wi)) for wi, ai in zip(w, a)]
            facts[f"{label}: root = (1 - t) a + t a*1[w<=0]"] = all(
                sp.simplify(r - ((1 - t) * ai + t * e)) == 0 for r, ai, e in zip(root, a, endpoint))
            cases += 1
    return truth_check("zplus_segment_cases", "exhaustive", facts,
                       f"z+ with a >= 0, b <= 0, z > 0, every sign case of w for n <= {max_width} ({cases} "
                       f"non-vacuous)")


def _zplus_t(a, w, b):
    v = direction("zplus", a, w, {})
    return root_point(a, w, b, v)


def check_negative_zplus_positive_bias() -> Check:
    a, w, b = [sp.Integer(1), sp.Integer(1)], [sp.Integer(2), sp.Integer(-1)], sp.Integer(2)
    root, t = _zplus_t(a, w, b)
    return negative_check("negative_zplus_positive_bias", t - 1,
                          f"a = (1, 1), w = (2, -1), b = 2 > 0: t - 1 (root {root} beyond a*1[w<=0])")


def check_negative_zplus_negative_input() -> Check:
    a, w, b = [sp.Integer(-1), sp.Integer(2)], [sp.Integer(-1), sp.Integer(1)], sp.Integer(0)
    root, t = _zplus_t(a, w, b)
    return negative_check("negative_zplus_negative_input", t - 1,
                          f"a = (-1, 2) not >= 0, w = (-1, 1), b = 0: t - 1 (root {root} off the segment)")


def check_negative_authors_step() -> Check:
    """t = R_j / (w^T v) with R_j ≠ z_j (THEORY.md §5): the point is off the hyperplane by z_j - R_j."""
    a, w, b = [sp.Integer(1), sp.Integer(2)], [sp.Integer(1), sp.Integer(1)], sp.Integer(0)
    R_j = sp.Integer(1)
    v = direction("z", a, w, {})
    point = [ai - R_j / sum(wi * vi for wi, vi in zip(w, v)) * vi for ai, vi in zip(a, v)]
    residual = sum(wi * pi for wi, pi in zip(w, point)) + b
    return negative_check("negative_authors_step", residual,
                          "z rule, a = (1, 2), w = (1, 1), b = 0, z = 3, R_j = 1: w^T point + b")


def check_negative_bias_in_denominator() -> Check:
    a, w, b = [sp.Integer(1), sp.Integer(2)], [sp.Integer(1), sp.Integer(1)], sp.Integer(-1)
    v = direction("z", a, w, {})
    total = sum(wi * vi / (sum(wj * vj for wj, vj in zip(w, v)) + b) for wi, vi in zip(w, v))
    return negative_check("negative_bias_in_denominator", total - 1,
                          "z rule with the bias in the denominator, a = (1, 2), w = (1, 1), b = -1: sum of weights - 1")


def check_negative_zero_weight_endpoint() -> Check:
    """THEORY's segment [a ⊙ 1[w<0], a] fails with a zero weight: w = (1, 0), a = (1, 1), b = -1/2."""
    a, w, b = [sp.Integer(1), sp.Integer(1)], [sp.Integer(1), sp.Integer(0)], sp.Rational(-1, 2)
    root, t = _zplus_t(a, w, b)
    endpoint = [ai * _neg(wi) for wi, ai in zip(w, a)]      # a ⊙ 1[w < 0] = (0, 0)
    tau = (a[0] - root[0]) / (a[0] - endpoint[0])           # the only τ matching coordinate 0
    residual = root[1] - ((1 - tau) * a[1] + tau * endpoint[1])
    return negative_check("negative_zero_weight_endpoint", residual,
                          f"z+ root {root} vs the segment [a*1[w<0], a]: coordinate 1 misses by")


def _engine_rules(a):
    """The rules of :mod:`dtd_ref.rules` matching :data:`RULES`, with the parameters used here."""
    from dtd_ref import rules

    low = np.array([Fraction(v) - 2 for v in a], dtype=object)
    high = np.array([Fraction(v) + 3 for v in a], dtype=object)
    engine = {"w2": rules.W2(), "z": rules.Z(), "zplus": rules.ZPlus(), "gamma": rules.Gamma(Fraction(1, 2)),
              "zB": rules.ZBox(low, high)}
    params = {"gamma": sp.Rational(1, 2), "low": [sp.Rational(v) for v in low], "high": [sp.Rational(v) for v in high]}
    return engine, params


def check_engine(widths=(3, 4), *, rng=3) -> Check:
    """Against ``dtd_ref.rules`` in exact mode on a Dense layer at a rational a >= 1 with b <= 0: the engine's
    ``root_point`` equals the formula's root, has z_j = 0, and ``redistribute`` of R_j = z_j equals both the
    propagation weights and the DTD step w_j ⊙ (a - root_j), with an exact ledger."""
    from dtd_ref.propagation import redistribute
    from dtd_ref.propagation import root_point as engine_root_point

    gen = rng_of(rng)
    net = rational_network(widths, rng=gen, nonpositive_bias=True, relu_output=False)
    a = rational_vector(widths[0], rng=gen, nonnegative=True) + 1
    dense = net.affine_layers[0]
    W, b = dense.weight_matrix(), dense.bias_vector()
    z = net(a)
    active = np.array([[v > 0 for v in z]])
    R = np.array([[v if v > 0 else Fraction(0) for v in z]], dtype=object)   # relevance model c_j = 1: R_j = z_j
    engine, params = _engine_rules(a)
    a_s = [sp.Rational(x) for x in a]
    facts = {}
    for rule, engine_rule in engine.items():
        roots, missing = engine_root_point(engine_rule, dense, a[None], z[None], active=active)
        lower, ledger = redistribute(engine_rule, dense, a[None], R, active=active)
        expected_lower = [sp.Integer(0)] * widths[0]
        dtd_step = [sp.Integer(0)] * widths[0]
        for j in range(widths[1]):
            w = [sp.Rational(v) for v in W[j]]
            v = direction(rule, a_s, w, params)
            wv = sum(wi * vi for wi, vi in zip(w, v))
            if not active[0, j] or wv == 0:
                facts[f"{rule} neuron {j}: no root where inactive or w^T v = 0"] = bool(missing[0, j]) == (
                    bool(active[0, j]) and wv == 0)
                continue
            root, t = root_point(a_s, w, sp.Rational(b[j]), v)
            facts[f"{rule} neuron {j}: engine root = formula root"] = [sp.Rational(x) for x in roots[0, j]] == root
            facts[f"{rule} neuron {j}: engine z_j(root) = 0"] = net(roots[0, j])[j] == 0
            if rule == "zplus":
                facts[f"zplus neuron {j}: 0 <= t <= 1"] = bool(0 <= t <= 1)
            for i in range(widths[0]):
                expected_lower[i] += w[i] * v[i] / wv * sp.Rational(R[0, j])
                dtd_step[i] += w[i] * (a_s[i] - sp.Rational(roots[0, j][i]))   # c_j w_j ⊙ (a - root), c_j = 1
        facts[f"{rule}: engine redistribute = propagation weights"] = [sp.Rational(x) for x in lower[0]] == \
            expected_lower
        facts[f"{rule}: engine redistribute = DTD step at the engine's roots"] = expected_lower == dtd_step
        facts[f"{rule}: sum R_lower + ledger = sum R"] = sum(lower[0]) + sum(sum(e[0]) for e in ledger.values()) \
            == sum(R[0])
    return truth_check("engine", "engine", facts, f"dtd_ref.rules on an exact Dense layer {widths}, a >= 1, b <= 0")


CHECKS = (check_line_search_all_widths, check_rules_sign_cases, check_zplus_segment_all_widths,
          check_zplus_segment_cases, check_negative_zplus_positive_bias, check_negative_zplus_negative_input,
          check_negative_authors_step, check_negative_bias_in_denominator, check_negative_zero_weight_endpoint,
          check_engine)


def prove():
    """Run every check of claim 3; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
