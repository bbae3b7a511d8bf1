"""Claim 1 ([SL22], "locally constant roots"): DTD with locally constant roots is gradient x input.

Claim
-----
Let f = f_L o ... o f_1 be a ReLU network (LeakyReLU too), explained output ξ, and run the full DTD recursion
R^{L+1}(a) = e_ξ ⊙ a,   φ_j(a_l) = R^{l+1}_j(f_l(a_l)),   R^l(a_l) = Σ_j ∇φ_j(ã^(j)) ⊙ (a_l - ã^(j)).
If every root ã^(j) is constant near the input (∂ã^(j)/∂a_l = 0) and lies in the region where φ_j is affine, then
every R^l is affine with Jacobian diag(∇F_l), F_l the network from layer l to ξ; hence R^1(x) = ∇f_ξ(x) ⊙ x + c with
a constant c, and if all input-layer roots coincide at x̃, R^1(x) = ∇f_ξ(x) ⊙ (x - x̃).  Biases are arbitrary.

Hypotheses
----------
(H1) roots constant in a_l; (H2) each root lies in the (closed) region where φ_j is affine, so ∇φ_j(ã^(j)) is the
gradient of the same affine piece as at a_l.  H2 is encoded by evaluating ∇φ_j with the pattern of the input.

Indexing: the paper counts layers from 1 (R^1 explains x); the code counts affine layers from 0 (DESIGN.md), so
``R[l]`` below is the paper's R^{l+1}: ``R[0]`` is the explanation of x and ``R[L]`` = e_ξ ⊙ a the top.

Scope
-----
* For all widths (index form, symbolic n and m): the inductive step.  If R^{l+1}(a') = g ⊙ a' + c with g = ∇F_{l+1}
  constant, then R^l(a) has Jacobian diag(W^T D g) = diag(∇F_l) and R^l(a) - ∇F_l ⊙ a is constant; with common roots
  x̃ it is -∇F_l ⊙ x̃.  The base case R^{L+1}(a) = e_ξ ⊙ a is of this form (g = e_ξ, c = 0), so induction over the
  depth gives the claim for every depth and width.
* Exhaustively: every architecture (d_0, ..., d_L) with L <= 3 and every d_l <= 3 (117 of them), fully symbolic
  weights, biases, roots and slopes, so every activation pattern (and a linear or ReLU output) at once: the Jacobian
  of every R^l and the common-root identity.  The slope-symbol shortcut is spot-checked against all 128 explicit
  0/1 patterns of the (3, 3, 3, 1) network.
* Negative controls: z⁺ roots (input-dependent, inside the region, on a concrete network) make R^1 - ∇f ⊙ x
  non-constant; a constant root whose gradient is taken in another region breaks the Jacobian identity.
* Engine: at a rational point of a random exact (3, 3, 3, 2) network with ReLU output, the symbolic recursion with
  roots in the region equals the engine's ∇f ⊙ (x - x̃), with distinct input roots the engine's per-neuron
  gradients give the constant c, and ``dtd_ref.full_dtd`` with the same constant roots returns the same R^1.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np
import sympy as sp

from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import (OUTPUT, architectures, closed_region_contains, concrete_network, from_sympy, generic_point,
                        rational_case, rational_network, rational_vector, rng_of, slopes_of, symbolic_network,
                        to_sympy)

CLAIM = "1-constant-roots"
TITLE = "locally constant roots in the region => DTD = gradient x input (+ constant)"
SCOPE = ("inductive step for all widths (index form); every architecture up to depth 3, width 3 with symbolic "
         "weights, biases, roots and pattern; explicit 0/1 patterns of (3,3,3,1); negative controls on concrete nets")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "relevance_recursion", "constant_root"]


# ---------------------------------------------------------------------------------------------- the recursion
def constant_root(l: int, j: int, u: sp.Matrix) -> sp.Matrix:
    """The constant root of neuron j of layer l+1: free symbols r{l}_{j}_{i}, independent of u."""
    return sp.Matrix(u.shape[0], 1, lambda i, _: sp.Symbol(f"r{l}_{j}_{i}"))


def relevance_recursion(net, roots=constant_root, *, output: int = OUTPUT, root_slopes=None):
    """The full DTD recursion on the region of the network's (symbolic) pattern.

    Parameters
    ----------
    net : SymbolicNetwork
    roots : callable (l, j, u) -> sympy.Matrix (d_l, 1)
        The root of neuron j of layer l+1 as a function of the layer input u (constant or not).
    root_slopes : dict, optional
        Substitution applied to ∇φ_j before evaluating it at the root: models a root in another region.

    Returns
    -------
    R : list of sympy.Matrix
        ``R[l]`` (d_l, 1) is the relevance of the input of affine layer l (the paper's R^{l+1}) as a function of
        the symbols ``u[l]``; ``R[0]`` explains x.
    u : list of sympy.Matrix
        The layer-input symbols.

    Notes
    -----
    R^l(u) = Σ_j ∇φ_j(ã^(j)) ⊙ (u - ã^(j)) with φ_j(u) = R^{l+1}_j(D_l (W_l u + b_l)); the gradient is taken
    symbolically in u and then evaluated at the root by simultaneous substitution.
    """
    L = net.depth
    u = [net.variables(l) for l in range(L + 1)]
    R = [None] * (L + 1)
    R[L] = sp.Matrix([u[L][j] if j == output else 0 for j in range(net.widths[L])])
    for l in reversed(range(L)):
        upper = dict(zip(u[l + 1], net.layer(l, u[l])))
        R_l = sp.zeros(net.widths[l], 1)
        for j in range(net.widths[l + 1]):
            phi = R[l + 1][j].xreplace(upper)
            grad = [sp.diff(phi, ui) for ui in u[l]]
            if root_slopes:
                grad = [g.xreplace(root_slopes) for g in grad]
            root = roots(l, j, u[l])
            at_root = dict(zip(u[l], root))
            R_l += sp.Matrix([grad[i].xreplace(at_root) * (u[l][i] - root[i]) for i in range(net.widths[l])])
        R[l] = R_l
    return R, u


def gradient_of_output(net, l: int, u: sp.Matrix, output: int = OUTPUT) -> list:
    """∇F_l: derivatives of the forward pass from layer l (independent of the recursion)."""
    F = net.output_from(l, u, output)
    return [sp.diff(F, ui) for ui in u]


def theorem_residuals(net, R, u) -> list:
    """Residuals J(R^l) - diag(∇F_l) for every l, and R^1 - ∇f ⊙ (x - x̃) with common input roots x̃."""
    residuals = []
    for l in range(net.depth + 1):
        grad = gradient_of_output(net, l, u[l])
        residuals.append(R[l].jacobian(u[l]) - sp.diag(*grad))
    x_root = sp.Matrix(net.widths[0], 1, lambda i, _: sp.Symbol(f"xt_{i}"))
    common = {sp.Symbol(f"r0_{j}_{i}"): x_root[i] for j in range(net.widths[1]) for i in range(net.widths[0])}
    grad0 = gradient_of_output(net, 0, u[0])
    residuals.append(R[0].xreplace(common) - sp.Matrix([grad0[i] * (u[0][i] - x_root[i])
                                                         for i in range(net.widths[0])]))
    return residuals


@lru_cache(maxsize=None)
def _symbolic_case(widths):
    net = symbolic_network(widths)
    R, u = relevance_recursion(net)
    return net, R, u


# ---------------------------------------------------------------------------------------------- checks
def check_inductive_step() -> Check:
    """Index form, symbolic widths n (layer l) and m (layer l+1)."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    i, k, j, p = sp.symbols("i k j p", integer=True, positive=True)
    W, s, g, b, c, a, r, xt = (sp.IndexedBase(name) for name in ("W", "s", "g", "b", "c", "a", "r", "xt"))

    def in_range(expr):  # i is an index of layer l, so 1 <= i <= n: drop the Piecewise guard i <= n
        return expr.replace(lambda e: isinstance(e, sp.Piecewise) and e.args[0].cond == sp.Le(i, n),
                            lambda e: e.args[0].expr)

    # induction hypothesis: R^{l+1}(a') = g ⊙ a' + c, so φ_j(a) = g_j [D (W a + b)]_j + c_j
    phi_j = g[j] * s[j] * (sp.Sum(W[j, p] * a[p], (p, 1, n)) + b[j]) + c[j]
    grad_i = in_range(sp.diff(phi_j, a[i]).doit())
    grad_at_root = grad_i.replace(lambda e: isinstance(e, sp.Indexed) and e.base == a,
                                  lambda e: r[j, e.indices[0]])  # constant root: the gradient is unchanged
    R_i = sp.Sum(grad_at_root * (a[i] - r[j, i]), (j, 1, m))
    F = sp.Sum(g[j] * s[j] * (sp.Sum(W[j, p] * a[p], (p, 1, n)) + b[j]), (j, 1, m)) + sp.Symbol("C")
    grad_F_i = in_range(sp.diff(F, a[i]).doit())
    jac_ik = in_range(sp.diff(R_i, a[k]).doit())
    constant = sp.simplify(R_i - grad_F_i * a[i])
    common_roots = R_i.replace(lambda e: isinstance(e, sp.Indexed) and e.base == r, lambda e: xt[e.indices[1]])
    residuals = {
        "Jacobian of R^l = diag(grad F_l)": sp.simplify(jac_ik - sp.KroneckerDelta(i, k) * grad_F_i),
        "R^l - grad F_l * a is constant": sp.simplify(sp.diff(constant, a[k])),
        "common roots: R^l = grad F_l * (a - xt)": sp.simplify(common_roots - grad_F_i * (a[i] - xt[i])),
        "base case R^{L+1} = e_xi * a'": sp.diff(sp.KroneckerDelta(i, 1) * a[i], a[k])
        - sp.KroneckerDelta(i, k) * sp.diff(a[1], a[i]),
    }
    bad = [name for name, res in residuals.items() if sp.simplify(res) != 0]
    if bad:
        return Check("inductive_step", "symbolic", False, f"nonzero residual in: {', '.join(bad)}")
    return Check("inductive_step", "symbolic", True,
                 "index form, symbolic widths n, m: " + "; ".join(residuals) + " (all residuals 0)")


def check_every_architecture() -> Check:
    residuals = []
    count = 0
    for widths in architectures(3, 3):
        net, R, u = _symbolic_case(widths)
        residuals.extend(theorem_residuals(net, R, u))
        count += 1
    return identity_check("every_architecture", "exhaustive", residuals,
                          f"{count} architectures up to depth 3, width 3, symbolic pattern: Jacobian of each R^l "
                          f"= diag(grad F_l) and common-root identity")


def check_explicit_patterns(widths=(3, 3, 3, 1)) -> Check:
    """Every explicit 0/1 pattern of one architecture agrees with the symbolic-slope computation."""
    net, R, u = _symbolic_case(widths)
    slope_symbols = [e for group in net.s for e in group]
    residuals = []
    for bits in product((0, 1), repeat=len(slope_symbols)):
        pattern = dict(zip(slope_symbols, map(sp.Integer, bits)))
        explicit = type(net)(net.widths, net.W, net.b, tuple(m.xreplace(pattern) for m in net.s))
        R_explicit, u_explicit = relevance_recursion(explicit)
        residuals.append(R_explicit[0] - R[0].xreplace(pattern))
        residuals.append(theorem_residuals(explicit, R_explicit, u_explicit)[0])
    return identity_check("explicit_patterns", "exhaustive", residuals,
                          f"all {2 ** len(slope_symbols)} explicit 0/1 patterns of {widths}: R^1 equals the "
                          f"symbolic-pattern R^1 and its Jacobian is diag(grad f)")


def from_sympy_matrix(values) -> np.ndarray:
    """Object array of Fractions with the shape of ``values`` (sympy Rationals)."""
    values = np.asarray(values, dtype=object)
    return from_sympy(list(values.flat)).reshape(values.shape)


def _root_in_region(net, a, l, *, rng, tries=60):
    """a + δ with δ halved until the point is in the closed region of a for the sub-network from layer l."""
    gen = rng_of(rng)
    delta = rational_vector(len(a), rng=gen)
    for _ in range(tries):
        point = a + delta
        if closed_region_contains(net, a, point, start=l):
            return point
        delta = delta / 2
    raise RuntimeError("no root found in the region")


def _zplus_roots(net):
    """z⁺ roots of a concrete SymbolicNetwork: u - t v with v = u ⊙ 1[w_j > 0], t = z_j / w_j^T v (root = u
    for inactive neurons)."""
    def roots(l, j, u):
        if net.s[l][j] == 0:
            return u
        w = net.W[l][j, :]
        v = sp.Matrix([u[i] if w[i] > 0 else 0 for i in range(u.shape[0])])
        t = (w * u)[0] + net.b[l][j]
        return u - (t / (w * v)[0]) * v
    return roots


def check_negative_input_dependent_roots(widths=(3, 3, 3, 1), *, rng=16) -> Check:
    """Drop H1: z⁺ roots (functions of the input) inside the region; R^1 - ∇f ⊙ x is not constant."""
    gen = rng_of(rng)
    net = rational_network(widths, rng=gen, nonpositive_bias=True)
    x = generic_point(net, rng=gen, nonnegative=True)
    concrete = concrete_network(net, slopes_of(net, x))
    roots = _zplus_roots(concrete)
    R, u = relevance_recursion(concrete, roots)
    # H2 holds at x: every z⁺ root lies in the closed region of its layer's sub-network
    trace = net.trace(np.asarray([x], dtype=object))
    point = {u[l][i]: sp.Rational(trace.a[l][0][i]) for l in range(len(widths) - 1) for i in range(widths[l])}
    in_region = {}
    for l in range(len(widths) - 1):
        a_l = trace.a[l][0]
        for j in range(widths[l + 1]):
            root = from_sympy(list(roots(l, j, u[l]).xreplace(point)))
            in_region[f"root {l},{j}"] = closed_region_contains(net, a_l, root, start=l)
    facts = truth_check("z+ roots in region", "negative", in_region, "H2 at the test point")
    if not facts.ok:
        return Check("negative_input_dependent_roots", "negative", False, facts.detail)
    grad = gradient_of_output(concrete, 0, u[0])
    deviation = R[0] - sp.Matrix([grad[i] * u[0][i] for i in range(widths[0])])
    residual = deviation.jacobian(u[0]).xreplace({k: v for k, v in point.items() if k in set(u[0])})
    return negative_check("negative_input_dependent_roots", sp.simplify(residual),
                          f"z+ roots on a {widths} net at x = {list(map(str, x))}, all roots in the region: "
                          f"Jacobian of R^1 - grad f * x")


def check_negative_root_outside_region(widths=(2, 2, 1), *, rng=5) -> Check:
    """Drop H2: constant roots whose gradient comes from the region with the first layer's pattern flipped."""
    net = symbolic_network(widths)
    flipped = {s: 1 - s for s in net.s[0]}
    R, u = relevance_recursion(net, root_slopes=flipped)
    residual = theorem_residuals(net, R, u)[0]
    concrete, x = rational_case(widths, rng=rng)
    values = net.values(concrete, slopes_of(concrete, x))
    return negative_check("negative_root_outside_region", sp.simplify(residual.xreplace(values)),
                          f"{widths}: gradient at the root taken with the first layer's pattern flipped, "
                          f"Jacobian of R^1 - diag(grad f) at a random rational net")


def check_engine(widths=(3, 3, 3, 2), *, rng=11) -> Check:
    """Symbolic recursion evaluated at a rational net and rational roots in the region vs the exact engine."""
    gen = rng_of(rng)
    net, x = rational_case(widths, rng=gen)
    sym, R, u = _symbolic_case(widths)
    values = sym.values(net, slopes_of(net, x))
    trace = net.trace(np.asarray([x], dtype=object))
    facts = {}
    # roots of every neuron of every upper layer: a point of that layer's region near a_l
    for l in range(1, len(widths) - 1):
        a_l = trace.a[l][0]
        for j in range(widths[l + 1]):
            root = _root_in_region(net, a_l, l, rng=gen)
            values.update({sp.Symbol(f"r{l}_{j}_{i}"): sp.Rational(v) for i, v in enumerate(root)})
    values.update({u[0][i]: sp.Rational(v) for i, v in enumerate(x)})
    grad_engine = sp.Matrix(to_sympy(net.gradient(x, output=OUTPUT)))
    grad_symbolic = sp.Matrix(gradient_of_output(sym, 0, u[0])).xreplace(values)
    facts["symbolic grad f = engine gradient"] = grad_symbolic == grad_engine
    # common input root x̃ in the region: R^1(x) = ∇f ⊙ (x - x̃)
    x_root = _root_in_region(net, x, 0, rng=gen)
    common = dict(values)
    common.update({sp.Symbol(f"r0_{j}_{i}"): sp.Rational(v) for j in range(widths[1]) for i, v in enumerate(x_root)})
    R_common = R[0].xreplace(common)
    expected = sp.Matrix([grad_engine[i] * sp.Rational(x[i] - x_root[i]) for i in range(widths[0])])
    facts["R^1(x) = engine grad * (x - x_root)"] = sp.simplify(R_common - expected) == sp.zeros(widths[0], 1)
    # distinct input roots: R^1(x) - ∇f ⊙ x = -Σ_j ∇φ_j ⊙ x̃_j with ∇φ_j from the engine
    g_upper = to_sympy(net.sub(1).gradient(trace.a[1][0], output=OUTPUT))
    W0 = net.affine_layers[0].weight_matrix()
    s0 = slopes_of(net, x)[0]
    constant = sp.zeros(widths[0], 1)
    distinct = dict(values)
    for j in range(widths[1]):
        root = _root_in_region(net, x, 0, rng=gen)
        distinct.update({sp.Symbol(f"r0_{j}_{i}"): sp.Rational(v) for i, v in enumerate(root)})
        constant -= sp.Matrix([g_upper[j] * int(s0[j]) * sp.Rational(W0[j, i]) * sp.Rational(root[i])
                               for i in range(widths[0])])
    deviation = R[0].xreplace(distinct) - sp.Matrix([grad_engine[i] * sp.Rational(x[i]) for i in range(widths[0])])
    facts["R^1(x) - grad*x = engine constant c"] = sp.simplify(deviation - constant) == sp.zeros(widths[0], 1)
    # the project's full recursive DTD with the same constant roots
    from dtd_ref.full_dtd import ConstantRoots, full_dtd

    def root_array(sub, l):
        return np.array([[sub[sp.Symbol(f"r{l}_{j}_{i}")] for i in range(widths[l])] for j in range(widths[l + 1])],
                        dtype=object)

    for label, sub, expected_R in (("common", common, R_common), ("distinct", distinct, R[0].xreplace(distinct))):
        finders = [ConstantRoots(from_sympy_matrix(root_array(sub, l))) for l in range(len(widths) - 1)]
        explained = full_dtd(net, x, finders, output=OUTPUT)
        facts[f"dtd_ref full_dtd ({label} input roots) = symbolic R^1"] = to_sympy(explained.input_relevance) == \
            list(expected_R)
    return truth_check("engine", "engine", facts, f"exact {widths} net with ReLU output, rational x and roots "
                                                  f"in the closed region")


CHECKS = (check_inductive_step, check_every_architecture, check_explicit_patterns,
          check_negative_input_dependent_roots, check_negative_root_outside_region, check_engine)


def prove():
    """Run every check of claim 1; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
