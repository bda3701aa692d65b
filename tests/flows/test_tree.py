"""The flow tree (mc.flows.tree): nesting, paths, attempts, times, jobs and errors."""

from __future__ import annotations

import json

import pytest

from mc.flows import COMPLETED
from mc.flows.tree import build_flow_tree


def flaky(task_ctx):
    """Fail the first task_params['failures'] attempts, then complete."""
    task = task_ctx["task"]
    attempt = len(task["data"].get("attempts", [])) + 1
    if attempt <= task["task_params"]["failures"]:
        raise RuntimeError(f"attempt {attempt} broke")
    task["status"] = COMPLETED


def forever(task_ctx):
    """Stay RUNNING: outside work that never ends."""


@pytest.fixture
def tree_engine(engine):
    engine.register_task_type("flaky", flaky)
    engine.register_task_type("forever", forever)
    return engine


SPEC = {
    "key": "top",
    "label": "sweep flow",
    "data": {"xs": [1, 2, 3]},
    "tasks": [
        {"key": "prepare", "task_type": "noop"},
        {
            "key": "sweep",
            "task_type": "spread",
            "precursors": ["prepare"],
            "task_params": {
                "items": "$ctx.flow.data.xs",
                "mapping_params": {
                    "skeleton": {"key": "evaluate", "task_type": "noop"},
                    "wirings": ["ctx.item.value => data.x"],
                },
            },
        },
        {
            "key": "sub",
            "task_type": "flow",
            "precursors": ["prepare"],
            "task_params": {
                "flow_spec": {
                    "label": "kid",
                    "tasks": [
                        {"key": "a", "task_type": "noop"},
                        {"key": "b", "task_type": "noop", "precursors": ["a"]},
                    ],
                }
            },
        },
        {
            "key": "choose",
            "task_type": "switch",
            "task_params": {
                "control_value": 2,
                "cases": [
                    {
                        "condition": {"op": "eq", "arg": 2},
                        "task": {"key": "two", "task_type": "noop"},
                    }
                ],
            },
        },
        {"key": "report", "task_type": "noop", "precursors": ["sweep", "sub"]},
    ],
}


def run(engine, spec, ticks=50):
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(ticks):
        if flow.finished:
            break
        engine.tick_flow(flow)
        engine.clock.advance(1.0)
    return flow


def test_top_tasks_come_in_the_flows_order_with_the_flows_identity(tree_engine):
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    assert (tree.key, tree.label, tree.status) == ("top", "sweep flow", "COMPLETED")
    assert [node.path for node in tree.tasks] == ["prepare", "sweep", "sub", "choose", "report"]
    assert tree.find("report").precursors == ["sweep", "sub"]


def test_spread_items_nest_under_the_spread_named_by_their_path(tree_engine):
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    sweep = tree.find("sweep")
    assert [child.path for child in sweep.children] == [
        "sweep/evaluate_0",
        "sweep/evaluate_1",
        "sweep/evaluate_2",
    ]
    assert {child.status for child in sweep.children} == {"COMPLETED"}
    assert (sweep.subflow_key, sweep.subflow_label) == ("top.sweep", "spread sweep")


def test_subflow_tasks_nest_under_their_flow_task_with_their_own_precursors(tree_engine):
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    sub = tree.find("sub")
    assert [child.path for child in sub.children] == ["sub/a", "sub/b"]
    assert tree.find("sub/b").precursors == ["a"]
    assert (sub.subflow_key, sub.subflow_label, sub.subflow_status) == (
        "top.sub",
        "kid",
        "COMPLETED",
    )


def test_a_proxied_task_that_is_not_a_flow_is_the_proxys_one_child(tree_engine):
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    (child,) = tree.find("choose").children
    assert (child.path, child.kind, child.status) == ("choose/two", "proxied", "COMPLETED")


def test_times_and_durations_come_from_the_task(tree_engine, clock):
    start = clock.now
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    sub = tree.find("sub")
    assert sub.started_at == start + 1.0
    assert sub.duration_s == sub.finished_at - sub.started_at > 0
    assert tree.find("report").attempts == 1


def test_a_pending_task_has_no_attempts_times_or_children(tree_engine):
    flow = tree_engine.flow_spec_to_flow(SPEC)
    tree = build_flow_tree(flow.to_flow_dict())
    sweep = tree.find("sweep")
    assert (sweep.attempts, sweep.started_at, sweep.duration_s, sweep.children) == (
        0,
        None,
        None,
        [],
    )


def test_a_subflow_that_has_not_started_is_drawn_from_its_spec(tree_engine):
    tree = build_flow_tree(tree_engine.flow_spec_to_flow(SPEC).to_flow_dict())
    assert [(child.path, child.status) for child in tree.find("sub").children] == [
        ("sub/a", "PENDING"),
        ("sub/b", "PENDING"),
    ]


def test_a_retried_task_counts_its_attempts_and_shows_the_last_errors_last_line(tree_engine):
    flow = run(
        tree_engine,
        {
            "tasks": [
                {"key": "t", "task_type": "flaky", "task_params": {"failures": 5}, "retries": 2}
            ]
        },
    )
    node = build_flow_tree(flow.to_flow_dict()).find("t")
    assert (node.status, node.attempts) == ("FAILED", 3)
    # The error is the traceback; its last line names the exception.
    assert node.error == "RuntimeError: attempt 3 broke"


def test_a_task_that_succeeded_on_a_retry_counts_every_attempt(tree_engine):
    flow = run(
        tree_engine,
        {
            "tasks": [
                {"key": "t", "task_type": "flaky", "task_params": {"failures": 1}, "retries": 2}
            ]
        },
    )
    node = build_flow_tree(flow.to_flow_dict()).find("t")
    assert (node.status, node.attempts, node.error) == ("COMPLETED", 2, None)


def test_a_task_waiting_to_retry_shows_when_and_why(tree_engine, clock):
    flow = tree_engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "t",
                    "task_type": "flaky",
                    "task_params": {"failures": 1},
                    "retries": 1,
                    "retry_delay_s": 60,
                }
            ]
        }
    )
    tree_engine.tick_flow(flow)
    node = build_flow_tree(flow.to_flow_dict()).find("t")
    assert (node.status, node.attempts, node.retry_at) == ("PENDING", 1, clock.now + 60)
    assert node.error == "RuntimeError: attempt 1 broke"


def test_a_failed_task_without_retries_counts_one_attempt(tree_engine):
    flow = run(
        tree_engine, {"tasks": [{"key": "t", "task_type": "flaky", "task_params": {"failures": 1}}]}
    )
    node = build_flow_tree(flow.to_flow_dict()).find("t")
    assert (node.status, node.attempts) == ("FAILED", 1)
    assert node.error == "RuntimeError: attempt 1 broke"


def test_job_fields_come_from_the_tasks_data_and_handle():
    flow_dict = {
        "key": "f",
        "label": None,
        "status": "RUNNING",
        "data": {},
        "tasks": {
            "j": {
                "key": "j",
                "task_type": "job",
                "status": "RUNNING",
                "precursors": ["ROOT"],
                "task_params": {},
                "started_at": 5.0,
                "data": {
                    "executor": "slurm",
                    "job_dir": "/jobs/f/j",
                    "job_status": "QUEUED",
                    "handle": {"job_id": "4242", "job_dir": "/jobs/f/j"},
                },
            }
        },
    }
    node = build_flow_tree(flow_dict).find("j")
    assert (node.executor, node.job_id, node.job_dir, node.job_status) == (
        "slurm",
        "4242",
        "/jobs/f/j",
        "QUEUED",
    )


def test_stored_subflows_are_nested_through_the_loader():
    child = {
        "key": "kid-key",
        "label": "kid",
        "status": "COMPLETED",
        "data": {},
        "tasks": {
            "a": {
                "key": "a",
                "task_type": "noop",
                "status": "COMPLETED",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {},
            }
        },
    }
    parent = {
        "key": "p",
        "label": None,
        "status": "COMPLETED",
        "data": {},
        "tasks": {
            "s": {
                "key": "s",
                "task_type": "stored_flow",
                "status": "COMPLETED",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {"child_key": "kid-key"},
            }
        },
    }
    asked = []

    def load(key):
        asked.append(key)
        return child

    tree = build_flow_tree(parent, load)
    node = tree.find("s")
    assert asked == ["kid-key"]
    assert (node.subflow_key, node.subflow_stored, node.subflow_status) == (
        "kid-key",
        True,
        "COMPLETED",
    )
    assert [c.path for c in node.children] == ["s/a"]
    assert build_flow_tree(parent).find("s").children == []


def test_nested_data_of_an_unexpected_shape_is_shown_as_far_as_it_goes():
    flow_dict = {
        "key": "f",
        "label": None,
        "status": "RUNNING",
        "data": {"errors": "not a list"},
        "tasks": {
            "t": {
                "key": "t",
                "task_type": "flow",
                "status": "RUNNING",
                "precursors": ["ROOT"],
                "task_params": {"flow_spec": 3},
                "data": {"flow": {"tasks": ["not", "dicts"]}, "handle": [1]},
            }
        },
    }
    tree = build_flow_tree(flow_dict)
    node = tree.find("t")
    assert (node.children, node.job_id, tree.errors) == ([], None, [])


def test_the_tree_is_plain_json_data(tree_engine):
    tree = build_flow_tree(run(tree_engine, SPEC).to_flow_dict())
    data = json.loads(json.dumps(tree.to_dict()))
    assert data["tasks"][1]["children"][0]["path"] == "sweep/evaluate_0"
