"""Provenance chains: which tasks fed a task, through $ctx paths, wires and spreads."""

from __future__ import annotations

import pytest

from mc.errors import FlowError
from mc.flows import Flow, FlowEngine
from mc.flows.provenance import provenance_chain


def run(tasks, data=None):
    return (
        FlowEngine()
        .run_flow(Flow.from_flow_spec({"key": "f", "data": data or {}, "tasks": tasks}))
        .to_flow_dict()
    )


def paths(node):
    return [n.path for n in node.walk()]


def test_a_ctx_path_to_a_task_makes_it_a_feeder():
    flow = run(
        [
            {"key": "a", "task_type": "noop", "data": {"x": 1}},
            {"key": "b", "task_type": "noop", "task_params": {"x": "$ctx.flow.tasks.a.data.x"}},
        ]
    )
    chain = provenance_chain(flow, "b")
    assert paths(chain) == ["b", "a"]
    assert chain.feeders[0].via == ["$ctx.flow.tasks.a.data.x"]


def test_precursors_alone_feed_nothing():
    flow = run([{"key": "a", "task_type": "noop"}, {"key": "b", "task_type": "noop"}])
    assert paths(provenance_chain(flow, "b")) == ["b"]


def test_flow_data_read_is_fed_by_the_wire_that_wrote_it_and_its_source():
    flow = run(
        [
            {"key": "a", "task_type": "noop", "data": {"x": {"y": 1}}},
            {
                "key": "w",
                "task_type": "wire",
                "task_params": {"wirings": ["ctx.flow.tasks.a.data.x => ctx.flow.data.x"]},
            },
            {
                "key": "other",
                "task_type": "wire",
                "task_params": {"wirings": [{"value": 2, "dest": "ctx.flow.data.z"}]},
            },
            {"key": "b", "task_type": "noop", "task_params": {"y": "$ctx.flow.data.x.y"}},
        ]
    )
    assert paths(provenance_chain(flow, "b")) == ["b", "w", "a"]


def test_a_wire_into_a_tasks_params_feeds_that_task():
    flow = run(
        [
            {"key": "a", "task_type": "noop", "data": {"x": 1}},
            {
                "key": "w",
                "task_type": "wire",
                "task_params": {
                    "wirings": ["ctx.flow.tasks.a.data.x => ctx.flow.tasks.b.task_params.x"]
                },
            },
            {"key": "b", "task_type": "noop"},
        ]
    )
    chain = provenance_chain(flow, "b")
    assert paths(chain) == ["b", "w", "a"]
    assert chain.feeders[0].via[0].startswith("wiring ")


def test_a_spread_is_fed_by_its_items_and_its_inputs():
    flow = run(
        [
            {"key": "a", "task_type": "noop", "data": {"xs": [1, 2]}},
            {
                "key": "s",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.tasks.a.data.xs",
                    "mapping_params": {
                        "skeleton": {"key": "i", "task_type": "noop"},
                        "wirings": ["ctx.item.value => data.x"],
                    },
                },
            },
        ]
    )
    assert paths(provenance_chain(flow, "s")) == ["s", "a", "s/i_0", "s/i_1"]


def test_an_item_reading_the_parent_flow_is_fed_by_that_task():
    flow = run(
        [
            {"key": "scale", "task_type": "noop", "data": {"k": 3}},
            {
                "key": "s",
                "task_type": "spread",
                "task_params": {
                    "items": [1, 2],
                    "mapping_params": {
                        "skeleton": {
                            "key": "i",
                            "task_type": "noop",
                            "task_params": {"k": "$ctx.parent_flow.tasks.scale.data.k"},
                        },
                        "wirings": [],
                    },
                },
            },
        ]
    )
    chain = provenance_chain(flow, "s/i_1")
    assert paths(chain) == ["s/i_1", "scale", "s"]


def test_a_task_fed_twice_is_shown_once_then_marked_seen():
    flow = run(
        [
            {"key": "a", "task_type": "noop", "data": {"x": 1}},
            {"key": "b", "task_type": "noop", "task_params": {"x": "$ctx.flow.tasks.a.data.x"}},
            {
                "key": "c",
                "task_type": "noop",
                "task_params": {"x": "$ctx.flow.tasks.a.data.x", "y": "$ctx.flow.tasks.b.data"},
            },
        ]
    )
    chain = provenance_chain(flow, "c")
    assert [(n.path, n.seen) for n in chain.walk()] == [
        ("c", False),
        ("a", False),
        ("b", False),
        ("a", True),
    ]


def test_an_unknown_task_is_an_error_naming_the_flow_and_the_known_tasks():
    flow = run([{"key": "a", "task_type": "noop"}])
    with pytest.raises(FlowError, match=r"flow 'f': the flow has no task 'z' \(it has: a\)"):
        provenance_chain(flow, "z")


def test_a_path_through_a_task_without_items_is_an_error():
    flow = run([{"key": "a", "task_type": "noop"}])
    with pytest.raises(FlowError, match="has no tasks of its own"):
        provenance_chain(flow, "a/b")


def test_to_dict_carries_cache_and_provenance_fields():
    flow = run([{"key": "a", "task_type": "noop"}])
    node = provenance_chain(flow, "a").to_dict()
    assert node["path"] == "a" and node["status"] == "COMPLETED"
    assert node["provenance"]["task_type"] == "noop"
    assert node["feeders"] == []
