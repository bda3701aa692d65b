"""The ``job`` and ``call`` task types, in flows, on the local and prebaked executors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mc.flows import COMPLETED, FAILED, RUNNING, Flow, FlowEngine
from mc.flows.tree import build_flow_tree
from mc.jobs.executors.calls import ThreadsExecutor
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.executors.prebaked import PrebakedExecutor
from mc.jobs.task_types import default_callables, register_callable
from tests.jobs.conftest import POLYNOMIAL, process_ended


def job_task(key="job", job_type="shell", **params):
    return {
        "key": key,
        "task_type": "job",
        "task_params": {"job_type": job_type, **params},
        "precursors": ["ROOT"],
    }


def shell_task(command, key="job", **params):
    return job_task(key, "shell", job_params={"command": command}, **params)


def call_task(fn, key="call", **params):
    return {"key": key, "task_type": "call", "task_params": {"fn": fn, **params}}


def run(engine, tasks, task_ctx, key="flow", max_ticks=2000):
    flow = engine.flow_spec_to_flow({"key": key, "cfg": {"fail_fast": False}, "tasks": tasks})
    for _ in range(max_ticks):
        engine.tick_flow(flow, task_ctx)
        if flow.finished:
            return flow
        time.sleep(0.01)
    raise AssertionError(f"flow did not end: {flow.to_flow_dict()}")


def round_trip(flow):
    return Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))


# -- job ----------------------------------------------------------------------


def test_job_outputs_and_job_dir_land_in_task_data(jobs_engine, task_ctx):
    flow = run(jobs_engine, [job_task(job_type="polynomial", job_params={"x": 3})], task_ctx)
    data = flow.tasks["job"]["data"]
    assert flow.tasks["job"]["status"] == COMPLETED
    assert data["outputs"] == {"x": 3, "y": 9}
    assert data["job_dir"] == os.path.join(task_ctx["jobs_root"], "flow", "job")
    assert data["exit_status"] == 0


def test_job_type_as_a_module_path_needs_allow_imports(task_ctx):
    engine = FlowEngine()
    flow = run(engine, [job_task(job_type=POLYNOMIAL, job_params={"x": 1})], task_ctx)
    assert flow.tasks["job"]["status"] == FAILED
    assert (
        "job_type 'mc.jobs.examples.polynomial' names code to import" in flow.tasks["job"]["error"]
    )


def test_job_type_as_a_module_path_under_allow_imports_runs(jobs_engine, task_ctx):
    flow = run(jobs_engine, [job_task(job_type=POLYNOMIAL, job_params={"x": 2})], task_ctx)
    assert flow.tasks["job"]["data"]["outputs"] == {"x": 2, "y": 4}


def test_failed_job_error_holds_exit_status_and_stderr_tail(jobs_engine, task_ctx):
    flow = run(jobs_engine, [shell_task("echo first >&2; echo 'bad input' >&2; exit 9")], task_ctx)
    task = flow.tasks["job"]
    assert task["status"] == FAILED
    assert "first\nbad input" in task["error"]
    assert task["error"].splitlines()[-1] == (
        "job 'job' failed on executor 'local'; exit status 9; stderr: bad input"
    )
    assert flow.data["errors"] == [
        "task 'job' (job): job 'job' failed on executor 'local'; exit status 9; stderr: bad input"
    ]


def test_missing_required_setting_fails_the_task_naming_it(jobs_engine, task_ctx, monkeypatch):
    monkeypatch.delenv("CHEM_LIB_EXE", raising=False)
    spec = {"chem_lib_executable": {"required": True, "env_var": "CHEM_LIB_EXE"}}
    flow = run(
        jobs_engine, [job_task(job_params={"command": "true", "config_spec": spec})], task_ctx
    )
    assert "needs the setting 'chem_lib_executable'" in flow.tasks["job"]["error"]
    assert not Path(flow.tasks["job"]["data"]["job_dir"], "exit_status").exists()


def test_executor_config_fulfils_the_config_spec(task_ctx):
    engine = FlowEngine(
        executors={"local": LocalExecutor(config={"chem_lib_executable": "/opt/chem"})}
    )
    spec = {"chem_lib_executable": {"required": True, "env_var": "CHEM_LIB_EXE"}}
    command = 'echo "$CHEM_LIB_EXE" > out.txt'
    flow = run(engine, [job_task(job_params={"command": command, "config_spec": spec})], task_ctx)
    assert flow.tasks["job"]["data"]["outputs"] == {"out": "/opt/chem"}


def test_task_ctx_default_executor_applies_when_the_task_names_none(task_ctx):
    from mc.jobs.executors.prebaked import PrebakedExecutor

    prebaked = PrebakedExecutor({"shell": {"outputs": {"out": "canned"}}})
    engine = FlowEngine(executors={"prebaked": prebaked})
    flow = run(engine, [shell_task("exit 1")], {**task_ctx, "default_executor": "prebaked"})
    assert flow.tasks["job"]["data"]["outputs"] == {"out": "canned"}


def test_unknown_executor_fails_the_task_listing_known_ones(jobs_engine, task_ctx):
    flow = run(jobs_engine, [shell_task("true", executor="slrum")], task_ctx)
    assert "unknown executor 'slrum' (known: " in flow.tasks["job"]["error"]
    assert "did you mean 'slurm'?" in flow.tasks["job"]["error"]


def test_call_executor_cannot_run_jobs(jobs_engine, task_ctx):
    flow = run(jobs_engine, [shell_task("true", executor="threads")], task_ctx)
    assert "executor 'threads' cannot run jobs" in flow.tasks["job"]["error"]


def test_unknown_task_params_are_refused(jobs_engine, task_ctx):
    flow = run(jobs_engine, [shell_task("true", job_parms={})], task_ctx)
    assert "unknown task_params ['job_parms'] for a job task" in flow.tasks["job"]["error"]


def test_bad_task_resources_fail_the_task_naming_the_resource(jobs_engine, task_ctx):
    flow = run(jobs_engine, [shell_task("true", resources={"cores": -1})], task_ctx)
    assert (
        "resources.cores: expected a positive number up to 1e+06, got -1"
        in flow.tasks["job"]["error"]
    )


class ResourceRecordingExecutor(PrebakedExecutor):
    """A prebaked executor that keeps the resources each submit settled on."""

    def __init__(self):
        super().__init__({"shell": {"outputs": {}}})
        self.resources = []

    def prepare(self, job_dir, resources):
        merged = super().prepare(job_dir, resources)
        self.resources.append(merged)
        return merged


def test_task_resources_override_the_job_modules(task_ctx):
    executor = ResourceRecordingExecutor()
    engine = FlowEngine(executors={"local": executor})
    task = job_task(
        job_params={"command": "true", "resources": {"cores": 1, "memory_mb": 100}},
        resources={"cores": 4},
    )
    run(engine, [task], task_ctx)
    assert executor.resources == [{"cores": 4, "memory_mb": 100}]


@pytest.mark.parametrize("flow_key", ["../../escaped", "/tmp/absolute", ".hidden", "a/b"])
def test_job_dirs_stay_inside_the_jobs_root_whatever_the_flow_key(task_ctx, flow_key):
    engine = FlowEngine(executors={"local": PrebakedExecutor({"shell": {"outputs": {}}})})
    flow = run(engine, [shell_task("true")], task_ctx, key=flow_key)
    job_dir = Path(flow.tasks["job"]["data"]["job_dir"])
    assert job_dir.resolve().parent.parent == Path(task_ctx["jobs_root"]).resolve()
    assert job_dir.name == "job"


def test_running_a_flow_again_gets_new_job_dirs(jobs_engine, task_ctx):
    first = run(jobs_engine, [shell_task("echo 1 > out.txt")], task_ctx)
    second = run(jobs_engine, [shell_task("echo 2 > out.txt")], task_ctx)
    assert second.tasks["job"]["data"]["job_dir"] == first.tasks["job"]["data"]["job_dir"] + ".2"
    assert first.tasks["job"]["data"]["outputs"] == {"out": "1"}


def test_restarted_runner_reconnects_to_the_job_instead_of_resubmitting(task_ctx, tmp_path):
    runs = tmp_path / "runs.txt"
    command = f"echo ran >> {runs}; sleep 0.3; echo done > out.txt"
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow({"key": "restart", "tasks": [shell_task(command)]})
    engine.tick_flow(flow, task_ctx)
    assert flow.tasks["job"]["job"]["handle"]["job_dir"].endswith("restart/job")
    engine.executor_registry.close()

    restarted = FlowEngine()
    flow = round_trip(flow)
    while not flow.finished:
        restarted.tick_flow(flow, task_ctx)
        flow = round_trip(flow)
        time.sleep(0.02)
    assert flow.tasks["job"]["data"]["outputs"] == {"out": "done"}
    assert flow.tasks["job"]["data"]["submissions"] == 1
    assert runs.read_text() == "ran\n"


def test_job_lost_by_its_executor_is_submitted_again(task_ctx):
    engine = FlowEngine(executors={"local": LocalExecutor(max_jobs=1)})
    flow = engine.flow_spec_to_flow(
        {
            "key": "lost",
            "tasks": [
                shell_task("sleep 0.3", key="first"),
                shell_task("echo again > out.txt", key="second"),
            ],
        }
    )
    engine.tick_flow(flow, task_ctx)
    assert flow.tasks["second"]["data"]["job_status"] == "QUEUED"
    # The runner restarts: the queue of the old executor is gone.
    restarted = FlowEngine(executors={"local": LocalExecutor(max_jobs=1)})
    flow = round_trip(flow)
    for _ in range(500):
        restarted.tick_flow(flow, task_ctx)
        if flow.finished:
            break
        time.sleep(0.02)
    assert flow.status == COMPLETED
    assert flow.tasks["second"]["data"]["submissions"] == 2
    assert flow.tasks["second"]["data"]["outputs"] == {"out": "again"}


def test_cancelling_the_flow_stops_its_running_job(jobs_engine, task_ctx):
    flow = jobs_engine.flow_spec_to_flow(
        {"key": "cancel", "tasks": [shell_task("sleep 30; touch out.txt")]}
    )
    jobs_engine.tick_flow(flow, task_ctx)
    jobs_engine.tick_flow(flow, task_ctx)
    job_dir = flow.tasks["job"]["data"]["job_dir"]
    pid = int(Path(job_dir, "local.pid").read_text().split()[0])
    jobs_engine.cancel_flow(flow, "no longer needed", task_ctx)
    assert flow.tasks["job"]["status"] == FAILED
    assert flow.tasks["job"]["error"] == "cancelled: no longer needed"
    assert process_ended(pid), f"job process {pid} still alive after cancel_flow"
    handle = flow.tasks["job"]["job"]["handle"]
    assert LocalExecutor().poll(handle) == ("FAILED", {"error": "cancelled", "exit_status": None})


def test_job_with_no_engine_ticks_with_the_default_engine(task_ctx):
    from mc.jobs.task_types import JobTaskHandler

    task = {"key": "bare", **shell_task("echo bare > out.txt")}
    task_ctx = {**task_ctx}
    while task.get("status") not in (COMPLETED, FAILED):
        JobTaskHandler.tick_task({**task_ctx, "task": task})
        time.sleep(0.02)
    assert task["data"]["outputs"] == {"out": "bare"}


# -- call ---------------------------------------------------------------------


def test_call_fn_as_an_import_path_under_allow_imports_runs(jobs_engine, tmp_path):
    (tmp_path / "result.json").write_text('{"x": 1, "y": 2}')
    flow = run(
        jobs_engine,
        [call_task("mc.jobs.examples.polynomial:parse_work_dir", args=[str(tmp_path)])],
        {},
    )
    assert flow.tasks["call"]["data"]["result"] == {"x": 1, "y": 2}


def test_call_that_raises_fails_with_its_traceback(jobs_engine):
    flow = run(
        jobs_engine,
        [call_task("mc.jobs.examples.polynomial:parse_work_dir", args=["/nowhere"])],
        {},
    )
    assert "FileNotFoundError" in flow.tasks["call"]["error"]


def test_registered_callable_runs_inline_by_default():
    engine = FlowEngine()
    flow = run(
        engine, [call_task("divide", args=[7, 2])], {"callables": {"divide": lambda a, b: a / b}}
    )
    assert flow.tasks["call"]["data"]["result"] == 3.5
    assert flow.tasks["call"]["data"]["executor"] == "inline"
    assert flow.num_ticks == 1


def test_register_callable_makes_a_name_known_to_every_engine():
    register_callable("test_task_types_double", lambda x: 2 * x)
    try:
        flow = run(FlowEngine(), [call_task("test_task_types_double", args=[21])], {})
        assert flow.tasks["call"]["data"]["result"] == 42
    finally:
        default_callables.pop("test_task_types_double")


def test_call_args_and_kwargs_are_interpolated():
    engine = FlowEngine()
    tasks = [
        {"key": "seed", "task_type": "noop", "data": {"n": "ff"}},
        call_task("parse_int", args=["$ctx.flow.tasks.seed.data.n"], kwargs={"base": 16}),
    ]
    flow = run(engine, tasks, {"callables": {"parse_int": int}})
    assert flow.tasks["call"]["data"]["result"] == 255


def test_fn_import_path_needs_allow_imports():
    flow = run(FlowEngine(), [call_task("os:getcwd")], {})
    assert "fn 'os:getcwd' names code to import" in flow.tasks["call"]["error"]


def test_unknown_fn_name_is_refused_listing_registered_ones():
    flow = run(FlowEngine(), [call_task("rmtree")], {"callables": {"abs": abs}})
    assert (
        "unknown fn 'rmtree' (registered: abs, example_sweep_minimum;"
        in flow.tasks["call"]["error"]
    )


def test_result_that_is_not_json_fails_the_task():
    flow = run(
        FlowEngine(), [call_task("make_set", args=[[1, 2]])], {"callables": {"make_set": set}}
    )
    assert "the call returned a value that is not JSON" in flow.tasks["call"]["error"]


def test_call_on_threads_completes_on_a_later_tick():
    engine = FlowEngine()
    flow = run(
        engine,
        [call_task("nap", executor="threads", args=[0.05])],
        {"callables": {"nap": lambda s: time.sleep(s) or "rested"}},
    )
    engine.executor_registry.close()
    assert flow.tasks["call"]["data"]["result"] == "rested"
    assert flow.num_ticks > 1


def test_call_lost_in_a_restart_is_run_again():
    calls = []

    def record():
        calls.append(1)
        time.sleep(0.1)
        return len(calls)

    ctx = {"callables": {"record": record}}
    first = ThreadsExecutor()
    engine = FlowEngine(executors={"threads": first})
    flow = engine.flow_spec_to_flow(
        {"key": "again", "tasks": [call_task("record", executor="threads")]}
    )
    engine.tick_flow(flow, ctx)
    assert flow.tasks["call"]["status"] == RUNNING
    second = ThreadsExecutor()
    restarted = FlowEngine(executors={"threads": second})
    flow = round_trip(flow)
    try:
        for _ in range(200):
            restarted.tick_flow(flow, ctx)
            if flow.finished:
                break
            time.sleep(0.02)
    finally:
        first.close()
        second.close()
    assert flow.tasks["call"]["data"]["submissions"] == 2
    assert len(calls) == 2


def test_cancelling_the_flow_cancels_a_call_that_has_not_started():
    started = []

    def record(name):
        started.append(name)
        time.sleep(0.2)

    executor = ThreadsExecutor(max_workers=1)
    engine = FlowEngine(executors={"threads": executor})
    flow = engine.flow_spec_to_flow(
        {
            "key": "cancel_calls",
            "tasks": [
                {
                    **call_task("record", key=key, executor="threads", args=[key]),
                    "precursors": ["ROOT"],
                }
                for key in ("first", "second")
            ],
        }
    )
    ctx = {"callables": {"record": record}}
    try:
        engine.tick_flow(flow, ctx)
        engine.cancel_flow(flow, "stop", ctx)
        time.sleep(0.4)  # the first call ends; a second one not cancelled would start
    finally:
        executor.close()
    assert flow.tasks["second"]["error"] == "cancelled: stop"
    assert started == ["first"]


def test_a_job_executor_runs_a_call_as_a_job(tmp_path):
    # It used to refuse; now the function runs as a job (mc.jobs.call_job).
    context = {"callables": {"abs": abs}, "jobs_root": str(tmp_path)}
    flow = run(FlowEngine(), [call_task("abs", executor="local", args=[-1])], context)
    assert (flow.tasks["call"]["status"], flow.tasks["call"]["data"]["result"]) == ("COMPLETED", 1)


class FlakyPollExecutor(LocalExecutor):
    """A local executor whose first ``failures`` polls raise, as an unreachable controller would."""

    def __init__(self, failures):
        super().__init__()
        self.failures = failures

    def poll(self, handle):
        from mc.errors import ExecutorError

        if self.failures:
            self.failures -= 1
            raise ExecutorError("controller unreachable")
        return super().poll(handle)


def test_a_few_failed_polls_do_not_fail_the_job(task_ctx):
    engine = FlowEngine(executors={"local": FlakyPollExecutor(failures=2)})
    flow = run(engine, [shell_task("echo fine > out.txt")], task_ctx)
    assert flow.tasks["job"]["data"]["outputs"] == {"out": "fine"}


def test_many_failed_polls_in_a_row_fail_the_job(task_ctx):
    engine = FlowEngine(executors={"local": FlakyPollExecutor(failures=100)})
    flow = run(engine, [shell_task("true")], task_ctx)
    assert flow.tasks["job"]["error"] == "5 polls in a row failed; the last: controller unreachable"


class UnknownStateExecutor(LocalExecutor):
    """A local executor whose first ``unknown`` polls say the job is in a state it does not know."""

    def __init__(self, unknown):
        super().__init__()
        self.unknown = unknown

    def poll(self, handle):
        if self.unknown:
            self.unknown -= 1
            return "UNKNOWN", {"unknown_state": "TELEPORTING"}
        return super().poll(handle)


def test_a_job_in_an_unknown_state_is_shown_as_such_and_polled_on(task_ctx):
    seen = []
    engine = FlowEngine(executors={"local": UnknownStateExecutor(unknown=3)}, on_event=seen.append)
    flow = engine.flow_spec_to_flow({"key": "flow", "tasks": [shell_task("true")]})
    engine.tick_flow(flow, task_ctx)  # submits
    engine.tick_flow(flow, task_ctx)  # polls: UNKNOWN
    task = flow.tasks["job"]
    assert (task["status"], task["data"]["job_status"], task["data"]["unknown_state"]) == (
        RUNNING,
        "UNKNOWN",
        "TELEPORTING",
    )
    assert [(event.event, event.status) for event in seen if event.event.startswith("job")] == [
        ("job_submitted", "QUEUED"),
        ("job_state_changed", "UNKNOWN"),
    ]
    # mc show and the status page: the status, and SLURM's name of the state.
    assert build_flow_tree(flow.to_flow_dict()).tasks[0].job_status == "UNKNOWN (TELEPORTING)"
    for _ in range(500):
        engine.tick_flow(flow, task_ctx)
        if flow.finished:
            break
        time.sleep(0.01)
    task = flow.tasks["job"]
    assert (task["status"], task["data"]["job_status"]) == (COMPLETED, "COMPLETED")
    assert "unknown_state" not in task["data"]


class OddStatusExecutor(PrebakedExecutor):
    """A job executor that answers polls with a status of its own invention."""

    def poll(self, handle):
        return "DONE", {}


def test_a_poll_status_outside_the_job_statuses_fails_the_task_saying_so(task_ctx):
    engine = FlowEngine(executors={"local": OddStatusExecutor({"shell": {}})})
    flow = run(engine, [shell_task("true")], task_ctx)
    assert flow.tasks["job"]["error"] == (
        "executor 'local' answered a poll with 'DONE'; "
        "expected one of QUEUED, RUNNING, COMPLETED, FAILED, LOST, UNKNOWN"
    )


def test_bad_job_param_fails_the_task_naming_the_param(jobs_engine, task_ctx):
    flow = run(jobs_engine, [job_task(job_type="polynomial", job_params={"x": "two"})], task_ctx)
    assert flow.data["errors"] == [
        "task 'job' (job): ValueError: polynomial job: job_params.x must be a number, got 'two'"
    ]


# -- registries an engine owns ----------------------------------------------------


def test_an_engines_own_callables_are_used_and_reach_no_other_engine():
    from mc.jobs.task_types import CallableRegistry

    engine = FlowEngine(callables=CallableRegistry({"triple": lambda x: 3 * x}))
    flow = run(engine, [call_task("triple", args=[5])], {})
    assert flow.tasks["call"]["data"]["result"] == 15
    other = run(FlowEngine(), [call_task("triple", args=[5])], {})
    assert "unknown fn 'triple'" in other.tasks["call"]["error"]


def test_an_engines_own_job_types_are_used_without_a_task_ctx_registry(jobs_root):
    from mc.jobs.job_modules import JobTypeRegistry
    from tests.jobs.conftest import ShellJob

    engine = FlowEngine(job_types=JobTypeRegistry({"own_shell": ShellJob}))
    task = job_task(job_type="own_shell", job_params={"command": "echo hi > out.txt"})
    flow = run(engine, [task], {"jobs_root": str(jobs_root)})
    assert flow.tasks["job"]["data"]["outputs"] == {"out": "hi"}
    engine.executor_registry.close()


def test_a_running_jobs_job_dir_names_its_executor_flow_and_task(jobs_engine, task_ctx):
    from mc.jobs.job_dir import read_job_meta

    flow = jobs_engine.flow_spec_to_flow({"key": "named", "tasks": [shell_task("sleep 30")]})
    jobs_engine.tick_flow(flow, task_ctx)
    provenance = read_job_meta(flow.tasks["job"]["data"]["job_dir"])["provenance"]
    jobs_engine.cancel_flow(flow, "seen enough", task_ctx)
    assert (provenance["executor"], provenance["flow_key"], provenance["task_key"]) == (
        "local",
        "named",
        "job",
    )
