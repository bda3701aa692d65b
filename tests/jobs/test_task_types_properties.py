"""Property: a flow of jobs survives any interleaving of ticks, JSON round trips and restarts."""

from __future__ import annotations

import json
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import COMPLETED, Flow, FlowEngine
from mc.jobs.executors.prebaked import PrebakedExecutor

SWEEP_SPEC = {
    "key": "sweep",
    "data": {"xs": [1, 2, 3]},
    "tasks": [
        {
            "key": "sweep",
            "task_type": "spread",
            "task_params": {
                "items": "$ctx.flow.data.xs",
                "mapping_params": {
                    "skeleton": {
                        "key": "square",
                        "task_type": "job",
                        "task_params": {"job_type": "example_polynomial", "job_params": {}},
                    },
                    "wirings": ["ctx.item.value => task_params.job_params.x"],
                },
            },
        },
        {
            "key": "total",
            "task_type": "call",
            "precursors": ["sweep"],
            "task_params": {
                "fn": "total",
                "args": ["$ctx.flow.tasks.sweep.data.results"],
            },
        },
    ],
}


def new_engine(submitted):
    """An engine as a restarted runner makes it: a new prebaked executor, the same canned outputs."""
    executor = PrebakedExecutor(
        {"example_polynomial": {"outputs": lambda p: {"x": p["x"], "y": p["x"] ** 2}}}
    )
    executor.submitted = submitted
    return FlowEngine(executors={"local": executor})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["tick", "round_trip", "restart"]), max_size=30))
def test_jobs_complete_once_whatever_happens_between_ticks(steps):
    submitted = []
    with tempfile.TemporaryDirectory() as jobs_root:
        ctx = {
            "jobs_root": jobs_root,
            "callables": {"total": lambda rs: sum(r["outputs"]["y"] for r in rs)},
        }
        engine = new_engine(submitted)
        flow = engine.flow_spec_to_flow(SWEEP_SPEC)
        for step in [*steps, *["tick"] * 30]:
            if flow.finished:
                break
            if step == "tick":
                engine.tick_flow(flow, ctx)
            elif step == "round_trip":
                flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
            else:
                flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
                engine = new_engine(submitted)
    assert flow.status == COMPLETED
    assert flow.tasks["total"]["data"]["result"] == 1 + 4 + 9
    assert sorted(job["job_params"]["x"] for job in submitted) == [1, 2, 3]
