"""``from_torch`` converters for convolution, pooling, Flatten / Unflatten and batch norm (see :mod:`dtd_ref.io`).

Each converter has the signature ``convert(module, layers, input_shape)`` and appends to (or, for batch norm,
rewrites the last entry of) ``layers``, the dtd-ref layers built so far.  Convolutions and pooling need the shape
(C, H, W) of their input: it is the ``output_shape`` of the last conv / pooling layer built, or ``input_shape`` (the
argument of ``from_torch``) when the module starts with one.  Only torch's defaults that the engine implements are
accepted (zero padding, ``ceil_mode=False``, no ``divisor_override``); anything else raises ValueError naming it.
torch is imported by the caller.
"""

from __future__ import annotations

import numpy as np

from .batchnorm import fold_batchnorm
from .conv import Conv2d, Flatten
from .layers import Dense
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["CONV_CONVERTERS", "import_zennit"]


def import_zennit():
    """Import zennit (for cross-checks and benchmarks); raises ImportError if it is not installed.

    zennit's top-level module imports torchvision only for its ResNet canonizers, which dtd-ref never uses, and CI
    installs zennit without dependencies (a torchvision wheel would not match the pinned torch build).  When
    torchvision is missing, a stub module with the two class names zennit imports is registered first.
    """
    import sys
    import types

    import torch

    try:
        import torchvision  # noqa: F401
    except ImportError:
        stub = types.ModuleType("torchvision")
        models = types.ModuleType("torchvision.models")
        resnet = types.ModuleType("torchvision.models.resnet")
        resnet.Bottleneck = type("Bottleneck", (torch.nn.Module,), {})
        resnet.BasicBlock = type("BasicBlock", (torch.nn.Module,), {})
        stub.models, models.resnet = models, resnet
        sys.modules.update({"torchvision": stub, "torchvision.models": models, "torchvision.models.resnet": resnet})
    import zennit

    return zennit


def _array(tensor) -> np.ndarray:
    import torch

    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _shape(layers: list, input_shape, what: str) -> tuple:
    """The (C, H, W) shape entering the next layer."""
    for layer in reversed(layers):
        if hasattr(layer, "output_shape"):
            return layer.output_shape
        if layer.kind in ("affine", "flatten"):
            break
        # elementwise activations keep the shape
    else:
        if input_shape is not None:
            shape = tuple(int(v) for v in input_shape)
            if len(shape) != 3:
                raise ValueError(f"input_shape: expected (C, H, W), got {input_shape!r}")
            return shape
        raise ValueError(f"input_shape: a module starting with {what} needs from_torch(module, input_shape=(C, H, W))")
    raise ValueError(f"module: {what} follows a flat layer; image layers need an image-shaped input")


def _require(module, name: str, condition: bool, wanted: str) -> None:
    if not condition:
        raise ValueError(f"module: {type(module).__name__} with {name}={getattr(module, name)!r} is not supported "
                         f"(only {wanted})")


def _padding(module, kernel, dilation) -> tuple:
    padding = module.padding
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        span = [d * (k - 1) for k, d in zip(kernel, dilation)]
        _require(module, "padding", all(s % 2 == 0 for s in span), "'same' with an even dilation * (kernel - 1)")
        return tuple(s // 2 for s in span)
    return tuple(padding)


def _convert_conv2d(module, layers: list, input_shape) -> None:
    _require(module, "padding_mode", module.padding_mode == "zeros", "'zeros'")
    shape = _shape(layers, input_shape, "Conv2d")
    W = _array(module.weight)
    b = _array(module.bias) if module.bias is not None else np.zeros(W.shape[0])
    layers.append(Conv2d(W, b, input_shape=shape, stride=tuple(module.stride),
                         padding=_padding(module, module.kernel_size, module.dilation),
                         dilation=tuple(module.dilation), groups=module.groups))


def _convert_maxpool2d(module, layers: list, input_shape) -> None:
    _require(module, "ceil_mode", not module.ceil_mode, "ceil_mode=False")
    _require(module, "return_indices", not module.return_indices, "return_indices=False")
    shape = _shape(layers, input_shape, "MaxPool2d")
    layers.append(MaxPool2d(shape, module.kernel_size, module.stride, module.padding, module.dilation))


def _convert_avgpool2d(module, layers: list, input_shape) -> None:
    _require(module, "ceil_mode", not module.ceil_mode, "ceil_mode=False")
    _require(module, "divisor_override", module.divisor_override is None, "divisor_override=None")
    shape = _shape(layers, input_shape, "AvgPool2d")
    layers.append(AvgPool2d(shape, module.kernel_size, module.stride, module.padding,
                            count_include_pad=module.count_include_pad))


def _convert_flatten(module, layers: list, input_shape) -> None:
    _require(module, "start_dim", module.start_dim == 1, "start_dim=1")
    _require(module, "end_dim", module.end_dim == -1, "end_dim=-1")
    shape = None
    for layer in reversed(layers):
        if hasattr(layer, "output_shape"):
            shape = layer.output_shape
            break
        if layer.kind in ("affine", "flatten"):
            break
    if shape is None and not layers and input_shape is not None:
        shape = tuple(input_shape)
    layers.append(Flatten(shape))


class _Unflatten(Flatten):
    """``nn.Unflatten(1, (C, H, W))``: the identity on flat batches (``Network`` drops it, as it drops Flatten)
    that gives the next image layer its input shape, ``output_shape``."""

    @property
    def output_shape(self) -> tuple:
        return self.input_shape


def _convert_unflatten(module, layers: list, input_shape) -> None:
    sizes = tuple(module.unflattened_size)
    _require(module, "dim", module.dim == 1, "dim=1")
    _require(module, "unflattened_size", len(sizes) == 3, "(C, H, W)")
    layers.append(_Unflatten(sizes))


def _convert_batchnorm(module, layers: list, input_shape) -> None:
    if module.running_mean is None or module.running_var is None:
        raise ValueError(f"module: {type(module).__name__} without running statistics cannot be folded")
    if not layers or not isinstance(layers[-1], (Dense, Conv2d)):
        raise ValueError(f"module: {type(module).__name__} must directly follow a Linear or Conv2d to be folded "
                         f"(found {layers[-1] if layers else 'nothing'!r} before it)")
    C = layers[-1].W.shape[0]
    gamma = _array(module.weight) if module.affine else np.ones(C)
    beta = _array(module.bias) if module.affine else np.zeros(C)
    layers[-1] = fold_batchnorm(layers[-1], gamma=gamma, beta=beta, running_mean=_array(module.running_mean),
                                running_var=_array(module.running_var), eps=float(module.eps))


#: torch.nn class name -> converter(module, layers, input_shape).  Batch norm is folded in eval semantics (running
#: statistics), whatever the module's training flag.
CONV_CONVERTERS = (
    ("Conv2d", _convert_conv2d),
    ("MaxPool2d", _convert_maxpool2d),
    ("AvgPool2d", _convert_avgpool2d),
    ("Flatten", _convert_flatten),
    ("Unflatten", _convert_unflatten),
    ("BatchNorm2d", _convert_batchnorm),
    ("BatchNorm1d", _convert_batchnorm),
)
