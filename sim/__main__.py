"""``python -m sim``: the same command line as ``sscard-sim``."""

import sys

from sim.cli import main

sys.exit(main())
