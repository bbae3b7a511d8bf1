"""Train-free DTD: the layer-wise relevance propagation that the DTD relevance model [M17] licenses.

``train_free_dtd(net, x, rule, output=j)`` starts from the explained output and walks the affine layers from the
top, applying one rule per layer (:mod:`dtd_ref.rules`).  It returns an :class:`Explanation` holding the relevance
of every layer input, the root point of every neuron (for root-search rules) and the ledger of relevance absorbed by
biases, epsilon, skipped and inactive neurons.

Indexing (DESIGN.md): affine layer k counts ``Dense`` layers from the input, k = 0 first; ``relevance[k]`` is the
relevance of the input of affine layer k (``relevance[0]``: the network input), ``relevance[L]`` that of the network
output; ``roots[k][i, j]`` is the root of neuron j of affine layer k for input i, a point in that layer's input
space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_index, is_exact
from .layers import ReLU
from .propagation import _redistribute, root_point

__all__ = ["Explanation", "train_free_dtd", "ROOT_CONVENTIONS", "AUTHORS_SKIP_THRESHOLD"]

#: Root conventions: "exact" t_j = z_j / (w_j^T v_j) (the zero of phi_j under the relevance model) and "authors"
#: t_j = R_j / (w_j^T v_j) with the upper train-free relevance R_j (what the code of [SL22] computed, THEORY.md §5).
ROOT_CONVENTIONS = ("exact", "authors")
#: The authors' code skipped neuron j when |w_j^T v_j| <= 1e-5; used only with ``convention="authors"``.
AUTHORS_SKIP_THRESHOLD = 1e-5


@dataclass(frozen=True)
class Explanation:
    """Result of :func:`train_free_dtd` or :func:`dtd_ref.full_dtd.full_dtd`.

    Attributes
    ----------
    relevance : tuple of L + 1 arrays
        ``relevance[k]`` (n, d_k): relevance of the input of affine layer k; ``relevance[L]`` (n, d_out): the output
        relevance (f_xi(x) at the explained output, 0 elsewhere).
    roots : tuple of L arrays or None
        ``roots[k]`` (n, d_{k+1}, d_k): the root of every neuron of affine layer k (NaN, or None in exact mode, where
        missing); None for layers whose rule has no root points.
    missing : tuple of L bool arrays or None
        ``missing[k]`` (n, d_{k+1}): True where a neuron has no root.
    ledger : tuple of L dicts
        ``ledger[k][name]`` (n, d_{k+1}): relevance of neuron j of layer k not passed to layer k's input, by cause.
        A cause the rule booked nothing into is a read-only array of zeros (copy it before writing).
    output : int
        The explained output xi.
    method : tuple
        The rule (or root finder) used at every affine layer.
    convention : str or None
        Root convention ("exact" or "authors") of train-free DTD; None for the full DTD.

    A single input of shape (d,) gives arrays without the leading batch axis.
    """

    relevance: tuple
    roots: tuple
    missing: tuple
    ledger: tuple
    output: int
    method: tuple
    convention: object = None

    @property
    def input_relevance(self) -> np.ndarray:
        """``relevance[0]``, the explanation of the network input."""
        return self.relevance[0]

    def absorbed(self, k: int):
        """Total relevance absorbed at affine layer k (sum over ledger entries and neurons), shape (n,) or ()."""
        k = check_index(k, "k", len(self.ledger))
        return sum(entry.sum(axis=-1) for entry in self.ledger[k].values())

    def conservation_gap(self, k: int):
        """sum R^{k+1} - sum R^k - absorbed(k): exactly 0 in exact mode for every rule of :mod:`dtd_ref.rules`."""
        k = check_index(k, "k", len(self.ledger))
        return self.relevance[k + 1].sum(axis=-1) - self.relevance[k].sum(axis=-1) - self.absorbed(k)


def _per_layer(rule_or_rules, L: int, name: str = "rule_or_rules") -> tuple:
    """One rule per affine layer: a single rule is repeated, a sequence must have length L."""
    if hasattr(rule_or_rules, "parts"):
        return (rule_or_rules,) * L
    try:
        rules = tuple(rule_or_rules)
    except TypeError:
        raise ValueError(f"{name}: expected a rule or a sequence of {L} rules, got {rule_or_rules!r}") from None
    if len(rules) != L:
        raise ValueError(f"{name}: expected one rule per affine layer ({L}), got {len(rules)}")
    for k, rule in enumerate(rules):
        if not hasattr(rule, "parts"):
            raise ValueError(f"{name}[{k}]: expected a rule from dtd_ref.rules, got {rule!r}")
    return rules


def activations_after(net) -> tuple:
    """For every affine layer k, the tuple of activation layers between it and the next affine layer (or the end).

    Raises ValueError for activations that are not elementwise (ReLU, LeakyReLU): relevance would need a rule to
    cross them.  The one exception is a max-pool as the *last* layer of a group (conv - ReLU - MaxPool2d, the
    LeNet order): relevance crosses it winner-take-all (its ``route_relevance``, see :func:`route_down`).
    """
    bounds = net.affine_index[1:] + (len(net.layers),)
    groups = []
    for start, stop in zip(net.affine_index, bounds):
        group = net.layers[start + 1:stop]
        for i, layer in enumerate(group):
            if not isinstance(layer, ReLU) and not (hasattr(layer, "route_relevance") and i == len(group) - 1):
                raise ValueError(f"net: DTD supports elementwise activations (ReLU, LeakyReLU) between affine layers, "
                                 f"optionally followed by one max-pool (put the pool after the ReLU: they commute), "
                                 f"found {layer!r}")
        groups.append(group)
    return tuple(groups)


def _relu_inputs(groups) -> tuple:
    """For every affine layer k, True if its input is a ReLU output (max-pooled or not), hence known to be >= 0."""
    known = [False]
    for group in groups[:-1]:
        elementwise = [layer for layer in group if not hasattr(layer, "route_relevance")]
        known.append(bool(elementwise) and all(getattr(layer, "negative_slope", None) == 0 for layer in elementwise))
    return tuple(known)


def _pool_after(net, groups, k: int):
    """(position in net.layers, activation index m) of the max-pool closing affine layer k's group, or None."""
    group = groups[k]
    if not group or not hasattr(group[-1], "route_relevance"):
        return None
    position = net.affine_index[k] + len(group)
    return position, net.activation_index.index(position)


def route_down(net, trace, k: int, R: np.ndarray, groups=None) -> np.ndarray:
    """Relevance of the input of affine layer k + 1 (or of the output) moved onto the neurons of affine layer k.

    The identity unless a max-pool closes layer k's group; then R_j of pooled unit j goes to the winner of its
    window (winner-take-all, conservative): (n, d_pool) -> (n, d_{k+1}).
    """
    groups = activations_after(net) if groups is None else groups
    pool = _pool_after(net, groups, k)
    if pool is None:
        return R
    position, m = pool
    return net.layers[position].route_relevance(trace.patterns[m], R)


def active_neurons(net, trace) -> tuple:
    """bool (n, d_{k+1}) per affine layer k: False where an activation follows and outputs exactly 0."""
    groups = activations_after(net)
    after = list(trace.a[1:] + (trace.output,))
    for k in range(len(groups)):
        pool = _pool_after(net, groups, k)
        if pool is not None:  # the neurons of layer k are the pool's inputs, the output of the elementwise part
            after[k] = trace.inputs[pool[0]]
            groups = groups[:k] + (groups[k][:-1],) + groups[k + 1:]
    return tuple(np.asarray(post != 0, dtype=bool) if group else np.ones(post.shape, dtype=bool)
                 for group, post in zip(groups, after))


def output_relevance(trace, output: int) -> np.ndarray:
    """R^L: f_xi(x) at the explained output xi (after the output activation, if any), 0 elsewhere; (n, d_out)."""
    y = trace.output
    R = np.zeros(y.shape, dtype=object) if is_exact(y) else np.zeros(y.shape)
    R[:, output] = y[:, output]
    return R


def _strip(value, single: bool):
    if value is None or not single:
        return value
    if isinstance(value, dict):
        return {key: entry[0] for key, entry in value.items()}
    if isinstance(value, tuple):
        return tuple(_strip(v, single) for v in value)
    return value[0]


def train_free_dtd(net, x, rule_or_rules, *, output: int, convention: str = "exact",
                   return_roots: bool = True) -> Explanation:
    """Train-free DTD of output ``output`` at ``x`` with one rule per affine layer.

    Parameters
    ----------
    net : Network
        Affine layers with elementwise activations (ReLU, LeakyReLU); a ReLU on the output is allowed.
    x : array_like (n, d) or (d,)
        Inputs; Fraction arrays (with ``to_exact(net)``) run exactly.
    rule_or_rules : rule or sequence of L rules
        One rule for every layer, or ``rules[k]`` for affine layer k (e.g. ZBox on layer 0, ZPlus above).
    output : int
        The explained output xi.
    convention : {"exact", "authors"}
        Root convention (see ``ROOT_CONVENTIONS``).  "authors" also skips neurons with |w_j^T v_j| <=
        ``AUTHORS_SKIP_THRESHOLD`` (their relevance is booked as "skipped"), as the code of [SL22] did.
    return_roots : bool
        Compute ``roots`` (memory n * d_{k+1} * d_k per layer); False leaves ``roots`` and ``missing`` None.

    Returns
    -------
    Explanation

    Notes
    -----
    The top relevance is R^L_j = f_xi(x) [j = xi], the network output itself (after the output ReLU if the network
    has one).  Going down, R^k_i = sum_j w_ji v_ji / (w_j^T v_j) R^{k+1}_j for root-search rules (THEORY.md §3);
    relevance passes unchanged through elementwise activations, except that inactive neurons (activation output
    exactly 0) pass nothing and book what they carry as "inactive".  Layer by layer,
    sum R^k + absorbed(k) = sum R^{k+1}, exactly in exact mode.
    """
    if convention not in ROOT_CONVENTIONS:
        raise ValueError(f"convention: expected one of {ROOT_CONVENTIONS}, got {convention!r}")
    L = len(net.affine_layers)
    rules = _per_layer(rule_or_rules, L)
    output = check_index(output, "output", net.out_features)
    trace = net.trace(x)  # validates x as "x" (shape, finiteness; Fraction conversion for an exact network)
    single = np.ndim(x) == 1
    exact = net.exact
    active = active_neurons(net, trace)
    skip = AUTHORS_SKIP_THRESHOLD if convention == "authors" else 0
    R = output_relevance(trace, output)
    relevance, roots, missing, ledger = [R], [None] * L, [None] * L, [None] * L
    groups = activations_after(net)
    nonnegative = _relu_inputs(groups)
    for k in reversed(range(L)):
        layer, rule, a = net.affine_layers[k], rules[k], trace.a[k]
        R = route_down(net, trace, k, R, groups)
        rule.check_input(a, "x" if k == 0 else f"x (activations entering affine layer {k})",
                         nonnegative=nonnegative[k])
        if return_roots and (getattr(rule, "root_search", False) or getattr(rule, "constant_root", False)):
            numerator = trace.z[k] if convention == "exact" else R
            roots[k], missing[k] = root_point(rule, layer, a, numerator, active=active[k], skip_below=skip)
        R, ledger[k] = _redistribute(rule, layer, a, R, trace.z[k], active[k], skip, exact)
        relevance.append(R)
    relevance.reverse()
    return Explanation(tuple(_strip(r, single) for r in relevance), _strip(tuple(roots), single),
                       _strip(tuple(missing), single), tuple(_strip(d, single) for d in ledger), output, rules,
                       convention)

