"""DTD rules as data: a search direction v(a, w_j) plus parameters; one generic root_point and redistribute.

A root-search rule [M17] looks for a root of the train-free relevance model phi_j(a) = c_j relu(w_j^T a + b_j) on
the line a - t v_j through the layer input a.  Every rule here writes its direction as a short sum of *separable
terms*

    v_j = sum_t  u_t  (.)  g_t(w_j)          (u_t a vector on the layer input, g_t an elementwise weight factor)

so that w_j^T v_j = sum_t (W (.) g_t(W)) u_t is one application of the layer's linear map with modified weights, and
the propagation R_i = sum_j w_ji v_ji / (w_j^T v_j) R_j is one transposed application per term.  This is what lets
the same code run on a dense layer, a convolution (modified kernels) or any affine layer (its dense matrix), on
float64 and on exact ``Fraction`` arrays.

| rule            | v_j                                   | terms (u, g)                                        |
|-----------------|---------------------------------------|-----------------------------------------------------|
| ``W2()``        | w_j                                   | (1, w)                                              |
| ``Z()``         | a                                     | (a, 1)                                              |
| ``ZPlus()``     | a (.) 1[w_j > 0]                      | (a, 1[w > 0])                                       |
| ``Gamma(g)``    | a (.) (1 + g 1[w_j > 0])              | (a, 1 + g 1[w > 0])                                 |
| ``ZBox(l, h)``  | a - l (.) 1[w_j > 0] - h (.) 1[w_j < 0] | (a, 1), (-l, 1[w > 0]), (-h, 1[w < 0])            |

LRP rules that are not root searches reuse the same machinery with a different denominator: ``LRP0`` (bias in the
denominator; it is the DTD step with the constant root 0, the "root-at-0 shortcut"), ``Epsilon(eps)`` (adds
eps sign(z_j), sign(0) = +1), ``AlphaBeta(alpha, beta)`` (two separately normalised parts, alpha - beta = 1) and
``Flat()`` (uniform over the inputs each neuron is connected to).

Degenerate cases (the explicit policy; every case is booked in the ledger returned by :func:`redistribute`):

* **inactive neurons** (``active[n, j]`` False: an activation follows the layer and outputs exactly 0 at the
  input): phi_j(a) = 0 already, so the root is a itself and nothing is propagated.  Relevance such a neuron still
  carries (possible with w^2, which does not scale with a_j) is booked as ``"inactive"``.
* **zero denominator** (w_j^T v_j = 0, or z_j + eps sign(z_j) = 0, ...; exactly zero, or |.| <= ``skip_below`` when
  the caller asks for the authors' threshold): there is no root on the line.  ``on_zero="skip"`` (default) books
  R_j as ``"skipped"`` and reports the root as missing (NaN, or None in exact mode); ``on_zero="raise"`` raises.
* **z+ on negative inputs**: the z+ line search is derived on R^d_+ [M17].  ``ZPlus()`` raises ``ValueError`` for
  negative layer inputs; ``ZPlus(negative_inputs="allow")`` runs the same formula anyway (its roots can leave
  R^d_+; use ``ZBox`` or ``W2`` on a real-valued input layer instead).
* **root at 0 with b_j != 0**: ``LRP0`` reports the constant root 0 for every neuron, which is a zero of phi_j only
  when b_j = 0; the share b_j / z_j R_j that the bias takes is booked as ``"bias"``.

With these, sum_i R_i + sum_j (bias + epsilon + skipped + inactive)_j = sum_j R_j holds exactly in exact mode.
Rule parameters given as floats (gamma, epsilon, alpha, the z^B box) enter exact computations as the Fraction of
their float64 value (lossless), e.g. epsilon = 1e-6 as the dyadic rational nearest to 10^-6.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from ._validation import as_array, is_exact
from .exact import to_fraction
from .propagation import (LEDGER_KEYS, Part, Term, _connected, _negative, _one, _positive, _weight, redistribute,
                          root_point)

__all__ = [
    "W2", "Z", "ZPlus", "Gamma", "ZBox", "LRP0", "Epsilon", "AlphaBeta", "Flat",
    "Term", "Part", "root_point", "redistribute", "LEDGER_KEYS", "ALPHA_BETA_TOLERANCE",
]

#: |alpha - beta - 1| allowed in float64 input (e.g. alpha=1.1, beta=0.1); beta is then taken as alpha - 1 exactly.
ALPHA_BETA_TOLERANCE = 1e-12
_ON_ZERO = ("skip", "raise")


def _param(value, exact: bool):
    """A rule parameter in the arithmetic of the computation (lossless Fraction in exact mode)."""
    if isinstance(value, np.ndarray):
        return to_fraction(value) if exact and not is_exact(value) else (value if exact else value.astype(float))
    if exact:
        return value if isinstance(value, Fraction) else Fraction(value)
    return float(value)


def _scalar(value, name: str, *, minimum=None):
    """Validate a finite real scalar parameter (float, int or Fraction)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, Fraction)):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    if not np.isfinite(float(value)):
        raise ValueError(f"{name}: expected a finite real number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value!r}")
    return value


def _check_on_zero(on_zero):
    if on_zero not in _ON_ZERO:
        raise ValueError(f"on_zero: expected one of {_ON_ZERO}, got {on_zero!r}")


class _Rule:
    """Common behaviour.  Subclasses are frozen dataclasses of parameters with ``parts`` (and ``direction``)."""

    root_search: ClassVar[bool] = False
    on_zero: str = "skip"

    def check_input(self, a: np.ndarray, name: str, *, nonnegative: bool = False) -> None:
        """Raise ValueError if the layer input ``a`` (n, d_in) is outside the rule's domain.

        ``nonnegative=True`` says the caller knows that a >= 0 (a ReLU output), so a check of that alone is skipped.
        """

    def direction(self, a: np.ndarray, exact: bool) -> tuple:
        raise ValueError(f"rule: {type(self).__name__} is not a root search; it has no search direction")

    def parts(self, a: np.ndarray, exact: bool) -> tuple:
        return (Part(self.direction(a, exact)),)

    def v(self, a, W) -> np.ndarray:
        """Search directions v_j for every neuron: a (n, d_in), W (d_out, d_in) -> (n, d_out, d_in)."""
        a = np.asarray(a)
        exact = is_exact(a) or is_exact(np.asarray(W))
        V = 0
        for term in self.direction(a, exact):
            g = term.weight(W)
            u = np.broadcast_to(term.u, a.shape)[:, None, :]
            V = V + (u if g is None else u * g[None])
        return np.broadcast_to(V, (a.shape[0], np.shape(W)[0], a.shape[1]))


class _RootSearch(_Rule):
    root_search: ClassVar[bool] = True


@dataclass(frozen=True)
class W2(_RootSearch):
    """w^2 rule: v_j = w_j, the orthogonal projection onto the hinge (nearest root, domain R^d).  [M17]"""

    on_zero: str = "skip"

    def __post_init__(self):
        _check_on_zero(self.on_zero)

    def direction(self, a, exact):
        return (Term(np.ones(a.shape[1], dtype=object) if exact else np.ones(a.shape[1]), _weight),)


@dataclass(frozen=True)
class Z(_RootSearch):
    """z rule (x-direction): v_j = a; bias left out of the denominator; root -b_j a / (w_j^T a).  [M17]"""

    on_zero: str = "skip"

    def __post_init__(self):
        _check_on_zero(self.on_zero)

    def direction(self, a, exact):
        return (Term(a, _one),)


@dataclass(frozen=True)
class ZPlus(_RootSearch):
    """z+ rule: v_j = a (.) 1[w_j > 0], domain R^d_+; root on [a (.) 1[w_j <= 0], a] when z_j >= 0, b_j <= 0.  [M17]

    Parameters
    ----------
    negative_inputs : {"raise", "allow"}
        Policy for layer inputs with negative entries (outside the rule's domain).
    on_zero : {"skip", "raise"}
        Policy for w_j^T v_j = 0 (no positive weight meets a positive input).
    """

    negative_inputs: str = "raise"
    on_zero: str = "skip"

    def __post_init__(self):
        _check_on_zero(self.on_zero)
        if self.negative_inputs not in ("raise", "allow"):
            raise ValueError(f"negative_inputs: expected 'raise' or 'allow', got {self.negative_inputs!r}")

    def check_input(self, a, name, *, nonnegative=False):
        if self.negative_inputs != "raise" or nonnegative or a.size == 0:
            return
        low = a.min()  # one reduction, no temporary; NaN (low != low) falls back to the entrywise test
        if (low < 0 or low != low) and np.any(a < 0):
            raise ValueError(f"{name}: the z+ rule is defined on non-negative inputs, found {int(np.sum(a < 0))} "
                             f"negative entries in shape {a.shape}; use ZBox or W2 on this layer, or "
                             f"ZPlus(negative_inputs='allow')")

    def direction(self, a, exact):
        return (Term(a, _positive),)


@dataclass(frozen=True)
class Gamma(_RootSearch):
    """gamma rule: v_j = a (.) (1 + gamma 1[w_j > 0]); gamma = 0 is the z rule, gamma -> inf approaches z+.  [M19]"""

    gamma: object = 0.25
    on_zero: str = "skip"

    def __post_init__(self):
        _scalar(self.gamma, "gamma", minimum=0)
        _check_on_zero(self.on_zero)

    def direction(self, a, exact):
        gamma = _param(self.gamma, exact)
        return (Term(a, lambda W: 1 + gamma * _positive(W)),)


@dataclass(frozen=True, eq=False)
class ZBox(_RootSearch):
    """z^B rule for inputs in the box low <= a <= high: v_j = a - low (.) 1[w_j > 0] - high (.) 1[w_j < 0].  [M17]

    Parameters
    ----------
    low, high : scalar or array (d_in,)
        The box; ``low <= high`` entrywise.  Inputs outside the box raise ValueError.
    """

    low: object = 0.0
    high: object = 1.0
    on_zero: str = "skip"

    def __post_init__(self):
        low = as_array(self.low, "low", ndim=(0, 1))
        high = as_array(self.high, "high", ndim=(0, 1))
        if low.ndim == high.ndim == 1 and low.shape != high.shape:
            raise ValueError(f"low, high: shapes {low.shape} and {high.shape} differ")
        if np.any(low > high):
            raise ValueError(f"low, high: need low <= high entrywise, got low={self.low!r}, high={self.high!r}")
        _check_on_zero(self.on_zero)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _bounds(self, a, exact):
        d = a.shape[1]
        for name, value in (("low", self.low), ("high", self.high)):
            if value.ndim == 1 and value.shape[0] != d:
                raise ValueError(f"{name}: expected a scalar or shape ({d},) to match the layer input, got "
                                 f"{value.shape}")
        return (np.broadcast_to(_param(self.low, exact), (d,)), np.broadcast_to(_param(self.high, exact), (d,)))

    def check_input(self, a, name, *, nonnegative=False):
        low, high = self._bounds(a, is_exact(a))
        outside = (a < low) | (a > high)
        if np.any(outside):
            raise ValueError(f"{name}: {int(np.sum(outside))} entries of shape {a.shape} lie outside the z^B box "
                             f"[low, high]")

    def direction(self, a, exact):
        low, high = self._bounds(a, exact)
        return (Term(a, _one), Term(-low, _positive), Term(-high, _negative))


@dataclass(frozen=True)
class LRP0(_Rule):
    """LRP-0 with the bias in the denominator: R_i = sum_j a_i w_ji / z_j R_j.  [M19], [A18]

    It is the DTD step with the constant root 0 (the root-at-0 shortcut): the bias takes b_j / z_j R_j (ledger
    ``"bias"``), so it is conservative only with zero biases.  Neurons with z_j = 0 are skipped (``on_zero``).
    """

    constant_root: ClassVar[bool] = True
    on_zero: str = "skip"

    def __post_init__(self):
        _check_on_zero(self.on_zero)

    def parts(self, a, exact):
        return (Part((Term(a, _one),), bias=True),)


@dataclass(frozen=True)
class Epsilon(_Rule):
    """LRP-epsilon: R_i = sum_j a_i w_ji / (z_j + epsilon sign(z_j)) R_j, with sign(0) = +1.  [M19]

    The bias (ledger ``"bias"``) and epsilon (ledger ``"epsilon"``) absorb b_j s_j and epsilon sign(z_j) s_j,
    s_j = R_j / (z_j + epsilon sign(z_j)).
    """

    epsilon: object = 1e-6
    on_zero: str = "skip"

    def __post_init__(self):
        _scalar(self.epsilon, "epsilon", minimum=0)
        _check_on_zero(self.on_zero)

    def parts(self, a, exact):
        return (Part((Term(a, _one),), bias=True, epsilon=_param(self.epsilon, exact)),)


@dataclass(frozen=True)
class AlphaBeta(_Rule):
    """LRP-alpha-beta, alpha - beta = 1 (enforced), bias ignored.  [M19]

    R_i = sum_j (alpha (a_i w_ji)^+ / sum_i' (a_i' w_ji')^+ - beta (a_i w_ji)^- / sum_i' (a_i' w_ji')^-) R_j,
    with (a w)^+ = a^+ w^+ + a^- w^- and (a w)^- = a^+ w^- + a^- w^+.  A part whose sum is 0 is skipped and its
    share (alpha R_j or -beta R_j) booked as ``"skipped"``.  alpha=1, beta=0 equals z+ for a >= 0.
    """

    alpha: object = 1
    beta: object = 0
    on_zero: str = "skip"

    def __post_init__(self):
        _scalar(self.alpha, "alpha", minimum=1)
        _scalar(self.beta, "beta", minimum=0)
        _check_on_zero(self.on_zero)
        gap = Fraction(self.alpha) - Fraction(self.beta) - 1
        if abs(float(gap)) > ALPHA_BETA_TOLERANCE * max(1.0, abs(float(self.alpha))):
            raise ValueError(f"alpha, beta: need alpha - beta = 1, got alpha={self.alpha!r}, beta={self.beta!r}")

    def parts(self, a, exact):
        alpha = _param(self.alpha, exact)
        beta = alpha - 1  # exactly alpha - 1, so the two parts conserve exactly
        zero = 0 if exact else 0.0
        a_pos, a_neg = np.where(a > 0, a, zero), np.where(a < 0, a, zero)
        positive = (Term(a_pos, _positive), Term(a_neg, _negative))
        negative = (Term(a_pos, _negative), Term(a_neg, _positive))
        return (Part(positive, coefficient=alpha), Part(negative, coefficient=-beta))


@dataclass(frozen=True)
class Flat(_Rule):
    """Flat rule: R_i = sum_j 1[i connected to j] / (number of inputs of j) R_j.  [M19]"""

    def parts(self, a, exact):
        ones = np.ones(a.shape[1], dtype=object) if exact else np.ones(a.shape[1])
        return (Part((Term(ones, _connected),), propagation=True),)
