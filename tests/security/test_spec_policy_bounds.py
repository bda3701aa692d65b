"""Issue 9, item 4: every number in a task's policies is bounded, and a retry delay
can never make a tick raise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mc.errors import FlowLoadError, FlowSpecError
from mc.flows import Flow, FlowEngine
from mc.flows.flow_engine import retry_delay_s
from mc.flows.statuses import FAILED

SPECS = Path(__file__).parent / "specs"


def _fail_always(task_ctx):
    raise RuntimeError("always fails")


def test_overflowing_backoff_makes_mc_run_exit_2_without_a_traceback(capsys):
    from mc.cli import main

    assert main(["run", str(SPECS / "spec_overflowing_backoff.yaml")]) == 2
    err = capsys.readouterr().err
    assert "tasks[0].retry_backoff: expected a multiplier >= 1 and <= 100" in err
    assert "Traceback" not in err


def test_overflowing_backoff_is_refused_by_validation():
    spec = yaml.safe_load((SPECS / "spec_overflowing_backoff.yaml").read_text())
    with pytest.raises(FlowSpecError) as caught:
        FlowEngine().flow_spec_to_flow(spec)
    assert caught.value.path == "tasks[0].retry_backoff"
    assert "<= 100" in caught.value.problem


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retries", 1001),
        ("retries", 10**9),
        ("retry_delay_s", 30 * 24 * 3600 + 1),
        ("timeout_s", 1e300),
        ("retry_backoff", 100.5),
    ],
)
def test_policy_numbers_beyond_their_bound_are_refused(field, value):
    with pytest.raises(FlowSpecError) as caught:
        Flow.from_flow_spec({"tasks": [{"task_type": "noop", field: value}]})
    assert caught.value.path == f"tasks[0].{field}"


def test_stored_flow_with_out_of_range_policy_does_not_load():
    flow_dict = Flow.from_flow_spec({"tasks": [{"key": "a", "task_type": "noop"}]}).to_flow_dict()
    flow_dict["tasks"]["a"]["retry_backoff"] = 1e200
    with pytest.raises(FlowLoadError, match="retry_backoff"):
        Flow.from_flow_dict(flow_dict)


def test_retry_delay_is_capped_and_never_overflows():
    task = {"retry_delay_s": 1.0, "retry_backoff": 1e200}
    assert retry_delay_s(task, 1) == 1.0
    assert retry_delay_s(task, 500) == 30 * 24 * 3600


def test_a_task_with_huge_stored_backoff_fails_without_the_tick_raising(clock):
    # A flow loaded from an old store may hold values validation refuses now:
    # the engine still never raises because of them.
    engine = FlowEngine(clock=clock, task_handlers={"fail_always": _fail_always})
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "boom", "task_type": "fail_always", "retries": 5, "retry_backoff": 100}]}
    )
    flow.tasks["boom"]["retry_backoff"] = 1e200
    flow.tasks["boom"]["retry_delay_s"] = 1.0
    for _ in range(6):
        engine.tick_flow(flow)
        clock.advance(31 * 24 * 3600)
    engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.tasks["boom"]["status"] == FAILED
    assert "attempt 6 of 6" in flow.data["errors"][0]


def test_a_spec_that_makes_data_errors_a_string_cannot_make_a_tick_raise():
    spec = yaml.safe_load((SPECS / "spec_errors_not_a_list.yaml").read_text())
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow(spec)
    engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.data["errors"][0] == "not a list"
    assert "missing task_params.msg" in flow.data["errors"][1]
    assert engine.retry_flow(flow) == ["broken"]
    assert flow.data["previous_errors"][0] == "not a list"


def test_a_wiring_that_makes_data_errors_a_dict_cannot_make_a_tick_raise():
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "w",
                    "task_type": "wire",
                    "task_params": {
                        "wirings": [{"value": {"a": 1}, "dest": "ctx.flow.data.errors"}]
                    },
                },
                {"key": "broken", "task_type": "print", "task_params": {}},
            ]
        }
    )
    engine.tick_flow(flow)
    engine.tick_flow(flow)
    assert flow.status == FAILED
    assert flow.data["errors"][0] == {"a": 1}
