"""The generic half of the rules: one root_point and one redistribute for every rule of :mod:`dtd_ref.rules`.

A rule hands over its search direction as separable terms u (.) g(w) (see :mod:`dtd_ref.rules`); everything here
works on any affine layer through its linear map with elementwise-modified weights (:func:`modified_maps`), on
float64 and on exact ``Fraction`` arrays alike.  The degenerate-case policy and the ledger are described in
:mod:`dtd_ref.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np

from ._validation import as_array, is_exact
from .exact import to_fraction
from .layers import Dense

__all__ = ["Term", "Part", "root_point", "redistribute", "modified_maps", "LEDGER_KEYS"]

#: Names of the ledger entries returned by :func:`redistribute`, each of shape (n, d_out).
LEDGER_KEYS = ("bias", "epsilon", "skipped", "inactive")


# ---------------------------------------------------------------------------------------------------- weight factors
def _one(W):
    """g(w) = 1 (the unmodified weight)."""
    return None


def _weight(W):
    """g(w) = w (the w^2 rule)."""
    return W


def _positive(W):
    """g(w) = 1[w > 0]."""
    return np.where(W > 0, 1, 0)


def _negative(W):
    """g(w) = 1[w < 0]."""
    return np.where(W < 0, 1, 0)


def _connected(W):
    """Marker for the flat rule: 1 on every weight the neuron has (see :func:`_modified_maps`)."""
    return np.ones_like(W)


# ---------------------------------------------------------------------------------------------------- terms
@dataclass(frozen=True)
class Term:
    """One separable term u (.) g(w) of a search direction, or u (.) h(w) of a propagation weight.

    u : (n, d_in) array (or broadcastable to it); weight : elementwise function of the weight array, or ``_one`` for
    the weight itself.
    """

    u: object
    weight: Callable = _one


@dataclass(frozen=True)
class Part:
    """One normalised share of a rule: R_i += coefficient * sum_j (sum_t u_ti h_t(w_ji)) / den_j R_j.

    den_j = sum_t h_t(w_j)^T u_t (+ b_j if ``bias``) (+ epsilon sign(z_j) if ``epsilon`` is not None), with
    h_t(w) = w g_t(w) for root-search terms.  ``propagation`` marks terms whose ``weight`` is already h (not g).
    """

    terms: tuple
    coefficient: object = 1
    bias: bool = False
    epsilon: object = None
    propagation: bool = False


# ---------------------------------------------------------------------------------------------------- linear maps
def modified_maps(layer, h):
    """(linear, linear_T) of ``layer`` with every weight w replaced by h(w); h None means unmodified.

    Uses ``layer.map_weights(h)`` if the layer has it, the kernels of a convolution (``apply_kernels``), and
    otherwise the dense matrix (``weight_matrix()``), so any affine layer works.
    """
    if h is None:
        return layer.linear, layer.linear_T
    if hasattr(layer, "map_weights"):
        modified = layer.map_weights(h)
        return modified.linear, modified.linear_T
    if hasattr(layer, "apply_kernels") and hasattr(layer, "W"):
        K = h(layer.W)
        return (lambda t: layer.apply_kernels(t, K)), (lambda g: layer.apply_kernels_T(g, K))
    if isinstance(layer, Dense):
        M = layer.cached_weights(h) if h in _CACHEABLE else h(layer.W)
    elif h is _connected:  # a dense matrix of a structured layer: connected means a nonzero entry
        W = layer.weight_matrix()
        M = np.where(W != 0, 1, 0)
    else:
        M = h(layer.weight_matrix())
    return (lambda t: t @ M.T), (lambda g: g @ M)


def _positive_part(W):
    """w g(w) for g = 1[w > 0]: w^+."""
    return np.where(W > 0, W, 0) if W.dtype == object else np.maximum(W, 0.0)


def _negative_part(W):
    """w g(w) for g = 1[w < 0]: w^-."""
    return np.where(W < 0, W, 0) if W.dtype == object else np.minimum(W, 0.0)


def _square(W):
    """w g(w) for g(w) = w: w^2."""
    return W * W


_PRODUCTS = {_positive: _positive_part, _negative: _negative_part, _weight: _square}
#: Weight maps that depend on W alone, so a Dense layer may keep h(W) between calls (``Dense.cached_weights``).
_CACHEABLE = frozenset(_PRODUCTS.values()) | {_connected}


def _h(term: Term, propagation: bool):
    """Propagation weight h(w) = w g(w) of a direction term (None: the weight itself)."""
    if propagation:
        return term.weight
    if term.weight is _one:
        return None
    if term.weight in _PRODUCTS:
        return _PRODUCTS[term.weight]
    g = term.weight
    return lambda W: W * g(W)


def _keep(mask, values, out=None):
    """``np.where(mask, values, 0.0)`` for float64 ``values``, bit for bit, but without branches.

    A random mask (half the neurons of a ReLU layer are inactive) makes ``np.where`` and masked assignment
    mispredict a branch per entry, about 4x the cost of a plain arithmetic pass.  Here the bit pattern of every
    value, read as an unsigned integer, is multiplied by its mask entry (1 or 0): the pattern itself or 0, which is
    the pattern of +0.0 (a float product would give -0.0 or NaN instead).  ``out`` may be ``values`` itself.
    """
    result = np.multiply(values.view(np.uint64), mask, out=None if out is None else out.view(np.uint64))
    return result.view(np.float64)


def _divide(num, den, ok, *, in_place=False):
    """num / den where ``ok``, else 0; exact (Fraction) when either side is an object array.

    ``in_place=True`` (float64 only) writes the quotient into ``den``, which the caller no longer needs.
    """
    if is_exact(num) or is_exact(den):
        num, den = np.broadcast_arrays(num, den)
        out = np.zeros(num.shape, dtype=object)
        idx = np.nonzero(ok)
        out[idx] = [Fraction(n) / d for n, d in zip(num[idx], den[idx])]
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den, out=den if in_place else None)
    return _keep(ok, out, out=out)  # also clears the inf / nan of zero denominators


def _nonzero(den, skip_below):
    """Denominators usable for division: != 0 exactly, or |den| > skip_below when a threshold is given."""
    if skip_below:
        return np.asarray(abs(den) > skip_below, dtype=bool)
    return np.asarray(den != 0, dtype=bool)


def _denominator(part, maps, a, z, b, exact):
    """(den, bias share, epsilon share) of one part, each (n, d_out).

    When the part's denominator is the pre-activation itself (w_j^T a + b_j, as for LRP-0 and epsilon), the z the
    caller already has is used instead of a second product with W.
    """
    bias = b if part.bias else None
    own = part.bias and len(part.terms) == 1 and part.terms[0].weight is _one and part.terms[0].u is a
    if own:
        den = z
    else:
        den = None
        for term, (linear, _) in zip(part.terms, maps):
            D = linear(np.broadcast_to(term.u, a.shape))
            den = D if den is None else den + D
        if bias is not None:
            den = den + bias
    eps = None
    if part.epsilon is not None:
        eps = _signed(part.epsilon, z, exact)
        den = den + eps
    return den, bias, eps


def _signed(epsilon, z, exact):
    """epsilon sign(z) with sign(0) = +1, i.e. ``np.where(z >= 0, epsilon, -epsilon)``, shape of z.

    For float64 and epsilon >= +0.0, bit for bit the same without a branch per entry: the sign bit of every entry
    with not z >= 0 is set on the bit pattern of epsilon.
    """
    if exact or np.signbit(epsilon):
        return np.where(z >= 0, epsilon, -epsilon)
    negative = np.greater_equal(z, 0)
    np.logical_not(negative, out=negative)
    bits = np.multiply(negative, np.uint64(1 << 63))
    np.bitwise_or(bits, np.float64(epsilon).view(np.uint64), out=bits)
    return bits.view(np.float64)


# ---------------------------------------------------------------------------------------------------- generic API
def root_point(rule, layer, a, numerator, *, active=None, skip_below=0):
    """Root of every neuron on the rule's line: x_root_j = a - t_j v_j with t_j = numerator_j / (w_j^T v_j).

    Parameters
    ----------
    rule : a root-search rule (W2, Z, ZPlus, Gamma, ZBox) or LRP0 (constant root 0)
    layer : affine layer
    a : (n, d_in)
        Layer inputs.
    numerator : (n, d_out)
        z_j = w_j^T a + b_j for the exact zero of the relevance model phi_j (the "exact" convention, THEORY.md §3),
        or the upper relevance R_j (the "authors" convention, THEORY.md §5).
    active : bool (n, d_out), optional
        False for inactive neurons; their root is a (phi_j(a) = 0 already).  Default: all active.
    skip_below : float
        Neurons with |w_j^T v_j| <= skip_below have no root (0: only an exact zero; the authors used 1e-5).

    Returns
    -------
    x_root : (n, d_out, d_in)
        NaN (None in exact mode) where the root is missing.
    missing : bool (n, d_out)

    Notes
    -----
    With numerator z_j, w_j^T x_root_j + b_j = z_j - t_j w_j^T v_j = 0 exactly in exact mode [M17].
    """
    a, numerator, active, exact = _check_arrays(layer, a, numerator, active, "numerator")
    n, d_out, d_in = a.shape[0], layer.out_features, a.shape[1]
    if getattr(rule, "constant_root", False):
        zero = np.zeros((n, d_out, d_in), dtype=object if exact else float)
        return zero, np.zeros((n, d_out), dtype=bool)
    if not getattr(rule, "root_search", False):
        raise ValueError(f"rule: {type(rule).__name__} is not a root search; it has no root points")
    rule.check_input(a, "a")
    terms = rule.direction(a, exact)
    maps = [modified_maps(layer, _h(term, False)) for term in terms]
    D = 0
    for term, (linear, _) in zip(terms, maps):
        D = D + linear(np.broadcast_to(term.u, a.shape))
    ok = _nonzero(D, skip_below)
    missing = active & ~ok
    if rule.on_zero == "raise" and missing.any():
        raise ValueError(f"rule: w_j^T v_j = 0 for {int(missing.sum())} active neurons (no root on the line) "
                         f"and on_zero='raise'")
    t = _divide(numerator, D, active & ok)
    V = rule.v(a, layer.weight_matrix())
    field = getattr(layer, "receptive_field", None)
    if field is not None:  # a convolution / pooling neuron searches only within its receptive field
        V = np.where(field()[None], V, 0)
    roots = a[:, None, :] - t[:, :, None] * V
    if missing.any():
        roots = roots.astype(object) if exact else roots
        roots[missing] = None if exact else np.nan
    return roots, missing


def redistribute(rule, layer, a, R, *, z=None, active=None, skip_below=0):
    """Propagate the relevance R of a layer's neurons to its inputs with ``rule``.

    Parameters
    ----------
    rule : any rule of this module
    layer : affine layer (``Dense``; any layer with ``linear`` / ``linear_T``)
    a : (n, d_in)
        Layer inputs.
    R : (n, d_out)
        Relevance of the layer's neurons (after their activation).
    z : (n, d_out), optional
        Pre-activations ``layer.forward(a)`` if already known (the epsilon rule needs their sign).
    active : bool (n, d_out), optional
        False for inactive neurons (activation output exactly 0): they pass nothing on.  Default: all active.
    skip_below : float
        Denominators with |den| <= skip_below are treated as zero (0: exact zeros only).

    Returns
    -------
    R_lower : (n, d_in)
        R_i = sum_parts coefficient * sum_j (sum_t u_ti h_t(w_ji)) / den_j R_j.
    ledger : dict of (n, d_out) arrays
        ``"bias"``, ``"epsilon"``, ``"skipped"``, ``"inactive"``: relevance of each neuron not passed on, so that
        sum_i R_lower_i + sum_j sum_k ledger[k]_j = sum_j R_j (exactly in exact mode).  An entry the rule booked
        nothing into is a read-only array of zeros (a broadcast view; copy it before writing).

    Notes
    -----
    For root-search rules h_t(w) = w g_t(w), and the propagation R_i = sum_j w_ji v_ji / (w_j^T v_j) R_j is the
    first-order Taylor term c_j w_j (.) (a - x_root_j) of phi_j = c_j relu(z_j), c_j = R_j / z_j, at its root
    [M17]; it is conservative layer by layer.
    """
    a, R, active, exact = _check_arrays(layer, a, R, active, "R")
    rule.check_input(a, "a")
    if z is None:
        z = layer.forward(a)
    return _redistribute(rule, layer, a, R, z, active, skip_below, exact)


def _redistribute(rule, layer, a, R, z, active, skip_below, exact):
    """:func:`redistribute` without validation (inputs already checked).

    Accumulates in place where it can: on float64 batches the elementwise temporaries, not the products with W,
    would otherwise dominate the time.
    """
    ledger = dict.fromkeys(LEDGER_KEYS)
    lower = None
    b = layer.bias_vector()
    n_active = np.count_nonzero(active)
    for part in rule.parts(a, exact):
        maps = [modified_maps(layer, _h(term, part.propagation)) for term in part.terms]
        den, bias, eps = _denominator(part, maps, a, z, b, exact)
        ok = _nonzero(den, skip_below)
        ok &= active
        skipped = None if np.count_nonzero(ok) == n_active else active & ~ok  # ok is a subset of active
        if skipped is not None and getattr(rule, "on_zero", "skip") == "raise":
            raise ValueError(f"rule: zero denominator for {int(np.sum(skipped))} active neurons and "
                             f"on_zero='raise'")
        s = _divide(R, den, ok, in_place=not exact and den is not z and _owned(den))
        c = part.coefficient
        for term, (_, linear_T) in zip(part.terms, maps):
            share = linear_T(s)
            if exact or not _owned(share):
                share = share * term.u  # never write into memory a layer might still hold
            else:
                np.multiply(share, term.u, out=share)
            if c != 1:
                share = c * share
            lower = share if lower is None else _add(lower, share, exact)
        cs = s if c == 1 else c * s
        if bias is not None:
            ledger["bias"] = _add(ledger["bias"], cs * bias, exact)
        if eps is not None:
            ledger["epsilon"] = _add(ledger["epsilon"], cs * eps, exact)
        if skipped is not None:
            ledger["skipped"] = _add(ledger["skipped"], c * np.where(skipped, R, 0), exact)
    ledger["inactive"] = np.where(active, 0, R) if exact else _keep(~active, R)
    zero = np.broadcast_to(np.zeros((), dtype=object if exact else float), R.shape)
    for key, value in ledger.items():
        if value is None:  # nothing booked: a read-only zero array that takes no memory
            ledger[key] = zero
    return lower, ledger


def _owned(array) -> bool:
    """True for a fresh float64 result that no one else references (safe to overwrite)."""
    return array.base is None and array.flags.writeable


def _add(total, value, exact):
    """total + value, in place for float64 arrays the function owns (total None: value)."""
    if total is None:
        return value
    if exact:
        return total + value
    total += value
    return total


def _check_arrays(layer, a, upper, active, upper_name):
    """Validate a (n, d_in), an upper array (n, d_out) and an optional bool mask; agree on exactness."""
    a = as_array(a, "a", ndim=2)
    upper = as_array(upper, upper_name, ndim=2)
    n, d_in, d_out = a.shape[0], layer.in_features, layer.out_features
    if a.shape[1] != d_in:
        raise ValueError(f"a: expected shape (n, {d_in}) for a layer with {d_in} inputs, got {a.shape}")
    if upper.shape != (n, d_out):
        raise ValueError(f"{upper_name}: expected shape ({n}, {d_out}) to match a {a.shape} and the layer's "
                         f"{d_out} outputs, got {upper.shape}")
    exact = bool(getattr(layer, "exact", False))
    for name, array in (("a", a), (upper_name, upper)):
        if is_exact(array) and not exact:
            raise ValueError(f"{name}: exact (Fraction) array given to a float64 layer; use to_exact(net) first")
    if exact:
        a = a if is_exact(a) else to_fraction(a)
        upper = upper if is_exact(upper) else to_fraction(upper)
    if active is None:
        active = np.ones((n, d_out), dtype=bool)
    else:
        active = np.asarray(active)
        if active.dtype != bool or active.shape != (n, d_out):
            raise ValueError(f"active: expected bool ({n}, {d_out}), got {active.dtype} {active.shape}")
    return a, upper, active, exact
