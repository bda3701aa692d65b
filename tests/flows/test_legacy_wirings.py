"""MissionControl 0.x's spellings of wirings: ``ctx.skeleton.X`` mapping
destinations, ``ctx.items``, and transforms as dicts; anything ambiguous is refused."""

from __future__ import annotations

import pytest

from mc.errors import FlowError, WiringError
from mc.flows import COMPLETED, FAILED
from mc.flows.task_types.wiring import map_items, parse_wiring

SKELETON = {"task_type": "print", "task_params": {"msg": "TO BE WIRED"}}


def mapping_wire_flow(engine, wirings, transform="mapping", **extra):
    wiring = {
        "source": "ctx.flow.data.items",
        "dest": "ctx.flow.data.mapped",
        "transform": transform,
        **extra,
    }
    if transform == "mapping":
        wiring["mapping_params"] = {"skeleton": SKELETON, "wirings": wirings}
    return engine.flow_spec_to_flow(
        {
            "key": "f",
            "data": {"items": ["a", "b"]},
            "tasks": [
                {"key": "w", "task_type": "wire", "task_params": {"wirings": [wiring]}},
            ],
        }
    )


def test_old_and_new_mapping_dests_give_the_same_tasks(engine):
    old = mapping_wire_flow(engine, ["ctx.item.value => ctx.skeleton.task_params.msg"])
    new = mapping_wire_flow(engine, ["ctx.item.value => task_params.msg"])
    engine.run_flow(old)
    engine.run_flow(new)
    expected = [
        {"task_type": "print", "task_params": {"msg": "a"}},
        {"task_type": "print", "task_params": {"msg": "b"}},
    ]
    assert old.data["mapped"] == expected
    assert new.data["mapped"] == expected


@pytest.mark.parametrize("dest", ["ctx.flow.data.x", "ctx.skeleton", "ctx.task.data.x"])
def test_a_mapping_dest_in_the_context_is_refused_as_ambiguous(engine, dest):
    flow = mapping_wire_flow(engine, [f"ctx.item.value => {dest}"])
    with pytest.raises(FlowError):
        engine.run_flow(flow)
    assert flow.status == FAILED
    error = flow.tasks["w"]["error"]
    assert f"dest {dest!r} is ambiguous in a mapping" in error
    assert "'task_params.msg'" in error and "ctx.skeleton.task_params.msg" in error
    assert "mapped" not in flow.data


def test_a_mapping_can_read_the_whole_items_and_the_skeleton(engine):
    items = {"x": 1, "y": 2}
    mapped = map_items(
        items,
        {
            "skeleton": {"task_type": "noop", "data": {"label": "sample"}},
            "wirings": [
                "ctx.items => ctx.skeleton.data.all",
                "ctx.skeleton.data.label => data.copied_label",
                "ctx.item.key => ctx.skeleton.data.key",
            ],
        },
        {},
        "mapping_params",
    )
    assert mapped == [
        {
            "task_type": "noop",
            "data": {"label": "sample", "all": items, "copied_label": "sample", "key": "x"},
        },
        {
            "task_type": "noop",
            "data": {"label": "sample", "all": items, "copied_label": "sample", "key": "y"},
        },
    ]


def test_spread_accepts_the_old_mapping_dest(engine, capsys):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "spreader",
                    "task_type": "spread",
                    "task_params": {
                        "items": ["item_0", "item_1"],
                        "mapping_params": {
                            "skeleton": SKELETON,
                            "wirings": ["ctx.item.value => ctx.skeleton.task_params.msg"],
                        },
                    },
                }
            ]
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "item_0\nitem_1\n"


def test_spread_refuses_an_ambiguous_mapping_dest_before_making_any_task(engine, capsys):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "spreader",
                    "task_type": "spread",
                    "task_params": {
                        "items": ["item_0"],
                        "mapping_params": {
                            "skeleton": SKELETON,
                            "wirings": ["ctx.item.value => ctx.msg"],
                        },
                    },
                }
            ]
        }
    )
    with pytest.raises(FlowError, match="ambiguous in a mapping"):
        engine.run_flow(flow)
    assert "proxied_task" not in flow.tasks["spreader"]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "spelling", ["mc.tasks.inline_flow", "mc.tasks.flow", "inline_flow", "flow"]
)
def test_spread_accepts_the_old_container_task_types(engine, capsys, spelling):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "s",
                    "task_type": "spread",
                    "task_params": {
                        "container_task_type": spelling,
                        "items": ["a"],
                        "mapping_params": {
                            "skeleton": SKELETON,
                            "wirings": ["ctx.item.value => task_params.msg"],
                        },
                    },
                }
            ]
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "a\n"


def test_spread_refuses_another_container_task_type(engine):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "s",
                    "task_type": "spread",
                    "task_params": {
                        "container_task_type": "stored_flow",
                        "items": ["a"],
                        "mapping_params": {"skeleton": SKELETON},
                    },
                }
            ]
        }
    )
    with pytest.raises(FlowError, match="container_task_type 'stored_flow' is not supported"):
        engine.run_flow(flow)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ({"type": "json.dumps"}, '{"a": 1}'),
        ("json.dumps", '{"a": 1}'),
    ],
)
def test_a_transform_may_be_a_dict_with_a_type(engine, transform, expected):
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": {"a": 1}},
            "tasks": [
                {
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [
                            {
                                "source": "ctx.flow.data.x",
                                "dest": "ctx.flow.data.y",
                                "transform": transform,
                            }
                        ]
                    },
                }
            ],
        }
    )
    engine.run_flow(flow)
    assert flow.data["y"] == expected


def test_json_loads_transform_as_a_dict(engine):
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": "[1, 2]"},
            "tasks": [
                {
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [
                            {
                                "source": "ctx.flow.data.x",
                                "dest": "ctx.flow.data.y",
                                "transform": {"type": "json.loads"},
                            }
                        ]
                    },
                }
            ],
        }
    )
    engine.run_flow(flow)
    assert flow.data["y"] == [1, 2]


def test_mapping_transform_with_params_in_the_transform_dict(engine):
    flow = mapping_wire_flow(
        engine,
        None,
        transform={
            "type": "mapping",
            "params": {
                "skeleton": SKELETON,
                "wirings": ["ctx.item.value => ctx.skeleton.task_params.msg"],
            },
        },
    )
    engine.run_flow(flow)
    assert [t["task_params"]["msg"] for t in flow.data["mapped"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        (
            {
                "transform": {"type": "mapping", "params": {"skeleton": {}}},
                "mapping_params": {"skeleton": {}},
            },
            "the mapping's params are given twice",
        ),
        (
            {"transform": {"type": "json.dumps", "params": {}}},
            "only the 'mapping' transform takes params",
        ),
        (
            {"transform": {"type": "yaml.dump"}},
            "w.transform.type: expected one of json.dumps, json.loads, mapping",
        ),
        ({"transform": {"name": "json.dumps"}}, "w.transform: unknown key 'name'"),
        ({"transform": {"type": "mapping"}}, "the 'mapping' transform needs a dict"),
        (
            {"transform": "eval"},
            "w.transform: expected one of json.dumps, json.loads, mapping, got 'eval'",
        ),
    ],
)
def test_a_bad_or_ambiguous_transform_is_refused(wiring, message):
    with pytest.raises(WiringError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_wiring({"source": "ctx.x", "dest": "ctx.y", **wiring}, "w")


def test_a_refused_transform_fails_the_wire_task_and_writes_nothing(engine):
    flow = engine.flow_spec_to_flow(
        {
            "data": {"x": 1},
            "tasks": [
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [
                            {
                                "source": "ctx.flow.data.x",
                                "dest": "ctx.flow.data.y",
                                "transform": {"type": "pickle.loads"},
                            }
                        ]
                    },
                }
            ],
        }
    )
    with pytest.raises(FlowError):
        engine.run_flow(flow)
    assert "y" not in flow.data
    assert flow.tasks["w"]["status"] == FAILED
    assert flow.tasks["w"].get("status") != COMPLETED
