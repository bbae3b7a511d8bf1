"""``python -m dtd_ref``: the ``dtd-ref`` command (see :mod:`dtd_ref.cli`)."""

import sys

from .cli import main

sys.exit(main())
