"""Fixtures for the jobs tests: job modules made for testing, and the real services.

Dask tests use a real LocalCluster on 127.0.0.1; SLURM tests submit real jobs
to the cluster that scripts/setup_slurm.sh sets up. Without a service a test
skips, saying why; with CI=true it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mc.flows import FlowEngine
from mc.jobs.job_modules import JobTypeRegistry

POLYNOMIAL = "mc.jobs.examples.polynomial"


class ShellJob:
    """A job module whose job runs ``job_params['command']`` in its work dir.

    ``job_params['files']`` (name -> text) are written into the work dir;
    ``config_spec`` and ``resources`` are returned as given. The parser
    returns the work dir's ``out.txt``, stripped, as ``{'out': ...}``.
    """

    @staticmethod
    def build_work_dir(params: dict[str, Any], output_dir: str) -> dict[str, Any]:
        for name, text in params.get("files", {}).items():
            (Path(output_dir) / name).write_text(text)
        return {
            "entrypoint": params["command"],
            "config_spec": params.get("config_spec", {}),
            "resources": params.get("resources", {}),
        }

    @staticmethod
    def parse_work_dir(work_dir: str) -> dict[str, Any]:
        out = Path(work_dir) / "out.txt"
        return {"out": out.read_text().strip() if out.exists() else None}


def service_missing(reason: str) -> None:
    """Skip the test, or fail it when CI=true: in CI every service must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def job_types() -> JobTypeRegistry:
    """A job-type registry with ``shell`` (:class:`ShellJob`) and ``polynomial``."""
    from mc.jobs.examples import polynomial

    return JobTypeRegistry({"shell": ShellJob, "polynomial": polynomial})


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    """Where the tests' job dirs go."""
    root = tmp_path / "jobs"
    root.mkdir()
    return root


@pytest.fixture
def task_ctx(job_types: JobTypeRegistry, jobs_root: Path) -> dict[str, Any]:
    """A task context with the test job types and the test jobs root."""
    return {"job_types": job_types, "jobs_root": str(jobs_root)}


@pytest.fixture
def jobs_engine(clock: Any) -> FlowEngine:
    """An engine that may import the example job modules."""
    engine = FlowEngine(clock=clock, allow_imports=["mc.jobs.examples"])
    yield engine
    engine.executor_registry.close()


@pytest.fixture(scope="session")
def dask_address() -> str:
    """The address of a real Dask LocalCluster on 127.0.0.1, shared by the session."""
    try:
        from distributed import LocalCluster
    except ImportError:
        service_missing("dask.distributed is not installed (pip install 'missioncontrol[dask]')")
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address=":0"
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """The partition of a running SLURM cluster (see scripts/setup_slurm.sh)."""
    if shutil.which("sbatch") is None:
        service_missing("SLURM is not installed here (run scripts/setup_slurm.sh as root)")
    result = subprocess.run(
        ["sinfo", "--noheader", "--format=%P %t"], capture_output=True, text=True
    )
    states = [line.split() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not any(state in ("idle", "mix", "alloc") for _, state in states):
        service_missing(
            f"no SLURM node is up (sinfo: {result.stdout.strip() or result.stderr.strip()}); "
            "run scripts/setup_slurm.sh as root"
        )
    return states[0][0].rstrip("*")


def poll_until_finished(executor: Any, handle: Any, timeout_s: float = 60.0) -> tuple[str, dict]:
    """Poll a job until it is neither QUEUED nor RUNNING; return the last (status, outputs)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        status, outputs = executor.poll(handle)
        if status not in ("QUEUED", "RUNNING"):
            return status, outputs
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {status} after {timeout_s} s: {outputs}")
        time.sleep(0.05)


def process_ended(pid: int, timeout_s: float = 10.0) -> bool:
    """Wait until process ``pid`` has ended (gone, or a zombie nobody reaped yet)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def slurm_command_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file that logs each call of SLURM's commands, through wrappers first on PATH.

    Each wrapper appends its command's name to the log, then runs the real
    command: a test counts the calls an executor makes, as an admin would.
    """
    wrappers = tmp_path / "slurm_wrappers"
    wrappers.mkdir()
    log = tmp_path / "slurm_commands.log"
    log.touch()
    for name in ("sbatch", "squeue", "sacct", "scontrol", "scancel"):
        real = shutil.which(name)
        if real is None:
            continue
        wrapper = wrappers / name
        wrapper.write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    return log


def command_calls(log: Path, name: str) -> int:
    """How many times the wrappers of :func:`slurm_command_log` saw ``name`` run."""
    return log.read_text().split().count(name)
