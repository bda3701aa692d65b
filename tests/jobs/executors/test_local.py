"""The local executor: detached processes, a concurrency limit, reconnecting by job dir."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from mc.errors import JobConfigError, JobError, JobOwnershipError
from mc.jobs.executors.base import record_submission
from mc.jobs.executors.local import LocalExecutor
from tests.jobs.conftest import poll_until_finished, process_ended


def test_job_runs_to_completion_with_exit_status_zero(build):
    executor = LocalExecutor()
    job_dir = build("echo done > out.txt")
    assert poll_until_finished(executor, executor.submit(job_dir)) == (
        "COMPLETED",
        {"exit_status": 0},
    )
    assert Path(f"{job_dir}/work_dir/out.txt").read_text() == "done\n"


def test_nonzero_exit_status_is_failed(build):
    executor = LocalExecutor()
    status, outputs = poll_until_finished(executor, executor.submit(build("exit 7")))
    assert (status, outputs["exit_status"]) == ("FAILED", 7)


def test_handle_is_json(build):
    handle = LocalExecutor().submit(build("true"))
    assert json.loads(json.dumps(handle)) == handle


def test_no_more_than_max_jobs_run_at_once(build):
    executor = LocalExecutor(max_jobs=1)
    first = executor.submit(build("sleep 0.3"))
    second = executor.submit(build("true"))
    assert executor.poll(second)[0] == "QUEUED"
    assert poll_until_finished(executor, first)[0] == "COMPLETED"
    assert poll_until_finished(executor, second)[0] == "COMPLETED"


def test_a_new_executor_reconnects_to_a_running_job(build):
    handle = LocalExecutor().submit(build("sleep 0.3; echo late > out.txt"))
    restarted = LocalExecutor()
    assert restarted.poll(handle)[0] == "RUNNING"
    assert poll_until_finished(restarted, handle) == ("COMPLETED", {"exit_status": 0})


def test_a_job_queued_when_its_executor_went_away_is_lost(build):
    executor = LocalExecutor(max_jobs=1)
    running = executor.submit(build("sleep 0.3"))
    queued = executor.submit(build("true"))
    assert LocalExecutor().poll(queued)[0] == "LOST"
    poll_until_finished(executor, running)


def test_cancel_stops_a_running_job(build):
    executor = LocalExecutor()
    job_dir = build("sleep 30")
    handle = executor.submit(job_dir)
    assert executor.poll(handle)[0] == "RUNNING"
    pid = int(Path(f"{job_dir}/local.pid").read_text().split()[0])
    executor.cancel(handle)
    assert poll_until_finished(executor, handle, timeout_s=10)[0] == "FAILED"
    assert executor.poll(handle)[1]["error"] == "cancelled"
    assert process_ended(pid)


def test_missing_required_setting_fails_at_submit_before_anything_runs(build):
    job_dir = build("touch out.txt", config_spec={"chem": {"required": True}})
    with pytest.raises(JobConfigError, match="needs the setting 'chem'"):
        LocalExecutor(environ={}).submit(job_dir)
    assert not os.path.exists(f"{job_dir}/local.pid")


def test_executor_config_reaches_the_job_as_environment(build):
    executor = LocalExecutor(config={"chem": "/opt/chem"})
    job_dir = build('echo "$CHEM_EXE" > out.txt', config_spec={"chem": {"env_var": "CHEM_EXE"}})
    poll_until_finished(executor, executor.submit(job_dir))
    assert Path(f"{job_dir}/work_dir/out.txt").read_text() == "/opt/chem\n"


def test_max_jobs_must_be_positive():
    with pytest.raises(JobError, match="max_jobs must be a positive whole number"):
        LocalExecutor(max_jobs=0)


def test_a_pid_reused_by_another_process_is_not_taken_for_the_job(build):
    # After a reboot, local.pid may name some other live process.
    job_dir = build("true")
    Path(job_dir, "local.pid").write_text(f"{os.getpid()}\n")
    status, outputs = LocalExecutor().poll(
        {"job_dir": job_dir, "token": record_submission(job_dir, "local")}
    )
    assert status == "FAILED"
    assert "ended without writing an exit status" in outputs["error"]


def test_a_pid_with_another_start_time_is_not_taken_for_the_job(build):
    # The start time recorded with the pid tells the job from a later process.
    job_dir = build("true")
    Path(job_dir, "local.pid").write_text(f"{os.getpid()} 1\n")
    status, outputs = LocalExecutor().poll(
        {"job_dir": job_dir, "token": record_submission(job_dir, "local")}
    )
    assert status == "FAILED"
    assert "ended without writing an exit status" in outputs["error"]


def test_the_pid_file_records_the_jobs_start_time(build):
    job_dir = build("sleep 5")
    executor = LocalExecutor()
    handle = executor.submit(job_dir, {})
    try:
        pid, start_time = Path(job_dir, "local.pid").read_text().split()
        assert start_time == Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
        assert executor.poll(handle)[0] == "RUNNING"
    finally:
        executor.cancel(handle)


def test_a_round_of_polls_makes_one_pass_over_the_pids(build):
    executor = LocalExecutor(max_jobs=2)
    handles = [executor.submit(build("sleep 0.2")) for _ in range(6)]
    rounds = 0
    while True:
        statuses = [executor.poll(handle)[0] for handle in handles]
        rounds += 1
        if all(status == "COMPLETED" for status in statuses):
            break
        assert rounds < 200, statuses
        __import__("time").sleep(0.05)
    assert executor.passes == rounds


def test_poll_many_answers_in_order_after_one_pass(build):
    executor = LocalExecutor()
    handles = [executor.submit(build(f"exit {status}")) for status in (0, 4)]
    for handle in handles:
        poll_until_finished(executor, handle)
    passes = executor.passes
    assert [status for status, _ in executor.poll_many(handles)] == ["COMPLETED", "FAILED"]
    assert executor.passes == passes + 1


def test_a_queued_job_is_refused_for_a_handle_with_another_token(build):
    executor = LocalExecutor(max_jobs=1)
    running = executor.submit(build("sleep 0.3"))
    queued = executor.submit(build("true"))
    with pytest.raises(JobOwnershipError, match="nothing was done"):
        executor.poll({**queued, "token": "0" * 32})
    assert executor.poll(queued)[0] == "QUEUED"
    poll_until_finished(executor, running)
    poll_until_finished(executor, queued)


def test_a_poll_that_finds_its_job_ended_starts_the_next_queued_job(build):
    executor = LocalExecutor(max_jobs=1)
    first_dir, second_dir = build("sleep 0.2"), build("true")
    first = executor.submit(first_dir)
    second = executor.submit(second_dir)
    assert executor.poll(second)[0] == "QUEUED"  # the round's one pass
    wait_until(lambda: Path(first_dir, "exit_status").exists())
    # The job writes its exit status just before it exits: wait for the exit
    # itself (a zombie until the executor reaps it), so that the poll below
    # finds it ended.
    first_pid = Path(first_dir, "local.pid").read_text().split()[0]
    wait_until(
        lambda: Path(f"/proc/{first_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    )
    passes = executor.passes
    assert poll_until_finished(executor, first)[0] == "COMPLETED"
    assert executor.passes == passes  # no second pass: the poll itself refilled the slot
    assert Path(second_dir, "local.pid").exists()
    assert poll_until_finished(executor, second)[0] == "COMPLETED"


def test_an_ended_job_is_reaped_not_left_a_zombie(build):
    executor = LocalExecutor()
    job_dir = build("true")
    handle = executor.submit(job_dir)
    pid = int(Path(job_dir, "local.pid").read_text().split()[0])
    assert poll_until_finished(executor, handle)[0] == "COMPLETED"
    # Its exit status is written a moment before it exits: a later poll
    # (another round, another pass) reaps it if that one did not.
    wait_until(
        lambda: executor.poll(handle)[0] == "COMPLETED" and not Path(f"/proc/{pid}").exists()
    )


def test_a_job_killed_by_a_signal_is_failed_naming_the_signal(build):
    executor = LocalExecutor()
    job_dir = build("sleep 30")
    handle = executor.submit(job_dir)
    pid = int(Path(job_dir, "local.pid").read_text().split()[0])
    os.killpg(pid, signal.SIGKILL)
    status, outputs = poll_until_finished(executor, handle)
    assert status == "FAILED"
    assert "ended without writing an exit status, killed by SIGKILL" in outputs["error"]


def test_a_job_inherits_no_descriptor_of_the_runner(build):
    # A descriptor the runner's process marked inheritable (Python makes its
    # own not inheritable) would give the job the runner's files or sockets.
    read_end, write_end = os.pipe()
    leaked = os.dup2(write_end, 200, inheritable=True)
    try:
        executor = LocalExecutor()
        job_dir = build("ls /proc/$$/fd > fds.txt")
        poll_until_finished(executor, executor.submit(job_dir))
    finally:
        for fd in (read_end, write_end, leaked):
            os.close(fd)
    descriptors = {int(fd) for fd in Path(job_dir, "work_dir", "fds.txt").read_text().split()}
    assert leaked not in descriptors


def test_a_job_whose_process_cannot_start_is_failed_saying_why(build, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    executor = LocalExecutor()
    status, outputs = executor.poll(executor.submit(build("true")))
    assert status == "FAILED"
    assert "could not be started" in outputs["error"]


def wait_until(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
