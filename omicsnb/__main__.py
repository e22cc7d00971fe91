"""``python -m omicsnb`` is the ``omicsnb`` command."""

import sys

from omicsnb.cli import main

sys.exit(main())
