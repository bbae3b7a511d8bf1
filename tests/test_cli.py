"""Tests of the dtd-ref command: every subcommand in-process with tmp_path, bad input, one subprocess smoke test."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dtd_ref import cli, io, mlp, rules
from dtd_ref.dtd import train_free_dtd
from dtd_ref.roots import analyze_roots

SUBCOMMANDS = ("study", "roots", "regions", "explain", "prove")


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_net(tmp_path):
    net = mlp((6, 5, 4, 2), rng=3, relu_on_output=True, positive_bias_factor=-1.0, positive_weight_scale=2.0)
    path = tmp_path / "net.npz"
    io.save(net, path)
    return net, path


@pytest.fixture
def inputs(tmp_path):
    X = np.abs(np.random.default_rng(0).normal(size=(7, 6)))
    path = tmp_path / "x.npy"
    np.save(path, X)
    return X, path


# ------------------------------------------------------------------------------------------------ help
@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_every_subcommand_teaches_with_an_example(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert "example:" in out and f"dtd-ref {command}" in out


def test_no_command_prints_the_overview_and_fails(capsys):
    code, out, _ = run([], capsys)
    assert code == 2 and "dtd-ref study" in out


# ------------------------------------------------------------------------------------------------ commands
def test_study_writes_report_results_and_figures(tmp_path, capsys):
    out_dir = tmp_path / "study"
    code, out, _ = run(["study", "--samples", 40, "--sweep", 0, "--no-proofs", "--quiet", "--out", out_dir], capsys)
    assert code == 0
    assert "root-at-0" in out and "authors" in out
    results = json.loads((out_dir / "results.json").read_text())
    assert results["config"]["samples"] == 40 and results["config"]["network"] == "c6_network(0)"
    assert {row["rule"] for row in results["roots"]} == {"z+", "gamma=1", "w2", "z", "root-at-0"}
    assert "| rule |" in (out_dir / "report.md").read_text()
    pytest.importorskip("matplotlib")
    for name in ("roots_outside.png", "slice.png", "sensitivity_n.png"):
        assert (out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_roots_command_equals_analyze_roots_on_a_saved_network(small_net, inputs, tmp_path, capsys):
    net, path = small_net
    X, x_path = inputs
    json_path = tmp_path / "roots.json"
    code, out, _ = run(["roots", "--network", path, "--input", x_path, "--rule", "z+", "--rule", "gamma=1",
                        "--convention", "exact", "--json", json_path], capsys)
    assert code == 0
    written = json.loads(json_path.read_text())
    expected = [analyze_roots(net, X, rule).summary() for rule in ("z+", "gamma=1")]
    assert [r["summary"] for r in written] == json.loads(json.dumps(expected))


def test_a_network_imported_from_torch_runs_through_network_unchanged(inputs, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2), torch.nn.ReLU())
    net = io.from_torch(module)
    path = tmp_path / "torch_net.npz"
    io.save(net, path)
    X, x_path = inputs
    json_path = tmp_path / "roots.json"
    code, _, _ = run(["roots", "--network", path, "--input", x_path, "--rule", "w2", "--json", json_path], capsys)
    assert code == 0
    written = json.loads(json_path.read_text())
    for report in written:
        direct = analyze_roots(net, X, "w2", convention=report["convention"])
        assert report["summary"] == json.loads(json.dumps(direct.summary()))
        roots = np.array(report["layers"]["0"]["roots"], dtype=float)
        assert np.array_equal(roots, direct.layers[0].roots)


def test_authors_network_option_builds_their_network(capsys):
    pytest.importorskip("torch")
    from dtd_ref.authors_network import authors_c6_network
    from dtd_ref.study import sample_inputs

    code, out, _ = run(["roots", "--authors-network", "--seed", 1, "--samples", 50, "--rule", "z+", "--layers", 0,
                        "--convention", "authors"], capsys)
    assert code == 0
    net = authors_c6_network(1)
    X, _ = sample_inputs(net, 50, rng=1)
    expected = analyze_roots(net, X, "z+", layers=[0], convention="authors").summary()[0]
    assert f"{expected['pct_roots_outside']:.1f}" in out.splitlines()[2]


def test_explain_writes_relevance_in_the_input_shape_and_a_heatmap(small_net, tmp_path, capsys):
    net, path = small_net
    images = np.abs(np.random.default_rng(1).normal(size=(3, 2, 3)))  # three 2 x 3 "images", d = 6
    x_path = tmp_path / "images.npy"
    np.save(x_path, images)
    out_path = tmp_path / "R.npy"
    code, out, _ = run(["explain", "--network", path, "--input", x_path, "--rule", "z+", "--out", out_path],
                       capsys)
    assert code == 0
    R = np.load(out_path)
    expected = train_free_dtd(net, images.reshape(3, 6), rules.ZPlus(), output=0).relevance[0]
    assert R.shape == (3, 2, 3)
    assert np.array_equal(R.reshape(3, 6), expected)
    pytest.importorskip("matplotlib")
    assert (tmp_path / "R.png").read_bytes()[:4] == b"\x89PNG"


def test_explain_json_output_with_a_first_layer_rule(small_net, inputs, tmp_path, capsys):
    net, path = small_net
    X, x_path = inputs
    out_path = tmp_path / "R.json"
    code, _, _ = run(["explain", "--network", path, "--input", x_path, "--rule", "z+", "--first-rule", "zB",
                      "--low", 0, "--high", 5, "--output", 1, "--out", out_path], capsys)
    assert code == 0
    expected = train_free_dtd(net, X, [rules.ZBox(0, 5), rules.ZPlus(), rules.ZPlus()], output=1).relevance[0]
    assert np.allclose(json.loads(out_path.read_text()), expected, rtol=0, atol=0)


def test_regions_reports_patterns_and_point_membership(small_net, inputs, tmp_path, capsys):
    net, path = small_net
    X, x_path = inputs
    points = np.vstack([X[0], X[0] + 100.0])  # x itself is in its region; far away it is not
    p_path = tmp_path / "p.npy"
    np.save(p_path, points)
    code, out, _ = run(["regions", "--network", path, "--input", x_path, "--points", p_path], capsys)
    assert code == 0
    assert "points in the region of input 0: 1 of 2: 1 0" in out
    assert out.count("\n") >= X.shape[0] + 2


@pytest.mark.parametrize("with_points", [True, False])
def test_regions_slice_is_drawn_by_plot_slice(with_points, small_net, inputs, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from dtd_ref import plotting

    calls, draw = [], plotting.plot_slice
    monkeypatch.setattr(plotting, "plot_slice", lambda result, **kw: calls.append((result, kw)) or draw(result, **kw))
    _, path = small_net
    X, x_path = inputs
    png = tmp_path / "slice.png"
    argv = ["regions", "--network", path, "--input", x_path, "--slice", png]
    if with_points:
        np.save(tmp_path / "p.npy", X[1:3])
        argv += ["--points", tmp_path / "p.npy"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (result, kw), = calls
    assert f"wrote {png} ({len(result)} regions)" in out
    # the input sits at (0, 0); the two points (when given) span the plane at (1, 0) and (0, 1)
    st, distance = result.to_plane(kw["points"])
    np.testing.assert_allclose(st, [[0, 0], [1, 0], [0, 1]][:st.shape[0]], atol=1e-12)
    np.testing.assert_allclose(distance, 0, atol=1e-12)
    assert st.shape[0] == (3 if with_points else 1)
    assert kw["highlight"] == result.locate(X[:1])[0] >= 0


def test_drawing_without_matplotlib_is_a_one_line_error(small_net, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib now raises ImportError
    code, _, err = run(["regions", "--network", small_net[1], "--input", inputs[1], "--slice", tmp_path / "s.png"],
                       capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--slice: drawing needs matplotlib: pip install 'dtd-ref[plot]'" in err
    assert not (tmp_path / "s.png").exists()


def test_prove_reports_every_claim_and_fails_on_a_failed_proof(monkeypatch, capsys):
    import proofs

    class Result:
        def __init__(self, claim, ok):
            self.claim, self.ok = claim, ok

        def line(self):
            return f"[{'PASS' if self.ok else 'FAIL'}] {self.claim}"

    monkeypatch.setattr(proofs, "run_all", lambda: [Result("a", True), Result("b", True)], raising=False)
    code, out, _ = run(["prove"], capsys)
    assert code == 0 and "2 of 2 claims proven" in out
    monkeypatch.setattr(proofs, "run_all", lambda: [Result("a", True), Result("b", False)], raising=False)
    code, out, _ = run(["prove"], capsys)
    assert code == 1 and "FAILED: b" in out


def test_prove_without_the_proofs_package_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "proofs", None)   # import proofs raises ImportError
    code, out, err = run(["prove"], capsys)
    assert code == 2 and "the proofs package is not available" in err and out == ""


# ------------------------------------------------------------------------------------------------ bad input
@pytest.fixture
def bad_files(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1, 1, 1, 1, 1]]))
    np.save(tmp_path / "wide.npy", np.ones((2, 7)))
    np.save(tmp_path / "negative.npy", -np.ones((2, 6)))
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    return tmp_path


BAD_CALLS = [
    (["roots", "--network", "{tmp}/missing.npz"], "no such file"),
    (["explain", "--network", "{net}", "--input", "{tmp}/missing.npy", "--rule", "z+"], "no such file"),
    (["explain", "--network", "{net}", "--input", "{tmp}/wide.npy", "--rule", "z+"], "expected shape"),
    (["explain", "--network", "{net}", "--input", "{x}", "--rule", "lrp-42"], "unknown rule"),
    (["roots", "--network", "{net}", "--input", "{x}", "--rule", "sideways"], "unknown rule"),
    (["explain", "--network", "{net}", "--input", "{tmp}/nan.npy", "--rule", "z+"], "NaN"),
    (["explain", "--network", "{tmp}/broken.npz", "--input", "{x}", "--rule", "z+"], "broken.npz"),
    (["explain", "--network", "{net}", "--input", "{x}", "--rule", "gamma=-1"], "gamma"),
    (["explain", "--network", "{net}", "--input", "{x}", "--rule", "zB"], "--low"),
    (["roots", "--network", "{net}", "--input", "{x}", "--output", "5"], "--output"),
    (["study", "--samples", "0"], "positive integer"),
    (["study", "--threshold", "inf"], "finite"),
    (["study", "--samples", "5", "--threshold", "1e9", "--no-proofs", "--no-sanity", "--sweep", "0", "--quiet",
      "--out", "{tmp}/o"], "never active"),
    (["explain", "--network", "{net}", "--input", "{x}", "--rule", "z+", "--out", "{tmp}/R.txt"], "unknown output"),
    (["sideways"], "invalid choice"),
    (["roots", "--authors-network", "--network", "{net}"], "exclude each other"),
    (["explain", "--network", "{net}", "--input", "{tmp}/negative.npy", "--rule", "z+"], "non-negative"),
]


@pytest.mark.parametrize("argv, message", BAD_CALLS)
def test_bad_input_gives_one_line_error_and_nonzero_exit(argv, message, small_net, inputs, bad_files, capsys):
    fill = {"tmp": bad_files, "net": small_net[1], "x": inputs[1]}
    code, out, err = run([a.format(**fill) for a in argv], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("dtd-ref") and message in lines[0]


def test_subprocess_smoke(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-m", "dtd_ref", "roots", "--samples", "20", "--rule", "z+",
                           "--layers", "0"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "z+" in done.stdout and "outside %" in done.stdout
    done = subprocess.run([sys.executable, "-m", "dtd_ref", "explain", "--input", "missing.npy", "--rule", "z+"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no such file" in done.stderr
