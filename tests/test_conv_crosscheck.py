"""Cross-checks against PyTorch (float64) and zennit: conv / pooling maps, from_torch, gradients, LRP/DTD rules.

Skipped when torch (or zennit) is not installed; CI installs both.
"""

import numpy as np
import pytest
from _conv_strategies import conv_configs, conv_from_config
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

from dtd_ref import rules  # noqa: E402
from dtd_ref.conv import Conv2d  # noqa: E402
from dtd_ref.dtd import train_free_dtd  # noqa: E402
from dtd_ref.io import from_torch  # noqa: E402
from dtd_ref.pooling import AvgPool2d, MaxPool2d  # noqa: E402
from dtd_ref._torch_conv import import_zennit  # noqa: E402

#: Relative tolerance between torch's and NumPy's float64 summation orders.
FLOAT64_RTOL = 1e-10
#: zennit adds stabilizer * sign(den) to every denominator; this value is far below float64 resolution of our dens.
ZENNIT_STABILIZER = 1e-100


def _t(array):
    return torch.from_numpy(np.array(array))  # a writeable copy: layer parameters are read-only


def _close(actual, desired, rtol=FLOAT64_RTOL):
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * max(1.0, float(np.abs(desired).max())))


# ---------------------------------------------------------------------------------------------------- layer parity
@given(conv_configs(max_groups=3, max_hw=7))
def test_conv2d_matches_torch_float64(cfg):
    rng = np.random.default_rng(cfg["seed"])
    layer = conv_from_config(cfg, rng)
    W, b = layer.W, layer.b
    geometry = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    x = rng.normal(size=(3, cfg["c_in"]) + cfg["hw"])
    expected = F.conv2d(_t(x), _t(W), _t(b), **geometry).numpy()
    assert layer.output_shape == expected.shape[1:]
    _close(layer.forward(x.reshape(3, -1)), expected.reshape(3, -1))
    # the transpose is torch's input gradient: d/dx <conv(x), g> = conv^T g
    xt = _t(x).requires_grad_(True)
    g = rng.normal(size=expected.shape)
    (F.conv2d(xt, _t(W), _t(b), **geometry) * _t(g)).sum().backward()
    _close(layer.linear_T(g.reshape(3, -1)), xt.grad.numpy().reshape(3, -1))


@given(st.integers(1, 3), st.integers(1, 2), st.integers(0, 1), st.booleans(), st.integers(0, 2**32 - 1))
def test_pooling_matches_torch_including_the_tie_convention(k, stride, padding, include_pad, seed):
    padding = min(padding, k // 2)
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(3, 2, 5, 6)).astype(float)  # integers: many ties inside windows
    kw = dict(kernel_size=k, stride=stride, padding=padding)
    maxpool = MaxPool2d((2, 5, 6), k, stride, padding)
    y, indices = F.max_pool2d(_t(x), return_indices=True, **kw)
    np.testing.assert_array_equal(maxpool.forward(x.reshape(3, -1)), y.numpy().reshape(3, -1))
    # torch's CPU kernel keeps the first maximum in window order; the winners (flat index per channel) agree
    winners = maxpool.winners(maxpool.pattern(x.reshape(3, -1))) % (5 * 6)
    np.testing.assert_array_equal(winners, indices.numpy().reshape(3, -1))
    avgpool = AvgPool2d((2, 5, 6), k, stride, padding, count_include_pad=include_pad)
    expected = F.avg_pool2d(_t(x), count_include_pad=include_pad, **kw).numpy()
    _close(avgpool.forward(x.reshape(3, -1)), expected.reshape(3, -1))


# ---------------------------------------------------------------------------------------------------- LeNet
def _torch_lenet(seed, *, batchnorm=False, pool=nn.MaxPool2d, negative_bias=False):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 6, 5), *( [nn.BatchNorm2d(6)] if batchnorm else []), nn.ReLU(), pool(2),
              nn.Conv2d(6, 16, 5), nn.ReLU(), pool(2), nn.Flatten(),
              nn.Linear(256, 120), *([nn.BatchNorm1d(120)] if batchnorm else []), nn.ReLU(),
              nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)]
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
            elif negative_bias and getattr(module, "bias", None) is not None:
                module.bias.copy_(-module.bias.abs())  # biases <= 0: the z+ rule's roots exist
    return model.eval()


@pytest.mark.parametrize("batchnorm", [False, True])
def test_from_torch_lenet_forward_gradient_and_patterns(batchnorm):
    model = _torch_lenet(0, batchnorm=batchnorm)
    net = from_torch(model, input_shape=(1, 28, 28))
    assert len(net.affine_layers) == 5  # batch norms folded, Flatten dropped
    x = np.random.default_rng(0).random((4, 784))
    xt = _t(x.reshape(4, 1, 28, 28)).requires_grad_(True)
    y = model(xt)
    _close(net(x), y.detach().numpy())
    y[:, 3].sum().backward()
    assert np.abs(xt.grad.numpy()).min(axis=0).max() > 0  # not a dead output
    _close(net.gradient(x, output=3), xt.grad.numpy().reshape(4, -1))


def test_from_torch_conv_options_and_errors():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding="same", groups=2, dilation=1, bias=False), nn.ReLU(),
                          nn.AvgPool2d(2, count_include_pad=False, padding=1), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    net = from_torch(model.double(), input_shape=(2, 4, 4))
    x = np.random.default_rng(1).normal(size=(2, 32))
    _close(net(x), model(_t(x.reshape(2, 2, 4, 4))).detach().numpy())
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(nn.Sequential(nn.Conv2d(1, 1, 3)))
    with pytest.raises(ValueError, match="ceil_mode"):
        from_torch(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2, ceil_mode=True)), input_shape=(1, 6, 6))
    with pytest.raises(ValueError, match="padding_mode"):
        from_torch(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")), input_shape=(1, 6, 6))
    with pytest.raises(ValueError, match="follow a Linear or Conv2d"):
        from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)), input_shape=(1, 6, 6))


# ---------------------------------------------------------------------------------------------------- zennit
def _import_zennit():
    try:  # not importorskip: it would also skip (and hide) a broken import of an installed zennit
        return import_zennit()
    except ModuleNotFoundError as error:
        if error.name != "zennit":
            raise
        pytest.skip("zennit is not installed")


def _zennit_relevance(model, x, output, first_rule, rule, pool_rule):
    zennit = _import_zennit()
    from zennit.attribution import Gradient
    from zennit.composites import SpecialFirstLayerMapComposite

    layer_map = [((nn.Conv2d, nn.Linear), rule)]
    if pool_rule is not None:
        layer_map.append(((nn.AvgPool2d,), pool_rule))
    composite = SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=[((nn.Conv2d,), first_rule)])
    xt = _t(x.reshape(x.shape[0], 1, 28, 28)).requires_grad_(True)
    with Gradient(model=model, composite=composite) as attributor:
        y = model(xt)
        seed = torch.zeros_like(y)
        seed[:, output] = y[:, output].detach()
        _, relevance = attributor(xt, seed)
    del zennit
    return relevance.detach().numpy().reshape(x.shape[0], -1)


def _zennit_rules():
    _import_zennit()
    import zennit.rules as zr

    s, nobias = ZENNIT_STABILIZER, ["bias"]
    return {
        # (our rule for the first layer, above it), (zennit's); zennit's bias handling switched off where ours
        # leaves the bias out of the denominator (z+, w^2, gamma, alpha-beta)
        "zplus": ((rules.ZPlus(), rules.ZPlus()), (zr.ZPlus(s, nobias), zr.ZPlus(s, nobias))),
        "w2_then_zplus": ((rules.W2(), rules.ZPlus()), (zr.WSquare(s, nobias), zr.ZPlus(s, nobias))),
        "zbox_then_gamma": ((rules.ZBox(0.0, 1.0), rules.Gamma(0.25)),
                            (zr.ZBox(0.0, 1.0, s), zr.Gamma(0.25, s, nobias))),
        "epsilon": ((rules.Epsilon(0.01), rules.Epsilon(0.01)), (zr.Epsilon(0.01), zr.Epsilon(0.01))),
        "alphabeta": ((rules.AlphaBeta(2, 1), rules.AlphaBeta(2, 1)),
                      (zr.AlphaBeta(2.0, 1.0, s, nobias), zr.AlphaBeta(2.0, 1.0, s, nobias))),
        "flat_then_zplus": ((rules.Flat(), rules.ZPlus()), (zr.Flat(s), zr.ZPlus(s, nobias))),
    }


RULE_NAMES = ["zplus", "w2_then_zplus", "zbox_then_gamma", "epsilon", "alphabeta", "flat_then_zplus"]


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("name", RULE_NAMES)
def test_lenet_rules_match_zennit(name, pool):
    # Max-pool: both sides route winner-take-all (zennit through the plain gradient of max_pool2d).  Avg-pool:
    # our z+ / alpha-beta / ... on an all-positive averaging layer with inputs >= 0 is the proportional split,
    # zennit's Norm rule; for epsilon, the average pool has no bias and ours adds eps sign(z) like Epsilon.
    _import_zennit()
    import zennit.rules as zr

    (first, rest), (z_first, z_rest) = _zennit_rules()[name]
    model = _torch_lenet(1, pool=nn.MaxPool2d if pool == "max" else nn.AvgPool2d)
    net = from_torch(model, input_shape=(1, 28, 28))
    x = np.random.default_rng(3).random((3, 784))
    L = len(net.affine_layers)
    ours = [first] + [rest] * (L - 1)
    pool_rule = None
    if pool == "avg":
        pool_layers = {k for k, layer in enumerate(net.affine_layers) if isinstance(layer, AvgPool2d)}
        proportional = rules.Epsilon(0.01) if name == "epsilon" else rules.Z()
        ours = [proportional if k in pool_layers else rule for k, rule in enumerate(ours)]
        pool_rule = zr.Norm(0.01 if name == "epsilon" else ZENNIT_STABILIZER)  # Norm(eps) = Epsilon(eps), no bias
    mine = train_free_dtd(net, x, ours, output=2, return_roots=False).relevance[0]
    theirs = _zennit_relevance(model, x, 2, z_first, z_rest, pool_rule)
    assert np.abs(theirs).sum() > 0
    _close(mine, theirs, rtol=1e-9)
