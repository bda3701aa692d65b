"""The failure rules: a task fails alone, the flow decides what follows."""

from __future__ import annotations

import pytest

from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, FlowError


def explode(task_ctx):
    raise RuntimeError("the sample is on fire")


def set_failed(task_ctx):
    task_ctx["task"]["status"] = FAILED
    task_ctx["task"]["error"] = "bad input geometry"


@pytest.fixture
def failing_engine(engine):
    engine.register_task_type("explode", explode)
    engine.register_task_type("set_failed", set_failed)
    return engine


def branches_spec(fail_fast: bool) -> dict:
    """Two independent branches; the first one fails at its first task."""
    return {
        "cfg": {"fail_fast": fail_fast},
        "tasks": [
            {"key": "bad", "task_type": "explode", "precursors": ["ROOT"]},
            {"key": "after_bad", "task_type": "noop", "precursors": ["bad"]},
            {"key": "further", "task_type": "noop", "precursors": ["after_bad"]},
            {"key": "good", "task_type": "noop", "precursors": ["ROOT"]},
            {"key": "after_good", "task_type": "noop", "precursors": ["good"]},
            {"key": "join", "task_type": "noop", "precursors": ["after_bad", "after_good"]},
        ],
    }


def test_raising_handler_fails_its_task_with_traceback(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=False))
    failing_engine.tick_flow(flow)
    task = flow.tasks["bad"]
    assert task["status"] == FAILED
    assert "Traceback" in task["error"]
    assert "RuntimeError: the sample is on fire" in task["error"]


def test_failed_task_is_named_in_flow_errors(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=False))
    failing_engine.tick_flow(flow)
    assert flow.data["errors"] == ["task 'bad' (explode): RuntimeError: the sample is on fire"]


def test_handler_setting_failed_keeps_its_error(failing_engine):
    flow = failing_engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "set_failed"}]})
    failing_engine.tick_flow(flow)
    assert flow.tasks["a"]["error"] == "bad input geometry"
    assert flow.data["errors"] == ["task 'a' (set_failed): bad input geometry"]
    assert flow.status == FAILED


def test_fail_fast_fails_the_flow_at_once(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=True))
    failing_engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.num_ticks == 1
    assert flow.tasks["after_good"]["status"] == PENDING


def test_fail_fast_is_the_default(failing_engine):
    spec = branches_spec(fail_fast=True)
    del spec["cfg"]
    flow = failing_engine.flow_spec_to_flow(spec)
    failing_engine.tick_flow(flow)
    assert flow.status == FAILED


def test_without_fail_fast_independent_branches_go_on(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=False))
    failing_engine.tick_flow(flow)
    assert flow.status == RUNNING
    while flow.status == RUNNING:
        failing_engine.tick_flow(flow)
    statuses = {key: task["status"] for key, task in flow.tasks.items()}
    assert statuses == {
        "bad": FAILED,
        "after_bad": SKIPPED,
        "further": SKIPPED,
        "good": COMPLETED,
        "after_good": COMPLETED,
        "join": SKIPPED,
    }
    assert flow.status == FAILED


def test_downstream_tasks_are_skipped_in_the_tick_of_the_failure(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=False))
    failing_engine.tick_flow(flow)
    assert flow.tasks["further"]["status"] == SKIPPED
    assert flow.tasks["join"]["status"] == SKIPPED


def test_unknown_task_type_fails_the_task_listing_known_types(engine):
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "prnt"}]})
    engine.tick_flow(flow)
    error = flow.tasks["a"]["error"]
    assert (
        "unknown task_type 'prnt' "
        "(known: call, flow, job, log, noop, print, spread, switch, wire); "
        "did you mean 'print'?" in error
    )
    assert flow.status == FAILED


def test_print_without_msg_fails_naming_the_parameter(engine):
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "p", "task_type": "print"}]})
    engine.tick_flow(flow)
    assert "task 'p': missing task_params.msg" in flow.tasks["p"]["error"]


def test_tick_never_raises_because_of_a_task(failing_engine):
    flow = failing_engine.flow_spec_to_flow(
        {"cfg": {"fail_fast": False}, "tasks": [{"task_type": "explode"} for _ in range(3)]}
    )
    failing_engine.tick_flow(flow)
    assert flow.status == FAILED


def test_run_flow_raises_flow_error_listing_errors(failing_engine):
    flow = failing_engine.flow_spec_to_flow(branches_spec(fail_fast=False))
    with pytest.raises(FlowError) as info:
        failing_engine.run_flow(flow)
    assert info.value.flow is flow
    assert "FAILED" in str(info.value)
    assert "task 'bad' (explode): RuntimeError: the sample is on fire" in str(info.value)


def test_keyboard_interrupt_in_a_handler_stops_the_caller(failing_engine):
    """KeyboardInterrupt and SystemExit are not swallowed: they stop the caller."""

    def interrupt(task_ctx):
        raise KeyboardInterrupt

    failing_engine.register_task_type("interrupt", interrupt)
    flow = failing_engine.flow_spec_to_flow({"tasks": [{"task_type": "interrupt"}]})
    with pytest.raises(KeyboardInterrupt):
        failing_engine.tick_flow(flow)


def test_sys_exit_in_a_handler_fails_its_task_not_the_caller(engine):
    def call_exit(task_ctx):
        raise SystemExit(3)

    engine.register_task_type("call_exit", call_exit)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "call_exit"}]})
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == FAILED
    assert flow.data["errors"] == ["task 'a' (call_exit): SystemExit: 3"]


def test_exception_with_a_broken_str_still_fails_only_its_task(engine):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no text")

    def raise_unprintable(task_ctx):
        raise Unprintable()

    engine.register_task_type("raise_unprintable", raise_unprintable)
    flow = engine.flow_spec_to_flow({"tasks": [{"key": "a", "task_type": "raise_unprintable"}]})
    engine.tick_flow(flow)
    assert flow.tasks["a"]["status"] == FAILED
    assert "Unprintable" in flow.data["errors"][0]


def test_handler_changing_the_task_key_fails_the_task(engine):
    def rename(task_ctx):
        task_ctx["task"]["key"] = "other"
        task_ctx["task"]["status"] = COMPLETED

    engine.register_task_type("rename", rename)
    flow = engine.flow_spec_to_flow(
        {
            "cfg": {"fail_fast": False},
            "tasks": [{"key": "a", "task_type": "rename"}, {"key": "b", "task_type": "noop"}],
        }
    )
    engine.tick_flow(flow)
    assert flow.tasks["a"]["key"] == "a"
    assert flow.tasks["a"]["status"] == FAILED
    assert "changed task['key']" in flow.tasks["a"]["error"]
    assert flow.tasks["b"]["status"] == SKIPPED


def test_a_handler_that_writes_a_task_type_that_is_no_name_fails_its_task_only(engine):
    def renames_itself(task_ctx):
        task_ctx["task"]["task_type"] = ["not", "a", "name"]

    engine.register_task_type("renames_itself", renames_itself)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "a", "task_type": "renames_itself"},
                {"key": "b", "task_type": "noop", "precursors": []},
            ]
        }
    )
    engine.tick_flow(flow)  # a stays RUNNING, with a task_type that is a list
    engine.tick_flow(flow)  # must not raise
    assert flow.tasks["a"]["status"] == "FAILED"
    assert "unhashable" in flow.tasks["a"]["error"]
    assert flow.tasks["b"]["status"] == "COMPLETED"
