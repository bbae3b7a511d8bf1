"""The torch modules of a dtd-ref network (used by :func:`dtd_ref.io.to_torch`; torch is imported by the caller).

dtd-ref layers read flat batches (n, d), with images in row-major (C, H, W) order; torch's image layers read
(n, C, H, W).  The module list therefore reshapes where the layout changes: ``nn.Unflatten(1, (C, H, W))`` before an
image layer (Conv2d, AvgPool2d, MaxPool2d) whose input is flat or has another shape, ``nn.Flatten()`` before a
Linear that follows an image layer and at the end if the network ends with one.  The torch model thus takes and
returns the same flat arrays as the network.  :func:`dtd_ref.io.from_torch` reads the ``Unflatten`` back as the
shape of the next image layer, so no ``input_shape`` is needed for the round trip.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d
from .layers import Dense, LeakyReLU, ReLU
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["torch_modules"]


def _parameter(torch, module, name: str, array: np.ndarray) -> None:
    """Copy a float64 array into ``module.<name>`` (created float64 by the caller), bit for bit."""
    with torch.no_grad():
        getattr(module, name).copy_(torch.from_numpy(np.array(array, dtype=np.float64)))  # a writeable copy


def _module(torch, layer):
    """The torch module computing one dtd-ref layer on tensors of its own layout."""
    nn = torch.nn
    geo = getattr(layer, "geometry", None)
    if isinstance(layer, Dense):
        module = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        _parameter(torch, module, "weight", layer.W)
        _parameter(torch, module, "bias", layer.b)
        return module
    if isinstance(layer, Conv2d):
        module = nn.Conv2d(layer.input_shape[0], layer.W.shape[0], geo.kernel_size, stride=geo.stride,
                           padding=geo.padding, dilation=geo.dilation, groups=layer.groups, dtype=torch.float64)
        _parameter(torch, module, "weight", layer.W)
        _parameter(torch, module, "bias", layer.b)
        return module
    if isinstance(layer, AvgPool2d):
        return nn.AvgPool2d(geo.kernel_size, geo.stride, geo.padding, count_include_pad=layer.count_include_pad)
    if isinstance(layer, MaxPool2d):
        return nn.MaxPool2d(geo.kernel_size, geo.stride, geo.padding, geo.dilation)
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(float(layer.negative_slope))
    if isinstance(layer, ReLU):
        return nn.ReLU()
    raise ValueError(f"net: {layer!r} has no torch counterpart (supported: Dense, ReLU, LeakyReLU, Conv2d, "
                     f"AvgPool2d, MaxPool2d)")


def torch_modules(torch, net) -> list:
    """The list of torch modules that computes ``net`` (a float64 Network) on flat inputs (n, d_in).

    ``Unflatten`` / ``Flatten`` modules are inserted where the layout changes between flat vectors and (C, H, W)
    images (module docstring); every other module is one layer of ``net``, in order.
    """
    nn = torch.nn
    modules, shape = [], None  # shape: the (C, H, W) of the tensor at this point, None while it is flat
    for layer in net.layers:
        if isinstance(layer, (Conv2d, AvgPool2d, MaxPool2d)):
            if shape != layer.input_shape:
                if shape is not None:
                    modules.append(nn.Flatten())
                modules.append(nn.Unflatten(1, layer.input_shape))
            modules.append(_module(torch, layer))
            shape = layer.output_shape
            continue
        if layer.kind == "affine" and shape is not None:
            modules.append(nn.Flatten())
            shape = None
        modules.append(_module(torch, layer))
    if shape is not None:
        modules.append(nn.Flatten())
    return modules
