"""The SLURM executor, against a real one-node SLURM cluster (scripts/setup_slurm.sh)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mc.errors import ExecutorError, JobError
from mc.jobs.executors import slurm as slurm_module
from mc.jobs.executors.base import record_submission
from mc.jobs.executors.slurm import SlurmExecutor, parse_scontrol_record, sbatch_options
from tests.jobs.conftest import poll_until_finished


@pytest.fixture
def executor(slurm_cluster):
    """A SLURM executor that polls often, for fast tests."""
    return SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)


def scontrol_fields(job_id):
    result = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
    )
    return parse_scontrol_record(result.stdout)


def wait_for_state(job_id, wanted, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while scontrol_fields(job_id)["JobState"] != wanted:
        assert time.monotonic() < deadline, f"SLURM job {job_id} never reached {wanted}"
        time.sleep(0.1)


def test_resources_become_sbatch_options():
    assert sbatch_options(
        {
            "cores": 2,
            "memory_mb": 1500,
            "walltime_s": 3601,
            "partition": "long",
            "account": "chem",
            "extra_directives": ["--qos=low"],
        }
    ) == [
        "--cpus-per-task=2",
        "--mem=1500M",
        "--time=0-01:01:00",
        "--partition=long",
        "--account=chem",
        "--qos=low",
    ]


def test_walltime_over_a_day_uses_days():
    assert sbatch_options({"walltime_s": 2 * 86400 + 60}) == ["--time=2-00:01:00"]


def test_job_runs_on_slurm_and_completes(executor, build):
    job_dir = build("echo from-slurm > out.txt")
    status, outputs = poll_until_finished(executor, executor.submit(job_dir))
    assert (status, outputs["exit_status"], outputs["slurm_state"]) == ("COMPLETED", 0, "COMPLETED")
    assert Path(job_dir, "work_dir", "out.txt").read_text() == "from-slurm\n"


def test_job_resources_reach_slurm(executor, build):
    handle = executor.submit(
        build("true", resources={"cores": 1, "memory_mb": 64, "walltime_s": 90})
    )
    poll_until_finished(executor, handle)
    fields = scontrol_fields(handle["job_id"])
    assert (fields["NumCPUs"], fields["MinMemoryNode"], fields["TimeLimit"]) == (
        "1",
        "64M",
        "00:02:00",
    )


def test_failed_job_reports_exit_status_and_state(executor, build):
    status, outputs = poll_until_finished(executor, executor.submit(build("exit 5")))
    assert (status, outputs["exit_status"], outputs["slurm_state"]) == ("FAILED", 5, "FAILED")


def test_cancel_scancels_the_job(executor, build):
    handle = executor.submit(build("sleep 60"))
    executor.cancel(handle)
    status, outputs = poll_until_finished(executor, handle)
    assert (status, outputs["slurm_state"]) == ("FAILED", "CANCELLED")


def test_a_job_dir_submitted_twice_shows_the_second_submissions_scheduler_log(executor, build):
    # The job task submits a lost job again into its job dir: one SLURM log per submission.
    from mc.flows.task_logs import scheduler_log_file

    job_dir = build("sleep 60")
    job_ids = []
    for _ in range(2):
        handle = executor.submit_alone(job_dir)
        log = Path(job_dir, f"slurm-{handle['job_id']}.out")
        deadline = time.monotonic() + 30
        while not log.exists():
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        executor.cancel(handle)
        poll_until_finished(executor, handle)
        job_ids.append(handle["job_id"])
    first, second = job_ids
    assert Path(job_dir, f"slurm-{first}.out").is_file()
    assert scheduler_log_file(job_dir, second) == Path(job_dir, f"slurm-{second}.out")
    assert scheduler_log_file(job_dir) == Path(job_dir, f"slurm-{second}.out")
    assert f"JOB {second} ON " in Path(job_dir, f"slurm-{second}.out").read_text()


def test_a_new_executor_reconnects_by_job_id(executor, build, slurm_cluster):
    handle = executor.submit(build("sleep 0.5; echo ok > out.txt"))
    restarted = SlurmExecutor(min_poll_interval_s=0.1)
    assert poll_until_finished(restarted, handle)[0] == "COMPLETED"


def test_requeued_job_is_followed_to_its_end(executor, build):
    # The first run waits to be requeued; the second finishes at once.
    handle = executor.submit(
        build("if [ -e first_run ]; then echo again > out.txt; else touch first_run; sleep 60; fi")
    )
    # RUNNING in SLURM's books comes before the script runs: wait for the script itself.
    first_run = Path(handle["job_dir"], "work_dir", "first_run")
    deadline = time.monotonic() + 30
    while not first_run.exists():
        assert time.monotonic() < deadline, "the first run never started"
        time.sleep(0.05)
    subprocess.run(["scontrol", "requeue", handle["job_id"]], check=True)
    assert executor.poll(handle)[0] in ("QUEUED", "RUNNING")
    # SLURM holds a requeued job for two minutes; once it is held, let it start now.
    # Not at once: slurmd refuses a launch in the same second as the revocation of
    # the first run's credential ("Job credential revoked"), and the job would fail.
    wait_for_state(handle["job_id"], "PENDING")
    time.sleep(1.5)
    subprocess.run(["scontrol", "update", f"jobid={handle['job_id']}", "StartTime=now"], check=True)
    status, outputs = poll_until_finished(executor, handle)
    assert (status, outputs["restarts"]) == ("COMPLETED", 1)
    assert Path(handle["job_dir"], "work_dir", "out.txt").read_text() == "again\n"


def test_job_gone_from_the_controller_is_read_from_its_exit_status_file(
    executor, tmp_path, slurm_cluster
):
    (tmp_path / "exit_status").write_text("0\n")
    handle = {
        "job_id": "999999",
        "job_dir": str(tmp_path),
        "token": record_submission(str(tmp_path), "slurm"),
    }
    assert executor.poll(handle) == ("COMPLETED", {"exit_status": 0})


def test_job_gone_without_an_exit_status_fails_saying_so(executor, tmp_path, slurm_cluster):
    handle = {
        "job_id": "999998",
        "job_dir": str(tmp_path),
        "token": record_submission(str(tmp_path), "slurm"),
    }
    status, outputs = executor.poll(handle)
    assert status == "FAILED"
    assert "gone from the controller and left no exit status" in outputs["error"]


def test_sbatch_refusal_is_an_executor_error_with_slurms_words(build, slurm_cluster):
    executor = SlurmExecutor(partition="no_such_partition")
    with pytest.raises(ExecutorError, match="(?s)sbatch refused job 'job0'.*invalid partition"):
        executor.submit(build("true"))


def test_a_slurm_command_that_hangs_is_an_executor_error():
    # A poll's ExecutorError leaves the job task RUNNING; a raw TimeoutExpired would fail it.
    with pytest.raises(ExecutorError, match="sleep 5 did not answer within 0.1 s"):
        slurm_module._run(["sleep", "5"], timeout_s=0.1)


def test_a_job_cannot_choose_another_partition_or_account_than_the_executors(
    build, slurm_command_log
):
    executor = SlurmExecutor(partition="gpu", account="lab")
    for name, value in (("partition", "debug"), ("account", "otherlab")):
        with pytest.raises(JobError, match=f"configuration sets {name}"):
            executor.submit(build("true"), {name: value})
    assert "sbatch" not in slurm_command_log.read_text()


@pytest.mark.parametrize(
    ("name", "value", "wanted"),
    [
        ("unknown_state_timeout_s", 0, "a positive number of seconds"),
        ("unknown_state_timeout_s", -5, "a positive number of seconds"),
        ("unknown_state_timeout_s", float("nan"), "a positive number of seconds"),
        ("unknown_state_timeout_s", "600", "a positive number of seconds"),
        ("min_poll_interval_s", -1, "a number of seconds, 0 or more"),
        ("min_poll_interval_s", float("inf"), "a number of seconds, 0 or more"),
        ("min_poll_interval_s", True, "a number of seconds, 0 or more"),
    ],
)
def test_an_executors_seconds_must_be_numbers_it_can_wait(name, value, wanted):
    # Checked where the executor is made, as a profile's are: a NaN timeout
    # would never give up on a job in an unknown state.
    with pytest.raises(ExecutorError, match=f"SlurmExecutor: {name}: expected {wanted}, got"):
        SlurmExecutor(**{name: value})
    assert SlurmExecutor(min_poll_interval_s=0).min_poll_interval_s == 0
