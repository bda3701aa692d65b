"""``mc.flows``: flows as data, advanced tick by tick by an engine.

This package imports nothing outside the standard library.
"""

from mc.errors import FlowError, FlowLoadError, FlowSpecError, MCError, TaskTypeError
from mc.flows.events import FlowEvent
from mc.flows.flow import Flow
from mc.flows.flow_engine import (
    FlowEngine,
    flow_spec_to_flow,
    get_default_engine,
    register_task_type,
    run_flow,
    tick_flow,
)
from mc.flows.spec import ROOT_TASK_KEY
from mc.flows.statuses import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    FlowStatus,
    TaskStatus,
)
from mc.flows.task_handler import BaseProxyingTaskHandler, BaseTaskHandler

__all__ = [
    "BaseProxyingTaskHandler",
    "BaseTaskHandler",
    "COMPLETED",
    "FAILED",
    "Flow",
    "FlowEngine",
    "FlowError",
    "FlowEvent",
    "FlowLoadError",
    "FlowSpecError",
    "FlowStatus",
    "MCError",
    "PENDING",
    "ROOT_TASK_KEY",
    "RUNNING",
    "SKIPPED",
    "TaskStatus",
    "TaskTypeError",
    "flow_spec_to_flow",
    "get_default_engine",
    "register_task_type",
    "run_flow",
    "tick_flow",
]
