"""Retries, retry delays with backoff, and timeouts, on a fake clock."""

from __future__ import annotations

import json

import pytest

from mc.errors import FlowError, FlowSpecError
from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, Flow, FlowEngine


def flaky(task_ctx):
    """Fail the first task_params['failures'] attempts, then complete."""
    task = task_ctx["task"]
    attempt = len(task["data"].get("attempts", [])) + 1
    if attempt <= task["task_params"]["failures"]:
        raise RuntimeError(f"attempt {attempt} broke")
    task["data"]["done_on_attempt"] = attempt
    task["status"] = COMPLETED


def forever(task_ctx):
    """Stay RUNNING: outside work that never ends."""


@pytest.fixture
def retry_engine(engine):
    engine.register_task_type("flaky", flaky)
    engine.register_task_type("forever", forever)
    return engine


def flaky_flow(engine, failures, **policies):
    return engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "t",
                    "task_type": "flaky",
                    "task_params": {"failures": failures},
                    **policies,
                }
            ]
        }
    )


def test_a_failed_attempt_goes_back_to_pending_and_succeeds_later(retry_engine):
    flow = flaky_flow(retry_engine, failures=2, retries=2)
    retry_engine.tick_flow(flow)
    assert flow.tasks["t"]["status"] == PENDING
    for _ in range(3):
        retry_engine.tick_flow(flow)
    assert flow.status == COMPLETED
    assert flow.tasks["t"]["data"]["done_on_attempt"] == 3
    assert "errors" not in flow.data


def test_attempts_record_each_failed_attempts_error_and_time(retry_engine, clock):
    flow = flaky_flow(retry_engine, failures=1, retries=1)
    start = clock()
    retry_engine.tick_flow(flow)
    attempts = flow.tasks["t"]["data"]["attempts"]
    assert attempts == [
        {"error": "RuntimeError: attempt 1 broke", "started_at": start, "failed_at": start}
    ]


def test_after_the_last_attempt_the_task_fails(retry_engine):
    flow = flaky_flow(retry_engine, failures=5, retries=2)
    with pytest.raises(FlowError):
        retry_engine.run_flow(flow, max_ticks=10)
    task = flow.tasks["t"]
    assert task["status"] == FAILED
    assert [a["error"] for a in task["data"]["attempts"]] == [
        "RuntimeError: attempt 1 broke",
        "RuntimeError: attempt 2 broke",
        "RuntimeError: attempt 3 broke",
    ]
    assert flow.data["errors"] == [
        "task 't' (flaky): RuntimeError: attempt 3 broke (attempt 3 of 3)"
    ]


def test_ticks_before_the_retry_delay_leave_the_task_alone(retry_engine, clock):
    flow = flaky_flow(retry_engine, failures=1, retries=1, retry_delay_s=60)
    retry_engine.tick_flow(flow)
    clock.advance(59)
    retry_engine.tick_flow(flow)
    retry_engine.tick_flow(flow)
    assert flow.tasks["t"]["status"] == PENDING
    assert flow.status == RUNNING
    clock.advance(1)
    retry_engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_retry_backoff_multiplies_each_delay(retry_engine, clock):
    flow = flaky_flow(retry_engine, failures=3, retries=3, retry_delay_s=10, retry_backoff=2)
    retry_at = []
    for _ in range(3):
        retry_engine.tick_flow(flow)
        retry_at.append(flow.next_retry_at() - clock())
        clock.advance(retry_at[-1])
    assert retry_at == [10, 20, 40]
    retry_engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_a_retry_starts_from_the_spec_data_and_first_tick(retry_engine):
    seen = []

    class Stepper:
        @staticmethod
        def tick_task(task_ctx):
            task = task_ctx["task"]
            seen.append((json.loads(json.dumps(task["data"])), task.get("num_ticks")))
            task["data"]["scratch"] = "from the failed attempt"
            raise RuntimeError("no")

    retry_engine.register_task_type("stepper", Stepper)
    flow = retry_engine.flow_spec_to_flow(
        {"tasks": [{"key": "s", "task_type": "stepper", "data": {"input": 1}, "retries": 1}]}
    )
    retry_engine.tick_flow(flow)
    retry_engine.tick_flow(flow)
    assert seen[0] == ({"input": 1}, None)
    assert seen[1][0]["input"] == 1
    assert "scratch" not in seen[1][0]
    assert len(seen[1][0]["attempts"]) == 1


def test_a_retrying_task_survives_a_json_round_trip(retry_engine, clock):
    flow = flaky_flow(retry_engine, failures=1, retries=1, retry_delay_s=5)
    retry_engine.tick_flow(flow)
    flow = Flow.from_flow_dict(flow.to_flow_dict())
    retry_engine.tick_flow(flow)
    assert flow.tasks["t"]["status"] == PENDING
    clock.advance(5)
    retry_engine.tick_flow(flow)
    assert flow.status == COMPLETED


def test_run_flow_sleeps_until_the_retry_is_due(clock):
    engine = FlowEngine(task_handlers={"flaky": flaky}, clock=clock, sleep=clock.advance)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "task_type": "flaky",
                    "task_params": {"failures": 1},
                    "retries": 1,
                    "retry_delay_s": 30,
                }
            ]
        }
    )
    start = clock()
    engine.run_flow(flow, max_ticks=10)
    assert flow.status == COMPLETED
    assert clock() - start == 30


def test_a_retry_does_not_trigger_fail_fast(retry_engine):
    flow = retry_engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "t",
                    "task_type": "flaky",
                    "task_params": {"failures": 1},
                    "retries": 1,
                    "precursors": [],
                },
                {"key": "other", "task_type": "forever", "precursors": []},
            ]
        }
    )
    retry_engine.tick_flow(flow)
    assert flow.status == RUNNING


def test_a_task_running_longer_than_its_timeout_fails(retry_engine, clock):
    flow = retry_engine.flow_spec_to_flow(
        {"tasks": [{"key": "t", "task_type": "forever", "timeout_s": 10}]}
    )
    retry_engine.tick_flow(flow)
    clock.advance(10)
    retry_engine.tick_flow(flow)
    assert flow.tasks["t"]["status"] == RUNNING
    clock.advance(0.5)
    retry_engine.tick_flow(flow)
    assert flow.tasks["t"]["status"] == FAILED
    assert "timed out" in flow.tasks["t"]["error"]
    assert "timeout_s of 10 s" in flow.tasks["t"]["error"]
    assert flow.status == FAILED


def test_the_timeout_counts_from_the_stored_start_across_processes(retry_engine, clock):
    flow = retry_engine.flow_spec_to_flow(
        {"tasks": [{"key": "t", "task_type": "forever", "timeout_s": 10}]}
    )
    retry_engine.tick_flow(flow)
    stored = flow.to_flow_dict()
    clock.advance(11)
    other_process = FlowEngine(task_handlers={"forever": forever}, clock=clock)
    restored = Flow.from_flow_dict(stored)
    other_process.tick_flow(restored)
    assert restored.tasks["t"]["status"] == FAILED


def test_a_timeout_counts_as_an_attempt(retry_engine, clock):
    flow = retry_engine.flow_spec_to_flow(
        {"tasks": [{"key": "t", "task_type": "forever", "timeout_s": 10, "retries": 1}]}
    )
    retry_engine.tick_flow(flow)
    clock.advance(11)
    retry_engine.tick_flow(flow)
    task = flow.tasks["t"]
    assert task["status"] == PENDING
    assert "timed out" in task["data"]["attempts"][0]["error"]
    retry_engine.tick_flow(flow)
    assert task["status"] == RUNNING
    clock.advance(11)
    retry_engine.tick_flow(flow)
    assert task["status"] == FAILED
    assert len(task["data"]["attempts"]) == 2


def test_a_timeout_calls_the_handlers_cancel_hook(retry_engine, clock):
    cancelled = []

    class Job:
        @staticmethod
        def tick_task(task_ctx):
            pass

        @staticmethod
        def cancel_task(task_ctx):
            cancelled.append(task_ctx["task"]["key"])

    retry_engine.register_task_type("job_like", Job)
    flow = retry_engine.flow_spec_to_flow(
        {"tasks": [{"key": "j", "task_type": "job_like", "timeout_s": 1}]}
    )
    retry_engine.tick_flow(flow)
    clock.advance(2)
    retry_engine.tick_flow(flow)
    assert cancelled == ["j"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retries", -1),
        ("retries", 1.5),
        ("retries", True),
        ("retries", "3"),
        ("retry_delay_s", -1),
        ("retry_delay_s", float("nan")),
        ("retry_backoff", 0.5),
        ("timeout_s", 0),
        ("timeout_s", "10"),
    ],
)
def test_bad_policies_are_refused_with_their_path(field, value):
    with pytest.raises(FlowSpecError) as caught:
        Flow.from_flow_spec({"tasks": [{"task_type": "noop", field: value}]})
    assert caught.value.path == f"tasks[0].{field}"


def test_policies_are_stored_in_the_task_only_when_set():
    flow = Flow.from_flow_spec(
        {
            "tasks": [
                {"key": "a", "task_type": "noop"},
                {"key": "b", "task_type": "noop", "retries": 2, "timeout_s": 5},
            ]
        }
    )
    assert "retries" not in flow.tasks["a"]
    assert flow.tasks["b"]["retries"] == 2
    assert flow.tasks["b"]["timeout_s"] == 5
