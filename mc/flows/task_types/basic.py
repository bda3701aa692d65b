"""The simplest task types: ``print``, ``log`` and ``noop``.

Each finishes in one tick. A missing or ill-typed parameter fails the task
with a message that names the parameter.
"""

from __future__ import annotations

import logging
from typing import Any

from mc.flows.statuses import COMPLETED
from mc.flows.task_handler import TaskCtx

_MISSING = object()


def task_param(
    task: dict[str, Any], name: str, expected: type | tuple[type, ...], default: Any = _MISSING
) -> Any:
    """Return ``task['task_params'][name]``, checked against ``expected``.

    A null value counts as absent. Raises ValueError naming the task and
    the parameter when it is missing (and has no default) or has the wrong
    type.
    """
    params = task.get("task_params") or {}
    # As in specs, null counts as absent (an empty YAML value is null).
    if params.get(name) is None:
        if default is _MISSING:
            raise ValueError(f"task {task.get('key')!r}: missing task_params.{name}")
        return default
    value = params[name]
    if not isinstance(value, expected):
        names = (
            " or ".join(t.__name__ for t in expected)
            if isinstance(expected, tuple)
            else expected.__name__
        )
        raise ValueError(
            f"task {task.get('key')!r}: task_params.{name} must be {names}, "
            f"got {type(value).__name__}"
        )
    return value


def print_task(task_ctx: TaskCtx) -> None:
    """Print ``task_params['msg']`` to standard output and complete."""
    task = task_ctx["task"]
    print(task_param(task, "msg", object))
    task["status"] = COMPLETED


def log_task(task_ctx: TaskCtx) -> None:
    """Log ``task_params['msg']`` and complete.

    ``level`` is a level name ('DEBUG', 'INFO', ...) or number, default
    'INFO'; ``logger`` is the logger's name, default ``'mc.flows.log_task'``.
    """
    task = task_ctx["task"]
    msg = task_param(task, "msg", object)
    level = task_param(task, "level", (str, int), "INFO")
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValueError(
                f"task {task.get('key')!r}: task_params.level {level!r} is not a logging "
                "level (expected DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)"
            )
        level = number
    logger_name = task_param(task, "logger", str, "mc.flows.log_task")
    logging.getLogger(logger_name).log(level, "%s", msg)
    task["status"] = COMPLETED


def noop_task(task_ctx: TaskCtx) -> None:
    """Do nothing and complete."""
    task_ctx["task"]["status"] = COMPLETED
