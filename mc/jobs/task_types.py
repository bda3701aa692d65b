"""The ``job`` and ``call`` task types.

``job``
    ``task_params``: ``job_type``, ``job_params`` (default ``{}``),
    ``executor`` (a name, as the task context's ``'job_policy'`` allows,
    see :mod:`mc.jobs.policy`; default the task context's
    ``'default_executor'``, else ``local``), ``resources`` (override the
    job module's; per attempt, or growing by ``retry_scale`` on each retry:
    see :mod:`mc.jobs.retry_resources`), ``job_dir`` (under the jobs root, see
    :meth:`~mc.jobs.policy.JobPolicy.spec_job_dir`; default
    ``<jobs root>/<flow key>/<task key>``, the jobs root being the task
    context's ``'jobs_root'``, else ``$MC_JOBS_ROOT``, else ``mc_jobs`` in the
    working directory; the keys made safe as directory names, so that no
    flow key leads out of the jobs root and no two keys share a name, see
    :mod:`mc.flows.file_names`). The first tick builds the job dir
    and submits it; the executor's handle goes into ``task['job']`` at once
    (a field that only this handler writes: never a spec or a wiring), so a
    runner that restarts polls the same job instead of submitting it again.
    Later ticks poll. On success the parsed outputs land in
    ``task['data']['outputs']``; on failure the task's error holds the exit
    status and the tail of stderr. :meth:`JobTaskHandler.cancel_task` cancels
    the job through its executor (``FlowEngine.cancel_flow`` calls it).
``call``
    ``task_params``: ``fn`` (a name registered with :func:`register_callable`,
    passed as the task context's ``'callables'``, or declared as an entry
    point of the group ``mc.callables``; or ``'module:qualname'`` under the
    engine's ``allow_imports``), ``args``, ``kwargs``,
    ``executor`` (``inline`` by default; ``threads``, ``processes``,
    ``dask``, as the ``'job_policy'`` allows; or any job executor, such as
    ``slurm``, ``local`` or a profile, which runs the function as a job:
    see :mod:`mc.jobs.call_job`). Its handle is kept in ``task['call']``
    (in ``task['job']`` for a call run as a job). A JSON-able return value
    lands in ``task['data']['result']``.
    A call whose process dies is run again after a restart: at least once.
    :meth:`CallTaskHandler.cancel_task` cancels a call that has not started.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast, overload

from mc.errors import ExecutorError, JobError, MCError
from mc.flows import events
from mc.flows.cache import function_source_sha256, import_path
from mc.flows.file_names import safe_file_name
from mc.flows.flow_engine import FlowEngine, get_default_engine
from mc.flows.plugins import (
    AnyExecutor,
    CallExecutor,
    Executor,
    GroupedSubmission,
    can_run_calls,
    can_run_jobs,
)
from mc.flows.registry import Registry
from mc.flows.statuses import COMPLETED, FAILED
from mc.flows.task_handler import BaseTaskHandler, TaskCtx
from mc.jobs import constants
from mc.jobs.job_dir import (
    build_job_dir,
    job_module_identity,
    read_job_meta,
    record_job_provenance,
    stderr_tail,
)
from mc.jobs.job_modules import JobTypeRegistry, default_job_types
from mc.jobs.policy import job_policy
from mc.jobs.retry_resources import canonical_resources, resources_for_attempt

__all__ = [
    "CallableRegistry",
    "default_callables",
    "register_callable",
    "JobTaskHandler",
    "CallTaskHandler",
]

_CALLABLES_ENTRY_POINT_GROUP = "mc.callables"
_JOB_PARAMS = {"job_type", "job_params", "executor", "resources", "job_dir"}
_CALL_PARAMS = {"fn", "args", "kwargs", "executor"}


class CallableRegistry(Registry[Callable[..., Any]]):
    """Maps names to the callables that ``call`` tasks may name as ``fn``.

    Names follow the rules of :class:`~mc.flows.registry.Registry`; a
    dotted ``fn`` (``'module:qualname'``) may be imported under the
    allowed prefixes.
    """

    def __init__(
        self,
        callables: Mapping[str, Callable[..., Any]] | None = None,
        allow_imports: Iterable[str] | str = (),
    ) -> None:
        super().__init__(
            "callable",
            "fn",
            callable,
            "callable",
            ExecutorError,
            _CALLABLES_ENTRY_POINT_GROUP,
            items=callables,
            allow_imports=allow_imports,
            listed_as="registered",
            unknown_hint="; or 'module:qualname' under allow_imports",
        )


default_callables = CallableRegistry()
"""The callables ``call`` tasks may name when their engine has no registry of its own.

It is shared, as the default engine is: :func:`register_callable` fills it.
"""

_CallableT = TypeVar("_CallableT", bound=Callable[..., Any])


@overload
def register_callable(
    name: str, fn: None = None, replace: bool = False
) -> Callable[[_CallableT], _CallableT]: ...


@overload
def register_callable(name: str, fn: _CallableT, replace: bool = False) -> _CallableT: ...


def register_callable(name: str, fn: Any = None, replace: bool = False) -> Any:
    """Let ``call`` tasks name ``fn`` as ``name`` (on :data:`default_callables`);
    a decorator without ``fn``."""
    if fn is None:
        return lambda fn: default_callables.register(name, fn, replace)
    return default_callables.register(name, fn, replace)


def _engine(task_ctx: TaskCtx) -> FlowEngine:
    engine: FlowEngine = task_ctx.get("flow_engine") or get_default_engine()
    return engine


def _job_types(task_ctx: TaskCtx) -> JobTypeRegistry:
    """The job types a task uses: its context's, else its engine's, else the default."""
    registry = task_ctx.get("job_types") or _engine(task_ctx).job_types or default_job_types
    return cast(JobTypeRegistry, registry)


def _check_params(task: dict[str, Any], allowed: set[str], task_type: str) -> dict[str, Any]:
    params = task.get("task_params") or {}
    unknown = set(params) - allowed
    if unknown:
        raise JobError(
            f"task {task['key']!r}: unknown task_params {sorted(unknown)} for a {task_type} task "
            f"(expected some of {sorted(allowed)})",
        )
    return params


# What each kind of task needs of its executor, and what a wrong one lacks.
_EXECUTOR_KINDS = {
    "jobs": (can_run_jobs, "submit/poll/cancel; is it a call executor?"),
    "calls": (can_run_calls, "submit_call/poll_call/cancel_call; is it a job executor?"),
}


def _named_executor(task_ctx: TaskCtx, name: object, kind: str) -> AnyExecutor:
    """Return the engine's executor ``name``, or raise ExecutorError if it cannot run ``kind``."""
    key = task_ctx["task"]["key"]
    if not isinstance(name, str):
        raise ExecutorError(f"task {key!r}: task_params.executor must be a name, got {name!r}")
    executor = _engine(task_ctx).get_executor(name)
    can_run, lacks = _EXECUTOR_KINDS[kind]
    if not can_run(executor):
        raise ExecutorError(
            f"task {key!r}: executor {name!r} cannot run {kind} (it has no {lacks})"
        )
    return executor


def _job_executor(task_ctx: TaskCtx, name: object) -> Executor:
    """Return the engine's executor ``name``, checked to run jobs."""
    return cast(Executor, _named_executor(task_ctx, name, "jobs"))


def _call_executor(task_ctx: TaskCtx, name: object) -> CallExecutor:
    """Return the engine's executor ``name``, checked to run calls."""
    return cast(CallExecutor, _named_executor(task_ctx, name, "calls"))


def _fail(task: dict[str, Any], error: str) -> None:
    task["status"] = FAILED
    task["error"] = error


def _failing_on_mc_errors(tick: Callable[[Any], None]) -> Callable[[Any], None]:
    """Fail the task with the message of an MCError (a bad param, a missing setting, ...).

    Those errors say what is wrong in words; a traceback would only hide
    that. Other exceptions propagate, and the engine records their traceback.
    """

    @functools.wraps(tick)
    def wrapper(self: Any) -> None:
        try:
            tick(self)
        except MCError as error:
            _fail(self.task, str(error))

    return wrapper


def _job_event(task_ctx: TaskCtx, name: str, status: str, state: Mapping[str, Any]) -> None:
    """Tell the engine's event callback about the job of the task being ticked.

    ``state`` is the task's ``task['job']``, which only the job handler writes.
    """
    engine = task_ctx.get("flow_engine")
    if engine is None or getattr(engine, "on_event", None) is None:
        return
    engine.emit_task_event(
        name,
        status,
        executor=state.get("executor"),
        job_id=state.get("job_id"),
        job_dir=state.get("job_dir"),
    )


def _submit_job(
    task_ctx: TaskCtx,
    task: Mapping[str, Any],
    executor: Executor,
    job_dir: str,
    resources: Mapping[str, Any] | None,
    submissions: int,
) -> Any:
    """Submit a job task's job dir; return the executor's handle.

    A job submitted again (a retry of the task: a later attempt; or a job
    its executor lost) goes alone, through ``submit_alone`` where the
    executor groups submissions (:class:`~mc.flows.plugins.GroupedSubmission`,
    SLURM array jobs): never joined with other jobs, and with its own
    attempt's resources. A first submission to such an executor is sent
    at the end of the engine's tick, with the others of the tick (see
    :meth:`~mc.flows.flow_engine.FlowEngine.flush_at_tick_end`).
    """
    attempts = task.get("attempts")
    again = submissions > 0 or (isinstance(attempts, list) and len(attempts) > 0)
    if not isinstance(executor, GroupedSubmission):
        return executor.submit(job_dir, resources)
    if again:
        return executor.submit_alone(job_dir, resources)
    handle = executor.submit(job_dir, resources)
    # Sent with the others of this tick at its end, before the flow is saved.
    _engine(task_ctx).flush_at_tick_end(executor)
    return handle


def _handle_job_id(handle: Any) -> str | None:
    """The id an executor gave a job in its handle: a SLURM job id, a Dask key; else None."""
    if isinstance(handle, Mapping):
        for name in ("job_id", "key"):
            value = handle.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                return str(value)
    return None


def _note_job_id(state: dict[str, Any], data: dict[str, Any], outputs: Mapping[str, Any]) -> None:
    """Record the job's id for people: the handle's, else the pid a poll reports (local jobs).

    ``task['job']['job_id']`` (copied to ``data['job_id']``) is shown by
    ``mc show`` and told in job events; it is never used to reach the job:
    the executor works from the handle alone.
    """
    job_id = _handle_job_id(state.get("handle"))
    pid = outputs.get("pid")
    if job_id is None and isinstance(pid, int) and not isinstance(pid, bool):
        job_id = str(pid)
    if job_id is not None and state.get("job_id") != job_id:
        state["job_id"] = data["job_id"] = job_id


class JobTaskHandler(BaseTaskHandler):
    """Builds a job dir, submits it to an executor, polls it, and parses its outputs.

    The handle of the submitted job lives in ``task['job']`` (``executor``,
    ``job_dir``, ``handle``, ``submissions``), a field of the task dict that
    no spec and no wiring can write: only this handler does. ``task['data']``
    gets copies for reading (``executor``, ``job_dir``, ``submissions``,
    ``job_id``, ``job_status``, ``exit_status``, ``outputs``; and, while the
    job status is UNKNOWN, ``unknown_state``: the executor's name of the
    state, such as a SLURM state it does not know), which are never read
    back. ``job_id`` is the executor's id of the job (a SLURM job id, a
    Dask key) or, for a local job, its process id once a poll has seen it run.

    For caching (see :mod:`mc.flows.cache`): where a job runs does not
    change its result, so ``executor``, ``resources`` and ``job_dir`` are
    left out of its cache key, and the job type's name, version and module
    source hash are put in.
    """

    cache_ignored_params = ("executor", "resources", "job_dir")

    @classmethod
    def code_identity(cls, task_ctx: TaskCtx) -> dict[str, Any]:
        """Return the job type's name, version and module source hash (see
        :func:`~mc.jobs.job_dir.job_module_identity`)."""
        job_type = (task_ctx["task"].get("task_params") or {}).get("job_type")
        if not isinstance(job_type, str) or not job_type:
            return {}
        module = _job_types(task_ctx).resolve(job_type, _engine(task_ctx).allow_imports)
        return job_module_identity(job_type, module)

    @classmethod
    def run_record(cls, task_ctx: TaskCtx) -> dict[str, Any]:
        """Return where the job ran: executor, job id, handle, resources, job dir."""
        data = task_ctx["task"].get("data") or {}
        state = task_ctx["task"].get("job") or {}
        handle = state.get("handle")
        # The id the job task recorded (a local job's pid once a poll saw it
        # run), else the one its handle names (a SLURM job id, a Dask key).
        job_id = state.get("job_id")
        if job_id is None and isinstance(handle, Mapping):
            job_id = handle.get("job_id") or handle.get("key")
        record = {
            "executor": data.get("executor"),
            "job_id": job_id,
            # Without the ownership token: provenance is read by people and
            # shared through the cache; the token stays in task['job'].
            "job_handle": {k: v for k, v in handle.items() if k != "token"}
            if isinstance(handle, Mapping)
            else handle,
            "job_dir": data.get("job_dir"),
        }
        with contextlib.suppress(JobError, KeyError, TypeError):  # no job dir (yet)
            record["resources"] = {
                **read_job_meta(data["job_dir"]).get("resources", {}),
                # In the names and units the executor saw (mem_gb as memory_mb).
                **canonical_resources(
                    (task_ctx["task"].get("task_params") or {}).get("resources") or {}, "resources"
                ),
            }
        return record

    @classmethod
    def restore_cached(cls, task_ctx: TaskCtx) -> None:
        """On a cache hit with ``copy_job_dir``, copy the original job dir into a new one.

        Otherwise the task's ``data['job_dir']`` names the original job dir.
        """
        task = task_ctx["task"]
        original = task["data"].get("job_dir")
        if not (task.get("cache") or {}).get("copy_job_dir") or not isinstance(original, str):
            return
        handler = cls(task_ctx)
        target = handler._output_dir(task.get("task_params") or {})
        shutil.copytree(original, target, dirs_exist_ok=True)
        task["data"]["job_dir"] = target
        task["data"]["copied_from_job_dir"] = original

    @_failing_on_mc_errors
    def initial_tick(self) -> None:
        """Build the job dir and submit it; keep the handle in ``task['job']``."""
        task = self.task
        params = _check_params(task, _JOB_PARAMS, "job")
        policy = job_policy(self.task_ctx)
        where = f"task {task['key']!r}"
        if params.get("executor") is not None:
            executor_name = policy.check_executor(params["executor"], self.task_ctx, where)
        else:
            executor_name = self.task_ctx.get("default_executor") or constants.DEFAULT_JOB_EXECUTOR
        executor = self._executor(executor_name)
        job_types = _job_types(self.task_ctx)
        job = {
            "key": task["key"],
            "job_type": params.get("job_type"),
            "job_params": params.get("job_params") or {},
        }
        output_dir = self._output_dir(params, executor_name)
        job_dir = build_job_dir(
            job,
            output_dir,
            job_types,
            _engine(self.task_ctx).allow_imports,
            provenance={"executor": executor_name, **self._owner_provenance()},
        )
        task["job"] = {"executor": executor_name, "job_dir": job_dir, "submissions": 0}
        task["data"].update(executor=executor_name, job_dir=job_dir, submissions=0)
        self._submit(executor)

    @_failing_on_mc_errors
    def intermediate_tick(self) -> None:
        """Poll the job; on its end, parse its outputs or fail with its stderr."""
        state = self._state()
        data = self.task["data"]
        executor = self._executor(state["executor"])
        try:
            status, outputs = executor.poll(state["handle"])
        except ExecutorError as error:
            # A cluster's controller can be briefly unreachable: the job may be
            # fine, so only a run of failed polls fails the task.
            state["poll_errors"] = state.get("poll_errors", 0) + 1
            if state["poll_errors"] >= constants.MAX_POLL_ERRORS:
                _fail(self.task, f"{state['poll_errors']} polls in a row failed; the last: {error}")
            return
        state.pop("poll_errors", None)
        handle = state["handle"]
        if (
            isinstance(handle, dict)
            and "job_id" not in handle
            and isinstance(outputs.get("job_id"), str)
        ):
            # Submitted later than its handle was made (in an array job): the
            # executor tells its id once it has one, for everyone to see.
            handle["job_id"] = outputs["job_id"]
        if status not in constants.JOB_STATUSES:
            raise ExecutorError(
                f"executor {state['executor']!r} answered a poll with {status!r}; "
                f"expected one of {', '.join(constants.JOB_STATUSES)}"
            )
        _note_job_id(state, data, outputs)
        if data.get("job_status") != status:
            _job_event(self.task_ctx, events.JOB_STATE_CHANGED, status, state)
        data["job_status"] = status
        if status == constants.JOB_UNKNOWN:
            # The executor's own name of the state, for people (mc show):
            # polled on, until the executor knows it or fails the job.
            data["unknown_state"] = str(outputs.get("unknown_state") or "?")
        else:
            data.pop("unknown_state", None)
        if status in constants.JOB_UNFINISHED:
            return
        if status == constants.JOB_LOST:
            if outputs.get("resubmit", True) is False:
                # It may have run: only the task's retries may run it again.
                _fail(
                    self.task,
                    f"job lost by executor {state['executor']!r}: {outputs.get('error', '')}; "
                    "not submitted again, as it may have run (the task's retries decide)",
                )
            elif state["submissions"] >= constants.MAX_SUBMISSIONS:
                _fail(
                    self.task,
                    f"job lost by executor {state['executor']!r} after "
                    f"{state['submissions']} submissions: {outputs.get('error', '')}",
                )
            else:
                self._submit(executor)
            return
        data["exit_status"] = outputs.get("exit_status")
        ended = {
            **self._submission_provenance(),
            "finished_at": time.time(),
            "job_status": status,
            "exit_status": data["exit_status"],
        }
        if state.get("job_id"):
            ended["job_id"] = state["job_id"]
        record_job_provenance(state["job_dir"], **ended)
        if status == constants.JOB_COMPLETED:
            if "parsed_outputs" in outputs:
                data["outputs"] = outputs["parsed_outputs"]
            else:
                data["outputs"] = self._parse(state["job_dir"])
            self.task["status"] = COMPLETED
            return
        _fail(self.task, self._failure_message(state, outputs))

    @classmethod
    def cancel_task(cls, task_ctx: TaskCtx) -> None:
        """Cancel the task's job through its executor, if this handler submitted it.

        Only the handle in ``task['job']`` counts; the executor checks it
        too, and refuses a job it did not submit.
        """
        state = task_ctx["task"].get("job")
        if isinstance(state, dict) and "handle" in state and "executor" in state:
            _job_executor(task_ctx, state["executor"]).cancel(state["handle"])

    def _state(self) -> dict[str, Any]:
        state = self.task.get("job")
        if not isinstance(state, dict) or not {
            "executor",
            "job_dir",
            "handle",
            "submissions",
        } <= set(state):
            raise JobError(
                f"task {self.task['key']!r}: no job handle in task['job'] "
                "(only the job task writes it); the job's state is lost"
            )
        return state

    def _executor(self, name: object) -> Executor:
        return _job_executor(self.task_ctx, name)

    def _output_dir(self, params: Mapping[str, Any], executor: str | None = None) -> str:
        """The directory the job dir is built in: the spec's ``job_dir``, checked, or a new one.

        ``executor`` names the executor (or profile) whose jobs root applies.
        """
        policy = job_policy(self.task_ctx)
        if params.get("job_dir") is not None:
            return policy.spec_job_dir(
                params["job_dir"], self.task_ctx, f"task {self.task['key']!r}", executor
            )
        return self._default_job_dir(policy.jobs_root(self.task_ctx, executor))

    def _default_job_dir(self, root: str) -> str:
        flow = self.task_ctx.get("flow")
        flow_key = flow.key if flow is not None else "no_flow"
        base = Path(root) / safe_file_name(flow_key) / safe_file_name(self.task["key"])
        candidate, number = base, 1
        # A flow run again under the same key gets new job dirs, never old ones.
        while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
            number += 1
            candidate = base.with_name(f"{base.name}.{number}")
        resolved = os.path.realpath(candidate)
        if os.path.commonpath([resolved, root]) != root:
            raise JobError(
                f"task {self.task['key']!r}: job dir {str(candidate)!r} "
                "leads out of the jobs root through a symlink"
            )
        return resolved

    def _submit(self, executor: Executor) -> None:
        state, data = self.task["job"], self.task["data"]
        attempt = 1 + len(self.task.get("attempts") or [])
        resources = resources_for_attempt(
            self.task["task_params"].get("resources"),
            attempt,
            f"task {self.task['key']!r}: task_params.resources",
        )
        handle = _submit_job(
            self.task_ctx, self.task, executor, state["job_dir"], resources, state["submissions"]
        )
        try:
            json.dumps(handle)
        except (TypeError, ValueError) as error:
            raise ExecutorError(
                f"executor {state['executor']!r} returned a handle that is not JSON: {error}"
            ) from None
        state["handle"] = handle
        state["submissions"] += 1
        # A job submitted again is a new job: its old id no longer names it.
        state.pop("job_id", None)
        data.pop("job_id", None)
        _note_job_id(state, data, {})
        data["submissions"] = state["submissions"]
        data["job_status"] = constants.JOB_QUEUED
        state["submitted_at"] = time.time()
        state["resources_override"] = resources
        _job_event(self.task_ctx, events.JOB_SUBMITTED, constants.JOB_QUEUED, state)
        # The job dir learns of its submission when the job ends (with the
        # end), or now if the handle names the job by an id of the executor's
        # (a SLURM job id, a Dask key) that the job dir does not hold: a
        # rewrite of job.json costs a new file. A handle with nothing but the
        # job dir and its token (a local job) adds nothing to read meanwhile;
        # the job dir already names its executor, flow and task.
        if _handle_job_id(handle) is not None or state["submissions"] > 1:
            record_job_provenance(state["job_dir"], **self._submission_provenance())

    def _owner_provenance(self) -> dict[str, Any]:
        """The flow and task a job dir is built for, for its ``job.json``."""
        return {
            "flow_key": getattr(self.task_ctx.get("flow"), "key", None),
            "task_key": self.task["key"],
        }

    def _submission_provenance(self) -> dict[str, Any]:
        """What ``job.json`` records of the job's (last) submission."""
        state = self.task["job"]
        handle = state.get("handle")
        record = {
            "executor": state["executor"],
            "job_handle": {k: v for k, v in handle.items() if k != "token"}
            if isinstance(handle, Mapping)
            else handle,
            "job_id": _handle_job_id(handle),
            **self._owner_provenance(),
        }
        # A job submitted by an older MissionControl recorded these in its
        # job.json at submit, and its task['job'] lacks them: kept as they are.
        if "submitted_at" in state:
            record["submitted_at"] = state["submitted_at"]
            record["resources_override"] = state.get("resources_override")
        return record

    def _parse(self, job_dir: str) -> Any:
        meta = read_job_meta(job_dir)
        job_types = _job_types(self.task_ctx)
        module = job_types.resolve(meta["job_type"], _engine(self.task_ctx).allow_imports)
        parse = getattr(module, "parse_work_dir", None)
        if parse is None:
            return {}
        outputs = parse(str(Path(job_dir) / constants.WORK_DIR_NAME))
        try:
            json.dumps(outputs)
        except (TypeError, ValueError) as error:
            raise JobError(
                f"job {meta['key']!r}: parse_work_dir returned outputs that are not JSON: {error}"
            ) from None
        return outputs

    def _failure_message(self, state: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
        # The last line is the flow's one-line summary of the failure, so it
        # names the exit status and the last line of stderr.
        parts = [f"job {self.task['key']!r} failed on executor {state['executor']!r}"]
        if outputs.get("exit_status") is not None:
            parts.append(f"exit status {outputs['exit_status']}")
        if outputs.get("error"):
            parts.append(str(outputs["error"]))
        tail = stderr_tail(state["job_dir"])
        if not tail:
            return "; ".join(parts)
        parts.append(f"stderr: {tail.splitlines()[-1]}")
        return f"stderr (last lines, in {state['job_dir']}):\n{tail}\n" + "; ".join(parts)


class CallTaskHandler(BaseTaskHandler):
    """Runs a Python callable through a call executor.

    The callable's result goes to ``task['data']['result']``.

    For caching (see :mod:`mc.flows.cache`): the ``executor`` is left out
    of the cache key, and the function's import path and source hash are
    put in.
    """

    cache_ignored_params = ("executor",)

    @classmethod
    def code_identity(cls, task_ctx: TaskCtx) -> dict[str, Any]:
        """Return the function's import path and the SHA-256 of its source."""
        handler = cls(task_ctx)
        fn = handler._resolve_fn((task_ctx["task"].get("task_params") or {}).get("fn"))
        return {"fn": import_path(fn), "source_sha256": function_source_sha256(fn)}

    @classmethod
    def run_record(cls, task_ctx: TaskCtx) -> dict[str, Any]:
        """Return the call executor that ran the call."""
        return {"executor": (task_ctx["task"].get("data") or {}).get("executor")}

    @_failing_on_mc_errors
    def initial_tick(self) -> None:
        """Resolve ``fn``, check ``args``/``kwargs`` and submit the call."""
        params = _check_params(self.task, _CALL_PARAMS, "call")
        if params.get("executor") is not None:
            name = job_policy(self.task_ctx).check_executor(
                params["executor"], self.task_ctx, f"task {self.task['key']!r}"
            )
        else:
            name = constants.DEFAULT_CALL_EXECUTOR
        executor = _engine(self.task_ctx).get_executor(name)
        if not can_run_calls(executor) and can_run_jobs(executor):
            self.task["call"] = {"executor": name, "submissions": 0, "as_job": True}
            _CallAsJob(self.task_ctx).start(name, self._resolve_fn(params.get("fn")))
            return
        self.task["call"] = {"executor": name, "submissions": 0}
        self.task["data"].update(executor=name, submissions=0)
        self._submit()
        self._poll()

    @_failing_on_mc_errors
    def intermediate_tick(self) -> None:
        """Poll the call; run it again if its executor lost it."""
        if self._state().get("as_job"):
            _CallAsJob(self.task_ctx).intermediate_tick()
            return
        self._poll()

    @classmethod
    def cancel_task(cls, task_ctx: TaskCtx) -> None:
        """Cancel the task's call through its executor, if it has not ended.

        A call that has not started yet never runs; one already running in a
        thread or a process runs to its end (Python cannot stop it).
        """
        state = task_ctx["task"].get("call")
        if isinstance(state, dict) and state.get("as_job"):
            JobTaskHandler.cancel_task(task_ctx)
        elif isinstance(state, dict) and "handle" in state and "executor" in state:
            _call_executor(task_ctx, state["executor"]).cancel_call(state["handle"])

    def _submit(self) -> None:
        params = self.task["task_params"]
        args = params.get("args", [])
        kwargs = params.get("kwargs", {})
        key = self.task["key"]
        if not isinstance(args, list):
            raise JobError(
                f"task {key!r}: task_params.args must be a list, got {type(args).__name__}"
            )
        if not isinstance(kwargs, Mapping) or not all(isinstance(name, str) for name in kwargs):
            raise JobError(f"task {key!r}: task_params.kwargs must be a mapping of names")
        fn = self._resolve_fn(params.get("fn"))
        state = self._state()
        state["handle"] = self._executor().submit_call(fn, args, dict(kwargs))
        state["submissions"] += 1
        self.task["data"]["submissions"] = state["submissions"]

    def _state(self) -> dict[str, Any]:
        state = self.task.get("call")
        if not isinstance(state, dict) or not {"executor", "submissions"} <= set(state):
            raise JobError(
                f"task {self.task['key']!r}: no call handle in task['call'] "
                "(only the call task writes it); the call's state is lost"
            )
        return state

    def _poll(self) -> None:
        state, data = self._state(), self.task["data"]
        status, outputs = self._executor().poll_call(state["handle"])
        if status in constants.JOB_UNFINISHED:
            return
        if status == constants.JOB_LOST:
            if state["submissions"] >= constants.MAX_SUBMISSIONS:
                _fail(
                    self.task,
                    f"call lost by executor {state['executor']!r} {state['submissions']} times",
                )
            else:
                self._submit()
            return
        state.pop("handle", None)
        if status == constants.JOB_COMPLETED:
            try:
                data["result"] = json.loads(json.dumps(outputs.get("result"), allow_nan=False))
            except (TypeError, ValueError) as error:
                _fail(
                    self.task,
                    f"task {self.task['key']!r}: "
                    f"the call returned a value that is not JSON: {error}",
                )
                return
            self.task["status"] = COMPLETED
        else:
            _fail(self.task, str(outputs.get("error") or "the call failed"))

    def _executor(self) -> CallExecutor:
        return _call_executor(self.task_ctx, self._state()["executor"])

    def _resolve_fn(self, path: Any) -> Callable[..., Any]:
        key = self.task["key"]
        if not isinstance(path, str) or not path:
            raise JobError(
                f"task {key!r}: task_params.fn must be a name or 'module:qualname', got {path!r}"
            )
        in_ctx = self.task_ctx.get("callables") or {}
        if path in in_ctx:
            fn: Callable[..., Any] = in_ctx[path]
            return fn
        engine = _engine(self.task_ctx)
        registry = engine.callables or default_callables
        found = registry.lookup(path, engine.allow_imports)
        if found is not None:
            return found
        raise ExecutorError(f"task {key!r}: {registry.unknown(path, also=in_ctx)}")


class _CallAsJob(JobTaskHandler):
    """A ``call`` task's function run as a job on a job executor (see :mod:`mc.jobs.call_job`).

    The job's state lives in ``task['job']``, as for a ``job`` task; its
    result lands in ``task['data']['result']``.
    """

    def start(self, executor_name: str, fn: Callable[..., Any]) -> None:
        """Build the call's job dir and submit it."""
        from mc.jobs.call_job import CallJob, import_path

        task, params = self.task, self.task["task_params"]
        args, kwargs = params.get("args", []), params.get("kwargs", {})
        if not isinstance(args, list):
            raise JobError(
                f"task {task['key']!r}: task_params.args must be a list, got {type(args).__name__}"
            )
        if not isinstance(kwargs, Mapping) or not all(isinstance(name, str) for name in kwargs):
            raise JobError(f"task {task['key']!r}: task_params.kwargs must be a mapping of names")
        try:
            json.dumps([args, kwargs], allow_nan=False)
        except (TypeError, ValueError) as error:
            raise JobError(
                f"task {task['key']!r}: a call run as a job takes JSON arguments: {error}"
            ) from None
        policy = job_policy(self.task_ctx)
        job = {
            "key": task["key"],
            "job_type": "mc_call",
            "job_params": {
                "function": import_path(fn, task["key"]),
                "args": args,
                "kwargs": dict(kwargs),
            },
        }
        output_dir = self._default_job_dir(policy.jobs_root(self.task_ctx, executor_name))
        job_dir = build_job_dir(job, output_dir, JobTypeRegistry({"mc_call": CallJob}))
        task["job"] = {"executor": executor_name, "job_dir": job_dir, "submissions": 0}
        task["data"].update(executor=executor_name, job_dir=job_dir, submissions=0)
        self._submit(self._executor(executor_name))

    def intermediate_tick(self) -> None:
        """Poll the job; on success, its result becomes ``task['data']['result']``."""
        super().intermediate_tick()
        if self.task["status"] == COMPLETED:
            self.task["data"]["result"] = (self.task["data"].pop("outputs", None) or {}).get(
                "result"
            )

    def _submit(self, executor: Executor) -> None:
        # A call has no resources of its own: the executor's defaults hold.
        state, data = self.task["job"], self.task["data"]
        handle = _submit_job(
            self.task_ctx, self.task, executor, state["job_dir"], None, state["submissions"]
        )
        state["handle"] = handle
        state["submissions"] += 1
        state["submitted_at"] = time.time()
        data["submissions"] = state["submissions"]
        data["job_status"] = constants.JOB_QUEUED
        _job_event(self.task_ctx, events.JOB_SUBMITTED, constants.JOB_QUEUED, state)

    def _parse(self, job_dir: str) -> Any:
        from mc.jobs.call_job import CallJob

        return CallJob.parse_work_dir(str(Path(job_dir) / constants.WORK_DIR_NAME))
