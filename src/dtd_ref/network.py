"""The piecewise-linear network: forward pass with a Trace, activation patterns, local affine maps, gradients.

Indexing (DESIGN.md): affine layer k counts ``Dense`` (later ``Conv2d``) layers from the input, k = 0 first.
``trace.a[k]`` is the input of affine layer k, ``trace.z[k]`` its output (the pre-activation of the activation that
follows it).  Activation layers are counted separately; ``trace.patterns[m]`` is the pattern of activation layer m.

Gradients and local affine maps are masked weight products (no finite differences, no autodiff): on the region of
the pattern s, f(x) = A_s x + c_s with A_s = W_L D_{L-1} W_{L-1} ... D_1 W_1, D_l = diag(slopes of s_l).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._validation import as_batch, check_index, is_exact
from .layers import Dense, LeakyReLU, ReLU

__all__ = [
    "Dense", "ReLU", "LeakyReLU", "Network", "Trace",
    "gradient", "jacobian", "local_affine", "gradient_x_input", "activation_pattern",
]


@dataclass(frozen=True)
class Trace:
    """Everything a forward pass computed, always batched.

    Attributes
    ----------
    x : (n, d)
        The network input.
    inputs : tuple of (n, d_l) arrays
        ``inputs[l]`` is the input of layer l (every layer, affine or activation).
    output : (n, d_out)
    patterns : tuple of bool (n, d_m) arrays
        Pattern of every activation layer m (unit active iff z > 0).
    affine_index : tuple of int
        Position in ``layers`` of affine layer k.
    """

    x: np.ndarray
    inputs: tuple
    output: np.ndarray
    patterns: tuple
    affine_index: tuple
    activation_index: tuple

    @property
    def a(self) -> tuple:
        """Input of affine layer k, ``a[k]`` of shape (n, d_k)."""
        return tuple(self.inputs[i] for i in self.affine_index)

    @property
    def z(self) -> tuple:
        """Output (pre-activation) of affine layer k, shape (n, d_{k+1})."""
        later = self.inputs[1:] + (self.output,)
        return tuple(later[i] for i in self.affine_index)

    @property
    def preactivations(self) -> tuple:
        """Input of activation layer m, shape (n, d_m)."""
        return tuple(self.inputs[i] for i in self.activation_index)

    @property
    def pattern_vector(self) -> np.ndarray:
        """All patterns concatenated, bool (n, total units)."""
        return np.concatenate(self.patterns, axis=1) if self.patterns else np.zeros((self.x.shape[0], 0), bool)


class Network:
    """A feed-forward piecewise-linear network f = f_L o ... o f_1.

    Parameters
    ----------
    layers : sequence of layers
        Affine layers (``Dense``, ``Conv2d``, ``AvgPool2d``) and activations (``ReLU``, ``LeakyReLU``,
        ``MaxPool2d``).  Sizes of consecutive layers must match; the first layer must be affine.  ``Flatten``
        layers are dropped (they are the identity on flat batches), so they count in no layer index.

    Calling the network on ``(n, d)`` inputs returns ``(n, d_out)``; a single ``(d,)`` input gives ``(d_out,)``.
    """

    def __init__(self, layers: Sequence):
        layers = tuple(layers)
        if not layers:
            raise ValueError("layers: a network needs at least one layer, got an empty sequence")
        for i, layer in enumerate(layers):
            if getattr(layer, "kind", None) not in ("affine", "activation", "flatten"):
                raise ValueError(f"layers[{i}]: {layer!r} is not a dtd_ref layer")
        widths = _layer_widths(layers)
        layers = tuple(layer for layer in layers if layer.kind != "flatten")  # identity on flat batches
        if not layers or layers[0].kind != "affine":
            raise ValueError(f"layers[0]: the first layer must be affine, got {layers[0] if layers else None!r}")
        affine = [layer for layer in layers if layer.kind == "affine"]
        if len({layer.exact for layer in affine}) > 1:
            raise ValueError("layers: mixes exact (Fraction) and float64 layers; convert with to_exact(net)")
        self._widths = widths
        self.layers = layers
        self.affine_index = tuple(i for i, layer in enumerate(layers) if layer.kind == "affine")
        self.activation_index = tuple(i for i, layer in enumerate(layers) if layer.kind == "activation")

    # ------------------------------------------------------------------ shapes
    @property
    def affine_layers(self) -> tuple:
        return tuple(self.layers[i] for i in self.affine_index)

    @property
    def activation_layers(self) -> tuple:
        return tuple(self.layers[i] for i in self.activation_index)

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self._widths[-1]

    @property
    def exact(self) -> bool:
        return self.layers[0].exact

    @property
    def widths(self) -> tuple:
        """(d_in, d_1, ..., d_out) of the affine layers."""
        return (self.in_features,) + tuple(layer.out_features for layer in self.affine_layers)

    @property
    def pattern_widths(self) -> tuple:
        """Width of the pattern of every activation layer m: d_m for the ReLU family (one entry per unit), the
        layer's ``pattern_features`` for max pooling (d_out K, one entry per window element)."""
        return tuple(getattr(self.layers[i], "pattern_features", self._widths[i]) for i in self.activation_index)

    def __repr__(self) -> str:
        return f"Network({', '.join(map(repr, self.layers))})"

    # ------------------------------------------------------------------ inputs
    def check_input(self, x, name: str = "x") -> tuple[np.ndarray, bool]:
        """Validate inputs of shape (n, d_in) or (d_in,) in this network's arithmetic; return (x2d, was_single).

        An exact network converts float or integer inputs losslessly to Fractions; a float64 network refuses
        Fractions.  Raises ValueError naming ``name`` for wrong shapes, dtypes or non-finite values.
        """
        if self.exact:
            from .exact import _fractions

            x = _fractions(x, name, ndim=(1, 2))  # lossless, integers of any size included
        x2, single = as_batch(x, name, self.in_features)
        if not self.exact and is_exact(x2):
            raise ValueError(f"{name}: exact (Fraction) input given to a float64 network; use to_exact(net) first")
        return x2, single

    # ------------------------------------------------------------------ forward
    def __call__(self, x) -> np.ndarray:
        x2, single = self.check_input(x)
        out = x2
        for layer in self.layers:  # no Trace: patterns are not needed for the output
            out = layer.forward(out)
        return out[0] if single else out

    def trace(self, x) -> Trace:
        """Forward pass recording every layer's input and every activation pattern (always batched)."""
        x2, _ = self.check_input(x)
        inputs, patterns, t = [], [], x2
        for layer in self.layers:
            inputs.append(t)
            if layer.kind == "activation":
                patterns.append(layer.pattern(t))
            t = layer.forward(t)
        return Trace(x2, tuple(inputs), t, tuple(patterns), self.affine_index, self.activation_index)

    def activation_pattern(self, x) -> tuple:
        """Pattern of every activation layer, each bool (n, d_m) (or (d_m,) for a single input)."""
        x2, single = self.check_input(x)
        patterns = self.trace(x2).patterns
        return tuple(p[0] for p in patterns) if single else patterns

    # ------------------------------------------------------------------ fixed-pattern maps
    def _check_patterns(self, patterns) -> tuple:
        patterns = tuple(np.asarray(p) for p in patterns)
        if len(patterns) != len(self.activation_index):
            raise ValueError(f"patterns: expected {len(self.activation_index)} arrays, got {len(patterns)}")
        for m, (p, size) in enumerate(zip(patterns, self.pattern_widths)):
            layer = self.layers[self.activation_index[m]]
            if p.ndim != 2 or p.dtype != bool or p.shape[1] != size:
                raise ValueError(f"patterns[{m}]: expected bool (n, {size}), got {p.dtype} {p.shape}")
            if hasattr(layer, "check_pattern"):
                layer.check_pattern(p, f"patterns[{m}]")
        return patterns

    def forward_fixed(self, x, patterns) -> np.ndarray:
        """Evaluate the affine map A_s x + c_s of the region with the given patterns (n, d) -> (n, d_out)."""
        t, _ = self.check_input(x)
        patterns = self._check_patterns(patterns)
        m = 0
        for layer in self.layers:
            if layer.kind == "affine":
                t = layer.forward(t)
            else:
                t = layer.apply_pattern(patterns[m], t)
                m += 1
        return t

    def backward_fixed(self, g: np.ndarray, patterns) -> np.ndarray:
        """Vector-Jacobian product g A_s along the last axis: g of shape (n, ..., d_out) -> (n, ..., d_in)."""
        patterns = self._check_patterns(patterns)
        m = len(patterns)
        for layer in reversed(self.layers):
            if layer.kind == "affine":
                g = layer.linear_T(g)
            else:
                m -= 1
                g = layer.apply_pattern_T(patterns[m], g)
        return g

    def affine_for_pattern(self, patterns) -> tuple[np.ndarray, np.ndarray]:
        """(A, c) of shapes (n, d_out, d_in) and (n, d_out) with f = A x + c on the region of ``patterns``."""
        patterns = self._check_patterns(patterns)
        n = patterns[0].shape[0] if patterns else 1
        eye = _identity(self.out_features, self.exact)
        A = self.backward_fixed(np.broadcast_to(eye, (n,) + eye.shape), patterns)
        zero = np.zeros((n, self.in_features), dtype=object if self.exact else float)
        c = self.forward_fixed(zero, patterns)
        return A, c

    def preactivation_maps(self, patterns) -> list:
        """Pre-activation of every activation layer m as affine map of x on the region of ``patterns``.

        Returns a list of (A_m, c_m) with shapes (n, d_m, d_in) and (n, d_m): z_m = A_m x + c_m.
        """
        patterns = self._check_patterns(patterns)
        n = patterns[0].shape[0] if patterns else 1
        eye = _identity(self.in_features, self.exact)
        T = np.broadcast_to(eye, (n,) + eye.shape)  # transposed Jacobian (n, d_in, d_l)
        c = np.zeros((n, self.in_features), dtype=object if self.exact else float)
        maps, m = [], 0
        for layer in self.layers:
            if layer.kind == "affine":
                T, c = layer.linear(T), layer.forward(c)
            else:
                maps.append((np.swapaxes(T, 1, 2), c))
                T, c = layer.apply_pattern(patterns[m], T), layer.apply_pattern(patterns[m], c)
                m += 1
        return maps

    # ------------------------------------------------------------------ derivatives
    def local_affine(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(A, c) with f(z) = A z + c on the linear region of x: shapes (n, d_out, d_in), (n, d_out)."""
        x2, single = self.check_input(x)
        A, c = self.affine_for_pattern(self.trace(x2).patterns)
        if A.shape[0] != x2.shape[0]:   # no activation layer: one affine map (batch 1) serves every input
            A = np.repeat(A, x2.shape[0], axis=0)
            c = np.repeat(c, x2.shape[0], axis=0)
        return (A[0], c[0]) if single else (A, c)

    def jacobian(self, x) -> np.ndarray:
        """Jacobian (n, d_out, d_in) (or (d_out, d_in)) on the region of x, with ReLU'(0) = 0."""
        x2, single = self.check_input(x)
        patterns = self.trace(x2).patterns
        eye = _identity(self.out_features, self.exact)
        J = self.backward_fixed(np.broadcast_to(eye, (x2.shape[0],) + eye.shape), patterns)
        return J[0] if single else J

    def gradient(self, x, output: int = 0) -> np.ndarray:
        """Gradient of f_output (n, d_in) (or (d_in,)), a masked product of weights."""
        output = check_index(output, "output", self.out_features)
        x2, single = self.check_input(x)
        patterns = self.trace(x2).patterns
        g = np.zeros((x2.shape[0], self.out_features), dtype=object if self.exact else float)
        g[:, output] = 1
        grad = self.backward_fixed(g, patterns)
        return grad[0] if single else grad

    def gradient_x_input(self, x, output: int = 0) -> np.ndarray:
        """Gradient x input, grad f_output(x) * x, shape of x."""
        x2, single = self.check_input(x)
        result = self.gradient(x2, output=output) * x2
        return result[0] if single else result

    # ------------------------------------------------------------------ structure
    def sub(self, k: int) -> "Network":
        """The sub-network from affine layer k to the output (k = 0 is the whole network)."""
        k = check_index(k, "k", len(self.affine_index))
        return Network(self.layers[self.affine_index[k]:])

    def to_exact(self) -> "Network":
        """The same network on exact rationals (see :func:`dtd_ref.exact.to_exact`)."""
        from .exact import to_exact

        return to_exact(self)


def _layer_widths(layers) -> tuple:
    """Input width of every non-Flatten layer, then the output width; checks that consecutive sizes match.

    Layers with ``in_features`` / ``out_features`` (affine layers, pooling, Flatten with a shape) fix the width;
    elementwise activations keep it.
    """
    widths, width, affine_seen = [], None, 0
    for i, layer in enumerate(layers):
        d_in = getattr(layer, "in_features", None)
        if d_in is not None and width is not None and d_in != width:
            what = f"affine layer {affine_seen}" if layer.kind == "affine" else f"layers[{i}] ({layer!r})"
            raise ValueError(f"layers: {what} expects {d_in} inputs but the layer before gives {width}")
        width = d_in if width is None else width
        if layer.kind != "flatten":
            widths.append(width)
        affine_seen += layer.kind == "affine"
        width = getattr(layer, "out_features", None) or width
    return tuple(widths) + (width,)


def _identity(d: int, exact: bool) -> np.ndarray:
    return np.eye(d, dtype=object) if exact else np.eye(d)


def gradient(net: Network, x, *, output: int = 0) -> np.ndarray:
    """Gradient of f_output at x; see :meth:`Network.gradient`."""
    return net.gradient(x, output=output)


def jacobian(net: Network, x) -> np.ndarray:
    """Jacobian at x; see :meth:`Network.jacobian`."""
    return net.jacobian(x)


def local_affine(net: Network, x) -> tuple[np.ndarray, np.ndarray]:
    """(A, c) of x's linear region; see :meth:`Network.local_affine`."""
    return net.local_affine(x)


def gradient_x_input(net: Network, x, *, output: int = 0) -> np.ndarray:
    """grad f_output(x) * x; see :meth:`Network.gradient_x_input`."""
    return net.gradient_x_input(x, output=output)


def activation_pattern(net: Network, x) -> tuple:
    """Patterns of every activation layer; see :meth:`Network.activation_pattern`."""
    return net.activation_pattern(x)
