"""Issue 9, item 7: a scancelled SLURM job is reported as CANCELLED, without an exit
status that never happened (SLURM's ExitCode 0:15 is the signal)."""

from __future__ import annotations

from mc.jobs.executors.slurm import SlurmExecutor
from mc.jobs.job_dir import build_job_dir
from mc.jobs.job_modules import JobTypeRegistry
from tests.jobs.conftest import ShellJob, poll_until_finished, slurm_cluster  # noqa: F401


def test_scancelled_job_is_cancelled_without_an_exit_status(slurm_cluster, tmp_path):  # noqa: F811
    executor = SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)
    job = {"key": "sleeper", "job_type": "shell", "job_params": {"command": "sleep 60"}}
    job_dir = build_job_dir(job, tmp_path / "sleeper", JobTypeRegistry({"shell": ShellJob}))
    handle = executor.submit(job_dir)
    executor.cancel(handle)
    status, outputs = poll_until_finished(executor, handle)
    assert status == "FAILED"
    assert outputs["slurm_state"] == "CANCELLED"
    assert "CANCELLED" in outputs["error"]
    assert "exit_status" not in outputs
