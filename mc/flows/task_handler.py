"""Task handlers: how a task's work is done, one tick at a time.

A handler is either

* a function ``tick(task_ctx)``, called once on every tick while its task is
  RUNNING; or
* a :class:`BaseTaskHandler` subclass, whose :meth:`~BaseTaskHandler.initial_tick`
  runs on the task's first tick and :meth:`~BaseTaskHandler.intermediate_tick`
  on every later one.

Either way a task stays RUNNING until its handler sets ``task['status']`` to
'COMPLETED' or 'FAILED'. That is how a task waits for outside work: each tick
it looks, and it finishes only when the work has. A handler keeps whatever it
must remember between ticks in ``task['data']``, because between ticks the
task may be stored and loaded in another process.
"""

from __future__ import annotations

from typing import Any

from mc.errors import FlowSpecError
from mc.flows import spec as flow_spec
from mc.flows.interpolation import copy_value
from mc.flows.plugins import TaskCtx, TaskHandler
from mc.flows.statuses import FAILED, PENDING, RUNNING

# The contracts live in mc.flows.plugins; these names are kept here too.
__all__ = [
    "BaseProxyingTaskHandler",
    "BaseTaskHandler",
    "TaskCtx",
    "TaskHandler",
    "is_task_handler",
    "new_proxied_task",
]


class BaseTaskHandler:
    """Base class for task handlers that work over several ticks.

    Subclasses implement :meth:`initial_tick` and, for work that takes more
    than one tick, :meth:`intermediate_tick`. A new handler object is made on
    every tick, so state lives in ``self.task['data']``, not on ``self``.

    ``self.task_ctx`` is the task context (with ``'task'``, and inside a flow
    ``'flow'`` and ``'flow_engine'``); ``self.task`` is the task dict.
    """

    def __init__(self, task_ctx: TaskCtx) -> None:
        self.task_ctx = task_ctx
        self.task: dict[str, Any] = task_ctx["task"]

    @classmethod
    def tick_task(cls, task_ctx: TaskCtx) -> None:
        """Tick the task in ``task_ctx['task']`` once, with or without an engine.

        Fills in a missing ``status`` (RUNNING) and ``data`` ({}), counts the
        task's ticks in ``task['num_ticks']``, and calls :meth:`initial_tick`
        on the first tick and :meth:`intermediate_tick` after that.
        """
        task = task_ctx["task"]
        if task.get("status", PENDING) == PENDING:
            task["status"] = RUNNING
        task.setdefault("data", {})
        task.setdefault("task_params", {})
        previous_ticks = task.get("num_ticks", 0)
        task["num_ticks"] = previous_ticks + 1
        handler = cls(task_ctx)
        if previous_ticks == 0:
            handler.initial_tick()
        else:
            handler.intermediate_tick()

    def initial_tick(self) -> None:
        """Do the work of the task's first tick. Subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__} must implement initial_tick()")

    def intermediate_tick(self) -> None:
        """Do the work of every later tick.

        The default refuses: a handler whose task is still RUNNING after its
        first tick must say what to do next.
        """
        raise NotImplementedError(
            f"{type(self).__name__} left its task RUNNING after the first tick "
            "but does not implement intermediate_tick()"
        )


class BaseProxyingTaskHandler(BaseTaskHandler):
    """Base class for tasks that do their work through another task, the *proxied task*.

    On its first tick the handler calls :meth:`generate_proxied_task`, which
    returns a task spec (``task_type``, ``task_params``, optional ``key``,
    ``label`` and ``data``). The resulting task dict is kept in the task's
    ``proxied_task`` field, so it is stored with the flow, and ticked (with
    the engine's :meth:`~mc.flows.flow_engine.FlowEngine.tick_task`) once per
    tick of the proxy. The proxy's status follows the proxied task's, and so
    does its data (through :meth:`proxied_task_data`; the proxy keeps only its
    own ``attempts``, which retries count); a failed proxied task
    fails the proxy with its error. Cancelling the proxy cancels the proxied
    task. ``switch`` and ``spread`` are proxying tasks.
    """

    def initial_tick(self) -> None:
        """Build the proxied task, then tick it."""
        self.task["proxied_task"] = new_proxied_task(self.generate_proxied_task())
        self.tick_proxied_task()

    def intermediate_tick(self) -> None:
        """Tick the proxied task again."""
        self.tick_proxied_task()

    def generate_proxied_task(self) -> dict[str, Any]:
        """Return the spec of the task to run in this task's place. Subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate_proxied_task()")

    def proxied_task_data(self, proxied_task: dict[str, Any]) -> dict[str, Any]:
        """Return the proxy's data, given the proxied task: by default a deep copy of its data."""
        data: dict[str, Any] = copy_value(proxied_task["data"])
        return data

    def tick_proxied_task(self) -> None:
        """Tick the proxied task once and make the proxy follow it."""
        proxied = self.task["proxied_task"]
        engine = self.task_ctx["flow_engine"]
        ctx = {name: value for name, value in self.task_ctx.items() if name != "task"}
        ctx["proxy_task"] = self.task
        engine.tick_task(proxied, ctx)
        data = self.proxied_task_data(proxied)
        attempts = self.task["data"].get("attempts")
        if attempts is not None:
            # Keep the copy of the engine's attempts visible to the user.
            data["attempts"] = attempts
        self.task["data"] = data
        if proxied["status"] == FAILED:
            self.task["error"] = proxied.get("error_summary") or proxied.get("error")
        self.task["status"] = proxied["status"]

    @classmethod
    def cancel_task(cls, task_ctx: TaskCtx) -> None:
        """Cancel the proxied task's outside work, if it is RUNNING.

        The proxied task is then FAILED, as the proxy will be, so the stored
        flow does not show it still RUNNING.
        """
        proxy = task_ctx["task"]
        proxied = proxy.get("proxied_task")
        if isinstance(proxied, dict) and proxied.get("status") == RUNNING:
            engine = task_ctx["flow_engine"]
            ctx = {name: value for name, value in task_ctx.items() if name != "task"}
            ctx["proxy_task"] = proxy
            engine.cancel_task(proxied, ctx)
            proxied["status"] = FAILED
            proxied["error"] = proxied["error_summary"] = "cancelled with its proxy"
            proxied["finished_at"] = engine.clock()


def new_proxied_task(task_spec: Any) -> dict[str, Any]:
    """Return the PENDING task dict for a proxied task's spec.

    Raises :class:`~mc.errors.FlowSpecError` (path ``proxied_task``) for a bad
    spec, or one that sets edges or retry and timeout policies, which only
    the proxy's own task can have.
    """
    normalized = flow_spec.normalize_task_spec(task_spec, "proxied_task")
    for name in ("precursors", "successors"):
        if normalized[name] is not None:
            raise FlowSpecError(f"proxied_task.{name}", "a proxied task has no edges of its own")
    if normalized["policies"]:
        names = ", ".join(normalized["policies"])
        raise FlowSpecError(
            "proxied_task", f"a proxied task cannot have {names}: set them on the proxying task"
        )
    key = normalized["key"] or "proxied"
    return flow_spec.new_task_dict(key, normalized, [flow_spec.ROOT_TASK_KEY])


def is_task_handler(handler: Any) -> bool:
    """Return True if ``handler`` can tick a task (has tick_task or is callable)."""
    return callable(getattr(handler, "tick_task", None)) or callable(handler)
