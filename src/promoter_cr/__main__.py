"""``python -m promoter_cr``: the command line (what the Snakemake rules run)."""

import sys

from promoter_cr.cli import main

sys.exit(main())
