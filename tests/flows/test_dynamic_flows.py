"""Dynamic flows: a handler adds tasks to its own flow during a tick."""

from __future__ import annotations

import json

from mc.flows import COMPLETED, PENDING, RUNNING, Flow


def message_stats(task_ctx):
    """The docs' example: print the message after this task, followed by its length."""
    task = task_ctx["task"]
    msg = task["task_params"]["msg"]
    task_ctx["flow"].add_task(
        {
            "key": f"{task['key']}_print",
            "task_type": "print",
            "task_params": {"msg": f"{msg} ({len(msg)} chars)"},
            "precursors": [task["key"]],
        }
    )
    task["status"] = COMPLETED


def test_message_stats_prints_the_message_and_its_length(engine, capsys):
    engine.register_task_type("message_stats", message_stats)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "stats",
                    "task_type": "message_stats",
                    "task_params": {"msg": "I am short msg"},
                }
            ]
        }
    )
    engine.run_flow(flow)
    assert capsys.readouterr().out == "I am short msg (14 chars)\n"
    assert list(flow.tasks) == ["stats", "stats_print"]
    assert flow.tasks["stats_print"]["precursors"] == ["stats"]
    assert flow.status == COMPLETED


def test_task_added_after_itself_waits_for_it_to_complete(engine):
    def add_then_wait(task_ctx):
        task = task_ctx["task"]
        if task.get("num_ticks_seen") is None:
            task["num_ticks_seen"] = 1
            task_ctx["flow"].add_task(
                {"key": "follow", "task_type": "noop", "precursors": [task["key"]]}
            )
        else:
            task["status"] = COMPLETED

    engine.register_task_type("add_then_wait", add_then_wait)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "adder", "task_type": "add_then_wait"}]})
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    assert flow.tasks["adder"]["status"] == COMPLETED
    assert flow.tasks["follow"]["status"] == PENDING
    engine.tick_flow(flow)
    assert flow.tasks["follow"]["status"] == COMPLETED
    assert flow.status == COMPLETED


def test_task_added_after_a_completed_task_starts_on_the_next_tick(engine, capsys):
    def add_after_first(task_ctx):
        task_ctx["flow"].add_task(
            {
                "key": "late",
                "task_type": "print",
                "task_params": {"msg": "late"},
                "precursors": ["first"],
            }
        )
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("add_after_first", add_after_first)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "first", "task_type": "noop"},
                {"key": "adder", "task_type": "add_after_first"},
                {"key": "slow_tail", "task_type": "noop"},
            ]
        }
    )
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    assert flow.tasks["late"]["status"] == PENDING
    engine.tick_flow(flow)
    assert flow.tasks["late"]["status"] == COMPLETED
    assert capsys.readouterr().out == "late\n"


def test_added_task_without_precursors_starts_at_once(engine):
    def add_free(task_ctx):
        task_ctx["flow"].add_task({"key": "free", "task_type": "noop"})
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("add_free", add_free)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "adder", "task_type": "add_free"}]})
    engine.tick_flow(flow)
    assert flow.tasks["free"]["precursors"] == ["ROOT"]
    assert flow.status == RUNNING
    engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_flow_with_an_added_task_does_not_end_before_it_ran(engine):
    engine.register_task_type("message_stats", message_stats)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "stats", "task_type": "message_stats", "task_params": {"msg": "x"}}]}
    )
    engine.tick_flow(flow)
    assert flow.status == RUNNING
    assert flow.tasks["stats_print"]["status"] == PENDING


def test_added_tasks_survive_a_json_round_trip(engine, capsys):
    engine.register_task_type("message_stats", message_stats)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "stats", "task_type": "message_stats", "task_params": {"msg": "abc"}}]}
    )
    while not flow.finished:
        engine.tick_flow(flow)
        flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
    assert flow.status == COMPLETED
    assert capsys.readouterr().out == "abc (3 chars)\n"


def test_added_task_can_interpolate_from_the_task_that_added_it(engine, capsys):
    def measure_and_report(task_ctx):
        task = task_ctx["task"]
        task["data"]["value"] = 42
        task_ctx["flow"].add_task(
            {
                "task_type": "print",
                "precursors": [task["key"]],
                "task_params": {"msg": f"$ctx.flow.tasks.{task['key']}.data.value"},
            }
        )
        task["status"] = COMPLETED

    engine.register_task_type("measure_and_report", measure_and_report)
    engine.run_flow(
        engine.flow_spec_to_flow({"tasks": [{"key": "m", "task_type": "measure_and_report"}]})
    )
    assert capsys.readouterr().out == "42\n"


def test_adding_a_bad_task_fails_the_adding_task(engine):
    def add_bad(task_ctx):
        task_ctx["flow"].add_task({"task_type": "noop", "precursors": ["nope"]})
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("add_bad", add_bad)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "adder", "task_type": "add_bad"}]})
    engine.tick_flow(flow)
    assert flow.status == "FAILED"
    assert "task.precursors[0]: unknown task key 'nope'" in flow.data["errors"][0]
    assert list(flow.tasks) == ["adder"]
