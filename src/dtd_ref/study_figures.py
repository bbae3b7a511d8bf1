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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = [_bar_figure(plt, result, os.path.join(out_dir, "roots_outside.png"))]
    if result.slice is not None and "regions" in result.slice:
        paths.append(_slice_figure(plt, result.slice, os.path.join(out_dir, "slice.png")))
    if result.sanity.get("sensitivity", {}).get("ns"):
        paths.append(_sensitivity_figure(plt, result.sanity["sensitivity"], os.path.join(out_dir,
                                                                                          "sensitivity_n.png")))
    return paths


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
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _slice_figure(plt, info, path) -> str:
    from matplotlib.patches import Polygon

    regions = info["regions"]
    fig, ax = plt.subplots(figsize=(5, 5))
    colours = np.random.default_rng(0).uniform(0.35, 0.95, size=(len(regions), 3))
    for k, polygon in enumerate(regions.polygons):
        face = (1.0, 0.85, 0.4) if k == info["input_region"] else colours[k]
        ax.add_patch(Polygon(np.asarray(polygon, dtype=float), closed=True, facecolor=face, edgecolor="0.3",
                             linewidth=0.3))
    ax.plot([0], [0], "ko", label="input x")
    for (s, t), inside, neuron in zip(((1, 0), (0, 1)), info["inside"], info["neurons"]):
        ax.plot([0, s], [0, t], "-", color="0.2", linewidth=0.8)
        ax.plot([s], [t], "o", color="tab:green" if inside else "tab:red",
                label=f"root of neuron {neuron} ({'inside' if inside else 'outside'})")
    (s_lo, s_hi), (t_lo, t_hi) = np.asarray(regions.bounds, dtype=float)
    ax.set_xlim(s_lo, s_hi)
    ax.set_ylim(t_lo, t_hi)
    ax.set_aspect("equal")
    ax.set_title(f"{info['rule']} roots of input {info['input']}: {info['n_regions']} regions (x's region yellow)",
                 fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
