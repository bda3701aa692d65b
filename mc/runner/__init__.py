"""``mc.runner``: long-running (or cron-started) runners that tick stored flows.

``FlowRunner(store)`` claims flows from a :class:`~mc.store.FlowStore`,
ticks them and saves them; several runners can share one database. The
``stored_flow`` task type runs a subflow as its own record in the store.
See the "Running flows with a runner" chapter of the docs.
"""

from mc.runner.flow_runner import FlowRunner, RunnerStats, default_runner_id
from mc.runner.stored_flow import (
    add_stored_flow_task_type,
    cancel_stored_child,
    child_flow_key,
    stored_flow_task,
)

__all__ = [
    "FlowRunner",
    "RunnerStats",
    "add_stored_flow_task_type",
    "cancel_stored_child",
    "child_flow_key",
    "default_runner_id",
    "stored_flow_task",
]
