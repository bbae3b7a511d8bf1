"""Saving and loading networks (a versioned ``.npz`` layout, never pickle); PyTorch models in and out.

File layout, format ``dtd-ref-network`` version 1 (every entry a plain numeric or unicode array, so the file is read
with ``allow_pickle=False``)::

    format                 str   "dtd-ref-network"
    version                int64 1
    exact                  bool  True for an exact (Fraction) network
    kinds                  str   (L,) layer kinds: "dense", "relu", "leaky_relu", "conv2d", "avg_pool2d",
                                 "max_pool2d"
    layer{l}.W, layer{l}.b           float64 (d_out, d_in), (d_out,)        float networks
    layer{l}.W.num, layer{l}.W.den   str (d_out, d_in) decimal integers     exact networks (likewise .b)
    layer{l}.negative_slope          float64 ()  or  .num / .den str ()     leaky_relu only
    layer{l}.W, layer{l}.b           (C_out, C_in/groups, kH, kW), (C_out,) conv2d (float or num/den as above)
    layer{l}.input_shape             int64 (3,)                             conv2d, avg_pool2d, max_pool2d
    layer{l}.kernel_size, .stride, .padding, .dilation   int64 (2,)        (kernel_size: pooling only;
    layer{l}.groups                  int64 ()                                dilation: conv2d, max_pool2d)
    layer{l}.count_include_pad       bool ()                                avg_pool2d only

Flatten layers are not stored: ``Network`` drops them (they are the identity on flat batches).

Exact values are stored as numerator / denominator pairs of decimal strings, so integers of any size survive.  A
float array is stored as it is, so ``load(save(net))`` is bit for bit the same network (including -0.0).
"""

from __future__ import annotations

import os
import re
import zipfile
from fractions import Fraction

import numpy as np

from .layers import Dense, LeakyReLU, ReLU
from .network import Network

__all__ = ["save", "load", "from_torch", "to_torch", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "dtd-ref-network"
FORMAT_VERSION = 1
_INTEGER = re.compile(r"-?[0-9]+\Z")


# ---------------------------------------------------------------------------------------------------- save
def _encode_array(prefix: str, array: np.ndarray, exact: bool) -> dict:
    if not exact:
        return {prefix: np.asarray(array, dtype=np.float64)}
    values = [v if isinstance(v, Fraction) else Fraction(v) for v in np.asarray(array, dtype=object).flat]
    shape = np.shape(array)
    return {
        f"{prefix}.num": np.array([str(v.numerator) for v in values], dtype=str).reshape(shape),
        f"{prefix}.den": np.array([str(v.denominator) for v in values], dtype=str).reshape(shape),
    }


def _encode_layer(index: int, layer, exact: bool) -> tuple[str, dict]:
    prefix = f"layer{index}"
    if isinstance(layer, Dense):
        return "dense", {**_encode_array(f"{prefix}.W", layer.W, exact), **_encode_array(f"{prefix}.b", layer.b, exact)}
    if isinstance(layer, LeakyReLU):
        slope = layer.negative_slope
        return "leaky_relu", _encode_array(f"{prefix}.negative_slope", np.array(slope, dtype=object)
                                           if isinstance(slope, Fraction) else np.array(slope, dtype=float),
                                           isinstance(slope, Fraction))
    if type(layer) is ReLU:
        return "relu", {}
    from ._io_conv import encode_image_layer  # conv / pooling geometry

    encoded = encode_image_layer(prefix, layer, lambda key, array: _encode_array(key, array, exact))
    if encoded is not None:
        return encoded
    raise ValueError(f"net: layer {index} ({layer!r}) has no .npz encoding; supported: Dense, ReLU, LeakyReLU, "
                     f"Conv2d, AvgPool2d, MaxPool2d")


def save(net: Network, path) -> None:
    """Write ``net`` to ``path`` (a file name or a binary file object) in the ``dtd-ref-network`` v1 layout.

    The file is written exactly at ``path`` (no ``.npz`` suffix is appended).  Weights are stored losslessly: float64
    bit for bit, exact networks as numerator / denominator decimal strings.
    """
    if not isinstance(net, Network):
        raise ValueError(f"net: expected a Network, got {type(net).__name__}")
    arrays = {"format": np.array(FORMAT_NAME), "version": np.array(FORMAT_VERSION, dtype=np.int64),
              "exact": np.array(bool(net.exact))}
    kinds = []
    for index, layer in enumerate(net.layers):
        kind, entries = _encode_layer(index, layer, net.exact)
        kinds.append(kind)
        arrays.update(entries)
    arrays["kinds"] = np.array(kinds, dtype=str)
    if isinstance(path, (str, os.PathLike)):
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        np.savez(path, **arrays)


# ---------------------------------------------------------------------------------------------------- load
class _Reader:
    """Typed access to the arrays of an opened file, with errors that name the file and the entry."""

    def __init__(self, archive, where: str):
        self.archive, self.where, self.used = archive, where, set()

    def fail(self, message: str):
        raise ValueError(f"{self.where}: {message}")

    def get(self, key: str) -> np.ndarray:
        if key not in self.archive.files:
            self.fail(f"missing entry {key!r} (found {sorted(self.archive.files)[:12]})")
        self.used.add(key)
        try:
            value = self.archive[key]
        except ValueError as error:  # object arrays need pickle
            self.fail(f"entry {key!r} cannot be read without pickle ({error}); dtd-ref files never contain pickles")
        except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
            self.fail(f"entry {key!r} is corrupt or truncated ({type(error).__name__}: {error})")
        if not isinstance(value, np.ndarray):
            self.fail(f"entry {key!r} is not a .npy array")
        return value

    def string(self, key: str) -> str:
        value = self.get(key)
        if value.dtype.kind != "U" or value.ndim != 0:
            self.fail(f"entry {key!r}: expected a unicode scalar, got {value.dtype} of shape {value.shape}")
        return str(value)

    def floats(self, key: str, ndim: int) -> np.ndarray:
        value = self.get(key)
        if value.dtype != np.float64 or value.ndim != ndim:
            self.fail(f"entry {key!r}: expected float64 with {ndim} dimensions, got {value.dtype} of shape "
                      f"{value.shape}")
        return value

    def fractions(self, key: str, ndim: int) -> np.ndarray:
        num, den = self.get(f"{key}.num"), self.get(f"{key}.den")
        for name, value in ((f"{key}.num", num), (f"{key}.den", den)):
            if value.dtype.kind != "U" or value.ndim != ndim:
                self.fail(f"entry {name!r}: expected decimal strings with {ndim} dimensions, got {value.dtype} of "
                          f"shape {value.shape}")
        if num.shape != den.shape:
            self.fail(f"entries {key}.num and {key}.den: shapes {num.shape} and {den.shape} differ")
        out = np.empty(num.shape, dtype=object)
        for i, (p, q) in enumerate(zip(num.flat, den.flat)):
            p, q = str(p), str(q)
            if not (_INTEGER.match(str(p)) and _INTEGER.match(str(q))) or str(q).startswith("-") or int(q) == 0:
                self.fail(f"entry {key}: {p!r}/{q!r} is not a fraction with a positive denominator")
            out.flat[i] = Fraction(int(p), int(q))
        return out

    def array(self, key: str, ndim: int, exact: bool) -> np.ndarray:
        return self.fractions(key, ndim) if exact else self.floats(key, ndim)


def _decode_layer(reader: _Reader, index: int, kind: str, exact: bool):
    prefix = f"layer{index}"
    if kind == "dense":
        return Dense(reader.array(f"{prefix}.W", 2, exact), reader.array(f"{prefix}.b", 1, exact))
    if kind == "relu":
        return ReLU()
    if kind == "leaky_relu":
        key = f"{prefix}.negative_slope"
        slope = reader.fractions(key, 0).item() if f"{key}.num" in reader.archive.files else \
            float(reader.floats(key, 0))
        return LeakyReLU(slope)
    from ._io_conv import IMAGE_LAYER_KINDS, decode_image_layer

    if kind in IMAGE_LAYER_KINDS:
        return decode_image_layer(reader, prefix, kind, exact)
    reader.fail(f"layer {index}: unknown kind {kind!r} (known: dense, relu, leaky_relu, "
                f"{', '.join(IMAGE_LAYER_KINDS)})")


def load(path) -> Network:
    """Read a network written by :func:`save` (file name or binary file object), never unpickling anything.

    Raises
    ------
    ValueError
        The file is not a zip archive, is truncated, contains pickled data, has another format name or version,
        misses or has unexpected entries, has wrong dtypes or shapes, or describes inconsistent layer sizes.
    """
    where = os.fspath(path) if isinstance(path, (str, os.PathLike)) else "file"
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except ValueError as error:
        raise ValueError(f"{where}: not a dtd-ref .npz file ({error})") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{where}: unreadable or truncated .npz file ({type(error).__name__}: {error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: expected an .npz archive, found a single .npy array")
    with archive:
        reader = _Reader(archive, where)
        name = reader.string("format")
        if name != FORMAT_NAME:
            reader.fail(f"format {name!r} is not {FORMAT_NAME!r}")
        version = reader.get("version")
        if version.dtype.kind not in "iu" or version.ndim != 0:
            reader.fail(f"entry 'version': expected an integer scalar, got {version.dtype} of shape {version.shape}")
        if int(version) != FORMAT_VERSION:
            reader.fail(f"format version {int(version)} is not supported (this dtd-ref reads version {FORMAT_VERSION})")
        exact = reader.get("exact")
        if exact.dtype != bool or exact.ndim != 0:
            reader.fail(f"entry 'exact': expected a bool scalar, got {exact.dtype} of shape {exact.shape}")
        kinds = reader.get("kinds")
        if kinds.dtype.kind != "U" or kinds.ndim != 1:
            reader.fail(f"entry 'kinds': expected a 1-d array of strings, got {kinds.dtype} of shape {kinds.shape}")
        try:
            layers = [_decode_layer(reader, index, str(kind), bool(exact)) for index, kind in enumerate(kinds)]
            unused = sorted(set(archive.files) - reader.used)
            if unused:
                reader.fail(f"unexpected entries {unused[:12]}: the file does not match its own layer list")
            return Network(layers)
        except ValueError as error:
            if str(error).startswith(f"{where}:"):
                raise
            raise ValueError(f"{where}: inconsistent network ({error})") from error


# ---------------------------------------------------------------------------------------------------- torch
def _torch_array(tensor) -> np.ndarray:
    """A float64 NumPy copy of a tensor (float32 -> float64 is exact)."""
    import torch

    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _convert_linear(module, layers: list) -> None:
    W = _torch_array(module.weight)
    b = _torch_array(module.bias) if module.bias is not None else np.zeros(W.shape[0])
    layers.append(Dense(W, b))


def _convert_relu(module, layers: list) -> None:
    layers.append(ReLU())


def _convert_leaky_relu(module, layers: list) -> None:
    layers.append(LeakyReLU(float(module.negative_slope)))


# torch.nn class name -> converter(module, layers) appending to (or, for folding, rewriting) the layers built so far.
# A new layer type is one small function and one entry here (Conv2d, pooling, Flatten, BatchNorm folded into the
# preceding affine layer); the order of the entries matters only for subclasses.
_TORCH_CONVERTERS = (
    ("Linear", _convert_linear),
    ("LeakyReLU", _convert_leaky_relu),
    ("ReLU", _convert_relu),
)


def _flatten(module, name: str):
    import torch.nn as nn

    if isinstance(module, nn.Sequential):
        for child_name, child in module.named_children():
            yield from _flatten(child, f"{name}.{child_name}" if name else child_name)
    else:
        yield name or type(module).__name__, module


def from_torch(module, *, input_shape=None) -> Network:
    """Convert a ``torch.nn.Sequential`` of Linear / ReLU / LeakyReLU (or a single such module) to a Network.

    Conv2d, MaxPool2d, AvgPool2d, Flatten, Unflatten(1, (C, H, W)) and BatchNorm1d/2d (folded into the Linear /
    Conv2d before it, eval semantics) are converted by :mod:`dtd_ref._torch_conv`; a module starting with a
    convolution or pooling needs ``input_shape=(C, H, W)`` of one input image, or a leading
    ``nn.Unflatten(1, (C, H, W))`` as :func:`to_torch` writes (the network then takes flat inputs (n, C*H*W)).

    Weights are copied as float64 (torch float32 widens exactly); the result computes the module's forward pass in
    float64.  Nested ``Sequential`` containers are flattened.  torch is imported only here.

    Raises
    ------
    ImportError
        torch is not installed.
    ValueError
        ``module`` is not an ``nn.Module``, or contains a module with no converter (named with its position).
    """
    try:
        import torch.nn as nn
    except ImportError as error:
        raise ImportError("from_torch needs PyTorch: pip install 'dtd-ref[torch]' (or a CPU build of torch)") from error
    if not isinstance(module, nn.Module):
        raise ValueError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    from ._torch_conv import CONV_CONVERTERS

    converters = [(getattr(nn, name), convert) for name, convert in _TORCH_CONVERTERS]
    converters += [(getattr(nn, name), lambda child, layers, convert=convert: convert(child, layers, input_shape))
                   for name, convert in CONV_CONVERTERS]
    layers: list = []
    for name, child in _flatten(module, ""):
        for cls, convert in converters:
            if isinstance(child, cls):
                convert(child, layers)
                break
        else:
            supported = ", ".join(name for name, _ in _TORCH_CONVERTERS + CONV_CONVERTERS)
            raise ValueError(f"module: {name} is a {type(child).__name__}, which has no converter (supported: "
                             f"{supported})")
    if not layers:
        raise ValueError("module: contains no layers")
    return Network(layers)


def to_torch(net):
    """The float64 ``torch.nn.Sequential`` that computes ``net``: the inverse of :func:`from_torch`.

    Dense -> ``Linear``, ReLU / LeakyReLU -> ``ReLU`` / ``LeakyReLU``, Conv2d -> ``Conv2d`` (zero padding, groups,
    dilation), AvgPool2d / MaxPool2d -> ``AvgPool2d`` / ``MaxPool2d`` with the same geometry; parameters are copied
    as float64, bit for bit.  The model takes and returns the network's flat arrays: ``model(torch.from_numpy(x))``
    equals ``net(x)`` for x of shape (n, d_in), up to torch's summation order.  Where the layout changes it holds
    ``nn.Unflatten(1, (C, H, W))`` (before an image layer that reads a flat vector, e.g. a first Conv2d) and
    ``nn.Flatten()`` (before a Linear after image layers, and at the end after a final image layer).
    ``from_torch(to_torch(net))`` reads those back and gives ``net`` again, bit for bit, with no ``input_shape``.
    The model is returned in eval mode; torch is imported only here.

    Raises
    ------
    ImportError
        torch is not installed.
    ValueError
        ``net`` is not a Network, is exact (its Fractions have no float64 torch twin; convert the float network
        instead), or holds a layer with no torch counterpart.
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError("to_torch needs PyTorch: pip install 'dtd-ref[torch]' (or a CPU build of torch)") from error
    if not isinstance(net, Network):
        raise ValueError(f"net: expected a Network, got {type(net).__name__}")
    if net.exact:
        raise ValueError("net: an exact (Fraction) network has no float64 torch twin; convert the float network")
    from ._torch_export import torch_modules

    return torch.nn.Sequential(*torch_modules(torch, net)).eval()
