"""A flow between ticks is plain JSON, and resumes exactly where it stopped."""

from __future__ import annotations

import json

import pytest

from mc.errors import FlowError, FlowLoadError, FlowSpecError
from mc.flows import COMPLETED, RUNNING, Flow
from mc.flows.spec import FORMAT_VERSION


def round_trip(flow: Flow) -> Flow:
    return Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))


SPEC = {
    "key": "serial",
    "label": "serialization",
    "cfg": {"fail_fast": False},
    "data": {"sample": "Cu-2"},
    "tasks": [
        {"key": "a", "task_type": "noop"},
        {"key": "b", "task_type": "print", "task_params": {"msg": "b"}},
        {"key": "c", "task_type": "noop", "precursors": ["ROOT"]},
        {"key": "d", "task_type": "noop", "precursors": ["b", "c"]},
    ],
}


def test_flow_dict_holds_only_json_types_and_a_format_version(engine):
    flow = engine.flow_spec_to_flow(SPEC)
    engine.tick_flow(flow)
    flow_dict = flow.to_flow_dict()
    assert json.loads(json.dumps(flow_dict)) == flow_dict
    assert flow_dict["format_version"] == FORMAT_VERSION
    assert set(flow_dict) == {
        "format_version",
        "key",
        "label",
        "cfg",
        "data",
        "status",
        "depth",
        "parent_key",
        "num_ticks",
        "tasks",
    }


def test_round_trip_between_every_tick_matches_in_memory_run(engine, clock, capsys):
    in_memory = engine.flow_spec_to_flow(SPEC)
    while in_memory.status not in {"COMPLETED", "FAILED"}:
        engine.tick_flow(in_memory)
        clock.advance(1)
    clock.now -= in_memory.num_ticks
    restored = engine.flow_spec_to_flow(SPEC)
    while restored.status not in {"COMPLETED", "FAILED"}:
        engine.tick_flow(restored)
        clock.advance(1)
        restored = round_trip(restored)
    assert restored.to_flow_dict() == in_memory.to_flow_dict()
    assert capsys.readouterr().out == "b\nb\n"


def test_restored_flow_keeps_running_tasks_running(engine):
    flow = engine.flow_spec_to_flow(SPEC)
    engine.tick_flow(flow)
    restored = round_trip(flow)
    assert restored.status == RUNNING
    assert restored.has_ready_tasks() == flow.has_ready_tasks()
    engine.run_flow(restored)
    assert restored.status == COMPLETED


def test_to_flow_dict_is_a_copy(engine):
    flow = engine.flow_spec_to_flow(SPEC)
    flow_dict = flow.to_flow_dict()
    flow_dict["tasks"]["a"]["task_params"]["x"] = 1
    flow_dict["data"]["sample"] = "changed"
    assert flow.tasks["a"]["task_params"] == {}
    assert flow.data["sample"] == "Cu-2"


def test_from_flow_dict_copies_its_input(engine):
    flow_dict = engine.flow_spec_to_flow(SPEC).to_flow_dict()
    flow = Flow.from_flow_dict(flow_dict)
    flow_dict["tasks"]["a"]["status"] = "FAILED"
    assert flow.tasks["a"]["status"] == "PENDING"


def test_handler_leaving_non_json_data_is_reported_on_serialization(engine):
    def leave_a_set(task_ctx):
        task_ctx["task"]["data"]["elements"] = {"Cu", "O"}
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("leave_a_set", leave_a_set)
    flow = engine.flow_spec_to_flow({"key": "bad_data", "tasks": [{"task_type": "leave_a_set"}]})
    engine.run_flow(flow)
    with pytest.raises(FlowError, match="flow 'bad_data' holds data that is not JSON"):
        flow.to_flow_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
        (lambda d: d.pop("tasks"), "missing tasks"),
        (lambda d: d.update(status="DONE"), "status 'DONE' is not a flow status"),
        (lambda d: d.update(tasks=[]), "tasks: expected a dict"),
        (lambda d: d["tasks"]["a"].update(status="NEW"), "tasks.a: status 'NEW'"),
        (lambda d: d["tasks"]["a"].update(key="z"), "tasks.a: its 'key' is 'z'"),
        (lambda d: d["tasks"]["d"].update(precursors=["zz"]), "precursor 'zz' is not a task"),
        (lambda d: d["tasks"]["d"].update(precursors=[]), "precursors must be a non-empty list"),
        (lambda d: d["tasks"]["d"].update(data=None), "data must be a dict"),
        (lambda d: d["tasks"].update(b="text"), "tasks.b: expected a task dict"),
        (lambda d: d.update(status=["RUNNING"]), "status \\['RUNNING'\\] is not a flow status"),
        (lambda d: d["tasks"]["a"].update(status=[]), "tasks.a: status \\[\\] is not"),
        (lambda d: d["tasks"]["d"].update(precursors=[["b"]]), "precursor \\['b'\\] is not"),
        (lambda d: d.update(cfg=None), "cfg must be complete"),
        (lambda d: d.update(cfg={"fail_fast": "yes"}), "cfg.fail_fast: expected true or false"),
        (lambda d: d.update(data=None), "data must be dict"),
        (lambda d: d.update(num_ticks="3"), "num_ticks must be int"),
        (lambda d: d.update(depth=True), "depth must be int"),
        (lambda d: d.update(key=5), "key must be str"),
        (lambda d: d["tasks"].update(ROOT=dict(d["tasks"]["a"], key="ROOT")), "reserved"),
        (lambda d: d["tasks"]["a"].update(precursors=["d"]), "dependency cycle: b -> d -> a -> b"),
    ],
)
def test_malformed_flow_dict_raises_flow_load_error(engine, mutate, message):
    flow_dict = engine.flow_spec_to_flow(SPEC).to_flow_dict()
    mutate(flow_dict)
    with pytest.raises(FlowLoadError, match=message):
        Flow.from_flow_dict(flow_dict)


def test_flow_load_error_for_a_non_dict():
    with pytest.raises(FlowLoadError, match="expected a dict, got list"):
        Flow.from_flow_dict([])


def test_hand_edited_flow_with_an_unreachable_task_still_ends(engine):
    flow = engine.flow_spec_to_flow(
        {
            "cfg": {"fail_fast": False},
            "tasks": [{"key": "a", "task_type": "noop"}, {"key": "b", "task_type": "noop"}],
        }
    )
    flow_dict = flow.to_flow_dict()
    flow_dict["tasks"]["a"]["status"] = "FAILED"
    flow = Flow.from_flow_dict(flow_dict)
    engine.tick_flow(flow)
    assert flow.status == "FAILED"
    assert flow.tasks["b"]["status"] == "SKIPPED"
    assert "can never start" in flow.tasks["b"]["error"]


def test_from_flow_dict_without_copy_takes_the_dict_over(engine):
    flow_dict = json.loads(json.dumps(engine.flow_spec_to_flow(SPEC).to_flow_dict()))
    flow = Flow.from_flow_dict(flow_dict, copy=False)
    assert flow.tasks is flow_dict["tasks"]
    engine.run_flow(flow)
    assert flow.status == COMPLETED


def test_from_flow_dict_without_copy_still_checks_the_dict():
    with pytest.raises(FlowLoadError, match="format_version"):
        Flow.from_flow_dict({"tasks": {}}, copy=False)


def test_deeply_nested_flow_data_raises_flow_load_error(engine):
    flow_dict = engine.flow_spec_to_flow(SPEC).to_flow_dict()
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    flow_dict["data"]["deep"] = nested
    with pytest.raises(FlowLoadError, match="not plain JSON data"):
        Flow.from_flow_dict(flow_dict)


def test_flow_constructor_checks_its_arguments():
    with pytest.raises(FlowSpecError, match="data: expected a dict"):
        Flow(data=5)
    with pytest.raises(FlowLoadError, match="status 'BOGUS' is not a flow status"):
        Flow(status="BOGUS")


def test_a_stored_task_with_a_bad_trigger_rule_does_not_load():
    flow_dict = Flow.from_flow_spec({"tasks": [{"key": "a", "task_type": "noop"}]}).to_flow_dict()
    flow_dict["tasks"]["a"]["trigger_rule"] = "whenever"
    with pytest.raises(FlowLoadError, match=r"flow dict: tasks.a.trigger_rule: expected one of"):
        Flow.from_flow_dict(flow_dict)


def test_a_stored_retry_time_on_a_running_task_does_not_load():
    flow_dict = Flow.from_flow_spec({"tasks": [{"key": "a", "task_type": "noop"}]}).to_flow_dict()
    flow_dict["tasks"]["a"].update(status="RUNNING", retry_at=5.0)
    with pytest.raises(FlowLoadError, match="retry_at must be a time, on a PENDING task"):
        Flow.from_flow_dict(flow_dict)


def test_to_json_is_the_text_of_to_flow_dict():
    flow = Flow.from_flow_spec(
        {"data": {"x": [1.5, None]}, "tasks": [{"key": "a", "task_type": "noop"}]}
    )
    assert json.loads(flow.to_json()) == flow.to_flow_dict()


def test_to_json_refuses_data_that_is_not_json():
    flow = Flow.from_flow_spec({"tasks": [{"key": "a", "task_type": "noop"}]})
    flow.data["x"] = float("nan")
    with pytest.raises(FlowError, match="holds data that is not JSON"):
        flow.to_json()
