"""The ``flow`` task type: a child flow that runs within its parent's ticks."""

from __future__ import annotations

import json

import pytest

from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, BaseTaskHandler, Flow


def round_trip(flow: Flow) -> Flow:
    return Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))


class PollTwice(BaseTaskHandler):
    """Completes on its 3rd tick; records a cancel in a class list."""

    cancelled: list = []

    def initial_tick(self):
        self.task["data"]["polls"] = 0

    def intermediate_tick(self):
        self.task["data"]["polls"] += 1
        if self.task["data"]["polls"] == 2:
            self.task["status"] = COMPLETED

    @classmethod
    def cancel_task(cls, task_ctx):
        cls.cancelled.append(task_ctx["task"]["key"])


def set_data(task_ctx):
    task = task_ctx["task"]
    task["data"].update(task["task_params"])
    task["status"] = COMPLETED


def explode(task_ctx):
    raise RuntimeError("sample holder jammed")


@pytest.fixture
def sub_engine(engine):
    PollTwice.cancelled = []
    engine.register_task_type("poll", PollTwice)
    engine.register_task_type("set_data", set_data)
    engine.register_task_type("explode", explode)
    return engine


CHILD = {
    "label": "child",
    "data": {"sample": "Cu-2"},
    "tasks": [
        {"key": "measure", "task_type": "poll"},
        {
            "key": "store",
            "task_type": "set_data",
            "task_params": {"stored": "$ctx.flow.data.sample"},
        },
    ],
}


def parent_spec(child=CHILD, key="parent"):
    return {
        "key": key,
        "tasks": [
            {"key": "prep", "task_type": "noop"},
            {"key": "sub", "task_type": "flow", "task_params": {"flow_spec": child}},
            {"key": "after", "task_type": "noop"},
        ],
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


def test_child_flow_runs_to_completion_within_the_parents_ticks(sub_engine):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec()))
    assert flow.status == COMPLETED
    child = flow.tasks["sub"]["data"]["flow"]
    assert child["status"] == COMPLETED
    assert child["tasks"]["store"]["data"] == {"stored": "Cu-2"}


def test_child_has_depth_one_more_than_its_parent_and_the_parents_key(sub_engine):
    flow = sub_engine.flow_spec_to_flow(parent_spec())
    sub_engine.tick_flow(flow)
    sub_engine.tick_flow(flow)
    child = flow.tasks["sub"]["data"]["flow"]
    assert child["depth"] == 1
    assert child["parent_key"] == "parent"


def test_child_without_a_key_is_named_for_its_parent_and_task(sub_engine):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec()))
    assert flow.tasks["sub"]["data"]["flow"]["key"] == "parent.sub"


def test_child_keeps_the_key_its_spec_gives(sub_engine):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec({**CHILD, "key": "my_child"})))
    assert flow.tasks["sub"]["data"]["flow"]["key"] == "my_child"


def test_child_state_lives_in_the_tasks_data_as_a_flow_dict(sub_engine):
    flow = sub_engine.flow_spec_to_flow(parent_spec())
    sub_engine.tick_flow(flow)
    sub_engine.tick_flow(flow)
    child = Flow.from_flow_dict(flow.tasks["sub"]["data"]["flow"])
    assert child.status == RUNNING
    assert child.tasks["measure"]["status"] == RUNNING
    assert child.tasks["store"]["status"] == PENDING


def test_child_is_ticked_once_per_parent_tick(sub_engine):
    flow = sub_engine.flow_spec_to_flow(parent_spec())
    sub_engine.tick_flow(flow)  # prep
    for expected in (1, 2, 3):
        sub_engine.tick_flow(flow)
        assert flow.tasks["sub"]["data"]["flow"]["num_ticks"] == expected


def test_completed_child_data_is_in_flow_data(sub_engine):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec()))
    assert flow.tasks["sub"]["data"]["flow_data"] == {"sample": "Cu-2"}


def test_json_round_trip_between_every_tick_ends_as_in_memory(sub_engine, clock):
    in_memory = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec()))
    restored = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec()), round_trips=True)
    assert restored.to_flow_dict() == in_memory.to_flow_dict()
    assert restored.num_ticks == in_memory.num_ticks


def test_nested_subflows_reach_depth_two(sub_engine):
    grandchild = {
        "tasks": [
            {
                "key": "deep",
                "task_type": "set_data",
                "task_params": {
                    "depth": "$ctx.flow.depth",
                    "parent": "$ctx.flow.parent_key",
                    "grandparent_sample": "$ctx.parent_flow.data.sample",
                },
            }
        ]
    }
    child = {
        "data": {"sample": "Fe"},
        "tasks": [{"key": "inner", "task_type": "flow", "task_params": {"flow_spec": grandchild}}],
    }
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec(child)), round_trips=True)
    assert flow.status == COMPLETED
    child_dict = flow.tasks["sub"]["data"]["flow"]
    grandchild_dict = child_dict["tasks"]["inner"]["data"]["flow"]
    assert grandchild_dict["depth"] == 2
    assert grandchild_dict["key"] == "parent.sub.inner"
    assert grandchild_dict["tasks"]["deep"]["data"] == {
        "depth": 2,
        "parent": "parent.sub",
        "grandparent_sample": "Fe",
    }


def test_failed_child_fails_the_task_and_its_errors_reach_the_parent(sub_engine):
    child = {"tasks": [{"key": "bad", "task_type": "explode"}]}
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec(child)))
    assert flow.status == FAILED
    assert flow.tasks["sub"]["status"] == FAILED
    assert flow.tasks["after"]["status"] == SKIPPED
    assert flow.data["errors"] == [
        "task 'sub' (flow): subflow 'parent.sub' FAILED: "
        "task 'bad' (explode): RuntimeError: sample holder jammed"
    ]


def test_failed_child_with_fail_fast_cancels_its_running_tasks(sub_engine):
    child = {
        "tasks": [
            {"key": "slow", "task_type": "poll", "precursors": ["ROOT"]},
            {"key": "bad", "task_type": "explode", "precursors": ["ROOT"]},
        ]
    }
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec(child)))
    assert flow.tasks["sub"]["status"] == FAILED
    assert PollTwice.cancelled == ["slow"]
    assert flow.tasks["sub"]["data"]["flow"]["tasks"]["slow"]["status"] == FAILED


@pytest.mark.parametrize(
    ("flow_spec", "message"),
    [
        (
            {"tasks": [{"key": "a", "task_type": "noop", "task_parms": {}}]},
            "task_params.flow_spec.tasks[0].task_parms: unknown key",
        ),
        (
            {"tasks": [{"key": "a", "task_type": "noop", "precursors": ["nope"]}]},
            "task_params.flow_spec.tasks[0].precursors[0]",
        ),
        ({"tasks": "abc"}, "task_params.flow_spec.tasks: expected a list of task specs"),
        ({"cfg": {"fail_fast": "yes"}}, "task_params.flow_spec.cfg.fail_fast"),
        ({"key": 5}, "task_params.flow_spec.key: expected a non-empty string"),
    ],
)
def test_bad_flow_spec_fails_the_task_naming_the_path(sub_engine, flow_spec, message):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec(flow_spec)))
    assert flow.tasks["sub"]["status"] == FAILED
    assert f"task 'sub': {message}" in flow.data["errors"][0]


def test_flow_spec_must_be_a_dict(sub_engine):
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(parent_spec(["not", "a", "dict"])))
    assert "task 'sub': task_params.flow_spec must be dict, got list" in flow.data["errors"][0]


def test_cancel_flow_on_the_parent_cancels_the_childs_running_tasks(sub_engine):
    flow = sub_engine.flow_spec_to_flow(parent_spec())
    sub_engine.tick_flow(flow)
    sub_engine.tick_flow(flow)
    flow = round_trip(flow)
    sub_engine.cancel_flow(flow, "beam lost")
    assert PollTwice.cancelled == ["measure"]
    child = flow.tasks["sub"]["data"]["flow"]
    assert child["status"] == FAILED
    assert child["tasks"]["measure"]["status"] == FAILED
    assert child["tasks"]["measure"]["error"] == "cancelled: its parent task was cancelled"
    assert child["tasks"]["store"]["status"] == SKIPPED
    assert flow.tasks["sub"]["error"] == "cancelled: beam lost"


def test_parent_flow_is_visible_to_child_tasks(sub_engine):
    child = {
        "tasks": [
            {
                "key": "look",
                "task_type": "set_data",
                "task_params": {
                    "parent_key": "$ctx.parent_flow.key",
                    "parent_sample": "$ctx.parent_flow.data.sample",
                    "prep_status": "$ctx.parent_flow.tasks.prep.status",
                },
            }
        ]
    }
    spec = parent_spec(child)
    spec["data"] = {"sample": "Ni"}
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(spec))
    assert flow.tasks["sub"]["data"]["flow"]["tasks"]["look"]["data"] == {
        "parent_key": "parent",
        "parent_sample": "Ni",
        "prep_status": "COMPLETED",
    }


def test_caller_context_reaches_child_tasks(sub_engine):
    child = {
        "tasks": [{"key": "look", "task_type": "set_data", "task_params": {"user": "$ctx.user"}}]
    }
    flow = sub_engine.flow_spec_to_flow(parent_spec(child))
    while not flow.finished:
        sub_engine.tick_flow(flow, {"user": "ada"})
    assert flow.tasks["sub"]["data"]["flow"]["tasks"]["look"]["data"] == {"user": "ada"}


def test_retry_of_a_failed_flow_task_starts_a_fresh_child(sub_engine, clock):
    child = {"data": {"n": 0}, "tasks": [{"key": "bad", "task_type": "explode"}]}
    spec = {
        "key": "p",
        "tasks": [
            {"key": "sub", "task_type": "flow", "retries": 1, "task_params": {"flow_spec": child}}
        ],
    }
    flow = run(sub_engine, sub_engine.flow_spec_to_flow(spec))
    assert flow.status == FAILED
    attempts = flow.tasks["sub"]["data"]["attempts"]
    assert len(attempts) == 2
    assert all("sample holder jammed" in attempt["error"] for attempt in attempts)


def test_timed_out_flow_task_cancels_the_childs_running_tasks(sub_engine, clock):
    spec = {
        "key": "p",
        "tasks": [
            {
                "key": "sub",
                "task_type": "flow",
                "timeout_s": 5,
                "task_params": {"flow_spec": {"tasks": [{"key": "measure", "task_type": "poll"}]}},
            }
        ],
    }
    flow = sub_engine.flow_spec_to_flow(spec)
    sub_engine.tick_flow(flow)
    clock.advance(10)
    sub_engine.tick_flow(flow)
    assert flow.tasks["sub"]["status"] == FAILED
    assert "timed out" in flow.tasks["sub"]["error"]
    assert PollTwice.cancelled == ["measure"]
