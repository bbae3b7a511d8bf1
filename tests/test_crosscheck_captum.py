"""Cross-check of LRP-epsilon and alpha1-beta0 against captum's LRP, in float64, to 1e-10 relative.

Conventions that differ, and how the comparison accounts for them:

* **Stabiliser.**  captum divides by ``z + STABILITY_FACTOR * sign(z)`` with sign(0) = +1 (the same convention as our
  epsilon rule); for ``EpsilonRule`` the factor is epsilon, for every other rule 1e-9.  For ``Alpha1_Beta0_Rule`` we
  set the instance's ``STABILITY_FACTOR`` to ``CAPTUM_STABILIZER`` = 1e-300, which leaves nonzero float64 denominators
  unchanged (0 / 0 becomes 0, like our "skipped" policy).
* **Bias.**  captum's alpha1-beta0 keeps the (unclamped) bias in its forward pass unless ``set_bias_to_zero=True``;
  our alpha-beta ignores the bias, so we set it.  Epsilon includes the bias in both.
* **Activations.**  captum passes relevance through ReLUs unchanged (it does not zero inactive units), while we book
  relevance on inactive units as "inactive".  For epsilon and alpha1-beta0 the relevance of an inactive unit is
  already 0 (it is proportional to the unit's activation), so the maps agree.
* **Output relevance.**  captum starts from the model output at ``target``: f_xi(x), as we do.
"""

import numpy as np
import pytest

from dtd_ref import mlp, rules
from dtd_ref.dtd import train_free_dtd
from dtd_ref.io import to_torch

torch = pytest.importorskip("torch")
captum_attr = pytest.importorskip("captum.attr")
lrp_rules = pytest.importorskip("captum.attr._utils.lrp_rules")

CAPTUM_STABILIZER = 1e-300
CROSSCHECK_RTOL = 1e-10  # max |R_captum - R_ours| / max |R_ours|


def _setup(seed, relu_on_output, output):
    """A 6-12-9-3 network and 4 non-negative inputs whose explained output is > 0.05."""
    net = mlp((6, 12, 9, 3), rng=seed, relu_on_output=relu_on_output)
    x = np.abs(np.random.default_rng(seed + 100).normal(size=(60, 6)))
    x = x[net(x)[:, output] > 0.05]
    assert len(x) >= 4
    return net, x[:4]


def _captum_relevance(net, x, make_rule, output):
    model = to_torch(net)
    for module in model:
        if isinstance(module, torch.nn.Linear):
            module.rule = make_rule()
    xt = torch.from_numpy(x).requires_grad_(True)
    return captum_attr.LRP(model).attribute(xt, target=output).detach().numpy()


def _alpha1_beta0():
    rule = lrp_rules.Alpha1_Beta0_Rule(set_bias_to_zero=True)
    rule.STABILITY_FACTOR = CAPTUM_STABILIZER
    return rule


@pytest.mark.parametrize("seed, relu_on_output, output", [(0, False, 2), (4, True, 0), (6, False, 0)])
@pytest.mark.parametrize("name, make_rule, rule", [
    ("epsilon", lambda: lrp_rules.EpsilonRule(epsilon=0.01), rules.Epsilon(0.01)),
    ("epsilon-small", lambda: lrp_rules.EpsilonRule(epsilon=1e-9), rules.Epsilon(1e-9)),
    ("alpha1beta0", _alpha1_beta0, rules.AlphaBeta(1, 0)),
])
def test_rule_matches_captum(name, make_rule, rule, seed, relu_on_output, output):
    net, x = _setup(seed, relu_on_output, output)
    ours = train_free_dtd(net, x, rule, output=output, return_roots=False).relevance[0]
    theirs = _captum_relevance(net, x, make_rule, output)
    scale = np.abs(ours).max()
    assert scale > 0
    assert np.abs(theirs - ours).max() <= CROSSCHECK_RTOL * scale


def test_alpha1_beta0_equals_zplus_here_too():
    # a >= 0 everywhere, so captum's alpha1-beta0 is also the DTD z+ rule
    net, x = _setup(0, False, 2)
    zplus = train_free_dtd(net, x, rules.ZPlus(), output=2, return_roots=False).relevance[0]
    theirs = _captum_relevance(net, x, _alpha1_beta0, 2)
    assert np.abs(theirs - zplus).max() <= CROSSCHECK_RTOL * np.abs(zplus).max()
