"""The :class:`FlowEngine`: builds flows from specs and advances them by ticks.

The model, before any code
--------------------------
A flow is a DAG of task dicts (see :mod:`mc.flows.flow`). Every task is in one
status: PENDING (waiting for precursors, or for a retry), RUNNING (its
handler works on it, possibly over many ticks), or finished: COMPLETED,
FAILED or SKIPPED (it can never run: its ``trigger_rule`` can no longer be
met, by default because something upstream failed).

A *tick* of a flow does this, and nothing else:

1. A PENDING flow becomes RUNNING.
2. Every *ready* task (PENDING, its trigger rule met) becomes RUNNING, and
   so does every task whose retry is due.
3. Every RUNNING task, in flow order, is ticked once through its handler,
   with its ``task_params`` interpolated (see :mod:`mc.flows.interpolation`);
   a task past its ``timeout_s`` fails instead. A task whose dict holds an
   unfinished ``proxied_task`` (a handler put it there) is ticked *through*
   it: the engine ticks the proxied task in place of the handler, and once
   it has finished the task takes its status (see :meth:`FlowEngine.tick_task`).
   A handler that raises, or
   that sets FAILED, fails its own attempt. With retries left, the task
   goes back to PENDING until ``retry_at``; otherwise it is FAILED: it gets
   an ``error`` and ``flow.data['errors']`` a line naming it. Its
   successors then apply their trigger rules, and those that can never
   start become SKIPPED. With ``cfg['fail_fast']`` (the default) the flow
   then FAILS at once, unless cleanup tasks (rules ``all_done`` and
   ``one_failed``) are left to run: then every other PENDING task is
   SKIPPED and the flow goes on until they have run.
4. When no task is RUNNING, ready or waiting to retry, the flow ends:
   FAILED if any task FAILED, COMPLETED otherwise.
5. At the end of the outermost tick, executors that hold submissions to
   send together (SLURM arrays) send them, so that no saved flow refers
   to a job not yet submitted (see :meth:`FlowEngine.flush_at_tick_end`).

Tasks that become ready during a tick start on the next one, so a chain of N
one-tick tasks takes N ticks. The engine never walks the whole graph during a
tick: dependency counters and a ready set (kept by the flow, rebuilt on load)
make a tick cost O(tasks that change), plus the running tasks it ticks.

Who keeps what
--------------
The engine keeps no state about a flow between ticks. The flow owns its
task statuses and the indexes derived from them, and changes them only
through its state machine (:meth:`~mc.flows.flow.Flow.start_ready`,
:meth:`~mc.flows.flow.Flow.complete`, :meth:`~mc.flows.flow.Flow.fail`,
:meth:`~mc.flows.flow.Flow.retry_later`, :meth:`~mc.flows.flow.Flow.skip_pending`,
:meth:`~mc.flows.flow.Flow.skip_stuck`, :meth:`~mc.flows.flow.Flow.reset`),
which checks each change. A handler says how its task ended by writing
``task['status']``; the engine reads that after the call and tells the flow,
so the indexes can never drift from the task dicts. The engine itself owns
what the flows it ticks share: its registries of task types and executors
(see :mod:`mc.flows.registry`), the executors it made, its clock, its
``allow_imports``, and the policies above.

Watching: with ``on_event`` (see :mod:`mc.flows.events`) the engine tells
every transition as it makes it, through one method, :meth:`FlowEngine._emit`;
with ``task_output`` (see :mod:`mc.flows.task_logs`) each task's tick runs
inside a capture of what it prints. Both name a task by its path from the
top flow, so the engine keeps, per thread, the flows and task keys it is
ticking. Unwatched, none of this runs.

Guarantees: a tick never raises because of a task; a flow ends as soon as
every task has finished, and a failure can never leave it waiting forever
(a task that its handler keeps RUNNING is the only thing that can); and a flow
stored as JSON and loaded again between any two ticks ends in the same state,
after the same number of ticks, as one kept in memory.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from mc.errors import (
    DotPathError,
    FlowError,
    FlowSizeError,
    FlowSpecError,
    TaskParamsError,
    TaskTypeError,
    WiringError,
)
from mc.flows import cache as task_caching
from mc.flows import events, size_budget
from mc.flows.cache import RUNTIME_RECORD, TaskCache
from mc.flows.dotpath import get_path
from mc.flows.events import EventCallback, FlowEvent
from mc.flows.executor_registry import ExecutorRegistry
from mc.flows.flow import CLEANUP_TRIGGER_RULES, Flow
from mc.flows.interpolation import interpolate, needs_interpolation
from mc.flows.plugins import AnyExecutor, GroupedSubmission, TaskHandler
from mc.flows.registry import Registry, TaskTypeHooks, TaskTypeRegistry
from mc.flows.spec import MAX_DURATION_S
from mc.flows.statuses import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, TaskStatus
from mc.flows.task_handler import new_proxied_task

__all__ = [
    "FlowEngine",
    "retry_delay_s",
    "get_default_engine",
    "flow_spec_to_flow",
    "tick_flow",
    "run_flow",
    "register_task_type",
]

_logger = logging.getLogger(__name__)

_HANDLER_STATUSES = (RUNNING, COMPLETED, FAILED)
# What of a task's data a cache entry leaves out (see _complete_task).
_NOT_CACHED_DATA = frozenset({"attempts", "handle"})

_HandlerT = TypeVar("_HandlerT", bound=TaskHandler)
_ExecutorT = TypeVar("_ExecutorT", bound=AnyExecutor)


class _WatchStack(threading.local):
    """What a watched engine is ticking, in this thread: for the task paths of events and logs.

    ``flows``: the flows being ticked, the top one first (subflows and
    spreads tick their child flows inside a task's tick); ``path``: the keys
    of the tasks being ticked, from the top flow down.
    """

    def __init__(self) -> None:
        self.flows: list[Flow] = []
        self.path: list[str] = []


class _HeldSubmissions(threading.local):
    """Executors holding submissions to send together, and how deep ``tick_flow`` is, per thread.

    A grouped submission (a SLURM array) waits in its executor's memory
    until the end of the outermost tick, when the engine sends it: before
    the tick's caller can save or release the flow (see
    :meth:`FlowEngine.flush_at_tick_end`).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.executors: dict[int, GroupedSubmission] = {}


class FlowEngine:
    """Builds flows from specs and ticks them.

    ``task_handlers`` maps task-type names to handlers, registered on top of
    the built-ins (``print``, ``log``, ``noop``, ``wire``, ``switch``,
    ``spread``, ``flow``). ``clock`` is a callable returning the time in
    epoch seconds (default :func:`time.time`), and ``sleep`` one that waits
    a number of seconds (default :func:`time.sleep`); tests pass fake ones.
    ``allow_imports`` names module prefixes from which a spec's dotted
    ``task_type`` (and a ``job`` task's ``job_type``, a ``call`` task's
    ``fn``) may be imported; by default none may.
    ``executors`` maps names to executors, registered on top of those that
    installed packages declare (see :mod:`mc.flows.executor_registry`).
    ``job_types`` and ``callables`` are the registries that :mod:`mc.jobs`'s
    ``job`` and ``call`` tasks use
    (:class:`~mc.jobs.job_modules.JobTypeRegistry`,
    :class:`~mc.jobs.task_types.CallableRegistry`); without them those tasks
    use the shared defaults that ``register_job_type`` and
    ``register_callable`` fill, as the module-level functions of
    :mod:`mc.flows` use the default engine.
    ``cache`` is a :class:`~mc.flows.cache.TaskCache`: tasks with a
    ``cache`` policy reuse its results (see :mod:`mc.flows.cache`); without
    one (the default) every task runs.

    The engine owns its registries (``task_type_registry``,
    ``executor_registry``, ``job_types``, ``callables``) and the executors
    it made: nothing registered on one engine reaches another.
    ``on_event`` is called with a :class:`~mc.flows.events.FlowEvent` at
    every transition of a flow or task (see :mod:`mc.flows.events`); it may
    also be set later as the attribute ``on_event``. ``task_output``, if
    given, captures what handlers print or log, per task (see
    :class:`mc.flows.task_logs.TaskLogs`): its ``capture(flow_key,
    flow_label, task_path)`` is a context manager around every tick of a
    task in a flow.
    ``max_flow_bytes`` is each flow's size budget: a task that would grow
    its flow's JSON past it fails (see :mod:`mc.flows.size_budget`).
    """

    def __init__(
        self,
        task_handlers: Mapping[str, TaskHandler] | None = None,
        clock: Callable[[], float] | None = None,
        allow_imports: Iterable[str] = (),
        sleep: Callable[[float], object] | None = None,
        executors: Mapping[str, AnyExecutor] | None = None,
        job_types: Registry[Any] | None = None,
        callables: Registry[Any] | None = None,
        on_event: EventCallback | None = None,
        task_output: Any = None,
        max_flow_bytes: int = size_budget.DEFAULT_MAX_FLOW_BYTES,
        cache: TaskCache | None = None,
    ) -> None:
        if type(max_flow_bytes) is not int or max_flow_bytes < 1:
            raise ValueError(f"max_flow_bytes must be a positive int, got {max_flow_bytes!r}")
        self.max_flow_bytes = max_flow_bytes
        self.on_event: EventCallback | None = on_event
        self.task_output: Any = task_output
        # While watched (on_event or task_output), for task paths, per thread.
        self._watching = _WatchStack()
        self.task_type_registry = TaskTypeRegistry(task_handlers, allow_imports)
        self.clock: Callable[[], float] = clock or time.time
        self.sleep: Callable[[float], object] = sleep or time.sleep
        # Executors by name (see mc.flows.executor_registry), for handlers
        # such as mc.jobs's `job` and `call`.
        self.executor_registry = ExecutorRegistry(executors)
        self._held_submissions = _HeldSubmissions()
        self.job_types = job_types
        self.callables = callables
        # Where tasks with a cache policy look up and store results (see
        # mc.flows.cache); None: they always run.
        self.cache = cache

    def register_executor(
        self, name: str, executor: _ExecutorT, replace: bool = False
    ) -> _ExecutorT:
        """Register an executor under ``name`` and return it (see
        :mod:`mc.flows.executor_registry`); it stays yours to close."""
        self.executor_registry.register(name, executor, replace)
        return executor

    def get_executor(self, name: str) -> AnyExecutor:
        """Return the executor named ``name``, or raise :class:`~mc.errors.ExecutorError`."""
        return self.executor_registry.get(name)

    def close(self) -> None:
        """Close what this engine made: executors from entry points (a Dask
        cluster it started, process pools). Executors you registered stay
        yours to close. The engine stays usable; ``with FlowEngine() as
        engine:`` closes it at the end of the block.
        """
        self.executor_registry.close()

    def __enter__(self) -> FlowEngine:
        """Return the engine; leaving the block calls :meth:`close`."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the engine (see :meth:`close`)."""
        self.close()

    @property
    def allow_imports(self) -> tuple[str, ...]:
        """The module prefixes a spec's ``task_type`` may import from."""
        return self.task_type_registry.allow_imports

    @overload
    def register_task_type(
        self, name: str, handler: None = None, replace: bool = False
    ) -> Callable[[_HandlerT], _HandlerT]: ...

    @overload
    def register_task_type(
        self, name: str, handler: _HandlerT, replace: bool = False
    ) -> _HandlerT: ...

    def register_task_type(self, name: str, handler: Any = None, replace: bool = False) -> Any:
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

    def flow_spec_to_flow_dict(self, flow_spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a flow spec and return the flow dict of a new PENDING flow.

        The same as ``flow_spec_to_flow(flow_spec).to_flow_dict()``.
        """
        return self.flow_spec_to_flow(flow_spec).to_flow_dict()

    def flow_dict_to_flow(self, flow_dict: Mapping[str, Any]) -> Flow:
        """Load a flow from a flow dict (see :meth:`Flow.from_flow_dict`)."""
        return Flow.from_flow_dict(flow_dict)

    def flow_to_flow_dict(self, flow: Flow) -> dict[str, Any]:
        """Return a flow as a flow dict of plain JSON types (see :meth:`Flow.to_flow_dict`)."""
        return flow.to_flow_dict()

    # -- ticking ------------------------------------------------------------

    def tick_flow(self, flow: Flow, task_ctx: Mapping[str, Any] | None = None) -> None:
        """Advance ``flow`` by one tick (see the module docstring).

        ``task_ctx`` reaches every handler, merged with ``'task'``,
        ``'flow'`` and ``'flow_engine'``. Ticking a finished flow does nothing.
        """
        if flow.finished:
            return
        # Watched (events or task logs): keep the flows and task keys being
        # ticked, for task paths. Unwatched, this costs two tests a tick.
        watched = self.on_event is not None or self.task_output is not None
        if watched:
            self._watching.flows.append(flow)
        # How deep in tick_flow this thread is (spreads and subflows tick
        # their child flows inside a task's tick): the outermost tick sends
        # the submissions executors hold (step 5 of the module docstring).
        held = self._held_submissions
        held.depth += 1
        try:
            if flow.status == PENDING:
                flow.status = RUNNING
                self._emit(flow, events.FLOW_STARTED)
            flow.num_ticks += 1
            now = self.clock()
            # With none RUNNING before, the RUNNING tasks are those started
            # now, already in flow order: no second sort of them.
            none_running = not flow.count_tasks(RUNNING)
            started = flow.start_ready(now)
            if self.on_event is not None:
                for task in started:
                    self._emit(flow, events.TASK_STARTED, task, attempt=_attempt(task))
            tick_task = self._tick_watched_task if watched else self._tick_task
            for task in started if none_running else flow.running_tasks():
                failed = tick_task(flow, task, task_ctx, now)
                if failed and flow.cfg.get("fail_fast", True) and self._fail_fast(flow, task):
                    return
            if not flow.is_waiting():
                self._end_flow(flow)
        finally:
            if watched:
                self._watching.flows.pop()
            held.depth -= 1
            if held.executors and not held.depth:
                self._flush_held_submissions()

    def flush_at_tick_end(self, executor: GroupedSubmission) -> None:
        """Have ``executor`` send the submissions it holds at the end of the outermost tick.

        The ``job`` task calls this after a submission to an executor that
        groups them (a SLURM executor with ``array_jobs``): the jobs of one
        tick (a spread's items) go out together, as one array, and before
        the tick's caller can save the flow or release it to another
        runner, which would otherwise find them lost and submit them
        again. Outside a tick the executor sends them now.
        """
        held = self._held_submissions
        held.executors[id(executor)] = executor
        if not held.depth:
            self._flush_held_submissions()

    def _flush_held_submissions(self) -> None:
        """Call ``flush_submissions()`` on the executors holding submissions; never raises."""
        held = self._held_submissions
        executors, held.executors = held.executors, {}
        for executor in executors.values():
            try:
                executor.flush_submissions()
            except Exception:
                # The jobs it kept are failed (or found lost) by their polls.
                _logger.exception("executor %r could not send its held submissions", executor)

    def _fail_fast(self, flow: Flow, task: dict[str, Any]) -> bool:
        """Stop a flow after a task failed; return True if it has ended.

        Every PENDING task is skipped but the cleanup tasks (trigger rule
        ``all_done`` or ``one_failed``); with none left, the flow FAILS now.
        """
        if any(
            t["status"] == PENDING and t.get("trigger_rule") in CLEANUP_TRIGGER_RULES
            for t in flow.tasks.values()
        ):
            self._emit_skipped(flow, flow.skip_pending(keep_rules=CLEANUP_TRIGGER_RULES))
            if flow.count_tasks(PENDING):
                return False
        flow.status = FAILED
        _logger.info("flow %s FAILED at task %s (fail_fast)", flow.key, task["key"])
        self._emit(flow, events.FLOW_ENDED)
        return True

    def _task_ctx(
        self, flow: Flow | None, task: dict[str, Any], task_ctx: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if task_ctx:
            ctx = {**task_ctx, "task": task, "flow_engine": self}
        else:
            ctx = {"task": task, "flow_engine": self}
        if flow is not None:
            ctx["flow"] = flow
        return ctx

    def _tick_watched_task(
        self,
        flow: Flow,
        task: dict[str, Any],
        task_ctx: Mapping[str, Any] | None,
        now: float,
    ) -> bool:
        """:meth:`_tick_task`, with the task's key on the path, its output captured if asked."""
        self._watching.path.append(task["key"])
        try:
            if self.task_output is None:
                return self._tick_task(flow, task, task_ctx, now)
            top = self._watching.flows[0]
            path = events.TASK_PATH_SEPARATOR.join(self._watching.path)
            with self.task_output.capture(top.key, top.label, path):
                return self._tick_task(flow, task, task_ctx, now)
        finally:
            self._watching.path.pop()

    def _tick_task(
        self,
        flow: Flow,
        task: dict[str, Any],
        task_ctx: Mapping[str, Any] | None,
        now: float,
    ) -> bool:
        """Tick one RUNNING task of ``flow``; return True if it FAILED for good."""
        # _task_ctx, inline: this runs for every task.
        if task_ctx:
            ctx = {**task_ctx, "task": task, "flow_engine": self, "flow": flow}
        else:
            ctx = {"task": task, "flow_engine": self, "flow": flow}
        timeout = task.get("timeout_s")
        if timeout is not None:
            started_at = task.get("started_at")
            if started_at is not None and now - started_at > timeout:
                self._call_cancel_hook(task, ctx)
                return self._fail_task(
                    flow,
                    task,
                    f"timed out: RUNNING for {now - started_at:g} s, "
                    f"longer than its timeout_s of {timeout:g} s",
                )
        resolved = None
        # Looked up once for the whole tick of the task (None: the handler's
        # call reports the unknown type).
        try:
            hooks: TaskTypeHooks | None = self.task_type_registry.resolve_hooks(task["task_type"])
        except Exception:  # an unknown type, or a handler wrote a task_type that is no name
            hooks = None
        if "provenance" not in task:
            # The first tick of this attempt: record its inputs (and cache key).
            if (
                hooks is not None
                and hooks.code_identity is None
                and not task.get("task_params")
                and (self.cache is None or not task.get("cache"))
            ):
                # Most tasks of a big flow: nothing to record but where it
                # ran, so the shared record, and no cache key to compute.
                task["provenance"] = RUNTIME_RECORD
            else:
                problem_text, resolved = self._start_attempt(task, ctx, hooks)
                if problem_text is not None:
                    return self._fail_task(flow, task, problem_text)
        if self.cache is not None and task.get("cache_key"):
            try:
                if not self._cache_lets_run(flow, task, ctx, now):
                    return False
            except Exception as error:  # the cache's database failed
                return self._fail_task(flow, task, f"task cache: {error}")
        problem = self._call_handler(task, ctx, resolved, hooks)
        if problem is None:
            # The handler wrote its verdict into the task; the flow checks it
            # and applies it to its indexes.
            if task["status"] == COMPLETED:
                skipped = self._complete_task(flow, task, ctx, hooks)
                if self.on_event is not None:
                    self._emit(flow, events.TASK_COMPLETED, task)
                    self._emit_skipped(flow, skipped)
            return False
        return self._fail_task(flow, task, *problem)

    # -- provenance and the task cache (see mc.flows.cache) -------------------

    def _start_attempt(
        self, task: dict[str, Any], ctx: dict[str, Any], hooks: TaskTypeHooks | None
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Record an attempt's provenance, and its cache key.

        Returns an error, if any, and the params as interpolated, if they
        were (the handler's call this tick uses them: they are not
        interpolated twice). Params that do not resolve, or code that
        cannot be identified, are recorded raw (the handler reports the
        problem); only a cache key path that does not resolve fails the
        attempt here. Always a record of its own (:meth:`_tick_task` gives
        a task with nothing to record the shared ``RUNTIME_RECORD``): a
        cache entry's record must be whole on its own.
        """
        handler = hooks.handler if hooks is not None else None
        raw_names = hooks.raw_params if hooks is not None else ()
        params = task.get("task_params") or {}
        resolved = True
        interpolated = None
        if params and task.get("interpolate", True) and needs_interpolation(params, raw_names):
            try:
                params = interpolated = interpolate(params, ctx, raw=raw_names)
            except Exception:  # the handler's own call reports it; never the tick
                resolved = False
        code: dict[str, Any] = {}
        identify = hooks.code_identity if hooks is not None else None
        if identify is not None and resolved:
            saved = task.get("task_params")
            task["task_params"] = params
            try:
                code = dict(identify(ctx) or {})
            except Exception as error:
                resolved = False
                code = {"error": f"{type(error).__name__}: {error}"}
            finally:
                task["task_params"] = saved
        task["provenance"] = task_caching.provenance_record(task, params, None, code)
        policy = task.get("cache")
        if not policy or self.cache is None or not resolved:
            return None, interpolated
        key_params: Any
        if policy.get("key", "auto") == "auto":
            ignored = set(getattr(handler, "cache_ignored_params", ()) or ())
            key_params = {name: value for name, value in params.items() if name not in ignored}
        else:
            try:
                key_params = {
                    path: get_path({"task_params": params}, path) for path in policy["key"]
                }
            except DotPathError as error:
                return f"cache.key: {error}", interpolated
        try:
            task["cache_key"] = task_caching.cache_key(
                task["task_type"], key_params, code, policy.get("cache_version")
            )
        except (TypeError, ValueError) as error:  # a handler left data JSON cannot hold
            return (
                f"cache: the task's params are not JSON, so they have no key: {error}",
                interpolated,
            )
        return None, interpolated

    def _handler_or_none(self, task: Mapping[str, Any]) -> Any:
        try:
            return self.task_type_registry.resolve(task["task_type"])
        except TaskTypeError:
            return None  # the tick reports it

    def _cache_lets_run(
        self, flow: Flow, task: dict[str, Any], ctx: dict[str, Any], now: float
    ) -> bool:
        """Consult the cache for a task with a key; return True if its handler should run.

        A hit completes the task; a key another task computes makes it
        wait (it stays RUNNING); otherwise the task holds the key's claim,
        renewed when half of it has passed, while its handler runs.
        """
        cache = self.cache
        assert cache is not None
        key = task["cache_key"]
        claim = task.get("cache_claim")
        if claim is not None:
            if now >= claim["renew_at"]:
                cache.claim(key, claim["owner"], now)
                claim["renew_at"] = now + cache.claim_s / 2
            return True
        entry = cache.lookup(key, now)
        if entry is not None and task_caching.entry_is_fresh(
            entry, now, task["cache"].get("expire_s")
        ):
            self._complete_from_cache(flow, task, entry, ctx)
            return False
        owner = f"{flow.key}/{task['key']}#{uuid.uuid4().hex[:12]}"
        holder = cache.claim(key, owner, now)
        if holder is None:
            task.pop("cache_waiting_for", None)
            task["cache_claim"] = {"owner": owner, "renew_at": now + cache.claim_s / 2}
            return True
        if holder == "":
            # Stored since the lookup; or an entry our policy finds too old,
            # which another runner's policy still takes: run it ourselves.
            entry = cache.lookup(key, now)
            if entry is not None and task_caching.entry_is_fresh(
                entry, now, task["cache"].get("expire_s")
            ):
                self._complete_from_cache(flow, task, entry, ctx)
                return False
            task["cache_claim"] = {"owner": owner, "renew_at": now + cache.claim_s / 2}
            return True
        task["cache_waiting_for"] = holder
        return False

    def _complete_from_cache(
        self, flow: Flow, task: dict[str, Any], entry: Mapping[str, Any], ctx: dict[str, Any]
    ) -> None:
        task.pop("cache_waiting_for", None)
        task["data"] = {**(task.get("data") or {}), **entry["data"]}
        cached_from = {
            "flow": entry["flow_key"],
            "task": entry["task_key"],
            "at": entry["created_at"],
        }
        task["cached_from"] = cached_from
        task["provenance"] = entry.get("provenance") or task.get("provenance")
        restore = getattr(self._handler_or_none(task), "restore_cached", None)
        if callable(restore):
            restore(ctx)
        skipped = flow.complete(task["key"], self.clock())
        _logger.info(
            "flow %s: task %s COMPLETED from the cache (made by task %s of flow %s)",
            flow.key,
            task["key"],
            cached_from["task"],
            cached_from["flow"],
        )
        if self.on_event is not None:
            self._emit(
                flow,
                events.TASK_COMPLETED,
                task,
                cached_from=f"{cached_from['flow']}/{cached_from['task']}",
            )
            self._emit_skipped(flow, skipped)

    def _complete_task(
        self,
        flow: Flow,
        task: dict[str, Any],
        ctx: dict[str, Any],
        hooks: TaskTypeHooks | None,
    ) -> list[dict[str, Any]]:
        """Finish the provenance of a task that COMPLETED, store it if cached, complete it.

        Returns the tasks that became SKIPPED because of it (see :meth:`Flow.complete`).
        """
        finished_at = self.clock()
        provenance = task.get("provenance")
        if isinstance(provenance, dict):
            if "task_type" in provenance:
                provenance["finished_at"] = finished_at
            # else the runtime record: its times are the task's own.
            describe = hooks.run_record if hooks is not None else None
            if describe is not None:
                try:
                    run = describe(ctx)
                except Exception as error:
                    run = {"error": f"{type(error).__name__}: {error}"}
                if run:
                    if "task_type" not in provenance:
                        # The runtime record, made whole to hold the run: its
                        # runtime fields are those of where the attempt started.
                        provenance = task["provenance"] = {
                            **provenance,
                            "task_type": task.get("task_type"),
                            "started_at": task.get("started_at"),
                            "finished_at": finished_at,
                        }
                    provenance["run"] = dict(run)
        claim = task.pop("cache_claim", None)
        if claim is not None and self.cache is not None:
            expire_s = task["cache"].get("expire_s")
            # Neither failed attempts nor the handle of outside work: a hit
            # must never poll or cancel the job of the task that made it. The
            # task keeps what a hit would get, so its successors see the same
            # data (and get the same keys) either way; the engine's
            # task['attempts'] and the provenance keep the rest.
            for name in _NOT_CACHED_DATA:
                task["data"].pop(name, None)
            data = task["data"]
            entry = {
                "key": task["cache_key"],
                "task_type": task["task_type"],
                "flow_key": flow.key,
                "task_key": task["key"],
                "created_at": finished_at,
                "expires_at": finished_at + expire_s if expire_s is not None else None,
                "data": data,
                # Complete on its own: it may reach tasks of other flows.
                "provenance": task_caching.provenance_with_params(provenance),
            }
            try:
                self.cache.store(task["cache_key"], entry, claim["owner"])
            except Exception as error:
                # The result stands; it is only not reused.
                task["cache_error"] = f"storing the result failed: {error}"
                _logger.warning("flow %s: task %s: %s", flow.key, task["key"], task["cache_error"])
        return flow.complete(task["key"], finished_at)

    def _release_cache_claim(self, task: dict[str, Any]) -> None:
        """Give up a failed attempt's claim, so that a waiting task runs the key at once."""
        claim = task.get("cache_claim")
        if claim is None or self.cache is None:
            return
        try:
            self.cache.release(task["cache_key"], claim["owner"])
        except Exception as error:  # the claim expires on its own
            _logger.warning("task %s: releasing its cache claim failed: %s", task["key"], error)

    def _call_handler(
        self,
        task: dict[str, Any],
        ctx: dict[str, Any],
        resolved: dict[str, Any] | None = None,
        hooks: TaskTypeHooks | None = None,
    ) -> tuple[str, str] | None:
        """Call a task's handler once; return (error, summary) if the task failed.

        Interpolates the task's params for the handler (or takes
        ``resolved``, params this tick already interpolated), leaving the
        stored ones raw. Never raises because of the task (KeyboardInterrupt
        aside).
        """
        key = task["key"]
        if "proxied_task" in task and self._follows_proxied_task(task):
            return self._tick_through_proxied_task(task, ctx)
        try:
            if hooks is None:
                tick, raw = self.task_type_registry.resolve_tick(task["task_type"])
            else:
                tick, raw = hooks.tick, hooks.raw_params
            params = task.get("task_params")
            # Params held raw for later (a subflow's spec) are not even scanned;
            # a task with 'interpolate': False is not interpolated at all.
            if resolved is None and (
                params and task.get("interpolate", True) and needs_interpolation(params, raw)
            ):
                resolved = interpolate(params, ctx, raw=raw)
            if resolved is not None:
                # The handler sees resolved params in the task itself (so it can
                # be reached through ctx['flow'] too); the stored task keeps
                # the raw ones.
                task["task_params"] = resolved
                try:
                    tick(ctx)
                finally:
                    task["task_params"] = params
            else:
                tick(ctx)
        except (TaskTypeError, DotPathError, FlowSizeError, TaskParamsError, WiringError) as error:
            # The spec's fault, said in words: a traceback would only hide it.
            task["key"] = key
            return str(error), ""
        except (Exception, SystemExit) as error:
            # SystemExit too: a library calling sys.exit() fails its task, not
            # the runner. KeyboardInterrupt still stops the caller.
            task["key"] = key
            summary = traceback.format_exception_only(type(error), error)[-1].strip()
            return traceback.format_exc(), summary
        if task.get("key") != key:
            task["key"] = key
            return "the handler changed task['key']; a task's key is fixed", ""
        status = task.get("status")
        if status == RUNNING and "proxied_task" in task:
            # A proxied task the handler left as a spec becomes a task dict
            # now, so that the stored flow holds one (and a bad spec fails now).
            return self._adopt_proxied_task(task)
        if status in (RUNNING, COMPLETED):
            return None
        if status == FAILED:
            return str(task.get("error") or "the handler set status FAILED"), ""
        return (
            f"handler of task {key!r} set status {status!r}; "
            f"expected one of {', '.join(_HANDLER_STATUSES)}",
            "",
        )

    def _fail_task(self, flow: Flow, task: dict[str, Any], error: str, summary: str = "") -> bool:
        """Record a failed attempt; return True if the task FAILED for good.

        A task with retries left goes back to PENDING and waits
        ``retry_delay_s * retry_backoff ** (attempt - 1)`` seconds.
        """
        now = self.clock()
        self._release_cache_claim(task)
        summary = summary or _last_line(error)
        # The engine counts attempts in the task itself: handlers own 'data'.
        attempts = task.get("attempts")
        if not isinstance(attempts, list):
            attempts = []
        attempts.append({"error": summary, "started_at": task.get("started_at"), "failed_at": now})
        retries = task.get("retries") or 0
        if len(attempts) <= retries:
            delay = retry_delay_s(task, len(attempts))
            flow.retry_later(task["key"], now + delay, attempts)
            _logger.info(
                "flow %s: task %s attempt %d failed, retry in %g s: %s",
                flow.key,
                task["key"],
                len(attempts),
                delay,
                summary,
            )
            self._emit(
                flow,
                events.TASK_RETRYING,
                task,
                error=summary,
                attempt=len(attempts),
                retry_at=now + delay,
            )
            return False
        _end_provenance(task, now)
        skipped = flow.fail(task["key"], error, now, attempts if retries else None)
        if retries:
            summary = f"{summary} (attempt {len(attempts)} of {retries + 1})"
        _add_errors(flow.data, "errors", [f"task {task['key']!r} ({task['task_type']}): {summary}"])
        _logger.info("flow %s: task %s FAILED: %s", flow.key, task["key"], summary)
        self._emit(flow, events.TASK_FAILED, task, error=summary, attempt=len(attempts))
        self._emit_skipped(flow, skipped)
        return True

    def _end_flow(self, flow: Flow) -> None:
        # Only a hand-edited flow can have PENDING tasks here: they never start.
        stuck = flow.skip_stuck("can never start: a precursor did not complete")
        for key in stuck:
            self._emit(flow, events.TASK_SKIPPED, flow.tasks[key])
        if stuck or flow.count_tasks(FAILED):
            flow.status = FAILED
        else:
            flow.status = COMPLETED
        _logger.info("flow %s %s after %d ticks", flow.key, flow.status, flow.num_ticks)
        self._emit(flow, events.FLOW_ENDED)

    # -- events (see mc.flows.events) ------------------------------------------

    def _emit(
        self, flow: Flow, name: str, task: Mapping[str, Any] | None = None, **fields: Any
    ) -> None:
        """Tell ``on_event`` that ``flow`` (or its ``task``) changed: the one place events leave.

        Called at every transition; does nothing without ``on_event``. A
        flow ticked inside another's task (a subflow, a spread) is told as
        its top flow, its tasks by their path from there; its own start
        and end are told by its parent task's events.
        """
        if self.on_event is None:
            return
        flows = self._watching.flows
        depth = len(flows) - 1 if flows else 0
        if task is None:
            if depth:
                return
            path = None
        else:
            path = events.TASK_PATH_SEPARATOR.join([*self._watching.path[:depth], task["key"]])
        top = flows[0] if flows else flow
        self.emit_event(
            FlowEvent(
                time=self.clock(),
                event=name,
                flow_key=top.key,
                flow_label=top.label,
                task_key=path,
                status=task["status"] if task is not None else flow.status,
                **fields,
            )
        )

    def _emit_skipped(self, flow: Flow, skipped: Iterable[Mapping[str, Any]] | None) -> None:
        if skipped and self.on_event is not None:
            for task in skipped:
                self._emit(flow, events.TASK_SKIPPED, task)

    def emit_task_event(self, name: str, status: str | None = None, **fields: Any) -> None:
        """Tell ``on_event`` about the task being ticked now (used by handlers).

        For handlers whose task has news of its own, such as a ``job`` task
        whose job was submitted (``events.JOB_SUBMITTED``) or changed state.
        The event names the task being ticked by its path; outside a tick,
        or without ``on_event``, it does nothing.
        """
        if self.on_event is None or not self._watching.path or not self._watching.flows:
            return
        top = self._watching.flows[0]
        self.emit_event(
            FlowEvent(
                time=self.clock(),
                event=name,
                flow_key=top.key,
                flow_label=top.label,
                task_key=events.TASK_PATH_SEPARATOR.join(self._watching.path),
                status=status,
                **fields,
            )
        )

    def emit_event(self, event: FlowEvent) -> None:
        """Pass ``event`` to ``on_event``, if set; a callback that raises is logged, not raised."""
        on_event = self.on_event
        if on_event is None:
            return
        try:
            on_event(event)
        except Exception:
            # Watching a flow must never break it.
            _logger.warning("on_event callback raised on %s", event, exc_info=True)

    # -- tasks outside a flow's bookkeeping (proxied tasks) -------------------

    def tick_task(self, task: dict[str, Any], task_ctx: Mapping[str, Any] | None = None) -> None:
        """Tick a task dict that no flow schedules, such as a proxied task.

        A PENDING task becomes RUNNING first. A task that holds an
        unfinished ``proxied_task`` of its own is ticked through it, as in
        a flow. Afterwards the task is RUNNING,
        COMPLETED, or FAILED with an ``error``; this never raises because of
        the task. ``task_ctx`` is merged as for :meth:`tick_flow` (its
        ``'flow'``, if any, is kept).
        """
        if task.get("status", PENDING) in TaskStatus.FINISHED:
            return
        if task.get("status", PENDING) == PENDING:
            task["status"] = RUNNING
            task["started_at"] = self.clock()
        task.setdefault("data", {})
        flow = task_ctx.get("flow") if task_ctx else None
        problem = self._call_handler(task, self._task_ctx(flow, task, task_ctx))
        if problem is not None:
            task["status"] = FAILED
            task["error"] = problem[0]
            task["error_summary"] = problem[1] or _last_line(problem[0])
        if task["status"] in TaskStatus.FINISHED:
            task["finished_at"] = self.clock()

    def cancel_task(self, task: dict[str, Any], task_ctx: Mapping[str, Any] | None = None) -> None:
        """Call the ``cancel_task(task_ctx)`` hook of a task's handler, if it has one.

        Used for RUNNING tasks whose outside work must stop (a job, a
        subflow). Errors of the hook are logged and recorded in
        ``task['data']['cancel_error']``; they never propagate.
        """
        flow = task_ctx.get("flow") if task_ctx else None
        self._call_cancel_hook(task, self._task_ctx(flow, task, task_ctx))

    def _call_cancel_hook(self, task: dict[str, Any], ctx: dict[str, Any]) -> None:
        try:
            hook = getattr(self.task_type_registry.resolve(task["task_type"]), "cancel_task", None)
            if callable(hook):
                hook(ctx)
            if "proxied_task" in task and self._follows_proxied_task(task):
                self._cancel_proxied_task(task, ctx)
        except Exception as error:
            _logger.warning("cancelling task %s failed: %s", task.get("key"), error)
            if isinstance(task.get("data"), dict):
                task["data"]["cancel_error"] = f"{type(error).__name__}: {error}"

    # -- engine-level proxying ------------------------------------------------
    #
    # MissionControl 0.x's rule: a task whose dict holds an unfinished
    # 'proxied_task' is ticked through it. BaseProxyingTaskHandler subclasses
    # tick their proxied task themselves (ticks_own_proxied_task), so the
    # engine leaves those alone.

    def _follows_proxied_task(self, task: dict[str, Any]) -> bool:
        """Return True if the engine ticks ``task`` through its unfinished proxied task."""
        proxied = task.get("proxied_task")
        if proxied is None or (
            isinstance(proxied, dict) and proxied.get("status") in TaskStatus.FINISHED
        ):
            return False
        try:
            handler = self.task_type_registry.resolve(task["task_type"])
        except TaskTypeError:
            return True
        return not getattr(handler, "ticks_own_proxied_task", False)

    def _tick_through_proxied_task(
        self, task: dict[str, Any], ctx: dict[str, Any]
    ) -> tuple[str, str] | None:
        """Tick a task's proxied task in place of its handler; return (error, summary) if it failed.

        A proxied task a handler left as a spec (no ``status`` yet) is
        checked and made a task dict first. When the proxied task has
        finished, the task takes its status (and, if it FAILED, its error).
        """
        problem = self._adopt_proxied_task(task)
        if problem is not None:
            return problem
        proxied = task["proxied_task"]
        self.tick_task(proxied, self._proxied_ctx(task, ctx))
        status = proxied["status"]
        if status == COMPLETED:
            task["status"] = COMPLETED
        elif status == FAILED:
            summary = str(proxied.get("error_summary") or _last_line(str(proxied.get("error"))))
            return (
                f"proxied task {proxied.get('key')!r} FAILED: {proxied.get('error')}",
                f"proxied task {proxied.get('key')!r} FAILED: {summary}",
            )
        return None

    def _adopt_proxied_task(self, task: dict[str, Any]) -> tuple[str, str] | None:
        """Make a proxied task left as a spec a task dict; return (error, '') if it is bad."""
        proxied = task["proxied_task"]
        if proxied is None:
            return None
        if not isinstance(proxied, dict):
            what = type(proxied).__name__
            return (
                f"task {task['key']!r}: proxied_task must be a task spec (a dict), got {what}",
                "",
            )
        if "status" not in proxied:
            try:
                task["proxied_task"] = new_proxied_task(proxied)
            except FlowSpecError as error:
                return f"task {task['key']!r}: {error}", ""
        elif not (
            isinstance(proxied.get("key"), str) and isinstance(proxied.get("task_type"), str)
        ):
            return f"task {task['key']!r}: proxied_task has a status but no key or task_type", ""
        return None

    def _cancel_proxied_task(self, task: dict[str, Any], ctx: dict[str, Any]) -> None:
        proxied = task["proxied_task"]
        if not isinstance(proxied, dict) or proxied.get("status") != RUNNING:
            return
        proxied_ctx = self._proxied_ctx(task, ctx)
        proxied_ctx["task"] = proxied
        self._call_cancel_hook(proxied, proxied_ctx)
        proxied["status"] = FAILED
        proxied["error"] = proxied["error_summary"] = "cancelled with its proxy"
        proxied["finished_at"] = self.clock()

    def _proxied_ctx(self, task: dict[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        proxied_ctx = {name: value for name, value in ctx.items() if name != "task"}
        proxied_ctx["proxy_task"] = task
        return proxied_ctx

    # -- whole-flow operations ------------------------------------------------

    def cancel_flow(
        self,
        flow: Flow,
        reason: str = "cancelled",
        task_ctx: Mapping[str, Any] | None = None,
    ) -> None:
        """Cancel a flow: stop its RUNNING tasks and skip the rest.

        Each RUNNING task's handler hook ``cancel_task(task_ctx)`` is called
        (so a job is cancelled on its cluster), and the task FAILS with the
        error ``'cancelled: <reason>'``; PENDING tasks become SKIPPED. The
        flow is FAILED, with ``flow.data['cancelled'] = {'reason', 'at'}``.
        A COMPLETED flow is left alone; a FAILED one still has its leftover
        RUNNING tasks cancelled.
        """
        if flow.status == COMPLETED:
            return
        if self.on_event is None and self.task_output is None:
            self._cancel_flow(flow, reason, task_ctx)
            return
        self._watching.flows.append(flow)
        try:
            self._cancel_flow(flow, reason, task_ctx)
        finally:
            self._watching.flows.pop()

    def _cancel_flow(self, flow: Flow, reason: str, task_ctx: Mapping[str, Any] | None) -> None:
        now = self.clock()
        for task in flow.running_tasks():
            self._call_cancel_hook(task, self._task_ctx(flow, task, task_ctx))
            self._release_cache_claim(task)
            error = f"cancelled: {reason}"
            _end_provenance(task, now)
            skipped = flow.fail(task["key"], error, now)
            self._emit(flow, events.TASK_FAILED, task, error=error)
            self._emit_skipped(flow, skipped)
        self._emit_skipped(flow, flow.skip_pending())
        ended_now = flow.status != FAILED
        if ended_now:
            _add_errors(flow.data, "errors", [f"flow cancelled: {reason}"])
        flow.status = FAILED
        flow.data["cancelled"] = {"reason": reason, "at": now}
        _logger.info("flow %s cancelled: %s", flow.key, reason)
        if ended_now:
            self._emit(flow, events.FLOW_ENDED, error=f"cancelled: {reason}")

    def retry_flow(self, flow: Flow) -> list[str]:
        """Put a flow's FAILED and SKIPPED tasks back to PENDING; return their keys.

        Each such task starts afresh, as its spec built it (its data from
        the spec, its retries counted anew); the flow becomes RUNNING, and
        its ``data['errors']`` move to ``data['previous_errors']``. Tasks
        left RUNNING by ``fail_fast`` are ticked again. Returns ``[]`` and
        changes nothing when no task FAILED or was SKIPPED.
        """
        keys = [key for key, task in flow.tasks.items() if task["status"] in (FAILED, SKIPPED)]
        if not keys:
            return []
        flow.reset(keys)
        errors = flow.data.pop("errors", None)
        if errors:
            _add_errors(
                flow.data, "previous_errors", errors if isinstance(errors, list) else [errors]
            )
        flow.data.pop("cancelled", None)
        flow.status = RUNNING
        _logger.info("flow %s: retrying %d tasks", flow.key, len(keys))
        return keys

    def tick_flow_until_idle(
        self,
        flow: Flow,
        task_ctx: Mapping[str, Any] | None = None,
        max_ticks: int | None = None,
    ) -> int:
        """Tick while the flow has tasks that can start now; return the ticks made.

        Afterwards the flow has ended, or every unfinished task is waiting
        on a RUNNING task that polls outside work, or on a retry that is not
        yet due: ticking again at once would change nothing new. Always
        ticks at least once, and at most ``max_ticks`` times.
        """
        return self._tick_until_idle(flow, task_ctx, max_ticks)

    def tick_flow_until_has_no_pending(
        self,
        flow: Flow,
        task_ctx: Mapping[str, Any] | None = None,
        max_ticks: int | None = None,
    ) -> int:
        """Deprecated name of :meth:`tick_flow_until_idle`, which it calls.

        .. deprecated:: 0.2.0
           The name promised more than the method does: tasks may still be
           PENDING afterwards, behind a RUNNING one. Use
           :meth:`tick_flow_until_idle`. It does not warn at run time yet,
           so that callers running under ``-W error`` keep working; a
           subclass that overrides this name still has its override called
           by runners (see :meth:`__init_subclass__`).
        """
        return self._tick_until_idle(flow, task_ctx, max_ticks)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Keep a subclass that overrides the deprecated tick name working.

        Such a subclass gets its override under the new name too, so that
        runners, which call :meth:`tick_flow_until_idle`, still call it.
        """
        super().__init_subclass__(**kwargs)
        old = cls.__dict__.get("tick_flow_until_has_no_pending")
        if old is not None and "tick_flow_until_idle" not in cls.__dict__:
            cls.tick_flow_until_idle = old  # type: ignore[method-assign]

    def _tick_until_idle(
        self, flow: Flow, task_ctx: Mapping[str, Any] | None, max_ticks: int | None
    ) -> int:
        ticks = 0
        while True:
            self.tick_flow(flow, task_ctx)
            ticks += 1
            if flow.finished or not self.can_start_now(flow):
                return ticks
            if max_ticks is not None and ticks >= max_ticks:
                return ticks

    def can_start_now(self, flow: Flow) -> bool:
        """Return True if a task of ``flow`` could start on a tick now.

        A task is ready, or a retry is due by the engine's clock. When it
        returns False, ticking at once changes nothing new: the flow waits
        on RUNNING tasks that poll outside work, or on a later retry.
        """
        if flow.has_ready_tasks():
            return True
        retry_at = flow.next_retry_at()
        return retry_at is not None and retry_at <= self.clock()

    def run_flow(
        self,
        flow: Flow,
        task_ctx: Mapping[str, Any] | None = None,
        max_ticks: int | None = None,
        poll_interval_s: float = 0.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> Flow:
        """Tick ``flow`` until it ends and return it.

        ``should_stop`` (optional) is asked before each tick and after each
        wait; when it returns True, the flow is returned as it is, unfinished
        (``mc run`` stops so on Ctrl-C, between ticks, never inside one).

        Raises :class:`~mc.errors.FlowError` (with ``.flow``) if the flow
        FAILED, listing its errors, or if it has not ended after
        ``max_ticks`` more ticks (default: no limit). When a tick starts nothing
        new, waits ``poll_interval_s`` seconds before the next, so that a
        flow polling outside work does not spin; when only retries are left
        to wait for, it waits (with the engine's ``sleep``) until the first
        is due.
        """
        ticks = 0
        while not flow.finished:
            if should_stop is not None and should_stop():
                return flow
            if max_ticks is not None and ticks >= max_ticks:
                raise FlowError(_not_ended_message(flow, max_ticks), flow=flow)
            self.tick_flow(flow, task_ctx)
            ticks += 1
            if flow.finished or self.can_start_now(flow):
                continue
            wait = poll_interval_s
            retry_at = flow.next_retry_at()
            if retry_at is not None and not flow.count_tasks(RUNNING):
                wait = max(wait, retry_at - self.clock())
            if wait > 0:
                self.sleep(wait)
        if flow.status == FAILED:
            errors = flow.data.get("errors") or ["no error recorded"]
            raise FlowError(
                f"flow {flow.key!r} FAILED:\n" + "\n".join(f"  {line}" for line in errors),
                flow=flow,
            )
        return flow


def _end_provenance(task: dict[str, Any], now: float) -> None:
    """Write when a task's attempt ended into its provenance record, if it has one of its own.

    The shared runtime record (see :data:`mc.flows.cache.RUNTIME_RECORD`)
    takes its times from the task, so it is left as it is.
    """
    provenance = task.get("provenance")
    if isinstance(provenance, dict) and not task_caching.is_runtime_record(provenance):
        provenance["finished_at"] = now


def _attempt(task: Mapping[str, Any]) -> int:
    """The number of a task's current attempt: 1, then 2 after one failed, ..."""
    attempts = task.get("attempts")
    return 1 + (len(attempts) if isinstance(attempts, list) else 0)


def _add_errors(data: dict[str, Any], name: str, lines: list[Any]) -> None:
    """Append ``lines`` to the list ``data[name]``.

    The engine owns ``errors`` and ``previous_errors``, but a spec or a
    wiring may have put something else there: that value is kept, as the
    first item of the new list, rather than make the tick raise.
    """
    found = data.get(name)
    if not isinstance(found, list):
        found = data[name] = [] if found is None else [found]
    found.extend(lines)


def retry_delay_s(task: Mapping[str, Any], attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1 for the first) of ``task``.

    ``retry_delay_s * retry_backoff ** (attempt - 1)``, capped at
    :data:`~mc.flows.spec.MAX_DURATION_S` (30 days). Validation bounds
    both policies, but the cap holds for any stored values too: the power
    is never computed once it would pass the cap, so it cannot overflow.
    """
    delay = task.get("retry_delay_s") or 0
    backoff = task.get("retry_backoff") or 1
    try:
        for _ in range(attempt - 1):
            if delay >= MAX_DURATION_S:
                break
            delay *= backoff
        return float(min(delay, MAX_DURATION_S))
    except TypeError:
        return 0.0


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "failed"


def _not_ended_message(flow: Flow, max_ticks: int) -> str:
    plural = "s" if max_ticks != 1 else ""
    message = f"flow {flow.key!r} did not end within {max_ticks} tick{plural}"
    running = [task["key"] for task in flow.running_tasks()]
    if running:
        return (
            f"{message}; still RUNNING: {', '.join(running)} "
            "(does each handler set its task's status to COMPLETED or FAILED?)"
        )
    return f"{message}; {flow.count_tasks(PENDING)} tasks still PENDING"


_default_engine: FlowEngine | None = None


def get_default_engine() -> FlowEngine:
    """Return the engine behind the module-level functions of :mod:`mc.flows`."""
    global _default_engine  # noqa: PLW0603 - made on first use, then shared
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


@overload
def register_task_type(
    name: str, handler: None = None, replace: bool = False
) -> Callable[[_HandlerT], _HandlerT]: ...


@overload
def register_task_type(name: str, handler: _HandlerT, replace: bool = False) -> _HandlerT: ...


def register_task_type(name: str, handler: Any = None, replace: bool = False) -> Any:
    """Register a task type on the default engine; a decorator without ``handler``.

    Example::

        @register_task_type('greet')
        def greet(task_ctx):
            print('hello')
            task_ctx['task']['status'] = 'COMPLETED'
    """
    return get_default_engine().register_task_type(name, handler, replace)
