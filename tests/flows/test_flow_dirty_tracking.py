"""A flow knows which tasks changed since it was last saved (dirty tracking)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from mc.errors import FlowError
from mc.flows import Flow, FlowEngine
from tests.flows.test_flow_properties import dag_specs, make_engine


def chain_spec(n: int = 4) -> dict:
    tasks = [{"key": "t0", "task_type": "noop"}]
    tasks += [
        {"key": f"t{i}", "task_type": "noop", "precursors": [f"t{i - 1}"]} for i in range(1, n)
    ]
    return {"key": "chain", "tasks": tasks}


def saved_flow(spec: dict) -> Flow:
    flow = Flow.from_flow_spec(spec)
    flow.mark_saved()
    return flow


def test_a_new_flow_counts_every_task_as_changed():
    flow = Flow.from_flow_spec(chain_spec(3))
    assert flow.changed_task_keys() == ["t0", "t1", "t2"]


def test_a_saved_flow_has_no_changed_tasks():
    assert saved_flow(chain_spec()).changed_task_keys() == []


def test_a_tick_changes_only_the_tasks_it_moved(engine):
    flow = saved_flow(chain_spec(5))
    engine.tick_flow(flow)
    assert flow.changed_task_keys() == ["t0"]
    flow.mark_saved()
    engine.tick_flow(flow)
    assert flow.changed_task_keys() == ["t1"]


def test_a_running_task_counts_as_changed_on_every_tick(engine):
    @engine.register_task_type("count")
    def count(task_ctx):
        task_ctx["task"]["data"]["seen"] = task_ctx["task"]["data"].get("seen", 0) + 1

    flow = saved_flow(
        {
            "key": "f",
            "tasks": [
                {"key": "busy", "task_type": "count"},
                {"key": "idle", "task_type": "noop", "precursors": ["busy"]},
            ],
        }
    )
    for _ in range(3):
        engine.tick_flow(flow)
        assert flow.changed_task_keys() == ["busy"]
        flow.mark_saved()
    assert flow.changed_task_keys() == []


def test_a_failure_changes_the_skipped_successors_too(engine):
    @engine.register_task_type("boom")
    def boom(task_ctx):
        raise RuntimeError("boom")

    flow = saved_flow(
        {
            "key": "f",
            "cfg": {"fail_fast": False},
            "tasks": [
                {"key": "a", "task_type": "boom"},
                {"key": "b", "task_type": "noop", "precursors": ["a"]},
                {"key": "c", "task_type": "noop", "precursors": ["b"]},
                {"key": "other", "task_type": "noop", "precursors": ["ROOT"]},
            ],
        }
    )
    engine.tick_flow(flow)
    assert flow.changed_task_keys() == ["a", "b", "c", "other"]


def test_retry_later_and_reset_change_their_task(engine):
    @engine.register_task_type("boom")
    def boom(task_ctx):
        raise RuntimeError("boom")

    flow = saved_flow(
        {
            "key": "f",
            "tasks": [
                {"key": "a", "task_type": "boom", "retries": 1},
                {"key": "b", "task_type": "noop", "precursors": ["ROOT"]},
            ],
        }
    )
    flow.start_ready(now=1.0)
    flow.mark_saved()
    flow.retry_later("a", at=5.0, attempts=[])
    assert flow.changed_task_keys() == ["a"]
    flow.complete("b", now=2.0)
    flow.mark_saved()
    flow.reset(["b"])
    assert flow.changed_task_keys() == ["b"]


def test_add_task_changes_the_new_task_and_the_successor_it_gets():
    flow = saved_flow(chain_spec(2))
    flow.add_task({"key": "new", "task_type": "noop", "successors": ["t1"]})
    assert flow.changed_task_keys() == ["t1", "new"]
    assert flow.task_position("new") == 2


def test_a_wire_task_marks_the_task_it_writes_into(engine):
    flow = saved_flow(
        {
            "key": "f",
            "tasks": [
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [{"value": 7, "dest": "ctx.flow.tasks.later.task_params.x"}]
                    },
                },
                {"key": "later", "task_type": "noop", "precursors": ["ROOT"]},
                {"key": "after", "task_type": "noop", "precursors": ["w"]},
            ],
        }
    )
    flow.start_ready(now=0.0)
    flow.complete("later", now=0.0)
    flow.mark_saved()
    engine.tick_flow(flow)
    assert flow.tasks["later"]["task_params"]["x"] == 7
    assert flow.changed_task_keys() == ["w", "later"]


def test_mark_changed_refuses_an_unknown_task():
    flow = saved_flow(chain_spec(2))
    with pytest.raises(FlowError, match="has no task 'nope'"):
        flow.mark_changed("nope")


def test_mark_all_changed_changes_every_task():
    flow = saved_flow(chain_spec(3))
    flow.mark_all_changed()
    assert flow.changed_task_keys() == ["t0", "t1", "t2"]


def test_a_flow_loaded_without_validation_equals_one_loaded_with_it():
    engine = FlowEngine()
    flow = Flow.from_flow_spec(chain_spec(4))
    engine.tick_flow(flow)
    trusted = Flow.from_flow_dict(flow.to_flow_dict(), validate=False)
    checked = Flow.from_flow_dict(flow.to_flow_dict())
    assert trusted.to_flow_dict() == checked.to_flow_dict()
    assert trusted.has_ready_tasks() and trusted.count_tasks("COMPLETED") == 1


@settings(max_examples=60, deadline=None)
@given(dag_specs(max_tasks=15))
def test_every_task_whose_dict_a_tick_changed_is_reported(spec):
    engine, clock = make_engine()
    flow = engine.flow_spec_to_flow(spec)
    flow.mark_saved()
    before = flow.to_flow_dict()["tasks"]
    while not flow.finished:
        engine.tick_flow(flow)
        clock.advance(1)
        after = flow.to_flow_dict()["tasks"]
        differing = {key for key in after if after[key] != before[key]}
        assert differing <= set(flow.changed_task_keys())
        flow.mark_saved()
        before = after


def test_add_edge_changes_the_task_that_gets_a_precursor():
    flow = saved_flow(
        {
            "key": "f",
            "tasks": [
                {"key": "a", "task_type": "noop"},
                {"key": "b", "task_type": "noop", "precursors": ["ROOT"]},
            ],
        }
    )
    flow.add_edge(src_key="a", dest_key="b")
    assert flow.changed_task_keys() == ["b"]
    assert flow.tasks["b"]["precursors"] == ["a"]


def ticks_report_every_changed_dict(engine, flow, clock):
    """Tick ``flow`` to the end, checking after every tick that each changed dict is reported."""
    flow.mark_saved()
    before = flow.to_flow_dict()["tasks"]
    while not flow.finished:
        engine.tick_flow(flow)
        clock.advance(1)
        after = flow.to_flow_dict()["tasks"]
        differing = {key for key in after if after[key] != before[key]}
        assert differing <= set(flow.changed_task_keys())
        flow.mark_saved()
        before = after


def test_provenance_and_cache_hits_are_reported_as_changes():
    from mc.flows.cache import MemoryTaskCache

    def double(task_ctx):
        task = task_ctx["task"]
        task["data"]["y"] = 2 * task["task_params"]["x"]
        task["status"] = "COMPLETED"

    _, clock = make_engine()
    engine = FlowEngine({"double": double}, clock=clock, cache=MemoryTaskCache(claim_s=60))
    spec = {
        "tasks": [
            {"key": "d", "task_type": "double", "task_params": {"x": 3}, "cache": True},
            {"key": "e", "task_type": "noop", "precursors": ["d"]},
        ]
    }
    first = Flow.from_flow_spec(spec)
    ticks_report_every_changed_dict(engine, first, clock)
    assert "provenance" in first.tasks["d"]
    second = Flow.from_flow_spec(spec)
    ticks_report_every_changed_dict(engine, second, clock)
    assert second.tasks["d"].get("cached_from")
