"""The contracts that plug-ins meet, as :class:`typing.Protocol` classes.

MissionControl calls code it did not write in a few places: task handlers
(the work of a task type), executors (which run work outside the tick) and,
in :mod:`mc.jobs`, job modules (:class:`mc.jobs.job_modules.JobModule`). The
runner calls a store (:class:`mc.runner.store_contract.RunnerStore`). Each
contract is written here as a protocol, so that a plug-in's author can have
a type checker (``mypy --strict``) check their class against it::

    from mc.flows.plugins import Executor

    def make_executor() -> Executor:
        return MyClusterExecutor()   # mypy says what is missing, if anything

A handler may also help the task cache (see :mod:`mc.flows.cache` and the
docs' "Caching and provenance") through optional attributes:
``cache_ignored_params``, ``code_identity(task_ctx)``,
``run_record(task_ctx)`` and ``restore_cached(task_ctx)``; the cache itself
meets :class:`mc.flows.cache.TaskCache`.

The protocols describe; they do not enforce. At run time the registries
check only what they must to give a clear error (a handler is callable, a
job module has ``build_work_dir``), and a handler checks its executor's
methods before the first call (see :func:`can_run_jobs`). Standard library
only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "BatchPolling",
    "GroupedSubmission",
    "TaskCtx",
    "JobHandle",
    "TaskHandlerFunction",
    "TaskHandlerClass",
    "TaskHandler",
    "Executor",
    "CallExecutor",
    "Closable",
    "AnyExecutor",
    "can_run_jobs",
    "can_run_calls",
]

TaskCtx = dict[str, Any]
"""The task context a handler gets: ``'task'``, and in a flow ``'flow'`` and
``'flow_engine'``, plus what the caller passed to the tick."""

JobHandle = Any
"""What an executor's ``submit`` returns: any JSON value (usually a dict),
stored in the task's data so that a restarted runner polls the same work."""


@runtime_checkable
class TaskHandlerFunction(Protocol):
    """A task handler written as a function: ``tick(task_ctx)``.

    Called once on every tick while its task is RUNNING. It finishes the
    task by setting ``task_ctx['task']['status']`` to ``'COMPLETED'`` or
    ``'FAILED'`` (with an ``error``); left RUNNING, it is called again on
    the next tick.
    """

    def __call__(self, task_ctx: TaskCtx, /) -> object:
        """Tick the task in ``task_ctx['task']`` once."""


@runtime_checkable
class TaskHandlerClass(Protocol):
    """A task handler written as a class, such as a
    :class:`~mc.flows.task_handler.BaseTaskHandler` subclass.

    The engine calls ``tick_task(task_ctx)`` (a classmethod) on every tick,
    and ``cancel_task(task_ctx)`` (optional) when the task's outside work
    must stop. ``raw_params`` (optional) names the ``task_params`` the
    engine must not interpolate.
    """

    def tick_task(self, task_ctx: TaskCtx, /) -> object:
        """Tick the task in ``task_ctx['task']`` once."""


TaskHandler = TaskHandlerFunction | TaskHandlerClass
"""What :meth:`~mc.flows.flow_engine.FlowEngine.register_task_type` accepts:
a function handler, or a class (or object) with ``tick_task``."""


@runtime_checkable
class Executor(Protocol):
    """A *job executor*: runs job dirs (see :mod:`mc.jobs.job_dir`) outside the tick.

    Status names are those of :mod:`mc.jobs.constants`: QUEUED, RUNNING,
    COMPLETED, FAILED, LOST (the executor knows nothing of the job and it
    never ran, so submitting it again is safe) or UNKNOWN (the job is in a
    state the executor does not know; it is polled on). A new executor object, given
    a handle an earlier one returned, must poll the same job: that is how a
    restarted runner reconnects. Built-in ones: ``local``, ``prebaked``,
    ``dask`` and ``slurm``. An executor that holds resources may also have
    ``close()``; the engine calls it on executors it made from entry points.
    """

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> JobHandle:
        """Start (or queue) the job in ``job_dir``; return a JSON-able handle.

        ``resources`` override those the job module asked for.
        """

    def poll(self, handle: JobHandle) -> tuple[str, dict[str, Any]]:
        """Return ``(status, outputs)``: ``outputs`` holds ``exit_status`` once
        the job ended, and ``error`` when the executor has something to say."""

    def cancel(self, handle: JobHandle) -> None:
        """Stop the job; its next poll reports FAILED."""


@runtime_checkable
class BatchPolling(Protocol):
    """A job executor that can poll many jobs at once (optional, besides :class:`Executor`).

    The built-in job executors have it. Their ``poll`` batches as well: the
    first poll of a new round (a job already answered is polled again) asks
    for all the executor's jobs at once, and the round's other polls are
    answered from that.
    """

    def poll_many(self, handles: Sequence[JobHandle]) -> list[tuple[str, dict[str, Any]]]:
        """Return ``(status, outputs)`` for each handle, in order, for at most one round trip."""


@runtime_checkable
class GroupedSubmission(Protocol):
    """A job executor that may submit jobs together (optional, besides :class:`Executor`).

    The SLURM executor with ``array_jobs`` keeps the jobs of one tick and
    submits them as one array job when the engine calls ``flush_submissions``
    at the end of the tick (see
    :meth:`~mc.flows.flow_engine.FlowEngine.flush_at_tick_end`). A job
    submitted again (a retry, or a job its executor lost) goes through
    ``submit_alone`` instead, by the ``job`` task: by itself, with the
    resources of its own attempt.
    """

    def submit_alone(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> JobHandle:
        """Submit the job by itself, never together with others; return its handle."""

    def flush_submissions(self) -> None:
        """Send the submissions it holds; the engine calls this at the end of a tick."""


@runtime_checkable
class CallExecutor(Protocol):
    """A *call executor*: runs Python callables for ``call`` tasks.

    Built-in ones: ``inline``, ``threads``, ``processes`` and ``dask``.
    """

    def submit_call(
        self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> JobHandle:
        """Start ``fn(*args, **kwargs)``; return a JSON-able handle."""

    def poll_call(self, handle: JobHandle) -> tuple[str, dict[str, Any]]:
        """Return ``(status, outputs)``, ``outputs`` holding ``result`` or ``error``."""

    def cancel_call(self, handle: JobHandle) -> None:
        """Cancel the call if it has not started; a started one runs to its end."""


@runtime_checkable
class Closable(Protocol):
    """An object that holds resources and lets them go in ``close()``."""

    def close(self) -> None:
        """Release what the object holds (processes, a cluster, connections)."""


AnyExecutor = Executor | CallExecutor
"""What an executor registry holds: a job executor, a call executor, or both."""


def can_run_jobs(executor: object) -> bool:
    """Return True if ``executor`` has the job interface (submit, poll, cancel)."""
    return all(callable(getattr(executor, name, None)) for name in ("submit", "poll", "cancel"))


def can_run_calls(executor: object) -> bool:
    """Return True if ``executor`` has the call interface (submit_call, poll_call, cancel_call)."""
    return all(
        callable(getattr(executor, name, None))
        for name in ("submit_call", "poll_call", "cancel_call")
    )
