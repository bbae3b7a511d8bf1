"""Tests of dtd_ref.plotting (Agg backend; files only under tmp_path)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402

from dtd_ref import Dense, Network, ReLU, mlp  # noqa: E402
from dtd_ref import plotting  # noqa: E402
from dtd_ref.slices import slice_regions  # noqa: E402


@pytest.fixture
def quadrants():
    # relu(x), relu(y), relu(x + y - 1) on [-1, 1]^2: five polygons (worked by hand in test_slices)
    net = Network([Dense([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), ReLU(), Dense([[1.0, 1.0]], [-1.0]), ReLU()])
    return slice_regions(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], bounds=((-1, 1), (-1, 1)))


def test_polygons_and_colours(quadrants):
    import matplotlib.pyplot as plt

    fig = plotting.plot_slice(quadrants)
    collection = next(c for c in fig.axes[0].collections if isinstance(c, PolyCollection))
    drawn = collection.get_paths()
    assert len(drawn) == 5
    for path, polygon in zip(drawn, quadrants.polygons):
        np.testing.assert_allclose(path.vertices[:len(polygon)], polygon)
    colours = collection.get_facecolor()[:, :3]
    np.testing.assert_allclose(colours, plotting.region_colours(quadrants.patterns))
    assert len({tuple(c) for c in np.round(colours, 6)}) == 5  # five patterns, five colours here
    plt.close(fig)


def test_region_colours_depend_only_on_the_pattern():
    patterns = np.array([[True, False, True], [False, False, True], [True, False, True]])
    colours = plotting.region_colours(patterns)
    np.testing.assert_array_equal(colours[0], colours[2])
    assert not np.array_equal(colours[0], colours[1])
    assert ((colours >= 0.45) & (colours <= 0.95)).all()


def test_points_segments_and_png(quadrants, tmp_path):
    import matplotlib.pyplot as plt

    # the input (0.5, -0.25) and two roots, all on the plane (which is R^2 here)
    points = np.array([[0.5, -0.25], [0.0, 0.0], [-0.5, 0.75]])
    path = tmp_path / "slice.png"
    fig = plotting.plot_slice(quadrants, points=points, labels=["x", "r1", "r2"], path=path)
    ax = fig.axes[0]
    scatter = next(c for c in ax.collections if isinstance(c, PathCollection))
    np.testing.assert_allclose(scatter.get_offsets(), points)
    segments = [line.get_xydata() for line in ax.lines]
    assert len(segments) == 2
    np.testing.assert_allclose(segments[1], points[[0, 2]])
    assert [t.get_text() for t in ax.texts] == ["x", "r1", "r2"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)


def test_points_off_the_plane_are_projected():
    import matplotlib.pyplot as plt

    net = mlp((3, 4, 1), rng=0)
    result = slice_regions(net, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    # (0.25, 0.5, 2) projects to (s, t) = (0.25, 0.5) at distance 2 (by hand)
    st, distance = result.to_plane([[0.25, 0.5, 2.0], [0.1, 0.2, 0.0]])
    np.testing.assert_allclose(st, [[0.25, 0.5], [0.1, 0.2]])
    np.testing.assert_allclose(distance, [2.0, 0.0])
    fig = plotting.plot_slice(result, points=[[0.25, 0.5, 2.0], [0.1, 0.2, 0.0]], connect=False)
    scatter = next(c for c in fig.axes[0].collections if isinstance(c, PathCollection))
    assert scatter.get_facecolor()[0][3] == 0  # the off-plane point is hollow
    assert not fig.axes[0].lines
    plt.close(fig)


def test_colour_by_output_into_given_axes(quadrants):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    returned = plotting.plot_slice(quadrants, color_by="output", ax=ax, title="f")
    assert returned is fig and ax.get_title() == "f"
    collection = next(c for c in ax.collections if isinstance(c, PolyCollection))
    np.testing.assert_allclose(collection.get_array(), quadrants.net(quadrants.interior_points)[:, 0])
    plt.close(fig)


def test_highlight_and_point_colours(quadrants):
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    points = np.array([[0.5, -0.25], [0.0, 0.0], [-0.5, 0.75]])
    region = int(quadrants.locate(points[:1])[0])
    fig = plotting.plot_slice(quadrants, points=points, point_colors=["black", "tab:green", "tab:red"],
                              highlight=region)
    ax = fig.axes[0]
    faces = next(c for c in ax.collections if isinstance(c, PolyCollection)).get_facecolor()[:, :3]
    np.testing.assert_allclose(faces[region], plotting.HIGHLIGHT_COLOUR)
    others = np.delete(np.arange(len(quadrants)), region)
    np.testing.assert_allclose(faces[others], plotting.region_colours(quadrants.patterns)[others])
    outline = [c for c in ax.collections if isinstance(c, PolyCollection)][1]
    np.testing.assert_allclose(outline.get_paths()[0].vertices[:len(quadrants.polygon(region))],
                               quadrants.polygon(region))
    scatter = next(c for c in ax.collections if isinstance(c, PathCollection))
    np.testing.assert_allclose(scatter.get_edgecolor(), [to_rgba(c) for c in ("black", "tab:green", "tab:red")])
    plt.close(fig)


def test_validates(quadrants):
    with pytest.raises(ValueError, match="color_by"):
        plotting.plot_slice(quadrants, color_by="gradient")
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_slice(quadrants, points=[[0.0, 0.0]], labels=["a", "b"])
    with pytest.raises(ValueError, match="output"):
        plotting.plot_slice(quadrants, color_by="output", output=3)
    with pytest.raises(ValueError, match="point_colors"):
        plotting.plot_slice(quadrants, points=[[0.0, 0.0]], point_colors=["red", "blue"])
    with pytest.raises(ValueError, match="highlight"):
        plotting.plot_slice(quadrants, highlight=len(quadrants))
    with pytest.raises(ValueError, match="highlight"):
        plotting.plot_slice(quadrants, color_by="output", highlight=0)


def test_missing_matplotlib_says_how_to_install(quadrants, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install"):
        plotting.plot_slice(quadrants)
