"""Property tests: any DAG, any failures, any round trips between ticks."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import COMPLETED, FAILED, RUNNING, SKIPPED, Flow, FlowEngine
from tests.conftest import FakeClock


def work(task_ctx):
    """Take task_params['ticks'] ticks, then complete, or raise if 'fail'."""
    task = task_ctx["task"]
    left = task["data"].get("left", task["task_params"]["ticks"])
    if left > 0:
        task["data"]["left"] = left - 1
        return
    if task["task_params"]["fail"]:
        raise RuntimeError(f"{task['key']} failed on purpose")
    task["status"] = COMPLETED


@st.composite
def dag_specs(draw, max_tasks=25):
    """A random DAG spec: each task's precursors come from earlier tasks."""
    n = draw(st.integers(min_value=0, max_value=max_tasks))
    order = draw(st.permutations(range(n)))
    tasks = []
    for position in range(n):
        earlier = [f"t{order[i]}" for i in range(position)]
        precursors = (
            draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        )
        tasks.append(
            {
                "key": f"t{order[position]}",
                "task_type": "work",
                "task_params": {
                    "ticks": draw(st.integers(min_value=0, max_value=3)),
                    "fail": draw(st.booleans()) and draw(st.booleans()),
                },
                "precursors": precursors or ["ROOT"],
            }
        )
    return {"key": "random", "cfg": {"fail_fast": draw(st.booleans())}, "tasks": tasks}


def make_engine() -> tuple[FlowEngine, FakeClock]:
    clock = FakeClock()
    return FlowEngine(task_handlers={"work": work}, clock=clock), clock


def run_to_end(spec, round_trip_at=frozenset(), every_tick=False):
    engine, clock = make_engine()
    flow = engine.flow_spec_to_flow(spec)
    bound = sum(t["task_params"]["ticks"] + 1 for t in spec["tasks"]) + 1
    ticks = 0
    while flow.status not in {COMPLETED, FAILED}:
        engine.tick_flow(flow)
        ticks += 1
        clock.advance(1)
        assert ticks <= bound, "the flow did not terminate"
        if every_tick or ticks in round_trip_at:
            flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
    return flow


@settings(max_examples=150, deadline=None)
@given(dag_specs())
def test_random_dag_ends_and_obeys_the_status_rules(spec):
    flow = run_to_end(spec)
    fail_fast = spec["cfg"]["fail_fast"]
    statuses = {key: task["status"] for key, task in flow.tasks.items()}
    if all(s == COMPLETED for s in statuses.values()):
        assert flow.status == COMPLETED
    else:
        assert flow.status == FAILED
        assert FAILED in statuses.values()
    for key, task in flow.tasks.items():
        precursors = [flow.tasks[p] for p in flow.get_precursors(key)]
        if task["status"] in (COMPLETED, RUNNING, FAILED):
            assert all(p["status"] == COMPLETED for p in precursors)
            assert all(p["finished_at"] < task["started_at"] for p in precursors)
        if task["status"] == FAILED:
            assert task["task_params"]["fail"]
            assert f"{key} failed on purpose" in task["error"]
        if task["status"] == SKIPPED:
            assert any(p["status"] in (FAILED, SKIPPED) for p in precursors)
    if not fail_fast:
        assert all(s in (COMPLETED, FAILED, SKIPPED) for s in statuses.values())
    if fail_fast and flow.status == FAILED:
        assert list(statuses.values()).count(FAILED) == 1


@settings(max_examples=100, deadline=None)
@given(dag_specs(), st.sets(st.integers(min_value=1, max_value=40)))
def test_round_trips_between_random_ticks_change_nothing(spec, round_trip_at):
    in_memory = run_to_end(spec)
    restored = run_to_end(spec, round_trip_at=round_trip_at)
    assert restored.to_flow_dict() == in_memory.to_flow_dict()


@settings(max_examples=50, deadline=None)
@given(dag_specs())
def test_round_trip_between_every_tick_changes_nothing(spec):
    in_memory = run_to_end(spec)
    restored = run_to_end(spec, every_tick=True)
    assert restored.num_ticks == in_memory.num_ticks
    assert restored.to_flow_dict() == in_memory.to_flow_dict()


@settings(max_examples=100, deadline=None)
@given(dag_specs())
def test_tasks_start_in_a_topological_order(spec):
    for task in spec["tasks"]:
        task["task_params"]["fail"] = False
    flow = run_to_end(spec)
    assert flow.status == COMPLETED
    started = sorted(flow.tasks, key=lambda k: flow.tasks[k]["started_at"])
    position = {key: i for i, key in enumerate(started)}
    for key in flow.tasks:
        for pre in flow.get_precursors(key):
            assert position[pre] < position[key]
