"""The built-in task types that every engine's registry starts with."""

from __future__ import annotations

from mc.flows.task_types.basic import log_task, noop_task, print_task
from mc.flows.task_types.control import (
    FlowTaskHandler,
    SpreadTaskHandler,
    SwitchTaskHandler,
    wire_task,
)

BUILTIN_TASK_TYPES = {
    "print": print_task,
    "log": log_task,
    "noop": noop_task,
    "wire": wire_task,
    "switch": SwitchTaskHandler,
    "flow": FlowTaskHandler,
    "spread": SpreadTaskHandler,
}

__all__ = [
    "BUILTIN_TASK_TYPES",
    "FlowTaskHandler",
    "SpreadTaskHandler",
    "SwitchTaskHandler",
    "log_task",
    "noop_task",
    "print_task",
    "wire_task",
]
