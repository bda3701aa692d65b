"""`call` tasks on job executors: the function runs as a job, JSON in and out.

On the real SLURM cluster and the local executor.
"""

from __future__ import annotations

import json
from pathlib import Path

from mc.flows import COMPLETED, FAILED, FlowEngine
from mc.jobs.executors.slurm import SlurmExecutor

POINTS = [{"outputs": {"x": x, "y": (x - 1) ** 2}} for x in (-1, 0, 1, 2)]


def call_spec(fn, args, executor):
    return {
        "tasks": [
            {
                "key": "analyse",
                "task_type": "call",
                "task_params": {"fn": fn, "args": args, "executor": executor},
            }
        ]
    }


def run(engine, spec, task_ctx):
    flow = engine.flow_spec_to_flow(spec)
    try:
        engine.run_flow(flow, task_ctx, poll_interval_s=0.05)
    except Exception:  # a FAILED flow raises; the test reads the task
        pass
    return flow.tasks["analyse"]


def test_a_call_runs_on_slurm_as_a_job(task_ctx, slurm_cluster):
    engine = FlowEngine(
        executors={"slurm": SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)}
    )
    task = run(engine, call_spec("example_sweep_minimum", [POINTS], "slurm"), task_ctx)
    assert task["status"] == COMPLETED, task.get("error")
    assert task["data"]["result"]["summary"] == "minimum y = 0 at x = 1, over 4 points"
    work_dir = Path(task["job"]["job_dir"], "work_dir")
    assert (
        json.loads((work_dir / "call.json").read_text())["function"]
        == "mc.jobs.examples.sweep_analysis:find_minimum"
    )
    assert list(Path(task["job"]["job_dir"]).glob("slurm-*.out"))


def test_a_call_that_raises_fails_with_its_traceback(task_ctx):
    engine = FlowEngine()
    task = run(engine, call_spec("example_sweep_minimum", [[]], "local"), task_ctx)
    assert task["status"] == FAILED
    assert "ValueError: find_minimum: the sweep has no results" in task["error"]


def test_a_function_without_an_import_path_cannot_run_as_a_job(task_ctx):
    task = run(
        FlowEngine(),
        call_spec("anonymous", [], "local"),
        {**task_ctx, "callables": {"anonymous": lambda: 1}},
    )
    assert task["status"] == FAILED
    assert "the function cannot run as a job: it has no import path" in task["error"]


def test_arguments_that_are_not_a_list_are_refused_before_anything_runs(task_ctx, jobs_root):
    task = run(
        FlowEngine(), call_spec("example_sweep_minimum", {"not": "a list"}, "local"), task_ctx
    )
    assert task["status"] == FAILED
    assert "task_params.args must be a list, got dict" in task["error"]
    assert not any(jobs_root.iterdir())
