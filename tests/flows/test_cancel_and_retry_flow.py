"""FlowEngine.cancel_flow and FlowEngine.retry_flow."""

from __future__ import annotations

import pytest

from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, Flow


class Job:
    """Stays RUNNING until cancelled; records cancellations."""

    cancelled: list[str] = []

    @staticmethod
    def tick_task(task_ctx):
        pass

    @classmethod
    def cancel_task(cls, task_ctx):
        cls.cancelled.append(task_ctx["task"]["key"])


def boom(task_ctx):
    if not task_ctx.get("fixed"):
        raise RuntimeError("boom")
    task_ctx["task"]["status"] = COMPLETED


@pytest.fixture
def job_engine(engine):
    Job.cancelled = []
    engine.register_task_type("job", Job)
    engine.register_task_type("boom", boom)
    return engine


def test_cancel_flow_cancels_running_tasks_and_skips_pending_ones(job_engine, clock):
    flow = job_engine.flow_spec_to_flow(
        {"tasks": [{"key": "j", "task_type": "job"}, {"key": "after", "task_type": "noop"}]}
    )
    job_engine.tick_flow(flow)
    job_engine.cancel_flow(flow, "user asked")
    assert Job.cancelled == ["j"]
    assert flow.tasks["j"]["status"] == FAILED
    assert flow.tasks["j"]["error"] == "cancelled: user asked"
    assert flow.tasks["after"]["status"] == SKIPPED
    assert flow.status == FAILED
    assert flow.data["cancelled"] == {"reason": "user asked", "at": clock()}
    assert flow.data["errors"] == ["flow cancelled: user asked"]


def test_cancel_flow_survives_a_failing_cancel_hook(job_engine):
    class Broken(Job):
        @classmethod
        def cancel_task(cls, task_ctx):
            raise OSError("scancel not found")

    job_engine.register_task_type("broken", Broken)
    flow = job_engine.flow_spec_to_flow({"tasks": [{"key": "b", "task_type": "broken"}]})
    job_engine.tick_flow(flow)
    job_engine.cancel_flow(flow)
    assert flow.status == FAILED
    assert flow.tasks["b"]["data"]["cancel_error"] == "OSError: scancel not found"


def test_cancel_flow_leaves_a_completed_flow_alone(job_engine):
    flow = job_engine.flow_spec_to_flow({"tasks": [{"task_type": "noop"}]})
    job_engine.run_flow(flow)
    job_engine.cancel_flow(flow)
    assert flow.status == COMPLETED
    assert "cancelled" not in flow.data


def test_cancel_flow_stops_tasks_that_fail_fast_left_running(job_engine):
    flow = job_engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "j", "task_type": "job", "precursors": []},
                {"key": "b", "task_type": "boom", "precursors": []},
            ]
        }
    )
    job_engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.tasks["j"]["status"] == RUNNING
    job_engine.cancel_flow(flow)
    assert Job.cancelled == ["j"]
    assert flow.tasks["j"]["status"] == FAILED


def test_retry_flow_puts_failed_and_skipped_tasks_back_and_the_flow_runs_again(job_engine):
    flow = job_engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "b", "task_type": "boom", "data": {"input": 1}},
                {"key": "after", "task_type": "noop"},
            ]
        }
    )
    job_engine.tick_flow(flow)
    assert flow.status == FAILED
    assert job_engine.retry_flow(flow) == ["b", "after"]
    assert flow.status == RUNNING
    assert flow.tasks["b"]["status"] == PENDING
    assert flow.tasks["b"]["data"] == {"input": 1}
    assert "error" not in flow.tasks["b"]
    assert flow.data["previous_errors"] == ["task 'b' (boom): RuntimeError: boom"]
    assert "errors" not in flow.data
    job_engine.run_flow(flow, task_ctx={"fixed": True}, max_ticks=5)
    assert flow.status == COMPLETED


def test_retry_flow_after_a_round_trip_keeps_the_indexes_right(job_engine):
    flow = job_engine.flow_spec_to_flow(
        {"tasks": [{"key": "b", "task_type": "boom"}, {"key": "c", "task_type": "noop"}]}
    )
    job_engine.tick_flow(flow)
    flow = Flow.from_flow_dict(flow.to_flow_dict())
    job_engine.retry_flow(flow)
    assert flow.has_ready_tasks()
    job_engine.run_flow(flow, task_ctx={"fixed": True}, max_ticks=5)
    assert flow.count_tasks(COMPLETED) == 2


def test_retry_flow_on_a_cancelled_flow_resumes_it(job_engine):
    flow = job_engine.flow_spec_to_flow(
        {"tasks": [{"key": "n", "task_type": "noop"}, {"key": "m", "task_type": "noop"}]}
    )
    job_engine.cancel_flow(flow, "oops")
    assert job_engine.retry_flow(flow) == ["n", "m"]
    assert "cancelled" not in flow.data
    job_engine.run_flow(flow, max_ticks=5)
    assert flow.status == COMPLETED


def test_retry_flow_without_failures_changes_nothing(job_engine):
    flow = job_engine.flow_spec_to_flow({"tasks": [{"task_type": "noop"}]})
    job_engine.run_flow(flow)
    before = flow.to_flow_dict()
    assert job_engine.retry_flow(flow) == []
    assert flow.to_flow_dict() == before
