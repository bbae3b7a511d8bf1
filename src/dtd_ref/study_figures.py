"""Figures of the study: the 2-D slice through an input and two of its roots, the root table, Sensitivity-n.

:func:`root_slice` computes (no plotting) the exact partition of the plane x + s (root_1 - x) + t (root_2 - x)
through an input x and two of its input-layer roots, so that x sits at (0, 0) and the roots at (1, 0) and (0, 1);
:func:`write_figures` draws it and the summaries with matplotlib when it is installed (``pip install
'dtd-ref[plot]'``) and writes nothing otherwise.
"""

from __future__ import annotations

import os

import numpy as np

from .roots import explained_subnetwork

__all__ = ["root_slice", "write_figures", "SLICE_BOUNDS"]

#: Plane coordinates of the slice: the input at (0, 0), its two roots at (1, 0) and (0, 1).
SLICE_BOUNDS = ((-0.25, 1.25), (-0.25, 1.25))


def _pick(report):
    """(input i, neuron columns (c1, c2)): an input with an outside root and a second root, on layer 0."""
    lr = report.layers.get(0)
    if lr is None:
        return None
    moved = lr.has_root & lr.active
    for i in range(lr.has_root.shape[0]):
        outside = np.flatnonzero(moved[i] & ~lr.inside[i])
        others = [c for c in np.flatnonzero(moved[i] & lr.inside[i])] + list(outside[1:])
        if outside.size and others:
            return i, (int(outside[0]), int(others[0]))
    return None


def root_slice(net, X, reports, *, output: int = 0) -> dict | None:
    """The slice through an input and two of its z+ (exact convention) input-layer roots; None if there is none.

    Returns a dict with ``input`` (index into X), ``neurons``, ``inside`` (verdict of each root), ``n_regions``,
    ``input_region`` (index of the input's polygon) and ``regions`` (the :class:`dtd_ref.slices.SliceRegions`).
    """
    from .slices import slice_regions

    chosen = [r for r in reports if r.rule == "z+" and r.convention == "exact"] or list(reports)
    for report in chosen:
        pick = _pick(report)
        if pick is None:
            continue
        i, (c1, c2) = pick
        lr = report.layers[0]
        x = np.asarray(X[i], dtype=float)
        r1, r2 = (np.asarray(lr.roots[i, c], dtype=float) for c in (c1, c2))
        F = explained_subnetwork(net, 0, output)
        try:
            regions = slice_regions(F, x, r1 - x, r2 - x, bounds=SLICE_BOUNDS)
        except (ValueError, RuntimeError) as error:
            return {"input": int(i), "neurons": [int(lr.neurons[c1]), int(lr.neurons[c2])], "error": str(error)}
        located = regions.locate(x[None, :])
        return {"input": int(i), "rule": report.rule, "convention": report.convention,
                "neurons": [int(lr.neurons[c1]), int(lr.neurons[c2])],
                "inside": [bool(lr.inside[i, c1]), bool(lr.inside[i, c2])], "n_regions": len(regions),
                "input_region": int(located[0]), "regions": regions}
    return None


def write_figures(result, out_dir) -> list:
    """PNG figures of a :class:`dtd_ref.study.StudyResult` in ``out_dir``; [] without matplotlib."""
    from .plotting import _file_pyplot

    try:
        plt = _file_pyplot()
    except ImportError:
        return []
    paths = [_bar_figure(plt, result, os.path.join(out_dir, "roots_outside.png"))]
    if result.slice is not None and "regions" in result.slice:
        paths.append(_slice_figure(plt, result.slice, os.path.join(out_dir, "slice.png")))
    if result.sanity.get("sensitivity", {}).get("ns"):
        paths.append(_sensitivity_figure(plt, result.sanity["sensitivity"], os.path.join(out_dir,
                                                                                          "sensitivity_n.png")))
    return paths


def _save(plt, fig, path) -> str:
    """Lay out, write as PNG and close the figure; returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _bar_figure(plt, result, path) -> str:
    rows = [r for r in result.rows if r["layer"] == 0]
    labels = [f"{r['rule']}\n{r['convention']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 3.5))
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, [r["pct_roots_outside"] for r in rows], width=0.4, label="roots outside")
    ax.bar(positions + 0.2, [r["pct_inputs_any_outside"] for r in rows], width=0.4, label="inputs with a root outside")
    ax.set_xticks(positions, labels, fontsize=7)
    ax.set_ylabel("%")
    ax.set_title("Input-layer roots outside their valid region")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the axes: bars reach 100 %
    return _save(plt, fig, path)


def _slice_figure(plt, info, path) -> str:
    """The slice by :func:`dtd_ref.plotting.plot_slice`: x and its two roots joined, x's own region highlighted.

    x sits at (0, 0), the roots at (1, 0) and (0, 1), green when inside their valid region and red when outside.
    """
    from . import plotting

    regions = info["regions"]
    verdicts = ["inside" if inside else "outside" for inside in info["inside"]]
    fig = plotting.plot_slice(
        regions, points=regions.to_input([[0, 0], [1, 0], [0, 1]]),
        labels=["x"] + [f"root {neuron} ({v})" for neuron, v in zip(info["neurons"], verdicts)],
        point_colors=["black"] + ["tab:green" if v == "inside" else "tab:red" for v in verdicts],
        highlight=info["input_region"] if info["input_region"] >= 0 else None,
        title=f"{info['rule']} roots of input {info['input']}: {info['n_regions']} regions (x's region yellow)")
    return _save(plt, fig, path)


def _sensitivity_figure(plt, sensitivity, path) -> str:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, values in sensitivity.items():
        if name == "ns":
            continue
        ax.plot(sensitivity["ns"], [np.nan if v is None else v for v in values], "o-", label=name)
    ax.set_xlabel("subset size n")
    ax.set_ylabel("Pearson correlation")
    ax.set_title("Sensitivity-n")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)
