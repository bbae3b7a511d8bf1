"""Tests of dtd_ref.roots: where train-free DTD roots land relative to their valid regions (C5 / C6)."""

from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtd_ref import Dense, Network, ReLU, c6_network, mlp, rules, to_exact
from dtd_ref import _reference_roots as ref
from dtd_ref import strategies as dst
from dtd_ref.dtd import train_free_dtd
from dtd_ref.exact import to_fraction
from dtd_ref.regions import region_of
from dtd_ref.roots import (CONVENTIONS, STUDY_RULES, RootRule, analyze_roots, as_root_rule, explained_subnetwork,
                           format_table)

LINE_RULES = ("z+", "gamma=1", "w2", "z")
VERDICTS = ("has_root", "inside", "segment_inside", "unchanged", "in_domain")
FLIP_ATOL = 1e-9  # float64 check that the first-flip point sits on the flipping unit's hinge

_SMALL = dict(min_depth=2, max_depth=3, max_width=3)
relu_out_nets = dst.networks(relu_on_output=True, exact=True, **_SMALL)
# ReLU on the output (the C6 setting), a linear output (no unit after the last layer), and LeakyReLU everywhere
small_exact_nets = st.one_of(relu_out_nets, dst.networks(relu_on_output=False, exact=True, **_SMALL),
                             dst.networks(relu_on_output=True, negative_slope=0.125, exact=True, **_SMALL))
small_float_nets = st.one_of(dst.networks(relu_on_output=True, bias="nonpositive", **_SMALL),
                             dst.networks(relu_on_output=False, **_SMALL))


# ------------------------------------------------------------------------------------------------ reference twin
@pytest.mark.parametrize("rule", STUDY_RULES)
@settings(max_examples=12)
@given(net=small_exact_nets, convention=st.sampled_from(CONVENTIONS), all_outputs=st.booleans(), data=dst.data())
def test_vectorised_analysis_matches_loop_reference(rule, convention, all_outputs, net, data):
    X = data.draw(dst.inputs(net, batch=2, denominator=4, exact=True))
    output = data.draw(st.integers(0, net.out_features - 1))
    fast = analyze_roots(net, X, rule, output=output, convention=convention, all_outputs=all_outputs)
    slow = ref.analyze_roots(net, X, rule, output=output, convention=convention, all_outputs=all_outputs)
    for k, lr in fast.layers.items():
        for key in ("has_root", "inside", "unchanged", "in_domain"):
            assert np.array_equal(getattr(lr, key), slow[k][key]), (k, key)
        assert np.array_equal(lr.roots, slow[k]["roots"])
        assert np.array_equal(lr.delta_f, np.array([[float(v) for v in row] for row in slow[k]["delta_f"]]))


# ------------------------------------------------------------------------------------------------ properties
@given(net=small_exact_nets, rule=st.sampled_from(LINE_RULES), data=dst.data())
def test_exact_roots_of_active_neurons_lie_on_their_hinge(rule, net, data):
    X = data.draw(dst.inputs(net, batch=3, denominator=4, exact=True))
    report = analyze_roots(net, X, rule, convention="exact")
    trace = net.trace(X)
    for k, lr in report.layers.items():
        W, b = net.affine_layers[k].W, net.affine_layers[k].b
        z = trace.z[k][:, lr.neurons]
        for i, jj in zip(*np.nonzero(lr.has_root & (z > 0))):
            j = lr.neurons[jj]
            assert W[j] @ lr.roots[i, jj] + b[j] == 0
        inactive = ~np.asarray(z > 0, bool)
        assert np.array_equal(lr.roots[inactive], np.repeat(trace.a[k][:, None, :], len(lr.neurons), 1)[inactive])
        assert lr.inside[inactive].all() and lr.unchanged[inactive].all()


@given(net=small_exact_nets, rule=st.sampled_from(STUDY_RULES), convention=st.sampled_from(CONVENTIONS),
       data=dst.data())
def test_segment_verdict_agrees_with_endpoint_verdict_by_convexity(rule, convention, net, data):
    X = data.draw(dst.inputs(net, batch=3, denominator=4, exact=True))
    report = analyze_roots(net, X, rule, convention=convention)
    for lr in report.layers.values():
        assert np.array_equal(lr.segment_inside, lr.inside)
        assert np.all(np.isnan(lr.flip_t) == (lr.first_flip < 0))


@given(net=small_float_nets, rule=st.sampled_from(STUDY_RULES), convention=st.sampled_from(CONVENTIONS),
       data=dst.data())
def test_float_verdicts_with_exact_recheck_equal_exact_verdicts(rule, convention, net, data):
    # grid weights and inputs are dyadic, so the float network and its exact twin hold the same numbers; grid
    # inputs land on hinges often, which is what the recheck is for.
    X = np.abs(data.draw(dst.inputs(net, batch=4, denominator=4)))
    fast = analyze_roots(net, X, rule, convention=convention)
    exact = analyze_roots(to_exact(net), X, rule, convention=convention)
    for k in fast.layers:
        for key in VERDICTS:
            assert np.array_equal(getattr(fast.layers[k], key), getattr(exact.layers[k], key)), (k, key)


@given(net=relu_out_nets, rule=st.sampled_from(LINE_RULES), data=dst.data())
def test_output_layer_roots_are_inside_only_thanks_to_closure_on_the_rooted_neuron(rule, net, data):
    X = data.draw(dst.inputs(net, batch=3, denominator=4, exact=True))
    L = len(net.affine_layers)
    report = analyze_roots(net, X, rule, layers=[L - 1], convention="exact")
    lr = report.layers[L - 1]
    assert lr.inside[lr.has_root].all()
    F = explained_subnetwork(net, L - 1, 0)
    a = net.trace(X).a[L - 1]
    for i in np.flatnonzero(lr.has_root[:, 0] & lr.active[:, 0]):
        region = region_of(F, a[i])
        assert region.contains(lr.roots[i, 0], closed=False, closed_on=(0, 0))
        assert not region.contains(lr.roots[i, 0], closed=False)  # strict pattern: the root is on the hinge


@given(net=small_exact_nets, rule=st.sampled_from(STUDY_RULES), convention=st.sampled_from(CONVENTIONS),
       data=dst.data())
def test_margin_sign_matches_the_verdict(rule, convention, net, data):
    X = data.draw(dst.inputs(net, batch=3, denominator=4, exact=True))
    report = analyze_roots(net, X, rule, convention=convention)
    for k, lr in report.layers.items():
        rooted_unit = lr.neurons if k < len(net.affine_layers) - 1 else np.array([0])
        ok = lr.has_root
        assert np.all(lr.margin[ok & lr.inside] >= 0)
        other_flip = ok & ~lr.inside & (lr.first_flip != rooted_unit[None, :])
        assert np.all(lr.margin[other_flip] <= 0)


def test_first_flip_point_lies_on_the_flipping_units_hinge():
    net = c6_network(3)
    X = np.abs(np.random.default_rng(3).normal(size=(200, 10)))
    report = analyze_roots(net, X, "w2", layers=[0])
    lr = report.layers[0]
    F = explained_subnetwork(net, 0, 0)
    a = net.trace(X).a[0]
    i, j = np.nonzero(lr.has_root & ~lr.inside)
    assert i.size > 10
    t = lr.flip_t[i, j]
    points = a[i] + t[:, None] * (lr.roots[i, j] - a[i])
    Z = np.concatenate(F.trace(points).preactivations, axis=1)
    z_flip = Z[np.arange(i.size), lr.first_flip[i, j]]
    assert np.all(np.abs(z_flip) <= FLIP_ATOL * (1 + np.abs(Z).max(axis=1)))


# ------------------------------------------------------------------------------------------------ hand-worked
def _golden_net(exact=True):
    # layer 0: z0 = x0 + x1 - 1, z1 = x0 - x1 - 1/2; layer 1: f = relu(relu(z0) + relu(z1)); x = (2, 1):
    # z0 = 2, z1 = 1/2, f = 5/2.
    W0, b0 = [[1, 1], [1, -1]], [-1, Fr(-1, 2)]
    layers = [Dense(to_fraction(np.array(W0)), to_fraction(np.array(b0, dtype=object))), ReLU(),
              Dense(to_fraction(np.array([[1, 1]])), to_fraction(np.array([0]))), ReLU()]
    net = Network(layers)
    return net if exact else Network([layer.map_arrays(lambda v: np.array([float(e) for e in v.flat]).reshape(
        v.shape)) for layer in layers])


def test_golden_zplus_roots_verdicts_flip_and_margin():
    net = _golden_net()
    x = to_fraction(np.array([[2, 1]]))
    lr = analyze_roots(net, x, "z+").layers[0]
    # neuron 0: v = x * 1[w > 0] = (2, 1), w.v = 3, t = z0 / 3 = 2/3, root = (2/3, 1/3).  There z1 = -1/6 < 0: unit 1
    # flips, so the root is outside.  Along x + t (root - x) = (2 - 4t/3, 1 - 2t/3): z1 = 1/2 - 2t/3 = 0 at t = 3/4
    # (z0 = 2 - 2t and the output 5/2 - 8t/3 stay >= 0 longer).  Margin: unit 1's slack -1/6 over |w1| = sqrt(2);
    # the output row (w0 + w1 = (2, 0), value 0 - 1/6) gives -1/12, larger.  f(root) = relu(0 + 0) = 0: delta -5/2.
    assert list(lr.roots[0, 0]) == [Fr(2, 3), Fr(1, 3)]
    assert not lr.inside[0, 0] and not lr.segment_inside[0, 0]
    assert lr.first_flip[0, 0] == 1 and lr.flip_t[0, 0] == pytest.approx(0.75)
    assert lr.margin[0, 0] == pytest.approx(-1 / (6 * np.sqrt(2)))
    assert lr.delta_f[0, 0] == pytest.approx(-2.5)
    # neuron 1: v = (2, 0), w.v = 2, t = (1/2) / 2 = 1/4, root = (3/2, 1): z0 = 3/2 > 0, output 3/2 > 0: inside,
    # delta 3/2 - 5/2 = -1.
    assert list(lr.roots[0, 1]) == [Fr(3, 2), Fr(1)]
    assert lr.inside[0, 1] and lr.delta_f[0, 1] == pytest.approx(-1.0) and lr.first_flip[0, 1] == -1
    # The authors' convention: the output's z+ relevance is R = (a1 w+)/(w.a1) * 5/2 = (2, 1/2) = (z0, z1), so their
    # roots coincide with the exact ones here (zero output bias).
    authors = analyze_roots(net, x, "z+", convention="authors").layers[0]
    assert np.array_equal(authors.roots, lr.roots)
    # output layer: a1 = (2, 1/2), v = a1, t = 1, root (0, 0) on the output hinge: inside only with closure.
    top = analyze_roots(net, x, "z+").layers[1]
    assert list(top.roots[0, 0]) == [0, 0] and top.inside[0, 0] and top.delta_f[0, 0] == pytest.approx(-2.5)
    # root at 0: z0(0) = -1 < 0 leaves the closure of the rooted neuron 0 and z1(0) = -1/2 flips neuron 1.
    zero = analyze_roots(net, x, "0").layers[0]
    assert not zero.inside.any()
    table = format_table(analyze_roots(net, x, "z+").summary())
    assert "z+" in table and "50.0" in table  # one of the two input-layer roots is outside: 50.0 %


def test_golden_float_network_gives_the_same_verdicts():
    lr_f = analyze_roots(_golden_net(exact=False), np.array([[2.0, 1.0]]), "z+").layers[0]
    lr_e = analyze_roots(_golden_net(), np.array([[2.0, 1.0]]), "z+").layers[0]
    for key in VERDICTS + ("first_flip",):
        assert np.array_equal(getattr(lr_f, key), getattr(lr_e, key))


# ------------------------------------------------------------------------------------------------ vs train_free_dtd
RULE_OBJECTS = {"z+": rules.ZPlus(), "gamma=1": rules.Gamma(1), "w2": rules.W2(), "z": rules.Z()}


@given(net=dst.networks(min_depth=2, max_depth=3, max_width=3, relu_on_output=True, exact=True,
                        bias="nonpositive"), rule=st.sampled_from(LINE_RULES), data=dst.data())
def test_exact_convention_roots_equal_train_free_dtd_roots(rule, net, data):
    X = np.abs(data.draw(dst.inputs(net, batch=3, denominator=4, exact=True)))
    report = analyze_roots(net, X, rule, convention="exact")
    explanation = train_free_dtd(net, X, RULE_OBJECTS[rule], output=0, convention="exact")
    for k, lr in report.layers.items():
        theirs = explanation.roots[k][:, lr.neurons]
        assert np.array_equal(~lr.has_root, explanation.missing[k][:, lr.neurons])
        assert np.array_equal(lr.roots[lr.has_root], theirs[lr.has_root])


@given(net=dst.networks(min_depth=2, max_depth=3, max_width=3, relu_on_output=True, exact=True,
                        bias="nonpositive"), rule=st.sampled_from(["z+", "gamma=1", "z"]), data=dst.data())
def test_authors_roots_of_active_neurons_equal_train_free_dtd_authors_roots(rule, net, data):
    # For z+, gamma and z the direction vanishes with a_j, so inactive neurons carry no relevance in either
    # implementation; roots of active neurons with a root must agree.
    X = np.abs(data.draw(dst.inputs(net, batch=3, denominator=4, exact=True)))
    report = analyze_roots(net, X, rule, convention="authors")
    explanation = train_free_dtd(net, X, RULE_OBJECTS[rule], output=0, convention="authors")
    for k, lr in report.layers.items():
        both = lr.has_root & lr.active & ~explanation.missing[k][:, lr.neurons]
        assert np.array_equal(lr.roots[both], explanation.roots[k][:, lr.neurons][both])


def test_rule_objects_and_names_are_accepted():
    assert as_root_rule(rules.ZPlus()) == as_root_rule("z+") == as_root_rule("zplus")
    assert as_root_rule(rules.Gamma(1)).label == as_root_rule("gamma=1").label == "gamma=1"
    assert as_root_rule(rules.LRP0()).name == "0" and as_root_rule("0").label == "root-at-0"
    box = as_root_rule(rules.ZBox(0.0, 2.0))
    assert box.name == "zB" and float(box.high) == 2.0


def test_zbox_roots_stay_in_their_box_on_the_input_layer():
    net = mlp((3, 4, 2), rng=2, relu_on_output=True)
    X = np.random.default_rng(0).uniform(-1, 1, size=(20, 3))
    report = analyze_roots(net, X, RootRule("zB", low=-1.0, high=1.0), layers=[0])
    lr = report.layers[0]
    # z^B roots of active neurons lie on [low, high] by construction (b_j <= 0 is not needed for the box form)
    assert lr.has_root.any()
    assert report.summary()[0]["n_roots"] == int(lr.has_root.sum())


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, match", [
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 4)), "z+"), "X"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "z+", output=2), "output"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "z+", convention="mine"), "convention"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "z+", layers=[3]), "layers"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "lrp-9"), "unknown rule"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "gamma"), "gamma value"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "gamma=-1"), "gamma"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), "zB"), "box"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), RootRule("zB", low=1.0, high=0.0)), "low"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), RootRule("zB", low=0.0, high=1.0),
                           convention="authors"), "authors"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), [[np.nan, 1.0, 1.0]], "z+"), "NaN"),
    (lambda: analyze_roots("net", np.ones((2, 3)), "z+"), "net"),
    (lambda: analyze_roots(mlp((3, 2), rng=0), np.ones((2, 3)), rules.Epsilon(0.1)), "cannot analyse"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
