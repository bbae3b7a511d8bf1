"""Tests of proofs/: every check of every claim (proofs, exhaustive checks, negative controls, engine cross-checks),
the machinery's ability to fail, the command line, and hypothesis properties of the proven statements at random
rational points (the proven identities must hold there, computed by the engine in exact arithmetic)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import proofs
from proofs import _core
from proofs._symbolic import rational_case, symbolic_network
from proofs.lrp0 import layerwise_relevance, lrp0_exact
from proofs.rule_roots import direction, root_point
from proofs.under_constrained import split_root

MODULES = [importlib.import_module(f"proofs.{name}") for name in proofs.CLAIM_MODULES]
ALL_CHECKS = [pytest.param(check, id=f"{module.__name__.split('.')[-1]}-{check.__name__}")
              for module in MODULES for check in module.CHECKS]
SLOW_EXAMPLES = 8  # cap for properties that run sympy or exact networks per example


# ---------------------------------------------------------------------------------------------- every check
@pytest.mark.parametrize("check", ALL_CHECKS)
def test_check_passes(check):
    outcome = check()
    assert isinstance(outcome, _core.Check)
    assert outcome.kind in _core.KINDS
    assert outcome.ok, outcome.detail


@pytest.mark.parametrize("check", [p for p in ALL_CHECKS if "negative" in p.values[0].__name__])
def test_negative_control_has_concrete_nonzero_residual(check):
    outcome = check()
    assert outcome.kind == "negative"
    values = list(outcome.residual) if isinstance(outcome.residual, sp.MatrixBase) else [outcome.residual]
    assert all(sp.sympify(v).is_number for v in values)
    assert any(sp.sympify(v) != 0 for v in values)


@pytest.mark.parametrize("module", MODULES, ids=proofs.CLAIM_MODULES)
def test_module_states_claim_hypotheses_scope_and_has_every_kind(module):
    for section in ("Claim", "Hypotheses", "Scope"):
        assert f"\n{section}\n" in module.__doc__
    assert module.CLAIM and module.TITLE and module.SCOPE
    names = [check.__name__ for check in module.CHECKS]
    assert any(name.startswith("check_negative_") for name in names)   # a negative control
    assert "check_engine" in names                                       # an engine cross-check
    assert len(names) >= 4


def test_prove_aggregates_a_claim():
    result = importlib.import_module("proofs.under_constrained").prove()
    assert result.ok and result.claim == "2-under-constrained"
    assert len(result.details) == len(importlib.import_module("proofs.under_constrained").CHECKS)
    assert result.seconds >= sum(c.seconds for c in result.details) * 0.5
    assert result.line().startswith("[PASS] 2-under-constrained")


# ---------------------------------------------------------------------------------------------- the machinery fails
def test_is_zero_decides_rational_identities():
    x, y = sp.symbols("x y")
    assert _core.is_zero((x + 1) ** 2 - x**2 - 2 * x - 1)
    assert _core.is_zero(x / (x + y) * (x + y) - x)
    assert _core.is_zero(1 / (x - y) + 1 / (y - x))
    assert not _core.is_zero(x - y)
    assert not _core.is_zero(x / (x + y) - 1)
    assert not _core.is_zero(sp.Matrix([0, x]))


def test_identity_check_reports_a_nonzero_residual():
    x = sp.Symbol("x")
    bad = _core.identity_check("demo", "symbolic", [0, (x + 1) ** 2 - x**2 - 1], "demo")
    assert not bad.ok and "1 of 2" in bad.detail


def test_negative_check_fails_on_zero_and_refuses_symbols():
    assert not _core.negative_check("demo", sp.Matrix([0, 0]), "demo").ok
    assert _core.negative_check("demo", sp.Rational(1, 3), "demo").ok
    with pytest.raises(ValueError, match="concrete number"):
        _core.negative_check("demo", sp.Symbol("x"), "demo")


def test_truth_check_needs_true_not_unknown():
    assert not _core.truth_check("demo", "symbolic", {"unknown": None, "yes": True}, "demo").ok
    assert _core.truth_check("demo", "symbolic", {"yes": True, "sympy yes": sp.true}, "demo").ok


def test_run_checks_turns_exceptions_into_failures():
    def check_ok():
        return _core.Check("fine", "symbolic", True, "fine")

    def check_crash():
        raise ZeroDivisionError("boom")

    result = _core.run_checks("demo", "demo", "demo", [check_ok, check_crash])
    assert not result.ok
    assert [c.ok for c in result.details] == [True, False]
    assert "ZeroDivisionError" in result.details[1].detail


def test_planted_bug_is_caught_by_the_exhaustive_identity():
    """The z rule with biases is *not* LRP-0: putting its denominator into the LRP-0 identity must fail."""
    net = symbolic_network((2, 2, 1))
    prop = layerwise_relevance(net, denominator=lambda w_j, a, b_j, z_j: z_j - b_j)
    residuals = [r - g for r, g in zip(prop.R[0], prop.gradient_times_input())]
    assert not _core.identity_check("bug", "exhaustive", residuals + prop.remainders, "bug").ok


# ---------------------------------------------------------------------------------------------- command line
def test_main_prints_one_line_per_claim_and_exits_zero(capsys):
    assert proofs.main(["--claim", "under_constrained", "--claim", "rule_limits"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.split()[1] for line in lines] == ["2-under-constrained", "6-rule-limits"]


def test_main_exits_nonzero_when_a_claim_fails(monkeypatch, capsys):
    module = importlib.import_module("proofs.rule_limits")

    def failing():
        return _core.run_checks(module.CLAIM, module.TITLE, module.SCOPE,
                                [lambda: _core.Check("forced", "symbolic", False, "forced failure")])

    monkeypatch.setattr(module, "prove", failing)
    assert proofs.main(["--claim", "rule_limits"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] 6-rule-limits" in out and "forced failure" in out


def test_run_all_rejects_unknown_claims():
    with pytest.raises(ValueError, match="claims"):
        proofs.run_all(["no_such_claim"])


def test_python_dash_m_proofs_runs():
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "proofs", "--claim", "under_constrained"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[PASS] 2-under-constrained" in done.stdout


# ---------------------------------------------------------------------------------------------- properties
fractions = st.fractions(min_value=-5, max_value=5, max_denominator=6)
nonnegative = st.fractions(min_value=0, max_value=5, max_denominator=6)
positive = st.fractions(min_value=Fraction(1, 6), max_value=5, max_denominator=6)


@st.composite
def neurons_with_positive_preactivation(draw, *, max_inputs: int = 4):
    """(a, w, z_lin) with a >= 0, a_0 > 0 and Σ a_i w_i >= 1/6 > 0: w_0 is chosen to outweigh the other terms."""
    n = draw(st.integers(1, max_inputs))
    a = [draw(positive)] + draw(st.lists(nonnegative, min_size=n - 1, max_size=n - 1))
    rest = draw(st.lists(fractions, min_size=n - 1, max_size=n - 1))
    others = sum(ai * wi for ai, wi in zip(a[1:], rest))
    margin = draw(positive)
    w = [(abs(others) + margin) / a[0]] + rest
    return a, w, sum(ai * wi for ai, wi in zip(a, w))


@given(neuron=neurons_with_positive_preactivation(), share=st.fractions(min_value=0, max_value=1,
                                                                       max_denominator=8).filter(lambda q: q < 1))
def test_zplus_root_lies_on_its_segment(neuron, share):
    """Claim 3 at random rational points: a >= 0, b = -share * Σ a w <= 0 (so z > 0) give 0 <= t <= 1,
    z_j(root) = 0 and root on [a * 1[w <= 0], a]."""
    a, w, linear = neuron
    b = -share * linear
    a_s, w_s = [sp.Rational(x) for x in a], [sp.Rational(x) for x in w]
    root, t = root_point(a_s, w_s, sp.Rational(b), direction("zplus", a_s, w_s, {}))
    assert 0 <= t <= 1
    assert sum(wi * r for wi, r in zip(w_s, root)) + b == 0
    for ai, wi, r in zip(a_s, w_s, root):
        assert r == (ai if wi <= 0 else (1 - t) * ai)


@settings(max_examples=SLOW_EXAMPLES)
@given(seed=st.integers(0, 2**16), split=st.lists(fractions, min_size=3, max_size=3))
def test_any_split_is_produced_by_an_exact_root(seed, split):
    """Claim 2 at random rational points: the engine returns the split as DTD relevance of an exact root."""
    net, a = rational_case((3, 2), rng=seed)           # output 0 is active at a (φ_0(a) > 0)
    W = net.affine_layers[0].weight_matrix()
    active = [j for j, phi in enumerate(net(a)) if phi > 0]
    assert 0 in active
    for j in active:
        support = [i for i in range(3) if W[j, i] != 0]  # nonempty: φ_j(a) > 0 with b_j alone is possible...
        if not support:                                   # ...and then no root exists (z_j = b_j is constant)
            continue
        r = np.array([split[i] if i in support else Fraction(0) for i in range(3)], dtype=object)  # H2
        r[support[-1]] += net(a)[j] - sum(r)             # H1: Σ r = φ_j(a)
        root = np.array(split_root(a, W[j], r), dtype=object)
        assert net(root)[j] == 0
        assert all(g * (x - y) == ri for g, x, y, ri in zip(net.gradient(a, output=j), a, root, r))


@settings(max_examples=SLOW_EXAMPLES)
@given(seed=st.integers(0, 2**16))
def test_lrp0_equals_gradient_times_input_on_random_exact_networks(seed):
    """Claim 4 at random rational points: LRP-0 (loop over the exact Trace) = the engine's gradient x input."""
    net, x = rational_case((3, 3, 2, 2), rng=seed)
    R, absorbed = lrp0_exact(net, x)
    assert list(R) == list(net.gradient_x_input(x, output=0))
    assert sum(R) + absorbed == net(x)[0]


@given(neuron=neurons_with_positive_preactivation(), gamma=st.fractions(min_value=0, max_value=100,
                                                                        max_denominator=3))
def test_gamma_weights_interpolate_between_z_and_zplus(neuron, gamma):
    """Claim 6 at random rational points (a >= 0, Z = Σ a w > 0, hence P >= Z > 0): the γ weights differ from
    z⁺ by exactly (u_i P - p_i Z) / (P (Z + γ P)), and equal z at γ = 0."""
    from proofs.rule_limits import weights

    a, w, _ = neuron
    a, w, g = [sp.Rational(x) for x in a], [sp.Rational(x) for x in w], sp.Rational(gamma)
    P = sum(ai * max(wi, 0) for ai, wi in zip(a, w))
    Z = sum(ai * wi for ai, wi in zip(a, w))
    for ai, wi, x, y in zip(a, w, weights("gamma", a, w, gamma=g), weights("zplus", a, w)):
        u_i, p_i = ai * wi, ai * max(wi, 0)
        assert sp.nsimplify(x) - sp.nsimplify(y) == (u_i * P - p_i * Z) / (P * (Z + g * P))
    assert [sp.nsimplify(x) for x in weights("gamma", a, w, gamma=0)] == [sp.nsimplify(x) for x in
                                                                           weights("z", a, w)]


def test_rational_case_is_reproducible():
    net1, x1 = rational_case((2, 2, 1), rng=3)
    net2, x2 = rational_case((2, 2, 1), rng=3)
    assert list(x1) == list(x2)
    assert all(isinstance(v, Fraction) for v in x1)
    assert (net1.affine_layers[0].weight_matrix() == net2.affine_layers[0].weight_matrix()).all()


@settings(max_examples=SLOW_EXAMPLES)
@given(seed=st.integers(0, 2**16))
def test_constant_roots_theorem_holds_on_random_exact_networks(seed):
    """Claim 1 at random rational networks and roots in the region: the symbolic recursion matches the engine."""
    from proofs.constant_roots import check_engine

    outcome = check_engine(rng=seed)
    assert outcome.ok, outcome.detail


@settings(max_examples=SLOW_EXAMPLES)
@given(seed=st.integers(0, 2**16))
def test_zero_bias_statements_hold_on_random_bias_free_networks(seed):
    """Claim 5 on random bias-free dtd_ref.mlp networks in exact mode (f = grad f . x, z roots 0, z-DTD = g x i)."""
    from proofs.zero_bias import check_engine

    outcome = check_engine(rng=seed)
    assert outcome.ok, outcome.detail
