"""The ``mc`` command's entry point: signals are handled from its first moment.

``mc`` (the console script) and ``python -m mc`` call :func:`main`, which
installs handlers for SIGINT and SIGTERM before it imports anything else,
then runs :func:`mc.cli.main`. Until a command installs handlers of its own
(``mc run`` while it runs a flow, ``mc runner`` while it runs rounds, see
:mod:`mc.cli.interrupts` and :meth:`mc.runner.FlowRunner.run`), either
signal raises :class:`Interrupted` (a :class:`KeyboardInterrupt`), which
unwinds the command, closing what it opened, and :func:`main` then exits
with status 130 (:data:`mc.cli.exit_codes.EXIT_INTERRUPTED`) after one line
on stderr: never a traceback. What stays out of reach is the interpreter's
own start, before this module runs (a few milliseconds): a SIGINT there is
Python's, a SIGTERM there ends the process as it would any program.

This module imports only the standard library, so that the handlers are in
place before the ``mc`` package's heavier modules load.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

__all__ = ["Interrupted", "main"]


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while no command handled it; ``signal_name`` says which."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def _interrupt(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mc`` command; a signal no command handles exits 130, without a traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        from mc.cli import main as cli_main

        return cli_main(argv)
    except KeyboardInterrupt as interrupt:
        # Exiting now: another signal must not cut this short with a traceback.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        name = interrupt.signal_name if isinstance(interrupt, Interrupted) else "SIGINT"
        os.write(2, f"\nmc: {name}: interrupted; exiting\n".encode())
        from mc.cli.exit_codes import EXIT_INTERRUPTED

        return EXIT_INTERRUPTED
