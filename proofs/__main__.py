"""``python -m proofs``: run every claim's proof and print one line per claim (exit status 1 on any failure)."""

from . import main

raise SystemExit(main())
