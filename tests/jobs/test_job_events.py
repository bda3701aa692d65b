"""Job events: a ``job`` task tells its submission and each new state of its job."""

from __future__ import annotations

import time

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
