"""Interpolation: ``'$ctx...'`` strings in task_params, resolved for the handler at tick time."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mc.flows import COMPLETED, FAILED, RUNNING, BaseTaskHandler, Flow
from mc.flows.interpolation import escape_dollars, interpolate


def round_trip(flow: Flow) -> Flow:
    return Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))


@pytest.fixture
def seen(engine):
    """Register a ``record`` task type; return the list of params its handler saw."""
    params_seen: list = []

    def record(task_ctx):
        params_seen.append(task_ctx["task"]["task_params"])
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("record", record)
    return params_seen


def set_data(task_ctx):
    task = task_ctx["task"]
    task["data"].update(task["task_params"])
    task["status"] = COMPLETED


def one_task(params, data=None, before=None):
    tasks = [before] if before else []
    tasks.append({"key": "rec", "task_type": "record", "task_params": params})
    return {"key": "interp", "data": data or {}, "tasks": tasks}


def test_task_data_of_an_earlier_task_reaches_the_handler(engine, seen):
    engine.register_task_type("set_data", set_data)
    spec = one_task(
        {"msg": "$ctx.flow.tasks.task_1.data.my_msg"},
        before={"key": "task_1", "task_type": "set_data", "task_params": {"my_msg": "hello"}},
    )
    engine.run_flow(engine.flow_spec_to_flow(spec))
    assert seen == [{"msg": "hello"}]


def test_flow_data_reaches_the_handler(engine, seen):
    engine.run_flow(engine.flow_spec_to_flow(one_task({"x": "$ctx.flow.data.x"}, {"x": 4.5})))
    assert seen == [{"x": 4.5}]


def test_list_index_in_a_path(engine, seen):
    spec = one_task(
        {"first": "$ctx.flow.data.items.0", "last": "$ctx.flow.data.items.-1"},
        {"items": ["a", "b", "c"]},
    )
    engine.run_flow(engine.flow_spec_to_flow(spec))
    assert seen == [{"first": "a", "last": "c"}]


def test_strings_nested_in_dicts_and_lists_are_interpolated(engine, seen):
    params = {"outer": {"inner": ["$ctx.flow.data.x", {"deep": "$ctx.flow.data.y"}, "plain"]}}
    engine.run_flow(engine.flow_spec_to_flow(one_task(params, {"x": 1, "y": [2]})))
    assert seen == [{"outer": {"inner": [1, {"deep": [2]}, "plain"]}}]


def test_a_whole_dict_can_be_interpolated(engine, seen):
    engine.run_flow(
        engine.flow_spec_to_flow(
            one_task({"cfg": "$ctx.flow.data.cfg"}, {"cfg": {"a": 1, "b": [2]}})
        )
    )
    assert seen == [{"cfg": {"a": 1, "b": [2]}}]


def test_caller_context_keys_are_reachable(engine, seen):
    engine.run_flow(
        engine.flow_spec_to_flow(one_task({"who": "$ctx.user.name"})),
        task_ctx={"user": {"name": "ada"}},
    )
    assert seen == [{"who": "ada"}]


def test_backslash_dollar_gives_a_literal_dollar(engine, seen):
    engine.run_flow(engine.flow_spec_to_flow(one_task({"price": "\\$5", "list": ["\\$ctx.x"]})))
    assert seen == [{"price": "$5", "list": ["$ctx.x"]}]


def test_dollar_inside_a_string_is_left_alone(engine, seen):
    engine.run_flow(engine.flow_spec_to_flow(one_task({"msg": "costs $5", "n": 5, "ok": True})))
    assert seen == [{"msg": "costs $5", "n": 5, "ok": True}]


def test_stored_task_keeps_its_raw_params(engine, seen):
    flow = engine.flow_spec_to_flow(one_task({"x": "$ctx.flow.data.x"}, {"x": 1}))
    engine.run_flow(flow)
    assert flow.tasks["rec"]["task_params"] == {"x": "$ctx.flow.data.x"}
    assert flow.to_flow_dict()["tasks"]["rec"]["task_params"] == {"x": "$ctx.flow.data.x"}


class EchoThreeTicks(BaseTaskHandler):
    """Records ``task_params['x']`` on each of three ticks, then completes."""

    def initial_tick(self):
        self.task["data"]["xs"] = [self.task["task_params"]["x"]]

    def intermediate_tick(self):
        self.task["data"]["xs"].append(self.task["task_params"]["x"])
        if len(self.task["data"]["xs"]) == 3:
            self.task["status"] = COMPLETED


def test_restored_flow_interpolates_again_from_its_current_data(engine):
    engine.register_task_type("echo", EchoThreeTicks)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": "first"},
            "tasks": [
                {"key": "echo", "task_type": "echo", "task_params": {"x": "$ctx.flow.data.x"}}
            ],
        }
    )
    engine.tick_flow(flow)
    flow_dict = json.loads(json.dumps(flow.to_flow_dict()))
    assert flow_dict["tasks"]["echo"]["task_params"] == {"x": "$ctx.flow.data.x"}
    flow_dict["data"]["x"] = "second"
    flow = Flow.from_flow_dict(flow_dict)
    engine.tick_flow(flow)
    flow = round_trip(flow)
    flow.data["x"] = "third"
    engine.tick_flow(flow)
    assert flow.status == COMPLETED
    assert flow.tasks["echo"]["data"]["xs"] == ["first", "second", "third"]


def test_unresolvable_path_fails_the_task_naming_param_path_and_part(engine, seen):
    flow = engine.flow_spec_to_flow(
        one_task({"opts": {"x": "$ctx.flow.data.sample.nmae"}}, {"sample": {"name": "Cu"}})
    )
    engine.tick_flow(flow)
    task = flow.tasks["rec"]
    assert task["status"] == FAILED
    assert seen == []
    assert task["error"] == (
        "task_params.opts.x: path 'ctx.flow.data.sample.nmae' does not resolve at 'nmae': "
        "ctx.flow.data.sample has no key 'nmae' (it has: name)"
    )
    assert flow.data["errors"] == [f"task 'rec' (record): {task['error']}"]


def test_unresolvable_path_in_a_list_names_the_list_index(engine, seen):
    flow = engine.flow_spec_to_flow(one_task({"xs": ["ok", "$ctx.flow.data.missing"]}))
    engine.tick_flow(flow)
    assert flow.tasks["rec"]["error"].startswith("task_params.xs[1]: path 'ctx.flow.data.missing'")


def test_unresolvable_path_keeps_the_raw_params(engine, seen):
    flow = engine.flow_spec_to_flow(one_task({"x": "$ctx.flow.data.missing"}))
    engine.tick_flow(flow)
    assert flow.tasks["rec"]["task_params"] == {"x": "$ctx.flow.data.missing"}


@pytest.mark.parametrize("text", ["$flow.data.x", "$5", "$", "$ctxx.flow"])
def test_dollar_path_not_starting_with_ctx_fails_clearly(engine, seen, text):
    flow = engine.flow_spec_to_flow(one_task({"x": text}, {"x": 1}))
    engine.tick_flow(flow)
    error = flow.tasks["rec"]["error"]
    assert flow.tasks["rec"]["status"] == FAILED
    assert error.startswith(
        f"task_params.x: {text!r} starts with '$' but its path does not start with 'ctx.'"
    )
    assert "write '\\$' for a literal '$'" in error


@pytest.mark.parametrize(
    ("path", "part"),
    [
        ("ctx.flow_engine.clock", "clock"),
        ("ctx.flow.__class__", "__class__"),
        ("ctx.flow._task_list", "_task_list"),
    ],
)
def test_interpolation_never_reaches_attributes(engine, seen, path, part):
    flow = engine.flow_spec_to_flow(one_task({"x": "$" + path}))
    engine.tick_flow(flow)
    assert flow.tasks["rec"]["status"] == FAILED
    assert f"does not resolve at {part!r}" in flow.tasks["rec"]["error"]
    assert seen == []


def test_handler_changing_interpolated_values_does_not_change_their_source(engine):
    engine.register_task_type("set_data", set_data)

    def mutate(task_ctx):
        params = task_ctx["task"]["task_params"]
        params["xs"].append(99)
        params["cfg"]["k"] = "changed"
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("mutate", mutate)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"cfg": {"k": "flow"}},
            "tasks": [
                {"key": "src", "task_type": "set_data", "task_params": {"xs": [1, 2]}},
                {
                    "key": "m",
                    "task_type": "mutate",
                    "task_params": {
                        "xs": "$ctx.flow.tasks.src.data.xs",
                        "cfg": "$ctx.flow.data.cfg",
                    },
                },
            ],
        }
    )
    engine.run_flow(flow)
    assert flow.tasks["src"]["data"]["xs"] == [1, 2]
    assert flow.data["cfg"] == {"k": "flow"}


def test_handler_changes_to_its_data_and_status_are_kept_when_params_are_interpolated(engine):
    def work(task_ctx):
        task = task_ctx["task"]
        task["data"]["got"] = task["task_params"]["x"]
        task["extra_field"] = "kept"
        task["status"] = COMPLETED

    engine.register_task_type("work", work)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": 3},
            "tasks": [{"key": "w", "task_type": "work", "task_params": {"x": "$ctx.flow.data.x"}}],
        }
    )
    engine.run_flow(flow)
    assert flow.tasks["w"]["data"] == {"got": 3}
    assert flow.tasks["w"]["extra_field"] == "kept"
    assert flow.tasks["w"]["status"] == COMPLETED


def test_flow_spec_of_a_flow_task_is_not_interpolated_by_the_parent(engine, capsys):
    flow = engine.flow_spec_to_flow(
        {
            "data": {"who": "parent"},
            "tasks": [
                {
                    "task_type": "flow",
                    "task_params": {
                        "flow_spec": {
                            "data": {"who": "child"},
                            "tasks": [
                                {"task_type": "print", "task_params": {"msg": "$ctx.flow.data.who"}}
                            ],
                        }
                    },
                }
            ],
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "child\n"


def test_switch_cases_are_not_interpolated_by_the_parent(engine, capsys):
    # The case's task reads ctx.proxy_task, which exists only when it runs.
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "sw",
                    "task_type": "switch",
                    "task_params": {
                        "control_value": 1,
                        "cases": [
                            {
                                "condition": {"op": "eq", "arg": 1},
                                "task": {
                                    "task_type": "print",
                                    "task_params": {"msg": "$ctx.proxy_task.key"},
                                },
                            }
                        ],
                        "default_case": {
                            "task": {
                                "task_type": "print",
                                "task_params": {"msg": "$ctx.no_such_key"},
                            }
                        },
                    },
                }
            ]
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "sw\n"
    assert (
        flow.tasks["sw"]["task_params"]["cases"][0]["task"]["task_params"]["msg"]
        == "$ctx.proxy_task.key"
    )


def test_spread_mapping_params_are_not_interpolated_by_the_parent(engine, capsys):
    # ctx.item exists only while each item's task spec is made.
    flow = engine.flow_spec_to_flow(
        {
            "data": {"who": "parent"},
            "tasks": [
                {
                    "task_type": "spread",
                    "task_params": {
                        "items": ["a", "b"],
                        "mapping_params": {
                            "skeleton": {
                                "task_type": "print",
                                "task_params": {"msg": "$ctx.parent_flow.data.who"},
                            },
                            "wirings": [{"source": "ctx.item.value", "dest": "data.item"}],
                        },
                    },
                }
            ],
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "parent\nparent\n"


def test_task_without_dollar_strings_gets_its_params_object_itself(engine):
    seen_ids = []

    def record_id(task_ctx):
        seen_ids.append(
            task_ctx["task"]["task_params"] is task_ctx["flow"].tasks["r"]["task_params"]
        )
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("record_id", record_id)
    engine.run_flow(
        engine.flow_spec_to_flow(
            {"tasks": [{"key": "r", "task_type": "record_id", "task_params": {"x": 1}}]}
        )
    )
    assert seen_ids == [True]


def test_interpolation_happens_on_every_tick_of_a_running_task(engine):
    engine.register_task_type("echo", EchoThreeTicks)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": 0},
            "tasks": [
                {"key": "echo", "task_type": "echo", "task_params": {"x": "$ctx.flow.data.x"}}
            ],
        }
    )
    for value in (1, 2, 3):
        flow.data["x"] = value
        engine.tick_flow(flow)
    assert flow.tasks["echo"]["data"]["xs"] == [1, 2, 3]
    assert flow.tasks["echo"]["status"] == COMPLETED
    assert flow.status != RUNNING


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="$\\ab.c", max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="ab$", max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


def _starts_with_escape(value) -> bool:
    if isinstance(value, str):
        return value.startswith("\\$")
    if isinstance(value, dict):
        return any(_starts_with_escape(item) for item in value.values())
    if isinstance(value, list):
        return any(_starts_with_escape(item) for item in value)
    return False


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_escaped_data_interpolates_back_to_itself(value):
    # The one thing escaping cannot keep: a string that already starts with '\$'.
    assume(not _starts_with_escape(value))
    assert interpolate(escape_dollars(value), {}) == value


def test_copy_value_copies_data_that_json_cannot_hold():
    from mc.flows.interpolation import copy_value

    original = {"tags": {"a", "b"}, "nested": [{"x": [1, 2]}]}
    copied = copy_value(original)
    assert copied == original
    assert copied["tags"] is not original["tags"]
    assert copied["nested"][0]["x"] is not original["nested"][0]["x"]


def test_copy_value_of_json_data_is_a_deep_copy():
    from mc.flows.interpolation import copy_value

    original = {"nested": [{"x": [1, 2]}]}
    copied = copy_value(original)
    copied["nested"][0]["x"].append(3)
    assert original == {"nested": [{"x": [1, 2]}]}
