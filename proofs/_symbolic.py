"""Symbolic networks on a fixed activation pattern, and the bridge to the exact engine.

On the linear region of an activation pattern every layer is affine: a_{l+1} = D_l (W_l a_l + b_l) with
D_l = diag(s_l).  Here the entries of W_l, b_l *and* s_l are free sympy symbols.  An identity that holds as a
polynomial (or rational-function) identity in free slope symbols s holds in particular for every 0/1 pattern (and for
every LeakyReLU slope), so one symbolic computation per architecture covers all 2^(number of units) patterns: this is
how the exhaustive checks stay cheap.  Substitution commutes with sums, products and with differentiation in the
layer inputs (s does not depend on them); ``constant_roots`` spot-checks this against explicit 0/1 patterns.

The output layer has a slope symbol too: s_L = 1 is a linear output, s_L in {0, 1} a ReLU on the output as in the C6
experiments of [SL22].  Only output row ξ = 0 is explained; the other output rows enter nothing, and every
architecture with d_L = 1, 2, 3 is still enumerated.

Concrete counterparts: :func:`rational_network` draws a small exact network (``fractions.Fraction`` weights) from
``rng``; :meth:`SymbolicNetwork.values` maps the symbols to a concrete network's numbers and a pattern.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp
from sympy.polys.rings import PolyElement, ring

from dtd_ref import Dense, Network, ReLU

__all__ = ["SymbolicNetwork", "symbolic_network", "architectures", "rational_network", "rational_vector",
           "to_sympy", "from_sympy", "rng_of", "closed_region_contains", "concrete_network", "slopes_of",
           "generic_point", "rational_case", "polynomial_ring", "ring_array", "evaluate"]

OUTPUT = 0  # the explained output ξ


def architectures(max_depth: int = 3, max_width: int = 3):
    """Every width tuple (d_0, ..., d_L) with 1 <= L <= max_depth and every d_l in 1..max_width."""
    for depth in range(1, max_depth + 1):
        yield from itertools.product(range(1, max_width + 1), repeat=depth + 1)


@dataclass(frozen=True)
class SymbolicNetwork:
    """A network on the region of a symbolic pattern.

    Attributes
    ----------
    widths : tuple of int
        (d_0, ..., d_L).
    W : tuple of sympy.Matrix
        ``W[l]`` has shape (d_{l+1}, d_l), entries ``w{l}_{j}_{i}``.
    b : tuple of sympy.Matrix
        ``b[l]`` has shape (d_{l+1}, 1); zeros when built with ``bias=False``.
    s : tuple of sympy.Matrix
        ``s[l]`` (d_{l+1}, 1): slope of unit j of layer l+1 on the region (the pattern entry for ReLU).
    """

    widths: tuple
    W: tuple
    b: tuple
    s: tuple

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def variables(self, l: int, name: str = "u") -> sp.Matrix:
        """Fresh symbols for the input a_l of layer l, shape (d_l, 1)."""
        return sp.Matrix(self.widths[l], 1, lambda i, _: sp.Symbol(f"{name}{l}_{i}"))

    def preactivation(self, l: int, a: sp.Matrix) -> sp.Matrix:
        """z = W_l a + b_l, shape (d_{l+1}, 1)."""
        return self.W[l] * a + self.b[l]

    def layer(self, l: int, a: sp.Matrix, slopes=None) -> sp.Matrix:
        """a_{l+1} = D_l (W_l a + b_l) on the region (D_l = diag(slopes), default ``s[l]``)."""
        slopes = self.s[l] if slopes is None else slopes
        z = self.preactivation(l, a)
        return sp.Matrix([slopes[j] * z[j] for j in range(self.widths[l + 1])])

    def forward(self, a: sp.Matrix, start: int = 0) -> sp.Matrix:
        """Output of the layers start..L-1 applied to a (the network output when start = 0)."""
        for l in range(start, self.depth):
            a = self.layer(l, a)
        return a

    def output_from(self, l: int, a: sp.Matrix, output: int = OUTPUT):
        """F_l(a) = [f_L o ... o f_l (a)]_ξ: the explained output as a function of layer l's input."""
        return self.forward(a, l)[output]

    def symbols(self) -> list:
        """Every weight, bias and slope symbol."""
        entries = [e for group in (self.W, self.b, self.s) for m in group for e in m]
        return [e for e in entries if isinstance(e, sp.Symbol)]

    def values(self, net: Network, slopes) -> dict:
        """Substitution {symbol: Rational} for the exact network ``net`` and per-layer slopes (0/1 patterns).

        ``slopes[l]`` is a sequence of d_{l+1} numbers (a bool pattern is read as 0/1); for a network without an
        activation on its output pass 1 for every output unit.
        """
        dense = net.affine_layers
        if tuple(net.widths) != tuple(self.widths):
            raise ValueError(f"net: widths {net.widths} do not match the symbolic widths {self.widths}")
        if len(slopes) != self.depth:
            raise ValueError(f"slopes: expected {self.depth} arrays, got {len(slopes)}")
        sub = {}
        for l, layer in enumerate(dense):
            for sym, value in zip(self.W[l], to_sympy(layer.weight_matrix())):
                sub[sym] = value
            for sym, value in zip(self.b[l], to_sympy(layer.bias_vector())):
                if isinstance(sym, sp.Symbol):
                    sub[sym] = value
            for sym, value in zip(self.s[l], slopes[l]):
                sub[sym] = sp.Integer(int(value)) if isinstance(value, (bool, np.bool_)) else sp.nsimplify(value)
        return sub


def symbolic_network(widths, *, bias: bool = True, tag: str = "") -> SymbolicNetwork:
    """Fully symbolic weights, biases (unless ``bias=False``) and slopes for the architecture ``widths``."""
    widths = tuple(int(d) for d in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths: expected at least two positive sizes, got {widths}")
    L = len(widths) - 1
    W = tuple(sp.Matrix(widths[l + 1], widths[l], lambda j, i, l=l: sp.Symbol(f"{tag}w{l}_{j}_{i}"))
              for l in range(L))
    b = tuple(sp.Matrix(widths[l + 1], 1, lambda j, _, l=l: sp.Symbol(f"{tag}b{l}_{j}") if bias else sp.Integer(0))
              for l in range(L))
    s = tuple(sp.Matrix(widths[l + 1], 1, lambda j, _, l=l: sp.Symbol(f"{tag}s{l}_{j}")) for l in range(L))
    return SymbolicNetwork(widths, W, b, s)


# ---------------------------------------------------------------------------------------------- polynomial rings
def polynomial_ring(symbols):
    """The ring QQ[symbols] (sympy's sparse polynomials: exact, canonical, much faster than expression trees).

    Returns ``(ring, {symbol: generator})``.
    """
    symbols = list(dict.fromkeys(symbols))
    poly_ring, *gens = ring(symbols, sp.QQ)
    return poly_ring, dict(zip(symbols, gens))


def ring_array(matrix, poly_ring) -> np.ndarray:
    """A sympy Matrix (or nested list) of polynomial expressions as an object array of ring elements."""
    rows = matrix.tolist() if isinstance(matrix, sp.MatrixBase) else matrix
    return np.array([[poly_ring.from_expr(sp.sympify(e)) for e in row] for row in rows], dtype=object)


def evaluate(value, substitution: dict):
    """Evaluate a ring element or a sympy expression at ``{symbol: Rational}``; returns a sympy Rational."""
    if isinstance(value, PolyElement):
        gens = dict(zip(value.ring.symbols, value.ring.gens))
        point = [(gens[sym], sp.QQ.convert(val)) for sym, val in substitution.items() if sym in gens]
        missing = set(value.ring.symbols) - set(substitution)
        if missing and any(value.degree(gens[m]) > 0 for m in missing):
            raise ValueError(f"substitution: no value for {sorted(map(str, missing))[:5]}")
        point += [(gens[m], sp.QQ.zero) for m in missing]
        result = value.evaluate(point) if point else value
        return sp.Rational(result.numerator, result.denominator) if hasattr(result, "numerator") else sp.sympify(result)
    return sp.sympify(value).xreplace(substitution)


# ---------------------------------------------------------------------------------------------- concrete side
def rng_of(rng) -> np.random.Generator:
    """A numpy Generator from a Generator or an integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise ValueError(f"rng: expected a numpy Generator or an integer seed, got {rng!r}")
    return np.random.default_rng(int(rng))


def _fractions(gen: np.random.Generator, shape, low: int, high: int, max_den: int) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    nums = gen.integers(low, high + 1, size=shape)
    dens = gen.integers(1, max_den + 1, size=shape)
    out.flat[:] = [Fraction(int(n), int(d)) for n, d in zip(nums.flat, dens.flat)]
    return out


def rational_vector(d: int, *, rng, nonnegative: bool = False, max_num: int = 6, max_den: int = 4) -> np.ndarray:
    """A random exact vector (d,) of Fractions n / m with |n| <= max_num, 1 <= m <= max_den."""
    gen = rng_of(rng)
    return _fractions(gen, (d,), 0 if nonnegative else -max_num, max_num, max_den)


def rational_network(widths, *, rng, relu_output: bool = True, bias: bool = True, nonpositive_bias: bool = False,
                     positive_weights: bool = False, max_num: int = 6, max_den: int = 4) -> Network:
    """A small exact ReLU network with random rational weights n / m (|n| <= max_num, 1 <= m <= max_den).

    ``nonpositive_bias`` draws every bias <= 0 (the C6 setting); ``positive_weights`` draws every weight >= 0.
    """
    gen = rng_of(rng)
    widths = tuple(widths)
    layers = []
    for l, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        W = _fractions(gen, (d_out, d_in), 0 if positive_weights else -max_num, max_num, max_den)
        b = _fractions(gen, (d_out,), -max_num, 0 if nonpositive_bias else max_num, max_den)
        if not bias:
            b = np.array([Fraction(0)] * d_out, dtype=object)
        layers.append(Dense(W, b))
        if l < len(widths) - 2 or relu_output:
            layers.append(ReLU())
    return Network(layers)


def concrete_network(net: Network, slopes) -> SymbolicNetwork:
    """The :class:`SymbolicNetwork` of an exact network on the region of ``slopes`` (numbers, no free symbols)."""
    dense = net.affine_layers
    if len(slopes) != len(dense):
        raise ValueError(f"slopes: expected {len(dense)} arrays, got {len(slopes)}")
    W = tuple(sp.Matrix(*layer.weight_matrix().shape, to_sympy(layer.weight_matrix())) for layer in dense)
    b = tuple(sp.Matrix(to_sympy(layer.bias_vector())) for layer in dense)
    s = tuple(sp.Matrix([sp.Integer(int(v)) for v in slope]) for slope in slopes)
    return SymbolicNetwork(tuple(net.widths), W, b, s)


def slopes_of(net: Network, x) -> list:
    """Per affine layer the 0/1 slopes at x (the pattern; all ones for an output without activation)."""
    patterns = net.activation_pattern(np.asarray([x], dtype=object))
    slopes = [p[0] for p in patterns]
    if len(slopes) < len(net.affine_layers):
        slopes.append(np.ones(net.out_features, dtype=bool))
    return slopes


def generic_point(net: Network, *, rng, nonnegative: bool = False, tries: int = 500) -> np.ndarray:
    """A rational input (d,) with no unit exactly on a hinge, the explained output active (z > 0) and a nonzero
    gradient of it, drawn from ``rng``; raises RuntimeError when ``tries`` draws fail."""
    gen = rng_of(rng)
    for _ in range(tries):
        x = rational_vector(net.in_features, rng=gen, nonnegative=nonnegative)
        trace = net.trace(np.asarray([x], dtype=object))
        if (trace.z[-1][0][OUTPUT] > 0 and all(v != 0 for z in trace.preactivations for v in z[0])
                and any(g != 0 for g in net.gradient(x, output=OUTPUT))):
            return x
    raise RuntimeError("no generic rational point with an active output found; change the seed")


def rational_case(widths, *, rng, nonnegative_x: bool = False, draws: int = 50, **network_options):
    """A random exact network and a generic rational input for it (redrawing the network when none is found).

    ``network_options`` go to :func:`rational_network`; returns ``(net, x)``.
    """
    gen = rng_of(rng)
    for _ in range(draws):
        net = rational_network(widths, rng=gen, **network_options)
        try:
            return net, generic_point(net, rng=gen, nonnegative=nonnegative_x, tries=100)
        except RuntimeError:
            continue
    raise RuntimeError(f"no network of widths {widths} with a generic active point in {draws} draws")


def to_sympy(array) -> list:
    """Flat list of sympy Rationals for an exact (Fraction / int) array, in C order."""
    return [sp.Rational(Fraction(v).numerator, Fraction(v).denominator) for v in np.asarray(array, dtype=object).flat]


def from_sympy(values) -> np.ndarray:
    """Object array of Fractions from sympy Rationals (1-D)."""
    out = np.empty(len(values), dtype=object)
    out[:] = [Fraction(int(sp.numer(v)), int(sp.denom(v))) for v in values]
    return out


def closed_region_contains(net: Network, x, point, *, start: int = 0) -> bool:
    """True iff ``point`` lies in the closure of the linear region of ``x`` for the sub-network from affine layer
    ``start`` (``x`` and ``point`` are inputs of that layer): every unit satisfies (2 s_k - 1) z_k(point) >= 0,
    with s the pattern of x.  Exact when the network is exact.
    """
    sub = net.sub(start)
    reference = sub.trace(np.asarray([x], dtype=object))
    probe = sub.trace(np.asarray([point], dtype=object))
    for pattern, z in zip(reference.patterns, probe.preactivations):
        sign = np.where(pattern[0], 1, -1)
        if any(sg * zk < 0 for sg, zk in zip(sign, z[0])):
            return False
    return True
