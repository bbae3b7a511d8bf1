"""Symbolic verification of the claims of THEORY.md §4 (sympy), each with negative controls and engine cross-checks.

One module per claim; each has a docstring stating the claim, its hypotheses and its scope (what is proven for all
sizes, what is checked exhaustively for small sizes), a tuple ``CHECKS`` and ``prove()``:

=====================  ==========================================================================================
``constant_roots``     1. locally constant roots in the region => DTD = gradient x input (+ a constant)
``under_constrained``  2. input-dependent roots: any split of φ_j(a) is the DTD relevance of an exact root
``rule_roots``         3. w², z, z⁺, γ, z^B roots lie on the hyperplane, conserve, and z⁺'s root is on its segment
``lrp0``               4. LRP-0 = gradient x input with biases, and not conservative when a bias is nonzero
``zero_bias``          5. zero biases: z roots are 0, z-DTD = gradient x input, f(x) = ∇f(x)^T x
``rule_limits``        6. α1β0 = z⁺ for a >= 0; γ = 0 is z; γ → ∞ tends to z⁺
=====================  ==========================================================================================

Use :func:`run_all` for structured results, ``python -m proofs`` (or :func:`main`) for one line per claim and a
non-zero exit status on any failure.  ``proofs`` imports ``dtd_ref``; ``dtd_ref`` never imports ``proofs``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from ._core import KINDS, Check, ProofResult

__all__ = ["CLAIM_MODULES", "ProofResult", "Check", "KINDS", "run_all", "main"]

CLAIM_MODULES = ("constant_roots", "under_constrained", "rule_roots", "lrp0", "zero_bias", "rule_limits")


def _module(name: str):
    if name not in CLAIM_MODULES:
        raise ValueError(f"claims: unknown claim module {name!r}; choose from {', '.join(CLAIM_MODULES)}")
    return importlib.import_module(f"{__name__}.{name}")


def run_all(claims=None) -> list:
    """Run the proofs of ``claims`` (module names, default all six, in claim order).

    Returns
    -------
    list of ProofResult
        Each has ``claim``, ``title``, ``scope``, ``ok``, ``seconds`` and ``details`` (one :class:`Check` per check,
        with ``name``, ``kind``, ``ok``, ``detail``, ``residual``, ``seconds``).  A claim whose module fails to import
        is reported as failed, not raised.
    """
    names = CLAIM_MODULES if claims is None else tuple(claims)
    results = []
    for name in names:
        start = time.perf_counter()
        try:
            module = _module(name)
        except ImportError as error:
            check = Check("import", "error", False, f"cannot import proofs.{name}: {error}")
            results.append(ProofResult(name, "(import failed)", "", False, time.perf_counter() - start, (check,)))
            continue
        results.append(module.prove())
    return results


def main(argv=None) -> int:
    """Command-line entry (``python -m proofs``, ``dtd-ref prove``): one line per claim; exit status 1 on failure.

    Options: ``--claim NAME`` (repeatable) to run some claims only, ``-v`` to print every check.
    """
    parser = argparse.ArgumentParser(prog="python -m proofs", description=__doc__.splitlines()[0])
    parser.add_argument("--claim", action="append", choices=CLAIM_MODULES, help="run only this claim (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every check with its detail")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = run_all(args.claim)
    for result in results:
        print(result.line())
        print(f"       scope: {result.scope}")
        for check in result.details:
            if args.verbose or not check.ok:
                mark = "ok  " if check.ok else "FAIL"
                print(f"       {mark} {check.kind:<10} {check.name:<40} {check.seconds:5.2f} s  {check.detail}")
    failed = [r.claim for r in results if not r.ok]
    total = time.perf_counter() - start
    print(f"{len(results) - len(failed)}/{len(results)} claims verified in {total:.1f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    sys.stdout.flush()
    return 1 if failed else 0
