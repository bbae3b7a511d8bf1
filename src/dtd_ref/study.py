"""The study behind ``dtd-ref study``: where DTD roots land (C5 / C6), sanity checks (C7 analogue), a slice, proofs.

:func:`run_study` runs everything on one network (by default the C6 setting of [SL22]: ``c6_network(seed)``, 1000
inputs x = |N(0, I)| kept when f_0(x) > 0.1, rules z+, gamma = 1, w^2, z and the root-at-0 shortcut, both root
conventions) and returns a :class:`StudyResult`; :func:`format_summary` prints its tables and :func:`write_outputs`
writes ``report.md``, ``results.json`` and, with matplotlib, PNG figures (:mod:`dtd_ref.study_figures`).

Sampling follows the authors' ``get_input_with_output_greater``: draw x = |N(0, I)| and keep it when
f_output(x) > threshold, at most ``MAX_DRAWS_PER_SAMPLE`` draws per kept input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_batch, check_index
from .models import c6_network
from .network import Network
from .roots import CONVENTIONS, STUDY_RULES, analyze_roots, format_table

__all__ = ["StudyResult", "sample_inputs", "run_study", "format_summary", "write_outputs",
           "DEFAULT_SAMPLES", "DEFAULT_SEED", "DEFAULT_THRESHOLD", "MAX_DRAWS_PER_SAMPLE", "SWEEP_RULES"]

DEFAULT_SAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_THRESHOLD = 0.1
#: The authors' sampler gave up after 1000 draws per input.
MAX_DRAWS_PER_SAMPLE = 1000
#: Inputs used by the sanity checks (a subset of the study's inputs keeps the command under a minute).
SANITY_INPUTS = 200
#: Rules of the network-seed sweep (input layer only).
SWEEP_RULES = ("z+", "gamma=1", "w2")


def sample_inputs(net: Network, n: int, *, rng, output: int = 0, threshold: float = DEFAULT_THRESHOLD,
                  max_draws: int | None = None) -> tuple[np.ndarray, int]:
    """Rejection-sample n inputs x = |N(0, I)| with f_output(x) > threshold.

    Parameters
    ----------
    net : Network
    n : int
        Inputs to keep.
    rng : numpy Generator or int
    output : int
        The output that must exceed ``threshold``.
    threshold : float
    max_draws : int, optional
        Give up after this many draws (default ``MAX_DRAWS_PER_SAMPLE * n``).

    Returns
    -------
    X : (n, d)
        Kept inputs, in the order drawn.
    draws : int
        Number of draws it took (acceptance rate n / draws).

    Raises
    ------
    ValueError
        Fewer than n inputs were found within ``max_draws``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer number of samples, got {n!r}")
    output = check_index(output, "output", net.out_features)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(_seed(rng))
    max_draws = MAX_DRAWS_PER_SAMPLE * n if max_draws is None else int(max_draws)
    float_net = _float_network(net)
    kept, draws, total = [], 0, 0
    batch = max(4 * n, 1024)
    while total < n and draws < max_draws:
        size = min(batch, max_draws - draws)
        X = np.abs(gen.standard_normal((size, net.in_features)))
        keep = np.flatnonzero(float_net(X)[:, output] > threshold)
        accepted = X[keep]
        need = n - total
        if keep.size >= need:  # count draws up to the last kept input, as a sequential sampler would
            draws += int(keep[need - 1]) + 1
        else:
            draws += size
        kept.append(accepted[:need])
        total += min(need, accepted.shape[0])
    if total < n:
        raise ValueError(f"samples: only {total} of {n} inputs x = |N(0, I)| had f_{output}(x) > {threshold:g} "
                         f"in {draws} draws; the explained output is (almost) never active for this network")
    return np.concatenate(kept, axis=0), draws


def _seed(rng) -> int:
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise ValueError(f"rng: expected a numpy Generator or an integer seed, got {rng!r}")
    return int(rng)


def _float_network(net: Network) -> Network:
    if not net.exact:
        return net
    from .exact import to_float

    return Network([layer.map_arrays(to_float) for layer in net.layers])


@dataclass
class StudyResult:
    """Everything the study computed.  ``config`` and every summary are JSON-serialisable."""

    config: dict
    net: Network
    X: np.ndarray
    draws: int
    reports: list
    rows: list
    sweep: list = field(default_factory=list)
    sanity: dict = field(default_factory=dict)
    slice: dict | None = None
    proofs: list | None = None
    seconds: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"config": self.config, "draws": self.draws, "acceptance": self.X.shape[0] / self.draws,
                "roots": self.rows, "sweep": self.sweep, "sanity": self.sanity,
                "slice": None if self.slice is None else {k: v for k, v in self.slice.items() if k != "regions"},
                "proofs": self.proofs, "seconds": self.seconds}


def run_study(net: Network | None = None, *, samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED,
              threshold: float = DEFAULT_THRESHOLD, output: int = 0, exact: bool = False, rules=STUDY_RULES,
              conventions=CONVENTIONS, sanity: bool = True, slice_plane: bool = True, proofs: bool = True,
              sweep: int = 10, X=None, authors_network: bool = False, progress: bool = False) -> StudyResult:
    """Run the study.

    Parameters
    ----------
    net : Network, optional
        The network; default ``c6_network(seed)`` (or ``authors_c6_network(seed)`` with ``authors_network``).
    samples, seed, threshold, output
        n inputs x = |N(0, I)| with f_output(x) > threshold, drawn with ``numpy.random.default_rng(seed)``.
    exact : bool
        Decide every root verdict in rational arithmetic (slow: roughly 0.1 s per input, rule and convention).
    rules, conventions
        Root rules and conventions of the table.
    sanity, slice_plane, proofs : bool
        Run the sanity checks, the 2-D slice and the proofs' summary.
    sweep : int
        For the built-in networks only: repeat the input-layer analysis on this many network seeds
        (seed, seed + 1, ...) to show how much the shares depend on the draw of the network (0 to skip).
    X : (n, d), optional
        Use these inputs instead of sampling.
    authors_network : bool
        Use the authors' own C6 network, :func:`dtd_ref.authors_network.authors_c6_network` (needs PyTorch), with
        ``seed`` as the torch seed: ``seed=1`` reproduces the table of [SL22] in the "authors" convention.
    progress : bool
        Show tqdm progress bars.
    """
    t_start = time.perf_counter()
    default = net is None
    constructor = _authors_constructor() if authors_network else c6_network
    net = constructor(seed) if default else net
    output = check_index(output, "output", net.out_features)
    if X is None:
        X, draws = sample_inputs(net, samples, rng=seed, output=output, threshold=threshold)
    else:
        X, _ = as_batch(X, "X", net.in_features)
        draws = X.shape[0]
    config = {"network": f"{constructor.__name__}({seed})" if default else "given", "widths": list(net.widths),
              "samples": int(X.shape[0]), "seed": int(seed), "threshold": float(threshold), "output": output,
              "exact": bool(exact), "rules": list(rules), "conventions": list(conventions), "proofs": bool(proofs)}
    result = StudyResult(config, net, X, draws, [], [])
    steps = [(r, c) for c in conventions for r in rules]
    judge_net = net.to_exact() if exact else net
    with _bar(len(steps), "roots", progress) as bar:
        for rule, convention in steps:
            report = analyze_roots(judge_net, X, rule, output=output, convention=convention)
            result.reports.append(report)
            result.rows += report.summary()
            bar.update(1)
    result.seconds["roots"] = time.perf_counter() - t_start
    if default and sweep:
        t = time.perf_counter()
        result.sweep = network_sweep(range(seed, seed + sweep), samples=samples, threshold=threshold,
                                     output=output, progress=progress, constructor=constructor)
        result.seconds["sweep"] = time.perf_counter() - t
    if sanity:
        t = time.perf_counter()
        from .study_sanity import run_sanity

        result.sanity = run_sanity(net, X[:SANITY_INPUTS], output=output, seed=seed)
        result.seconds["sanity"] = time.perf_counter() - t
    if slice_plane:
        t = time.perf_counter()
        from .study_figures import root_slice

        result.slice = root_slice(net, X, result.reports, output=output)
        result.seconds["slice"] = time.perf_counter() - t
    if proofs:
        t = time.perf_counter()
        result.proofs = proofs_summary()
        result.seconds["proofs"] = time.perf_counter() - t
    result.seconds["total"] = time.perf_counter() - t_start
    return result


def _authors_constructor():
    from .authors_network import authors_c6_network

    return authors_c6_network


def network_sweep(seeds, *, samples: int, threshold: float, output: int = 0, progress: bool = False,
                  constructor=c6_network) -> list:
    """Input-layer shares of roots outside for ``constructor(s)``, s in ``seeds`` (inputs drawn with seed s)."""
    rows = []
    seeds = list(seeds)
    with _bar(len(seeds), "network seeds", progress) as bar:
        for s in seeds:
            net = constructor(s)
            row = {"seed": int(s)}
            try:
                X, draws = sample_inputs(net, samples, rng=s, output=output, threshold=threshold)
            except ValueError:
                row["acceptance"] = 0.0
                rows.append(row)
                bar.update(1)
                continue
            row["acceptance"] = X.shape[0] / draws
            for convention in CONVENTIONS:
                for rule in SWEEP_RULES:
                    summary = analyze_roots(net, X, rule, output=output, layers=[0], convention=convention).summary()
                    row[f"{rule}/{convention}"] = summary[0]["pct_roots_outside"]
                    row[f"{rule}/{convention}/inputs"] = summary[0]["pct_inputs_any_outside"]
            rows.append(row)
            bar.update(1)
    return rows


def _run_proofs() -> list | None:
    """``proofs.run_all()`` (a list of ProofResult), or None when the proofs package is not importable.

    ``proofs`` ships beside the package in a source checkout, not inside it, so an installed wheel may lack it; the
    CLI's ``prove`` command and the study's summary both come through here.
    """
    try:
        import proofs
        run_all = proofs.run_all
    except (ImportError, AttributeError):
        return None
    return list(run_all())


def proofs_summary() -> list | None:
    """One dict per claim from ``proofs.run_all()`` (None when the proofs package is not available)."""
    results = _run_proofs()
    if results is None:
        return None
    return [{"claim": r.claim, "title": r.title, "scope": r.scope, "ok": bool(r.ok), "seconds": float(r.seconds)}
            for r in results]


class _bar:
    """tqdm progress bar on stderr, or a no-op."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.total, self.desc, self.enabled, self.bar = total, desc, enabled, None

    def __enter__(self):
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, leave=False)
        return self

    def update(self, n: int = 1):
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


# ---------------------------------------------------------------------------------------------------- text
def _sweep_table(rows: list, *, markdown: bool = False) -> str:
    keys = [f"{r}/{c}" for c in CONVENTIONS for r in SWEEP_RULES]
    header = ["net seed", "acceptance"] + [f"{k} %" for k in keys]
    body = [[str(row["seed"]), f"{row['acceptance']:.3f}"]
            + [f"{row[k]:.1f}" if k in row else "-" for k in keys] for row in rows]
    return _grid(header, body, markdown)


def _grid(header, body, markdown) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + ["  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in body])


def format_summary(result: StudyResult, *, markdown: bool = False) -> str:
    """The tables the command prints: roots per rule / convention / layer, the seed sweep, sanity, proofs."""
    c = result.config
    parts = [f"network {c['network']} widths {c['widths']}, {c['samples']} inputs x = |N(0, I)| with "
             f"f_{c['output']}(x) > {c['threshold']:g} (seed {c['seed']}, acceptance "
             f"{result.X.shape[0] / result.draws:.3f}), {'exact' if c['exact'] else 'float64 + exact recheck'}",
             "", "Where the roots lie (closure on the rooted neuron; per root / per input):",
             format_table(result.rows, markdown=markdown)]
    if result.sweep:
        parts += ["", "Input-layer roots outside (% of roots) for other network seeds:",
                  _sweep_table(result.sweep, markdown=markdown)]
    if result.sanity:
        from .study_sanity import sanity_tables

        parts += ["", sanity_tables(result.sanity, markdown=markdown)]
    if result.slice is not None:
        s = result.slice
        parts += ["", f"Slice through input {s['input']} and two of its z+ roots (neurons {s['neurons']}): "
                      f"{s['n_regions']} linear regions; root inside: {s['inside']}"]
    if result.proofs is None and c.get("proofs"):
        parts += ["", "Proofs: the proofs package is not importable here (install dtd-ref from a clone, "
                      "pip install -e .)"]
    if result.proofs is not None:
        parts += ["", "Proofs:"] + [f"  [{'PASS' if p['ok'] else 'FAIL'}] {p['claim']:<22} {p['seconds']:6.2f} s  "
                                    f"{p['title']}" for p in result.proofs]
    return "\n".join(parts)


def write_outputs(result: StudyResult, out_dir, *, figures: bool = True) -> list:
    """Write report.md, results.json and (with matplotlib and ``figures``) PNGs into ``out_dir``; list of paths."""
    import json
    import os

    os.makedirs(out_dir, exist_ok=True)
    written = []
    images = []
    if figures:
        from .study_figures import write_figures

        images = write_figures(result, out_dir)
        written += images
    path = os.path.join(out_dir, "results.json")
    with open(path, "w") as handle:
        json.dump(_clean(result.to_json()), handle, indent=1, allow_nan=False)
    written.append(path)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as handle:
        handle.write(_report_markdown(result, images))
    written.append(path)
    return written


def _clean(value):
    """JSON-safe copy: NaN / inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    return value


def _report_markdown(result: StudyResult, images: list) -> str:
    import os

    lines = ["# dtd-ref study", "",
             "Where do the roots of the train-free Deep Taylor Decomposition lie, relative to the linear region in "
             "which their Taylor expansion is valid ([SL22], claims C5 and C6)?  A root counts as *outside* when "
             "its activation pattern differs from the input's on some unit of the sub-network from its layer to "
             "the explained output; the rooted neuron itself is judged with closure semantics (a root belongs on "
             "its own hinge).  `exact` roots are the zeros of the relevance model (t = z_j / w_j^T v_j); `authors` "
             "roots use the upper relevance R_j instead of z_j, as the code of [SL22] did (THEORY.md §5).", "",
             "```", format_summary(result), "```", ""]
    lines += ["## Root table (markdown)", "", format_table(result.rows, markdown=True), ""]
    for image in images:
        name = os.path.basename(image)
        lines += [f"![{name}]({name})", ""]
    lines += ["Timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items()), ""]
    return "\n".join(lines)
