"""The :class:`FlowEngine`: builds flows from specs and advances them by ticks.

The model, before any code
--------------------------
A flow is a DAG of task dicts (see :mod:`mc.flows.flow`). Every task is in one
status: PENDING (waiting for precursors), RUNNING (its handler works on it,
possibly over many ticks), or finished: COMPLETED, FAILED or SKIPPED (it can
never run, because something upstream failed).

A *tick* of a flow does this, and nothing else:

1. A PENDING flow becomes RUNNING.
2. Every *ready* task (PENDING, all precursors COMPLETED) becomes RUNNING.
3. Every RUNNING task, in flow order, is ticked once through its handler. A
   handler that raises, or that sets FAILED, fails its own task: the task
   gets an ``error`` and ``flow.data['errors']`` a line naming it. The tasks
   downstream of a failed task become SKIPPED. With ``cfg['fail_fast']``
   (the default) the flow then FAILS at once; otherwise independent branches
   go on.
4. When no task is RUNNING and none is ready, the flow ends: COMPLETED if
   every task COMPLETED, FAILED otherwise.

Tasks that become ready during a tick start on the next one, so a chain of N
one-tick tasks takes N ticks. The engine never walks the whole graph during a
tick: dependency counters and a ready set (kept by the flow, rebuilt on load)
make a tick cost O(tasks that change), plus the running tasks it ticks.

Guarantees: a tick never raises because of a task; a flow ends as soon as
every task has finished, and a failure can never leave it waiting forever
(a task that its handler keeps RUNNING is the only thing that can); and a flow
stored as JSON and loaded again between any two ticks ends in the same state,
after the same number of ticks, as one kept in memory.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mc.errors import FlowError, TaskTypeError
from mc.flows.executor_registry import ExecutorRegistry
from mc.flows.flow import Flow
from mc.flows.registry import TaskTypeRegistry
from mc.flows.statuses import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED

logger = logging.getLogger(__name__)

_HANDLER_STATUSES = (RUNNING, COMPLETED, FAILED)


class FlowEngine:
    """Builds flows from specs and ticks them.

    ``task_handlers`` maps task-type names to handlers, registered on top of
    the built-ins (``print``, ``log``, ``noop``). ``clock`` is a callable
    returning the time in epoch seconds (default :func:`time.time`); tests
    pass a fake one. ``allow_imports`` names module prefixes from which a
    spec's dotted ``task_type`` may be imported; by default none may.
    ``executors`` maps names to executors, registered on top of those that
    installed packages declare (see :mod:`mc.flows.executor_registry`).
    """

    def __init__(
        self,
        task_handlers: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        allow_imports: Iterable[str] = (),
        executors: Mapping[str, Any] | None = None,
    ) -> None:
        self.task_type_registry = TaskTypeRegistry(task_handlers, allow_imports)
        self.clock: Callable[[], float] = clock or time.time
        # Executors by name (see mc.flows.executor_registry), for handlers
        # such as mc.jobs's `job` and `call`.
        self.executor_registry = ExecutorRegistry(executors)

    def register_executor(self, name: str, executor: Any, replace: bool = False) -> Any:
        """Register an executor under ``name`` (see :mod:`mc.flows.executor_registry`)."""
        return self.executor_registry.register(name, executor, replace)

    def get_executor(self, name: str) -> Any:
        """Return the executor named ``name``, or raise :class:`~mc.errors.ExecutorError`."""
        return self.executor_registry.get(name)

    @property
    def allow_imports(self) -> tuple[str, ...]:
        """The module prefixes a spec's ``task_type`` may import from."""
        return self.task_type_registry.allow_imports

    def register_task_type(
        self, name: str, handler: Any = None, replace: bool = False
    ) -> Any:
        """Register a task type; usable as a decorator when ``handler`` is omitted.

        Raises :class:`~mc.errors.TaskTypeError` if ``name`` is already
        registered, unless ``replace`` is true.
        """
        if handler is None:
            return lambda handler: self.task_type_registry.register(name, handler, replace)
        return self.task_type_registry.register(name, handler, replace)

    def flow_spec_to_flow(self, flow_spec: Mapping[str, Any]) -> Flow:
        """Validate a flow spec and return a new PENDING :class:`Flow`.

        Raises :class:`~mc.errors.FlowSpecError` naming the path of the
        problem; nothing is created then.
        """
        return Flow.from_flow_spec(flow_spec)

    def tick_flow(self, flow: Flow, task_ctx: Mapping[str, Any] | None = None) -> None:
        """Advance ``flow`` by one tick (see the module docstring).

        ``task_ctx`` reaches every handler, merged with ``'task'``,
        ``'flow'`` and ``'flow_engine'``. Ticking a finished flow does nothing.
        """
        if flow.finished:
            return
        if flow.status == PENDING:
            flow.status = RUNNING
        flow.num_ticks += 1
        flow._start_ready_tasks(self.clock())
        for task in flow._running_in_order():
            failed = self._tick_task(flow, task, task_ctx)
            if failed and flow.cfg.get("fail_fast", True):
                flow.status = FAILED
                logger.info("flow %s FAILED at task %s (fail_fast)", flow.key, task["key"])
                return
        if not flow._running and not flow._ready:
            self._end_flow(flow)

    def _tick_task(
        self, flow: Flow, task: dict[str, Any], task_ctx: Mapping[str, Any] | None
    ) -> bool:
        """Tick one RUNNING task; return True if it FAILED."""
        if task_ctx:
            ctx = {**task_ctx, "task": task, "flow": flow, "flow_engine": self}
        else:
            ctx = {"task": task, "flow": flow, "flow_engine": self}
        key = task["key"]
        try:
            self.task_type_registry.resolve_tick(task["task_type"])(ctx)
        except TaskTypeError as error:
            self._fail_task(flow, task, str(error))
            return True
        except (Exception, SystemExit) as error:
            # SystemExit too: a library calling sys.exit() fails its task, not
            # the runner. KeyboardInterrupt still stops the caller.
            task["key"] = key
            summary = traceback.format_exception_only(type(error), error)[-1].strip()
            self._fail_task(flow, task, traceback.format_exc(), summary)
            return True
        if task.get("key") != key:
            task["key"] = key
            self._fail_task(flow, task, "the handler changed task['key']; a task's key is fixed")
            return True
        status = task.get("status")
        if status == RUNNING:
            return False
        if status == COMPLETED:
            task["finished_at"] = self.clock()
            flow._finish_task(task)
            return False
        if status == FAILED:
            self._fail_task(flow, task, str(task.get("error") or "the handler set status FAILED"))
        else:
            self._fail_task(
                flow,
                task,
                f"handler of task {task['key']!r} set status {status!r}; "
                f"expected one of {', '.join(_HANDLER_STATUSES)}",
            )
        return True

    def _fail_task(self, flow: Flow, task: dict[str, Any], error: str, summary: str = "") -> None:
        task["status"] = FAILED
        task["error"] = error
        task["finished_at"] = self.clock()
        if not summary:
            lines = error.strip().splitlines()
            summary = lines[-1] if lines else "failed"
        flow.data.setdefault("errors", []).append(
            f"task {task['key']!r} ({task['task_type']}): {summary}"
        )
        flow._finish_task(task)
        logger.info("flow %s: task %s FAILED: %s", flow.key, task["key"], summary)

    def _end_flow(self, flow: Flow) -> None:
        stuck = list(flow._pending_keys()) if flow.count_tasks(PENDING) else []
        for key in stuck:
            # Only a hand-edited flow gets here: its tasks can never start.
            flow.tasks[key]["error"] = "can never start: a precursor did not complete"
            flow._move(flow.tasks[key], SKIPPED)
        if flow.count_tasks(COMPLETED) == len(flow.tasks):
            flow.status = COMPLETED
        else:
            flow.status = FAILED
        logger.info("flow %s %s after %d ticks", flow.key, flow.status, flow.num_ticks)

    def tick_flow_until_has_no_pending(
        self,
        flow: Flow,
        task_ctx: Mapping[str, Any] | None = None,
        max_ticks: int | None = None,
    ) -> int:
        """Tick while the flow has tasks ready to start; return the ticks made.

        Afterwards the flow has ended, or every unfinished task is waiting
        on a RUNNING task that polls outside work: ticking again at once
        would change nothing new. Always ticks at least once.
        """
        ticks = 0
        while True:
            self.tick_flow(flow, task_ctx)
            ticks += 1
            if flow.finished or not flow.has_ready_tasks():
                return ticks
            if max_ticks is not None and ticks >= max_ticks:
                return ticks

    def run_flow(
        self,
        flow: Flow,
        task_ctx: Mapping[str, Any] | None = None,
        max_ticks: int | None = None,
        poll_interval_s: float = 0.0,
    ) -> Flow:
        """Tick ``flow`` until it ends and return it.

        Raises :class:`~mc.errors.FlowError` (with ``.flow``) if the flow
        FAILED, listing its errors, or if it has not ended after
        ``max_ticks`` more ticks (default: no limit). When a tick starts nothing
        new, waits ``poll_interval_s`` seconds before the next, so that a
        flow polling outside work does not spin.
        """
        ticks = 0
        while not flow.finished:
            if max_ticks is not None and ticks >= max_ticks:
                raise FlowError(_not_ended_message(flow, max_ticks), flow=flow)
            self.tick_flow(flow, task_ctx)
            ticks += 1
            if poll_interval_s and not flow.finished and not flow.has_ready_tasks():
                time.sleep(poll_interval_s)
        if flow.status == FAILED:
            errors = flow.data.get("errors") or ["no error recorded"]
            raise FlowError(
                f"flow {flow.key!r} FAILED:\n" + "\n".join(f"  {line}" for line in errors),
                flow=flow,
            )
        return flow


def _not_ended_message(flow: Flow, max_ticks: int) -> str:
    message = f"flow {flow.key!r} did not end within {max_ticks} tick{'s' if max_ticks != 1 else ''}"
    running = [task["key"] for task in flow._running_in_order()]
    if running:
        return (
            f"{message}; still RUNNING: {', '.join(running)} "
            "(does each handler set its task's status to COMPLETED or FAILED?)"
        )
    return f"{message}; {flow.count_tasks(PENDING)} tasks still PENDING"


_default_engine: FlowEngine | None = None


def get_default_engine() -> FlowEngine:
    """Return the engine behind the module-level functions of :mod:`mc.flows`."""
    global _default_engine
    if _default_engine is None:
        _default_engine = FlowEngine()
    return _default_engine


def flow_spec_to_flow(flow_spec: Mapping[str, Any]) -> Flow:
    """Build a flow from a spec with the default engine."""
    return get_default_engine().flow_spec_to_flow(flow_spec)


def tick_flow(flow: Flow, task_ctx: Mapping[str, Any] | None = None) -> None:
    """Tick a flow once with the default engine."""
    get_default_engine().tick_flow(flow, task_ctx)


def run_flow(
    flow: Flow,
    task_ctx: Mapping[str, Any] | None = None,
    max_ticks: int | None = None,
    poll_interval_s: float = 0.0,
) -> Flow:
    """Tick a flow to its end with the default engine (see :meth:`FlowEngine.run_flow`)."""
    return get_default_engine().run_flow(flow, task_ctx, max_ticks, poll_interval_s)


def register_task_type(name: str, handler: Any = None, replace: bool = False) -> Any:
    """Register a task type on the default engine; a decorator without ``handler``.

    Example::

        @register_task_type('greet')
        def greet(task_ctx):
            print('hello')
            task_ctx['task']['status'] = 'COMPLETED'
    """
    return get_default_engine().register_task_type(name, handler, replace)
