"""``python -m mc`` runs the ``mc`` command."""

import sys

from mc.cli import main

sys.exit(main())
