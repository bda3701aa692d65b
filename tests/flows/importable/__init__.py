"""Handlers that the registry tests import through ``allow_imports``."""

from mc.flows import COMPLETED, BaseTaskHandler

IMPORTED = []


def shout(task_ctx):
    """Record the task's message in IMPORTED and complete."""
    IMPORTED.append(task_ctx["task"]["task_params"]["msg"].upper())
    task_ctx["task"]["status"] = COMPLETED


class Whisper(BaseTaskHandler):
    """Record the task's message, lower-cased, and complete."""

    def initial_tick(self):
        IMPORTED.append(self.task["task_params"]["msg"].lower())
        self.task["status"] = COMPLETED


def _hidden(task_ctx):
    """A private handler: never reachable from a spec."""
    IMPORTED.append("hidden")
    task_ctx["task"]["status"] = COMPLETED


NOT_A_HANDLER = 42

# Imported modules and re-exported callables: reachable as attributes of this
# module, and still never handlers for a spec.
import os  # noqa: E402,F401
from json import dumps  # noqa: E402,F401
