"""Claim 5 ([M17], [A18]): with zero biases the z rule's roots are 0 and its DTD is gradient x input.

Claim
-----
If every bias is zero then, on every linear region,
(a) the z-rule root of every neuron, ã = a - t a with t = z_j / (w_j^T a), is exactly 0;
(b) f(x) = ∇f(x)^T x (positive homogeneity: f is linear on the region, no constant term), and 0 lies in the closure
    of every region (all pre-activations vanish at 0), so the root 0 satisfies the hypotheses of claim 1;
(c) the layer-wise z-rule DTD, R^l_i = Σ_j a_i w_ji / (Σ_i' a_i' w_ji') R^{l+1}_j, equals ∇f(x) ⊙ x and conserves
    relevance: Σ_i R^1_i = f(x).

Hypotheses
----------
b_l = 0 for every layer; w_j^T a ≠ 0 for active neurons (inactive neurons carry no relevance).

Scope
-----
* For all sizes: (a) in index form with a symbolic width; the inductive step of (b) in matrix-symbol form (if
  a_l = J x is linear then F = c^T D W a_l satisfies ∇F^T x = F), with the bias residual -c^T D b shown symbolically.
* Exhaustively: every architecture up to depth 3, width 3 with symbolic weights and pattern: (b), z_l(0) = 0, (c)
  with exact polynomial division, and conservation.
* Negative controls (b ≠ 0, concrete): the z root is not 0, f(x) - ∇f^T x ≠ 0, z-rule DTD ≠ gradient x input.
* Engine: an exact bias-free network (``dtd_ref.mlp(..., bias=False)`` converted to Fractions): f(x) = ∇f·x,
  ``local_affine`` has c = 0, a loop over the Trace gives z-rule roots exactly 0 and z-DTD = gradient x input, and
  so does ``dtd_ref.rules.Z`` through ``train_free_dtd`` (with an empty ledger).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

import dtd_ref
from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import (OUTPUT, architectures, concrete_network, evaluate, generic_point, rational_case, rng_of,
                        slopes_of, symbolic_network, to_sympy)
from .lrp0 import layerwise_relevance

CLAIM = "5-zero-bias"
TITLE = "zero biases: z-rule roots are 0, z-DTD = gradient x input, f(x) = grad f(x)^T x"
SCOPE = ("root and homogeneity step for all sizes (index / matrix-symbol form); every architecture up to depth 3, "
         "width 3 with symbolic weights and pattern; concrete negative controls with b != 0; exact engine")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "z_rule_denominator", "z_rule_exact"]


def z_rule_denominator(w_j, a, b_j, z_j):
    """The z rule's denominator Σ_i a_i w_ji = z_j - b_j (the bias is left out)."""
    return z_j - b_j


@lru_cache(maxsize=None)
def _symbolic_case(widths):
    net = symbolic_network(widths, bias=False)
    return net, layerwise_relevance(net, denominator=z_rule_denominator)


def z_rule_exact(net, x, *, output: int = OUTPUT):
    """Layer-wise z-rule DTD by a loop over neurons of the engine's exact Trace at one input x (d,).

    Returns ``(R_input, roots)`` where ``roots[k][j]`` is a - (z_j / w_j^T a) a for each active neuron j of affine
    layer k (None for inactive neurons or w_j^T a = 0).
    """
    trace = net.trace(np.asarray([x], dtype=object))
    dense = net.affine_layers
    R = [0] * net.out_features
    R[output] = trace.output[0][output]
    roots = []
    for k in reversed(range(len(dense))):
        a, z, W = trace.a[k][0], trace.z[k][0], dense[k].weight_matrix()
        lower, layer_roots = [0] * len(a), []
        for j, R_j in enumerate(R):
            wa = sum(W[j, i] * a[i] for i in range(len(a)))
            if z[j] <= 0 or wa == 0:
                layer_roots.append(None)
                continue
            layer_roots.append([a[i] - z[j] / wa * a[i] for i in range(len(a))])
            for i in range(len(a)):
                lower[i] += a[i] * W[j, i] / wa * R_j
        roots.insert(0, layer_roots)
        R = lower
    return np.array(R, dtype=object), roots


# ---------------------------------------------------------------------------------------------- checks
def check_root_is_zero() -> Check:
    """Index form: the z root is a - (z_j / w_j^T a) a = -b_j a / (w_j^T a), which is 0 when b_j = 0."""
    n = sp.Symbol("n", integer=True, positive=True)
    i, k = sp.symbols("i k", integer=True, positive=True)
    w, a = sp.IndexedBase("w"), sp.IndexedBase("a")
    b = sp.Symbol("b")
    wa = sp.Sum(w[i] * a[i], (i, 1, n))
    root_k = a[k] - (wa + b) / wa * a[k]
    residuals = {
        "root = -b a / (w^T a)": sp.simplify(root_k + b * a[k] / wa),
        "root = 0 when b = 0": sp.simplify(root_k.subs(b, 0)),
    }
    bad = [name for name, res in residuals.items() if res != 0]
    if bad:
        return Check("root_is_zero", "symbolic", False, f"nonzero residual in: {', '.join(bad)}")
    return Check("root_is_zero", "symbolic", True, "index form, symbolic width n: " + "; ".join(residuals))


def check_homogeneity_step() -> Check:
    """Matrix-symbol form: a_l = J x linear  =>  F = c^T D W a_l has ∇F^T x = F; with a bias the residual is
    -c^T D b."""
    d, n, m = sp.symbols("d n m", integer=True, positive=True)
    x, J = sp.MatrixSymbol("x", d, 1), sp.MatrixSymbol("J", n, d)
    W, D, c, b = (sp.MatrixSymbol("W", m, n), sp.MatrixSymbol("D", m, m), sp.MatrixSymbol("c", m, 1),
                  sp.MatrixSymbol("b", m, 1))
    F = c.T * D * W * J * x
    F_bias = c.T * D * (W * J * x + b)
    residual = sp.simplify(F.diff(x).T * x - F)
    residual_bias = sp.simplify((F_bias.diff(x).T * x - F_bias).expand() + c.T * D * b)
    ok = residual == sp.ZeroMatrix(1, 1) or residual == 0
    ok_bias = residual_bias == sp.ZeroMatrix(1, 1) or residual_bias == 0
    detail = (f"grad F^T x - F = {residual}; with a bias grad F^T x - F + c^T D b = {residual_bias} "
              f"(symbolic sizes d, n, m)")
    return Check("homogeneity_step", "symbolic", ok and ok_bias, detail)


def check_every_architecture() -> Check:
    residuals, count = [], 0
    for widths in architectures(3, 3):
        net, prop = _symbolic_case(widths)
        f, x = prop.output, prop.x
        grad_x = prop.gradient_times_input()
        residuals.append(f - sum(grad_x))                                          # f = ∇f^T x
        at_zero = [(g, 0) for g in x]
        residuals.extend(z_j.evaluate(at_zero) if hasattr(z_j, "evaluate") else z_j
                         for z_l in prop.z for z_j in z_l)                         # z_l(0) = 0
        residuals.extend(prop.remainders)                                          # exact division
        residuals.extend(r - g for r, g in zip(prop.R[0], grad_x))                 # z-DTD = grad x input
        residuals.append(sum(prop.R[0]) - f)                                       # conservation
        count += 1
    return identity_check("every_architecture", "exhaustive", residuals,
                          f"{count} bias-free architectures up to depth 3, width 3, symbolic pattern: f = grad f^T x, "
                          f"z_l(0) = 0, exact division, z-DTD = x * grad f, sum R^1 = f")


def _biased_case(widths=(2, 3, 1), *, rng=2):
    net, x = rational_case(widths, rng=rng)
    return net, x, concrete_network(net, slopes_of(net, x))


def check_negative_root_with_bias() -> Check:
    net, x, concrete = _biased_case()
    a = sp.Matrix(to_sympy(x))
    z = concrete.preactivation(0, a)
    j = next(j for j in range(len(z)) if z[j] > 0)
    wa = (concrete.W[0][j, :] * a)[0]
    root = a - (z[j] / wa) * a
    return negative_check("negative_root_with_bias", root,
                          f"first layer, neuron {j}, b_j = {concrete.b[0][j]}: the z root")


def check_negative_homogeneity_with_bias() -> Check:
    net, x, concrete = _biased_case()
    xs = concrete.variables(0, "x")
    f = concrete.forward(xs)[OUTPUT]
    residual = (f - sum(sp.diff(f, xi) * xi for xi in xs)).xreplace(dict(zip(xs, to_sympy(x))))
    return negative_check("negative_homogeneity_with_bias", sp.nsimplify(residual),
                          f"{tuple(net.widths)} net with biases at x = {[str(v) for v in x]}: f(x) - grad f^T x")


def check_negative_z_dtd_with_bias() -> Check:
    net, x, concrete = _biased_case()
    prop = layerwise_relevance(concrete, denominator=z_rule_denominator, polynomial=False)
    at_x = dict(zip(prop.x, to_sympy(x)))
    residual = sp.Matrix([sp.simplify((r - g).xreplace(at_x)) for r, g in zip(prop.R[0], prop.gradient_times_input())])
    return negative_check("negative_z_dtd_with_bias", residual,
                          f"{tuple(net.widths)} net with biases: z-DTD R^1 - x * grad f")


def check_engine(widths=(3, 3, 3, 2), *, rng=7) -> Check:
    gen = rng_of(rng)
    for _ in range(50):  # redraw until the ReLU output is alive somewhere we look
        attempt = int(gen.integers(2**31))
        net = dtd_ref.to_exact(dtd_ref.mlp(widths, rng=attempt, bias=False, relu_on_output=True))
        try:
            x = generic_point(net, rng=gen, tries=50)
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError(f"no bias-free {widths} network with an active output in 50 draws")
    grad = net.gradient(x, output=OUTPUT)
    A, c = net.local_affine(x)
    R, roots = z_rule_exact(net, x)
    sym, prop = _symbolic_case(widths)
    values = sym.values(net, slopes_of(net, x))
    values.update({sp.Symbol(f"x0_{i}"): v for i, v in enumerate(to_sympy(x))})
    facts = {
        "f(x) = grad f(x) . x": net(x)[OUTPUT] == sum(g * xi for g, xi in zip(grad, x)),
        "local_affine constant c = 0": all(v == 0 for v in c),
        "every z root is exactly 0": all(v == 0 for layer in roots for root in layer if root is not None
                                         for v in root),
        "some neuron was rooted": any(root is not None for layer in roots for root in layer),
        "loop z-DTD = engine gradient x input": list(R) == list(net.gradient_x_input(x, output=OUTPUT)),
        "symbolic z-DTD = loop z-DTD": [evaluate(r, values) for r in prop.R[0]] == to_sympy(R),
    }
    from dtd_ref.dtd import train_free_dtd
    from dtd_ref.rules import Z

    explained = train_free_dtd(net, x, Z(), output=OUTPUT)
    trace = net.trace(np.asarray([x], dtype=object))
    rooted = [(k, j) for k, missing in enumerate(explained.missing) for j in range(len(missing))
              if not missing[j] and trace.z[k][0][j] > 0]
    facts["dtd_ref Z = engine gradient x input"] = list(explained.input_relevance) == list(
        net.gradient_x_input(x, output=OUTPUT))
    facts["dtd_ref Z roots of active neurons are exactly 0"] = bool(rooted) and all(
        v == 0 for k, j in rooted for v in explained.roots[k][j])
    facts["dtd_ref Z ledger is empty (conservative)"] = all(
        v == 0 for ledger in explained.ledger for entry in ledger.values() for v in entry)
    return truth_check("engine", "engine", facts,
                       f"dtd_ref.mlp({widths}, rng={attempt}, bias=False) in exact mode at rational x")


CHECKS = (check_root_is_zero, check_homogeneity_step, check_every_architecture, check_negative_root_with_bias,
          check_negative_homogeneity_with_bias, check_negative_z_dtd_with_bias, check_engine)


def prove():
    """Run every check of claim 5; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
