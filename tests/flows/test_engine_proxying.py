"""Engine-level proxying, MissionControl 0.x's rule: a task whose dict holds an
unfinished ``proxied_task`` is ticked through it, and takes its final status."""

from __future__ import annotations

import pytest

from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, Flow


def proxy_once(task_ctx):
    """The issue's repro: sets a proxied task, and never a status of its own."""
    task_ctx["task"].setdefault(
        "proxied_task", {"task_type": "print", "task_params": {"msg": "hi"}}
    )


def one_task_flow(engine, task_type="p", **task):
    return engine.flow_spec_to_flow(
        {"key": "f", "tasks": [{"key": "a", "task_type": task_type, **task}]}
    )


def test_a_handler_that_sets_proxied_task_completes_through_it(engine, capsys):
    engine.register_task_type("p", proxy_once)
    flow = engine.run_flow(one_task_flow(engine), max_ticks=10)
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "hi\n"
    assert flow.tasks["a"]["status"] == COMPLETED
    assert flow.tasks["a"]["proxied_task"]["status"] == COMPLETED


def test_the_proxied_task_is_ticked_in_place_of_the_handler(engine):
    calls = []

    def proxy(task_ctx):
        calls.append(task_ctx["task"]["key"])
        task_ctx["task"]["proxied_task"] = {"key": "inner", "task_type": "count_to_3"}

    def count_to_3(task_ctx):
        task = task_ctx["task"]
        task["data"]["n"] = task["data"].get("n", 0) + 1
        if task["data"]["n"] == 3:
            task["status"] = COMPLETED

    engine.register_task_type("p", proxy)
    engine.register_task_type("count_to_3", count_to_3)
    flow = one_task_flow(engine)
    statuses = []
    for _ in range(4):
        engine.tick_flow(flow)
        statuses.append(flow.tasks["a"]["status"])
    assert calls == ["a"]
    assert statuses == [RUNNING, RUNNING, RUNNING, COMPLETED]
    assert flow.tasks["a"]["proxied_task"]["data"] == {"n": 3}
    assert flow.status == COMPLETED


def test_a_failed_proxied_task_fails_its_proxy_with_its_error(engine):
    def broken(task_ctx):
        raise RuntimeError("the instrument is offline")

    engine.register_task_type(
        "p",
        lambda ctx: ctx["task"].setdefault("proxied_task", {"key": "inner", "task_type": "broken"}),
    )
    engine.register_task_type("broken", broken)
    flow = engine.flow_spec_to_flow(
        {
            "key": "f",
            "tasks": [
                {"key": "a", "task_type": "p"},
                {"key": "b", "task_type": "noop"},
            ],
        }
    )
    for _ in range(3):
        engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.tasks["a"]["status"] == FAILED
    assert flow.tasks["b"]["status"] == SKIPPED
    assert "the instrument is offline" in flow.tasks["a"]["error"]
    assert flow.data["errors"] == [
        "task 'a' (p): proxied task 'inner' FAILED: RuntimeError: the instrument is offline"
    ]


def test_a_proxied_task_that_is_not_a_task_spec_fails_its_proxy(engine):
    engine.register_task_type(
        "p",
        lambda ctx: ctx["task"].setdefault(
            "proxied_task", {"task_type": "print", "no_such_field": 1}
        ),
    )
    flow = one_task_flow(engine)
    for _ in range(3):
        engine.tick_flow(flow)
    assert flow.status == FAILED
    assert "proxied_task.no_such_field: unknown key" in flow.tasks["a"]["error"]


def test_a_proxied_task_that_is_not_a_dict_fails_its_proxy(engine):
    engine.register_task_type("p", lambda ctx: ctx["task"].setdefault("proxied_task", "print"))
    flow = one_task_flow(engine)
    for _ in range(3):
        engine.tick_flow(flow)
    assert flow.status == FAILED
    assert "proxied_task must be a task spec (a dict), got str" in flow.tasks["a"]["error"]


def test_a_proxied_task_can_itself_proxy(engine, capsys):
    engine.register_task_type(
        "outer",
        lambda ctx: ctx["task"].setdefault("proxied_task", {"key": "middle", "task_type": "p"}),
    )
    engine.register_task_type("p", proxy_once)
    flow = engine.run_flow(one_task_flow(engine, "outer"), max_ticks=10)
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "hi\n"
    assert flow.tasks["a"]["proxied_task"]["proxied_task"]["status"] == COMPLETED


def test_proxying_survives_a_store_round_trip_between_ticks(engine, capsys):
    engine.register_task_type("p", proxy_once)
    flow = one_task_flow(engine)
    while not flow.finished:
        engine.tick_flow(flow)
        flow = Flow.from_flow_dict(flow.to_flow_dict())
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "hi\n"


def test_the_proxied_task_sees_the_flow_and_its_proxy(engine):
    seen = {}

    def inner(task_ctx):
        seen["flow"] = task_ctx["flow"].key
        seen["proxy"] = task_ctx["proxy_task"]["key"]
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type(
        "p", lambda ctx: ctx["task"].setdefault("proxied_task", {"task_type": "inner"})
    )
    engine.register_task_type("inner", inner)
    engine.run_flow(one_task_flow(engine), max_ticks=10)
    assert seen == {"flow": "f", "proxy": "a"}


def test_subclasses_of_base_proxying_task_handler_are_left_to_proxy_themselves(engine):
    from mc.flows import BaseProxyingTaskHandler

    class Follow(BaseProxyingTaskHandler):
        def generate_proxied_task(self):
            return {"task_type": "noop", "data": {"x": 1}}

    engine.register_task_type("follow", Follow)
    flow = engine.run_flow(one_task_flow(engine, "follow"), max_ticks=10)
    # Only the handler copies the proxied task's data: it did the ticking.
    assert flow.tasks["a"]["data"] == {"x": 1}
    assert flow.num_ticks == 1


def test_a_retry_of_a_proxy_starts_with_its_handler_again(engine, clock):
    attempts = []

    def flaky(task_ctx):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type(
        "p", lambda ctx: ctx["task"].setdefault("proxied_task", {"task_type": "flaky"})
    )
    engine.register_task_type("flaky", flaky)
    flow = one_task_flow(engine, retries=1)
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == PENDING
    assert "proxied_task" not in flow.tasks["a"]
    engine.run_flow(flow, max_ticks=10)
    assert flow.status == COMPLETED
    assert len(attempts) == 2


def test_cancelling_a_proxy_cancels_its_running_proxied_task(engine):
    cancelled = []

    class Slow:
        @staticmethod
        def tick_task(task_ctx):
            pass

        @staticmethod
        def cancel_task(task_ctx):
            cancelled.append((task_ctx["task"]["key"], task_ctx["proxy_task"]["key"]))

    engine.register_task_type(
        "p",
        lambda ctx: ctx["task"].setdefault("proxied_task", {"key": "slow", "task_type": "slow"}),
    )
    engine.register_task_type("slow", Slow)
    flow = one_task_flow(engine)
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    engine.cancel_flow(flow, "enough")
    assert cancelled == [("slow", "a")]
    assert flow.tasks["a"]["proxied_task"]["status"] == FAILED
    assert flow.tasks["a"]["status"] == FAILED


@pytest.mark.parametrize("status", [COMPLETED, FAILED])
def test_a_finished_proxied_task_is_not_ticked_again(engine, status):
    calls = []

    def handler(task_ctx):
        calls.append(1)
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("h", handler)
    flow = one_task_flow(engine, "h")
    flow.tasks["a"]["task_params"] = {}
    engine.tick_flow(flow)
    assert calls == [1]
    # A finished proxied task left in a task dict does not take over its ticks.
    task = {
        "key": "t",
        "task_type": "h",
        "status": PENDING,
        "proxied_task": {"key": "x", "task_type": "h", "status": status},
    }
    engine.tick_task(task)
    assert calls == [1, 1]
    assert task["status"] == COMPLETED


def test_a_proxied_task_spec_is_stored_as_a_pending_task_dict_at_once(engine, capsys):
    engine.register_task_type("p", proxy_once)
    flow = one_task_flow(engine)
    engine.tick_flow(flow)
    stored = flow.to_flow_dict()["tasks"]["a"]["proxied_task"]
    assert stored["status"] == PENDING
    assert (stored["key"], stored["task_type"], stored["task_params"]) == (
        "proxied",
        "print",
        {"msg": "hi"},
    )
    assert capsys.readouterr().out == ""


def test_a_bad_proxied_task_spec_fails_its_proxy_on_the_same_tick(engine):
    engine.register_task_type(
        "p",
        lambda ctx: ctx["task"].setdefault(
            "proxied_task", {"task_type": "print", "precursors": ["x"]}
        ),
    )
    flow = one_task_flow(engine)
    engine.tick_flow(flow)
    assert flow.status == FAILED
    assert (
        "proxied_task.precursors: a proxied task has no edges of its own"
        in (flow.tasks["a"]["error"])
    )
