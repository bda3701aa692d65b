"""The simplest task types: ``print``, ``log`` and ``noop``.

Each finishes in one tick. A missing or ill-typed parameter fails the task
with a message that names the parameter.
"""

from __future__ import annotations

import json
import logging
import textwrap
from typing import Any

from mc.flows.statuses import COMPLETED
from mc.flows.task_handler import TaskCtx

__all__ = ["task_param", "print_task", "LOG_PARAM_ALIASES", "log_task", "noop_task"]

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


# MissionControl 0.x's names of the log task's params, and today's.
LOG_PARAM_ALIASES = {"log_level": "level", "logger_name": "logger"}


def log_task(task_ctx: TaskCtx) -> None:
    """Log ``task_params['msg']`` and complete.

    ``level`` is a level name ('DEBUG', 'INFO', ...) or number, default
    'INFO'; ``logger`` is the logger's name, default ``'mc.flows.log_task'``.
    With ``dump_task`` true, the task dict is logged too, as indented JSON
    (labelled ``TASK:``); with ``dump_flow`` true, the flow dict (``FLOW:``);
    ``msg`` may then be left out. With ``use_print`` true, the lines are
    printed to standard output instead of logged. MissionControl 0.x's
    spellings ``log_level`` and ``logger_name`` are accepted for ``level``
    and ``logger`` (not both spellings at once); a dict for ``dump_task`` or
    ``dump_flow`` (0.x's formatting options) counts as true.
    """
    task = task_ctx["task"]
    params = task.get("task_params") or {}
    _check_log_params(task, params)
    dumps = []
    if params.get("dump_task"):
        dumps.append(("TASK", task))
    if params.get("dump_flow"):
        flow = task_ctx.get("flow")
        dumps.append(("FLOW", flow.to_flow_dict() if flow is not None else None))
    msg = task_param(task, "msg", object, None if dumps else _MISSING)
    level = _aliased_param(task, params, "level", (str, int), "INFO")
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValueError(
                f"task {task.get('key')!r}: task_params.level {level!r} is not a logging "
                "level (expected DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)"
            )
        level = number
    logger_name = _aliased_param(task, params, "logger", str, "mc.flows.log_task")
    use_print = task_param(task, "use_print", bool, False)
    lines = [] if msg is None else [str(msg)]
    for label, value in dumps:
        text = json.dumps(value, indent=2, sort_keys=True, default=repr)
        lines.append(f"{label}:\n{textwrap.indent(text, '  ')}")
    for line in lines:
        if use_print:
            print(line)
        else:
            logging.getLogger(logger_name).log(level, "%s", line)
    task["status"] = COMPLETED


def _check_log_params(task: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("dump_task_ctx") is not None:
        raise ValueError(
            f"task {task.get('key')!r}: task_params.dump_task_ctx is not supported (the "
            "context holds live objects, not data); use dump_task or dump_flow"
        )
    for old, new in LOG_PARAM_ALIASES.items():
        if params.get(old) is not None and params.get(new) is not None:
            raise ValueError(
                f"task {task.get('key')!r}: task_params has both {new!r} and {old!r} "
                f"(MissionControl 0.x's name for it); keep {new!r}"
            )


def _aliased_param(
    task: dict[str, Any],
    params: dict[str, Any],
    name: str,
    expected: type | tuple[type, ...],
    default: Any,
) -> Any:
    """Return a log param given by today's name or by its 0.x alias."""
    for old, new in LOG_PARAM_ALIASES.items():
        if new == name and params.get(old) is not None:
            value = task_param(task, old, expected)
            return value
    return task_param(task, name, expected, default)


def noop_task(task_ctx: TaskCtx) -> None:
    """Do nothing and complete."""
    task_ctx["task"]["status"] = COMPLETED
