"""A ``wire`` never writes into the task context's configuration keys.

The callables, job types and policy in a task context are the operator's
objects, shared by every flow the engine runs: a spec that could write into
them would change what every other flow's ``call`` and ``job`` tasks run.
"""

from __future__ import annotations

from mc.flows import FlowEngine
from mc.flows.statuses import COMPLETED, FAILED
from tests.security.conftest import hostile_spec


def greet(name: str) -> str:
    return f"hi {name}"


def test_a_wire_cannot_change_the_operators_callables_or_job_types():
    import mc.jobs  # noqa: F401 (the call task type)

    job_types = {"polynomial": "tests.jobs.examples"}
    ctx = {"callables": {"greet": greet}, "job_types": job_types, "jobs_root": "/scratch/mc_jobs"}
    engine = FlowEngine()
    attacker = engine.flow_spec_to_flow(hostile_spec("wire_into_operator_context.yaml"))
    for _ in range(3):
        engine.tick_flow(attacker, ctx)
    for key in ("break_greet", "add_job_type", "move_jobs_root"):
        task = attacker.tasks[key]
        assert task["status"] == FAILED, task
        assert "is not writable" in task["error"]
    assert ctx == {
        "callables": {"greet": greet},
        "job_types": job_types,
        "jobs_root": "/scratch/mc_jobs",
    }
    victim = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "c", "task_type": "call", "task_params": {"fn": "greet", "args": ["bob"]}}
            ]
        }
    )
    engine.run_flow(victim, ctx)
    assert victim.tasks["c"]["status"] == COMPLETED
    assert victim.tasks["c"]["data"]["result"] == "hi bob"
