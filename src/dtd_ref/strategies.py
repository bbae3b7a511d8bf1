"""Public hypothesis strategies: small piecewise-linear networks, inputs, and points on and near hinges.

Importable by other projects::

    from hypothesis import given
    from dtd_ref import strategies as dst

    @given(dst.networks(in_features=2, max_depth=3), dst.data())
    def test_something(net, data):
        x = data.draw(dst.inputs(net, batch=5))
        ...

Like ``hypothesis.extra.numpy``, every strategy takes keyword-only bounds that are validated when the strategy is
built (a bad bound raises ``ValueError`` at once, naming the argument).  Hypothesis itself is imported lazily, so
``import dtd_ref.strategies`` works without it and the first strategy you build says how to install it.

Weights and biases are drawn from the grid {k / weight_denominator : |k| <= weight_bound * weight_denominator}.  With
the default denominator 8 they are small dyadic rationals: exact arithmetic on them stays cheap and float64 holds them
without rounding, yet the grid is fine enough that hyperplanes are in general position most of the time.  Cases that
many properties must exclude (an all-zero weight row: a unit without a hinge; two units of one layer with the same
hinge) are excluded by name with :func:`nondegenerate_networks` and produced on purpose by
:func:`degenerate_networks`, rather than by scattered ``assume`` calls.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

from .exact import to_fraction, to_float
from .layers import Dense, LeakyReLU, ReLU
from .network import Network

__all__ = [
    "networks", "nondegenerate_networks", "degenerate_networks", "inputs", "interior_inputs", "grid_values",
    "hinge_points", "near_hinge_points", "on_hinge", "float_pattern_is_exact", "HingePoint", "NearHingePoint", "data",
]


def _hypothesis():
    try:
        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st
    except ImportError as error:  # pragma: no cover - exercised only without hypothesis
        raise ImportError(
            "dtd_ref.strategies needs hypothesis: pip install 'dtd-ref[test]' (or pip install hypothesis)"
        ) from error
    return st, hnp


def data():
    """``hypothesis.strategies.data()``, re-exported so tests need one import."""
    st, _ = _hypothesis()
    return st.data()


# ---------------------------------------------------------------------------------------------------- validation
def _check_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return value


def _check_range(low: int, high: int, low_name: str, high_name: str) -> None:
    if low > high:
        raise ValueError(f"{low_name}={low} exceeds {high_name}={high}")


def _size_strategy(value, name: str, low: int, high: int):
    """An int, None (draw from [low, high]) or a strategy of ints."""
    st, _ = _hypothesis()
    if value is None:
        return st.integers(low, high)
    if isinstance(value, st.SearchStrategy):
        return value
    return st.just(_check_int(value, name))


# ---------------------------------------------------------------------------------------------------- values
def _grid_bound(bound, denominator: int) -> int:
    return int(math.floor(Fraction(bound) * denominator))


def grid_values(*, bound=2, denominator: int = 8, nonzero: bool = False, exact: bool = False):
    """Numbers k / denominator with |k / denominator| <= bound, as float (default) or ``Fraction`` (exact=True).

    A float is the correctly rounded value of the fraction (exact when ``denominator`` is a power of two).
    """
    st, _ = _hypothesis()
    bound = _check_positive(bound, "bound")
    denominator = _check_int(denominator, "denominator")
    top = _grid_bound(bound, denominator)
    if nonzero and top < 1:
        raise ValueError(f"bound={bound} with denominator={denominator} leaves no nonzero value")
    ints = st.integers(-top, top)
    if nonzero:
        ints = ints.filter(lambda k: k != 0)
    return ints.map(lambda k: Fraction(k, denominator) if exact else float(Fraction(k, denominator)))


def _grid_array(draw, shape, top: int, denominator: int, exact: bool, *, low: int | None = None) -> np.ndarray:
    st, hnp = _hypothesis()
    low = -top if low is None else low
    k = draw(hnp.arrays(np.int64, shape, elements=st.integers(low, top)))
    if exact:
        out = np.empty(shape, dtype=object)
        out.flat[:] = [Fraction(int(v), denominator) for v in k.flat]
        return out
    return to_float(to_fraction(k) / denominator) if not _is_power_of_two(denominator) else k / float(denominator)


def _is_power_of_two(n: int) -> bool:
    return n & (n - 1) == 0


# ---------------------------------------------------------------------------------------------------- networks
def _nonzero_rows(W: np.ndarray, fix_index: np.ndarray, fix_value) -> np.ndarray:
    """Give every all-zero row of W the entry ``fix_value`` (a nonzero grid value) at ``fix_index[row]``."""
    W = W.copy()
    for j in range(W.shape[0]):
        if all(w == 0 for w in W[j]):
            W[j, fix_index[j] % W.shape[1]] = fix_value[j]
    return W


def _same_hinge(W: np.ndarray, b: np.ndarray) -> bool:
    """True if two rows (w_j, b_j) of one layer are positive multiples of each other (the same oriented hinge)."""
    rows = [tuple(Fraction(v) for v in W[j]) + (Fraction(b[j]),) for j in range(W.shape[0])]
    normalised = set()
    for row in rows:
        pivot = next((abs(v) for v in row if v != 0), None)
        if pivot is None:
            continue
        key = tuple(v / pivot for v in row)
        if key in normalised:
            return True
        normalised.add(key)
    return False


def networks(*, in_features=None, out_features=None, min_depth: int = 1, max_depth: int = 3, min_width: int = 1,
             max_width: int = 4, weight_bound=2, weight_denominator: int = 8, bias=True,
             relu_on_output: bool = False, negative_slope=None, exact: bool = False,
             nonzero_rows: bool = False):
    """Strategy for small ``Network`` s of ``Dense`` layers with ReLU (or LeakyReLU) between them.

    Parameters
    ----------
    in_features, out_features : int, strategy of int, or None
        Input and output widths; None draws them from [min_width, max_width].
    min_depth, max_depth : int
        Number of ``Dense`` layers (>= 1); depth 1 without ``relu_on_output`` is an affine map.
    min_width, max_width : int
        Bounds on every hidden width (>= 1).
    weight_bound, weight_denominator
        Weights and biases are k / weight_denominator with |k / weight_denominator| <= weight_bound.
    bias : True, False or "nonpositive"
        Draw biases from the grid, set them to zero, or draw them from the non-positive half of the grid (the C6
        setting of [SL22]).
    relu_on_output : bool
        Put an activation after the last layer too.
    negative_slope : None or real
        None for ReLU, otherwise ``LeakyReLU(negative_slope)`` everywhere.
    exact : bool
        Return the network on ``Fraction`` weights (``to_exact``); the values are the same grid values.
    nonzero_rows : bool
        Every weight row has a nonzero entry (every unit has a hinge).

    Returns
    -------
    SearchStrategy of Network
    """
    st, _ = _hypothesis()
    min_depth = _check_int(min_depth, "min_depth")
    max_depth = _check_int(max_depth, "max_depth")
    _check_range(min_depth, max_depth, "min_depth", "max_depth")
    min_width = _check_int(min_width, "min_width")
    max_width = _check_int(max_width, "max_width")
    _check_range(min_width, max_width, "min_width", "max_width")
    weight_bound = _check_positive(weight_bound, "weight_bound")
    weight_denominator = _check_int(weight_denominator, "weight_denominator")
    top = _grid_bound(weight_bound, weight_denominator)
    if top < 1:
        raise ValueError(f"weight_bound={weight_bound} with weight_denominator={weight_denominator} allows only 0")
    if not (bias is True or bias is False or (isinstance(bias, str) and bias == "nonpositive")):
        raise ValueError(f"bias: expected True, False or 'nonpositive', got {bias!r}")
    if not isinstance(relu_on_output, (bool, np.bool_)):
        raise ValueError(f"relu_on_output: expected a bool, got {relu_on_output!r}")
    if negative_slope is not None:
        if isinstance(negative_slope, (bool, np.bool_)) or not isinstance(negative_slope, numbers.Real) \
                or not math.isfinite(negative_slope) or negative_slope == 1:
            raise ValueError(f"negative_slope: expected None or a finite real other than 1, got {negative_slope!r}")
    in_strategy = _size_strategy(in_features, "in_features", min_width, max_width)
    out_strategy = _size_strategy(out_features, "out_features", min_width, max_width)
    exact = bool(exact)

    def activation():
        if negative_slope is None:
            return ReLU()
        return LeakyReLU(Fraction(negative_slope) if exact else float(negative_slope))

    @st.composite
    def build(draw):
        depth = draw(st.integers(min_depth, max_depth))
        widths = [draw(in_strategy)]
        widths += [draw(st.integers(min_width, max_width)) for _ in range(depth - 1)]
        widths.append(draw(out_strategy))
        layers = []
        for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            W = _grid_array(draw, (d_out, d_in), top, weight_denominator, exact)
            if nonzero_rows:
                fix_index = draw(st.lists(st.integers(0, d_in - 1), min_size=d_out, max_size=d_out))
                fix_value = draw(st.lists(grid_values(bound=weight_bound, denominator=weight_denominator,
                                                      nonzero=True, exact=exact), min_size=d_out, max_size=d_out))
                W = _nonzero_rows(W, fix_index, fix_value)
            if bias is False:
                b = np.array([Fraction(0)] * d_out, dtype=object) if exact else np.zeros(d_out)
            else:
                b = _grid_array(draw, (d_out,), 0 if bias == "nonpositive" else top, weight_denominator, exact,
                                low=-top)
            layers.append(Dense(W, b))
            if k < depth - 1 or relu_on_output:
                layers.append(activation())
        return Network(layers)

    return build()


def nondegenerate_networks(**kwargs):
    """``networks(**kwargs)`` without the degenerate cases that hinge-based properties must exclude.

    Every unit has a nonzero weight row (a proper hinge hyperplane in its layer's input space), and no two units of
    one layer share an oriented hinge ((w_j, b_j) a positive multiple of (w_k, b_k)).  Deeper units can still be dead
    on a region: that is a property of the point, not of the network.
    """
    if "nonzero_rows" in kwargs:
        raise ValueError("nonzero_rows: nondegenerate_networks always sets it")
    return networks(nonzero_rows=True, **kwargs).filter(
        lambda net: not any(_same_hinge(layer.W, layer.b) for layer in net.affine_layers))


def degenerate_networks(**kwargs):
    """``networks(**kwargs)`` in which at least one unit has an all-zero weight row (z_j = b_j everywhere).

    For testing the explicit policies of rules and root finders that divide by w_j^T v_j.
    """
    st, _ = _hypothesis()
    if kwargs.get("nonzero_rows"):
        raise ValueError("nonzero_rows: degenerate_networks always has a zero row")

    @st.composite
    def build(draw):
        net = draw(networks(**kwargs))
        k = draw(st.integers(0, len(net.affine_layers) - 1))
        layer = net.affine_layers[k]
        j = draw(st.integers(0, layer.out_features - 1))
        W = layer.W.copy()
        W[j, :] = 0
        layers = list(net.layers)
        layers[net.affine_index[k]] = Dense(W, layer.b)
        return Network(layers)

    return build()


# ---------------------------------------------------------------------------------------------------- inputs
def _in_features(net_or_d, name: str = "net_or_d") -> int:
    if isinstance(net_or_d, Network):
        return net_or_d.in_features
    return _check_int(net_or_d, name)


def inputs(net_or_d, *, batch: int | None = None, bound=2.0, denominator: int | None = None, exact: bool = False):
    """Inputs for a network: shape (d,) if ``batch`` is None, else (batch, d).

    Parameters
    ----------
    net_or_d : Network or int
        The network (its ``in_features``) or the input dimension d.
    batch : None or int >= 1
    bound : positive real
        Entries lie in [-bound, bound].
    denominator : None or int
        None draws any finite float64 (no NaN, inf or subnormals); an int draws grid values k / denominator.
    exact : bool
        Return ``Fraction`` object arrays (use with a grid to get non-dyadic rationals).
    """
    st, hnp = _hypothesis()
    d = _in_features(net_or_d)
    if batch is not None:
        batch = _check_int(batch, "batch")
    bound = _check_positive(bound, "bound")
    shape = (d,) if batch is None else (batch, d)
    if denominator is None:
        elements = st.floats(-float(bound), float(bound), allow_nan=False, allow_infinity=False,
                             allow_subnormal=False)
        floats = hnp.arrays(np.float64, shape, elements=elements)
        return floats.map(to_fraction) if exact else floats
    denominator = _check_int(denominator, "denominator")
    top = _grid_bound(bound, denominator)

    @st.composite
    def build(draw):
        return _grid_array(draw, shape, top, denominator, bool(exact))

    return build()


# Points defined by a network (on, near and off its hinges) live in their own module, which builds on inputs() above.
from ._hinge_points import (HingePoint, NearHingePoint, float_pattern_is_exact, hinge_points,  # noqa: E402
                            interior_inputs, near_hinge_points, on_hinge)
