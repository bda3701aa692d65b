"""The exit statuses of the ``mc`` command, one set for every subcommand.

0: it did what was asked (for ``mc run``, the flow COMPLETED); 1: it ran,
but the flow (or what the command looked for) failed; 2: bad input, a
usage error or a service that could not be used, with a one-line message;
130: interrupted (Ctrl-C or SIGTERM), as shells report a SIGINT; a SIGTERM
gives 130 too, wherever it lands (see :mod:`mc.entry_point`).
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
