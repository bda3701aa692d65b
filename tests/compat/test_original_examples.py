"""The original MissionControl's documented examples, run in their original spelling.

Each spec file here is our transcription of an example of the original
MissionControl (aspuru-guzik-group/mission_control): the user guide's
flows.rst and tasks.rst, and the examples/ folder. The file names where each
came from. The expected output is the output the original documented. The
handlers the examples define in Python are written here against this
library's BaseTaskHandler, with the same methods and the same task-dict
fields; they are registered with the engine (``FlowEngine(task_handlers=...)``)
where the original passed ``tick_fn_for_task_ctx_overrides`` or imported a
module named after the task type.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mc.flows import BaseProxyingTaskHandler, BaseTaskHandler, Flow, FlowEngine
from mc.flows.flow_engine import FlowEngine as FlowEngineFromItsModule

HERE = Path(__file__).resolve().parent


def load(name: str):
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


# -- flows.rst ----------------------------------------------------------------------------


def test_flows_rst_running_flows(capsys):
    flow_spec = load("flows_rst_example_flow.yaml")
    my_flow_engine = FlowEngineFromItsModule()
    flow = my_flow_engine.flow_spec_to_flow(flow_spec=flow_spec)
    my_flow_engine.tick_flow_until_has_no_pending(flow)
    print("flow.status:", flow.status)
    assert capsys.readouterr().out == "I am task_1.\nI am task_2.\nflow.status: COMPLETED\n"


def test_flows_rst_flow_lifecycle_loop(capsys):
    from mc.flows import flow_spec_to_flow, tick_flow

    flow = flow_spec_to_flow(load("flows_rst_example_flow.yaml"))
    while flow.status not in {"FAILED", "COMPLETED"}:
        tick_flow(flow)
    assert capsys.readouterr().out == "I am task_1.\nI am task_2.\n"


def test_flows_rst_defining_flows_keeps_key_label_and_cfg():
    flow = FlowEngine().flow_spec_to_flow(flow_spec=load("flows_rst_defining_flows.yaml"))
    assert (flow.key, flow.label, flow.cfg) == (
        "some-unique-key-12345",
        "example_flow",
        {"fail_fast": False},
    )


def test_flows_rst_serializing_and_deserializing(capsys):
    # The layout of the flow dict differs on purpose (see docs/migrating.rst);
    # what the example shows, a JSON round trip back to a Flow, holds.
    flow = Flow.from_flow_spec(flow_spec=load("flows_rst_example_flow.yaml"))
    flow_dict = flow.to_flow_dict()
    jsonified_flow = json.dumps(flow_dict, indent=2, sort_keys=True)
    flow = Flow.from_flow_dict(json.loads(jsonified_flow))
    print(type(flow))
    assert capsys.readouterr().out == "<class 'mc.flows.flow.Flow'>\n"
    assert flow.label == "example_flow"
    assert flow.cfg == {"fail_fast": True}
    assert flow.status == "PENDING"
    assert {key: task["precursors"] for key, task in flow.tasks.items()} == {
        "task_1": ["ROOT"],
        "task_2": ["task_1"],
    }


# -- tasks.rst ----------------------------------------------------------------------------


class CountdownTaskHandler(BaseTaskHandler):
    def initial_tick(self, *args, **kwargs):
        self.task["data"]["countdown"] = self.task["task_params"]["countdown_start"]
        print("Starting countdown for task with key '%s'" % self.task["key"])
        self.intermediate_tick(*args, **kwargs)

    def intermediate_tick(self, *args, **kwargs):
        countdown = self.task["data"]["countdown"]
        if countdown > 0:
            print("T minus %s" % countdown)
            self.task["data"]["countdown"] -= 1
        else:
            print("Houston, we have lift off.")
            self.task["data"]["my_result"] = "Lift off!"
            self.task["status"] = "COMPLETED"


def test_tasks_rst_countdown_task_handler(capsys):
    my_countdown_task = load("tasks_rst_countdown_task.yaml")
    while my_countdown_task.get("status") != "COMPLETED":
        CountdownTaskHandler.tick_task(task_ctx={"task": my_countdown_task})
    assert capsys.readouterr().out == (
        "Starting countdown for task with key 'my_task'\n"
        "T minus 3\nT minus 2\nT minus 1\nHouston, we have lift off.\n"
    )
    assert my_countdown_task["data"]["my_result"] == "Lift off!"


class MessageStatsTaskHandler(BaseTaskHandler):
    """The first version: adds a print task after itself."""

    def initial_tick(self, *args, **kwargs):
        orig_msg = self.task["task_params"]["msg"]
        altered_msg = orig_msg + " (%s chars)" % len(orig_msg)
        flow = self.task_ctx["flow"]
        flow.add_task(
            {
                "task_type": "print",
                "task_params": {"msg": altered_msg},
                "precursors": [*self.task["precursors"], self.task["key"]],
            }
        )
        self.task["status"] = "COMPLETED"


class ProxyingMessageStatsTaskHandler(BaseTaskHandler):
    """The second version: sets task['proxied_task'], which the engine ticks."""

    def initial_tick(self, *args, **kwargs):
        orig_msg = self.task["task_params"]["msg"]
        altered_msg = orig_msg + " (%s chars)" % len(orig_msg)
        self.task["proxied_task"] = {"task_type": "print", "task_params": {"msg": altered_msg}}

    def intermediate_tick(self, *args, **kwargs):
        self.task["status"] = self.task["proxied_task"].get("status")


class SubclassingMessageStatsTaskHandler(BaseProxyingTaskHandler):
    """The third version: generates the proxied task."""

    def generate_proxied_task(self):
        orig_msg = self.task["task_params"]["msg"]
        altered_msg = orig_msg + " (%s chars)" % len(orig_msg)
        return {"task_type": "print", "task_params": {"msg": altered_msg}}


@pytest.mark.parametrize(
    "handler",
    [
        MessageStatsTaskHandler,
        ProxyingMessageStatsTaskHandler,
        SubclassingMessageStatsTaskHandler,
    ],
)
def test_tasks_rst_message_stats(capsys, handler):
    flow_spec = load("tasks_rst_message_stats.yaml")
    my_flow_engine = FlowEngine(task_handlers={"message_stats": handler})
    flow = my_flow_engine.run_flow(flow=my_flow_engine.flow_spec_to_flow(flow_spec), max_ticks=50)
    assert capsys.readouterr().out == (
        "I am short msg (14 chars)\nI am looooooooong msg (21 chars)\n"
    )
    assert flow.status == "COMPLETED"


def test_tasks_rst_message_stats_proxy_ends_with_its_proxied_tasks_status():
    my_flow_engine = FlowEngine(task_handlers={"message_stats": ProxyingMessageStatsTaskHandler})
    flow = my_flow_engine.run_flow(
        my_flow_engine.flow_spec_to_flow(load("tasks_rst_message_stats.yaml")), max_ticks=20
    )
    for task in flow.tasks.values():
        assert task["status"] == task["proxied_task"]["status"] == "COMPLETED"


# -- examples/ ----------------------------------------------------------------------------


def run_example(name, task_handlers=None):
    flow_engine = FlowEngine(task_handlers=task_handlers)
    flow = flow_engine.flow_spec_to_flow(flow_spec=load(name))
    flow_engine.run_flow(flow=flow, max_ticks=50)
    return flow


def test_examples_spread_task(capsys):
    run_example("examples_spread_task.yaml")
    assert capsys.readouterr().out == "item_0\nitem_1\nitem_2\n"


def test_examples_standard_tasks(capsys):
    run_example("examples_standard_tasks.yaml")
    assert capsys.readouterr().out == "message set by task_1\n"


def test_examples_interpolations(capsys):
    run_example("examples_interpolations.yaml")
    assert capsys.readouterr().out == "msg set by task_1\nvalue from task_1.data\n"


def test_examples_basic_flow(capsys):
    run_example("examples_basic_flow.yaml")
    assert capsys.readouterr().out == "I am task_1.\nI am task_2.\nI am task_3.\n"


class MyCustomProxyingTaskHandler(BaseProxyingTaskHandler):
    def generate_proxied_task(self, *args, **kwargs):
        print("MyCustomTaskHandler.generate_proxying_task")
        return {"task_type": "print", "task_params": {"msg": "I am the proxied task"}}


def test_examples_proxying_tasks(capsys):
    run_example(
        "examples_proxying_tasks.yaml", {"my_custom_proxying_task": MyCustomProxyingTaskHandler}
    )
    assert capsys.readouterr().out == (
        "MyCustomTaskHandler.generate_proxying_task\nI am the proxied task\n"
    )


class MyCustomTaskHandler(BaseTaskHandler):
    def initial_tick(self, *args, **kwargs):
        print("MyCustomTaskHandler.initial_tick")

    def intermediate_tick(self, *args, **kwargs):
        print("MyCustomTaskHandler.intermediate_tick")
        self.task["status"] = "COMPLETED"


def test_examples_custom_tasks(capsys):
    run_example("examples_custom_tasks.yaml", {"my_custom_task": MyCustomTaskHandler})
    assert capsys.readouterr().out == (
        "MyCustomTaskHandler.initial_tick\nMyCustomTaskHandler.intermediate_tick\n"
    )


@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("*.yaml")))
def test_every_example_file_names_where_it_came_from(name):
    text = (HERE / name).read_text(encoding="utf-8")
    assert "aspuru-guzik-group/mission_control" in text
