"""save / load (versioned .npz, never pickle), from_torch and to_torch."""

import io
import pickle
import sys
import zipfile
from collections import OrderedDict
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from dtd_ref import Dense, LeakyReLU, Network, ReLU, mlp
from dtd_ref import strategies as dst
from dtd_ref.conv import Conv2d
from dtd_ref.io import FORMAT_NAME, FORMAT_VERSION, from_torch, load, save, to_torch
from dtd_ref.lenet import convnet
from dtd_ref.pooling import AvgPool2d, MaxPool2d

TORCH_RTOL = 1e-12   # float64 forward of the converted network vs torch's float64 forward (summation order only)


def roundtrip(net) -> Network:
    buffer = io.BytesIO()
    save(net, buffer)
    buffer.seek(0)
    return load(buffer)


def assert_identical(a: Network, b: Network) -> None:
    """Same layer types and geometry, and every array equal bit for bit (float64) or value and type for value
    (exact)."""
    assert [type(l) for l in a.layers] == [type(l) for l in b.layers]
    assert a.exact == b.exact
    for la, lb in zip(a.layers, b.layers):
        geo_a, geo_b = getattr(la, "geometry", None), getattr(lb, "geometry", None)
        if geo_a is not None:
            assert vars(geo_a) == vars(geo_b)
            assert getattr(la, "count_include_pad", None) == getattr(lb, "count_include_pad", None)
            assert getattr(la, "groups", None) == getattr(lb, "groups", None)
        if isinstance(la, (Dense, Conv2d)):
            for x, y in ((la.W, lb.W), (la.b, lb.b)):
                assert x.dtype == y.dtype and x.shape == y.shape
                if a.exact:
                    assert all(isinstance(v, Fraction) for v in y.flat)
                    assert all(Fraction(u) == v for u, v in zip(x.flat, y.flat))
                else:
                    assert x.tobytes() == y.tobytes()
        elif isinstance(la, LeakyReLU):
            assert type(la.negative_slope) is type(lb.negative_slope)
            assert np.array(la.negative_slope).tobytes() == np.array(lb.negative_slope).tobytes() \
                or la.negative_slope == lb.negative_slope


@given(dst.networks(max_depth=3, max_width=3, weight_denominator=7, relu_on_output=True))
def test_float_networks_round_trip_bit_for_bit(net):
    assert_identical(net, roundtrip(net))


@given(dst.networks(max_depth=3, max_width=3, weight_denominator=3, bias="nonpositive", negative_slope=0.125,
                    exact=True))
def test_exact_networks_round_trip_losslessly(net):
    assert_identical(net, roundtrip(net))


def test_awkward_values_survive():
    W = np.array([[-0.0, 5e-324, 1 / 3, -1.7976931348623157e308]])
    net = Network([Dense(W, [np.nextafter(0.1, 1)]), LeakyReLU(1 / 3)])
    back = roundtrip(net)
    assert_identical(net, back)
    assert np.signbit(back.layers[0].W[0, 0])          # -0.0 stays -0.0
    huge = Fraction(2 ** 300 + 1, 3 ** 100)             # far beyond int64 and float64
    exact = Network([Dense(np.array([[huge, Fraction(-1, 7)]], dtype=object), np.array([3], dtype=object)),
                     LeakyReLU(Fraction(1, 3))])
    back = roundtrip(exact)
    assert back.layers[0].W[0, 0] == huge and back.layers[0].b[0] == 3 and back.layers[1].negative_slope == Fraction(1, 3)


def test_save_writes_exactly_at_the_given_path(tmp_path):
    path = tmp_path / "model.bin"
    save(mlp((2, 2), rng=0), path)
    assert path.exists() and not (tmp_path / "model.bin.npz").exists()
    assert load(str(path)).widths == (2, 2)


def test_file_contains_no_object_arrays_and_the_documented_entries(tmp_path):
    path = tmp_path / "net.npz"
    save(mlp((2, 3, 1), rng=0, negative_slope=0.5), path)
    with np.load(path, allow_pickle=False) as archive:
        assert str(archive["format"]) == FORMAT_NAME and int(archive["version"]) == FORMAT_VERSION
        assert list(archive["kinds"]) == ["dense", "leaky_relu", "dense"]
        assert sorted(archive.files) == sorted(["format", "version", "exact", "kinds", "layer0.W", "layer0.b",
                                                "layer1.negative_slope", "layer2.W", "layer2.b"])


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")


# ---------------------------------------------------------------------------------------------------- bad files
def _entries(net=None) -> dict:
    buffer = io.BytesIO()
    save(net or mlp((2, 3, 1), rng=0), buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _file(**changes) -> io.BytesIO:
    entries = _entries(changes.pop("_net", None))
    for key, value in changes.items():
        if value is None:
            entries.pop(key.replace("__", "."))
        else:
            entries[key.replace("__", ".")] = value
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    buffer.seek(0)
    return buffer


def _truncated() -> io.BytesIO:
    data = _file().getvalue()
    return io.BytesIO(data[: len(data) // 2])


def _pickled() -> io.BytesIO:
    return io.BytesIO(pickle.dumps({"W": np.ones(2)}))


def _zip_with_text_member() -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("format.npy", b"not an array")
    buffer.seek(0)
    return buffer


def _npy() -> io.BytesIO:
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    buffer.seek(0)
    return buffer


exact_net = Network([Dense(np.array([[Fraction(1, 3)]], dtype=object), np.array([Fraction(0)], dtype=object))])

BAD_FILES = [
    ("empty", lambda: io.BytesIO(b""), r"unreadable or truncated"),
    ("truncated", _truncated, r"unreadable or truncated"),
    ("pickle", _pickled, r"not a dtd-ref .npz file .*pickled"),
    ("single npy", _npy, r"expected an .npz archive"),
    ("object array entry", lambda: _file(version=np.array([1, "x"], dtype=object)), r"'version' cannot be read without pickle"),
    ("non-npy member", _zip_with_text_member, r"entry 'format' is not a .npy array"),
    ("wrong format name", lambda: _file(format=np.array("something-else")), r"format 'something-else' is not 'dtd-ref-network'"),
    ("wrong version", lambda: _file(version=np.array(2)), r"format version 2 is not supported"),
    ("version not int", lambda: _file(version=np.array(1.0)), r"'version': expected an integer scalar"),
    ("missing kinds", lambda: _file(kinds=None), r"missing entry 'kinds'"),
    ("missing weights", lambda: _file(layer0__W=None), r"missing entry 'layer0.W'"),
    ("extra entry", lambda: _file(layer9__W=np.ones((1, 1))), r"unexpected entries \['layer9.W'\]"),
    ("float32 weights", lambda: _file(layer0__W=np.ones((3, 2), np.float32)), r"'layer0.W': expected float64 with 2 dimensions, got float32"),
    ("weights of rank 1", lambda: _file(layer0__W=np.ones(6)), r"'layer0.W': expected float64 with 2 dimensions, got float64 of shape \(6,\)"),
    ("inconsistent sizes", lambda: _file(layer2__W=np.ones((1, 4))), r"inconsistent network .*expects 4 inputs"),
    ("bias length", lambda: _file(layer0__b=np.ones(2)), r"inconsistent network .*b: expected shape \(3,\)"),
    ("NaN weights", lambda: _file(layer0__W=np.full((3, 2), np.nan)), r"inconsistent network .*W: contains NaN or inf"),
    ("unknown kind", lambda: _file(kinds=np.array(["dense", "tanh", "dense"])), r"layer 1: unknown kind 'tanh'"),
    ("no layers", lambda: _file(kinds=np.array([], dtype=str), layer0__W=None, layer0__b=None, layer2__W=None,
                                layer2__b=None), r"inconsistent network .*at least one layer"),
    ("exact flag not bool", lambda: _file(exact=np.array(1)), r"'exact': expected a bool scalar"),
    ("bad numerator", lambda: _file(_net=exact_net, layer0__W__num=np.array([["1.5"]])), r"'1.5'/'3' is not a fraction"),
    ("zero denominator", lambda: _file(_net=exact_net, layer0__W__den=np.array([["0"]])), r"is not a fraction with a positive denominator"),
    ("negative denominator", lambda: _file(_net=exact_net, layer0__W__den=np.array([["-3"]])), r"positive denominator"),
    ("num/den shapes", lambda: _file(_net=exact_net, layer0__W__den=np.array([["3", "3"]])), r"shapes \(1, 1\) and \(1, 2\) differ"),
    ("exact flag lies", lambda: _file(_net=exact_net, exact=np.array(False)), r"missing entry 'layer0.W'"),
]


@pytest.mark.parametrize("make, pattern", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_malformed_files_raise_value_error_naming_the_problem(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        load(make())


def test_the_file_path_is_named_in_the_error(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="bad.npz: not a dtd-ref .npz file"):
        load(path)


def test_save_rejects_non_networks_and_unknown_layers():
    with pytest.raises(ValueError, match="net: expected a Network"):
        save("not a network", io.BytesIO())

    class Odd(ReLU):
        pass

    with pytest.raises(ValueError, match=r"net: layer 1 \(ReLU\(\)\) has no .npz encoding"):
        save(Network([Dense([[1.0]], [0.0]), Odd()]), io.BytesIO())


# ---------------------------------------------------------------------------------------------------- torch
def _torch_sequential(torch, widths, *, rng, slope=None, dtype=None, final_activation=False):
    """nn.Sequential with weights set from a NumPy generator (no torch RNG involved)."""
    nn = torch.nn
    gen = np.random.default_rng(rng)
    modules = []
    for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(d_in, d_out, bias=(k % 2 == 0))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(gen.normal(size=(d_out, d_in))))
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(gen.normal(size=d_out)))
        modules.append(linear)
        if k < len(widths) - 2 or final_activation:
            modules.append(nn.ReLU() if slope is None else nn.LeakyReLU(slope))
    module = nn.Sequential(*modules)
    return module.to(dtype) if dtype is not None else module


@pytest.mark.parametrize("slope", [None, 0.2])
@pytest.mark.parametrize("seed", range(4))
def test_from_torch_matches_torch_forward_in_float64(seed, slope):
    torch = pytest.importorskip("torch")
    module = _torch_sequential(torch, (4, 6, 5, 3), rng=seed, slope=slope, dtype=torch.float64,
                               final_activation=seed % 2 == 1)
    net = from_torch(module)
    x = np.random.default_rng(100 + seed).normal(size=(50, 4))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net(x), expected, rtol=TORCH_RTOL, atol=TORCH_RTOL)
    assert len(net.layers) == len(module)


def test_from_torch_copies_float32_weights_exactly_as_float64():
    torch = pytest.importorskip("torch")
    module = _torch_sequential(torch, (3, 2), rng=0, dtype=torch.float32)
    net = from_torch(module)
    W = net.layers[0].W
    assert W.dtype == np.float64
    np.testing.assert_array_equal(W, module[0].weight.detach().numpy().astype(np.float64))
    with torch.no_grad():
        module[0].weight.zero_()
    assert np.any(net.layers[0].W != 0)            # a copy, not a view of torch's storage


def test_from_torch_flattens_nested_sequentials_and_handles_missing_bias():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    inner = nn.Sequential(nn.Linear(3, 2, bias=False), nn.LeakyReLU(0.3))
    net = from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), inner))
    assert [type(l).__name__ for l in net.layers] == ["Dense", "ReLU", "Dense", "LeakyReLU"]
    assert np.all(net.layers[2].b == 0) and net.layers[3].negative_slope == pytest.approx(0.3)
    assert from_torch(nn.Linear(2, 1)).widths == (2, 1)


def test_from_torch_names_unsupported_modules():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match=r"module: 1 is a Tanh, which has no converter"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))
    with pytest.raises(ValueError, match=r"module: block.0 is a Dropout"):
        from_torch(nn.Sequential(OrderedDict(block=nn.Sequential(nn.Dropout()))))
    with pytest.raises(ValueError, match="module: expected a torch.nn.Module"):
        from_torch([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="module: contains no layers"):
        from_torch(nn.Sequential())


def test_from_torch_without_torch_raises_import_error_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "torch.nn", None)
    with pytest.raises(ImportError, match=r"pip install 'dtd-ref\[torch\]'"):
        from_torch(object())


# ---------------------------------------------------------------------------------------------------- to_torch
def _image_networks():
    """Networks covering every layer to_torch converts and every change of layout between flat and image tensors."""
    gen = np.random.default_rng(7)

    def conv(c_out, shape, k, **kw):
        groups = kw.get("groups", 1)
        return Conv2d(gen.normal(size=(c_out, shape[0] // groups, k, k)), gen.normal(size=c_out), input_shape=shape,
                      **kw)

    grouped = conv(4, (2, 6, 5), 2, stride=2, padding=1, dilation=2, groups=2)        # -> (4, 3, 3)
    dense = mlp((3, 5, 4, 2), rng=1, negative_slope=0.1, relu_on_output=True)
    W0 = dense.layers[0].W.copy()
    W0[0, 0] = -0.0                                                                  # the sign of zero survives
    dense = Network([Dense(W0, dense.layers[0].b)] + list(dense.layers[1:]))
    return {
        "mlp_leaky": dense,
        "grouped_dilated_maxpool": Network([grouped, ReLU(), MaxPool2d((4, 3, 3), 2, 1, padding=1),   # -> (4, 4, 4)
                                            Dense(gen.normal(size=(2, 4 * 4 * 4)), gen.normal(size=2))]),
        "dense_into_conv_ends_with_avgpool": Network([
            Dense(gen.normal(size=(16, 3)), gen.normal(size=16)), LeakyReLU(0.2), conv(2, (1, 4, 4), 2),
            AvgPool2d((2, 3, 3), 2, 1, padding=1, count_include_pad=False)]),
        "pool_output_reshaped_for_a_conv": Network([
            conv(2, (1, 5, 5), 2), ReLU(), MaxPool2d((2, 4, 4), 2, dilation=1),        # -> (2, 2, 2), 8 values
            Dense(np.eye(8), np.zeros(8)), ReLU(),                                     # flat again
            conv(1, (2, 2, 2), 1), MaxPool2d((1, 2, 2), (1, 2)), ReLU(),               # -> (1, 2, 1)
            conv(1, (1, 1, 2), 1)]),                                                   # the same 2 values as 1x2
        "lenet_like_max": convnet((1, 8, 8), rng=3, channels=(2, 3), kernel_size=3, pool="max"),
    }


@pytest.mark.parametrize("name", list(_image_networks()))
def test_to_torch_round_trips_bit_for_bit_and_computes_the_same_forward(name):
    torch = pytest.importorskip("torch")
    net = _image_networks()[name]
    model = to_torch(net)
    assert not model.training and all(p.dtype == torch.float64 for p in model.parameters())
    back = from_torch(model)                       # no input_shape: the model's Unflatten carries it
    assert_identical(net, back)
    x = np.random.default_rng(11).normal(size=(5, net.in_features))
    np.testing.assert_array_equal(back(x), net(x))
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    assert y.shape == (5, net.out_features)
    np.testing.assert_allclose(y, net(x), rtol=TORCH_RTOL, atol=TORCH_RTOL)


def test_to_torch_reshapes_only_where_the_layout_changes():
    pytest.importorskip("torch")
    names = [type(m).__name__ for m in to_torch(_image_networks()["pool_output_reshaped_for_a_conv"])]
    assert names == ["Unflatten", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Unflatten", "Conv2d",
                     "MaxPool2d", "ReLU", "Flatten", "Unflatten", "Conv2d", "Flatten"]


def test_to_torch_refuses_what_has_no_float64_twin():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="net: expected a Network"):
        to_torch("net")
    with pytest.raises(ValueError, match="exact"):
        to_torch(mlp((2, 2), rng=0).to_exact())

    class Odd:
        kind, exact = "activation", False

    with pytest.raises(ValueError, match="no torch counterpart"):
        to_torch(Network([Dense([[1.0]], [0.0]), Odd()]))


def test_from_torch_reads_an_unflatten_to_an_image_shape_only():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = from_torch(nn.Sequential(nn.Unflatten(1, (1, 3, 3)), nn.Conv2d(1, 1, 2)))
    assert net.layers[0].input_shape == (1, 3, 3) and net.in_features == 9
    with pytest.raises(ValueError, match="unflattened_size"):
        from_torch(nn.Sequential(nn.Unflatten(1, (3, 3)), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="dim"):
        from_torch(nn.Sequential(nn.Unflatten(0, (1, 3, 3)), nn.Conv2d(1, 1, 2)))
