"""A spec mistake that a built-in task type finds at run time fails the task with
a clear error, never a traceback (issue 9, proof: "a FAILED task with a clear
error"); ``$ctx``, which reaches the engine and the store, is refused, not copied."""

from __future__ import annotations

import yaml

from mc.flows import FlowEngine
from mc.flows.statuses import FAILED
from tests.security.conftest import SPECS_DIR

EXPECTED = {
    "whole_context": "task_params.msg: '$ctx'",
    "wire_the_context": "source 'ctx'",
    "dunder_op": "'__class__' is not allowed",
    "bad_level": "'LOUD' is not a logging level",
    "missing_msg": "missing task_params.msg",
}


def test_run_time_spec_mistakes_fail_their_tasks_with_a_sentence():
    engine = FlowEngine()
    # Loaded as it is: '__class__' is no placeholder here.
    spec = yaml.safe_load((SPECS_DIR / "spec_errors_without_tracebacks.yaml").read_text())
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(5):
        engine.tick_flow(flow)
    for key, words in EXPECTED.items():
        task = flow.tasks[key]
        assert task["status"] == FAILED, task
        assert "Traceback" not in task["error"], task["error"]
        assert words in task["error"], task["error"]
