"""Bad input gets a ValueError naming the argument and the shapes; nothing is silently narrowed or truncated."""

import re
from fractions import Fraction

import numpy as np
import pytest

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp
from dtd_ref._validation import as_array, as_batch, check_index


def net_2_3_1():
    return Network([Dense(np.ones((3, 2)), np.zeros(3)), ReLU(), Dense(np.ones((1, 3)), np.zeros(1))])


NAN_W = np.array([[1.0, np.nan]])
INF_W = np.array([[1.0, np.inf]])

# (what, callable, pattern the message must match: argument name and shape)
BAD_CALLS = [
    ("NaN in weights", lambda: Dense(NAN_W, [0.0]), r"W: contains NaN or inf \(shape \(1, 2\)\)"),
    ("inf in weights", lambda: Dense(INF_W, [0.0]), r"W: contains NaN or inf \(shape \(1, 2\)\)"),
    ("NaN in bias", lambda: Dense([[1.0]], [np.nan]), r"b: contains NaN or inf \(shape \(1,\)\)"),
    ("NaN in input", lambda: net_2_3_1()([np.nan, 1.0]), r"x: contains NaN or inf \(shape \(2,\)\)"),
    ("-inf in input", lambda: net_2_3_1()(np.array([[1.0, -np.inf]])), r"x: contains NaN or inf \(shape \(1, 2\)\)"),
    ("W of rank 1", lambda: Dense([1.0, 2.0], [0.0]), r"W: expected 2 dimensions, got shape \(2,\)"),
    ("b of rank 2", lambda: Dense([[1.0]], [[0.0]]), r"b: expected 1 dimensions, got shape \(1, 1\)"),
    ("x of rank 3", lambda: net_2_3_1()(np.zeros((1, 1, 2))), r"x: expected 1 or 2 dimensions, got shape \(1, 1, 2\)"),
    ("x of the wrong width", lambda: net_2_3_1()(np.zeros((4, 3))), r"x: expected shape \(n, 2\) or \(2,\), got \(4, 3\)"),
    ("b of the wrong length", lambda: Dense(np.ones((3, 2)), np.zeros(2)),
     r"b: expected shape \(3,\) to match W of shape \(3, 2\), got \(2,\)"),
    ("mismatched layer sizes", lambda: Network([Dense(np.ones((3, 2)), np.zeros(3)), ReLU(),
                                                Dense(np.ones((1, 4)), np.zeros(1))]),
     r"layers: affine layer 1 expects 4 inputs but .*gives 3"),
    ("string weights", lambda: Dense([["1", "2"]], [0.0]), r"W: expected a real numeric array .* dtype <U1 with shape \(1, 2\)"),
    ("complex weights", lambda: Dense([[1 + 2j]], [0.0]), r"W: expected a real numeric array .* complex128 with shape \(1, 1\)"),
    ("bool weights", lambda: Dense([[True, False]], [0.0]), r"W: expected a real numeric array .* bool with shape \(1, 2\)"),
    ("string input", lambda: net_2_3_1()(["a", "b"]), r"x: expected a real numeric array .* shape \(2,\)"),
    ("bool input", lambda: net_2_3_1()(np.array([True, False])), r"x: expected a real numeric array .* bool with shape \(2,\)"),
    ("float objects in an object array", lambda: Dense(np.array([[1.5]], dtype=object), np.array([0], dtype=object)),
     r"W: object arrays must hold only fractions.Fraction or int .* found float in an array of shape \(1, 1\)"),
    ("bools in an object array", lambda: as_array(np.array([True], dtype=object), "v"),
     r"v: object arrays must hold only .* found bool"),
    ("empty layer", lambda: Dense(np.zeros((0, 2)), np.zeros(0)), r"W: empty array of shape \(0, 2\)"),
    ("empty input batch", lambda: net_2_3_1()(np.zeros((0, 2))), r"x: empty array of shape \(0, 2\)"),
    ("no layers", lambda: Network([]), r"layers: a network needs at least one layer"),
    ("non-layer object", lambda: Network([Dense([[1.0]], [0.0]), "relu"]), r"layers\[1\]: 'relu' is not a dtd_ref layer"),
    ("activation first", lambda: Network([ReLU(), Dense([[1.0]], [0.0])]), r"layers\[0\]: the first layer must be affine"),
    ("exact W with float b", lambda: Dense(np.array([[Fraction(1)]], dtype=object), [0.0]),
     r"W and b must both be exact .* got object and float64"),
    ("mixed exact and float layers", lambda: Network([Dense([[1.0]], [0.0]), ReLU(),
                                                      Dense(np.array([[Fraction(1)]]), np.array([Fraction(0)]))]),
     r"layers: mixes exact \(Fraction\) and float64 layers"),
    ("huge int weights", lambda: Dense(np.array([[2 ** 53 + 1]], dtype=np.int64), [0.0]),
     r"W: integer entries of shape \(1, 1\) cannot be represented exactly in float64"),
    ("huge int input", lambda: net_2_3_1()(np.array([2 ** 62 + 1, 0], dtype=np.int64)),
     r"x: integer entries of shape \(2,\) cannot be represented exactly in float64"),
    ("output index out of range", lambda: net_2_3_1().gradient([0.0, 1.0], output=1), r"output: index 1 out of range for size 1"),
    ("bool output index", lambda: net_2_3_1().gradient([0.0, 1.0], output=True), r"output: expected an integer index"),
    ("patterns of the wrong shape", lambda: net_2_3_1().forward_fixed(np.zeros((1, 2)), [np.ones((1, 2), bool)]),
     r"patterns\[0\]: expected bool \(n, 3\), got bool \(1, 2\)"),
    ("wrong number of patterns", lambda: net_2_3_1().affine_for_pattern([]), r"patterns: expected 1 arrays, got 0"),
    ("sub-network index", lambda: net_2_3_1().sub(2), r"k: index 2 out of range for size 2"),
    ("slope that makes the layer linear", lambda: LeakyReLU(1.0), r"negative_slope: 1 makes the layer linear"),
]


@pytest.mark.parametrize("call, pattern", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_value_error_naming_argument_and_shape(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_huge_python_int_input_to_a_float_network_is_refused_not_truncated():
    # 2**70 does not fit int64: numpy makes an object array of Python ints, i.e. exact input, which a float64
    # network refuses instead of rounding it
    with pytest.raises(ValueError, match=re.escape("x: exact (Fraction) input given to a float64 network")):
        net_2_3_1()([2 ** 70, 1])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int8, np.int32, np.uint16])
def test_narrow_input_is_widened_to_float64_not_narrowed(dtype):
    net = mlp((2, 3, 1), rng=0)
    x = np.array([[1.5, -2.0], [0.25, 3.0]]).astype(dtype) if np.dtype(dtype).kind == "f" else \
        np.array([[1, 2], [3, 4]], dtype=dtype)
    out = net(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, net(x.astype(np.float64)))
    assert net.trace(x).x.dtype == np.float64


def test_float32_weights_are_widened_exactly():
    W32 = np.array([[0.1, -0.7]], dtype=np.float32)
    layer = Dense(W32, np.zeros(1, dtype=np.float32))
    assert layer.W.dtype == np.float64
    np.testing.assert_array_equal(layer.W, W32.astype(np.float64))   # the float32 values, not 0.1 and -0.7


def test_integer_weights_within_float64_range_are_accepted_exactly():
    layer = Dense(np.array([[2 ** 53, -3]], dtype=np.int64), np.array([1], dtype=np.int64))
    assert layer.W.dtype == np.float64 and layer.W[0, 0] == 2.0 ** 53


def test_validation_helpers_directly():
    x2, single = as_batch([1.0, 2.0], "x", 2)
    assert single and x2.shape == (1, 2)
    assert as_array(np.zeros((0, 3)), "v", allow_empty=True).shape == (0, 3)
    assert check_index(np.int64(2), "i", 3) == 2
    with pytest.raises(ValueError, match=r"i: index -1 out of range for size 3"):
        check_index(-1, "i", 3)
    with pytest.raises(ValueError, match=r"i: expected an integer index, got 1.0"):
        check_index(1.0, "i", 3)
