"""``python -m mc`` runs the ``mc`` command."""

import sys

from mc.cli import main

__all__: list[str] = []

sys.exit(main())
