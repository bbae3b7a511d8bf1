"""The full recursive DTD of [SL22]: every phi_j evaluated exactly through all upper layers.

For affine layer k with input a and neuron j, phi_j(a) = R^{k+1}_j(f_k(a)) (f_k: the affine layer and the activation
after it), and

    R^k(a) = sum_j grad phi_j(x_root_j) (.) (a - x_root_j),          R^L(y) = y_xi (the explained output),

with the root x_root_j chosen by a pluggable root finder (:mod:`dtd_ref.root_finders`): constant points given by the
user, the exact zero of phi_j along a rule's line, or a root restricted by LP to the linear region on which phi_j is
affine.

Evaluation.  ``R^k`` at a batch of points is computed together with its Jacobian, which is diagonal,
dR^k_i / da_i = sum_j grad phi_j(x_root_j)_i, as long as the roots of layer k do not move with a (locally constant
roots).  The gradient of phi_j at its root is the one-sided gradient on the piece of the segment [x_root_j, a] next to
the root (a root on neuron j's own hinge gets the gradient of a's side, not ReLU'(0) = 0), obtained by evaluating
R^{k+1} (and its Jacobian) at f_k(x_root_j) with every activation pattern broken towards f_k(a).  A tie that direction
leaves open (the root on a hinge or max-pool tie of an upper layer, the segment running along it) is broken by the
direction a itself moves in, then the next one: patterns are lexicographic in a stack of directions
(``_lines.pattern_lex``), because R^{k+1} is differentiated on the side its point moves to.  Root finders whose
roots depend on the point (line searches, nearest roots) are allowed on layer 0 only: above it the Jacobian of
R^{k} would need the derivative of the roots, which a piecewise-linear engine does not have.

Cost.  Every neuron's root needs its own evaluation of all upper layers, so explaining n inputs evaluates about
n * prod_k (1 + d_{k+1}) points (``estimate_points``; more with line searches): exponential in depth.  ``full_dtd``
refuses inputs whose estimate exceeds ``FULL_DTD_MAX_POINTS`` and stops with ValueError if the evaluations exceed it
while running.

Ledger.  For every neuron, phi_j(a) = taylor_j + residual_j + remainder_j (or missing_j when no root was found), with
taylor_j = grad phi_j(x_root_j)^T (a - x_root_j) the relevance passed down, residual_j = phi_j(x_root_j) (0 for an
exact root) and remainder_j the first-order Taylor error (0 when phi_j is affine on [x_root_j, a]).  So
sum_i R^k_i + sum_j (residual + remainder + missing)_j = sum_j R^{k+1}_j, exactly in exact mode.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from ._lines import pattern_lex
from ._validation import as_batch, check_index
from .dtd import Explanation, _strip, activations_after, output_relevance
from .root_finders import ConstantRoots, LineRoot, RegionRoot

__all__ = ["full_dtd", "estimate_points", "FULL_DTD_MAX_POINTS", "ConstantRoots", "LineRoot", "RegionRoot",
           "FULL_LEDGER_KEYS"]

#: Upper bound on the number of points at which some phi is evaluated during one ``full_dtd`` call.
FULL_DTD_MAX_POINTS = 200_000
#: Ledger entries of the full DTD, each (n, d_{k+1}) per affine layer k.
FULL_LEDGER_KEYS = ("residual", "remainder", "missing")


def estimate_points(net, n: int = 1) -> int:
    """Upper bound on the phi evaluations of ``full_dtd`` for n inputs without line searches.

    Evaluating phi at one point of layer k costs c_k points: c_{L-1} = 1, c_k = 1 + (1 + d_{k+2}) c_{k+1} (the point
    itself, then R^{k+1} there and at the d_{k+2} roots of layer k + 1); R^0 at one input costs (1 + d_1) c_0.
    That is about prod_k (1 + d_{k+1}), exponential in depth.
    """
    widths = net.widths
    L = len(widths) - 1
    cost = 1
    for k in reversed(range(L - 1)):
        cost = 1 + (1 + widths[k + 2]) * cost
    return int(n) * (1 + widths[1]) * cost


class _Budget:
    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def spend(self, m: int) -> None:
        self.used += m
        if self.used > self.limit:
            raise ValueError(f"x: the full DTD needed more than FULL_DTD_MAX_POINTS = {self.limit} evaluations of "
                             f"phi (its cost grows like the product of the layer widths); use fewer inputs, a "
                             f"smaller network, or train_free_dtd")


class _Engine:
    """Batched recursive evaluation of R^k and phi for one network, explained output and set of root finders."""

    def __init__(self, net, finders, output: int, budget: _Budget):
        self.net, self.finders, self.output, self.budget = net, finders, output, budget
        self.layers = net.affine_layers
        self.groups = activations_after(net)
        self.L = len(self.layers)
        self.exact = net.exact
        self._subnets = {}

    def subnet(self, k: int):
        """The sub-network from affine layer k to the output (cached)."""
        if k not in self._subnets:
            self._subnets[k] = self.net.sub(k)
        return self._subnets[k]

    def zeros(self, shape):
        return np.zeros(shape, dtype=object) if self.exact else np.zeros(shape)

    def phi(self, k: int, Q: np.ndarray, dQ: np.ndarray, record=None):
        """phi_j(Q) for every neuron j of layer k and its one-sided gradient along the direction stack dQ.

        Q : (M, d_k) points; dQ : (M, m, d_k) directions in order of priority: patterns are those of
        Q + e dQ_1 + e^2 dQ_2 + ... for small e > 0 (``_lines.pattern_lex``), and the stack is carried up the layers
        through the linearisation.  Returns values (M, d_{k+1}) and gradients (M, d_{k+1}, d_k).
        """
        self.budget.spend(Q.shape[0])
        layer = self.layers[k]
        v, t = layer.forward(Q), layer.linear(dQ)
        D = np.ones(v.shape, dtype=object) if self.exact else np.ones(v.shape)
        rows = None  # behind a max-pool: the neuron of layer k (the window's winner) under every unit
        for activation in self.groups[k]:
            s = pattern_lex(activation, v, t)
            if not hasattr(activation, "slopes"):  # max-pool closing the group: winner takes all
                win = activation.winners(s)
                v, D = (np.take_along_axis(array, win, axis=1) for array in (v, D))
                t = np.take_along_axis(t, win[:, None, :], axis=2)
                rows = win if rows is None else np.take_along_axis(rows, win, axis=1)
                continue
            v, t = activation.apply_pattern(s, v), activation.apply_pattern(s, t)
            slopes = activation.slopes(s)
            D = D * (np.asarray(slopes, dtype=object) if self.exact else slopes)
        if k == self.L - 1:
            R_up, J_up = self.zeros(v.shape), self.zeros(v.shape)
            R_up[:, self.output] = v[:, self.output]
            J_up[:, self.output] = 1
        else:
            R_up, J_up = self.relevance(k + 1, v, t, record)
        c = J_up * D
        W = layer.weight_matrix()
        return R_up, c[:, :, None] * (W[None, :, :] if rows is None else W[rows])

    def units(self, k: int) -> int:
        """Number of units phi_j of layer k: its neurons, or the windows of a max-pool closing its group."""
        pool = _closing_pool(self.groups[k])
        return self.layers[k].out_features if pool is None else pool.out_features

    def relevance(self, k: int, P: np.ndarray, dP: np.ndarray, record=None):
        """R^k(P) (M, d_k) and the diagonal of its Jacobian (M, d_k); ``record`` collects the main chain.

        dP : (M, m, d_k), the directions P moves in (see ``phi``).  The gradient at a root x_root_j is taken on the
        piece of the segment [x_root_j, P + e dP_1 + ...] next to the root: the direction stack there is
        (P - x_root_j, dP_1, ..., dP_m), so a tie of P - x_root_j (the root on a hinge of an upper layer, with the
        segment along it) goes to the side P is moving to, the side on which R^k is differentiated.
        """
        phiP, GP = self.phi(k, P, dP, record)
        roots, missing = self.finders[k].find(self, k, P, dP, phiP, GP)
        ok = ~missing
        filled = np.where(missing[..., None], P[:, None, :], roots)
        diff = P[:, None, :] - filled
        need = ~np.all(np.asarray(diff == 0, dtype=bool), axis=2)
        g, phi_root = GP.copy(), phiP.copy()
        if need.any():
            mi, ji = np.nonzero(need)
            stack = np.concatenate([diff[mi, ji][:, None, :], dP[mi]], axis=1)
            phiQ, GQ = self.phi(k, filled[mi, ji], stack)
            rows = np.arange(mi.shape[0])
            g[mi, ji] = GQ[rows, ji]
            phi_root[mi, ji] = phiQ[rows, ji]
        g = np.where(ok[..., None], g, 0)
        R = (g * diff).sum(axis=1)
        if record is not None:
            taylor = (g * diff).sum(axis=2)
            record[k] = dict(R=R, roots=roots, missing=missing, residual=np.where(ok, phi_root, 0),
                             remainder=np.where(ok, phiP - phi_root - taylor, 0), missing_relevance=np.where(
                                 missing, phiP, 0))
        return R, g.sum(axis=1)


def _closing_pool(group):
    """The max-pool that closes an activation group (see ``dtd.activations_after``), or None."""
    return group[-1] if group and not hasattr(group[-1], "slopes") else None


def _is_finder(value) -> bool:
    return all(hasattr(value, attr) for attr in ("find", "check", "locally_constant"))


def _finder(value, k: int, name: str):
    if _is_finder(value):
        return value
    if value is None or isinstance(value, (str, bytes, dict)):
        raise ValueError(f"{name}: expected a root finder (ConstantRoots, LineRoot, RegionRoot) or an array of root "
                         f"points for affine layer {k}, got {value!r}")
    return ConstantRoots(value, name=name)


def _finders(roots, net) -> tuple:
    """One root finder per affine layer.

    A finder or a numpy array / scalar serves every layer; a list or tuple holding arrays or finders is read as one
    entry per affine layer (pass a numpy array for a single array of points).
    """
    L = len(net.affine_layers)
    per_layer = isinstance(roots, (list, tuple)) and not all(
        isinstance(r, (numbers.Real, Fraction)) and not isinstance(r, bool) for r in roots)
    if per_layer:
        if len(roots) != L:
            raise ValueError(f"roots: expected one root finder per affine layer ({L}), got {len(roots)}")
        names = [f"roots[{k}]" for k in range(L)]
        finders = tuple(_finder(r, k, names[k]) for k, r in enumerate(roots))
    else:
        names = ["roots"] * L
        finders = (_finder(roots, 0, "roots"),) * L
    groups = activations_after(net)
    for k, finder in enumerate(finders):
        pool = _closing_pool(groups[k])
        if pool is None:
            finder.check(k, net.affine_layers[k], names[k])
        elif isinstance(finder, ConstantRoots):  # one root per window of the max-pool
            finder.check(k, net.affine_layers[k], names[k], units=pool.out_features)
        else:
            raise ValueError(f"{names[k]}: affine layer {k} is closed by a max-pool; its units phi_j are the pooled "
                             f"windows, for which only ConstantRoots are implemented, got {finder!r}")
        if k > 0 and not finder.locally_constant:
            raise ValueError(f"{names[k]}: {finder!r} moves its roots with the point; above layer 0 the full DTD "
                             f"needs locally constant roots (ConstantRoots, RegionRoot(anchor=...)), because the "
                             f"gradient of phi on the layer below would need the derivative of the roots")
    return finders


def full_dtd(net, x, roots, *, output: int) -> Explanation:
    """Full recursive DTD of output ``output`` at ``x``.

    Parameters
    ----------
    net : Network
        Affine layers with elementwise activations (a ReLU on the output is allowed).  Keep it small: the cost is
        exponential in depth (module docstring).  A max-pool may close a conv block (conv - ReLU - MaxPool2d): the
        units phi_j of that layer are then the pooled windows (``roots[k]`` has one row per window, gradients go to
        the winner, ties broken towards the input's side) and only ``ConstantRoots`` are implemented there.
    x : array_like (n, d) or (d,)
        Inputs; exact (Fraction) inputs or ``to_exact(net)`` run in exact arithmetic.
    roots : root finder, array, or sequence of L of them
        ``ConstantRoots(points)`` (or a plain array: (d_k,) for every neuron of layer k, or (d_{k+1}, d_k)),
        ``LineRoot(rule)`` or ``RegionRoot(anchor=None)``; one for every affine layer or ``roots[k]`` for layer k.
        Finders above layer 0 must be locally constant.
    output : int
        The explained output xi.

    Returns
    -------
    Explanation
        ``relevance[k]`` = R^k at x's activations a_k, ``roots[k]`` (n, d_{k+1}, d_k) the roots used there,
        ``missing[k]``, and ``ledger[k]`` with entries "residual", "remainder", "missing" (module docstring).

    Notes
    -----
    [SL22], "locally constant roots": if every root lies in the region where its phi_j is affine and all input roots
    equal x_root, then R^0(x) = grad f_xi(x) (.) (x - x_root); with input-dependent roots it is not of this form.
    """
    L = len(net.affine_layers)
    output = check_index(output, "output", net.out_features)
    x2, single = as_batch(x, "x", net.in_features)
    finders = _finders(roots, net)
    estimate = estimate_points(net, x2.shape[0])
    if estimate > FULL_DTD_MAX_POINTS:
        raise ValueError(f"x: the full DTD of {x2.shape[0]} inputs on widths {net.widths} would evaluate about "
                         f"{estimate} points (about n * prod(1 + d_k)), more than FULL_DTD_MAX_POINTS = "
                         f"{FULL_DTD_MAX_POINTS}; its cost is exponential in depth")
    trace = net.trace(x2)
    engine = _Engine(net, finders, output, _Budget(FULL_DTD_MAX_POINTS))
    record = {}
    # x does not move: a stack of one zero direction (an empty stack would be a zero-size array, which conv cannot map)
    engine.relevance(0, trace.x, engine.zeros((trace.x.shape[0], 1, trace.x.shape[1])), record)
    relevance = tuple(record[k]["R"] for k in range(L)) + (output_relevance(trace, output),)
    ledger = tuple({"residual": record[k]["residual"], "remainder": record[k]["remainder"],
                    "missing": record[k]["missing_relevance"]} for k in range(L))
    return Explanation(tuple(_strip(r, single) for r in relevance),
                       _strip(tuple(record[k]["roots"] for k in range(L)), single),
                       _strip(tuple(record[k]["missing"] for k in range(L)), single),
                       tuple(_strip(d, single) for d in ledger), output, finders, None)

