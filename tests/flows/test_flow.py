"""The Flow model: attributes, edges and queries."""

from __future__ import annotations

import pytest

from mc.errors import FlowError, FlowSpecError
from mc.flows import PENDING, Flow, FlowEngine
from mc.flows.flow import Flow as FlowFromSeedPath
from mc.flows.flow_engine import FlowEngine as EngineFromSeedPath


def diamond() -> Flow:
    return Flow.from_flow_spec(
        {
            "key": "diamond",
            "label": "a diamond",
            "tasks": [
                {"key": "top", "task_type": "noop"},
                {"key": "left", "task_type": "noop", "precursors": ["top"]},
                {"key": "right", "task_type": "noop", "precursors": ["top"]},
                {"key": "bottom", "task_type": "noop", "precursors": ["left", "right"]},
            ],
        }
    )


def test_seed_module_paths_name_the_public_classes():
    assert FlowFromSeedPath is Flow
    assert EngineFromSeedPath is FlowEngine


def test_flow_has_the_documented_attributes():
    flow = diamond()
    assert (flow.key, flow.label, flow.status) == ("diamond", "a diamond", PENDING)
    assert flow.cfg == {"fail_fast": True}
    assert flow.data == {}
    assert (flow.depth, flow.parent_key) == (0, None)
    assert list(flow.tasks) == ["top", "left", "right", "bottom"]


def test_get_precursors_and_successors_take_a_key_or_a_task():
    flow = diamond()
    assert flow.get_precursors("bottom") == ["left", "right"]
    assert flow.get_precursors(flow.tasks["bottom"]) == ["left", "right"]
    assert flow.get_precursors("top") == []
    assert flow.get_successors("top") == ["left", "right"]
    assert flow.get_successors(flow.tasks["bottom"]) == []


def test_query_for_an_unknown_task_names_flow_and_task():
    with pytest.raises(KeyError, match="flow 'diamond' has no task 'middle'"):
        diamond().get_successors("middle")


def test_empty_flow_can_be_built_by_hand_and_grown():
    flow = Flow(key="by_hand", label="built by hand")
    first = flow.add_task({"task_type": "noop"})
    second = flow.add_task({"task_type": "noop", "precursors": [first["key"]]})
    assert first["key"] == "task_1"
    assert second["precursors"] == ["task_1"]
    assert flow.get_successors("task_1") == ["task_2"]
    FlowEngine().run_flow(flow)
    assert flow.status == "COMPLETED"


def test_add_task_without_edges_starts_at_once():
    flow = diamond()
    added = flow.add_task({"key": "extra", "task_type": "noop"})
    assert added["precursors"] == ["ROOT"]
    assert flow.has_ready_tasks()


def test_add_task_after_a_failed_task_is_skipped_at_once(engine):
    engine.register_task_type("explode", lambda ctx: 1 / 0)
    flow = engine.flow_spec_to_flow(
        {
            "cfg": {"fail_fast": False},
            "tasks": [
                {"key": "a", "task_type": "explode"},
                {"key": "b", "task_type": "noop", "precursors": ["ROOT"]},
                {"key": "c", "task_type": "noop", "precursors": ["b"]},
            ],
        }
    )
    engine.tick_flow(flow)
    assert flow.status == "RUNNING"
    added = flow.add_task({"key": "late", "task_type": "noop", "precursors": ["a"]})
    assert added["status"] == "SKIPPED"


def test_count_tasks_follows_status_changes(engine):
    flow = engine.flow_spec_to_flow({"tasks": [{"task_type": "noop"}, {"task_type": "noop"}]})
    assert flow.count_tasks("PENDING") == 2
    engine.tick_flow(flow)
    assert (flow.count_tasks("PENDING"), flow.count_tasks("COMPLETED")) == (1, 1)


def test_repr_names_key_status_and_size():
    assert repr(diamond()) == "<Flow key='diamond' label='a diamond' status=PENDING tasks=4>"


def test_add_task_to_a_finished_flow_is_refused(engine):
    flow = engine.flow_spec_to_flow({"key": "done", "tasks": [{"task_type": "noop"}]})
    engine.run_flow(flow)
    with pytest.raises(FlowError, match="flow 'done' is COMPLETED: tasks can be added only"):
        flow.add_task({"task_type": "noop"})
    assert len(flow.tasks) == 1


def test_add_task_cycle_message_names_the_whole_cycle():
    flow = diamond()
    with pytest.raises(
        FlowSpecError,
        match=("adding 'back' would make a dependency cycle: back -> left -> bottom -> back"),
    ):
        flow.add_task(
            {"key": "back", "task_type": "noop", "precursors": ["bottom"], "successors": ["left"]}
        )


def test_add_task_unknown_precursor_lists_known_keys():
    with pytest.raises(
        FlowSpecError,
        match=(
            r"task.precursors\[0\]: unknown task key 'lft' \(known: top, left, right, bottom\); "
            "did you mean 'left'"
        ),
    ):
        diamond().add_task({"task_type": "noop", "precursors": ["lft"]})


def test_nan_left_by_a_handler_is_reported_on_serialization(engine):
    def leave_nan(task_ctx):
        task_ctx["task"]["data"]["energy"] = float("nan")
        task_ctx["task"]["status"] = "COMPLETED"

    engine.register_task_type("leave_nan", leave_nan)
    flow = engine.flow_spec_to_flow({"key": "nan", "tasks": [{"task_type": "leave_nan"}]})
    engine.run_flow(flow)
    with pytest.raises(FlowError, match="flow 'nan' holds data that is not JSON"):
        flow.to_flow_dict()


def test_add_task_names_the_original_index_of_a_started_successor(engine):
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "a", "task_type": "noop"}, {"key": "b", "task_type": "noop"}]}
    )
    engine.tick_flow(flow)
    with pytest.raises(FlowSpecError, match=r"task.successors\[2\]: task 'a' is COMPLETED"):
        flow.add_task({"task_type": "noop", "successors": ["b", "b", "a"]})


def test_spec_values_of_int_and_str_subclasses_become_plain_json_types():
    import enum

    class Charge(enum.IntEnum):
        NEUTRAL = 0

    flow = Flow.from_flow_spec({"tasks": [{"task_type": "noop", "data": {"q": Charge.NEUTRAL}}]})
    assert type(flow.tasks["task_1"]["data"]["q"]) is int
    assert flow.to_flow_dict()["tasks"] == flow.tasks
