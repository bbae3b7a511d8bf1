"""Where train-free DTD roots land: inside or outside the region where their Taylor expansion is valid (C5 / C6).

For every input x, affine layer k and neuron j of that layer, :func:`analyze_roots` computes the root
ã = a_k - t_j v_j of the rule's line search (a_k the input of layer k, v_j the rule's direction) and judges it
against the linear region of the sub-network F_k from layer k to the explained output xi (``net.sub(k)`` with only
output xi kept: the other outputs are not part of f_xi).  [SL22] ("region restriction") shows that the relevance
function is affine at most on that region, so a root outside it cannot give a valid Taylor step.

Judgement per root (all in the layer-k input space):

* ``inside``: the root has the activation pattern of a_k on every unit of F_k, except the rooted neuron j itself,
  which is judged with closure semantics (an active neuron may sit on its hinge, z_j = 0; that is where a root
  belongs, and float rounding would otherwise throw out half of the correct roots);
* ``segment_inside`` / ``first_flip`` / ``flip_t``: along a_k + t (ã - a_k), t in [0, 1], which unit leaves its
  side first and at which t, from the region's affine pre-activation maps (by convexity ``segment_inside`` equals
  ``inside``; it is computed independently, as a check);
* ``margin``: signed Euclidean distance of the root to the nearest facet of the region other than the rooted
  neuron's own (positive inside);
* ``in_domain``: the root lies in the rule's input domain (a >= 0 for z+ and gamma, the box for z^B);
* ``delta_f`` / ``unchanged``: F_k(ã) - F_k(a_k), and whether it is zero.

float64 verdicts that fall within the band ``ROOTS_RTOL`` of a decision boundary are re-decided in exact rational
arithmetic for that input (``rechecked``); ``exact=True`` networks are decided exactly throughout.

Two root conventions (THEORY.md §5):

``"exact"``
    t_j = z_j / (w_j^T v_j): the zero of phi_j under the relevance model; inactive neurons (z_j <= 0) carry no
    relevance and their root is a_k itself; an active neuron with w_j^T v_j = 0 has no root on its line (skipped).
``"authors"``
    t_j = R_j / (w_j^T v_j) with R_j the train-free relevance of neuron j propagated from the output with the same
    rule at x's own activations, and neuron j skipped when |w_j^T v_j| <= 1e-5, as the code of [SL22] did.

The "authors" convention follows that code literally, which differs from ``train_free_dtd(convention="authors")``
of :mod:`dtd_ref.dtd` in two places: the upper relevance also flows through inactive neurons (it is nonzero for w^2,
whose direction does not vanish with a_j), and a neuron with |w_j^T v_j| <= 1e-5 is skipped even when inactive.  The
"exact" convention gives the same roots as ``train_free_dtd(convention="exact")``.

The root-at-0 shortcut (rule ``"0"``) puts every root at 0 in both conventions.  In the output layer only the
explained neuron xi is rooted (the others carry no relevance).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._validation import as_batch, check_index
from .exact import to_exact, to_float, to_fraction
from .layers import Dense, ReLU
from .network import Network
from .roots_report import LayerRoots, RootReport, format_table
from .roots_rules import RootRule, as_root_rule

__all__ = ["RootRule", "as_root_rule", "analyze_roots", "explained_subnetwork", "RootReport", "LayerRoots",
           "format_table", "ROOTS_RTOL", "AUTHORS_SKIP_ATOL", "CONVENTIONS", "STUDY_RULES"]

#: Relative band of float64 verdicts: a pre-activation, output difference, crossing parameter or coordinate within
#: ROOTS_RTOL times its magnitude scale (the same computation with |W|, |b| and |inputs|) of its decision boundary is
#: re-decided exactly.  Rounding of these quantities is ~(depth x width x 2.2e-16) of that scale.
ROOTS_RTOL = 1e-9
#: The authors' code skipped neuron j when |w_j^T v_j| <= 1e-5 (THEORY.md §5).
AUTHORS_SKIP_ATOL = 1e-5
CONVENTIONS = ("exact", "authors")
#: The rules of the C6 table: z+, gamma = 1, w^2, z and the root-at-0 shortcut.
STUDY_RULES = ("z+", "gamma=1", "w2", "z", "0")


# ---------------------------------------------------------------------------------------------------- networks
def explained_subnetwork(net: Network, k: int, output: int, *, all_outputs: bool = False) -> Network:
    """F_k: the layers of ``net`` from affine layer k on, with only output ``output`` kept (shape (., 1)).

    With ``all_outputs`` every output unit stays (``net.sub(k)``), as the authors' region test had it.
    """
    if all_outputs:
        return net.sub(k)
    layers = list(net.layers[net.affine_index[k]:])
    last = max(i for i, layer in enumerate(layers) if layer.kind == "affine")
    W, b = layers[last].weight_matrix(), layers[last].bias_vector()
    layers[last] = Dense(W[output:output + 1], b[output:output + 1])
    return Network(layers)


def _check_network(net: Network) -> None:
    if not isinstance(net, Network):
        raise ValueError(f"net: expected a dtd_ref Network, got {type(net).__name__}")
    previous = None
    for i, layer in enumerate(net.layers):
        if layer.kind == "activation":
            if not isinstance(layer, ReLU) or previous != "affine":
                raise ValueError(f"net: root analysis needs affine layers each followed by at most one ReLU or "
                                 f"LeakyReLU, got {layer!r} at layers[{i}]")
        previous = layer.kind


def _abs_scales(net: Network, Y: np.ndarray) -> tuple[list, np.ndarray]:
    """Magnitude scales: the forward pass with |W|, |b| and |Y|; per activation layer (N, d_m) and output (N,)."""
    t, scales = np.abs(Y), []
    for layer in net.layers:
        if layer.kind == "affine":
            t = t @ np.abs(layer.weight_matrix()).T + np.abs(layer.bias_vector())
        else:
            scales.append(t)
    return scales, t


# ---------------------------------------------------------------------------------------------------- roots
def _upper_relevance(net: Network, trace, rule: RootRule, output: int) -> list:
    """R[k] (n, d_{k+1}): train-free relevance of the outputs of affine layer k at x's activations (authors')."""
    L = len(net.affine_index)
    R = [None] * L
    top = np.zeros_like(trace.output)
    top[:, output] = trace.output[:, output]
    R[L - 1] = top
    for k in range(L - 1, 0, -1):
        layer, a = net.affine_layers[k], trace.a[k]
        W = layer.weight_matrix()
        if rule.name == "0":  # the shortcut's relevance w_j * (a - 0), blind to R_j (THEORY.md §5)
            R[k - 1] = a * W.sum(axis=0)[None, :]
            continue
        v = rule.directions(a, W)
        wv = np.einsum("njd,jd->nj", v, W)
        keep = np.abs(wv) > AUTHORS_SKIP_ATOL
        zero, one = (Fraction(0), Fraction(1)) if a.dtype == object else (0.0, 1.0)
        share = np.where(keep, R[k], zero) / np.where(keep, wv, one)
        R[k - 1] = np.einsum("nj,njd->nd", share, v * W[None])
    return R


def _layer_roots(net, trace, k, rule, convention, output, upper):
    """Roots (n, J, d), has_root (n, J), rooted_z (n, J) = z_j at the root, structural (n, J), neurons (J,)."""
    L = len(net.affine_index)
    layer = net.affine_layers[k]
    W, b = layer.weight_matrix(), layer.bias_vector()
    neurons = np.array([output]) if k == L - 1 else np.arange(W.shape[0])
    a, z = trace.a[k], trace.z[k][:, neurons]
    Wj = W[neurons]
    n, J = a.shape[0], neurons.size
    if rule.name == "0":
        roots = np.zeros((n, J, a.shape[1]), dtype=a.dtype) if a.dtype != object else \
            np.full((n, J, a.shape[1]), Fraction(0), dtype=object)
        rooted_z = np.broadcast_to(b[neurons], (n, J)).copy()
        return roots, np.ones((n, J), bool), rooted_z, np.zeros((n, J), bool), neurons
    v = rule.directions(a, Wj)
    wv = np.einsum("njd,jd->nj", v, Wj)
    active = np.asarray(z > 0, dtype=bool)
    if convention == "exact":
        has_root = ~active | np.asarray(wv != 0, dtype=bool)
        use = active & has_root
        num = np.where(use, z, 0 * z)
        structural = use
    else:
        has_root = np.asarray(np.abs(wv) > AUTHORS_SKIP_ATOL, dtype=bool)
        num = np.where(has_root, upper[k][:, neurons], 0 * z)
        structural = has_root & active if k == L - 1 else np.zeros((n, J), bool)
        use = has_root
    zero, one = (Fraction(0), Fraction(1)) if a.dtype == object else (0.0, 1.0)
    t = np.where(use, num, zero) / np.where(use, wv, one)  # Fraction / Fraction: no int / int -> float
    roots = a[:, None, :] - t[..., None] * v
    return roots, has_root, z - num, structural, neurons


# ---------------------------------------------------------------------------------------------------- judging
def _cat(parts, empty_shape: tuple, dtype) -> np.ndarray:
    """Concatenate along axis 1, or an empty array of ``empty_shape`` when there is nothing to concatenate."""
    return np.concatenate(parts, axis=1) if len(parts) else np.zeros(empty_shape, dtype=dtype)


def _judge(net, trace, k, rule, convention, output, upper, all_outputs) -> tuple[dict, np.ndarray]:
    """All verdicts of layer k as a dict of (n, J) arrays, and the float inputs needing an exact recheck (n,)."""
    roots, has_root, rooted_z, structural, neurons = _layer_roots(net, trace, k, rule, convention, output, upper)
    exact = net.exact
    F = explained_subnetwork(net, k, output, all_outputs=all_outputs)
    col = output if all_outputs else 0
    a = trace.a[k]
    n, J, d = roots.shape
    Y = roots.reshape(n * J, d)
    tr_r, tr_a = F.trace(Y), F.trace(a)
    P_a = tr_a.pattern_vector
    dtype = object if exact else float
    Z_a = _cat(tr_a.preactivations, (n, 0), dtype)  # U = 0 units when nothing follows layer k but an affine map
    U = Z_a.shape[1]
    Z_r = _cat(tr_r.preactivations, (n * J, 0), dtype).reshape(n, J, U)
    rooted = neurons if k < len(net.affine_index) - 1 else np.array([col])
    has_unit = F.layers[1].kind == "activation" if len(F.layers) > 1 else False
    if has_unit:  # the rooted neuron's own pre-activation at its root, known in closed form
        Z_r[:, np.arange(J), rooted] = rooted_z
    maps = F.preactivation_maps(tr_a.patterns)
    A = _cat([m[0] for m in maps], (n, 0, d), dtype)  # (n, U, d)
    c = _cat([m[1] for m in maps], (n, 0), dtype)  # (n, U)
    Z_lin = np.einsum("nud,njd->nju", A, roots) + c[:, None, :]
    if has_unit:
        Z_lin[:, np.arange(J), rooted] = rooted_z
    is_rooted = np.zeros((J, U), bool)
    if has_unit:
        is_rooted[np.arange(J), rooted] = True
    P3 = P_a[:, None, :]
    # side of every unit at the root: active units need z > 0 (>= 0 for the rooted one), inactive ones z <= 0
    side = np.where(P3, np.asarray(Z_r > 0, bool) | (is_rooted & np.asarray(Z_r >= 0, bool)),
                    np.asarray(Z_r <= 0, bool))
    inside = side.all(axis=2)
    # first unit to leave its side along a + t (root - a), from the region's affine maps
    Za3 = Z_a[:, None, :]
    leaves = np.where(P3, np.where(is_rooted, np.asarray(Z_lin < 0, bool), np.asarray(Z_lin <= 0, bool)),
                      np.asarray(Z_lin > 0, bool))
    denom = to_float(Za3 - Z_lin)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cross = np.where(leaves, to_float(np.broadcast_to(Za3, Z_lin.shape)) / np.where(leaves, denom, 1), np.inf)
    t_cross = np.concatenate([np.clip(t_cross, 0.0, 1.0), np.full((n, J, 1), np.inf)], axis=2)  # pad for U = 0
    first = np.where(leaves.any(axis=2), np.argmin(t_cross, axis=2), -1)
    flip_t = np.where(first >= 0, t_cross.min(axis=2), np.nan)
    # margin: signed distance to the nearest facet other than the rooted neuron's
    norms = np.sqrt(to_float(np.einsum("nud,nud->nu", A, A)))
    sign = np.where(P3, 1, -1)
    usable = (norms[:, None, :] > 0) & ~is_rooted[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(usable, to_float(sign * Z_lin) / np.where(usable, norms[:, None, :], 1), np.inf)
    margin = dist.min(axis=2, initial=np.inf)
    delta_f = (tr_r.output[:, col].reshape(n, J) - tr_a.output[:, col][:, None])
    same_point = np.asarray(roots == a[:, None, :], bool).all(axis=2)
    before = sum(layer.kind == "activation" for layer in net.layers[:net.affine_index[k]])
    unit_layer = np.concatenate([np.full(p.shape[1], before + m, dtype=int) for m, p in enumerate(tr_a.patterns)]
                                + [np.zeros(0, dtype=int)])
    verdicts = dict(roots=roots, unit_layer=unit_layer, has_root=has_root,
                    active=np.asarray(trace.z[k][:, neurons] > 0, bool), inside=inside, segment_inside=first < 0, first_flip=first, flip_t=flip_t, margin=margin,
                    delta_f=to_float(delta_f), neurons=neurons)
    if exact:
        verdicts["unchanged"] = np.asarray(delta_f == 0, bool)
        verdicts["in_domain"] = rule.domain_ok(roots, None)[0]
        return verdicts, np.zeros(n, bool)
    scales, out_scale = _abs_scales(F, Y)
    tol = ROOTS_RTOL * _cat(scales, (n * J, 0), float).reshape(n, J, U)
    tol_a = ROOTS_RTOL * _cat(_abs_scales(F, a)[0], (n, 0), float)
    tol_f = ROOTS_RTOL * (out_scale[:, col].reshape(n, J) + _abs_scales(F, a)[1][:, col][:, None])
    verdicts["unchanged"] = np.abs(delta_f) <= tol_f
    in_domain, domain_uncertain = rule.domain_ok(roots, ROOTS_RTOL * (np.abs(a)[:, None, :] + np.abs(roots)))
    verdicts["in_domain"] = in_domain
    shaky = (np.abs(Z_r) <= tol) | (np.abs(Z_lin) <= tol)
    shaky &= ~(is_rooted[None] & structural[..., None])  # on its hinge by construction: z_j = 0 exactly
    uncertain = (shaky.any(axis=2) | (verdicts["unchanged"] & ~same_point) | domain_uncertain) & has_root
    uncertain = uncertain.any(axis=1) | (np.abs(Z_a) <= tol_a).any(axis=1)
    return verdicts, uncertain


# ---------------------------------------------------------------------------------------------------- public
def analyze_roots(net: Network, X, rule, *, output: int = 0, layers=None, convention: str = "exact",
                  all_outputs: bool = False, recheck: bool = True) -> RootReport:
    """Where the roots of a train-free DTD rule lie relative to their valid regions ([SL22] C5 / C6).

    Parameters
    ----------
    net : Network
        Affine layers each followed by at most one ReLU / LeakyReLU (float64, or exact for exact verdicts).
    X : (n, d) or (d,)
        Inputs.
    rule : str, RootRule or a rule of :mod:`dtd_ref.rules`
        ``"z+"``, ``"gamma=<g>"``, ``"w2"``, ``"z"``, ``"0"`` (root at 0), or ``RootRule("zB", low=..., high=...)``.
    output : int
        Explained output xi.
    layers : sequence of int, optional
        Affine layers k to analyse (default: all).
    convention : {"exact", "authors"}
        Root convention (see the module docstring).
    all_outputs : bool
        Judge on every output unit of the sub-network (as the authors' region test did), not only on xi's.
    recheck : bool
        Re-decide in exact arithmetic every float64 verdict within ``ROOTS_RTOL`` of its boundary (per input).

    Returns
    -------
    RootReport
        ``report.layers[k]`` is a :class:`LayerRoots` with (n, J) arrays (J = width of layer k, 1 for the output
        layer) and ``roots`` (n, J, d_k); ``report.summary()`` gives the paper's percentages per layer.
    """
    _check_network(net)
    X2, _ = as_batch(X, "X", net.in_features)
    output = check_index(output, "output", net.out_features)
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    L = len(net.affine_index)
    ks = list(range(L)) if layers is None else [check_index(k, "layers", L) for k in np.atleast_1d(layers)]
    rule = as_root_rule(rule)
    if rule.name == "zB":
        d = net.in_features
        if any(v.ndim == 1 and v.shape[0] != d for v in (rule.low, rule.high)):
            raise ValueError(f"low, high: expected scalars or shape ({d},) for the input box, got "
                             f"{rule.low.shape} and {rule.high.shape}")
        if any(k > 0 for k in ks):
            raise ValueError(f"layers: the zB rule searches the input box, so it applies to layer 0 only, got {ks}")
        if convention == "authors":
            raise ValueError("convention: the authors' code had no zB rule; use convention='exact'")
        rule = RootRule("zB", low=np.broadcast_to(rule.low, (d,)).copy(),
                        high=np.broadcast_to(rule.high, (d,)).copy())
    if net.exact and X2.dtype != object:
        X2 = to_fraction(X2)
    verdicts, uncertain = _run(net, X2, rule, convention, output, ks, all_outputs)
    rechecked = np.zeros(X2.shape[0], bool)
    if recheck and not net.exact and uncertain.any():
        idx = np.flatnonzero(uncertain)
        exact_verdicts, _ = _run(to_exact(net), to_fraction(X2[idx]), rule, convention, output, ks, all_outputs)
        for k in ks:
            for key, value in exact_verdicts[k].items():
                if key not in ("roots", "neurons", "unit_layer"):
                    verdicts[k][key][idx] = value
        rechecked[idx] = True
    layer_reports = {k: LayerRoots(layer=k, rechecked=rechecked.copy(), **verdicts[k]) for k in ks}
    return RootReport(rule=rule.label, convention=convention, output=output, exact=net.exact,
                      n_inputs=X2.shape[0], layers=layer_reports, all_outputs=all_outputs)


def _run(net, X, rule, convention, output, ks, all_outputs) -> tuple[dict, np.ndarray]:
    trace = net.trace(X)
    upper = _upper_relevance(net, trace, rule, output) if convention == "authors" else None
    verdicts, uncertain = {}, np.zeros(X.shape[0], bool)
    for k in ks:
        verdicts[k], u = _judge(net, trace, k, rule, convention, output, upper, all_outputs)
        uncertain |= u
    return verdicts, uncertain
