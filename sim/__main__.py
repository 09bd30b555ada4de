"""``python -m sim``: the same command line as ``sscard-sim``."""

import sys

from sim.cli.main import main

if __name__ == "__main__":  # guarded: worker processes re-import the main module
    sys.exit(main())
