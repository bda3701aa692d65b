"""Every example in examples/ runs with the ``mc`` command and prints what it should."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mc.cli import main
from mc.cli.spec_files import load_flow_spec_file
from mc.flows import Flow, FlowEngine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# What each example's tasks print, before the task table; a new example
# must say here what it prints.
EXPECTED_OUTPUT = {
    "hello.yaml": [
        "Hello, world!",
        "Hello, lab!",
        "Both greetings are out.",
    ],
    "dataflow.yaml": [
        "Cu-2",
        "$12 per sample",
        "Fe-7 is in this batch: measure it first.",
        "[{'sample': 'Cu-2', 'site': 'lab 3'}, {'sample': 'Fe-7', 'site': 'lab 3'}, "
        "{'sample': 'Ni-1', 'site': 'lab 3'}]",
    ],
    "jobs_sweep.yaml": ["minimum y = 0 at x = 1, over 5 points"],
    "policies.yaml": [
        "reading: 4.2 mV",
        "fitting the reading",
        "plotting the fit",
        "removing scratch files",
    ],
}


@pytest.fixture(autouse=True)
def jobs_root(tmp_path, monkeypatch):
    """Job dirs of examples with jobs go to a temporary directory."""
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path))


def example_files() -> list[str]:
    return sorted(
        path.name for path in EXAMPLES.iterdir() if path.suffix in (".yaml", ".yml", ".json")
    )


def test_every_example_has_expected_output():
    assert example_files() == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("name", example_files())
def test_example_runs_with_mc_run_and_prints_what_it_should(name, capsys):
    assert main(["run", str(EXAMPLES / name)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    expected = EXPECTED_OUTPUT[name]
    assert lines[: len(expected)] == expected
    assert lines[len(expected)].split() == ["TASK", "TYPE", "STATUS", "DURATION"]
    assert lines[-1].endswith(": COMPLETED")
    # Off a terminal, standard error holds only the progress lines.
    assert all(
        re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", line) for line in captured.err.splitlines()
    )


@pytest.mark.parametrize("name", example_files())
def test_example_passes_mc_validate(name, capsys):
    assert main(["validate", str(EXAMPLES / name)]) == 0
    assert "valid flow spec" in capsys.readouterr().out


def test_policies_example_retries_once_and_skips_the_alert(capsys):
    flow = FlowEngine().run_flow(
        Flow.from_flow_spec(load_flow_spec_file(str(EXAMPLES / "policies.yaml")))
    )
    measure = flow.tasks["measure"]
    assert [attempt["error"] for attempt in measure["attempts"]] == [
        "task_params.msg: path 'ctx.flow.data.instrument.reading' does not resolve at "
        "'instrument': ctx.flow.data has no key 'instrument' (it has: nothing)"
    ]
    assert flow.tasks["alert"]["status"] == "SKIPPED"
    assert flow.tasks["cleanup"]["status"] == "COMPLETED"
    assert flow.tasks["analysis"]["data"]["flow"]["depth"] == 1
