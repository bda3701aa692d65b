"""The ``spread`` task type: one task per item, run side by side as a child flow."""

from __future__ import annotations

import json

import pytest

from mc.flows import COMPLETED, FAILED, RUNNING, BaseTaskHandler, Flow


def round_trip(flow: Flow) -> Flow:
    return Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))


def square(task_ctx):
    task = task_ctx["task"]
    x = task["task_params"]["x"]
    if x < 0:
        raise ValueError(f"negative item {x}")
    task["data"] = {"square": x * x}
    task["status"] = COMPLETED


class SlowSquare(BaseTaskHandler):
    """Squares ``x`` after ``x`` extra ticks, so items finish out of order."""

    def initial_tick(self):
        if self.task["task_params"]["x"] < 0:
            raise ValueError(f"negative item {self.task['task_params']['x']}")
        self.task["data"]["waited"] = 0
        self._maybe_finish()

    def intermediate_tick(self):
        self.task["data"]["waited"] += 1
        self._maybe_finish()

    def _maybe_finish(self):
        x = self.task["task_params"]["x"]
        if self.task["data"]["waited"] >= x:
            self.task["data"] = {"square": x * x}
            self.task["status"] = COMPLETED


def set_data(task_ctx):
    task = task_ctx["task"]
    task["data"].update(task["task_params"])
    task["status"] = COMPLETED


@pytest.fixture
def spread_engine(engine):
    engine.register_task_type("square", square)
    engine.register_task_type("slow_square", SlowSquare)
    engine.register_task_type("set_data", set_data)
    return engine


def spread_spec(items, task_type="square", fail_fast=None, skeleton=None, wirings=None):
    params = {
        "items": items,
        "mapping_params": {
            "skeleton": skeleton or {"key": "sq", "task_type": task_type},
            "wirings": wirings if wirings is not None else ["ctx.item.value => task_params.x"],
        },
    }
    if fail_fast is not None:
        params["fail_fast"] = fail_fast
    return {
        "key": "spreading",
        "tasks": [{"key": "spread", "task_type": "spread", "task_params": params}],
    }


def run(engine, flow, round_trips=False, ticks=30):
    for _ in range(ticks):
        if flow.finished:
            break
        engine.tick_flow(flow)
        if round_trips:
            flow = round_trip(flow)
    assert flow.finished
    return flow


def child_tasks(flow, key="spread"):
    return flow.tasks[key]["proxied_task"]["data"]["flow"]["tasks"]


def test_one_task_per_item(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec([1, 2, 3])))
    assert list(child_tasks(flow)) == ["sq_0", "sq_1", "sq_2"]
    assert [t["task_params"] for t in child_tasks(flow).values()] == [{"x": 1}, {"x": 2}, {"x": 3}]


def test_results_are_each_items_data_in_item_order(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec([3, 1, 2])))
    assert flow.status == COMPLETED
    assert flow.tasks["spread"]["data"] == {
        "results": [{"square": 9}, {"square": 1}, {"square": 4}]
    }


def test_results_keep_item_order_when_items_finish_out_of_order(spread_engine):
    flow = run(
        spread_engine, spread_engine.flow_spec_to_flow(spread_spec([3, 0, 1], "slow_square"))
    )
    assert flow.tasks["spread"]["data"]["results"] == [{"square": 9}, {"square": 0}, {"square": 1}]


def test_spread_stays_running_until_every_item_finished(spread_engine):
    flow = spread_engine.flow_spec_to_flow(spread_spec([0, 2], "slow_square"))
    spread_engine.tick_flow(flow)
    spread_engine.tick_flow(flow)
    assert flow.tasks["spread"]["status"] == RUNNING
    assert flow.tasks["spread"]["data"] == {"results": None}
    spread_engine.tick_flow(flow)
    assert flow.tasks["spread"]["status"] == COMPLETED


def test_items_as_a_dict_give_key_value_and_index(spread_engine):
    flow = run(
        spread_engine,
        spread_engine.flow_spec_to_flow(
            spread_spec(
                {"Cu": 2, "Fe": 3},
                skeleton={"task_type": "set_data"},
                wirings=[
                    "ctx.item.key => task_params.element",
                    "ctx.item.value => task_params.n",
                    "ctx.item.idx => task_params.idx",
                ],
            )
        ),
    )
    assert flow.tasks["spread"]["data"]["results"] == [
        {"element": "Cu", "n": 2, "idx": 0},
        {"element": "Fe", "n": 3, "idx": 1},
    ]


def test_items_without_a_skeleton_key_are_keyed_item_n(spread_engine):
    flow = run(
        spread_engine,
        spread_engine.flow_spec_to_flow(spread_spec([1, 2], skeleton={"task_type": "square"})),
    )
    assert list(child_tasks(flow)) == ["item_0", "item_1"]


def test_items_interpolated_from_a_previous_tasks_data(spread_engine):
    spec = spread_spec("$ctx.flow.tasks.list_samples.data.xs")
    spec["tasks"].insert(
        0, {"key": "list_samples", "task_type": "set_data", "task_params": {"xs": [4, 5]}}
    )
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spec))
    assert flow.tasks["spread"]["data"]["results"] == [{"square": 16}, {"square": 25}]
    assert flow.tasks["spread"]["task_params"]["items"] == "$ctx.flow.tasks.list_samples.data.xs"


def test_empty_items_complete_with_no_results(spread_engine):
    flow = spread_engine.flow_spec_to_flow(spread_spec([]))
    spread_engine.tick_flow(flow)
    assert flow.status == COMPLETED
    assert flow.tasks["spread"]["data"] == {"results": []}


def test_empty_dict_of_items_completes_with_no_results(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec({})))
    assert flow.tasks["spread"]["data"] == {"results": []}


def test_failing_item_fails_the_spread(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec([1, -2, 3])))
    assert flow.status == FAILED
    assert flow.tasks["spread"]["status"] == FAILED
    assert flow.data["errors"] == [
        "task 'spread' (spread): subflow 'spreading.spread' FAILED: "
        "task 'sq_1' (square): ValueError: negative item -2"
    ]


def test_without_fail_fast_the_other_items_still_run(spread_engine):
    flow = run(
        spread_engine,
        spread_engine.flow_spec_to_flow(spread_spec([1, -2, 3], "slow_square", fail_fast=False)),
    )
    assert flow.tasks["spread"]["status"] == FAILED
    statuses = {key: task["status"] for key, task in child_tasks(flow).items()}
    assert statuses == {"sq_0": COMPLETED, "sq_1": FAILED, "sq_2": COMPLETED}
    assert flow.tasks["spread"]["data"]["results"][2] == {"square": 9}


def test_with_fail_fast_running_items_are_cancelled_when_one_fails(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec([3, -2], "slow_square")))
    statuses = {key: task["status"] for key, task in child_tasks(flow).items()}
    assert statuses == {"sq_0": FAILED, "sq_1": FAILED}
    assert child_tasks(flow)["sq_0"]["error"] == "cancelled: the subflow FAILED"


def test_json_round_trip_between_every_tick_ends_as_in_memory(spread_engine):
    spec = spread_spec([2, 0, 1], "slow_square")
    in_memory = run(spread_engine, spread_engine.flow_spec_to_flow(spec))
    restored = run(spread_engine, spread_engine.flow_spec_to_flow(spec), round_trips=True)
    assert restored.to_flow_dict() == in_memory.to_flow_dict()
    assert restored.tasks["spread"]["data"]["results"] == [
        {"square": 4},
        {"square": 0},
        {"square": 1},
    ]


def test_skeleton_dollar_strings_interpolate_in_the_child_flow(spread_engine):
    spec = spread_spec(
        ["a", "b"],
        skeleton={
            "key": "label",
            "task_type": "set_data",
            "task_params": {
                "run": "$ctx.parent_flow.data.run",
                "child_key": "$ctx.flow.key",
                "me": "$ctx.task.key",
            },
        },
        wirings=["ctx.item.value => task_params.item"],
    )
    spec["data"] = {"run": 7}
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spec), round_trips=True)
    assert flow.tasks["spread"]["data"]["results"] == [
        {"run": 7, "child_key": "spreading.spread", "me": "label_0", "item": "a"},
        {"run": 7, "child_key": "spreading.spread", "me": "label_1", "item": "b"},
    ]


def prices_spec(skeleton, wirings):
    """A spread over prices that an earlier task left in its data, each starting with '$'."""
    spec = spread_spec("$ctx.flow.tasks.prices.data.prices", skeleton=skeleton, wirings=wirings)
    spec["tasks"].insert(
        0,
        {
            "key": "prices",
            "task_type": "set_data",
            "task_params": {"prices": ["\\$5", "\\$ctx.flow.key"]},
        },
    )
    return spec


def test_item_values_starting_with_dollar_are_not_read_as_paths(spread_engine):
    spec = prices_spec({"task_type": "set_data"}, ["ctx.item.value => task_params.price"])
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spec))
    assert flow.tasks["prices"]["data"] == {"prices": ["$5", "$ctx.flow.key"]}
    assert flow.status == COMPLETED
    assert flow.tasks["spread"]["data"]["results"] == [{"price": "$5"}, {"price": "$ctx.flow.key"}]


def test_item_values_wired_into_data_are_stored_as_they_are(spread_engine):
    spec = prices_spec({"task_type": "noop"}, ["ctx.item.value => data.price"])
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spec))
    assert flow.tasks["spread"]["data"]["results"] == [{"price": "$5"}, {"price": "$ctx.flow.key"}]


def test_child_flow_is_one_level_deeper(spread_engine):
    flow = run(spread_engine, spread_engine.flow_spec_to_flow(spread_spec([1])))
    child = flow.tasks["spread"]["proxied_task"]["data"]["flow"]
    assert (child["depth"], child["parent_key"]) == (1, "spreading")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"items": 5, "mapping_params": {"skeleton": {"task_type": "noop"}}},
            "task_params.items must be list or dict, got int",
        ),
        ({"items": [1]}, "missing task_params.mapping_params"),
        (
            {"items": [1], "mapping_params": {"wirings": []}},
            "task_params.mapping_params.skeleton: expected a dict",
        ),
        (
            {"items": [1], "mapping_params": {"skeleton": {"task_type": "noop"}, "wirings": "x"}},
            "task_params.mapping_params.wirings: expected a list of wirings",
        ),
        (
            {
                "items": [1],
                "mapping_params": {
                    "skeleton": {"task_type": "noop"},
                    "wirings": ["ctx.item.nope => task_params.x"],
                },
            },
            "task_params.mapping_params.wirings[0] (item 0): source: path 'ctx.item.nope'",
        ),
        (
            {
                "items": [1],
                "fail_fast": "no",
                "mapping_params": {"skeleton": {"task_type": "noop"}},
            },
            "task_params.fail_fast must be bool",
        ),
        (
            {"items": [1], "mapping_params": {"skeleton": {"task_type": "noop", "bogus": 1}}},
            "task 's': task_params.mapping_params.skeleton[item 0].bogus: unknown key",
        ),
        (
            {"items": [1], "mapping_params": {"skeleton": {"key": "bad-key", "task_type": "noop"}}},
            "task 's': task_params.mapping_params.skeleton[item 0].key: invalid task key 'bad-key_0'",
        ),
        (
            {
                "items": [1, 2],
                "mapping_params": {
                    "skeleton": {"task_type": "noop"},
                    "wirings": [{"value": 5, "dest": "task_params"}],
                },
            },
            "task 's': task_params.mapping_params.skeleton[item 0].task_params: expected a dict",
        ),
    ],
)
def test_malformed_spread_params_fail_the_task_clearly(spread_engine, params, message):
    flow = spread_engine.flow_spec_to_flow(
        {"tasks": [{"key": "s", "task_type": "spread", "task_params": params}]}
    )
    run(spread_engine, flow)
    assert flow.tasks["s"]["status"] == FAILED
    assert message in flow.data["errors"][0]


def test_cancel_flow_cancels_the_running_item_tasks(spread_engine):
    cancelled = []

    class Forever(BaseTaskHandler):
        def initial_tick(self):
            pass

        def intermediate_tick(self):
            pass

        @classmethod
        def cancel_task(cls, task_ctx):
            cancelled.append(task_ctx["task"]["key"])

    spread_engine.register_task_type("forever", Forever)
    flow = spread_engine.flow_spec_to_flow(spread_spec([1, 2], "forever"))
    spread_engine.tick_flow(flow)
    flow = round_trip(flow)
    spread_engine.cancel_flow(flow, "shutdown")
    assert cancelled == ["sq_0", "sq_1"]
    assert flow.tasks["spread"]["status"] == FAILED
    assert {t["status"] for t in child_tasks(flow).values()} == {FAILED}
