"""Convolution on flat batches: window geometry, ``Conv2d`` and ``Flatten``.

The engine works on flat batches ``(n, d)``.  A convolutional layer carries the shape ``(C, H, W)`` of one input
image and reads a flat vector in row-major (C, H, W) order, the order of ``torch.flatten``; its output
``(C_out, H_out, W_out)`` is flattened the same way.  Inputs of a network whose first layer is a ``Conv2d`` are
therefore given as ``(n, C*H*W)`` (reshape images with ``x.reshape(n, -1)``).

All maps are dtype-generic: float64 arrays use BLAS matrix products, exact object arrays of ``fractions.Fraction``
run the same gather + matmul in Python arithmetic (see :mod:`dtd_ref.exact`).  The dense matrix of a layer,
``weight_matrix()``, is available for checks and fallbacks; its loop-per-neuron twin lives in
:mod:`dtd_ref._reference_conv`.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_array, frozen, is_exact

__all__ = ["Conv2d", "Flatten", "WindowGeometry", "WindowedLayer"]


def _pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    """Validate an int or a pair of ints >= ``minimum``."""
    pair = (value, value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum for v in pair):
        raise ValueError(f"{name}: expected an int or a pair of ints >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _shape3(value, name: str) -> tuple[int, int, int]:
    shape = tuple(value)
    if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in shape):
        raise ValueError(f"{name}: expected (C, H, W) with positive ints, got {value!r}")
    return tuple(int(v) for v in shape)


class WindowGeometry:
    """Sliding windows over an image of shape (C, H, W): the part shared by convolution and pooling.

    Parameters
    ----------
    input_shape : (C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
        As in ``torch.nn.Conv2d``: H_out = floor((H + 2 p_H - d_H (k_H - 1) - 1) / s_H) + 1, likewise W_out.

    Notes
    -----
    Window element r = k_i * k_W + k_j (row-major over the kernel) of output position (h, w) reads the padded input
    at row h s_H + k_i d_H and column w s_W + k_j d_W.  ``gather`` / ``scatter`` are each other's transpose.
    """

    def __init__(self, input_shape, kernel_size, stride=1, padding=0, dilation=1):
        self.input_shape = _shape3(input_shape, "input_shape")
        self.kernel_size = _pair(kernel_size, "kernel_size", minimum=1)
        self.stride = _pair(stride, "stride", minimum=1)
        self.padding = _pair(padding, "padding", minimum=0)
        self.dilation = _pair(dilation, "dilation", minimum=1)
        C, H, W = self.input_shape
        sizes = []
        for axis, size in enumerate((H, W)):
            span = self.dilation[axis] * (self.kernel_size[axis] - 1) + 1
            padded = size + 2 * self.padding[axis]
            if padded < span:
                raise ValueError(f"kernel_size: effective kernel {span} exceeds the padded input size {padded} on "
                                 f"axis {axis} of input_shape {self.input_shape}")
            sizes.append((padded - span) // self.stride[axis] + 1)
        self.output_hw = tuple(sizes)

    @property
    def window_size(self) -> int:
        """Number of elements of one window, k_H k_W."""
        return self.kernel_size[0] * self.kernel_size[1]

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    def _slices(self):
        (kH, kW), (sH, sW), (dH, dW) = self.kernel_size, self.stride, self.dilation
        Ho, Wo = self.output_hw
        for ki in range(kH):
            for kj in range(kW):
                yield (slice(ki * dH, ki * dH + sH * (Ho - 1) + 1, sH), slice(kj * dW, kj * dW + sW * (Wo - 1) + 1, sW))

    def _padded(self, t: np.ndarray, fill) -> np.ndarray:
        C, H, W = self.input_shape
        pH, pW = self.padding
        image = t.reshape(t.shape[:-1] + (C, H, W))
        if not pH and not pW:
            return image
        out = np.full(t.shape[:-1] + (C, H + 2 * pH, W + 2 * pW), fill, dtype=t.dtype)
        out[..., pH:pH + H, pW:pW + W] = image
        return out

    def gather(self, t: np.ndarray, fill=0) -> np.ndarray:
        """Windows of flat images: (..., C*H*W) -> (..., C, k_H k_W, H_out, W_out); padding reads ``fill``."""
        padded = self._padded(t, fill)
        (kH, kW), (sH, sW), (dH, dW) = self.kernel_size, self.stride, self.dilation
        Ho, Wo = self.output_hw
        *lead, strideC, strideH, strideW = padded.strides
        view = np.lib.stride_tricks.as_strided(  # (..., C, k_H, k_W, H_out, W_out), a read-only view
            padded, padded.shape[:-2] + (kH, kW, Ho, Wo),
            tuple(lead) + (strideC, dH * strideH, dW * strideW, sH * strideH, sW * strideW), writeable=False)
        return view.reshape(padded.shape[:-2] + (kH * kW, Ho, Wo))

    def scatter(self, cols: np.ndarray) -> np.ndarray:
        """Transpose of ``gather`` (fill 0): (..., C, k_H k_W, H_out, W_out) -> (..., C*H*W), overlaps summed."""
        C, H, W = self.input_shape
        pH, pW = self.padding
        lead = cols.shape[:-4]
        padded = np.zeros(lead + (C, H + 2 * pH, W + 2 * pW), dtype=cols.dtype)
        for r, (rows, cc) in enumerate(self._slices()):
            padded[..., rows, cc] += cols[..., r, :, :]
        return padded[..., pH:pH + H, pW:pW + W].reshape(lead + (C * H * W,))

    def window_index(self) -> np.ndarray:
        """Flat input index read by every window element, int (C, k_H k_W, H_out, W_out); -1 marks padding."""
        return self.gather(np.arange(self.in_features), fill=-1)

    def describe(self) -> str:
        parts = [f"kernel_size={self.kernel_size}"]
        for name, default in (("stride", (1, 1)), ("padding", (0, 0)), ("dilation", (1, 1))):
            if getattr(self, name) != default:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts)


class WindowedLayer:
    """Shapes of a layer that slides windows over (C, H, W) images: Conv2d, AvgPool2d and MaxPool2d.

    A subclass sets ``self.geometry`` (a :class:`WindowGeometry`); its output has ``out_channels`` channels (the
    input's, unless the subclass says otherwise) of H_out x W_out, flattened in row-major (C, H, W) order.
    """

    geometry: WindowGeometry

    @property
    def input_shape(self) -> tuple:
        return self.geometry.input_shape

    @property
    def out_channels(self) -> int:
        return self.input_shape[0]

    @property
    def output_shape(self) -> tuple:
        return (self.out_channels,) + self.geometry.output_hw

    @property
    def in_features(self) -> int:
        return self.geometry.in_features

    @property
    def out_features(self) -> int:
        return int(np.prod(self.output_shape))


def _receptive_field(geo: WindowGeometry, d_out: int, channels_out: int, groups: int) -> np.ndarray:
    """bool (d_out, d_in) connectivity of a windowed layer whose output channel o reads the input channels of
    group o // (channels_out / groups) (groups = C_in for per-channel pooling)."""
    Ho, Wo = geo.output_hw
    index = geo.window_index().reshape(groups, -1, Ho * Wo)  # (G, C/G K, P)
    cols = np.repeat(index, channels_out // groups, axis=0)  # (C_out, C/G K, P)
    rows = np.broadcast_to(np.arange(d_out).reshape(channels_out, 1, Ho * Wo), cols.shape)
    keep = cols >= 0
    field = np.zeros((d_out, geo.in_features), dtype=bool)
    field[rows[keep], cols[keep]] = True
    return field


class Conv2d(WindowedLayer):
    """2-D cross-correlation with bias, as ``torch.nn.Conv2d`` (zero padding), on flat batches.

    Parameters
    ----------
    W : array_like, shape (C_out, C_in / groups, k_H, k_W)
        Kernels.
    b : array_like, shape (C_out,)
        One bias per output channel.
    input_shape : (C_in, H, W)
        Shape of one input image; inputs are flat vectors of length C_in H W in row-major order.
    stride, padding, dilation : int or (int, int)
    groups : int
        C_in and C_out must both be divisible by it; output channel o reads input channels of group
        o // (C_out / groups).

    Notes
    -----
    z[o, h, w] = b_o + sum_{c, k_i, k_j} W[o, c, k_i, k_j] a_pad[g C_in/groups + c, h s_H + k_i d_H, w s_W + k_j d_W]
    with g the group of o.  As an affine layer it is z = W_dense a + b_dense with the sparse dense matrix returned by
    ``weight_matrix()``; ``forward`` never builds it (im2col gather, then one matrix product per group).
    """

    kind = "affine"

    def __init__(self, W, b, *, input_shape, stride=1, padding=0, dilation=1, groups=1):
        W = as_array(W, "W", ndim=4)
        b = as_array(b, "b", ndim=1)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ValueError(f"groups: expected a positive int, got {groups!r}")
        groups = int(groups)
        C_out, C_in_g, kH, kW = W.shape
        if b.shape[0] != C_out:
            raise ValueError(f"b: expected shape ({C_out},) to match W of shape {W.shape}, got {b.shape}")
        if is_exact(W) != is_exact(b):
            raise ValueError(f"W and b must both be exact (object) or both float64, got {W.dtype} and {b.dtype}")
        shape = _shape3(input_shape, "input_shape")
        if C_out % groups or shape[0] != C_in_g * groups:
            raise ValueError(f"W: shape {W.shape} with groups={groups} needs C_out divisible by groups and "
                             f"input_shape[0] = {C_in_g} * {groups}, got input_shape {shape}")
        self.W, self.b, self.groups = frozen(W), frozen(b), groups  # read-only: build a new layer to change them
        self.geometry = WindowGeometry(shape, (kH, kW), stride, padding, dilation)

    # ------------------------------------------------------------------ shapes
    @property
    def out_channels(self) -> int:
        return self.W.shape[0]

    @property
    def exact(self) -> bool:
        return is_exact(self.W)

    def _grouped_kernels(self, W=None) -> np.ndarray:
        """Kernels as (groups, C_out/groups, C_in/groups * k_H k_W), matching the layout of ``gather``."""
        W = self.W if W is None else W
        return W.reshape(self.groups, W.shape[0] // self.groups, -1)

    # ------------------------------------------------------------------ maps
    def apply_kernels(self, t: np.ndarray, W=None) -> np.ndarray:
        """Cross-correlate flat images with kernels ``W`` (default: the layer's), no bias.

        t : (..., C_in H W) -> (..., C_out H_out W_out).  Rules use it with modified kernels (e.g. W^+).
        """
        Wg = self._grouped_kernels(W)
        cols = self.geometry.gather(t)
        lead = cols.shape[:-4]
        P = cols.shape[-1] * cols.shape[-2]
        cols = cols.reshape(lead + (self.groups, -1, P))
        return (Wg @ cols).reshape(lead + (-1,))

    def apply_kernels_T(self, g: np.ndarray, W=None) -> np.ndarray:
        """Transpose of ``apply_kernels``: (..., C_out H_out W_out) -> (..., C_in H W)."""
        Wg = self._grouped_kernels(W)
        lead = g.shape[:-1]
        Ho, Wo = self.geometry.output_hw
        g = g.reshape(lead + (self.groups, Wg.shape[1], Ho * Wo))
        cols = np.swapaxes(Wg, -1, -2) @ g
        C = self.input_shape[0]
        return self.geometry.scatter(cols.reshape(lead + (C, self.geometry.window_size, Ho, Wo)))

    def forward(self, a: np.ndarray) -> np.ndarray:
        """z = conv(a, W) + b for a of shape (n, C_in H W); returns (n, C_out H_out W_out)."""
        return self.apply_kernels(a) + self.bias_vector()

    def linear(self, t: np.ndarray) -> np.ndarray:
        """Linear part on the last axis: (..., d_in) -> (..., d_out)."""
        return self.apply_kernels(t)

    def linear_T(self, g: np.ndarray) -> np.ndarray:
        """Transpose of the linear part on the last axis: (..., d_out) -> (..., d_in)."""
        return self.apply_kernels_T(g)

    def weight_matrix(self) -> np.ndarray:
        """The dense matrix, shape (C_out H_out W_out, C_in H W); mostly zeros.

        Row (o, h, w) holds W[o, c, k_i, k_j] at the column of the input pixel that window element (k_i, k_j) of
        channel c reads; padding reads nothing.  Built by one scatter of the kernel entries (no loop per neuron).
        """
        geo = self.geometry
        C_out = self.W.shape[0]
        Ho, Wo = geo.output_hw
        C_in_g = self.W.shape[1]
        index = geo.window_index().reshape(self.groups, C_in_g * geo.window_size, Ho * Wo)  # (G, K, P)
        co_g = C_out // self.groups
        cols = np.broadcast_to(index[:, None, :, :], (self.groups, co_g) + index.shape[1:])  # (G, co_g, K, P)
        vals = np.broadcast_to(self._grouped_kernels()[..., None], cols.shape)
        rows = np.broadcast_to(np.arange(C_out * Ho * Wo).reshape(self.groups, co_g, 1, Ho * Wo), cols.shape)
        keep = cols >= 0
        M = np.zeros((C_out * Ho * Wo, self.in_features), dtype=self.W.dtype)
        M[rows[keep], cols[keep]] = vals[keep]
        return M

    def receptive_field(self) -> np.ndarray:
        """bool (d_out, d_in): True where output unit j reads input i (its window in its group's channels).

        Root searches on a convolution move only these inputs (the search direction restricted to the receptive
        field); entries of ``weight_matrix()`` outside it are structurally zero.
        """
        return _receptive_field(self.geometry, self.out_features, self.W.shape[0], self.groups)

    def bias_vector(self) -> np.ndarray:
        """The bias of every output unit, shape (C_out H_out W_out,): b_o repeated over positions."""
        return np.repeat(self.b, self.geometry.output_hw[0] * self.geometry.output_hw[1])

    def map_arrays(self, fn) -> "Conv2d":
        """A copy with ``fn`` applied to W and b (used for exact conversion)."""
        return self.with_parameters(fn(self.W), fn(self.b))

    def with_parameters(self, W, b) -> "Conv2d":
        """The same geometry with new kernels and biases."""
        geo = self.geometry
        return Conv2d(W, b, input_shape=geo.input_shape, stride=geo.stride, padding=geo.padding,
                      dilation=geo.dilation, groups=self.groups)

    def __repr__(self) -> str:
        extra = self.geometry.describe() + (f", groups={self.groups}" if self.groups != 1 else "")
        return (f"Conv2d({self.input_shape} -> {self.output_shape}, {extra}"
                f"{', exact' if self.exact else ''})")


class Flatten:
    """Flatten (C, H, W) images to vectors: the identity on the engine's flat batches.

    ``Network`` drops ``Flatten`` layers when it is built (after checking the size, if ``input_shape`` is given), so
    a Flatten counts neither as an affine layer nor as an activation layer: ``relevance[k]`` / ``roots[k]`` of DTD and
    ``trace.a[k]`` index the same layers with or without it.  It exists so that networks read from PyTorch, and
    written by hand, can mirror ``torch.nn.Flatten``.

    Parameters
    ----------
    input_shape : tuple of int, optional
        Shape of one input; if given, ``in_features = out_features = prod(input_shape)``.
    """

    kind = "flatten"
    exact = False

    def __init__(self, input_shape=None):
        if input_shape is not None:
            shape = tuple(input_shape)
            if not shape or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in shape):
                raise ValueError(f"input_shape: expected a tuple of positive ints, got {input_shape!r}")
            input_shape = tuple(int(v) for v in shape)
        self.input_shape = input_shape

    @property
    def in_features(self):
        return None if self.input_shape is None else int(np.prod(self.input_shape))

    out_features = in_features

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a

    def map_arrays(self, fn) -> "Flatten":
        return self

    def __repr__(self) -> str:
        return f"Flatten({'' if self.input_shape is None else self.input_shape})"
