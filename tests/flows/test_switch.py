"""The ``switch`` task type: pick a task by comparing a value, and run it in the switch's place."""

from __future__ import annotations

import pytest

from mc.flows import COMPLETED, FAILED, RUNNING, BaseTaskHandler


def set_data(task_ctx):
    task = task_ctx["task"]
    task["data"].update(task["task_params"])
    task["status"] = COMPLETED


class CompleteOnThirdTick(BaseTaskHandler):
    """Completes on its 3rd tick, with data naming the ticks it saw."""

    def initial_tick(self):
        self.task["data"]["ticks"] = 1

    def intermediate_tick(self):
        self.task["data"]["ticks"] += 1
        if self.task["data"]["ticks"] == 3:
            self.task["data"]["result"] = self.task["task_params"]["result"]
            self.task["status"] = COMPLETED


def case(op, arg, name):
    return {
        "condition": {"op": op, "arg": arg},
        "task": {"task_type": "set_data", "task_params": {"chosen": name}},
    }


def switch_flow(engine, control_value, cases, default_case=None):
    engine.register_task_type("set_data", set_data, replace=True)
    params = {"control_value": control_value, "cases": cases}
    if default_case is not None:
        params["default_case"] = default_case
    return engine.flow_spec_to_flow(
        {"key": "sw_flow", "tasks": [{"key": "sw", "task_type": "switch", "task_params": params}]}
    )


def run(engine, flow, ticks=10):
    for _ in range(ticks):
        if flow.finished:
            break
        engine.tick_flow(flow)
    return flow


@pytest.mark.parametrize(
    ("op", "control", "arg"),
    [
        ("eq", 5, 5),
        ("ne", 5, 6),
        ("lt", 5, 6),
        ("le", 5, 5),
        ("gt", 5, 4),
        ("ge", 5, 5),
        ("contains", ["a", "b"], "b"),
        ("contains", "silicon", "lic"),
        ("is_", None, None),
        ("is_not", 0, None),
        ("truth", [1], None),
    ],
)
def test_each_allowed_op_selects_its_case_when_it_holds(engine, op, control, arg):
    flow = run(engine, switch_flow(engine, control, [case(op, arg, op)]))
    assert flow.status == COMPLETED
    assert flow.tasks["sw"]["data"] == {"chosen": op}


@pytest.mark.parametrize(
    ("op", "control", "arg"),
    [
        ("eq", 5, 6),
        ("ne", 5, 5),
        ("lt", 5, 5),
        ("le", 5, 4),
        ("gt", 5, 5),
        ("ge", 5, 6),
        ("contains", ["a", "b"], "c"),
        ("is_", 0, None),
        ("is_not", None, None),
        ("truth", [], None),
    ],
)
def test_each_allowed_op_skips_its_case_when_it_does_not_hold(engine, op, control, arg):
    flow = run(
        engine,
        switch_flow(
            engine,
            control,
            [case(op, arg, op)],
            {"task": {"task_type": "set_data", "task_params": {"chosen": "default"}}},
        ),
    )
    assert flow.tasks["sw"]["data"] == {"chosen": "default"}


def test_truth_needs_no_arg(engine):
    flow = run(
        engine,
        switch_flow(
            engine,
            "yes",
            [
                {
                    "condition": {"op": "truth"},
                    "task": {"task_type": "set_data", "task_params": {"c": 1}},
                }
            ],
        ),
    )
    assert flow.tasks["sw"]["data"] == {"c": 1}


def test_first_matching_case_wins(engine):
    flow = run(
        engine,
        switch_flow(
            engine, 10, [case("lt", 5, "small"), case("gt", 5, "big"), case("gt", 1, "also big")]
        ),
    )
    assert flow.tasks["sw"]["data"] == {"chosen": "big"}
    assert flow.tasks["sw"]["selected_case"] == 1


def test_default_case_runs_when_nothing_matches(engine):
    flow = run(
        engine,
        switch_flow(
            engine,
            3,
            [case("eq", 1, "one")],
            {"task": {"task_type": "set_data", "task_params": {"chosen": "other"}}},
        ),
    )
    assert flow.tasks["sw"]["data"] == {"chosen": "other"}
    assert flow.tasks["sw"]["selected_case"] == "default"


def test_no_match_and_no_default_fails_with_a_clear_message(engine):
    flow = run(engine, switch_flow(engine, 3, [case("eq", 1, "one"), case("gt", 7, "big")]))
    assert flow.status == FAILED
    assert flow.tasks["sw"]["status"] == FAILED
    assert (
        "task 'sw': no case matched control_value 3 (tried: eq 1; gt 7), and there is no "
        "default_case"
    ) in flow.data["errors"][0]


@pytest.mark.parametrize("op", ["attrgetter", "__import__", "call", "setitem", "eval", "add"])
def test_op_outside_the_allow_list_fails_the_task(engine, op):
    flow = run(engine, switch_flow(engine, 1, [case(op, "x", "bad")]))
    assert flow.tasks["sw"]["status"] == FAILED
    assert (
        f"task_params.cases[0].condition.op: {op!r} is not allowed (expected one of eq, ne"
        in (flow.data["errors"][0])
    )
    assert "proxied_task" not in flow.tasks["sw"]


def test_a_bad_op_in_a_later_case_fails_even_if_an_earlier_case_matches(engine):
    flow = run(
        engine, switch_flow(engine, 1, [case("eq", 1, "one"), case("attrgetter", "x", "bad")])
    )
    assert flow.tasks["sw"]["status"] == FAILED
    assert "cases[1].condition.op" in flow.data["errors"][0]


def test_incomparable_values_fail_clearly(engine):
    flow = run(engine, switch_flow(engine, "five", [case("lt", 3, "small")]))
    assert flow.tasks["sw"]["status"] == FAILED
    assert (
        "task_params.cases[0].condition: cannot apply lt to 'five' and 3: '<' not supported "
        "between instances of 'str' and 'int'"
    ) in flow.data["errors"][0]


def test_contains_on_a_number_fails_clearly(engine):
    flow = run(engine, switch_flow(engine, 5, [case("contains", 3, "x")]))
    assert "cannot apply contains to 5 and 3" in flow.data["errors"][0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cases": []}, "task 'sw': missing task_params.control_value"),
        ({"control_value": 1}, "task 'sw': missing task_params.cases"),
        ({"control_value": 1, "cases": {}}, "task_params.cases must be list"),
        ({"control_value": 1, "cases": ["eq"]}, "task_params.cases[0]: expected {'condition'"),
        (
            {
                "control_value": 1,
                "cases": [{"condition": {"arg": 1}, "task": {"task_type": "noop"}}],
            },
            "task_params.cases[0].condition: expected {'op': OP, 'arg': ARG}",
        ),
        (
            {
                "control_value": 1,
                "cases": [{"condition": {"op": "eq"}, "task": {"task_type": "noop"}}],
            },
            "task_params.cases[0].condition: op 'eq' needs an 'arg'",
        ),
        (
            {"control_value": 1, "cases": [{"condition": {"op": "eq", "arg": 1}}]},
            "task_params.cases[0].task: expected a task spec",
        ),
        (
            {
                "control_value": 1,
                "cases": [
                    {
                        "condition": {"op": "eq", "arg": 1},
                        "task": {"task_type": "noop", "precursors": ["x"]},
                    }
                ],
            },
            "task_params.cases[0].task.precursors: a proxied task has no edges of its own",
        ),
        (
            {
                "control_value": 1,
                "cases": [
                    {
                        "condition": {"op": "eq", "arg": 1},
                        "task": {"task_type": "noop", "retries": 2},
                    }
                ],
            },
            "task_params.cases[0].task: a proxied task cannot have retries",
        ),
        (
            {
                "control_value": 1,
                "cases": [{"condition": {"op": "eq", "arg": 1}, "task": {"tsk_type": "noop"}}],
            },
            "task_params.cases[0].task.tsk_type: unknown key",
        ),
        (
            {"control_value": 1, "cases": [], "default_case": {"tsk": {}}},
            "task_params.default_case.task must be a task spec",
        ),
        (
            {
                "control_value": 1,
                "cases": [],
                "default_case": {"task": {"task_type": "noop", "timeout_s": 3}},
            },
            "task_params.default_case.task: a proxied task cannot have timeout_s",
        ),
    ],
)
def test_malformed_switch_params_fail_the_task_naming_the_param(engine, params, message):
    engine.register_task_type("set_data", set_data)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "sw", "task_type": "switch", "task_params": params}]}
    )
    run(engine, flow)
    assert flow.tasks["sw"]["status"] == FAILED
    assert message in flow.data["errors"][0]


def test_control_value_is_usually_interpolated_from_an_earlier_task(engine):
    engine.register_task_type("set_data", set_data)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "check", "task_type": "set_data", "task_params": {"score": 0.9}},
                {
                    "key": "sw",
                    "task_type": "switch",
                    "task_params": {
                        "control_value": "$ctx.flow.tasks.check.data.score",
                        "cases": [case("ge", 0.8, "good"), case("ge", 0.0, "poor")],
                    },
                },
            ]
        }
    )
    run(engine, flow)
    assert flow.tasks["sw"]["data"] == {"chosen": "good"}


def test_case_arg_may_be_interpolated(engine):
    flow = run(engine, switch_flow(engine, 4, [case("eq", "$ctx.flow.data.target", "hit")]))
    # flow.data has no 'target': the arg's path fails, naming the case.
    assert (
        "task_params.cases[0].condition.arg: path 'ctx.flow.data.target'" in flow.data["errors"][0]
    )
    flow = switch_flow(engine, 4, [case("eq", "$ctx.flow.data.target", "hit")])
    flow.data["target"] = 4
    run(engine, flow)
    assert flow.tasks["sw"]["data"] == {"chosen": "hit"}


def test_chosen_tasks_data_becomes_the_switchs_data(engine):
    flow = run(
        engine,
        switch_flow(
            engine,
            1,
            [
                {
                    "condition": {"op": "eq", "arg": 1},
                    "task": {"task_type": "set_data", "task_params": {"a": 1, "b": [2, 3]}},
                }
            ],
        ),
    )
    assert flow.tasks["sw"]["data"] == {"a": 1, "b": [2, 3]}
    assert flow.tasks["sw"]["proxied_task"]["data"] == {"a": 1, "b": [2, 3]}


def test_chosen_tasks_params_are_interpolated_when_it_runs(engine, capsys):
    flow = run(
        engine,
        switch_flow(
            engine,
            "Cu",
            [
                {
                    "condition": {"op": "eq", "arg": "Cu"},
                    "task": {
                        "task_type": "print",
                        "task_params": {"msg": "$ctx.proxy_task.task_params.control_value"},
                    },
                }
            ],
        ),
    )
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "Cu\n"


def test_multi_tick_chosen_task_keeps_the_switch_running_until_it_completes(engine):
    engine.register_task_type("slow", CompleteOnThirdTick)
    flow = switch_flow(
        engine,
        1,
        [
            {
                "condition": {"op": "eq", "arg": 1},
                "task": {"task_type": "slow", "task_params": {"result": 42}},
            }
        ],
    )
    for _ in range(2):
        engine.tick_flow(flow)
        assert flow.tasks["sw"]["status"] == RUNNING
        assert flow.status == RUNNING
    engine.tick_flow(flow)
    assert flow.tasks["sw"]["status"] == COMPLETED
    assert flow.tasks["sw"]["data"] == {"ticks": 3, "result": 42}
    assert flow.status == COMPLETED


def test_case_is_chosen_once_even_if_the_control_value_changes(engine):
    engine.register_task_type("slow", CompleteOnThirdTick)
    flow = switch_flow(
        engine,
        "$ctx.flow.data.v",
        [
            {
                "condition": {"op": "eq", "arg": 1},
                "task": {"task_type": "slow", "task_params": {"result": "one"}},
            },
            {
                "condition": {"op": "eq", "arg": 2},
                "task": {"task_type": "slow", "task_params": {"result": "two"}},
            },
        ],
    )
    flow.data["v"] = 1
    engine.tick_flow(flow)
    flow.data["v"] = 2
    run(engine, flow)
    assert flow.tasks["sw"]["selected_case"] == 0
    assert flow.tasks["sw"]["data"]["result"] == "one"


def test_failing_case_task_fails_the_switch_with_its_error(engine):
    def explode(task_ctx):
        raise RuntimeError("detector offline")

    engine.register_task_type("explode", explode)
    flow = run(
        engine,
        switch_flow(
            engine, 1, [{"condition": {"op": "eq", "arg": 1}, "task": {"task_type": "explode"}}]
        ),
    )
    assert flow.status == FAILED
    assert flow.tasks["sw"]["status"] == FAILED
    assert flow.tasks["sw"]["error"] == "RuntimeError: detector offline"
    assert flow.data["errors"] == ["task 'sw' (switch): RuntimeError: detector offline"]


def test_case_task_with_an_unknown_type_fails_the_switch_naming_the_type(engine):
    flow = run(
        engine,
        switch_flow(
            engine,
            1,
            [{"condition": {"op": "eq", "arg": 1}, "task": {"task_type": "no_such_type"}}],
        ),
    )
    assert flow.tasks["sw"]["status"] == FAILED
    assert flow.data["errors"][0].startswith("task 'sw' (switch): unknown task_type 'no_such_type'")
