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
    flow key leads out of the jobs root). The first tick builds the job dir
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
    (in ``task['job']`` for a call run as a job). A JSON-able return value lands in ``task['data']['result']``.
    A call whose process dies is run again after a restart: at least once.
    :meth:`CallTaskHandler.cancel_task` cancels a call that has not started.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast, overload

from mc.errors import ExecutorError, JobError, MCError
from mc.flows import events
from mc.flows.flow_engine import FlowEngine, get_default_engine
from mc.flows.plugins import (
    AnyExecutor,
    CallExecutor,
    Executor,
    can_run_calls,
    can_run_jobs,
)
from mc.flows.registry import Registry
from mc.flows.statuses import COMPLETED as TASK_COMPLETED
from mc.flows.statuses import FAILED as TASK_FAILED
from mc.flows.task_handler import BaseTaskHandler, TaskCtx
from mc.jobs import constants
from mc.jobs.job_dir import build_job_dir, read_job_meta, stderr_tail
from mc.jobs.job_modules import JobTypeRegistry, default_job_types
from mc.jobs.policy import job_policy
from mc.jobs.retry_resources import resources_for_attempt

CALLABLES_ENTRY_POINT_GROUP = "mc.callables"
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
            CALLABLES_ENTRY_POINT_GROUP,
            items=callables,
            allow_imports=allow_imports,
            listed_as="registered",
            unknown_hint="; or 'module:qualname' under allow_imports",
        )


default_callables = CallableRegistry()
"""The callables ``call`` tasks may name when their engine has no registry of its own.

It is shared, as the default engine is: :func:`register_callable` fills it.
"""

CallableT = TypeVar("CallableT", bound=Callable[..., Any])


@overload
def register_callable(
    name: str, fn: None = None, replace: bool = False
) -> Callable[[CallableT], CallableT]: ...


@overload
def register_callable(name: str, fn: CallableT, replace: bool = False) -> CallableT: ...


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


def _path_component(key: str) -> str:
    """Return ``key`` as one safe directory name: no separators, no leading dot.

    Flow keys are any string, so a key such as ``'../x'`` or ``'/etc'`` must
    not lead a job dir out of the jobs root. Characters other than letters,
    digits, ``_``, ``-`` and ``.`` become ``_``, as does a leading dot.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(key))
    return re.sub(r"^\.", "_", safe) or "_"


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
    task["status"] = TASK_FAILED
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


def _job_event(task_ctx: TaskCtx, name: str, status: str, data: Mapping[str, Any]) -> None:
    """Tell the engine's event callback about the job of the task being ticked."""
    engine = task_ctx.get("flow_engine")
    if engine is None or getattr(engine, "on_event", None) is None:
        return
    handle = data.get("handle")
    job_id = handle.get("job_id") if isinstance(handle, Mapping) else handle
    engine.emit_task_event(
        name,
        status,
        executor=data.get("executor"),
        job_id=None if job_id is None else str(job_id),
        job_dir=data.get("job_dir"),
    )


class JobTaskHandler(BaseTaskHandler):
    """Builds a job dir, submits it to an executor, polls it, and parses its outputs.

    The handle of the submitted job lives in ``task['job']`` (``executor``,
    ``job_dir``, ``handle``, ``submissions``), a field of the task dict that
    no spec and no wiring can write: only this handler does. ``task['data']``
    gets copies for reading (``executor``, ``job_dir``, ``submissions``,
    ``job_status``, ``exit_status``, ``outputs``), which are never read back.
    """

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
        if params.get("job_dir") is not None:
            output_dir = policy.spec_job_dir(params["job_dir"], self.task_ctx, where, executor_name)
        else:
            output_dir = self._default_job_dir(policy.jobs_root(self.task_ctx, executor_name))
        job_dir = build_job_dir(job, output_dir, job_types, _engine(self.task_ctx).allow_imports)
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
        if data.get("job_status") != status:
            _job_event(self.task_ctx, events.JOB_STATE_CHANGED, status, data)
        data["job_status"] = status
        if status in (constants.QUEUED, constants.RUNNING):
            return
        if status == constants.LOST:
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
        if status == constants.COMPLETED:
            if "parsed_outputs" in outputs:
                data["outputs"] = outputs["parsed_outputs"]
            else:
                data["outputs"] = self._parse(state["job_dir"])
            self.task["status"] = TASK_COMPLETED
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
                f"task {self.task['key']!r}: no job handle in task['job'] (only the job task writes it); "
                "the job's state is lost"
            )
        return state

    def _executor(self, name: object) -> Executor:
        return _job_executor(self.task_ctx, name)

    def _default_job_dir(self, root: str) -> str:
        flow = self.task_ctx.get("flow")
        flow_key = flow.key if flow is not None else "no_flow"
        base = Path(root) / _path_component(flow_key) / _path_component(self.task["key"])
        candidate, number = base, 1
        # A flow run again under the same key gets new job dirs, never old ones.
        while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
            number += 1
            candidate = base.with_name(f"{base.name}.{number}")
        resolved = os.path.realpath(candidate)
        if os.path.commonpath([resolved, root]) != root:
            raise JobError(
                f"task {self.task['key']!r}: job dir {str(candidate)!r} leads out of the jobs root through a symlink"
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
        handle = executor.submit(state["job_dir"], resources)
        try:
            json.dumps(handle)
        except (TypeError, ValueError) as error:
            raise ExecutorError(
                f"executor {state['executor']!r} returned a handle that is not JSON: {error}"
            ) from None
        state["handle"] = handle
        state["submissions"] += 1
        data["submissions"] = state["submissions"]
        data["job_status"] = constants.QUEUED
        _job_event(self.task_ctx, events.JOB_SUBMITTED, constants.QUEUED, data)

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
    """Runs a Python callable through a call executor; its result goes to ``task['data']['result']``."""

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
                f"task {self.task['key']!r}: no call handle in task['call'] (only the call task writes it); "
                "the call's state is lost"
            )
        return state

    def _poll(self) -> None:
        state, data = self._state(), self.task["data"]
        status, outputs = self._executor().poll_call(state["handle"])
        if status in (constants.QUEUED, constants.RUNNING):
            return
        if status == constants.LOST:
            if state["submissions"] >= constants.MAX_SUBMISSIONS:
                _fail(
                    self.task,
                    f"call lost by executor {state['executor']!r} {state['submissions']} times",
                )
            else:
                self._submit()
            return
        state.pop("handle", None)
        if status == constants.COMPLETED:
            try:
                data["result"] = json.loads(json.dumps(outputs.get("result"), allow_nan=False))
            except (TypeError, ValueError) as error:
                _fail(
                    self.task,
                    f"task {self.task['key']!r}: the call returned a value that is not JSON: {error}",
                )
                return
            self.task["status"] = TASK_COMPLETED
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
        if self.task["status"] == TASK_COMPLETED:
            self.task["data"]["result"] = (self.task["data"].pop("outputs", None) or {}).get(
                "result"
            )

    def _submit(self, executor: Executor) -> None:
        # A call has no resources of its own: the executor's defaults hold.
        state, data = self.task["job"], self.task["data"]
        handle = executor.submit(state["job_dir"], None)
        state["handle"] = handle
        state["submissions"] += 1
        data["submissions"] = state["submissions"]
        data["job_status"] = constants.QUEUED
        _job_event(self.task_ctx, events.JOB_SUBMITTED, constants.QUEUED, data)

    def _parse(self, job_dir: str) -> Any:
        from mc.jobs.call_job import CallJob

        return CallJob.parse_work_dir(str(Path(job_dir) / constants.WORK_DIR_NAME))
