"""Every vectorised DTD routine against its loop-per-neuron twin in dtd_ref._reference_dtd (exact mode: ==)."""

from fractions import Fraction

import numpy as np
import pytest

from dtd_ref import mlp, to_exact, to_fraction
from dtd_ref import _reference_dtd as ref
from dtd_ref import rules
from dtd_ref.dtd import active_neurons, train_free_dtd
from dtd_ref.full_dtd import ConstantRoots, LineRoot, RegionRoot, _finders, full_dtd
from dtd_ref.testing import assert_exact_equal

FLOAT_RTOL = 1e-12  # float64 fast vs loop twin (different summation order), relative to sum |R| + 1

ROOT_RULES = [rules.W2(), rules.Z(), rules.ZPlus(), rules.Gamma(Fraction(3, 4)), rules.ZBox(-8, 8), rules.LRP0()]
ALL_RULES = ROOT_RULES + [rules.Epsilon(Fraction(1, 16)), rules.AlphaBeta(2, 1), rules.AlphaBeta(1, 0), rules.Flat()]


def _networks():
    """Small exact networks: ReLU with a ReLU on the output, plain ReLU, LeakyReLU (hidden activations < 0)."""
    return [to_exact(mlp((3, 4, 3, 2), rng=seed, relu_on_output=relu, negative_slope=slope))
            for seed, relu, slope in ((0, True, 0.0), (1, False, 0.0), (2, False, 0.125))]


def _inputs(net, seed, n=3):
    x = np.random.default_rng(seed).uniform(0, 2, size=(n, net.in_features))
    return to_fraction(np.round(x * 8) / 8)


def _needs_nonnegative(rule, net):
    return isinstance(rule, rules.ZPlus) and any(getattr(a, "negative_slope", 0) for a in net.activation_layers)


def _root_point_case(rule, net, x):
    trace = net.trace(x)
    active = active_neurons(net, trace)
    out = []
    for k, layer in enumerate(net.affine_layers):
        for numerator in (trace.z[k], np.abs(trace.z[k]) + 1):  # the "exact" convention and an arbitrary R
            fast = rules.root_point(rule, layer, trace.a[k], numerator, active=active[k])
            slow = ref.root_point(rule, layer.weight_matrix(), layer.bias_vector(), trace.a[k], numerator, active[k])
            out.append((fast, slow))
    return out


def _redistribute_case(rule, net, x):
    trace = net.trace(x)
    active = active_neurons(net, trace)
    out = []
    for k, layer in enumerate(net.affine_layers):
        R = np.abs(trace.z[k]) + Fraction(1, 3)
        fast = rules.redistribute(rule, layer, trace.a[k], R, active=active[k])
        slow = ref.redistribute(rule, layer.weight_matrix(), layer.bias_vector(), trace.a[k], R, active[k])
        out.append(((fast[0],) + tuple(fast[1][key] for key in rules.LEDGER_KEYS),
                     (slow[0],) + tuple(slow[1][key] for key in rules.LEDGER_KEYS)))
    return out


def _train_free_case(rule_set, convention):
    def run(_, net, x):
        fast = train_free_dtd(net, x, rule_set, output=1, convention=convention)
        relevance, roots = ref.train_free_dtd(net, x, rule_set, output=1, convention=convention)
        pairs = list(zip(fast.relevance, relevance))
        pairs += [(f, s) for f, s in zip(fast.roots, roots) if f is not None or s is not None]
        return pairs
    return run


def _full_case(finders):
    def run(_, net, x):
        x = x[:1]
        fast = full_dtd(net, x, finders, output=1)
        slow = ref.full_dtd_relevance(net, x, _finders(finders, net), output=1)
        return [(fast.relevance[0], slow)]
    return run


CASES = (
    [pytest.param(_root_point_case, rule, id=f"root_point-{type(rule).__name__}") for rule in ROOT_RULES]
    + [pytest.param(_redistribute_case, rule, id=f"redistribute-{type(rule).__name__}-{i}")
       for i, rule in enumerate(ALL_RULES)]
    + [pytest.param(_train_free_case(rule_set, convention), None, id=f"train_free_dtd-{name}-{convention}")
       for name, rule_set in (("zplus", rules.ZPlus(negative_inputs="allow")), ("w2", rules.W2()),
                              ("mixed", [rules.ZBox(0, 2), rules.Gamma(1), rules.Epsilon(Fraction(1, 8))]),
                              ("alphabeta", rules.AlphaBeta(2, 1)))
       for convention in ("exact", "authors")]
    + [pytest.param(_full_case(finders), None, id=f"full_dtd-{name}")
       for name, finders in (("constant", ConstantRoots(0)),
                             ("line", [LineRoot(rules.W2()), ConstantRoots(0), ConstantRoots(0)]),
                             ("region", [RegionRoot(), RegionRoot(anchor=0), RegionRoot(anchor=0)]))]
)


@pytest.mark.parametrize("case, rule", CASES)
def test_vectorised_routine_matches_its_loop_twin(case, rule):
    compared = 0
    for seed, net in enumerate(_networks()):
        if rule is not None and _needs_nonnegative(rule, net):
            rule = rules.ZPlus(negative_inputs="allow")
        for fast, slow in case(rule, net, _inputs(net, seed)):
            fast = fast if isinstance(fast, tuple) else (fast,)
            slow = slow if isinstance(slow, tuple) else (slow,)
            for f, s in zip(fast, slow):
                f, s = np.asarray(f), np.asarray(s)
                assert f.shape == s.shape
                if f.dtype == bool or s.dtype == bool:
                    np.testing.assert_array_equal(f, s)
                else:
                    assert_exact_equal(np.where(_missing(f), 0, f), np.where(_missing(s), 0, s))
                    np.testing.assert_array_equal(_missing(f), _missing(s))
                compared += 1
    assert compared >= 3


def _missing(array):
    return np.vectorize(lambda v: v is None, otypes=[bool])(array) if array.dtype == object else np.isnan(array)


def test_float_fast_routines_match_their_twins_to_rounding():
    net = mlp((4, 5, 3), rng=7, relu_on_output=True)
    x = np.random.default_rng(1).uniform(0, 1, size=(4, 4))
    for rule in ALL_RULES:
        fast = train_free_dtd(net, x, rule, output=0).relevance[0]
        slow = ref.train_free_dtd(net, x, rule, output=0)[0][0]
        np.testing.assert_allclose(fast, slow, rtol=0, atol=FLOAT_RTOL * (np.abs(slow).sum() + 1))
