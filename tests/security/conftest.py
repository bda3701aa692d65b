"""Fixtures for the hostile-spec suite: specs an attacker could write, kept as files.

Each spec in ``specs/`` is what a person with nothing but a spec file could
submit. Paths that differ per test run (a victim's job dir, a file that must
not be written) are written there as ``__NAME__`` placeholders, which
:func:`hostile_spec` fills in.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mc.jobs.constants import STDERR_FILE
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.job_dir import build_job_dir
from tests.jobs.conftest import ShellJob, dask_address, job_types, slurm_cluster  # noqa: F401
from tests.jobs.executors.conftest import build  # noqa: F401

SPECS_DIR = Path(__file__).parent / "specs"


def hostile_spec(name: str, **placeholders: Any) -> dict[str, Any]:
    """Load ``specs/<name>`` with each ``__KEY__`` replaced by ``placeholders[key]``."""
    text = (SPECS_DIR / name).read_text()
    for key, value in placeholders.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    assert "__" not in text.replace("__init__", ""), f"{name}: a placeholder was not filled in"
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    """The jobs root of the flows under attack."""
    root = tmp_path / "jobs"
    root.mkdir()
    return root


@pytest.fixture
def task_ctx(job_types, jobs_root: Path) -> dict[str, Any]:  # noqa: F811
    """The operator's task context: the test job types, the jobs root."""
    return {"job_types": job_types, "jobs_root": str(jobs_root)}


@pytest.fixture
def victim(tmp_path: Path, job_types):  # noqa: F811
    """Another flow's local job, running ``sleep 30`` in a job dir outside the jobs root.

    Yields ``(job_dir, pid, handle)``; the job is stopped afterwards.
    """
    other_root = tmp_path / "other_flows_jobs"
    job_dir = build_job_dir(
        {"key": "victim", "job_type": "shell", "job_params": {"command": "sleep 30"}},
        other_root / "victim",
        job_types,
    )
    executor = LocalExecutor()
    handle = executor.submit(job_dir)
    pid = int(Path(job_dir, "local.pid").read_text().split()[0])
    # Running its command: its entrypoint no longer needs the job dir's path
    # (a test may move the job dir away).
    deadline = time.monotonic() + 10
    while not Path(job_dir, STDERR_FILE).exists():
        assert time.monotonic() < deadline, "the victim job did not start"
        time.sleep(0.01)
    yield job_dir, pid, handle
    executor.cancel(handle)


def process_alive(pid: int) -> bool:
    """Return True if process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def slurm_state(job_id: str) -> str:
    """The SLURM state of ``job_id``, as ``scontrol`` shows it."""
    result = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
    )
    return next(
        field.split("=", 1)[1] for field in result.stdout.split() if field.startswith("JobState=")
    )


def tick_until(engine, flow, task_ctx, done, timeout_s: float = 60.0) -> None:
    """Tick ``flow`` until ``done(flow)`` is true (or the flow ends), for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done(flow) and not flow.finished:
        assert time.monotonic() < deadline, f"gave up after {timeout_s} s: {flow.to_flow_dict()}"
        engine.tick_flow(flow, task_ctx)
        time.sleep(0.05)
