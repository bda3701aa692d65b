"""Proxying tasks: a BaseProxyingTaskHandler subclass does its work through a proxied task."""

from __future__ import annotations

import json

import pytest

from mc.errors import FlowSpecError
from mc.flows import COMPLETED, FAILED, RUNNING, BaseTaskHandler, Flow
from mc.flows.task_handler import BaseProxyingTaskHandler, new_proxied_task


class Measure(BaseTaskHandler):
    """Polls an instrument: completes on its 3rd tick with a reading; can be cancelled."""

    cancelled: list = []

    def initial_tick(self):
        self.task["data"]["polls"] = 1

    def intermediate_tick(self):
        self.task["data"]["polls"] += 1
        if self.task["data"]["polls"] == 3:
            self.task["data"]["reading"] = self.task["task_params"]["scale"] * 10
            self.task["status"] = COMPLETED

    @classmethod
    def cancel_task(cls, task_ctx):
        cls.cancelled.append((task_ctx["task"]["key"], task_ctx["proxy_task"]["key"]))


class MeasureTwice(BaseProxyingTaskHandler):
    """A user's proxying task: measures at twice its own scale."""

    def generate_proxied_task(self):
        return {
            "key": "measure",
            "task_type": "measure",
            "task_params": {"scale": 2 * self.task["task_params"]["scale"]},
        }


class BadProxy(BaseProxyingTaskHandler):
    def generate_proxied_task(self):
        return self.task["task_params"]["spec"]


@pytest.fixture
def proxy_engine(engine):
    Measure.cancelled = []
    engine.register_task_type("measure", Measure)
    engine.register_task_type("measure_twice", MeasureTwice)
    engine.register_task_type("bad_proxy", BadProxy)
    return engine


def proxy_flow(engine, task_type="measure_twice", params=None):
    return engine.flow_spec_to_flow(
        {
            "key": "proxied",
            "tasks": [
                {"key": "p", "task_type": task_type, "task_params": params or {"scale": 1.5}},
                {"key": "after", "task_type": "noop"},
            ],
        }
    )


def test_proxy_runs_the_generated_task(proxy_engine):
    flow = proxy_flow(proxy_engine)
    proxy_engine.tick_flow(flow)
    proxied = flow.tasks["p"]["proxied_task"]
    assert proxied["key"] == "measure"
    assert proxied["task_type"] == "measure"
    assert proxied["task_params"] == {"scale": 3.0}


def test_proxy_status_follows_the_proxied_task(proxy_engine):
    flow = proxy_flow(proxy_engine)
    statuses = []
    for _ in range(3):
        proxy_engine.tick_flow(flow)
        statuses.append((flow.tasks["p"]["status"], flow.tasks["p"]["proxied_task"]["status"]))
    assert statuses == [(RUNNING, RUNNING), (RUNNING, RUNNING), (COMPLETED, COMPLETED)]
    assert flow.tasks["after"]["status"] == "PENDING"
    proxy_engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_proxy_data_follows_the_proxied_task_on_every_tick(proxy_engine):
    flow = proxy_flow(proxy_engine)
    proxy_engine.tick_flow(flow)
    assert flow.tasks["p"]["data"] == {"polls": 1}
    proxy_engine.tick_flow(flow)
    proxy_engine.tick_flow(flow)
    assert flow.tasks["p"]["data"] == {"polls": 3, "reading": 30.0}


def test_proxy_data_is_a_copy_of_the_proxied_tasks(proxy_engine):
    flow = proxy_flow(proxy_engine)
    proxy_engine.tick_flow(flow)
    flow.tasks["p"]["data"]["polls"] = 99
    assert flow.tasks["p"]["proxied_task"]["data"]["polls"] == 1


def test_proxy_survives_a_json_round_trip_between_ticks(proxy_engine):
    flow = proxy_flow(proxy_engine)
    while not flow.finished:
        proxy_engine.tick_flow(flow)
        flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
    assert flow.status == COMPLETED
    assert flow.tasks["p"]["data"]["reading"] == 30.0


def test_failing_proxied_task_fails_the_proxy_with_its_error(proxy_engine):
    def explode(task_ctx):
        raise OSError("disk full")

    proxy_engine.register_task_type("explode", explode)

    class ExplodeProxy(BaseProxyingTaskHandler):
        def generate_proxied_task(self):
            return {"task_type": "explode"}

    proxy_engine.register_task_type("explode_proxy", ExplodeProxy)
    flow = proxy_flow(proxy_engine, "explode_proxy")
    proxy_engine.tick_flow(flow)
    assert flow.tasks["p"]["status"] == FAILED
    assert flow.tasks["p"]["error"] == "OSError: disk full"
    assert "Traceback" in flow.tasks["p"]["proxied_task"]["error"]
    assert flow.data["errors"] == ["task 'p' (explode_proxy): OSError: disk full"]
    assert flow.tasks["after"]["status"] == "SKIPPED"


def test_cancel_flow_calls_the_proxied_handlers_cancel_hook(proxy_engine):
    flow = proxy_flow(proxy_engine)
    proxy_engine.tick_flow(flow)
    proxy_engine.cancel_flow(flow, "operator stop")
    assert Measure.cancelled == [("measure", "p")]
    assert flow.tasks["p"]["status"] == FAILED
    assert flow.tasks["p"]["error"] == "cancelled: operator stop"


def test_cancelled_proxied_task_is_stored_as_failed(proxy_engine):
    flow = proxy_flow(proxy_engine)
    proxy_engine.tick_flow(flow)
    proxy_engine.cancel_flow(flow, "operator stop")
    proxied = flow.to_flow_dict()["tasks"]["p"]["proxied_task"]
    assert proxied["status"] == FAILED
    assert proxied["error"] == "cancelled with its proxy"


def test_cancel_flow_after_the_proxied_task_completed_calls_no_hook(proxy_engine):
    flow = proxy_flow(proxy_engine)
    for _ in range(3):
        proxy_engine.tick_flow(flow)
    proxy_engine.cancel_flow(flow)
    assert Measure.cancelled == []


def test_subclass_without_generate_proxied_task_fails_its_task(engine):
    class Lazy(BaseProxyingTaskHandler):
        pass

    engine.register_task_type("lazy", Lazy)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "l", "task_type": "lazy"}]})
    engine.tick_flow(flow)
    assert "Lazy must implement generate_proxied_task()" in flow.data["errors"][0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"task_type": "noop", "precursors": ["ROOT"]},
            "proxied_task.precursors: a proxied task has no edges",
        ),
        (
            {"task_type": "noop", "successors": []},
            "proxied_task.successors: a proxied task has no edges",
        ),
        (
            {"task_type": "noop", "retries": 2},
            "proxied_task: a proxied task cannot have retries: set them on the proxying task",
        ),
        (
            {"task_type": "noop", "timeout_s": 5},
            "proxied_task: a proxied task cannot have timeout_s",
        ),
        (
            {"task_type": "noop", "retry_delay_s": 5, "retries": 1},
            "proxied_task: a proxied task cannot have retries, retry_delay_s",
        ),
        (
            {"task_type": "noop", "trigger_rule": "all_done"},
            "proxied_task: a proxied task cannot have trigger_rule",
        ),
        ({"task_params": {}}, "proxied_task: missing required key 'task_type'"),
        ("noop", "proxied_task: expected a dict"),
    ],
)
def test_new_proxied_task_refuses_edges_policies_and_bad_specs(spec, message):
    with pytest.raises(FlowSpecError) as raised:
        new_proxied_task(spec)
    assert message in str(raised.value)


def test_new_proxied_task_returns_a_pending_task_dict():
    task = new_proxied_task({"task_type": "noop", "task_params": {"a": 1}, "data": {"b": 2}})
    assert task["status"] == "PENDING"
    assert task["key"] == "proxied"
    assert task["task_params"] == {"a": 1}
    assert task["data"] == {"b": 2}


def test_proxy_generating_a_task_with_edges_fails_its_task(proxy_engine):
    flow = proxy_flow(
        proxy_engine, "bad_proxy", {"spec": {"task_type": "noop", "precursors": ["after"]}}
    )
    proxy_engine.tick_flow(flow)
    assert flow.tasks["p"]["status"] == FAILED
    assert (
        "proxied_task.precursors: a proxied task has no edges of its own" in flow.data["errors"][0]
    )


def test_proxy_data_is_a_deep_copy_of_the_proxied_tasks(proxy_engine):
    class NestedProxy(BaseProxyingTaskHandler):
        def generate_proxied_task(self):
            return {"task_type": "set_nested"}

    def set_nested(task_ctx):
        task_ctx["task"]["data"]["nested"] = {"xs": [1]}
        task_ctx["task"]["status"] = COMPLETED

    proxy_engine.register_task_type("set_nested", set_nested)
    proxy_engine.register_task_type("nested_proxy", NestedProxy)
    flow = proxy_flow(proxy_engine, "nested_proxy")
    proxy_engine.tick_flow(flow)
    flow.tasks["p"]["data"]["nested"]["xs"].append(2)
    assert flow.tasks["p"]["proxied_task"]["data"]["nested"] == {"xs": [1]}


def test_proxy_with_retries_fails_after_its_last_attempt(proxy_engine):
    def explode(task_ctx):
        raise OSError("disk full")

    class ExplodeProxy(BaseProxyingTaskHandler):
        def generate_proxied_task(self):
            return {"task_type": "explode"}

    proxy_engine.register_task_type("explode", explode)
    proxy_engine.register_task_type("explode_proxy", ExplodeProxy)
    flow = proxy_engine.flow_spec_to_flow(
        {"tasks": [{"key": "p", "task_type": "explode_proxy", "retries": 2}]}
    )
    for _ in range(10):
        if flow.finished:
            break
        proxy_engine.tick_flow(flow)
    assert flow.status == FAILED
    assert len(flow.tasks["p"]["data"]["attempts"]) == 3
    assert flow.data["errors"] == ["task 'p' (explode_proxy): OSError: disk full (attempt 3 of 3)"]


def test_handler_replacing_its_data_still_gets_a_bounded_number_of_retries(engine):
    # BUG (mc/flows/flow_engine.py, for the lead): the engine keeps a task's
    # failed attempts in task['data']['attempts'], which the handler owns. A
    # handler that replaces task['data'] (`task['data'] = {...}`, a natural
    # thing to write) drops them, so _fail_task counts 1 attempt every time
    # and retries forever. Fails until the engine keeps attempts where
    # handlers do not write (or restores them after the handler ran).
    def replace_data_then_fail(task_ctx):
        task_ctx["task"]["data"] = {"progress": 0.5}
        raise RuntimeError("boom")

    engine.register_task_type("replace_data_then_fail", replace_data_then_fail)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "x", "task_type": "replace_data_then_fail", "retries": 1}]}
    )
    for _ in range(10):
        if flow.finished:
            break
        engine.tick_flow(flow)
    assert flow.status == FAILED
