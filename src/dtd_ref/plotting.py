"""Plots of 2-D slices: polygons coloured by linear region, with optional points (an input and its roots).

Needs matplotlib (the ``plot`` extra: ``pip install 'dtd-ref[plot]'``); it is imported only when a plot is drawn.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._validation import check_index
from .exact import to_float

__all__ = ["plot_slice", "region_colours", "HIGHLIGHT_COLOUR"]

#: Face colour of a highlighted polygon (e.g. the input's own region); outside the range of :func:`region_colours`.
HIGHLIGHT_COLOUR = (1.0, 0.85, 0.4)

_MISSING = "dtd_ref.plotting needs matplotlib: pip install 'dtd-ref[plot]' (or pip install matplotlib)"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
        from matplotlib.collections import PolyCollection
    except ImportError as error:
        raise ImportError(_MISSING) from error
    return plt, PolyCollection


def _file_pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, for code that only writes figures to files.

    Raises ImportError (saying how to install matplotlib) when it is missing.
    """
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(_MISSING) from error
    matplotlib.use("Agg")
    return _pyplot()[0]


def region_colours(patterns) -> np.ndarray:
    """One RGB colour per flat pattern, bool (P, U) -> float (P, 3), a deterministic function of the pattern.

    The same region gets the same colour in every slice that meets it (the colour hashes the pattern), so slices
    through the same network can be compared by eye.  Colours are kept light so that points and lines stay visible.
    """
    patterns = np.asarray(patterns, dtype=bool)
    out = np.empty((patterns.shape[0], 3))
    for i, row in enumerate(patterns):
        digest = hashlib.blake2b(np.packbits(row).tobytes() + bytes([row.size % 256]), digest_size=3).digest()
        out[i] = 0.45 + 0.5 * np.frombuffer(digest, dtype=np.uint8) / 255.0
    return out


def plot_slice(result, *, points=None, labels=None, point_colors=None, connect: bool = True, color_by: str = "region",
               output: int = 0, highlight=None, ax=None, path=None, title=None, edgecolor="0.25",
               linewidth: float = 0.3, dpi: int = 150):
    """Draw a :class:`dtd_ref.slices.SliceRegions`: one filled polygon per linear region.

    Parameters
    ----------
    result : SliceRegions
    points : array_like (n, d), optional
        Input-space points to mark (for DTD: the input first, then its roots); they are projected orthogonally onto
        the plane, and points off the plane are drawn hollow.
    labels : sequence of str, optional
        One label per point.
    point_colors : sequence of matplotlib colours, optional
        One colour per point; by default black for the first point and crimson for the others.
    connect : bool
        Draw the segment from the first point to each of the others (an input and its roots).
    color_by : {"region", "output"}
        "region": a light colour per pattern (:func:`region_colours`); "output": the network output ``output`` at
        each polygon's interior point, on the viridis colour map, with a colour bar.
    output : int
        The output unit for ``color_by="output"``.
    highlight : int, optional
        Index of a polygon to fill with ``HIGHLIGHT_COLOUR`` and outline (with ``color_by="region"``), e.g. the
        input's region ``result.locate(x)[0]``.
    ax : matplotlib Axes, optional
        Draw into these axes; by default a new figure is made.
    path : str or path-like, optional
        Also write the figure there as PNG.
    title : str, optional
        Default: the number of regions.
    edgecolor, linewidth, dpi
        Polygon edges and PNG resolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt, PolyCollection = _pyplot()
    if color_by not in ("region", "output"):
        raise ValueError(f"color_by: expected 'region' or 'output', got {color_by!r}")
    if color_by == "output":
        output = check_index(output, "output", result.net.out_features)
        if highlight is not None:
            raise ValueError("highlight: only with color_by='region' (the output colour map fills every polygon)")
    if highlight is not None:
        highlight = check_index(highlight, "highlight", len(result))
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    else:
        fig = ax.figure
    polygons = [to_float(polygon) for polygon in result.polygons]
    collection = PolyCollection(polygons, edgecolors=edgecolor, linewidths=linewidth)
    if color_by == "region":
        faces = region_colours(result.patterns)
        if highlight is not None:
            faces[highlight] = HIGHLIGHT_COLOUR
        collection.set_facecolor(faces)
    else:
        values = to_float(result.net(result.interior_points))
        collection.set_array(values[:, output])
        collection.set_cmap("viridis")
        fig.colorbar(collection, ax=ax, label=f"f_{output}")
    ax.add_collection(collection)
    if highlight is not None:  # outlined as well: a light region colour can come close to HIGHLIGHT_COLOUR
        ax.add_collection(PolyCollection([polygons[highlight]], facecolors="none", edgecolors="0.1", linewidths=1.5))
    (s_lo, s_hi), (t_lo, t_hi) = to_float(result.bounds)
    ax.set_xlim(s_lo, s_hi)
    ax.set_ylim(t_lo, t_hi)
    ax.set_aspect("equal")
    ax.set_xlabel("s (along u)")
    ax.set_ylabel("t (along v)")
    ax.set_title(f"{len(result)} linear regions" if title is None else title, fontsize=10)
    if points is not None:
        _draw_points(ax, result, points, labels, point_colors, connect)
    if path is not None:
        fig.savefig(path, dpi=dpi, format="png")
    return fig


def _draw_points(ax, result, points, labels, point_colors, connect: bool) -> None:
    st, distance = result.to_plane(points)
    for name, values in (("labels", labels), ("point_colors", point_colors)):
        if values is not None and len(values) != st.shape[0]:
            raise ValueError(f"{name}: expected {st.shape[0]} entries, one per point, got {len(values)}")
    scale = max(1.0, float(np.abs(to_float(result.bounds)).max()))
    on_plane = distance <= 1e-9 * scale
    if connect and st.shape[0] > 1:
        for k in range(1, st.shape[0]):
            ax.plot(st[[0, k], 0], st[[0, k], 1], color="0.1", linewidth=1.0, zorder=3)
    colours = list(point_colors) if point_colors is not None else ["black"] + ["crimson"] * (st.shape[0] - 1)
    ax.scatter(st[:, 0], st[:, 1], s=28, zorder=4, c=[c if keep else "none" for c, keep in zip(colours, on_plane)],
               edgecolors=colours)
    for k, label in enumerate(labels or []):
        ax.annotate(label, st[k], textcoords="offset points", xytext=(4, 4), fontsize=8, zorder=5)
