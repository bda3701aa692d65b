"""Issue 9, item 9: a flow has a size budget. A task that would grow its flow past
it fails with a clear error, and memory stays bounded: a spec of doubling ``wire``
steps no longer grows to gigabytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from mc.cli import main
from mc.errors import FlowError
from mc.flows import FlowEngine
from mc.flows.size_budget import DEFAULT_MAX_FLOW_BYTES
from mc.flows.statuses import COMPLETED, FAILED, SKIPPED

SPECS = Path(__file__).parent / "specs"


def _spec(name: str) -> dict:
    return yaml.safe_load((SPECS / name).read_text())


def test_the_default_budget_is_64_mib():
    assert DEFAULT_MAX_FLOW_BYTES == 64 * 1024 * 1024
    assert FlowEngine().max_flow_bytes == DEFAULT_MAX_FLOW_BYTES


def test_doubling_wire_fails_the_writing_task_at_the_budget():
    engine = FlowEngine(max_flow_bytes=1024 * 1024)
    flow = engine.flow_spec_to_flow(_spec("spec_doubling_wire.yaml"))
    try:
        engine.run_flow(flow)
    except FlowError:
        pass
    statuses = [task["status"] for task in flow.tasks.values()]
    failed = statuses.index(FAILED)
    assert statuses[:failed] == [COMPLETED] * failed
    assert set(statuses[failed + 1 :]) == {SKIPPED}
    error = flow.tasks[f"double_{failed}"]["error"]
    assert "past its size budget of 1.0 MiB" in error
    assert "Traceback" not in error
    # Nothing past the budget was written: the flow still fits in it.
    assert len(flow.to_json()) <= 1024 * 1024


def test_mc_run_of_doubling_wire_ends_failed_with_little_memory(tmp_path):
    # A fresh process runs mc and reports the peak memory of its one child:
    # this test process's own children (runners, workers) do not count.
    measure = (
        "import resource, subprocess, sys\n"
        "result = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
        "sys.stderr.write(result.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(result.returncode)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            measure,
            sys.executable,
            "-m",
            "mc",
            "run",
            "--max-flow-mb",
            "2",
            str(SPECS / "spec_doubling_wire.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    peak_kb = int(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1
    assert "past its size budget of 2.0 MiB" in result.stderr
    assert "Traceback" not in result.stderr
    assert peak_kb < 200_000


def test_one_tick_cannot_build_a_huge_value_by_mapping():
    spec = _spec("spec_mapping_multiplier.yaml")
    spec["data"]["many"] = list(range(2000))
    engine = FlowEngine(max_flow_bytes=1024 * 1024)
    flow = engine.flow_spec_to_flow(spec)
    try:
        engine.run_flow(flow)
    except FlowError:
        pass
    assert flow.tasks["grow"]["status"] == COMPLETED
    assert flow.tasks["multiply"]["status"] == FAILED
    assert "copied 1.0 MiB of data in one tick" in flow.tasks["multiply"]["error"]
    assert "out" not in flow.data


def test_runner_fails_the_task_of_a_stored_flow_past_its_budget(sqlite_url, capsys):
    assert main(["submit", str(SPECS / "spec_doubling_wire.yaml"), "--db", sqlite_url]) == 0
    key = capsys.readouterr().out.strip()
    assert (
        main(
            ["runner", "--until-done", "--interval", "0", "--max-flow-mb", "1", "--db", sqlite_url]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["show", key, "--db", sqlite_url]) == 0
    shown = capsys.readouterr().out
    assert f"flow {key} (doubling): FAILED" in shown
    assert "past its size budget of 1.0 MiB" in shown


def test_a_subflow_past_the_budget_fails_its_parent_task():
    inner = _spec("spec_doubling_wire.yaml")
    engine = FlowEngine(max_flow_bytes=256 * 1024)
    flow = engine.flow_spec_to_flow(
        {"tasks": [{"key": "sub", "task_type": "flow", "task_params": {"flow_spec": inner}}]}
    )
    try:
        engine.run_flow(flow)
    except FlowError:
        pass
    assert flow.tasks["sub"]["status"] == FAILED
    assert "size budget" in flow.tasks["sub"]["error"]
    assert len(flow.to_json()) <= 2 * 256 * 1024


def test_a_live_subflow_past_the_budget_fails_on_the_tick_after_its_parent_is_saved():
    def grow(task_ctx):
        # Written straight into the task's data, not through a wiring.
        task_ctx["task"]["data"]["blob"] = "x" * (64 * 1024)

    engine = FlowEngine({"grow": grow}, max_flow_bytes=32 * 1024)
    flow = engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": "sub",
                    "task_type": "flow",
                    "task_params": {"flow_spec": {"tasks": [{"key": "g", "task_type": "grow"}]}},
                }
            ]
        }
    )
    engine.tick_flow(flow)
    assert flow.tasks["sub"]["status"] == "RUNNING"
    flow.to_json()  # what a store's save does: the live child is measured
    engine.tick_flow(flow)
    assert flow.tasks["sub"]["status"] == FAILED
    assert "size budget" in flow.tasks["sub"]["error"]
