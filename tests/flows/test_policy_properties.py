"""Property tests: random DAGs with random trigger rules, retries and failures."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mc.flows import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED, Flow, FlowEngine
from mc.flows.flow import trigger_verdict
from mc.flows.spec import TRIGGER_RULES
from tests.conftest import FakeClock

STARTED = (RUNNING, COMPLETED, FAILED)


def work(task_ctx):
    """Take task_params['ticks'] ticks; fail the first task_params['failures'] attempts."""
    task = task_ctx["task"]
    left = task["data"].get("left", task["task_params"]["ticks"])
    if left > 0:
        task["data"]["left"] = left - 1
        return
    attempt = len(task["data"].get("attempts", [])) + 1
    if attempt <= task["task_params"]["failures"]:
        raise RuntimeError(f"{task['key']} attempt {attempt} failed on purpose")
    task["status"] = COMPLETED


@st.composite
def policy_dag_specs(draw, max_tasks=20):
    """A random DAG whose tasks have random rules, retries and failures."""
    n = draw(st.integers(min_value=0, max_value=max_tasks))
    tasks = []
    for position in range(n):
        earlier = [f"t{i}" for i in range(position)]
        precursors = (
            draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        )
        task = {
            "key": f"t{position}",
            "task_type": "work",
            "task_params": {
                "ticks": draw(st.integers(min_value=0, max_value=2)),
                "failures": draw(st.sampled_from([0, 0, 0, 1, 2, 5])),
            },
            "precursors": precursors or ["ROOT"],
            "trigger_rule": draw(st.sampled_from(TRIGGER_RULES)),
        }
        retries = draw(st.integers(min_value=0, max_value=2))
        if retries:
            task["retries"] = retries
            task["retry_delay_s"] = draw(st.sampled_from([0, 1, 5]))
        tasks.append(task)
    return {"key": "random", "cfg": {"fail_fast": draw(st.booleans())}, "tasks": tasks}


def run_to_end(spec, every_tick=False):
    clock = FakeClock()
    engine = FlowEngine(task_handlers={"work": work}, clock=clock)
    flow = engine.flow_spec_to_flow(spec)
    bound = (
        sum((t["task_params"]["ticks"] + 2) * (t.get("retries", 0) + 1) + 5 for t in spec["tasks"])
        + 2
    )
    ticks = 0
    while not flow.finished:
        engine.tick_flow(flow)
        ticks += 1
        clock.advance(1)
        assert ticks <= bound, "the flow did not terminate"
        if every_tick:
            flow = Flow.from_flow_dict(json.loads(json.dumps(flow.to_flow_dict())))
    return flow


def final_counts(flow, key):
    statuses = [flow.tasks[p]["status"] for p in flow.get_precursors(key)]
    unfinished = sum(s in (PENDING, RUNNING) for s in statuses)
    return len(statuses), unfinished, statuses.count(FAILED), statuses.count(SKIPPED)


@settings(max_examples=200, deadline=None)
@given(policy_dag_specs())
def test_random_flows_with_rules_and_retries_end_and_obey_the_rules(spec):
    flow = run_to_end(spec)
    fail_fast = spec["cfg"]["fail_fast"]
    any_failed = any(t["status"] == FAILED for t in flow.tasks.values())
    assert flow.status == (FAILED if any_failed else COMPLETED)
    for key, task in flow.tasks.items():
        rule = task["trigger_rule"]
        counts = final_counts(flow, key)
        if task["status"] in STARTED:
            # The rule held when the task started, and still holds.
            assert trigger_verdict(rule, *counts) is True, (key, rule, counts)
            if rule in ("all_success", "all_done", "none_failed"):
                for pre in flow.get_precursors(key):
                    # SKIPPED tasks never ran, so they have no finished_at.
                    if flow.tasks[pre]["status"] != SKIPPED:
                        assert flow.tasks[pre]["finished_at"] <= task["started_at"]
        if task["status"] == SKIPPED and not fail_fast:
            assert trigger_verdict(rule, *counts) is False, (key, rule, counts)
        retries = task.get("retries", 0)
        failures = task["task_params"]["failures"]
        if task["status"] == COMPLETED:
            assert failures <= retries
            assert len(task["data"].get("attempts", [])) == failures
        if task["status"] == FAILED:
            assert failures > retries
            if retries:
                assert len(task["data"]["attempts"]) == retries + 1
    if not fail_fast:
        assert all(t["status"] in (COMPLETED, FAILED, SKIPPED) for t in flow.tasks.values())


@settings(max_examples=60, deadline=None)
@given(policy_dag_specs())
def test_round_trips_between_every_tick_change_nothing_with_rules_and_retries(spec):
    assert run_to_end(spec, every_tick=True).to_flow_dict() == run_to_end(spec).to_flow_dict()
