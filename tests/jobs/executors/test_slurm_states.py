"""How the SLURM executor reads a job's state, from what ``squeue`` and ``sacct`` print.

The answers are samples of SLURM's own output (``squeue --json`` as 22.05
and 23.02 print it, the text format, and ``sacct --parsable2``), printed by
stand-ins first on PATH: a state the executor does not know cannot be made
on a real cluster at will.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mc.jobs.executors.base import record_submission
from mc.jobs.executors.slurm import DEFAULT_UNKNOWN_STATE_TIMEOUT_S, SlurmExecutor

JOB_ID = 77


@pytest.fixture
def slurm_prints(tmp_path, monkeypatch):
    """Make ``squeue`` and ``sacct`` print what the test sets: ``prints(squeue=..., sacct=...)``."""
    bin_dir = tmp_path / "fake_slurm"
    bin_dir.mkdir()
    for name in ("squeue", "sacct"):
        (bin_dir / f"{name}.txt").write_text("")
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\ncat "{bin_dir}/{name}.txt"\n')
        script.chmod(0o755)
    # Job 77 is no job of this test's on the shared cluster: scancel only says what it was asked.
    scancel = bin_dir / "scancel"
    scancel.write_text(f'#!/bin/sh\necho "$@" >> "{bin_dir}/scancel.log"\n')
    scancel.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def prints(squeue: str = "", sacct: str = "") -> None:
        (bin_dir / "squeue.txt").write_text(squeue)
        (bin_dir / "sacct.txt").write_text(sacct)

    prints.scancel_log = bin_dir / "scancel.log"
    return prints


@pytest.fixture
def handle(build):
    """The handle of a job this executor submitted as SLURM job 77 (no sbatch needed)."""
    job_dir = str(Path(build("true")).resolve())
    token = record_submission(job_dir, "slurm")
    return {"job_id": str(JOB_ID), "job_dir": job_dir, "token": token, "job_name": "mc-job0"}


def squeue_22_05(state: str, token: str) -> str:
    """``squeue --json`` of SLURM 22.05: plain numbers, the state a string."""
    job = {
        "job_id": JOB_ID,
        "array_job_id": 0,
        "array_task_id": None,
        "job_state": state,
        "state_reason": "None",
        "restart_cnt": 0,
        "comment": f"mc-{token}",
        "exit_code": 0,
        "name": "mc-job0",
    }
    return json.dumps({"jobs": [job]})


def squeue_23_02(state: str, token: str) -> str:
    """``squeue --json`` of SLURM 23.02: numbers as {set, infinite, number}, the state a list."""
    unset = {"set": False, "infinite": False, "number": 0}
    job = {
        "job_id": JOB_ID,
        "array_job_id": {"set": True, "infinite": False, "number": 0},
        "array_task_id": unset,
        "job_state": [state],
        "state_reason": "None",
        "restart_cnt": 0,
        "comment": f"mc-{token}",
        "exit_code": {"status": ["SUCCESS"], "return_code": unset},
        "name": "mc-job0",
    }
    return json.dumps({"jobs": [job]})


def squeue_text(state: str, token: str) -> str:
    """``squeue --noheader --format=%i|%T|%r|%j|%k``, for a SLURM without ``--json``."""
    return f"{JOB_ID}|{state}|None|mc-job0|mc-{token}\n"


SQUEUE_FORMS = {"22.05": squeue_22_05, "23.02": squeue_23_02, "text": squeue_text}


def executor(form: str, clock, **options) -> SlurmExecutor:
    return SlurmExecutor(min_poll_interval_s=0, squeue_json=form != "text", clock=clock, **options)


@pytest.mark.parametrize("form", SQUEUE_FORMS)
@pytest.mark.parametrize(
    ("slurm_state", "job_status"),
    [
        ("PENDING", "QUEUED"),
        ("REQUEUE_HOLD", "QUEUED"),
        ("RESV_DEL_HOLD", "QUEUED"),
        ("RUNNING", "RUNNING"),
        ("COMPLETING", "RUNNING"),
        ("COMPLETED", "COMPLETED"),
        ("TIMEOUT", "FAILED"),
        ("OUT_OF_MEMORY", "FAILED"),
        ("TELEPORTING", "UNKNOWN"),
    ],
)
def test_squeue_states_become_job_statuses(
    form, slurm_state, job_status, slurm_prints, handle, clock
):
    slurm_prints(squeue=SQUEUE_FORMS[form](slurm_state, handle["token"]))
    status, outputs = executor(form, clock).poll(handle)
    assert (status, outputs["slurm_state"]) == (job_status, slurm_state)


@pytest.mark.parametrize(
    ("line", "job_status"),
    [
        ("77|77|COMPLETED|0:0|", "COMPLETED"),
        ("77|77|CANCELLED by 1000|0:15|", "FAILED"),
        ("77|77|NODE_FAIL|1:0|", "FAILED"),
        ("77|77|TELEPORTING|0:0|", "UNKNOWN"),
    ],
)
def test_sacct_states_of_jobs_gone_from_the_queue_become_job_statuses(
    line, job_status, slurm_prints, handle, clock
):
    slurm_prints(squeue=json.dumps({"jobs": []}), sacct=line + "\n")
    status, _ = executor("22.05", clock).poll(handle)
    assert status == job_status


@pytest.mark.parametrize("form", SQUEUE_FORMS)
def test_an_unknown_state_says_its_name_and_is_polled_on(form, slurm_prints, handle, clock):
    slurm_prints(squeue=SQUEUE_FORMS[form]("TELEPORTING", handle["token"]))
    slurm = executor(form, clock)
    for _ in range(3):
        status, outputs = slurm.poll(handle)
        assert (status, outputs["unknown_state"]) == ("UNKNOWN", "TELEPORTING")
        assert "error" not in outputs
        clock.advance(60)
    assert outputs["unknown_for_s"] == 120


def test_an_unknown_state_fails_the_job_after_the_bound_naming_the_state(
    slurm_prints, handle, clock
):
    slurm_prints(squeue=squeue_23_02("TELEPORTING", handle["token"]))
    slurm = executor("23.02", clock)
    assert slurm.unknown_state_timeout_s == DEFAULT_UNKNOWN_STATE_TIMEOUT_S == 600
    assert slurm.poll(handle)[0] == "UNKNOWN"
    clock.advance(599)
    assert slurm.poll(handle)[0] == "UNKNOWN"
    clock.advance(1)
    status, outputs = slurm.poll(handle)
    assert status == "FAILED"
    assert outputs["error"] == (
        "SLURM job 77 has been in state TELEPORTING, which MissionControl does not know, "
        "for 600 s (unknown_state_timeout_s=600); it was cancelled"
    )
    # Given up, it is cancelled, so that a retry never runs beside it.
    assert slurm_prints.scancel_log.read_text() == "--name=mc-job0 -- 77\n"


def test_a_job_only_sacct_knows_is_failed_after_the_bound_without_scancel(
    slurm_prints, handle, clock
):
    slurm_prints(squeue=json.dumps({"jobs": []}), sacct="77|77|TELEPORTING|0:0|\n")
    slurm = executor("22.05", clock, unknown_state_timeout_s=30)
    assert slurm.poll(handle)[0] == "UNKNOWN"
    clock.advance(30)
    status, outputs = slurm.poll(handle)
    assert status == "FAILED"
    assert "in state TELEPORTING" in outputs["error"]
    assert not slurm_prints.scancel_log.exists()


def test_a_known_state_between_unknown_ones_starts_the_bound_again(slurm_prints, handle, clock):
    slurm = executor("22.05", clock, unknown_state_timeout_s=100)
    slurm_prints(squeue=squeue_22_05("TELEPORTING", handle["token"]))
    slurm.poll(handle)
    clock.advance(90)
    slurm_prints(squeue=squeue_22_05("PENDING", handle["token"]))  # requeued, say
    assert slurm.poll(handle)[0] == "QUEUED"
    slurm_prints(squeue=squeue_22_05("TELEPORTING", handle["token"]))
    clock.advance(90)
    assert slurm.poll(handle)[0] == "UNKNOWN"
    clock.advance(90)
    assert slurm.poll(handle)[0] == "UNKNOWN"


def test_an_array_item_gone_from_the_queue_gets_its_state_from_sacct(slurm_prints, handle, clock):
    # Item 3 of array 77 (its own raw id 81) ran out of memory and left the
    # queue before a poll saw it: sacct, by the item's <array>_<index> id, says so.
    array_item = {**handle, "job_id": f"{JOB_ID}_3"}
    slurm_prints(
        squeue=json.dumps({"jobs": []}),
        sacct=f"{JOB_ID}_3|81|OUT_OF_MEMORY|0:125|mc-{handle['token']}\n",
    )
    status, outputs = executor("22.05", clock).poll(array_item)
    assert (status, outputs["slurm_state"]) == ("FAILED", "OUT_OF_MEMORY")
    assert outputs["error"] == f"SLURM job {JOB_ID}_3 OUT_OF_MEMORY"
