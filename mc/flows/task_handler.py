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

from typing import Any, Callable, Union

from mc.flows.statuses import PENDING, RUNNING

TaskCtx = dict[str, Any]


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
        raise NotImplementedError(
            f"{type(self).__name__} must implement initial_tick()"
        )

    def intermediate_tick(self) -> None:
        """Do the work of every later tick.

        The default refuses: a handler whose task is still RUNNING after its
        first tick must say what to do next.
        """
        raise NotImplementedError(
            f"{type(self).__name__} left its task RUNNING after the first tick "
            "but does not implement intermediate_tick()"
        )


TaskHandler = Union[Callable[[TaskCtx], Any], type[BaseTaskHandler]]


def is_task_handler(handler: Any) -> bool:
    """Return True if ``handler`` can tick a task (has tick_task or is callable)."""
    return callable(getattr(handler, "tick_task", None)) or callable(handler)
