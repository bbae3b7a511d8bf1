"""Root-search rules as the root analysis needs them: direction v_j(a), input domain, parsing of rule names.

The study needs the rules in a form that can reproduce the authors' code exactly (same direction formulas, the
root-at-0 shortcut as a rule, names as used on the command line); :func:`as_root_rule` also accepts the rule
objects of :mod:`dtd_ref.rules` (``ZPlus()``, ``Gamma(g)``, ``W2()``, ``Z()``, ``ZBox(l, h)``, ``LRP0()`` for the
root at 0), so either can be passed to :func:`dtd_ref.roots.analyze_roots`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._validation import as_array
from .exact import to_float, to_fraction

__all__ = ["RootRule", "as_root_rule", "RULE_NAMES"]

RULE_NAMES = "z+, gamma=<value>, w2, z, zB (with an input box), 0 (root at 0)"


@dataclass(frozen=True)
class RootRule:
    """A root-search rule as the study needs it: the direction v_j(a) and the input domain.

    Parameters
    ----------
    name : {"z+", "gamma", "w2", "z", "zB", "0"}
    gamma : float, for ``"gamma"`` (>= 0)
    low, high : (d,) arrays, for ``"zB"`` (the input box; low <= high)

    Notes
    -----
    Directions (THEORY.md §3, w+ = 1[w > 0]): w2: v = w_j; z: v = a; z+: v = a * 1[w_j > 0];
    gamma: v = a * (1 + gamma 1[w_j > 0]); zB: v = a - low * 1[w_j > 0] - high * 1[w_j < 0].
    """

    name: str
    gamma: float | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @property
    def label(self) -> str:
        if self.name == "gamma":
            return f"gamma={self.gamma:g}"
        return {"0": "root-at-0"}.get(self.name, self.name)

    def directions(self, a: np.ndarray, W: np.ndarray) -> np.ndarray:
        """v of shape (n, J, d) for inputs a (n, d) and neuron weights W (J, d)."""
        a3, W3 = a[:, None, :], W[None, :, :]
        if self.name == "w2":
            return np.broadcast_to(W3, (a.shape[0],) + W.shape)
        if self.name == "z":
            return np.broadcast_to(a3, (a.shape[0],) + W.shape)
        positive = W3 > 0
        if self.name == "z+":
            return np.where(positive, a3, 0 * a3)
        if self.name == "gamma":
            gamma = Fraction(self.gamma) if a.dtype == object else self.gamma
            return a3 * np.where(positive, 1 + gamma, 1)
        if self.name == "zB":
            low, high = (to_fraction(v) if a.dtype == object else v for v in (self.low, self.high))
            return a3 - np.where(positive, low, 0) - np.where(W3 < 0, high, 0)
        raise ValueError(f"rule: {self.name!r} has no search direction")

    def domain_ok(self, roots: np.ndarray, tol) -> tuple[np.ndarray, np.ndarray]:
        """(in_domain, uncertain), bool (n, J): the root in the rule's domain; float verdict within ``tol``."""
        shape = roots.shape[:2]
        if self.name in ("z+", "gamma"):
            lo, hi = 0, None
        elif self.name == "zB":
            lo, hi = self.low, self.high
        else:
            return np.ones(shape, bool), np.zeros(shape, bool)
        if roots.dtype == object:
            lo = to_fraction(np.asarray(lo)) if lo is not None else None
            hi = to_fraction(np.asarray(hi)) if hi is not None else None
        ok = np.asarray(roots >= lo, dtype=bool).all(axis=2)
        uncertain = np.zeros(shape, bool)
        if hi is not None:
            ok &= np.asarray(roots <= hi, dtype=bool).all(axis=2)
        if tol is not None:
            uncertain |= np.any((np.abs(roots - lo) <= tol) & (roots != lo), axis=2)
            if hi is not None:
                uncertain |= np.any((np.abs(roots - hi) <= tol) & (roots != hi), axis=2)
        return ok, uncertain


_ALIASES = {"z+": "z+", "zplus": "z+", "z_plus": "z+", "z-plus": "z+", "w2": "w2", "w^2": "w2", "wsquare": "w2",
            "z": "z", "x": "z", "0": "0", "zero": "0", "root0": "0", "root-at-0": "0", "gamma": "gamma",
            "zb": "zB", "zbox": "zB", "z^b": "zB"}


def as_root_rule(rule, *, low=None, high=None) -> RootRule:
    """Normalise a rule given as a name (``"z+"``, ``"gamma=1"``, ``"w2"``, ``"z"``, ``"0"``), a RootRule, or a rule
    object of :mod:`dtd_ref.rules` (ZPlus, Gamma, W2, Z, ZBox); ``low`` / ``high`` give the box of ``"zB"``."""
    if isinstance(rule, RootRule):
        return _checked(rule)
    if isinstance(rule, str):
        name, _, value = rule.strip().lower().partition("=")
        key = _ALIASES.get(name.strip())
        if key is None:
            raise ValueError(f"rule: unknown rule {rule!r}; expected one of {RULE_NAMES}")
        if key == "gamma":
            if not value:
                raise ValueError(f"rule: give the gamma value, e.g. 'gamma=1', got {rule!r}")
            try:
                gamma = float(value)
            except ValueError:
                raise ValueError(f"rule: gamma must be a number, got {rule!r}") from None
            return _checked(RootRule("gamma", gamma=gamma))
        if value:
            raise ValueError(f"rule: {name!r} takes no parameter, got {rule!r}")
        return _checked(RootRule(key, low=low, high=high))
    kind = type(rule).__name__.lower()
    if kind == "lrp0":  # LRP-0 is the DTD step with the constant root 0
        return RootRule("0")
    if kind in ("zplus", "w2", "z", "gamma", "zbox"):
        key = _ALIASES["zb" if kind == "zbox" else kind]
        return _checked(RootRule(key, gamma=getattr(rule, "gamma", None), low=getattr(rule, "low", None),
                                 high=getattr(rule, "high", None)))
    raise ValueError(f"rule: cannot analyse roots of {rule!r}; expected z+, gamma, w2, z, zB or 0")


def _checked(rule: RootRule) -> RootRule:
    if rule.name not in ("z+", "gamma", "w2", "z", "zB", "0"):
        raise ValueError(f"rule: unknown rule name {rule.name!r}")
    if rule.name == "gamma":
        if isinstance(rule.gamma, bool) or not isinstance(rule.gamma, numbers.Real) or not rule.gamma >= 0 \
                or not np.isfinite(float(rule.gamma)):
            raise ValueError(f"rule: gamma must be a finite number >= 0, got {rule.gamma!r}")
    if rule.name == "zB":
        if rule.low is None or rule.high is None:
            raise ValueError("rule: zB needs the input box, low and high")
        low, high = as_array(rule.low, "low", ndim=(0, 1)), as_array(rule.high, "high", ndim=(0, 1))
        if (low.ndim == high.ndim == 1 and low.shape != high.shape) or np.any(low > high):
            raise ValueError(f"low, high: expected matching shapes with low <= high, got {low.shape} and "
                             f"{high.shape}")
        rule = RootRule("zB", low=to_float(low), high=to_float(high))
    return rule
