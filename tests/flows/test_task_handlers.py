"""Handlers: functions and BaseTaskHandler classes, with or without an engine."""

from __future__ import annotations

import logging

import pytest

from mc.flows import COMPLETED, FAILED, RUNNING, BaseTaskHandler


class CountdownTaskHandler(BaseTaskHandler):
    def initial_tick(self):
        self.task["data"]["countdown"] = self.task["task_params"]["countdown_start"]

    def intermediate_tick(self):
        countdown = self.task["data"]["countdown"]
        if countdown > 0:
            print(f"T minus {countdown}")
            self.task["data"]["countdown"] = countdown - 1
        else:
            print("Lift off!")
            self.task["status"] = COMPLETED


def test_tick_task_works_on_a_bare_task_dict(capsys):
    task = {"task_params": {"countdown_start": 2}}
    ticks = 0
    while task.get("status") != COMPLETED:
        CountdownTaskHandler.tick_task(task_ctx={"task": task})
        ticks += 1
    assert capsys.readouterr().out == "T minus 2\nT minus 1\nLift off!\n"
    assert ticks == 4
    assert task["data"] == {"countdown": 0}


def test_tick_task_fills_in_missing_status_and_data():
    task = {"task_params": {"countdown_start": 1}}
    CountdownTaskHandler.tick_task(task_ctx={"task": task})
    assert task["status"] == RUNNING
    assert task["data"] == {"countdown": 1}
    assert task["num_ticks"] == 1


def test_class_handler_runs_initial_then_intermediate_ticks_in_a_flow(engine, capsys):
    engine.register_task_type("countdown", CountdownTaskHandler)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"task_type": "countdown", "task_params": {"countdown_start": 3}}]}
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "T minus 3\nT minus 2\nT minus 1\nLift off!\n"
    assert flow.num_ticks == 5


def test_handler_without_intermediate_tick_fails_clearly_on_second_tick(engine):
    class OneShot(BaseTaskHandler):
        def initial_tick(self):
            self.task["data"]["started"] = True

    engine.register_task_type("one_shot", OneShot)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "one_shot"}]})
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == RUNNING
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == FAILED
    assert "does not implement intermediate_tick()" in flow.tasks["a"]["error"]


def test_handler_without_initial_tick_fails_its_task(engine):
    class Empty(BaseTaskHandler):
        """A handler that forgot to implement initial_tick."""

    engine.register_task_type("empty", Empty)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "empty"}]})
    engine.tick_flow(flow)
    assert "Empty must implement initial_tick()" in flow.tasks["a"]["error"]


def test_handler_results_in_task_data_survive_between_ticks(engine):
    class Accumulate(BaseTaskHandler):
        def initial_tick(self):
            self.task["data"]["total"] = 0

        def intermediate_tick(self):
            self.task["data"]["total"] += self.task["task_params"]["step"]
            if self.task["data"]["total"] >= 10:
                self.task["status"] = COMPLETED

    engine.register_task_type("accumulate", Accumulate)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "acc", "task_type": "accumulate", "task_params": {"step": 4}}]}
    )
    engine.run_flow(flow)
    assert flow.tasks["acc"]["data"] == {"total": 12}


def test_print_task_prints_its_message(engine, capsys):
    flow = engine.flow_spec_to_flow({"tasks": [{"task_type": "print", "task_params": {"msg": 42}}]})
    engine.run_flow(flow)
    assert capsys.readouterr().out == "42\n"


def test_log_task_logs_at_the_given_level_and_logger(engine, caplog):
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "task_type": "log",
                    "task_params": {"msg": "calibrated", "level": "warning", "logger": "lab.robot"},
                }
            ]
        }
    )
    with caplog.at_level(logging.DEBUG, logger="lab.robot"):
        engine.run_flow(flow)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("lab.robot", logging.WARNING, "calibrated")
    ]


def test_log_task_defaults_to_info(engine, caplog):
    flow = engine.flow_spec_to_flow({"tasks": [{"task_type": "log", "task_params": {"msg": "m"}}]})
    with caplog.at_level(logging.DEBUG, logger="mc.flows.log_task"):
        engine.run_flow(flow)
    assert [(r.name, r.levelno) for r in caplog.records] == [("mc.flows.log_task", logging.INFO)]


@pytest.mark.parametrize("level", ["LOUD", 2.5])
def test_log_task_refuses_a_bad_level(engine, level):
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "l", "task_type": "log", "task_params": {"msg": "m", "level": level}}]}
    )
    engine.tick_flow(flow)
    assert flow.tasks["l"]["status"] == FAILED
    assert "task_params.level" in flow.tasks["l"]["error"]


def test_noop_completes_in_one_tick(engine):
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "n", "task_type": "noop"}]})
    engine.tick_flow(flow)
    assert flow.tasks["n"]["status"] == COMPLETED
