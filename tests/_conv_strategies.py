"""Conv2d geometries for the conv tests (shared by test_conv.py and test_conv_crosscheck.py)."""

import numpy as np
from hypothesis import strategies as st

from dtd_ref.conv import Conv2d


@st.composite
def conv_configs(draw, *, max_groups: int, max_hw: int):
    """Valid Conv2d geometries with small shapes (the input is always at least one dilated kernel after padding).

    Returns a dict: c_in, c_out, k, hw, stride, padding, dilation, groups and a seed for the weights.
    """
    groups = draw(st.integers(1, max_groups))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    hw = tuple(draw(st.integers(max(1, dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]), max_hw)) for i in range(2))
    return dict(c_in=c_in, c_out=c_out, k=k, hw=hw, stride=stride, padding=padding, dilation=dilation,
                groups=groups, seed=draw(st.integers(0, 2**32 - 1)))


def conv_from_config(cfg, rng: np.random.Generator) -> Conv2d:
    """The Conv2d of ``cfg`` with standard-normal weights and biases drawn from ``rng`` (weights first)."""
    W = rng.normal(size=(cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["k"])
    b = rng.normal(size=cfg["c_out"])
    return Conv2d(W, b, input_shape=(cfg["c_in"],) + cfg["hw"], stride=cfg["stride"], padding=cfg["padding"],
                  dilation=cfg["dilation"], groups=cfg["groups"])
