"""The Flow queries and edge methods MissionControl 0.x had, and the
FlowEngine's conversions between specs, flows and flow dicts."""

from __future__ import annotations

import json

import pytest

from mc.errors import FlowError, FlowLoadError
from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, Flow, FlowEngine

SPEC = {
    "key": "q",
    "tasks": [
        {"key": "a", "task_type": "noop"},
        {"key": "b", "task_type": "noop", "precursors": ["a"]},
        {"key": "c", "task_type": "noop", "precursors": ["a"]},
        {"key": "d", "task_type": "noop", "precursors": ["ROOT"]},
    ],
}


@pytest.fixture
def flow():
    return Flow.from_flow_spec(flow_spec=SPEC)


def keys(tasks):
    return [task["key"] for task in tasks]


def test_from_flow_spec_takes_the_spec_as_flow_spec_keyword():
    assert list(Flow.from_flow_spec(flow_spec=SPEC).tasks) == ["a", "b", "c", "d"]
    assert list(Flow.from_flow_spec(SPEC).tasks) == ["a", "b", "c", "d"]


def test_from_flow_spec_refuses_two_specs_or_none():
    with pytest.raises(TypeError):
        Flow.from_flow_spec(SPEC, flow_spec=SPEC)
    with pytest.raises(TypeError):
        Flow.from_flow_spec()


def test_get_tasks_by_status_follows_the_ticks(flow):
    assert keys(flow.get_tasks_by_status(PENDING)) == ["a", "b", "c", "d"]
    flow.start_ready(now=1.0)
    assert keys(flow.get_tasks_by_status(RUNNING)) == ["a", "d"]
    assert keys(flow.get_running_tasks()) == ["a", "d"]
    flow.complete("a", now=2.0)
    assert keys(flow.get_tasks_by_status(COMPLETED)) == ["a"]
    assert keys(flow.get_tasks_by_status(PENDING)) == ["b", "c"]
    assert flow.get_tasks_by_status(SKIPPED) == []


def test_has_incomplete_tasks_until_every_task_finished():
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow(SPEC)
    assert flow.has_incomplete_tasks()
    engine.run_flow(flow)
    assert not flow.has_incomplete_tasks()


def test_skipped_and_failed_tasks_are_not_incomplete():
    engine = FlowEngine(task_handlers={"boom": lambda ctx: 1 / 0})
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "a", "task_type": "boom"}, {"key": "b", "task_type": "noop"}]}
    )
    with pytest.raises(FlowError):
        engine.run_flow(flow)
    assert not flow.has_incomplete_tasks()


def test_get_tail_tasks_are_those_nothing_waits_for(flow):
    assert keys(flow.get_tail_tasks()) == ["b", "c", "d"]
    assert Flow.from_flow_spec({"tasks": []}).get_tail_tasks() == []


def test_filter_tasks_keeps_tasks_that_pass_every_filter(flow):
    flow.tasks["b"]["data"]["answer"] = "yes"
    flow.tasks["d"]["data"]["answer"] = "yes"
    found = flow.filter_tasks(
        filters=[
            lambda task: task["data"].get("answer") == "yes",
            lambda task: task["precursors"] != ["ROOT"],
        ]
    )
    assert keys(found) == ["b"]
    assert keys(flow.filter_tasks()) == ["a", "b", "c", "d"]


def test_has_edge_names_precursor_then_successor(flow):
    assert flow.has_edge(src_key="a", dest_key="b")
    assert not flow.has_edge(src_key="b", dest_key="a")
    assert flow.has_edge("ROOT", "a")
    assert not flow.has_edge("ROOT", "b")
    assert not flow.has_edge("a", "nope")


def test_add_edge_makes_a_pending_task_wait(flow):
    flow.add_edge(src_key="d", dest_key="b")
    assert flow.has_edge("d", "b")
    assert flow.tasks["b"]["precursors"] == ["a", "d"]
    assert flow.get_successors("d") == ["b"]
    flow.start_ready(now=1.0)
    flow.complete("a", now=2.0)
    flow.start_ready(now=3.0)
    assert keys(flow.running_tasks()) == ["c", "d"]
    flow.complete("d", now=4.0)
    flow.start_ready(now=5.0)
    assert "b" in keys(flow.running_tasks())


def test_add_edge_accepts_the_old_edge_dict(flow):
    flow.add_edge(edge={"src_key": "c", "dest_key": "b"})
    assert flow.has_edge("c", "b")


def test_add_edge_takes_a_ready_task_out_of_the_ready_set(flow):
    assert flow.has_ready_tasks()
    flow.add_edge(src_key="a", dest_key="d")
    assert flow.tasks["d"]["precursors"] == ["a"]
    flow.start_ready(now=1.0)
    assert keys(flow.running_tasks()) == ["a"]


def test_add_edge_from_a_failed_task_skips_the_dest(flow):
    flow.start_ready(now=1.0)
    flow.fail("d", "broken", now=2.0)
    flow.add_edge(src_key="d", dest_key="b")
    assert flow.tasks["b"]["status"] == SKIPPED


def test_add_edge_that_exists_or_from_root_changes_nothing(flow):
    before = json.dumps(flow.to_flow_dict())
    flow.add_edge(src_key="a", dest_key="b")
    flow.add_edge(src_key="ROOT", dest_key="b")
    assert json.dumps(flow.to_flow_dict()) == before


def test_add_edge_refuses_a_cycle_and_changes_nothing(flow):
    before = flow.to_flow_dict()
    with pytest.raises(FlowError, match=r"would make a dependency cycle: a -> b -> a"):
        flow.add_edge(src_key="b", dest_key="a")
    with pytest.raises(FlowError, match="cannot wait for itself"):
        flow.add_edge(src_key="b", dest_key="b")
    assert flow.to_flow_dict() == before


def test_add_edge_refuses_a_dest_that_has_started(flow):
    flow.start_ready(now=1.0)
    with pytest.raises(FlowError, match="task 'a' is RUNNING; only a PENDING task"):
        flow.add_edge(src_key="d", dest_key="a")
    flow.complete("a", now=2.0)
    with pytest.raises(FlowError, match="task 'a' is COMPLETED"):
        flow.add_edge(src_key="d", dest_key="a")


def test_add_edge_refuses_a_task_waiting_to_retry(flow):
    flow.start_ready(now=1.0)
    flow.retry_later("d", at=10.0, attempts=[{"error": "x"}])
    with pytest.raises(FlowError, match="is waiting to retry"):
        flow.add_edge(src_key="a", dest_key="d")


def test_add_edge_refuses_unknown_keys(flow):
    with pytest.raises(FlowError, match="has no task 'zz'"):
        flow.add_edge(src_key="zz", dest_key="b")
    with pytest.raises(FlowError, match="has no task 'zz'"):
        flow.add_edge(src_key="a", dest_key="zz")
    with pytest.raises(FlowError, match="needs src_key and dest_key"):
        flow.add_edge(edge={"src_key": "a"})


def test_a_flow_with_an_added_edge_loads_back_the_same(flow):
    flow.add_edge(src_key="d", dest_key="c")
    loaded = Flow.from_flow_dict(flow.to_flow_dict())
    assert loaded.has_edge("d", "c")
    assert loaded.get_successors("d") == ["c"]


def test_engine_converts_between_specs_flows_and_flow_dicts():
    engine = FlowEngine()
    flow_dict = engine.flow_spec_to_flow_dict(flow_spec=SPEC)
    assert flow_dict["key"] == "q"
    assert flow_dict["status"] == PENDING
    flow = engine.flow_dict_to_flow(flow_dict=flow_dict)
    assert isinstance(flow, Flow)
    engine.run_flow(flow)
    again = engine.flow_to_flow_dict(flow=flow)
    assert again["status"] == COMPLETED
    assert json.loads(json.dumps(again)) == again


def test_a_0x_flow_dict_is_refused_with_a_pointer_to_the_migration_guide():
    old = {"key": "k", "status": "PENDING", "graph": {"tasks": {}, "edges": []}}
    with pytest.raises(FlowLoadError, match="MissionControl 0.x flow dict"):
        FlowEngine().flow_dict_to_flow(old)


def test_a_failed_flow_stays_failed_in_the_flow_dict():
    engine = FlowEngine(task_handlers={"boom": lambda ctx: 1 / 0})
    flow = engine.flow_spec_to_flow({"tasks": [{"task_type": "boom"}]})
    with pytest.raises(FlowError):
        engine.run_flow(flow)
    assert engine.flow_to_flow_dict(flow)["status"] == FAILED
