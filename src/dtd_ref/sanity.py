"""Sanity checks for attribution maps: logit swap, last-layer randomisation (the C7 analogue) and Sensitivity-n.

[S20] observed that z+ / alpha1-beta0 maps hardly depend on the deeper layers of a network: explaining a different
output, or the same output after the last layer has been re-initialised, gives almost the same map, while
gradient x input changes.  [SL22] (claim C7) traced this back to the DTD.  This module measures it on any network of
the package, for any attribution function:

* :func:`logit_swap` compares the maps of two explained outputs, input by input;
* :func:`last_layer_randomization` compares the maps of a network and of a copy whose last affine layer was redrawn;
* :func:`sensitivity_n` is the Sensitivity-n curve of [A18]: for random subsets S of n features it correlates
  sum_{i in S} R_i with f(x) - f(x with x_S set to a baseline).

An *attribution* is any callable ``attribution(net, X, output) -> R`` with X of shape (n, d) and R of shape (n, d);
:func:`gradient_x_input_attribution` and :func:`dtd_attribution` build the usual ones.

Map similarity uses the absolute values |R| (the sign convention of a method should not decide whether two maps
"look alike"): Spearman rank correlation (average ranks for ties) and cosine similarity, one number per input.  An
input whose map is constant (for example all zeros because the explained output is inactive) has no rank
correlation, and a zero map has no cosine: those entries are NaN and are counted, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.stats import rankdata

from ._validation import as_array, as_batch, check_index
from .exact import to_float, to_fraction
from .layers import Dense
from .network import Network

__all__ = [
    "Attribution", "SimilarityResult", "SensitivityCurve",
    "spearman_rows", "cosine_rows", "map_similarity",
    "gradient_x_input_attribution", "dtd_attribution",
    "logit_swap", "randomize_last_layer", "last_layer_randomization", "sensitivity_n",
]

Attribution = Callable[[Network, np.ndarray, int], np.ndarray]

#: Rows whose largest |entry| is at most this are zero maps (cosine undefined).
ZERO_MAP_ATOL = 1e-300
#: A row whose spread about its mean is at most this times its norm is constant up to rounding (correlation
#: undefined): sums of the same numbers in a different order differ in the last bits only.
CONSTANT_ROW_RTOL = 1e-12


# ---------------------------------------------------------------------------------------------------- similarity
def _pair(R1, R2, name1: str = "R1", name2: str = "R2") -> tuple[np.ndarray, np.ndarray]:
    R1 = to_float(as_array(R1, name1, ndim=2))
    R2 = to_float(as_array(R2, name2, ndim=2))
    if R1.shape != R2.shape:
        raise ValueError(f"{name1} and {name2}: shapes differ, {R1.shape} and {R2.shape}")
    return R1, R2


def spearman_rows(R1, R2) -> np.ndarray:
    """Spearman rank correlation of every row pair, shape (n,).

    Parameters
    ----------
    R1, R2 : (n, d) arrays

    Returns
    -------
    rho : (n,)
        rho_i = Pearson(rank(R1_i), rank(R2_i)) with average ranks for ties; NaN where a row is constant.
    """
    R1, R2 = _pair(R1, R2)
    r1 = rankdata(R1, axis=1)
    r2 = rankdata(R2, axis=1)
    return _pearson_rows(r1, r2)


def _pearson_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    scale_a = np.linalg.norm(A, axis=1)
    scale_b = np.linalg.norm(B, axis=1)
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    na = np.sqrt(np.sum(A * A, axis=1))
    nb = np.sqrt(np.sum(B * B, axis=1))
    defined = ((na > ZERO_MAP_ATOL) & (na > CONSTANT_ROW_RTOL * scale_a)
               & (nb > ZERO_MAP_ATOL) & (nb > CONSTANT_ROW_RTOL * scale_b))
    out = np.full(A.shape[0], np.nan)
    out[defined] = np.sum(A * B, axis=1)[defined] / (na[defined] * nb[defined])
    return np.clip(out, -1.0, 1.0)


def cosine_rows(R1, R2) -> np.ndarray:
    """Cosine similarity of every row pair, shape (n,): <R1_i, R2_i> / (|R1_i| |R2_i|); NaN where a row is 0."""
    R1, R2 = _pair(R1, R2)
    # A map is zero when its largest entry is (a norm would square tiny entries into 0 and call them zero).
    defined = (np.abs(R1).max(axis=1) > ZERO_MAP_ATOL) & (np.abs(R2).max(axis=1) > ZERO_MAP_ATOL)
    out = np.full(R1.shape[0], np.nan)
    # Rows are scaled to max |entry| = 1 first: tiny maps (|R| ~ 1e-161) would otherwise underflow in the squares.
    U1, U2 = (R[defined] / np.abs(R[defined]).max(axis=1, keepdims=True) for R in (R1, R2))
    out[defined] = np.sum(U1 * U2, axis=1) / (np.linalg.norm(U1, axis=1) * np.linalg.norm(U2, axis=1))
    return np.clip(out, -1.0, 1.0)


@dataclass(frozen=True)
class SimilarityResult:
    """Per-input similarity of two sets of maps.

    Attributes
    ----------
    spearman, cosine : (n,)
        Spearman rank correlation and cosine similarity of |R1_i| and |R2_i| (NaN where undefined).
    """

    spearman: np.ndarray
    cosine: np.ndarray

    @property
    def n_defined(self) -> int:
        """Inputs for which both numbers are defined."""
        return int(np.sum(np.isfinite(self.spearman) & np.isfinite(self.cosine)))

    def summary(self) -> dict:
        """Median and mean of both measures over the inputs where they are defined, plus the counts."""
        out = {"n_inputs": int(self.spearman.shape[0]), "n_defined": self.n_defined}
        for name in ("spearman", "cosine"):
            values = getattr(self, name)
            finite = values[np.isfinite(values)]
            out[f"{name}_median"] = float(np.median(finite)) if finite.size else float("nan")
            out[f"{name}_mean"] = float(np.mean(finite)) if finite.size else float("nan")
        return out


def map_similarity(R1, R2, *, absolute: bool = True) -> SimilarityResult:
    """Spearman and cosine similarity of two sets of maps, per input (of |R| when ``absolute``)."""
    R1, R2 = _pair(R1, R2)
    if absolute:
        R1, R2 = np.abs(R1), np.abs(R2)
    return SimilarityResult(spearman_rows(R1, R2), cosine_rows(R1, R2))


# ---------------------------------------------------------------------------------------------------- attributions
def gradient_x_input_attribution(net: Network, X: np.ndarray, output: int) -> np.ndarray:
    """grad f_output(x) * x, shape (n, d)."""
    return net.gradient_x_input(X, output=output)


def dtd_attribution(rule) -> Attribution:
    """Attribution by the train-free DTD with ``rule`` (one rule or one per layer): the input relevance R^1(x).

    The rule objects come from :mod:`dtd_ref.rules` (or names understood by :func:`dtd_ref.cli.parse_rule`).
    """
    def attribution(net: Network, X: np.ndarray, output: int) -> np.ndarray:
        from .dtd import train_free_dtd

        return train_free_dtd(net, X, rule, output=output).relevance[0]

    attribution.rule = rule
    return attribution


def _inputs(net: Network, X) -> np.ndarray:
    X2, _ = as_batch(X, "X", net.in_features)
    return X2


def _maps(attribution: Attribution, net: Network, X: np.ndarray, output: int) -> np.ndarray:
    R = as_array(attribution(net, X, output), "attribution result", ndim=2)
    if R.shape != X.shape:
        raise ValueError(f"attribution result: expected shape {X.shape}, got {R.shape}")
    return to_float(R)


# ---------------------------------------------------------------------------------------------------- the checks
def logit_swap(net: Network, X, attribution: Attribution, *, outputs: Sequence[int] = (0, 1)) -> SimilarityResult:
    """Similarity of the maps explaining two different outputs, per input.

    Parameters
    ----------
    net : Network
    X : (n, d)
        Inputs.
    attribution : callable
        ``attribution(net, X, output) -> R`` of shape (n, d).
    outputs : pair of int
        The two explained outputs.

    Notes
    -----
    A map that explains the decision should change with the explained output: values near 1 mean it does not.
    """
    if len(outputs) != 2:
        raise ValueError(f"outputs: expected two output indices, got {outputs!r}")
    o1 = check_index(outputs[0], "outputs[0]", net.out_features)
    o2 = check_index(outputs[1], "outputs[1]", net.out_features)
    X = _inputs(net, X)
    return map_similarity(_maps(attribution, net, X, o1), _maps(attribution, net, X, o2))


def randomize_last_layer(net: Network, *, rng) -> Network:
    """A copy of ``net`` whose last affine layer has freshly drawn weights and biases.

    W, b ~ U(-1/sqrt(d_in), 1/sqrt(d_in)) (PyTorch's default initialisation of ``nn.Linear``), drawn from ``rng``
    (a numpy Generator or an integer seed).  Every other layer is shared with ``net`` (layers hold no state).
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(_seed(rng))
    k = net.affine_index[-1]
    last = net.layers[k]
    if not isinstance(last, Dense):
        raise ValueError(f"net: the last affine layer must be Dense to be randomised, got {last!r}")
    bound = 1.0 / np.sqrt(last.in_features)
    W = gen.uniform(-bound, bound, size=last.W.shape)
    b = gen.uniform(-bound, bound, size=last.b.shape)
    if net.exact:
        W, b = to_fraction(W), to_fraction(b)
    layers = list(net.layers)
    layers[k] = Dense(W, b)
    return Network(layers)


def _seed(rng) -> int:
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise ValueError(f"rng: expected a numpy Generator or an integer seed, got {rng!r}")
    return int(rng)


def last_layer_randomization(net: Network, X, attribution: Attribution, *, output: int = 0,
                             rng) -> SimilarityResult:
    """Similarity of the maps of ``net`` and of ``randomize_last_layer(net, rng=rng)`` for the same output.

    Inputs where the randomised network's explained output is inactive get a zero map and therefore NaN.
    """
    output = check_index(output, "output", net.out_features)
    X = _inputs(net, X)
    other = randomize_last_layer(net, rng=rng)
    return map_similarity(_maps(attribution, net, X, output), _maps(attribution, other, X, output))


@dataclass(frozen=True)
class SensitivityCurve:
    """Sensitivity-n of [A18].

    Attributes
    ----------
    ns : (m,) int
        Subset sizes.
    correlation : (n_inputs, m)
        Pearson correlation over the random subsets, per input and subset size (NaN where undefined).
    """

    ns: np.ndarray
    correlation: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean correlation per subset size over the inputs where it is defined, shape (m,)."""
        out = np.full(self.ns.shape[0], np.nan)
        for c in range(self.ns.shape[0]):
            finite = self.correlation[:, c][np.isfinite(self.correlation[:, c])]
            if finite.size:
                out[c] = finite.mean()
        return out


def sensitivity_n(net: Network, X, attribution: Attribution, *, output: int = 0, ns: Sequence[int] | None = None,
                  n_subsets: int = 64, baseline: float = 0.0, rng) -> SensitivityCurve:
    """Sensitivity-n curves [A18].

    Parameters
    ----------
    net : Network
    X : (n, d)
    attribution : callable
        ``attribution(net, X, output) -> R`` of shape (n, d).
    output : int
        Explained output xi.
    ns : sequence of int, optional
        Subset sizes, each in [1, d]; default: 1 .. d-1 (all of them up to ten sizes, evenly spaced).
    n_subsets : int
        Random subsets drawn per input and size (at least 2).
    baseline : float
        Value that replaces the features of S.
    rng : numpy Generator or int
        Source of the subsets.

    Returns
    -------
    SensitivityCurve

    Notes
    -----
    For input x and size n, draw subsets S_1..S_m of n features uniformly; the curve value is
    Pearson_s( sum_{i in S_s} R_i(x), f_xi(x) - f_xi(x_[S_s = baseline]) ).  An attribution that is exact for
    every subset (e.g. gradient x input of a linear model with baseline 0) scores 1 for every n.
    """
    output = check_index(output, "output", net.out_features)
    X = to_float(_inputs(net, X))
    R = _maps(attribution, net, X, output)
    n_inputs, d = X.shape
    ns = _default_ns(d) if ns is None else np.asarray([int(v) for v in ns], dtype=int)
    if ns.ndim != 1 or ns.size == 0 or np.any(ns < 1) or np.any(ns > d):
        raise ValueError(f"ns: expected subset sizes in [1, {d}], got {ns.tolist()}")
    if isinstance(n_subsets, bool) or not isinstance(n_subsets, (int, np.integer)) or n_subsets < 2:
        raise ValueError(f"n_subsets: expected an integer >= 2, got {n_subsets!r}")
    if not np.isfinite(baseline):
        raise ValueError(f"baseline: expected a finite number, got {baseline!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(_seed(rng))
    f_x = _float_net(net)(X)[:, output]
    correlation = np.full((n_inputs, ns.size), np.nan)
    for c, n in enumerate(ns):
        order = np.argsort(gen.random((n_inputs, n_subsets, d)), axis=2)
        mask = np.zeros((n_inputs, n_subsets, d), dtype=bool)
        np.put_along_axis(mask, order[:, :, :n], True, axis=2)
        relevance_sum = np.einsum("isd,id->is", mask, R)
        masked = np.where(mask, baseline, X[:, None, :]).reshape(-1, d)
        drop = f_x[:, None] - _float_net(net)(masked)[:, output].reshape(n_inputs, n_subsets)
        correlation[:, c] = _pearson_rows(relevance_sum, drop)
    return SensitivityCurve(ns, correlation)


def _default_ns(d: int) -> np.ndarray:
    if d <= 1:
        return np.array([1])
    return np.unique(np.linspace(1, d - 1, num=min(d - 1, 10)).round().astype(int))


def _float_net(net: Network) -> Network:
    if not net.exact:
        return net
    return Network([layer.map_arrays(to_float) for layer in net.layers])
