"""The ``dtd-ref`` command: study, roots, regions, explain, prove.

``main(argv)`` returns the exit status (0 success, 1 a failed proof, 2 a usage or input error); problems with the
arguments or files are printed as one line on stderr, never as a traceback.  ``python -m dtd_ref`` runs the same.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .cli_io import RULE_HELP, CLIError, load_inputs, load_network, one_line, parse_rule, save_array

__all__ = ["main", "build_parser"]

PROG = "dtd-ref"


class _Parser(argparse.ArgumentParser):
    """Argument errors become a CLIError (one line) instead of usage + exit."""

    def error(self, message):
        raise CLIError(f"{message} (see {self.prog} --help)", prog=self.prog)


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 28,28, got {text!r}") from None
    if not shape or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(f"expected positive sizes like 28,28, got {text!r}")
    return shape


def _common(p, *, authors: bool = False) -> None:
    p.add_argument("--network", metavar="FILE", help="network saved with dtd_ref.io.save (.npz); default: the C6 "
                   "network c6_network(SEED)")
    if authors:
        p.add_argument("--authors-network", action="store_true", help="instead, the authors' own C6 network for "
                       "torch.manual_seed(SEED), built as their code did (needs torch; SEED 1 gives their table)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the default network and of sampling "
                   "(default 0)")
    p.add_argument("--output", type=int, default=0, metavar="J", help="explained output (default 0)")


def _box(p) -> None:
    """--low / --high: the input box of the zB rule."""
    p.add_argument("--low", type=_finite, metavar="L", help="lower end of the zB box")
    p.add_argument("--high", type=_finite, metavar="H", help="upper end of the zB box")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, formatter_class=_formatter, description=(
        "dtd-ref: a reference implementation of the Deep Taylor Decomposition with exact checks.\n\n"
        "  dtd-ref study                 the paper's root study on the C6 network, with report and figures\n"
        "  dtd-ref roots --rule z+       where the roots of a rule lie, per layer\n"
        "  dtd-ref regions --input x.npy the linear region of each input\n"
        "  dtd-ref explain --network net.npz --input x.npy --rule z+\n"
        "  dtd-ref prove                 run the symbolic proofs"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("study", formatter_class=_formatter, help="run the root study, sanity checks, slice, proofs",
                       description=(
                           "Run the study of [SL22] C5/C6/C7: sample inputs x = |N(0, I)| with f_J(x) > 0.1, judge\n"
                           "the roots of z+, gamma=1, w2, z and root-at-0 in both root conventions against their\n"
                           "valid regions, run the sanity checks and a 2-D slice through an input and its roots,\n"
                           "and summarise the proofs.  Prints the table; writes DIR/report.md, DIR/results.json and\n"
                           "PNG figures (with matplotlib).\n\n"
                           "example:\n  dtd-ref study --samples 1000 --seed 0 --out study\n"
                           "  dtd-ref study --authors-network --seed 1 --out study-authors\n"
                           "  dtd-ref study --network my_net.npz --samples 200 --no-proofs"))
    _common(p, authors=True)
    p.add_argument("--samples", type=_positive_int, default=1000, metavar="N", help="inputs to sample (1000)")
    p.add_argument("--threshold", type=_finite, default=0.1, metavar="T", help="keep x when f_J(x) > T (0.1)")
    p.add_argument("--exact", action="store_true", help="decide every verdict in rationals (slow: use few samples)")
    p.add_argument("--out", default="dtd-ref-study", metavar="DIR", help="output directory (dtd-ref-study)")
    p.add_argument("--sweep", type=int, default=10, metavar="K", help="network seeds in the robustness sweep of "
                   "the default network (10; 0 skips)")
    p.add_argument("--no-sanity", action="store_true", help="skip the sanity checks")
    p.add_argument("--no-proofs", action="store_true", help="skip the proofs' summary")
    p.add_argument("--no-figures", action="store_true", help="write no PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_study)

    p = sub.add_parser("roots", formatter_class=_formatter, help="where the roots of DTD rules lie, per layer",
                       description=(
                           "Judge every root of the given rules against the linear region of the sub-network from\n"
                           "its layer to the explained output (closure on the rooted neuron).  Inputs come from\n"
                           "--input or are sampled as in the study.\n\n"
                           "rules: z+, gamma=G, w2, z, 0 (root at 0), zB (with --low/--high, input layer only)\n\n"
                           "example:\n  dtd-ref roots --rule z+ --rule w2 --convention both --samples 500\n"
                           "  dtd-ref roots --network net.npz --input x.npy --rule gamma=1 --json roots.json"))
    _common(p, authors=True)
    p.add_argument("--input", metavar="FILE", help="inputs (.npy/.npz/.json/.csv), shape (n, d) or (d,)")
    p.add_argument("--samples", type=_positive_int, default=1000, metavar="N", help="inputs to sample without "
                   "--input (1000)")
    p.add_argument("--threshold", type=_finite, default=0.1, metavar="T", help="sampling threshold (0.1)")
    p.add_argument("--rule", action="append", metavar="RULE", help="rule (repeatable; default all study rules)")
    p.add_argument("--convention", choices=("exact", "authors", "both"), default="both", help="root convention")
    p.add_argument("--layers", type=int, nargs="+", metavar="K", help="affine layers to analyse (default all)")
    p.add_argument("--all-outputs", action="store_true", help="judge on every output unit (the authors' test)")
    _box(p)
    p.add_argument("--exact", action="store_true", help="decide every verdict in rationals")
    p.add_argument("--json", metavar="FILE", help="also write the summaries (and every root) as JSON")
    p.set_defaults(func=_roots)

    p = sub.add_parser("regions", formatter_class=_formatter, help="the linear region of each input",
                       description=(
                           "Print the activation pattern, number of active units, margin (distance to the nearest\n"
                           "facet) and output of each input; with --points, which points share the region of the\n"
                           "first input; with --slice, draw a 2-D slice through the first input (matplotlib).\n\n"
                           "example:\n  dtd-ref regions --network net.npz --input x.npy --points roots.npy\n"
                           "  dtd-ref regions --input x.npy --slice slice.png"))
    _common(p)
    p.add_argument("--input", metavar="FILE", required=True, help="inputs, shape (n, d) or (d,)")
    p.add_argument("--points", metavar="FILE", help="points to test against the first input's region")
    p.add_argument("--slice", metavar="PNG", help="draw the slice through the first input spanned by two random "
                   "directions (seeded by --seed) or by the first two --points")
    p.add_argument("--json", metavar="FILE", help="write the table as JSON")
    p.set_defaults(func=_regions)

    p = sub.add_parser("explain", formatter_class=_formatter, help="train-free DTD relevance of inputs",
                       description=(
                           "Explain output J of the network at each input with the train-free DTD (or an LRP\n"
                           "rule); writes the input relevance as .npy or .json in the input's shape, and a heatmap\n"
                           "PNG for image-shaped inputs (or with --shape H,W).\n\n"
                           f"rules: {RULE_HELP}\n\n"
                           "example:\n  dtd-ref explain --network net.npz --input x.npy --rule z+ --out R.npy\n"
                           "  dtd-ref explain --network net.npz --input digit.npy --rule z+ --first-rule zB "
                           "--low 0 --high 1 --heatmap R.png"))
    _common(p)
    p.add_argument("--input", metavar="FILE", required=True, help="inputs, shape (n, d), (d,) or image-shaped")
    p.add_argument("--rule", required=True, metavar="RULE", help="rule for every layer")
    p.add_argument("--first-rule", metavar="RULE", help="rule for the input layer only (e.g. zB)")
    _box(p)
    p.add_argument("--convention", choices=("exact", "authors"), default="exact", help="root convention")
    p.add_argument("--out", default="relevance.npy", metavar="FILE", help="relevance file .npy or .json")
    p.add_argument("--heatmap", metavar="PNG", help="heatmap of the relevance (image-shaped inputs)")
    p.add_argument("--shape", type=_shape, metavar="H,W", help="image shape of flat inputs, for the heatmap")
    p.set_defaults(func=_explain)

    p = sub.add_parser("prove", formatter_class=_formatter, help="run the symbolic proofs of the claims",
                       description=("Run every proof module of proofs/ (sympy): one line per claim with its verdict "
                                    "and time; exit status 1 if any fails.\n\nexample:\n  dtd-ref prove"))
    p.set_defaults(func=_prove)
    return parser


# ---------------------------------------------------------------------------------------------------- commands
def _study(args) -> int:
    from .study import format_summary, run_study, write_outputs

    net = _network(args)
    builtin = args.network is None
    result = run_study(None if builtin else net, samples=args.samples, seed=args.seed,
                       threshold=args.threshold, output=_output(net, args), exact=args.exact,
                       sanity=not args.no_sanity, proofs=not args.no_proofs, sweep=max(args.sweep, 0),
                       authors_network=builtin and args.authors_network, progress=not args.quiet)
    print(format_summary(result))
    written = write_outputs(result, args.out, figures=not args.no_figures)
    print(f"\nwrote {', '.join(written)} in {result.seconds['total']:.1f} s")
    return 0


def _network(args):
    if getattr(args, "authors_network", False):
        if args.network is not None:
            raise CLIError("--authors-network and --network exclude each other")
        from .authors_network import authors_c6_network

        try:
            return authors_c6_network(args.seed)
        except ImportError as error:
            raise CLIError(f"--authors-network: {one_line(error)}") from None
    return load_network(args.network, seed=args.seed)


def _output(net, args) -> int:
    if not 0 <= args.output < net.out_features:
        raise CLIError(f"--output: {args.output} is out of range for a network with {net.out_features} outputs")
    return args.output


def _inputs_or_sample(net, args):
    if args.input is not None:
        return load_inputs(args.input, net.in_features)[0]
    from .study import sample_inputs

    return sample_inputs(net, args.samples, rng=args.seed, output=args.output, threshold=args.threshold)[0]


def _roots(args) -> int:
    import json

    from .roots import STUDY_RULES, RootRule, analyze_roots, as_root_rule, format_table

    net = _network(args)
    _output(net, args)
    X = _inputs_or_sample(net, args)
    conventions = ("exact", "authors") if args.convention == "both" else (args.convention,)
    specs = args.rule or list(STUDY_RULES)
    rules = []
    for spec in specs:
        if spec.strip().lower() in ("zb", "zbox"):
            if args.low is None or args.high is None:
                raise CLIError("--rule zB: give the input box with --low and --high")
            rules.append(RootRule("zB", low=args.low, high=args.high))
        else:
            rules.append(as_root_rule(spec))
    judge = net.to_exact() if args.exact else net
    reports = [analyze_roots(judge, X, rule, output=args.output, layers=args.layers, convention=c,
                             all_outputs=args.all_outputs) for c in conventions for rule in rules]
    rows = [row for report in reports for row in report.summary()]
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([r.to_json(include_roots=True) for r in reports], handle)
        print(f"wrote {args.json}")
    return 0


def _regions(args) -> int:
    import json

    from .regions import region_of

    net = load_network(args.network, seed=args.seed)
    _output(net, args)
    X = load_inputs(args.input, net.in_features)[0]
    trace = net.trace(X)
    rows = []
    for i in range(X.shape[0]):
        region = region_of(net, X[i])
        pattern = " ".join("".join("1" if s else "0" for s in p[i]) for p in trace.patterns)
        rows.append({"input": i, "active": int(trace.pattern_vector[i].sum()),
                     "units": int(trace.pattern_vector.shape[1]), "margin": float(region.margin(X[i])),
                     "f": float(trace.output[i, args.output]), "pattern": pattern})
    print("input  active/units  margin      f_J(x)     pattern")
    for r in rows:
        print(f"{r['input']:5d}  {r['active']:5d}/{r['units']:<5d}  {r['margin']:10.4g}  {r['f']:10.4g}  "
              f"{r['pattern']}")
    points = None
    if args.points:
        points = load_inputs(args.points, net.in_features, option="--points")[0]
        region = region_of(net, X[0])
        inside = region.contains(points, closed=False)
        print(f"points in the region of input 0: {int(inside.sum())} of {inside.size}: "
              f"{' '.join('1' if v else '0' for v in inside)}")
        rows[0]["points_inside"] = [bool(v) for v in inside]
    if args.slice:
        _draw_slice(net, X[0], points, args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle)
        print(f"wrote {args.json}")
    return 0


def _draw_slice(net, x, points, args) -> None:
    """Slice through x (and the first two --points, or two random directions) drawn by plotting.plot_slice."""
    from . import plotting
    from .slices import slice_regions

    plt = _pyplot("--slice")
    if points is not None and points.shape[0] >= 2:
        u, v, bounds = points[0] - x, points[1] - x, ((-0.25, 1.25), (-0.25, 1.25))
        marks, labels = np.vstack([x, points[:2]]), ["input 0", "point 0", "point 1"]
    else:
        gen = np.random.default_rng(args.seed)
        u, v = gen.standard_normal((2, x.size))
        bounds = ((-1.0, 1.0), (-1.0, 1.0))
        marks, labels = x[None, :], ["input 0"]
    regions = slice_regions(net, x, u, v, bounds=bounds)
    located = int(regions.locate(x[None, :])[0])
    fig = plotting.plot_slice(regions, points=marks, labels=labels, highlight=located if located >= 0 else None,
                              title=f"{len(regions)} linear regions around input 0", path=args.slice, dpi=120)
    plt.close(fig)
    print(f"wrote {args.slice} ({len(regions)} regions)")


def _pyplot(option: str):
    from .plotting import _file_pyplot

    try:
        return _file_pyplot()
    except ImportError:
        raise CLIError(f"{option}: drawing needs matplotlib: pip install 'dtd-ref[plot]'") from None


def _explain(args) -> int:
    from .dtd import train_free_dtd

    net = load_network(args.network, seed=args.seed)
    output = _output(net, args)
    X, image, single = load_inputs(args.input, net.in_features, shape=args.shape)
    rule = parse_rule(args.rule, low=args.low, high=args.high)
    L = len(net.affine_layers)
    rules = rule if args.first_rule is None else [parse_rule(args.first_rule, low=args.low, high=args.high)] + \
        [rule] * (L - 1)
    explanation = train_free_dtd(net, X, rules, output=output, convention=args.convention, return_roots=False)
    R = np.asarray(explanation.relevance[0], dtype=float)
    f = np.asarray(explanation.relevance[L], dtype=float)[:, output]
    for i in range(min(R.shape[0], 10)):
        print(f"input {i}: f_{output}(x) = {f[i]:.6g}, sum R = {R[i].sum():.6g}")
    if R.shape[0] > 10:
        print(f"... ({R.shape[0]} inputs)")
    shaped = R.reshape((R.shape[0],) + image) if image is not None else R
    save_array(args.out, shaped[0] if single else shaped)
    print(f"wrote {args.out}")
    heatmap = args.heatmap
    if heatmap is None and image is not None and len(image) >= 2:
        heatmap = os.path.splitext(args.out)[0] + ".png"
    if heatmap is not None:
        if image is None or len(image) < 2:
            raise CLIError("--heatmap: the inputs are not image-shaped; give --shape H,W")
        _heatmap(shaped, image, heatmap)
        print(f"wrote {heatmap}")
    return 0


def _heatmap(R: np.ndarray, image: tuple, path: str) -> None:
    plt = _pyplot("--heatmap")
    n = min(R.shape[0], 8)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.4), squeeze=False)
    for i in range(n):
        maps = R[i].reshape(image)
        maps = maps.sum(axis=tuple(range(maps.ndim - 2))) if maps.ndim > 2 else maps  # sum over channels
        bound = max(float(np.abs(maps).max()), 1e-300)
        axes[0, i].imshow(maps, cmap="bwr", vmin=-bound, vmax=bound)
        axes[0, i].set_xticks([])
        axes[0, i].set_yticks([])
        axes[0, i].set_title(f"input {i}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _prove(args) -> int:
    from .study import _run_proofs

    results = _run_proofs()
    if results is None:
        raise CLIError("prove: the proofs package is not available in this installation")
    for result in results:
        print(result.line())
    failed = [r.claim for r in results if not r.ok]
    print(f"{len(results) - len(failed)} of {len(results)} claims proven" + (f"; FAILED: {', '.join(failed)}"
                                                                             if failed else ""))
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------------- entry
def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except (CLIError, ValueError, OSError) as error:
        print(f"{getattr(error, 'prog', None) or PROG}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
