"""The ``wire`` task type: copy values between tasks and the flow, with transforms."""

from __future__ import annotations

import json

import pytest

from mc.errors import MCError, WiringError
from mc.flows import COMPLETED, FAILED, Flow
from mc.flows.task_types.wiring import apply_wiring, map_items


def set_data(task_ctx):
    task = task_ctx["task"]
    task["data"].update(task["task_params"])
    task["status"] = COMPLETED


@pytest.fixture
def engine_with_source(engine):
    engine.register_task_type("set_data", set_data)
    return engine


def wire_flow(engine, wirings, source_data=None, flow_data=None):
    tasks = [{"key": "src", "task_type": "set_data", "task_params": source_data or {}}]
    tasks.append({"key": "w", "task_type": "wire", "task_params": {"wirings": wirings}})
    flow = engine.flow_spec_to_flow({"key": "wired", "data": flow_data or {}, "tasks": tasks})
    return run_to_end(engine, flow)


def run_to_end(engine, flow):
    for _ in range(20):
        if flow.finished:
            break
        engine.tick_flow(flow)
    assert flow.finished
    return flow


def test_arrow_string_copies_a_value(engine_with_source):
    flow = wire_flow(
        engine_with_source, ["ctx.flow.tasks.src.data.msg => ctx.flow.data.msg"], {"msg": "hi"}
    )
    assert flow.data == {"msg": "hi"}


def test_arrow_string_tolerates_spaces_around_the_arrow(engine_with_source):
    flow = wire_flow(
        engine_with_source, ["  ctx.flow.tasks.src.data.msg=>ctx.flow.data.m  "], {"msg": "hi"}
    )
    assert flow.data == {"m": "hi"}


def test_dict_wiring_with_source(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [{"source": "ctx.flow.tasks.src.data.xs.1", "dest": "ctx.flow.data.second"}],
        {"xs": [1, 2, 3]},
    )
    assert flow.data == {"second": 2}


def test_dict_wiring_with_a_literal_value(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": {"a": [1]}, "dest": "ctx.flow.data.cfg"}])
    assert flow.data == {"cfg": {"a": [1]}}


def test_wirings_apply_in_order(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {"value": 1, "dest": "ctx.flow.data.x"},
            "ctx.flow.data.x => ctx.flow.data.y",
            {"value": 2, "dest": "ctx.flow.data.x"},
        ],
    )
    assert flow.data == {"x": 2, "y": 1}


def test_wire_into_another_tasks_data_and_params(engine_with_source, capsys):
    flow = engine_with_source.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "src", "task_type": "set_data", "task_params": {"msg": "wired msg"}},
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [
                            "ctx.flow.tasks.src.data.msg => ctx.flow.tasks.out.task_params.msg",
                            "ctx.flow.tasks.src.data.msg => ctx.flow.tasks.out.data.copy",
                        ]
                    },
                },
                {"key": "out", "task_type": "print"},
            ]
        }
    )
    run_to_end(engine_with_source, flow)
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "wired msg\n"
    assert flow.tasks["out"]["data"] == {"copy": "wired msg"}


def test_wire_into_its_own_data(engine_with_source):
    flow = wire_flow(engine_with_source, ["ctx.flow.tasks.src.data.n => ctx.task.data.n"], {"n": 5})
    assert flow.tasks["w"]["data"] == {"n": 5}


def test_wire_into_a_caller_context_key(engine_with_source):
    out: dict = {}
    flow = engine_with_source.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {"wirings": [{"value": 3, "dest": "ctx.results.n"}]},
                }
            ]
        }
    )
    engine_with_source.run_flow(flow, task_ctx={"results": out})
    assert out == {"n": 3}


def test_missing_dicts_on_the_way_to_dest_are_created(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": 1, "dest": "ctx.flow.data.a.b.c"}])
    assert flow.data == {"a": {"b": {"c": 1}}}


def test_wired_value_is_a_copy_of_its_source(engine_with_source):
    flow = wire_flow(
        engine_with_source, ["ctx.flow.tasks.src.data.xs => ctx.flow.data.xs"], {"xs": [1, 2]}
    )
    flow.data["xs"].append(3)
    assert flow.tasks["src"]["data"]["xs"] == [1, 2]


def test_json_dumps_transform(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.cfg",
                "dest": "ctx.flow.data.text",
                "transform": "json.dumps",
            }
        ],
        {"cfg": {"a": [1, 2]}},
    )
    assert json.loads(flow.data["text"]) == {"a": [1, 2]}
    assert isinstance(flow.data["text"], str)


def test_json_loads_transform(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.text",
                "dest": "ctx.flow.data.cfg",
                "transform": "json.loads",
            }
        ],
        {"text": '{"a": [1, 2]}'},
    )
    assert flow.data == {"cfg": {"a": [1, 2]}}


def test_json_loads_of_bad_text_fails_the_task_naming_the_wiring(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.text",
                "dest": "ctx.flow.data.cfg",
                "transform": "json.loads",
            }
        ],
        {"text": "{not json"},
    )
    assert flow.tasks["w"]["status"] == FAILED
    assert "task_params.wirings[0]: transform json.loads failed" in flow.data["errors"][0]


def test_json_loads_of_a_non_string_fails_clearly(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.n",
                "dest": "ctx.flow.data.cfg",
                "transform": "json.loads",
            }
        ],
        {"n": 5},
    )
    assert "task_params.wirings[0]: json.loads needs a string, got int" in flow.data["errors"][0]


MAPPING = {
    "skeleton": {"task_type": "print", "task_params": {"sep": "-"}},
    "wirings": [
        "ctx.item.value => task_params.msg",
        "ctx.item.key => data.key",
        "ctx.item.idx => data.idx",
    ],
}


def test_mapping_transform_over_a_list(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.names",
                "dest": "ctx.flow.data.specs",
                "transform": "mapping",
                "mapping_params": MAPPING,
            }
        ],
        {"names": ["a", "b"]},
    )
    assert flow.data["specs"] == [
        {
            "task_type": "print",
            "task_params": {"sep": "-", "msg": "a"},
            "data": {"key": 0, "idx": 0},
        },
        {
            "task_type": "print",
            "task_params": {"sep": "-", "msg": "b"},
            "data": {"key": 1, "idx": 1},
        },
    ]


def test_mapping_transform_over_a_dict(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.by_name",
                "dest": "ctx.flow.data.specs",
                "transform": "mapping",
                "mapping_params": MAPPING,
            }
        ],
        {"by_name": {"x": 10, "y": 20}},
    )
    assert [spec["data"] for spec in flow.data["specs"]] == [
        {"key": "x", "idx": 0},
        {"key": "y", "idx": 1},
    ]
    assert [spec["task_params"]["msg"] for spec in flow.data["specs"]] == [10, 20]


def test_mapping_copies_the_skeleton_for_each_item(engine):
    mapped = map_items(
        [1, 2], {"skeleton": {"p": {"v": 0}}, "wirings": ["ctx.item.value => p.v"]}, {}, "here"
    )
    assert mapped == [{"p": {"v": 1}}, {"p": {"v": 2}}]


def test_mapping_of_a_non_collection_fails_clearly():
    with pytest.raises(WiringError, match="here: items must be a list or a dict, got int"):
        map_items(5, {"skeleton": {}, "wirings": []}, {}, "here")


def test_mapping_without_mapping_params_is_refused(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [
            {
                "source": "ctx.flow.tasks.src.data.xs",
                "dest": "ctx.flow.data.m",
                "transform": "mapping",
            }
        ],
        {"xs": [1]},
    )
    assert (
        "task_params.wirings[0].mapping_params: the 'mapping' transform needs a dict"
        in (flow.data["errors"][0])
    )


@pytest.mark.parametrize(
    "dest",
    [
        "ctx.flow.tasks.src.status",
        "ctx.flow.tasks.src.key",
        "ctx.flow.tasks.src.precursors",
        "ctx.flow.tasks.src.precursors.0",
        "ctx.flow.tasks.src",
        "ctx.flow.status",
        "ctx.flow.key",
        "ctx.flow",
        "ctx.task.status",
        "ctx.task.key",
        "ctx.task.task_params.x",
        "ctx.flow_engine.clock",
        "ctx.flow_engine",
        "ctx.parent_flow.data.x",
        "ctx.proxy_task.data.x",
    ],
)
def test_destinations_only_the_engine_may_change_are_refused(engine_with_source, dest):
    flow = wire_flow(engine_with_source, [{"value": "DONE", "dest": dest}])
    assert flow.tasks["w"]["status"] == FAILED
    assert flow.tasks["src"]["status"] == COMPLETED
    assert flow.tasks["src"]["key"] == "src"
    assert f"task_params.wirings[0]: dest {dest!r} is not writable" in flow.data["errors"][0]


def test_dest_not_starting_with_ctx_is_refused(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": 1, "dest": "flow.data.x"}])
    assert "dest 'flow.data.x' must start with 'ctx.'" in flow.data["errors"][0]


def test_dest_in_a_task_the_flow_does_not_have_is_refused(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": 1, "dest": "ctx.flow.tasks.nope.data.x"}])
    assert "names task 'nope', which the flow does not have" in flow.data["errors"][0]
    assert set(flow.tasks) == {"src", "w"}
    Flow.from_flow_dict(flow.to_flow_dict())  # still loads


def test_replacing_a_tasks_whole_data_with_a_non_dict_is_refused(engine_with_source):
    flow = wire_flow(
        engine_with_source, [{"value": 5, "dest": "ctx.flow.tasks.src.data"}], {"a": 1}
    )
    assert "dest 'ctx.flow.tasks.src.data' must get a dict, got int" in flow.data["errors"][0]
    assert flow.tasks["src"]["data"] == {"a": 1}
    Flow.from_flow_dict(flow.to_flow_dict())


def test_replacing_a_tasks_whole_data_with_a_dict_is_allowed(engine_with_source):
    flow = wire_flow(
        engine_with_source, [{"value": {"b": 2}, "dest": "ctx.flow.tasks.src.data"}], {"a": 1}
    )
    assert flow.tasks["src"]["data"] == {"b": 2}


def test_replacing_its_own_whole_data_with_a_non_dict_is_refused(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": [1], "dest": "ctx.task.data"}])
    assert "dest 'ctx.task.data' must get a dict, got list" in flow.data["errors"][0]
    Flow.from_flow_dict(flow.to_flow_dict())


def test_replacing_the_whole_flow_data_is_refused_with_a_hint(engine_with_source):
    flow = wire_flow(engine_with_source, [{"value": {"a": 1}, "dest": "ctx.flow.data"}])
    assert "would replace the flow's whole data; write inside it" in flow.data["errors"][0]


def test_value_wired_into_task_params_is_not_read_as_a_path(engine_with_source, capsys):
    flow = engine_with_source.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "src", "task_type": "set_data", "task_params": {"price": "\\$5"}},
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [
                            "ctx.flow.tasks.src.data.price => ctx.flow.tasks.out.task_params.msg"
                        ]
                    },
                },
                {"key": "out", "task_type": "print"},
            ]
        }
    )
    run_to_end(engine_with_source, flow)
    assert flow.tasks["src"]["data"] == {"price": "$5"}
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "$5\n"


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        ("no arrow here", "task_params.wirings[1]: expected 'SOURCE => DEST', got 'no arrow here'"),
        (" => ctx.flow.data.x", "task_params.wirings[1]: expected 'SOURCE => DEST'"),
        (5, "task_params.wirings[1]: expected 'SOURCE => DEST' or a dict"),
        (
            {"dest": "ctx.flow.data.x"},
            "task_params.wirings[1]: give exactly one of 'source' and 'value'",
        ),
        (
            {"source": "ctx.flow.data.a", "value": 1, "dest": "ctx.flow.data.x"},
            "task_params.wirings[1]: give exactly one of 'source' and 'value'",
        ),
        ({"value": 1}, "task_params.wirings[1].dest: expected a dot path string"),
        (
            {"source": 5, "dest": "ctx.flow.data.x"},
            "task_params.wirings[1].source: expected a dot path",
        ),
        (
            {"value": 1, "dest": "ctx.flow.data.x", "transform": "eval"},
            "task_params.wirings[1].transform: expected one of json.dumps, json.loads, mapping, got 'eval'",
        ),
        (
            {"value": 1, "dest": "ctx.flow.data.x", "sourse": "a"},
            "task_params.wirings[1]: unknown key 'sourse'",
        ),
        (
            {"source": "ctx.flow.data.nope", "dest": "ctx.flow.data.x"},
            "task_params.wirings[1]: source: path 'ctx.flow.data.nope' does not resolve at 'nope'",
        ),
        (
            {"source": "flow.data.a", "dest": "ctx.flow.data.x"},
            "task_params.wirings[1]: source: path 'flow.data.a' must start with 'ctx.'",
        ),
        (
            {"value": 1, "dest": "ctx.flow.data..x"},
            "task_params.wirings[1]: path 'ctx.flow.data..x' has an empty part",
        ),
    ],
)
def test_malformed_wiring_fails_the_task_with_the_wirings_index(
    engine_with_source, wiring, message
):
    flow = wire_flow(engine_with_source, [{"value": 1, "dest": "ctx.flow.data.a"}, wiring])
    assert flow.tasks["w"]["status"] == FAILED
    assert message in flow.data["errors"][0]


def test_wirings_must_be_a_list(engine_with_source):
    flow = engine_with_source.flow_spec_to_flow(
        {"tasks": [{"key": "w", "task_type": "wire", "task_params": {"wirings": "a => b"}}]}
    )
    engine_with_source.tick_flow(flow)
    assert "task 'w': task_params.wirings must be list, got str" in flow.data["errors"][0]


def test_wiring_error_is_an_mc_error():
    with pytest.raises(MCError):
        apply_wiring("nothing", {}, {}, "here")


def test_wire_params_are_interpolated_before_wiring(engine_with_source):
    flow = wire_flow(
        engine_with_source,
        [{"value": "$ctx.flow.tasks.src.data.n", "dest": "ctx.flow.data.n"}],
        {"n": 7},
    )
    assert flow.data == {"n": 7}


def test_wire_replacing_its_own_data_through_the_flow_keeps_it(engine_with_source):
    # The wire's params are interpolated, so it runs on a copy of its task dict.
    flow = wire_flow(
        engine_with_source,
        [{"value": "$ctx.flow.tasks.src.data", "dest": "ctx.flow.tasks.w.data"}],
        {"a": 1},
    )
    assert flow.tasks["w"]["data"] == {"a": 1}


def test_handler_writes_through_flow_tasks_survive_interpolation(engine):
    # BUG (mc/flows/flow_engine.py _call_handler, for the lead): when a task's
    # params need interpolation the handler gets a shallow copy of the task
    # dict, and afterwards the flow's task dict is overwritten with that copy.
    # So what a handler writes at the top level of its own task through
    # ctx['flow'].tasks[key] (or a data dict it put there) is silently lost;
    # without a '$' param the same handler works. Fails until the engine
    # interpolates without swapping the task dict (e.g. resolve params into
    # the task in place and put the raw ones back after the tick).
    def annotate(task_ctx):
        own = task_ctx["flow"].tasks[task_ctx["task"]["key"]]
        own["data"] = {"seen": task_ctx["task"]["task_params"]["x"]}
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("annotate", annotate)
    flow = engine.flow_spec_to_flow(
        {
            "data": {"v": 1},
            "tasks": [
                {"key": "a", "task_type": "annotate", "task_params": {"x": "$ctx.flow.data.v"}}
            ],
        }
    )
    engine.run_flow(flow)
    assert flow.tasks["a"]["data"] == {"seen": 1}
