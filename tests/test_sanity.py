"""Tests of dtd_ref.sanity: similarity measures, logit swap, last-layer randomisation, Sensitivity-n."""

import numpy as np
import pytest
from scipy.stats import rankdata
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dtd_ref import Dense, Network, ReLU, mlp, to_exact
from dtd_ref import _reference_sanity as ref
from dtd_ref import sanity

AGREE_ATOL = 1e-12

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
maps_pair = st.integers(1, 6).flatmap(
    lambda n: st.integers(2, 7).flatmap(
        lambda d: st.tuples(arrays(np.float64, (n, d), elements=finite), arrays(np.float64, (n, d), elements=finite))))


# ------------------------------------------------------------------------------------------------ reference twins
@pytest.mark.parametrize("name", ["spearman_rows", "cosine_rows"])
@given(pair=maps_pair)
def test_vectorised_similarity_matches_loop_reference(name, pair):
    R1, R2 = pair
    fast = getattr(sanity, name)(R1, R2)
    slow = getattr(ref, name)(R1, R2)
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    ok = ~np.isnan(fast)
    assert np.allclose(fast[ok], slow[ok], atol=1e-9)


def test_sensitivity_n_matches_loop_reference():
    net = mlp((5, 6, 3), rng=1)
    X = np.abs(np.random.default_rng(2).normal(size=(4, 5)))
    curve = sanity.sensitivity_n(net, X, sanity.gradient_x_input_attribution, output=1, ns=[1, 2, 4],
                                 n_subsets=7, baseline=0.5, rng=np.random.default_rng(3))
    R = net.gradient_x_input(X, output=1)
    slow = ref.sensitivity_n_correlation(net, X, R, output=1, ns=[1, 2, 4], n_subsets=7, baseline=0.5,
                                         rng=np.random.default_rng(3))
    assert np.array_equal(np.isnan(curve.correlation), np.isnan(slow))
    ok = ~np.isnan(slow)
    assert ok.any()
    assert np.allclose(curve.correlation[ok], slow[ok], atol=AGREE_ATOL)


# ------------------------------------------------------------------------------------------------ golden values
def test_spearman_golden_values():
    # [1,2,3,4] vs [1,3,2,4]: rank differences (0,1,1,0), rho = 1 - 6*sum(d^2)/(n(n^2-1)) = 1 - 12/60 = 0.8.
    # [1,2,3] vs [3,2,1]: reversed order, rho = -1.
    # [1,1,2] vs [1,2,3]: average ranks (1.5,1.5,3) vs (1,2,3): centred (-.5,-.5,1) and (-1,0,1),
    #   rho = 1.5 / sqrt(1.5 * 2) = sqrt(3)/2.
    R1 = np.array([[1.0, 2, 3, 4]])
    assert sanity.spearman_rows(R1, np.array([[1.0, 3, 2, 4]]))[0] == pytest.approx(0.8)
    assert sanity.spearman_rows([[1.0, 2, 3]], [[3.0, 2, 1]])[0] == pytest.approx(-1.0)
    assert sanity.spearman_rows([[1.0, 1, 2]], [[1.0, 2, 3]])[0] == pytest.approx(np.sqrt(3) / 2)


def test_cosine_golden_values():
    # (1,0).(1,1) = 1, norms 1 and sqrt(2): cosine 1/sqrt(2).  (1,2).(-2,1) = 0: orthogonal.
    assert sanity.cosine_rows([[1.0, 0.0]], [[1.0, 1.0]])[0] == pytest.approx(1 / np.sqrt(2))
    assert sanity.cosine_rows([[1.0, 2.0]], [[-2.0, 1.0]])[0] == pytest.approx(0.0)


def test_constant_and_zero_maps_are_undefined_not_dropped():
    R1 = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    R2 = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    result = sanity.map_similarity(R1, R2)
    assert np.isnan(result.spearman[0]) and np.isnan(result.cosine[0])
    assert result.spearman[1] == pytest.approx(1.0) and result.cosine[1] == pytest.approx(1.0)
    summary = result.summary()
    assert summary["n_inputs"] == 2 and summary["n_defined"] == 1


@given(pair=maps_pair, scale=st.floats(1e-3, 1e3))
def test_similarity_is_one_for_a_positive_rescaling(pair, scale):
    R, _ = pair
    result = sanity.map_similarity(R, scale * R)
    # Spearman is 1 where the rescaling keeps the ranks; in float64 it may round two entries 1 ulp apart into a tie
    # (1000 and its successor, times 1.1), and then the ranks, not the code, changed.
    same_ranks = np.all(rankdata(np.abs(R), axis=1) == rankdata(np.abs(scale * R), axis=1), axis=1)
    nonconstant = (np.ptp(np.abs(R), axis=1) > 0) & same_ranks
    assert np.allclose(result.spearman[nonconstant], 1.0)
    nonzero = np.linalg.norm(R, axis=1) > 0
    assert np.allclose(result.cosine[nonzero], 1.0)


def test_cosine_of_tiny_maps_does_not_underflow():
    # (1, 1) * 2.86e-161 against (1, 1) * 2.86e-161 / 8: parallel, so the cosine is 1.  The naive formula squares
    # 2.86e-161 into the subnormal range and returned 0.93 (found by hypothesis).
    R = np.array([[2.86036555e-161, 2.86036555e-161]])
    assert sanity.cosine_rows(R, 0.125 * R)[0] == pytest.approx(1.0, abs=1e-12)
    # At 1/32 of that the squares are 0 in float64, so a norm-based zero test called the map zero (NaN).
    assert sanity.cosine_rows(R, 0.03125 * R)[0] == pytest.approx(1.0, abs=1e-12)


def test_absolute_values_ignore_sign_flips():
    R = np.array([[1.0, -2.0, 3.0, -0.5]])
    assert sanity.map_similarity(R, -R).cosine[0] == pytest.approx(1.0)
    assert sanity.map_similarity(R, -R, absolute=False).cosine[0] == pytest.approx(-1.0)


# ------------------------------------------------------------------------------------------------ the checks
def _two_output_net(W_out):
    W1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return Network([Dense(W1, np.zeros(3)), ReLU(), Dense(np.asarray(W_out, float), np.zeros(2))])


def test_logit_swap_is_one_for_identical_outputs_and_low_for_disjoint_ones():
    X = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, 2.0]])
    same = _two_output_net([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    result = sanity.logit_swap(same, X, sanity.gradient_x_input_attribution)
    assert np.allclose(result.cosine, 1.0) and np.allclose(result.spearman, 1.0)
    # Output 0 reads only feature 0, output 1 only feature 2: grad x input maps (x0,0,0) and (0,0,x2) are orthogonal.
    disjoint = _two_output_net([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    result = sanity.logit_swap(disjoint, X, sanity.gradient_x_input_attribution)
    assert np.allclose(result.cosine, 0.0)


def test_randomize_last_layer_replaces_only_the_last_affine_layer():
    net = mlp((4, 5, 3), rng=0)
    other = sanity.randomize_last_layer(net, rng=7)
    assert other.layers[0] is net.layers[0] and other.layers[1] is net.layers[1]
    assert not np.array_equal(other.layers[-1].W, net.layers[-1].W)
    bound = 1 / np.sqrt(5)
    assert np.all(np.abs(other.layers[-1].W) <= bound) and np.all(np.abs(other.layers[-1].b) <= bound)
    again = sanity.randomize_last_layer(net, rng=7)
    assert np.array_equal(again.layers[-1].W, other.layers[-1].W)
    assert not np.array_equal(sanity.randomize_last_layer(net, rng=8).layers[-1].W, other.layers[-1].W)
    exact = sanity.randomize_last_layer(to_exact(net), rng=7)
    assert exact.exact and exact.layers[-1].W[0, 0] == other.layers[-1].W[0, 0]


def test_last_layer_randomization_changes_gradient_x_input_maps():
    net = mlp((6, 8, 8, 3), rng=4)
    X = np.random.default_rng(5).normal(size=(30, 6))
    result = sanity.last_layer_randomization(net, X, sanity.gradient_x_input_attribution, output=0, rng=1)
    summary = result.summary()
    assert summary["n_defined"] > 0
    assert summary["cosine_median"] < 0.99


def test_sensitivity_n_is_one_for_gradient_x_input_of_a_linear_model():
    # f(x) = w.x (no bias): sum_{i in S} w_i x_i = f(x) - f(x with x_S = 0) for every subset S, so the
    # correlation is exactly 1 for every n < d (for n = d every subset is the same: undefined).
    w = np.array([[1.0, -2.0, 0.5, 3.0, -1.0]])
    net = Network([Dense(w, np.zeros(1))])
    X = np.random.default_rng(0).normal(size=(5, 5))
    curve = sanity.sensitivity_n(net, X, sanity.gradient_x_input_attribution, ns=[1, 2, 3, 4, 5], rng=0)
    assert np.allclose(curve.correlation[:, :4], 1.0)
    assert np.all(np.isnan(curve.correlation[:, 4]))
    assert np.allclose(curve.mean[:4], 1.0)


def test_sensitivity_n_is_low_for_a_random_attribution():
    w = np.array([[1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.1, -0.7]])
    net = Network([Dense(w, np.zeros(1))])
    X = np.random.default_rng(0).normal(size=(20, 8))

    def noise(net, X, output):
        return np.random.default_rng(99).normal(size=X.shape)

    curve = sanity.sensitivity_n(net, X, noise, ns=[2, 4], n_subsets=32, rng=0)
    assert np.all(np.abs(curve.mean) < 0.6)


def test_sensitivity_n_is_reproducible_for_a_seed():
    net = mlp((5, 6, 2), rng=1)
    X = np.random.default_rng(2).normal(size=(3, 5))
    a = sanity.sensitivity_n(net, X, sanity.gradient_x_input_attribution, rng=11).correlation
    b = sanity.sensitivity_n(net, X, sanity.gradient_x_input_attribution, rng=11).correlation
    assert np.array_equal(a, b, equal_nan=True)


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, match", [
    (lambda: sanity.cosine_rows(np.ones((2, 3)), np.ones((2, 4))), "shapes differ"),
    (lambda: sanity.spearman_rows(np.ones(3), np.ones(3)), "R1"),
    (lambda: sanity.cosine_rows([[np.nan, 1.0]], [[1.0, 1.0]]), "NaN"),
    (lambda: sanity.logit_swap(mlp((3, 2), rng=0), np.ones((1, 3)), sanity.gradient_x_input_attribution,
                               outputs=(0, 5)), "outputs"),
    (lambda: sanity.logit_swap(mlp((3, 2), rng=0), np.ones((1, 4)), sanity.gradient_x_input_attribution), "X"),
    (lambda: sanity.sensitivity_n(mlp((3, 2), rng=0), np.ones((1, 3)), sanity.gradient_x_input_attribution,
                                  ns=[0], rng=0), "ns"),
    (lambda: sanity.sensitivity_n(mlp((3, 2), rng=0), np.ones((1, 3)), sanity.gradient_x_input_attribution,
                                  n_subsets=1, rng=0), "n_subsets"),
    (lambda: sanity.randomize_last_layer(mlp((3, 2), rng=0), rng="seed"), "rng"),
    (lambda: sanity.logit_swap(mlp((3, 2), rng=0), np.ones((2, 3)), lambda n, X, o: np.ones((2, 2))),
     "attribution result"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
