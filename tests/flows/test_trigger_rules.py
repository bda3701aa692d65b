"""Trigger rules: when a task may start, given how its precursors finished."""

from __future__ import annotations

import pytest

from mc.errors import FlowSpecError
from mc.flows import COMPLETED, FAILED, RUNNING, SKIPPED, Flow
from mc.flows.flow import trigger_verdict


def outcome(task_ctx):
    """Finish as task_params['outcome'] says: COMPLETED, or raise."""
    task = task_ctx["task"]
    if task["task_params"].get("outcome") == FAILED:
        raise RuntimeError(f"{task['key']} fails on purpose")
    task["status"] = COMPLETED


@pytest.fixture
def rule_engine(engine):
    engine.register_task_type("outcome", outcome)
    return engine


def run(engine, spec, max_ticks=50):
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(max_ticks):
        if flow.finished:
            return flow
        engine.tick_flow(flow)
    raise AssertionError("the flow did not end")


def two_parents_then(rule, first, second, fail_fast=False):
    """A spec: tasks a and b finish as told, then c with ``rule`` waits for both."""
    return {
        "cfg": {"fail_fast": fail_fast},
        "tasks": [
            {
                "key": "a",
                "task_type": "outcome",
                "task_params": {"outcome": first},
                "precursors": [],
            },
            {
                "key": "b",
                "task_type": "outcome",
                "task_params": {"outcome": second},
                "precursors": [],
            },
            {"key": "c", "task_type": "noop", "precursors": ["a", "b"], "trigger_rule": rule},
        ],
    }


@pytest.mark.parametrize(
    ("rule", "first", "second", "expected"),
    [
        ("all_success", COMPLETED, COMPLETED, COMPLETED),
        ("all_success", COMPLETED, FAILED, SKIPPED),
        ("all_done", COMPLETED, FAILED, COMPLETED),
        ("all_done", FAILED, FAILED, COMPLETED),
        ("one_success", COMPLETED, FAILED, COMPLETED),
        ("one_success", FAILED, FAILED, SKIPPED),
        ("one_failed", COMPLETED, FAILED, COMPLETED),
        ("one_failed", COMPLETED, COMPLETED, SKIPPED),
        ("none_failed", COMPLETED, COMPLETED, COMPLETED),
        ("none_failed", COMPLETED, FAILED, SKIPPED),
    ],
)
def test_rule_decides_whether_the_task_runs(rule_engine, rule, first, second, expected):
    flow = run(rule_engine, two_parents_then(rule, first, second))
    assert flow.tasks["c"]["status"] == expected


def test_default_rule_is_all_success(rule_engine):
    spec = two_parents_then("all_success", COMPLETED, FAILED)
    del spec["tasks"][2]["trigger_rule"]
    flow = run(rule_engine, spec)
    assert flow.tasks["c"]["status"] == SKIPPED
    assert "trigger_rule" not in flow.tasks["c"]


def test_none_failed_runs_after_a_skipped_precursor(rule_engine):
    spec = {
        "cfg": {"fail_fast": False},
        "tasks": [
            {"key": "a", "task_type": "outcome", "task_params": {"outcome": FAILED}},
            {"key": "b", "task_type": "noop", "precursors": ["a"]},
            {"key": "c", "task_type": "noop", "precursors": ["b"], "trigger_rule": "none_failed"},
        ],
    }
    flow = run(rule_engine, spec)
    assert flow.tasks["b"]["status"] == SKIPPED
    assert flow.tasks["c"]["status"] == COMPLETED


def test_one_success_starts_before_its_other_precursors_finish(rule_engine):
    class Slow:
        @staticmethod
        def tick_task(task_ctx):
            task = task_ctx["task"]
            task["data"]["ticks"] = task["data"].get("ticks", 0) + 1
            if task["data"]["ticks"] == 5:
                task["status"] = COMPLETED

    rule_engine.register_task_type("slow", Slow)
    spec = {
        "tasks": [
            {"key": "fast", "task_type": "noop", "precursors": []},
            {"key": "slow", "task_type": "slow", "precursors": []},
            {
                "key": "c",
                "task_type": "noop",
                "precursors": ["fast", "slow"],
                "trigger_rule": "one_success",
            },
        ]
    }
    flow = rule_engine.flow_spec_to_flow(spec)
    rule_engine.tick_flow(flow)
    rule_engine.tick_flow(flow)
    assert flow.tasks["c"]["status"] == COMPLETED
    assert flow.tasks["slow"]["status"] == RUNNING


def test_one_success_task_runs_only_once_when_later_precursors_complete(rule_engine):
    spec = {
        "tasks": [
            {"key": "a", "task_type": "noop", "precursors": []},
            {"key": "b", "task_type": "noop", "precursors": ["a"]},
            {
                "key": "c",
                "task_type": "outcome",
                "precursors": ["a", "b"],
                "trigger_rule": "one_success",
            },
        ]
    }
    starts = []
    rule_engine.register_task_type(
        "outcome", lambda ctx: (starts.append(ctx["task"]["key"]), outcome(ctx)), replace=True
    )
    flow = run(rule_engine, spec)
    assert flow.status == COMPLETED
    assert starts == ["c"]


def test_cleanup_task_runs_after_a_failure_and_the_flow_still_fails(rule_engine):
    spec = {
        "tasks": [
            {"key": "work", "task_type": "outcome", "task_params": {"outcome": FAILED}},
            {"key": "more_work", "task_type": "noop"},
            {
                "key": "cleanup",
                "task_type": "noop",
                "precursors": ["more_work"],
                "trigger_rule": "all_done",
            },
        ]
    }
    flow = run(rule_engine, spec)
    assert flow.tasks["more_work"]["status"] == SKIPPED
    assert flow.tasks["cleanup"]["status"] == COMPLETED
    assert flow.status == FAILED


def test_fail_fast_skips_unrelated_pending_tasks_but_runs_cleanup(rule_engine):
    spec = {
        "tasks": [
            {
                "key": "bad",
                "task_type": "outcome",
                "task_params": {"outcome": FAILED},
                "precursors": [],
            },
            {"key": "slow_start", "task_type": "noop", "precursors": []},
            {"key": "after", "task_type": "noop", "precursors": ["slow_start"]},
            {
                "key": "on_failure",
                "task_type": "noop",
                "precursors": ["bad"],
                "trigger_rule": "one_failed",
            },
        ]
    }
    flow = run(rule_engine, spec)
    assert flow.tasks["after"]["status"] == SKIPPED
    assert flow.tasks["on_failure"]["status"] == COMPLETED
    assert flow.status == FAILED


def test_fail_fast_without_cleanup_tasks_fails_the_flow_at_once(rule_engine):
    flow = rule_engine.flow_spec_to_flow(
        {
            "tasks": [
                {"key": "bad", "task_type": "outcome", "task_params": {"outcome": FAILED}},
                {"key": "next", "task_type": "noop"},
            ]
        }
    )
    rule_engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.num_ticks == 1


def test_one_failed_cleanup_is_skipped_when_nothing_failed_and_the_flow_completes(rule_engine):
    flow = run(rule_engine, two_parents_then("one_failed", COMPLETED, COMPLETED))
    assert flow.tasks["c"]["status"] == SKIPPED
    assert flow.status == COMPLETED


def test_a_skipped_task_passes_its_skip_on_by_the_successors_rules(rule_engine):
    spec = {
        "cfg": {"fail_fast": False},
        "tasks": [
            {"key": "a", "task_type": "outcome", "task_params": {"outcome": COMPLETED}},
            {"key": "b", "task_type": "noop", "precursors": ["a"], "trigger_rule": "one_failed"},
            {"key": "c", "task_type": "noop", "precursors": ["b"]},
            {"key": "d", "task_type": "noop", "precursors": ["c"], "trigger_rule": "all_done"},
        ],
    }
    flow = run(rule_engine, spec)
    statuses = {key: task["status"] for key, task in flow.tasks.items()}
    assert statuses == {"a": COMPLETED, "b": SKIPPED, "c": SKIPPED, "d": COMPLETED}
    assert flow.status == COMPLETED


def test_a_task_without_precursors_starts_whatever_its_rule(rule_engine):
    flow = run(
        rule_engine,
        {"tasks": [{"task_type": "noop", "trigger_rule": "one_failed", "precursors": []}]},
    )
    assert flow.status == COMPLETED


def test_rules_hold_across_a_json_round_trip_between_ticks(rule_engine):
    spec = two_parents_then("all_done", FAILED, COMPLETED)
    flow = rule_engine.flow_spec_to_flow(spec)
    while not flow.finished:
        rule_engine.tick_flow(flow)
        flow = Flow.from_flow_dict(flow.to_flow_dict())
    assert flow.tasks["c"]["status"] == COMPLETED


def test_added_task_with_a_rule_is_judged_on_finished_precursors(rule_engine):
    spec = {
        "cfg": {"fail_fast": False},
        "tasks": [
            {"key": "a", "task_type": "outcome", "task_params": {"outcome": FAILED}},
            {"key": "b", "task_type": "noop", "precursors": []},
        ],
    }
    flow = rule_engine.flow_spec_to_flow(spec)
    flow.add_task(
        {
            "key": "watcher",
            "task_type": "noop",
            "precursors": ["a", "b"],
            "trigger_rule": "one_failed",
        }
    )
    flow.add_task({"key": "follower", "task_type": "noop", "precursors": ["a"]})
    rule_engine.tick_flow(flow)
    rule_engine.tick_flow(flow)
    assert flow.tasks["watcher"]["status"] == COMPLETED
    assert flow.tasks["follower"]["status"] == SKIPPED


def test_unknown_rule_is_refused_with_a_suggestion():
    with pytest.raises(FlowSpecError) as caught:
        Flow.from_flow_spec({"tasks": [{"task_type": "noop", "trigger_rule": "all_succes"}]})
    assert caught.value.path == "tasks[0].trigger_rule"
    assert "did you mean 'all_success'?" in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "counts", "expected"),
    [
        ("all_success", (2, 1, 0, 0), None),
        ("all_done", (2, 0, 1, 1), True),
        ("one_success", (3, 2, 1, 0), None),
        ("one_success", (3, 1, 1, 0), True),
        ("one_failed", (2, 0, 0, 2), False),
        ("none_failed", (2, 0, 0, 1), True),
    ],
)
def test_trigger_verdict(rule, counts, expected):
    total, unfinished, failed, skipped = counts
    assert trigger_verdict(rule, total, unfinished, failed, skipped) is expected
