"""The built-in task types that every engine's registry starts with."""

from __future__ import annotations

from mc.flows.task_types.basic import log_task, noop_task, print_task

BUILTIN_TASK_TYPES = {
    "print": print_task,
    "log": log_task,
    "noop": noop_task,
}

__all__ = ["BUILTIN_TASK_TYPES", "log_task", "noop_task", "print_task"]
