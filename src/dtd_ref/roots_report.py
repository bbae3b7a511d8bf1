"""The result of :func:`dtd_ref.roots.analyze_roots`: per-layer verdicts, the paper's summaries, a text table.

Counting follows [SL22]'s C6 table: a *root* is one (input, neuron) pair whose rule produced a root point (neurons
skipped by the rule are not roots and are counted apart); "roots outside" is per root, "inputs with a root outside"
per input (any of its roots in that layer), "unchanged output" per root (F_k(root) = F_k(a_k)).  Inactive neurons
have their input as root, which is trivially inside; ``n_active_roots`` tells how many roots were real line searches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .exact import to_float

__all__ = ["LayerRoots", "RootReport", "format_table", "TABLE_COLUMNS"]


@dataclass
class LayerRoots:
    """Verdicts for the roots of affine layer ``layer`` (n inputs, J rooted neurons).

    Attributes
    ----------
    layer : int
        Affine layer k.
    neurons : (J,) int
        Rooted neurons j (all of layer k; only the explained output in the output layer).
    roots : (n, J, d_k)
        Root points (float64; Fraction objects for exact networks).
    has_root, active : (n, J) bool
        The rule produced a root / neuron j is active at x.
    inside, segment_inside : (n, J) bool
        Root (segment a_k -> root) in the region of F_k at a_k, closure on the rooted neuron only.
    first_flip : (n, J) int
        Flat unit index of F_k (see ``unit_layer``) that leaves its side first along the segment, -1 if none.
    flip_t : (n, J) float
        Where along the segment (t in [0, 1]) it does; NaN if none.
    margin : (n, J) float
        Signed distance of the root to the nearest other facet (> 0 inside).
    in_domain, unchanged : (n, J) bool
        Root in the rule's input domain / F_k(root) = F_k(a_k).
    delta_f : (n, J) float
        F_k(root) - F_k(a_k).
    unit_layer : (U,) int
        Activation layer of the full network that each flat unit of F_k belongs to.
    rechecked : (n,) bool
        Inputs whose verdicts were re-decided in exact arithmetic.
    """

    layer: int
    neurons: np.ndarray
    roots: np.ndarray
    has_root: np.ndarray
    active: np.ndarray
    inside: np.ndarray
    segment_inside: np.ndarray
    first_flip: np.ndarray
    flip_t: np.ndarray
    margin: np.ndarray
    in_domain: np.ndarray
    unchanged: np.ndarray
    delta_f: np.ndarray
    unit_layer: np.ndarray
    rechecked: np.ndarray

    @property
    def outside(self) -> np.ndarray:
        """(n, J) bool: a root that lies outside its region."""
        return self.has_root & ~self.inside

    def summary(self) -> dict:
        """Counts and percentages of this layer (percentages in [0, 100], NaN when there is nothing to count)."""
        n_inputs = int(self.has_root.shape[0])
        n_roots = int(self.has_root.sum())
        outside = self.outside
        flips = self.first_flip[outside & (self.first_flip >= 0)]
        flip_layers = np.bincount(self.unit_layer[flips], minlength=int(self.unit_layer.max(initial=-1)) + 1) \
            if flips.size else np.zeros(0, int)
        margins = self.margin[self.has_root]
        return {
            "layer": self.layer,
            "n_inputs": n_inputs,
            "n_roots": n_roots,
            "n_skipped": int((~self.has_root).sum()),
            "n_active_roots": int((self.has_root & self.active).sum()),
            "n_outside": int(outside.sum()),
            "pct_roots_outside": _pct(outside.sum(), n_roots),
            "n_inputs_any_outside": int(outside.any(axis=1).sum()),
            "pct_inputs_any_outside": _pct(outside.any(axis=1).sum(), n_inputs),
            "n_unchanged": int((self.has_root & self.unchanged).sum()),
            "pct_unchanged": _pct((self.has_root & self.unchanged).sum(), n_roots),
            "n_segment_outside": int((self.has_root & ~self.segment_inside).sum()),
            "n_out_of_domain": int((self.has_root & ~self.in_domain).sum()),
            "n_rechecked_inputs": int(self.rechecked.sum()),
            "first_flip_layers": {int(m): int(c) for m, c in enumerate(flip_layers) if c},
            "margin_min": float(margins.min()) if margins.size else float("nan"),
            "mean_abs_delta_f_outside": float(np.abs(self.delta_f[outside]).mean()) if outside.any() else 0.0,
        }


def _pct(count, total) -> float:
    return 100.0 * float(count) / float(total) if total else float("nan")


@dataclass
class RootReport:
    """Root analysis of one rule and convention over a batch of inputs; ``layers[k]`` is a :class:`LayerRoots`."""

    rule: str
    convention: str
    output: int
    exact: bool
    n_inputs: int
    layers: dict = field(default_factory=dict)
    all_outputs: bool = False

    def summary(self) -> list:
        """One dict per analysed layer, with the rule and convention added."""
        return [{"rule": self.rule, "convention": self.convention, **self.layers[k].summary()}
                for k in sorted(self.layers)]

    def to_json(self, *, include_roots: bool = False) -> dict:
        """A JSON-serialisable dict: the summaries, and optionally every root and verdict."""
        out = {"rule": self.rule, "convention": self.convention, "output": self.output, "exact": self.exact,
               "all_outputs": self.all_outputs, "n_inputs": self.n_inputs, "summary": self.summary()}
        if include_roots:
            out["layers"] = {str(k): {name: _jsonable(getattr(lr, name)) for name in
                                      ("neurons", "roots", "has_root", "active", "inside", "segment_inside",
                                       "first_flip", "flip_t", "margin", "in_domain", "unchanged", "delta_f",
                                       "rechecked")} for k, lr in self.layers.items()}
        return out


def _jsonable(array):
    array = np.asarray(array)
    if array.dtype == object:
        array = to_float(array)
    if array.dtype.kind == "f":
        return [None if not np.isfinite(v) else float(v) for v in array.ravel()] if array.ndim == 0 else \
            np.where(np.isfinite(array), array, np.nan).tolist()
    return array.tolist()


TABLE_COLUMNS = (
    ("rule", "rule", "{}"),
    ("convention", "convention", "{}"),
    ("layer", "layer", "{}"),
    ("n_roots", "roots", "{}"),
    ("pct_roots_outside", "outside %", "{:.1f}"),
    ("pct_inputs_any_outside", "inputs w/ outside %", "{:.1f}"),
    ("pct_unchanged", "unchanged f %", "{:.1f}"),
    ("n_out_of_domain", "off domain", "{}"),
    ("n_skipped", "skipped", "{}"),
    ("n_rechecked_inputs", "rechecked", "{}"),
)


def format_table(rows, *, markdown: bool = False) -> str:
    """A fixed-width (or markdown) table of summary rows (dicts from :meth:`RootReport.summary`)."""
    header = [title for _, title, _ in TABLE_COLUMNS]
    body = [[fmt.format(row[key]) for key, _, fmt in TABLE_COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
              for cells in body]
    return "\n".join(lines)
