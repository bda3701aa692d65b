"""upgrade_flow_spec: MissionControl 0.x specs rewritten in today's spelling."""

from __future__ import annotations

import copy

import pytest

from mc.flows import FlowEngine
from mc.flows.upgrade import upgrade_flow_spec

OLD_SPREAD = {
    "label": "test_flow",
    "status": "PENDING",
    "tasks": [
        {
            "key": "spreader",
            "task_type": "spread",
            "task_params": {
                "container_task_type": "mc.tasks.inline_flow",
                "items": ["item_0", "item_1"],
                "mapping_params": {
                    "skeleton": {
                        "task_type": "mc.tasks.print",
                        "task_params": {"msg": "TO BE WIRED"},
                    },
                    "wirings": ["ctx.item.value => ctx.skeleton.task_params.msg"],
                },
            },
        }
    ],
}


def test_upgrade_rewrites_a_0x_spread_and_lists_each_change():
    result = upgrade_flow_spec(OLD_SPREAD)
    assert result.ok
    assert result.spec == {
        "label": "test_flow",
        "tasks": [
            {
                "key": "spreader",
                "task_type": "spread",
                "task_params": {
                    "items": ["item_0", "item_1"],
                    "mapping_params": {
                        "skeleton": {"task_type": "print", "task_params": {"msg": "TO BE WIRED"}},
                        "wirings": ["ctx.item.value => task_params.msg"],
                    },
                },
            }
        ],
    }
    assert result.changes == [
        "status: removed (a new flow sets it)",
        "tasks[0].task_params.container_task_type: 'mc.tasks.inline_flow' removed "
        "(a spread's items run as an inline child flow)",
        "tasks[0].task_params.mapping_params.wirings[0]: dest "
        "'ctx.skeleton.task_params.msg' -> 'task_params.msg'",
        "tasks[0].task_params.mapping_params.skeleton.task_type: 'mc.tasks.print' -> 'print'",
    ]


def test_upgrade_does_not_change_its_argument():
    before = copy.deepcopy(OLD_SPREAD)
    upgrade_flow_spec(OLD_SPREAD)
    assert before == OLD_SPREAD


def test_upgrading_twice_changes_nothing_more():
    once = upgrade_flow_spec(OLD_SPREAD)
    twice = upgrade_flow_spec(once.spec)
    assert twice.spec == once.spec
    assert twice.changes == []


def test_upgraded_and_original_spec_run_the_same(capsys):
    engine = FlowEngine()
    engine.run_flow(engine.flow_spec_to_flow(upgrade_flow_spec(OLD_SPREAD).spec))
    new_out = capsys.readouterr().out
    engine.run_flow(
        engine.flow_spec_to_flow({k: v for k, v in OLD_SPREAD.items() if k != "status"})
    )
    assert capsys.readouterr().out == new_out == "item_0\nitem_1\n"


def test_upgrade_rewrites_transform_dicts_into_names_and_mapping_params():
    spec = {
        "tasks": [
            {
                "task_type": "wire",
                "task_params": {
                    "wirings": [
                        {
                            "source": "ctx.flow.data.x",
                            "dest": "ctx.flow.data.y",
                            "transform": {"type": "json.dumps"},
                        },
                        {
                            "source": "ctx.flow.data.x",
                            "dest": "ctx.flow.data.z",
                            "transform": {
                                "type": "mapping",
                                "params": {
                                    "skeleton": {},
                                    "wirings": [
                                        {"source": "ctx.item.value", "dest": "ctx.skeleton.v"}
                                    ],
                                },
                            },
                        },
                    ]
                },
            }
        ]
    }
    result = upgrade_flow_spec(spec)
    assert result.ok
    assert result.spec["tasks"][0]["task_params"]["wirings"] == [
        {"source": "ctx.flow.data.x", "dest": "ctx.flow.data.y", "transform": "json.dumps"},
        {
            "source": "ctx.flow.data.x",
            "dest": "ctx.flow.data.z",
            "transform": "mapping",
            "mapping_params": {
                "skeleton": {},
                "wirings": [{"source": "ctx.item.value", "dest": "v"}],
            },
        },
    ]


def test_upgrade_rewrites_log_params_and_keeps_the_old_default_level():
    spec = {
        "tasks": [
            {"task_type": "mc.tasks.log", "task_params": {"msg": "a", "logger_name": "lab"}},
            {"task_type": "log", "task_params": {"msg": "b", "log_level": "DEBUG"}},
        ]
    }
    result = upgrade_flow_spec(spec)
    assert [t["task_params"] for t in result.spec["tasks"]] == [
        {"msg": "a", "logger": "lab", "level": "WARNING"},
        {"msg": "b", "level": "DEBUG"},
    ]
    assert result.spec["tasks"][0]["task_type"] == "log"


def test_upgrade_rewrites_the_interpolation_opt_out():
    spec = {
        "tasks": [
            {"task_type": "print", "_mc_no_interpolate": True, "task_params": {"msg": "$HOME"}}
        ]
    }
    result = upgrade_flow_spec(spec)
    assert result.spec["tasks"][0] == {
        "task_type": "print",
        "interpolate": False,
        "task_params": {"msg": "$HOME"},
    }


def test_upgrade_points_a_spread_skeletons_paths_at_the_spreads_flow():
    spec = {
        "data": {"greeting": "hi"},
        "tasks": [
            {
                "key": "s",
                "task_type": "spread",
                "data": {"n": 2},
                "task_params": {
                    "items": [1],
                    "mapping_params": {
                        "skeleton": {
                            "task_type": "print",
                            "task_params": {
                                "msg": "$ctx.flow.data.greeting",
                                "n": "$ctx.task.data.n",
                            },
                        }
                    },
                },
            }
        ],
    }
    result = upgrade_flow_spec(spec)
    skeleton = result.spec["tasks"][0]["task_params"]["mapping_params"]["skeleton"]
    assert skeleton["task_params"] == {
        "msg": "$ctx.parent_flow.data.greeting",
        "n": "$ctx.parent_flow.tasks.s.data.n",
    }


def test_upgrade_walks_switch_cases_and_subflow_specs():
    spec = {
        "tasks": [
            {
                "task_type": "mc.tasks.switch",
                "task_params": {
                    "control_value": 1,
                    "cases": [
                        {
                            "condition": {"op": "eq", "arg": 1},
                            "task": {"task_type": "mc.tasks.noop"},
                        }
                    ],
                    "default_case": {
                        "task": {"task_type": "mc.tasks.print", "task_params": {"msg": "d"}}
                    },
                },
            },
            {
                "task_type": "mc.tasks.flow",
                "task_params": {
                    "flow_spec": {"tasks": [{"task_type": "mc.tasks.noop", "status": "PENDING"}]}
                },
            },
        ]
    }
    result = upgrade_flow_spec(spec)
    assert result.ok, result.problems
    switch, subflow = result.spec["tasks"]
    assert switch["task_type"] == "switch"
    assert switch["task_params"]["cases"][0]["task"]["task_type"] == "noop"
    assert switch["task_params"]["default_case"]["task"]["task_type"] == "print"
    assert subflow["task_type"] == "flow"
    assert subflow["task_params"]["flow_spec"]["tasks"] == [{"task_type": "noop"}]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {"tasks": [{"task_type": "my_lab.relax_task"}]},
            "tasks[0].task_type: 'my_lab.relax_task' is a dotted name, which 0.x imported as "
            "my_lab.relax_task_handler:TaskHandler",
        ),
        (
            {"tasks": [{"key": "my.task", "task_type": "noop"}]},
            "tasks[0].key: 'my.task' is not an identifier",
        ),
        (
            {"tasks": [{"task_type": "noop", "answer": "yes"}]},
            "tasks[0].answer: unknown key; move the value into the task's data or task_params",
        ),
        (
            {
                "tasks": [
                    {
                        "task_type": "switch",
                        "task_params": {
                            "control_value": 1,
                            "cases": [
                                {
                                    "condition": {"op": "methodcaller", "arg": "system"},
                                    "task": {"task_type": "noop"},
                                }
                            ],
                        },
                    }
                ]
            },
            "tasks[0].task_params.cases[0].condition.op: 'methodcaller' is not allowed",
        ),
        (
            {
                "tasks": [
                    {"task_type": "print", "task_params": {"msg": "$ctx.flow.data.d.values()"}}
                ]
            },
            "tasks[0].task_params.msg: '$ctx.flow.data.d.values()' calls a method",
        ),
        (
            {
                "tasks": [
                    {
                        "task_type": "wire",
                        "task_params": {
                            "wirings": ["ctx.flow.data.d.items() => ctx.flow.data.pairs"]
                        },
                    }
                ]
            },
            "tasks[0].task_params.wirings[0] (source): 'ctx.flow.data.d.items()' calls a method",
        ),
        (
            {"tasks": [{"task_type": "noop", "data": {"x": "$ctx.flow.key"}}]},
            "tasks[0].data.x: 0.x interpolated '$' strings anywhere in a task",
        ),
        (
            {"tasks": [{"task_type": "log", "task_params": {"dump_task_ctx": True}}]},
            "tasks[0].task_params.dump_task_ctx: not supported",
        ),
        (
            {
                "tasks": [
                    {
                        "task_type": "spread",
                        "task_params": {
                            "container_task_type": "my.flow",
                            "items": [],
                            "mapping_params": {"skeleton": {}},
                        },
                    }
                ]
            },
            "tasks[0].task_params.container_task_type: 'my.flow' is not supported",
        ),
        (
            {
                "tasks": [
                    {
                        "task_type": "spread",
                        "task_params": {
                            "items": [],
                            "mapping_params": {
                                "skeleton": {},
                                "wirings": ["ctx.item.value => ctx.flow.data.x"],
                            },
                        },
                    }
                ]
            },
            "tasks[0].task_params.mapping_params.wirings[0]: dest 'ctx.flow.data.x' is ambiguous",
        ),
        (
            {"tasks": [{"task_type": "noop", "_mc_no_interpolate": False}]},
            "tasks[0]._mc_no_interpolate: 0.x turned interpolation off whatever its value",
        ),
        (
            {"key": "k", "graph": {"tasks": {}, "edges": []}, "status": "RUNNING"},
            "flow spec: this is a 0.x flow dict",
        ),
        ({"status": "COMPLETED", "tasks": []}, "status: unknown key"),
        (
            {"cfg": {"fail_fast": True, "max_ticks": 3}, "tasks": []},
            "cfg.max_ticks: unknown setting",
        ),
        (
            {"tasks": [{"task_type": "noop", "precursors": ["nope"]}]},
            "tasks[0].precursors[0]: unknown task key 'nope'",
        ),
    ],
)
def test_upgrade_reports_what_it_cannot_convert(spec, problem):
    result = upgrade_flow_spec(spec)
    assert not result.ok
    assert any(line.startswith(problem) for line in result.problems), result.problems


def test_a_colon_task_type_is_left_as_is_with_a_note():
    result = upgrade_flow_spec({"tasks": [{"task_type": "my_lab.tasks:relax"}]})
    assert result.ok
    assert result.spec["tasks"][0]["task_type"] == "my_lab.tasks:relax"
    assert "--allow-imports my_lab.tasks" in result.changes[0]


def test_upgrade_never_imports_what_a_spec_names(monkeypatch):
    import builtins

    real_import = builtins.__import__
    imported = []

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    upgrade_flow_spec({"tasks": [{"task_type": "os.system_task"}, {"task_type": "os:system"}]})
    assert not any(name.startswith("os") for name in imported)


def test_upgrade_points_a_switch_case_tasks_task_paths_at_the_switch():
    spec = {
        "tasks": [
            {
                "key": "pick",
                "task_type": "switch",
                "data": {"x": 1},
                "task_params": {
                    "control_value": 1,
                    "cases": [
                        {
                            "condition": {"op": "eq", "arg": 1},
                            "task": {
                                "task_type": "print",
                                "task_params": {"msg": "$ctx.task.data.x", "flow": "$ctx.flow.key"},
                            },
                        }
                    ],
                },
            }
        ]
    }
    result = upgrade_flow_spec(spec)
    case_task = result.spec["tasks"][0]["task_params"]["cases"][0]["task"]
    assert case_task["task_params"] == {"msg": "$ctx.proxy_task.data.x", "flow": "$ctx.flow.key"}


def test_upgraded_switch_case_reads_the_switch_as_0x_did(capsys):
    spec = {
        "tasks": [
            {
                "key": "pick",
                "task_type": "switch",
                "data": {"x": "from the switch"},
                "task_params": {
                    "control_value": 1,
                    "cases": [
                        {
                            "condition": {"op": "eq", "arg": 1},
                            "task": {
                                "task_type": "print",
                                "task_params": {"msg": "$ctx.task.data.x"},
                            },
                        }
                    ],
                },
            }
        ]
    }
    engine = FlowEngine()
    engine.run_flow(engine.flow_spec_to_flow(upgrade_flow_spec(spec).spec))
    assert capsys.readouterr().out == "from the switch\n"


def test_upgraded_subflow_reads_the_parent_flow_as_0x_did(capsys):
    spec = {
        "data": {"who": "parent"},
        "tasks": [
            {
                "key": "sub",
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
    result = upgrade_flow_spec(spec)
    engine = FlowEngine()
    engine.run_flow(engine.flow_spec_to_flow(result.spec))
    assert capsys.readouterr().out == "parent\n"


def test_upgrade_leaves_the_paths_of_a_persistent_0x_subflow_alone():
    spec = {
        "tasks": [
            {
                "key": "sub",
                "task_type": "mc.tasks.flow",
                "task_params": {
                    "flow_spec": {
                        "tasks": [{"task_type": "print", "task_params": {"msg": "$ctx.flow.key"}}]
                    }
                },
            }
        ]
    }
    result = upgrade_flow_spec(spec)
    child = result.spec["tasks"][0]["task_params"]["flow_spec"]["tasks"][0]
    assert child["task_params"] == {"msg": "$ctx.flow.key"}


def test_upgrade_reports_outer_paths_nested_too_deep_to_name():
    spec = {
        "tasks": [
            {
                "key": "sub",
                "task_type": "flow",
                "task_params": {
                    "flow_spec": {
                        "tasks": [
                            {
                                "key": "inner",
                                "task_type": "flow",
                                "task_params": {
                                    "flow_spec": {
                                        "tasks": [
                                            {
                                                "task_type": "print",
                                                "task_params": {"msg": "$ctx.flow.key"},
                                            }
                                        ]
                                    }
                                },
                            }
                        ]
                    }
                },
            }
        ]
    }
    result = upgrade_flow_spec(spec)
    assert not result.ok
    assert "0.x resolved '$ctx.flow.key' in the context of an outer task" in result.problems[0]
