"""Claim 2 ([SL22], "input-dependent roots => under-constrained"): one DTD step can return any explanation.

Claim
-----
One layer, relevance model φ_j(a) = c_j relu(w_j^T a + b_j) with c_j ≠ 0 and neuron j active (z_j > 0).  Let r_j be
any split of φ_j(a): Σ_i r_ji = φ_j(a) and r_ji = 0 wherever w_ji = 0.  The point
ã_i = a_i - r_ji / (c_j w_ji)   (ã_i = a_i where w_ji = 0)
(ã = a - r_j ⊘ w_j for c_j = 1, the form in THEORY.md) is an exact root, φ_j(ã) = 0; the segment [ã, a] lies in the
closed region {z_j >= 0} of φ_j; and the DTD relevance it produces, ∇φ_j ⊙ (a - ã), is r_j.  Consequently, for any
target E with Σ_i E_i = Σ_j φ_j(a), the splits r_ji = E_i φ_j(a) / Σ_k φ_k(a) make DTD return exactly E: the
first-order Taylor step does not constrain the explanation once roots may depend on the input.

Hypotheses
----------
(H1) Σ_i r_ji = φ_j(a); (H2) r_ji = 0 where w_ji = 0; z_j > 0, c_j ≠ 0.  The gradient at a root on the hinge is the
one of the closed region containing a (closure semantics; ReLU'(0) = 0 would give 0 on the hinge itself).

Scope
-----
* For all widths (index form, symbolic n and m, all w_ji ≠ 0): the root equation, the segment, the relevance r_j,
  conservation, and "any E".
* Exhaustively for n <= 3: every support of w_j (every set of zero weights), with H2 on the zero weights.
* Negative controls: dropping H1 gives a point that is not a root (φ_j(ã) ≠ 0); dropping H2 gives relevance 0, not
  r_ji, on an input with w_ji = 0, whatever the root.
* Engine: exact one-layer ReLU network, random rational splits and a random target E: the engine's outputs at the
  roots are exactly 0, its gradients times (a - ã) give back r_j and E, and ``dtd_ref.full_dtd`` with these roots
  as constant roots returns r_j for output j.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import sympy as sp

from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import OUTPUT, rational_case, rational_vector, rng_of, to_sympy

CLAIM = "2-under-constrained"
TITLE = "any split r_j of phi_j(a) is the DTD relevance of the exact root a - r_j / w_j"
SCOPE = ("root, segment, relevance and 'any explanation' for all widths (index form); every zero-weight support for "
         "n <= 3; negative controls dropping each hypothesis; exact engine")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "split_root"]


def split_root(a, w, r, c=1):
    """The root ã with ã_i = a_i - r_i / (c w_i) (a_i where w_i = 0) for one neuron; lists or arrays of numbers."""
    return [a_i if w_i == 0 else a_i - r_i / (c * w_i) for a_i, w_i, r_i in zip(a, w, r)]


def grad_times_displacement(net, a, root, j: int) -> np.ndarray:
    """∇φ_j(a) ⊙ (a - root) with the engine's gradient of output j on a's region (the DTD relevance of one root)."""
    return net.gradient(a, output=j) * (np.asarray(a, dtype=object) - np.asarray(root, dtype=object))


# ---------------------------------------------------------------------------------------------- checks
def check_all_widths() -> Check:
    n, m = sp.symbols("n m", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    w, a, r, E, phi = (sp.IndexedBase(name) for name in ("w", "a", "r", "E", "phi"))
    b, c, tau = sp.Symbol("b"), sp.Symbol("c", nonzero=True), sp.Symbol("tau")
    z = sp.Sum(w[i] * a[i], (i, 1, n)) + b
    root = lambda idx: a[idx] - r[idx] / (c * w[idx])  # noqa: E731  (one neuron: indices of w, r drop j)
    H1 = {sp.Sum(r[i], (i, 1, n)): c * z}              # Σ_i r_i = φ_j(a) = c z_j (active neuron)

    def use_H1(expr):
        return sp.factor_terms(sp.expand(expr)).xreplace(H1)

    z_root = sp.Sum(w[i] * root(i), (i, 1, n)) + b
    z_segment = sp.Sum(w[i] * (a[i] - tau * (a[i] - root(i))), (i, 1, n)) + b
    relevance_k = c * w[k] * (a[k] - root(k))                                  # ∇φ_j = c w_j on the closed piece
    total = sp.Sum(c * w[i] * (a[i] - root(i)), (i, 1, n))
    any_E = sp.Sum(E[i] * phi[j] / sp.Sum(phi[j], (j, 1, m)), (j, 1, m))       # Σ_j r_ji, proportional split
    residuals = {
        "z_j(root) = 0": sp.simplify(use_H1(z_root)),
        "z_j on the segment = (1 - tau) z_j": sp.simplify(use_H1(z_segment) - (1 - tau) * z),
        "relevance = r_jk": sp.simplify(relevance_k - r[k]),
        "sum of relevance = phi_j(a)": sp.simplify(use_H1(total) - c * z),
        "proportional splits give E_i": sp.simplify(sp.factor_terms(any_E) - E[i]),
    }
    bad = [name for name, res in residuals.items() if res != 0]
    if bad:
        return Check("all_widths", "symbolic", False, f"nonzero residual in: {', '.join(bad)}")
    return Check("all_widths", "symbolic", True, "index form, symbolic widths n, m: " + "; ".join(residuals))


def check_zero_weight_supports(max_width: int = 3) -> Check:
    """Every support of w (which weights are zero) for n <= max_width; r_i = 0 on zero weights (H2)."""
    residuals, cases = [], 0
    c, b = sp.Symbol("c", nonzero=True), sp.Symbol("b")
    for n in range(1, max_width + 1):
        for support in product((False, True), repeat=n):
            if not any(support):
                continue  # w_j = 0: z_j = b_j is constant, there is nothing to root
            a = sp.symbols(f"a0:{n}")
            w = [sp.Symbol(f"w{i}", nonzero=True) if s else sp.Integer(0) for i, s in enumerate(support)]
            free = [sp.Symbol(f"r{i}") for i in range(n)]
            z = sum(wi * ai for wi, ai in zip(w, a)) + b
            last = max(i for i in range(n) if support[i])
            # a split of c z on the support: free values, the last supported entry takes the rest (H1), zeros off it
            r = [free[i] if support[i] else sp.Integer(0) for i in range(n)]
            r[last] = c * z - sum(r[i] for i in range(n) if i != last)
            root = split_root(a, w, r, c)
            residuals.append(sum(wi * xi for wi, xi in zip(w, root)) + b)                        # exact root
            residuals.extend(c * wi * (ai - xi) - ri for wi, ai, xi, ri in zip(w, a, root, r))  # relevance = r
            cases += 1
    return identity_check("zero_weight_supports", "exhaustive", residuals,
                          f"{cases} supports of w_j for n <= {max_width}: z_j(root) = 0 and relevance = r_j")


def check_negative_split_not_summing() -> Check:
    """Drop H1: r sums to 2 while φ_j(a) = 3; the point a - r ⊘ w is not a root."""
    a, w, b = [sp.Integer(1), sp.Integer(2)], [sp.Integer(1), sp.Integer(1)], sp.Integer(0)
    phi = max(sum(wi * ai for wi, ai in zip(w, a)) + b, 0)                      # φ = 3
    r = [sp.Integer(1), sp.Integer(1)]
    root = split_root(a, w, r)
    residual = max(sum(wi * xi for wi, xi in zip(w, root)) + b, 0)              # φ(root)
    return negative_check("negative_split_not_summing", residual,
                          f"a = (1, 2), w = (1, 1), b = 0, phi = {phi}, r = (1, 1): phi(a - r / w)")


def check_negative_zero_weight() -> Check:
    """Drop H2: on an input with w_ji = 0 the DTD relevance is c w_ji (a_i - ã_i) = 0 for every point ã."""
    a0, a1, root0, root1 = sp.symbols("a0 a1 t0 t1")
    w = [sp.Integer(2), sp.Integer(0)]
    relevance = [wi * (ai - ti) for wi, ai, ti in zip(w, (a0, a1), (root0, root1))]
    wanted = [sp.Integer(1), sp.Integer(2)]  # a split with r_1 = 2 on the zero weight
    residual = sp.simplify(wanted[1] - relevance[1])
    return negative_check("negative_zero_weight", residual,
                          "w = (2, 0), wanted r = (1, 2): r_1 - relevance_1 for an arbitrary point (t0, t1)")


def check_engine(widths=(3, 3), *, rng=5) -> Check:
    """One-layer exact ReLU network: roots of random splits and a random target E, checked by the engine."""
    gen = rng_of(rng)
    net, a = rational_case(widths, rng=gen)
    W = net.affine_layers[0].weight_matrix()
    phi = net(a)                                               # φ_j(a) = relu(z_j), c_j = 1
    facts, relevance_total = {}, np.zeros(widths[0], dtype=object)
    roots = np.array([list(a)] * widths[1], dtype=object)   # inactive neurons: root a (φ_j = 0 there already)
    E = rational_vector(widths[0], rng=gen)
    E = E * (sum(phi) / sum(E)) if sum(E) != 0 else E         # any target with Σ E = Σ φ
    for j in range(widths[1]):
        if phi[j] == 0:
            continue
        support = [i for i in range(widths[0]) if W[j, i] != 0]
        r = np.zeros(widths[0], dtype=object)
        share = E * phi[j] / sum(phi)
        r[support] = share[support]
        r[support[-1]] += phi[j] - sum(r)                      # keep Σ r = φ_j when E has mass off the support
        root = np.array(split_root(a, W[j], r), dtype=object)
        roots[j] = root
        relevance = grad_times_displacement(net, a, root, j)
        facts[f"neuron {j}: engine phi_j(root) = 0"] = net(root)[j] == 0
        facts[f"neuron {j}: engine z_j(root) = 0 (on its hinge)"] = net.trace(
            np.asarray([root], dtype=object)).z[0][0][j] == 0
        facts[f"neuron {j}: engine grad * (a - root) = r_j"] = all(x == y for x, y in zip(relevance, r))
        relevance_total = relevance_total + relevance
    facts["sum over neurons = sum phi"] = sum(relevance_total) == sum(phi)
    from dtd_ref.full_dtd import ConstantRoots, full_dtd

    for j in range(widths[1]):                                   # explain each output with the project's full DTD
        explained = full_dtd(net, a, [ConstantRoots(roots)], output=j)
        expected = grad_times_displacement(net, a, roots[j], j)
        facts[f"dtd_ref full_dtd output {j} = engine grad * (a - root)"] = list(explained.input_relevance) == \
            list(expected)
    if all(all(W[j, i] != 0 for i in range(widths[0])) for j in range(widths[1]) if phi[j] != 0):
        facts["DTD returns the target E"] = all(x == y for x, y in zip(relevance_total, E))
    return truth_check("engine", "engine", facts, f"exact one-layer {widths} ReLU net at a = {[str(v) for v in a]}")


CHECKS = (check_all_widths, check_zero_weight_supports, check_negative_split_not_summing, check_negative_zero_weight,
          check_engine)


def prove():
    """Run every check of claim 2; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
