"""Job events: a ``job`` task tells its submission and each new state of its job."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mc.flows import FlowEngine


def test_a_local_job_in_a_spread_tells_submitted_then_its_states(task_ctx, clock):
    seen = []
    engine = FlowEngine(clock=clock, on_event=seen.append)
    spec = {
        "key": "jobs",
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {
                    "items": ["sleep 0.3; echo done"],
                    "mapping_params": {
                        "skeleton": {
                            "key": "run",
                            "task_type": "job",
                            "task_params": {"job_type": "shell", "executor": "local"},
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.command"],
                    },
                },
            }
        ],
    }
    flow = engine.flow_spec_to_flow(spec)
    with engine:
        for _ in range(500):
            engine.tick_flow(flow, task_ctx)
            if flow.finished:
                break
            time.sleep(0.01)
    job_events = [e for e in seen if e.event.startswith("job_")]
    assert [(e.event, e.task_key) for e in job_events][0] == ("job_submitted", "sweep/run_0")
    assert [e.status for e in job_events][-1] == "COMPLETED"
    assert [e.status for e in job_events] in (
        ["QUEUED", "RUNNING", "COMPLETED"],
        ["QUEUED", "COMPLETED"],
    )
    submitted = job_events[0]
    assert submitted.executor == "local"
    child = flow.tasks["sweep"]["proxied_task"]["data"]["flow"]
    assert submitted.job_dir == child["tasks"]["run_0"]["data"]["job_dir"]


def run_watched(engine, spec, task_ctx, seen):
    flow = engine.flow_spec_to_flow(spec)
    with engine:
        for _ in range(3000):
            engine.tick_flow(flow, task_ctx)
            if flow.finished:
                break
            time.sleep(0.02)
    assert flow.status == "COMPLETED", flow.tasks
    return flow


def test_a_local_jobs_process_id_is_its_job_id_in_events_the_tree_and_provenance(task_ctx, clock):
    from mc.flows.tree import build_flow_tree

    seen = []
    engine = FlowEngine(clock=clock, on_event=seen.append)
    spec = {
        "key": "local-ids",
        "tasks": [
            {
                "key": "run",
                "task_type": "job",
                "task_params": {
                    "job_type": "shell",
                    "executor": "local",
                    "job_params": {"command": "sleep 0.5"},
                },
            }
        ],
    }
    flow = run_watched(engine, spec, task_ctx, seen)
    job_dir = Path(flow.tasks["run"]["job"]["job_dir"])
    pid = (job_dir / "local.pid").read_text().split()[0]
    running = [e for e in seen if e.event == "job_state_changed" and e.status == "RUNNING"]
    assert [e.job_id for e in running] == [pid]
    assert build_flow_tree(flow.to_flow_dict()).find("run").job_id == pid
    assert flow.tasks["run"]["provenance"]["run"]["job_id"] == pid
    meta = json.loads((job_dir / "job.json").read_text())
    assert meta["provenance"]["job_id"] == pid


def test_a_slurm_jobs_id_is_told_on_submission_and_shown_in_the_tree(
    task_ctx, clock, slurm_cluster
):
    from mc.flows.tree import build_flow_tree
    from mc.jobs.executors.slurm import SlurmExecutor

    seen = []
    engine = FlowEngine(
        clock=clock,
        on_event=seen.append,
        executors={"slurm": SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)},
    )
    spec = {
        "key": "slurm-ids",
        "tasks": [
            {
                "key": "run",
                "task_type": "job",
                "task_params": {"job_type": "shell", "job_params": {"command": "true"}},
            }
        ],
    }
    flow = run_watched(engine, spec, {**task_ctx, "default_executor": "slurm"}, seen)
    job_id = flow.tasks["run"]["job"]["handle"]["job_id"]
    submitted = next(e for e in seen if e.event == "job_submitted")
    assert (submitted.executor, submitted.job_id) == ("slurm", job_id)
    assert all(e.job_id == job_id for e in seen if e.event.startswith("job_"))
    assert build_flow_tree(flow.to_flow_dict()).find("run").job_id == job_id
