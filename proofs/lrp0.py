"""Claim 4 ([A18]): LRP-0 equals gradient x input for ReLU networks with biases, and is not conservative.

Claim
-----
LRP-0 with the bias in the denominator, R^{L+1} = f_ξ(x) e_ξ and
R^l_i = Σ_j a_i w_ji R^{l+1}_j / z_j   (z_j = Σ_i a_i w_ji + b_j),
gives R^1 = ∇f_ξ(x) ⊙ x on every linear region, biases included.  It is not conservative: each layer absorbs
Σ_j b_j R^{l+1}_j / z_j, i.e. Σ_i R^l_i = Σ_j R^{l+1}_j - Σ_j b_j R^{l+1}_j / z_j, nonzero when a bias is.

Hypotheses
----------
Piecewise-linear (ReLU / LeakyReLU) network, x in the interior of a region (the pattern is fixed), z_j ≠ 0 for active
units; inactive units carry R_j = 0 (the 0/0 of a dead unit is read as 0).  The proof shows more: z_j divides R^{l+1}_j
exactly as a polynomial (R^{l+1}_j carries the factor a_j = s_j z_j), so the quotient R_j / z_j is a polynomial.

Scope
-----
* For all widths (index form): the inductive step — if R^{l+1} = a' ⊙ g with g = ∇F_{l+1} then R^l = a ⊙ ∇F_l — and
  the per-neuron ledger Σ_i a_i w_ji R_j / z_j = R_j - b_j R_j / z_j.
* Exhaustively: every architecture up to depth 3 and width 3, symbolic weights, biases and pattern: R^1 = x ⊙ ∇f,
  exact divisibility at every neuron, and the bias ledger at every layer.
* Negative controls: a nonzero bias breaks conservation (concrete residual); LRP-ε with ε = 1/10 is not gradient x
  input (concrete residual).
* Engine: an exact loop over the engine's Trace computes LRP-0 at a rational point; it equals the engine's
  ``gradient_x_input``, the symbolic R^1 at those numbers, and Σ R^1 + absorbed = f(x) exactly; ``dtd_ref.rules``
  LRP0 (through ``train_free_dtd``) gives the same relevance and bias ledger, and its Epsilon(1/10) equals the
  symbolic LRP-ε at those numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from ._core import Check, identity_check, negative_check, run_checks, truth_check
from ._symbolic import (OUTPUT, architectures, concrete_network, evaluate, polynomial_ring, rational_case, ring_array,
                        slopes_of, symbolic_network, to_sympy)

CLAIM = "4-lrp0"
TITLE = "LRP-0 = gradient x input with biases; not conservative when a bias is nonzero"
SCOPE = ("inductive step and bias ledger for all widths (index form); every architecture up to depth 3, width 3 with "
         "symbolic weights, biases and pattern; concrete negative controls; exact engine cross-check")

__all__ = ["CLAIM", "TITLE", "SCOPE", "CHECKS", "prove", "Propagation", "layerwise_relevance", "lrp0_denominator",
           "lrp0_exact"]


def lrp0_denominator(w_j, a, b_j, z_j):
    """LRP-0: the pre-activation z_j itself (bias included)."""
    return z_j


@dataclass(frozen=True)
class Propagation:
    """A layer-wise propagation on the region of a pattern.

    Entries are elements of a polynomial ring (``ring`` set) or sympy expressions (``ring`` None).  ``a[l]``, ``z[l]``
    and ``R[l]`` are object arrays; ``R[l]`` (d_l,) is the relevance of layer l's input, ``R[L]`` = f_ξ e_ξ;
    ``quotients[l][j]`` = R^{l+1}_j / den_j; ``remainders`` the polynomial remainders (all zero iff every division
    was exact).
    """

    x: np.ndarray
    a: list
    z: list
    R: list
    quotients: list
    remainders: list
    ring: object = None

    @property
    def output(self):
        return self.R[-1][OUTPUT]

    def diff(self, value, i: int):
        """∂value/∂x_i."""
        return value.diff(self.x[i]) if self.ring is not None else sp.diff(value, self.x[i])

    def gradient_times_input(self) -> list:
        """x_i ∂f_ξ/∂x_i from the forward pass (independent of the propagation)."""
        return [self.x[i] * self.diff(self.output, i) for i in range(len(self.x))]


def layerwise_relevance(net, *, x=None, output: int = OUTPUT, denominator=lrp0_denominator,
                        polynomial: bool = True) -> Propagation:
    """Layer-wise propagation R^l_i = Σ_j a_i w_ji R^{l+1}_j / den_j on the region of the net's pattern.

    Parameters
    ----------
    net : SymbolicNetwork
        Symbolic or concrete (:func:`proofs._symbolic.concrete_network`).
    x : sympy.Matrix (d_0, 1), optional
        The input; default fresh symbols ``x0_i``.
    denominator : callable (w_j, a, b_j, z_j) -> value
        LRP-0: z_j; z rule: z_j - b_j = Σ_i a_i w_ji; LRP-ε: z_j + ε.
    polynomial : bool
        Work in the polynomial ring QQ[weights, biases, slopes, x] and divide exactly, recording the remainders (a
        proof of divisibility).  Otherwise divide as sympy expressions (use for ε and for numbers).

    Notes
    -----
    The quotient R_j / z_j is exact because R^{l+1}_j carries the factor a_j = s_j z_j ([A18]); the 0/0 of an
    inactive unit is then 0, the convention of every LRP implementation.
    """
    L = net.depth
    x = net.variables(0, "x") if x is None else x
    if polynomial:
        poly_ring, _ = polynomial_ring(net.symbols() + [e for e in x if isinstance(e, sp.Symbol)])
        W = [ring_array(m, poly_ring) for m in net.W]
        b = [ring_array(m, poly_ring)[:, 0] for m in net.b]
        s = [ring_array(m, poly_ring)[:, 0] for m in net.s]
        x_vec = ring_array(x, poly_ring)[:, 0]
        zero = poly_ring.zero
    else:
        poly_ring = None
        W = [np.array(m.tolist(), dtype=object) for m in net.W]
        b = [np.array(list(m), dtype=object) for m in net.b]
        s = [np.array(list(m), dtype=object) for m in net.s]
        x_vec = np.array(list(x), dtype=object)
        zero = sp.Integer(0)
    a, z = [x_vec], []
    for l in range(L):
        z.append(np.array([sum((W[l][j, i] * a[l][i] for i in range(len(a[l]))), zero) + b[l][j]
                           for j in range(net.widths[l + 1])], dtype=object))
        a.append(s[l] * z[l])
    R = [None] * (L + 1)
    R[L] = np.array([a[L][j] if j == output else zero for j in range(net.widths[L])], dtype=object)
    quotients, remainders = [None] * L, []
    for l in reversed(range(L)):
        q_l = []
        for j in range(net.widths[l + 1]):
            R_j = R[l + 1][j]
            den = denominator(W[l][j], a[l], b[l][j], z[l][j])
            if R_j == 0:
                quotient = zero
            elif polynomial:
                quotient, remainder = R_j.div(den)
                remainders.append(remainder)
            else:
                quotient = R_j / den
            q_l.append(quotient)
        quotients[l] = q_l
        R[l] = np.array([sum((a[l][i] * W[l][j, i] * q_l[j] for j in range(net.widths[l + 1])), zero)
                         for i in range(net.widths[l])], dtype=object)
    return Propagation(x_vec, a, z, R, quotients, remainders, poly_ring)


@lru_cache(maxsize=None)
def _symbolic_case(widths) -> tuple:
    net = symbolic_network(widths)
    return net, layerwise_relevance(net)


# ---------------------------------------------------------------------------------------------- exact engine side
def lrp0_exact(net, x, *, output: int = OUTPUT, epsilon=0):
    """LRP-0 (or LRP-ε) by a loop over neurons of the engine's exact Trace at one input x (d,).

    Returns (R_input (d,) Fractions, absorbed) where ``absorbed`` is the relevance the biases (and ε) took:
    Σ R_input + absorbed = f_ξ(x).  Dead units (z_j <= 0 after ReLU, a_j = 0) pass no relevance.
    """
    trace = net.trace(np.asarray([x], dtype=object))
    dense = net.affine_layers
    R = [0] * net.out_features
    R[output] = trace.output[0][output]
    absorbed = 0
    for k in reversed(range(len(dense))):
        a, z, W = trace.a[k][0], trace.z[k][0], dense[k].weight_matrix()
        lower = [0] * len(a)
        for j, R_j in enumerate(R):
            if R_j == 0:
                continue
            den = z[j] + (epsilon if z[j] >= 0 else -epsilon)
            for i in range(len(a)):
                lower[i] += a[i] * W[j, i] * R_j / den
        absorbed += sum(R) - sum(lower)
        R = lower
    return np.array(R, dtype=object), absorbed


# ---------------------------------------------------------------------------------------------- checks
def check_inductive_step() -> Check:
    """Index form: R^{l+1} = a' ⊙ g  =>  R^l = a ⊙ ∇F_l, and the per-neuron bias ledger."""
    n, m = sp.symbols("n m", integer=True, positive=True)
    i, j, p = sp.symbols("i j p", integer=True, positive=True)
    W, s, g, b, a = (sp.IndexedBase(name) for name in ("W", "s", "g", "b", "a"))

    def z(jj, dummy):
        return sp.Sum(W[jj, dummy] * a[dummy], (dummy, 1, n)) + b[jj]

    R_upper = s[j] * z(j, p) * g[j]                                   # a'_j g_j with a'_j = s_j z_j
    R_i = sp.Sum(a[i] * W[j, i] * R_upper / z(j, p), (j, 1, m))       # LRP-0 step
    F = sp.Sum(g[j] * s[j] * z(j, p), (j, 1, m))                       # F_l(a) = F_{l+1}(a') up to a constant
    grad_F_i = sp.diff(F, a[i]).doit().replace(
        lambda e: isinstance(e, sp.Piecewise) and e.args[0].cond == sp.Le(i, n), lambda e: e.args[0].expr)
    sent = sp.factor_terms(sp.Sum(a[i] * W[j, i] * R_upper / z(j, i), (i, 1, n)))
    residuals = {
        "R^l_i = a_i dF_l/da_i": sp.simplify(R_i - a[i] * grad_F_i),
        "sum_i a_i w_ji R_j/z_j = R_j - b_j R_j/z_j": sp.simplify(sent - R_upper + b[j] * R_upper / z(j, i)),
    }
    bad = [name for name, res in residuals.items() if res != 0]
    if bad:
        return Check("inductive_step", "symbolic", False, f"nonzero residual in: {', '.join(bad)}")
    return Check("inductive_step", "symbolic", True,
                 "index form, symbolic widths n, m: " + "; ".join(residuals) + " (all residuals 0)")


def check_every_architecture() -> Check:
    residuals, count = [], 0
    for widths in architectures(3, 3):
        net, prop = _symbolic_case(widths)
        residuals.extend(prop.remainders)                                       # z_j divides R_j exactly
        residuals.extend(r - g for r, g in zip(prop.R[0], prop.gradient_times_input()))  # LRP-0 = grad x input
        count += 1
    return identity_check("every_architecture", "exhaustive", residuals,
                          f"{count} architectures up to depth 3, width 3, symbolic pattern: exact division by z_j "
                          f"and R^1 = x * grad f")


def check_bias_ledger() -> Check:
    residuals = []
    for widths in architectures(3, 3):
        net, prop = _symbolic_case(widths)
        b = [ring_array(m, prop.ring)[:, 0] for m in net.b]
        for l in range(net.depth):
            absorbed = sum(b[l][j] * prop.quotients[l][j] for j in range(net.widths[l + 1]))
            residuals.append(sum(prop.R[l]) + absorbed - sum(prop.R[l + 1]))
    return identity_check("bias_ledger", "exhaustive", residuals,
                          "every layer of every architecture up to depth 3, width 3: "
                          "sum R^l + sum_j b_j R_j / z_j = sum R^{l+1}")


def check_negative_bias_not_conservative(widths=(2, 2, 1), *, rng=1) -> Check:
    """With its biases LRP-0 does not conserve: Σ R^1 - f(x) at a concrete point."""
    net, x = rational_case(widths, rng=rng)
    concrete = concrete_network(net, slopes_of(net, x))
    prop = layerwise_relevance(concrete, x=sp.Matrix(to_sympy(x)), polynomial=False)
    residual = sp.nsimplify(sum(prop.R[0]) - prop.output)
    return negative_check("negative_bias_not_conservative", residual,
                          f"{widths} net with nonzero biases at x = {[str(v) for v in x]}: sum R^1 - f(x)")


def check_negative_epsilon(widths=(2, 2, 1), *, rng=1, epsilon=sp.Rational(1, 10)) -> Check:
    """LRP-ε (ε = 1/10 added to the denominators of active units, sign(z) = +1 there) is not gradient x input."""
    net, x = rational_case(widths, rng=rng)
    concrete = concrete_network(net, slopes_of(net, x))
    prop = layerwise_relevance(concrete, polynomial=False, denominator=lambda w_j, a, b_j, z_j: z_j + epsilon)
    at_x = dict(zip(prop.x, to_sympy(x)))
    residual = sp.Matrix([sp.simplify((r - g).xreplace(at_x)) for r, g in zip(prop.R[0], prop.gradient_times_input())])
    return negative_check("negative_epsilon", residual,
                          f"LRP-eps, eps = {epsilon}, {widths} net at x = {[str(v) for v in x]}: R^1 - x * grad f")


def check_engine(widths=(3, 3, 3, 2), *, rng=4) -> Check:
    net, x = rational_case(widths, rng=rng)
    R_loop, absorbed = lrp0_exact(net, x)
    gxi = net.gradient_x_input(x, output=OUTPUT)
    sym, prop = _symbolic_case(widths)
    values = sym.values(net, slopes_of(net, x))
    values.update({sp.Symbol(f"x0_{i}"): v for i, v in enumerate(to_sympy(x))})
    from dtd_ref.dtd import train_free_dtd
    from dtd_ref.rules import LRP0, Epsilon

    explained = train_free_dtd(net, x, LRP0(), output=OUTPUT)
    bias_total = sum(sum(ledger["bias"]) for ledger in explained.ledger)
    epsilon = Fraction(1, 10)
    with_epsilon = train_free_dtd(net, x, Epsilon(epsilon), output=OUTPUT)
    concrete = concrete_network(net, slopes_of(net, x))
    prop_eps = layerwise_relevance(concrete, x=sp.Matrix(to_sympy(x)), polynomial=False,
                                   denominator=lambda w_j, a, b_j, z_j: z_j + sp.Rational(epsilon))
    facts = {
        "loop LRP-0 = engine gradient x input": all(r == g for r, g in zip(R_loop, gxi)),
        "symbolic R^1 = engine gradient x input": [evaluate(r, values) for r in prop.R[0]] == to_sympy(gxi),
        "sum R^1 + absorbed = f(x)": sum(R_loop) + absorbed == net(x)[OUTPUT],
        "a bias absorbed relevance": absorbed != 0,
        "dtd_ref LRP0 = engine gradient x input": list(explained.input_relevance) == list(gxi),
        "dtd_ref LRP0 bias ledger = absorbed": bias_total == absorbed,
        "dtd_ref Epsilon(1/10) = symbolic LRP-eps": to_sympy(with_epsilon.input_relevance) == [
            sp.nsimplify(r) for r in prop_eps.R[0]],
        "dtd_ref Epsilon(1/10) != gradient x input": list(with_epsilon.input_relevance) != list(gxi),
    }
    return truth_check("engine", "engine", facts, f"exact {widths} net with ReLU output at rational x; "
                                                  f"dtd_ref.rules LRP0 and Epsilon via train_free_dtd")


CHECKS = (check_inductive_step, check_every_architecture, check_bias_ledger, check_negative_bias_not_conservative,
          check_negative_epsilon, check_engine)


def prove():
    """Run every check of claim 4; returns a :class:`proofs.ProofResult`."""
    return run_checks(CLAIM, TITLE, SCOPE, CHECKS)
