"""Cross-check of the rules against zennit (the PyTorch LRP library), in float64, to 1e-10 relative.

Conventions that differ, and how the comparison accounts for them:

* **Stabiliser.**  zennit adds ``stabilizer * sign(den)`` (sign(0) = +1) to every denominator, 1e-6 by default;
  dtd-ref has no hidden stabiliser.  We pass ``stabilizer=ZENNIT_STABILIZER`` = 1e-300: it leaves every nonzero
  float64 denominator unchanged and turns the 0 / 0 of a neuron with zero denominator and zero relevance into 0,
  which is what our "skipped" policy contributes too.  For ``Epsilon`` the stabiliser *is* epsilon, with the same
  sign(0) = +1 convention as ours.
* **Bias.**  zennit puts (modified) biases into the denominators of ZPlus (b^+), AlphaBeta (b^+ / b^-), Gamma
  (b + gamma b^+), ZBox and WSquare (b^2); the DTD root searches and our AlphaBeta leave the bias out.  We pass
  ``zero_params="bias"`` to those rules (not to Epsilon, where both include b).
* **Negative inputs.**  zennit's ZPlus, Gamma and AlphaBeta are generalised to negative inputs (a^- w^- terms); on
  a >= 0 they equal ours, so inputs are non-negative (hidden inputs are post-ReLU anyway).
* **Negative outputs in Gamma.**  zennit's generalised Gamma switches to W + gamma W^- for a neuron whose output
  is negative; after a ReLU such neurons carry no relevance, but the explained output of a network without an output
  ReLU can be negative.  The comparisons explain outputs with f_xi(x) > 0; a control test shows the difference.
* **Inactive units.**  Without a ``Pass`` rule on the activations, zennit backpropagates through the ReLU gradient,
  which zeroes the relevance of inactive units: our "inactive" policy.

zennit's package ``__init__`` imports torchvision (for its ResNet canonizers), which is not installed beside the pinned
CPU torch build; ``dtd_ref._torch_conv.import_zennit`` (shared with the conv cross-checks) registers a stub for it.
"""

import numpy as np
import pytest

from dtd_ref import mlp, rules
from dtd_ref.dtd import train_free_dtd
from dtd_ref.io import to_torch

torch = pytest.importorskip("torch")

ZENNIT_STABILIZER = 1e-300
CROSSCHECK_RTOL = 1e-10  # max |R_zennit - R_ours| / max |R_ours|


def _zennit_rules():
    from dtd_ref._torch_conv import import_zennit

    try:
        import_zennit()
    except ModuleNotFoundError as error:
        if error.name != "zennit":
            raise
        pytest.skip("zennit is not installed", allow_module_level=True)
    import zennit.rules

    return zennit.rules


zr = _zennit_rules()


def _zennit_relevance(net, x, zennit_rules, output):
    """Input relevance from zennit: one rule per Linear, R^L = f_xi(x) e_xi as the output gradient."""
    model = to_torch(net)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    handles = [rule.register(module) for rule, module in zip(zennit_rules, linears)]
    try:
        xt = torch.from_numpy(x).requires_grad_(True)
        y = model(xt)
        start = torch.zeros_like(y)
        start[:, output] = y[:, output]
        (relevance,) = torch.autograd.grad(y, xt, grad_outputs=start)
    finally:
        for handle in handles:
            handle.remove()
    return relevance.detach().numpy()


def _setup(seed, relu_on_output, output, *, positive=True):
    """A 6-8-7-3 network and 5 non-negative inputs whose explained output is > 0.05 (or < 0 if not positive)."""
    net = mlp((6, 8, 7, 3), rng=seed, relu_on_output=relu_on_output)
    x = np.abs(np.random.default_rng(seed + 100).normal(size=(60, 6)))
    y = net(x)[:, output]
    x = x[y > 0.05] if positive else x[y < 0]
    assert len(x) >= 5
    return net, x[:5]


SETUPS = [(0, False, 2), (3, True, 1), (7, False, 0)]  # (seed, relu_on_output, output) with f_output > 0 often


CASES = {
    "zplus": (lambda: zr.ZPlus(stabilizer=ZENNIT_STABILIZER, zero_params="bias"), rules.ZPlus()),
    "epsilon": (lambda: zr.Epsilon(epsilon=0.05), rules.Epsilon(0.05)),
    "alpha2beta1": (lambda: zr.AlphaBeta(alpha=2.0, beta=1.0, stabilizer=ZENNIT_STABILIZER, zero_params="bias"),
                    rules.AlphaBeta(2, 1)),
    "alpha1beta0": (lambda: zr.AlphaBeta(alpha=1.0, beta=0.0, stabilizer=ZENNIT_STABILIZER, zero_params="bias"),
                    rules.AlphaBeta(1, 0)),
    "gamma": (lambda: zr.Gamma(gamma=0.7, stabilizer=ZENNIT_STABILIZER, zero_params="bias"), rules.Gamma(0.7)),
    "w2": (lambda: zr.WSquare(stabilizer=ZENNIT_STABILIZER, zero_params="bias"), rules.W2()),
    "flat": (lambda: zr.Flat(stabilizer=ZENNIT_STABILIZER), rules.Flat()),
}


def _assert_close(theirs, ours):
    scale = np.abs(ours).max()
    assert scale > 0  # a comparison of two zero maps would prove nothing
    assert np.abs(theirs - ours).max() <= CROSSCHECK_RTOL * scale


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed, relu_on_output, output", SETUPS)
def test_rule_matches_zennit(name, seed, relu_on_output, output):
    make, rule = CASES[name]
    net, x = _setup(seed, relu_on_output, output)
    ours = train_free_dtd(net, x, rule, output=output, return_roots=False).relevance[0]
    theirs = _zennit_relevance(net, x, [make() for _ in net.affine_layers], output)
    _assert_close(theirs, ours)


@pytest.mark.parametrize("seed, relu_on_output, output", SETUPS)
def test_zbox_on_the_input_then_zplus_matches_zennit(seed, relu_on_output, output):
    net, x = _setup(seed, relu_on_output, output)
    low, high = -1.0, 4.0
    ours = train_free_dtd(net, x, [rules.ZBox(low, high), rules.ZPlus(), rules.ZPlus()], output=output).relevance[0]
    theirs = _zennit_relevance(net, x, [zr.ZBox(low=low, high=high, stabilizer=ZENNIT_STABILIZER, zero_params="bias"),
                                        zr.ZPlus(stabilizer=ZENNIT_STABILIZER, zero_params="bias"),
                                        zr.ZPlus(stabilizer=ZENNIT_STABILIZER, zero_params="bias")], output)
    _assert_close(theirs, ours)


def test_zennit_default_bias_handling_differs_from_dtd_zplus():
    # Control: without zero_params="bias", zennit's ZPlus puts positive biases into the denominator, which the DTD
    # z+ rule does not; on a network with positive biases the maps differ.
    net, x = _setup(0, False, 2)
    assert np.any(np.concatenate([layer.b for layer in net.affine_layers]) > 0)
    ours = train_free_dtd(net, x, rules.ZPlus(), output=2, return_roots=False).relevance[0]
    theirs = _zennit_relevance(net, x, [zr.ZPlus(stabilizer=ZENNIT_STABILIZER) for _ in net.affine_layers], 2)
    assert np.abs(theirs - ours).max() > 1e-6 * np.abs(ours).max()


def test_zennit_gamma_differs_on_a_negative_explained_output():
    # Control: f_1 < 0 here (no output ReLU); zennit's generalised Gamma then uses W + gamma W^- on the top layer.
    net, x = _setup(0, False, 1, positive=False)
    ours = train_free_dtd(net, x, rules.Gamma(0.7), output=1, return_roots=False).relevance[0]
    theirs = _zennit_relevance(net, x, [zr.Gamma(gamma=0.7, stabilizer=ZENNIT_STABILIZER, zero_params="bias")
                                        for _ in net.affine_layers], 1)
    assert np.abs(theirs - ours).max() > 1e-6 * np.abs(ours).max()
