"""The ``.npz`` encoding of convolution and pooling layers (used by :func:`dtd_ref.io.save` / :func:`dtd_ref.io.load`).

Weights and biases of a ``Conv2d`` are stored like a Dense layer's (float64 bit for bit, or exact numerator /
denominator strings); the geometry as small int64 arrays, so a file is read with ``allow_pickle=False``.  An
``AvgPool2d`` stores no numbers: its exactness follows the network's ``exact`` flag.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["IMAGE_LAYER_KINDS", "encode_image_layer", "decode_image_layer"]

IMAGE_LAYER_KINDS = ("conv2d", "avg_pool2d", "max_pool2d")


def _ints(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def encode_image_layer(prefix: str, layer, encode_array):
    """(kind, entries) for a Conv2d / AvgPool2d / MaxPool2d, or None for any other layer.

    ``encode_array(key, array)`` stores a parameter array (float or exact) as the Dense encoding does.
    """
    geo = getattr(layer, "geometry", None)
    if geo is None:
        return None
    entries = {f"{prefix}.input_shape": _ints(geo.input_shape), f"{prefix}.stride": _ints(geo.stride),
               f"{prefix}.padding": _ints(geo.padding)}
    if isinstance(layer, Conv2d):
        entries.update(encode_array(f"{prefix}.W", layer.W))
        entries.update(encode_array(f"{prefix}.b", layer.b))
        entries.update({f"{prefix}.dilation": _ints(geo.dilation), f"{prefix}.groups": _ints(layer.groups)})
        return "conv2d", entries
    entries[f"{prefix}.kernel_size"] = _ints(geo.kernel_size)
    if isinstance(layer, AvgPool2d):
        entries[f"{prefix}.count_include_pad"] = np.asarray(layer.count_include_pad, dtype=bool)
        return "avg_pool2d", entries
    if isinstance(layer, MaxPool2d):
        entries[f"{prefix}.dilation"] = _ints(geo.dilation)
        return "max_pool2d", entries
    return None


def _read_ints(reader, key: str, shape: tuple) -> tuple:
    value = reader.get(key)
    if value.dtype.kind not in "iu" or value.shape != shape:
        reader.fail(f"entry {key!r}: expected integers of shape {shape}, got {value.dtype} of shape {value.shape}")
    return tuple(int(v) for v in value.flat) if shape else int(value)


def decode_image_layer(reader, prefix: str, kind: str, exact: bool):
    """Rebuild a layer written by :func:`encode_image_layer`; ``reader`` is io's checked archive reader."""
    shape = _read_ints(reader, f"{prefix}.input_shape", (3,))
    stride = _read_ints(reader, f"{prefix}.stride", (2,))
    padding = _read_ints(reader, f"{prefix}.padding", (2,))
    if kind == "conv2d":
        return Conv2d(reader.array(f"{prefix}.W", 4, exact), reader.array(f"{prefix}.b", 1, exact),
                      input_shape=shape, stride=stride, padding=padding,
                      dilation=_read_ints(reader, f"{prefix}.dilation", (2,)),
                      groups=_read_ints(reader, f"{prefix}.groups", ()))
    kernel = _read_ints(reader, f"{prefix}.kernel_size", (2,))
    if kind == "avg_pool2d":
        flag = reader.get(f"{prefix}.count_include_pad")
        if flag.dtype != bool or flag.ndim != 0:
            reader.fail(f"entry '{prefix}.count_include_pad': expected a bool scalar, got {flag.dtype} {flag.shape}")
        return AvgPool2d(shape, kernel, stride, padding, count_include_pad=bool(flag), exact=exact)
    return MaxPool2d(shape, kernel, stride, padding, _read_ints(reader, f"{prefix}.dilation", (2,)))
