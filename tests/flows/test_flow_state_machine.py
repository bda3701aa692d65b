"""The Flow's own state machine: the public methods that move tasks, and their checks."""

from __future__ import annotations

import pytest

from mc.errors import FlowError
from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, Flow


def diamond(**cfg) -> Flow:
    return Flow.from_flow_spec(
        {
            "key": "diamond",
            "cfg": cfg,
            "tasks": [
                {"key": "top", "task_type": "noop"},
                {"key": "left", "task_type": "noop", "precursors": ["top"]},
                {"key": "right", "task_type": "noop", "precursors": ["top"]},
                {"key": "bottom", "task_type": "noop", "precursors": ["left", "right"]},
                {
                    "key": "cleanup",
                    "task_type": "noop",
                    "precursors": ["bottom"],
                    "trigger_rule": "all_done",
                },
            ],
        }
    )


def statuses(flow: Flow) -> dict[str, str]:
    return {key: task["status"] for key, task in flow.tasks.items()}


def test_start_ready_starts_only_the_tasks_whose_precursors_are_done():
    flow = diamond()
    flow.start_ready(10.0)
    assert [task["key"] for task in flow.running_tasks()] == ["top"]
    assert flow.tasks["top"]["started_at"] == 10.0
    assert flow.count_tasks(RUNNING) == 1 and flow.count_tasks(PENDING) == 4


def test_complete_makes_the_successors_ready_in_flow_order():
    flow = diamond()
    flow.start_ready(1.0)
    flow.complete("top", 2.0)
    assert flow.tasks["top"]["finished_at"] == 2.0
    flow.start_ready(3.0)
    assert [task["key"] for task in flow.running_tasks()] == ["left", "right"]


def test_complete_accepts_a_task_whose_handler_already_wrote_completed():
    flow = diamond()
    flow.start_ready(1.0)
    flow.tasks["top"]["status"] = COMPLETED  # as a handler does
    flow.complete("top", 2.0)
    assert flow.count_tasks(COMPLETED) == 1 and flow.count_tasks(RUNNING) == 0


def test_complete_of_an_unknown_task_names_it_and_suggests_one():
    flow = diamond()
    with pytest.raises(FlowError, match="has no task 'tpo'.*did you mean 'top'") as caught:
        flow.complete("tpo", 1.0)
    assert caught.value.flow is flow


def test_complete_of_a_pending_task_is_refused_and_changes_nothing():
    flow = diamond()
    before = statuses(flow)
    with pytest.raises(FlowError, match="task 'top' is PENDING, not RUNNING"):
        flow.complete("top", 1.0)
    assert statuses(flow) == before
    assert flow.has_ready_tasks()


def test_a_task_cannot_finish_twice():
    flow = diamond()
    flow.start_ready(1.0)
    flow.complete("top", 2.0)
    with pytest.raises(FlowError, match="task 'top' is COMPLETED, not RUNNING"):
        flow.fail("top", "late failure", 3.0)


def test_fail_records_the_error_and_skips_what_can_never_start():
    flow = diamond()
    flow.start_ready(1.0)
    flow.fail("top", "boom", 2.0)
    assert flow.tasks["top"]["error"] == "boom"
    assert statuses(flow) == {
        "top": FAILED,
        "left": SKIPPED,
        "right": SKIPPED,
        "bottom": SKIPPED,
        "cleanup": PENDING,
    }
    assert flow.has_ready_tasks()


def test_fail_with_attempts_keeps_them_in_the_task_and_a_copy_in_its_data():
    flow = diamond()
    flow.start_ready(1.0)
    attempts = [{"error": "boom", "started_at": 1.0, "failed_at": 2.0}]
    flow.fail("top", "boom", 2.0, attempts)
    task = flow.tasks["top"]
    assert task["attempts"] == task["data"]["attempts"] == attempts
    assert task["data"]["attempts"] is not attempts


def test_retry_later_puts_a_running_task_back_until_its_time():
    flow = diamond()
    flow.start_ready(1.0)
    flow.retry_later("top", 5.0, [{"error": "flaky"}])
    assert flow.tasks["top"]["status"] == PENDING
    assert flow.next_retry_at() == 5.0 and not flow.has_ready_tasks()
    flow.start_ready(4.0)
    assert flow.running_tasks() == []
    flow.start_ready(5.0)
    assert [task["key"] for task in flow.running_tasks()] == ["top"]


def test_retry_later_of_a_task_that_is_not_running_is_refused():
    flow = diamond()
    with pytest.raises(FlowError, match="only a RUNNING task can be retried"):
        flow.retry_later("top", 5.0, [])


def test_skip_pending_keeps_the_rules_asked_for():
    flow = diamond()
    flow.skip_pending(keep_rules={"all_done"})
    assert statuses(flow)["cleanup"] == PENDING
    assert flow.count_tasks(SKIPPED) == 4
    assert flow.has_ready_tasks()  # cleanup: everything above it is done


def test_skip_stuck_is_refused_while_a_task_is_running():
    flow = diamond()
    flow.start_ready(1.0)
    with pytest.raises(FlowError, match="tasks are stuck only when none is RUNNING"):
        flow.skip_stuck("never")


def test_skip_stuck_skips_the_tasks_of_a_hand_edited_flow_with_the_reason():
    flow_dict = diamond().to_flow_dict()
    # By hand: 'top' FAILED, but its successors were never told.
    flow_dict["tasks"]["top"]["status"] = FAILED
    flow = Flow.from_flow_dict(flow_dict)
    assert not flow.is_waiting()
    assert flow.skip_stuck("edited by hand") == ["left", "right", "bottom", "cleanup"]
    assert flow.count_tasks(SKIPPED) == 4
    assert flow.tasks["cleanup"]["error"] == "edited by hand"


def test_is_waiting_is_false_once_every_task_has_finished():
    flow = diamond()
    for now in range(1, 4):
        flow.start_ready(float(now))
        for task in flow.running_tasks():
            flow.complete(task["key"], float(now))
        assert flow.is_waiting()
    flow.start_ready(5.0)
    flow.complete("cleanup", 5.0)
    assert not flow.is_waiting()
    assert flow.count_tasks(COMPLETED) == 5


def test_reset_puts_finished_tasks_back_as_their_spec_built_them():
    flow = diamond()
    flow.start_ready(1.0)
    flow.fail("top", "boom", 2.0)
    flow.reset(["top", "left", "right", "bottom"])
    assert flow.tasks == diamond().tasks
    assert flow.has_ready_tasks() and flow.count_tasks(PENDING) == 5


def test_reset_of_an_unfinished_task_is_refused_and_changes_nothing():
    flow = diamond()
    flow.start_ready(1.0)
    flow.fail("top", "boom", 2.0)
    before = statuses(flow)
    with pytest.raises(FlowError, match="task 'cleanup' is PENDING: only a finished task"):
        flow.reset(["top", "cleanup"])
    assert statuses(flow) == before
    assert flow.tasks["top"]["error"] == "boom"
