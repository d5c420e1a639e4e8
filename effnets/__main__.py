"""``python -m effnets``: see :mod:`effnets.cli`."""

import sys

from effnets.cli import main

if __name__ == "__main__":
    sys.exit(main())
