"""Convolutional network constructors: a LeNet-style network on 1x28x28 images and small conv nets for tests.

Initialisation follows PyTorch's defaults (as :func:`dtd_ref.models.mlp` does): ``nn.Conv2d`` and ``nn.Linear``
draw weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/groups k_H k_W for a convolution.
The networks are untrained: they are for exercising the engine, not for classifying digits.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d, Flatten
from .layers import Dense, ReLU
from .models import _rng
from .network import Network
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["lenet", "convnet", "LENET_INPUT_SHAPE"]

LENET_INPUT_SHAPE = (1, 28, 28)


def _conv(gen, input_shape, c_out, kernel_size, *, stride=1, padding=0, dilation=1, groups=1,
          positive_bias_factor=None) -> Conv2d:
    c_in = input_shape[0]
    bound = 1.0 / np.sqrt(c_in // groups * kernel_size * kernel_size)
    W = gen.uniform(-bound, bound, size=(c_out, c_in // groups, kernel_size, kernel_size))
    b = gen.uniform(-bound, bound, size=c_out)
    if positive_bias_factor is not None:
        b = np.where(b > 0, positive_bias_factor * b, b)
    return Conv2d(W, b, input_shape=input_shape, stride=stride, padding=padding, dilation=dilation, groups=groups)


def _dense(gen, d_in, d_out, positive_bias_factor=None) -> Dense:
    bound = 1.0 / np.sqrt(d_in)
    W = gen.uniform(-bound, bound, size=(d_out, d_in))
    b = gen.uniform(-bound, bound, size=d_out)
    if positive_bias_factor is not None:
        b = np.where(b > 0, positive_bias_factor * b, b)
    return Dense(W, b)


def _pool(kind: str, shape, size: int):
    if kind == "max":
        return MaxPool2d(shape, size)
    if kind == "avg":
        return AvgPool2d(shape, size)
    raise ValueError(f"pool: expected 'max' or 'avg', got {kind!r}")


def lenet(*, rng, channels=(6, 16), hidden=(120, 84), classes: int = 10, pool: str = "max",
          positive_bias_factor: float | None = None) -> Network:
    """A LeNet-5-style network on flat 1x28x28 inputs (n, 784).

    conv 5x5 (1 -> c1) - ReLU - pool 2 - conv 5x5 (c1 -> c2) - ReLU - pool 2 - Flatten - dense (c2*4*4 -> h1) - ReLU -
    dense (h1 -> h2) - ReLU - dense (h2 -> classes).  With the defaults: 784 -> 6x24x24 -> 6x12x12 -> 16x8x8 ->
    16x4x4 = 256 -> 120 -> 84 -> 10; affine layers k = 0..4 are conv1, conv2, dense1, dense2, dense3 (with
    ``pool="avg"`` the pooling layers are affine too and count: k = 0..6).

    Parameters
    ----------
    rng : numpy.random.Generator or int
    channels : (c1, c2)
    hidden : (h1, h2)
    classes : int
    pool : "max" or "avg"
    positive_bias_factor : float, optional
        If given, positive biases b become ``positive_bias_factor * b`` (e.g. -1 for biases <= 0, where the
        z+ rule's roots exist, THEORY.md §3).

    Examples
    --------
    >>> import numpy as np
    >>> from dtd_ref import rules
    >>> from dtd_ref.dtd import train_free_dtd
    >>> net = lenet(rng=0)
    >>> x = np.random.default_rng(1).random((2, 784))          # two flat 1x28x28 images in [0, 1)
    >>> e = train_free_dtd(net, x, rules.ZPlus(), output=3, return_roots=False)
    >>> e.relevance[0].shape                                    # one relevance map per image
    (2, 784)

    The same architecture from PyTorch: ``dtd_ref.io.from_torch(model, input_shape=(1, 28, 28))`` for a
    ``torch.nn.Sequential`` of Conv2d / ReLU / MaxPool2d / Flatten / Linear (batch norms are folded).
    """
    gen = _rng(rng)
    c1, c2 = channels
    h1, h2 = hidden
    conv1 = _conv(gen, LENET_INPUT_SHAPE, c1, 5, positive_bias_factor=positive_bias_factor)
    pool1 = _pool(pool, conv1.output_shape, 2)
    conv2 = _conv(gen, pool1.output_shape, c2, 5, positive_bias_factor=positive_bias_factor)
    pool2 = _pool(pool, conv2.output_shape, 2)
    d = pool2.out_features
    return Network([
        conv1, ReLU(), pool1, conv2, ReLU(), pool2, Flatten(pool2.output_shape),
        _dense(gen, d, h1, positive_bias_factor), ReLU(),
        _dense(gen, h1, h2, positive_bias_factor), ReLU(),
        _dense(gen, h2, classes, positive_bias_factor),
    ])


def convnet(input_shape, *, rng, channels=(2,), kernel_size: int = 3, stride: int = 1, padding: int = 0,
            dilation: int = 1, groups: int = 1, pool: str | None = "max", pool_size: int = 2, classes: int = 2,
            relu_on_output: bool = False, positive_bias_factor: float | None = None) -> Network:
    """A small conv net for tests: per entry of ``channels`` a conv - ReLU (- pool) block, then one dense layer.

    Parameters
    ----------
    input_shape : (C, H, W)
    rng : numpy.random.Generator or int
    channels : sequence of int
        Output channels of each conv block (each divisible by ``groups``, as is C).
    kernel_size, stride, padding, dilation, groups : int
        Geometry of every convolution.
    pool : "max", "avg" or None
        Pooling after each conv block's ReLU, window and stride ``pool_size``; skipped where the map is smaller.
    classes : int
        Width of the final dense layer.
    relu_on_output : bool
        Put a ReLU after the final dense layer.
    positive_bias_factor : float, optional
        See :func:`lenet`.
    """
    gen = _rng(rng)
    layers, shape = [], tuple(input_shape)
    for c_out in channels:
        conv = _conv(gen, shape, c_out, kernel_size, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, positive_bias_factor=positive_bias_factor)
        layers += [conv, ReLU()]
        shape = conv.output_shape
        if pool is not None and min(shape[1:]) >= pool_size:
            layers.append(_pool(pool, shape, pool_size))
            shape = layers[-1].output_shape
    d = int(np.prod(shape))
    layers += [Flatten(shape), _dense(gen, d, classes, positive_bias_factor)]
    if relu_on_output:
        layers.append(ReLU())
    return Network(layers)
