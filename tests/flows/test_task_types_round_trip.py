"""Every built-in task type survives a JSON round trip of its flow between every tick."""

from __future__ import annotations

import json
import logging

import pytest

from mc.flows import COMPLETED, FAILED, BaseTaskHandler, Flow
from mc.flows.task_types import BUILTIN_TASK_TYPES


class TwoTickSquare(BaseTaskHandler):
    """Squares ``x`` on its second tick, so that state must survive in between."""

    def initial_tick(self):
        self.task["data"]["started"] = True

    def intermediate_tick(self):
        x = self.task["task_params"]["x"]
        self.task["data"] = {"square": x * x}
        self.task["status"] = COMPLETED


SPECS = {
    "print": {
        "tasks": [
            {"task_type": "print", "task_params": {"msg": "$ctx.flow.data.msg"}},
            {"task_type": "print", "task_params": {"msg": "\\$ literal"}},
        ],
        "data": {"msg": "hello"},
    },
    "log": {
        "tasks": [
            {
                "task_type": "log",
                "task_params": {"msg": "logged", "level": "WARNING", "logger": "tests.round_trip"},
            }
        ]
    },
    "noop": {"tasks": [{"task_type": "noop"}, {"task_type": "noop"}]},
    "wire": {
        "data": {"xs": [1, 2]},
        "tasks": [
            {
                "key": "w",
                "task_type": "wire",
                "task_params": {
                    "wirings": [
                        "ctx.flow.data.xs => ctx.flow.data.copy",
                        {
                            "source": "ctx.flow.data.xs",
                            "dest": "ctx.flow.tasks.p.task_params.msg",
                            "transform": "json.dumps",
                        },
                        {
                            "source": "ctx.flow.data.xs",
                            "dest": "ctx.flow.data.mapped",
                            "transform": "mapping",
                            "mapping_params": {
                                "skeleton": {"n": 0},
                                "wirings": ["ctx.item.value => n"],
                            },
                        },
                    ]
                },
            },
            {"key": "p", "task_type": "print"},
        ],
    },
    "switch": {
        "data": {"score": 7},
        "tasks": [
            {
                "key": "sw",
                "task_type": "switch",
                "task_params": {
                    "control_value": "$ctx.flow.data.score",
                    "cases": [
                        {"condition": {"op": "lt", "arg": 5}, "task": {"task_type": "noop"}},
                        {
                            "condition": {"op": "ge", "arg": 5},
                            "task": {
                                "task_type": "two_tick_square",
                                "task_params": {"x": "$ctx.flow.data.score"},
                            },
                        },
                    ],
                    "default_case": {"task": {"task_type": "noop"}},
                },
            },
            {"task_type": "print", "task_params": {"msg": "$ctx.flow.tasks.sw.data.square"}},
        ],
    },
    "spread": {
        "tasks": [
            {
                "key": "items",
                "task_type": "wire",
                "task_params": {
                    "wirings": [{"value": {"a": 1, "b": 2, "c": 3}, "dest": "ctx.task.data.items"}]
                },
            },
            {
                "key": "sp",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.tasks.items.data.items",
                    "fail_fast": False,
                    "mapping_params": {
                        "skeleton": {"key": "sq", "task_type": "two_tick_square"},
                        "wirings": ["ctx.item.value => task_params.x"],
                    },
                },
            },
            {"task_type": "print", "task_params": {"msg": "$ctx.flow.tasks.sp.data.results"}},
        ]
    },
    "flow": {
        "key": "outer",
        "tasks": [
            {
                "key": "sub",
                "task_type": "flow",
                "task_params": {
                    "flow_spec": {
                        "tasks": [
                            {"key": "sq", "task_type": "two_tick_square", "task_params": {"x": 4}},
                            {
                                "key": "nested",
                                "task_type": "flow",
                                "task_params": {
                                    "flow_spec": {
                                        "tasks": [
                                            {
                                                "task_type": "print",
                                                "task_params": {
                                                    "msg": "$ctx.parent_flow.tasks.sq.data.square"
                                                },
                                            },
                                        ]
                                    }
                                },
                            },
                        ]
                    }
                },
            },
        ],
    },
}


def test_every_built_in_task_type_is_covered():
    assert set(SPECS) == set(BUILTIN_TASK_TYPES)


def run(engine, clock, spec, round_trips):
    flow = engine.flow_spec_to_flow({"key": "rt", **spec})
    for _ in range(30):
        if flow.finished:
            break
        engine.tick_flow(flow)
        clock.advance(1)
        if round_trips:
            flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
    assert flow.finished
    return flow


@pytest.mark.parametrize("task_type", sorted(SPECS))
def test_round_trip_between_every_tick_ends_as_in_memory(engine, clock, capsys, caplog, task_type):
    engine.register_task_type("two_tick_square", TwoTickSquare)
    caplog.set_level(logging.WARNING, logger="tests.round_trip")
    start = clock.now
    in_memory = run(engine, clock, SPECS[task_type], round_trips=False)
    in_memory_out = capsys.readouterr().out
    in_memory_log = [record.getMessage() for record in caplog.records]
    caplog.clear()
    clock.now = start
    restored = run(engine, clock, SPECS[task_type], round_trips=True)
    assert restored.status == COMPLETED, restored.data.get("errors")
    assert restored.to_flow_dict() == in_memory.to_flow_dict()
    assert capsys.readouterr().out == in_memory_out
    assert [record.getMessage() for record in caplog.records] == in_memory_log


@pytest.mark.parametrize(
    ("task_type", "expected_out"),
    [
        ("print", "hello\n$ literal\n"),
        ("wire", "[1, 2]\n"),
        ("switch", "49\n"),
        ("spread", "[{'square': 1}, {'square': 4}, {'square': 9}]\n"),
        ("flow", "16\n"),
    ],
)
def test_round_tripped_flows_print_what_they_should(engine, clock, capsys, task_type, expected_out):
    engine.register_task_type("two_tick_square", TwoTickSquare)
    run(engine, clock, SPECS[task_type], round_trips=True)
    assert capsys.readouterr().out == expected_out


def test_round_tripped_wire_flow_has_the_wired_data(engine, clock):
    flow = run(engine, clock, SPECS["wire"], round_trips=True)
    assert flow.data["copy"] == [1, 2]
    assert flow.data["mapped"] == [{"n": 1}, {"n": 2}]


def test_round_tripped_log_task_logs_once(engine, clock, caplog):
    caplog.set_level(logging.WARNING, logger="tests.round_trip")
    run(engine, clock, SPECS["log"], round_trips=True)
    assert [record.getMessage() for record in caplog.records] == ["logged"]


def test_round_trip_of_a_failing_spread_ends_as_in_memory(engine, clock):
    def explode(task_ctx):
        raise RuntimeError("boom")

    engine.register_task_type("explode", explode)
    engine.register_task_type("two_tick_square", TwoTickSquare)
    spec = {
        "tasks": [
            {
                "key": "sp",
                "task_type": "spread",
                "task_params": {
                    "items": [1, 2],
                    "mapping_params": {
                        "skeleton": {"task_type": "two_tick_square"},
                        "wirings": [
                            "ctx.item.value => task_params.x",
                            {"value": "explode", "dest": "task_type"},
                        ],
                    },
                },
            }
        ]
    }
    start = clock.now
    in_memory = run(engine, clock, spec, round_trips=False)
    clock.now = start
    restored = run(engine, clock, spec, round_trips=True)
    assert restored.status == FAILED
    assert restored.to_flow_dict() == in_memory.to_flow_dict()
