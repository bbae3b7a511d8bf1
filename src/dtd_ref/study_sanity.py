"""The sanity-check part of the study: C7 analogue (logit swap, last-layer randomisation) and Sensitivity-n.

z+ and alpha1-beta0 (train-free DTD, :mod:`dtd_ref.dtd`) are compared with gradient x input on the study's network
and inputs.  [S20] / [SL22] C7 predict: the z+ maps barely change when another output is explained or the last layer
is redrawn (similarities near 1), gradient x input does change.
"""

from __future__ import annotations

import numpy as np

from . import rules
from .sanity import (dtd_attribution, gradient_x_input_attribution, last_layer_randomization, logit_swap,
                     sensitivity_n)

__all__ = ["run_sanity", "sanity_tables", "ATTRIBUTIONS", "SENSITIVITY_SUBSETS"]

#: Random subsets per input and size in the Sensitivity-n curves.
SENSITIVITY_SUBSETS = 64


def _attributions() -> dict:
    return {
        # z+ is defined on non-negative inputs; "allow" keeps the study running on a user's network with negative
        # inputs (the formula is then applied as it stands, as zennit and the authors' code do)
        "z+": dtd_attribution(rules.ZPlus(negative_inputs="allow")),
        "alpha1beta0": dtd_attribution(rules.AlphaBeta(1, 0)),
        "gradient x input": gradient_x_input_attribution,
    }


ATTRIBUTIONS = tuple(_attributions())


def run_sanity(net, X, *, output: int = 0, seed: int = 0) -> dict:
    """Logit swap, last-layer randomisation and Sensitivity-n for z+, alpha1beta0 and gradient x input.

    Returns a JSON-serialisable dict: ``logit_swap`` / ``randomization`` map attribution name to the summary of
    :class:`dtd_ref.sanity.SimilarityResult`; ``sensitivity`` holds ``ns`` and the mean correlation per attribution.
    """
    attributions = _attributions()
    out = {"n_inputs": int(X.shape[0]), "output": int(output), "logit_swap": {}, "randomization": {},
           "sensitivity": {}}
    other = (output + 1) % net.out_features
    for name, attribution in attributions.items():
        if net.out_features > 1:
            out["logit_swap"][name] = logit_swap(net, X, attribution, outputs=(output, other)).summary()
        out["randomization"][name] = last_layer_randomization(net, X, attribution, output=output,
                                                              rng=seed).summary()
        curve = sensitivity_n(net, X, attribution, output=output, n_subsets=SENSITIVITY_SUBSETS, rng=seed)
        out["sensitivity"]["ns"] = curve.ns.tolist()
        out["sensitivity"][name] = [None if not np.isfinite(v) else float(v) for v in curve.mean]
    out["other_output"] = int(other)
    return out


def sanity_tables(sanity: dict, *, markdown: bool = False) -> str:
    """Text (or markdown) tables of :func:`run_sanity`'s result."""
    lines = [f"Sanity checks on {sanity['n_inputs']} inputs (|R| compared; median over inputs where defined):"]
    header = ["attribution", "check", "spearman", "cosine", "defined"]
    body = []
    for check, title in (("logit_swap", f"output {sanity['output']} vs {sanity.get('other_output')}"),
                         ("randomization", "last layer redrawn")):
        for name, summary in sanity[check].items():
            body.append([name, title, f"{summary['spearman_median']:.3f}", f"{summary['cosine_median']:.3f}",
                         f"{summary['n_defined']}/{summary['n_inputs']}"])
    lines.append(_table(header, body, markdown))
    ns = sanity["sensitivity"].get("ns", [])
    if ns:
        lines += ["", "Sensitivity-n (mean Pearson correlation of sum_S R and the output drop, baseline 0):"]
        header = ["attribution"] + [f"n={n}" for n in ns]
        body = [[name] + ["-" if v is None else f"{v:.2f}" for v in values]
                for name, values in sanity["sensitivity"].items() if name != "ns"]
        lines.append(_table(header, body, markdown))
    return "\n".join(lines)


def _table(header, body, markdown: bool) -> str:
    if markdown:
        rows = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(rows + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    rows = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(rows + ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                                       enumerate(zip(cells, widths))) for cells in body])
