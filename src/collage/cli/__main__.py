"""``python -m collage.cli``: the same as the ``collage`` command."""

import sys

from collage.cli import main

sys.exit(main())
