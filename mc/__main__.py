"""``python -m mc`` runs the ``mc`` command."""

import sys

from mc.entry_point import main

__all__: list[str] = []

sys.exit(main())
