"""Batched polling on the SLURM executor.

Calls are counted through wrappers on PATH; the cluster is the real one-node one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from mc.flows import COMPLETED, FAILED, FlowEngine
from mc.jobs.executors.slurm import SlurmExecutor, parse_sacct, parse_squeue_text
from tests.jobs.conftest import command_calls, poll_until_finished


def sweep_spec(count: int, command: str = "true") -> dict:
    return {
        "label": "slurm_sweep",
        "data": {"items": list(range(count))},
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.data.items",
                    "mapping_params": {
                        "skeleton": {
                            "key": "item",
                            "task_type": "job",
                            "task_params": {
                                "job_type": "shell",
                                "job_params": {"command": command},
                                "executor": "slurm",
                            },
                        }
                    },
                },
            }
        ],
    }


def test_a_round_of_many_jobs_costs_one_squeue(task_ctx, slurm_cluster, slurm_command_log):
    executor = SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.2)
    engine = FlowEngine(executors={"slurm": executor})
    flow = engine.run_flow(engine.flow_spec_to_flow(sweep_spec(10)), task_ctx, poll_interval_s=0.1)
    assert flow.status == COMPLETED
    squeues = command_calls(slurm_command_log, "squeue")
    assert 1 <= squeues <= flow.num_ticks
    assert command_calls(slurm_command_log, "scontrol") == 0


def test_polls_closer_than_the_interval_ask_slurm_nothing(
    build, slurm_cluster, slurm_command_log, clock
):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=10, clock=clock, squeue_json=True
    )
    handles = [executor.submit(build("true")) for _ in range(3)]
    for _ in range(5):
        assert {status for status, _ in executor.poll_many(handles)} <= {
            "QUEUED",
            "RUNNING",
            "COMPLETED",
        }
    assert command_calls(slurm_command_log, "squeue") == 1
    clock.advance(10)
    executor.poll_many(handles)
    assert command_calls(slurm_command_log, "squeue") == 2


def test_a_just_submitted_job_is_queued_until_the_next_snapshot(
    build, slurm_cluster, slurm_command_log, clock
):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=10, clock=clock, squeue_json=True
    )
    first = executor.submit(build("true"))
    executor.poll(first)
    second = executor.submit(build("true"))
    assert executor.poll(second) == ("QUEUED", {"slurm_state": "SUBMITTED", "restarts": 0})
    assert command_calls(slurm_command_log, "squeue") == 1


def test_squeue_without_json_polls_to_the_end(build, slurm_cluster):
    executor = SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1, squeue_json=False)
    status, outputs = poll_until_finished(executor, executor.submit(build("exit 3")))
    assert (status, outputs["exit_status"], outputs["slurm_state"]) == ("FAILED", 3, "FAILED")


def fake_squeue(tmp_path: Path, monkeypatch, line: str) -> None:
    """Put a ``squeue`` first on PATH that prints ``line`` (a SLURM with a state we do not know)."""
    bin_dir = tmp_path / "fake_bin"
    bin_dir.mkdir()
    script = bin_dir / "squeue"
    script.write_text(f"#!/bin/sh\necho '{line}'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")


def test_an_unknown_slurm_state_is_reported_then_failed_in_time(
    build, slurm_cluster, tmp_path, monkeypatch, clock
):
    executor = SlurmExecutor(
        partition=slurm_cluster,
        min_poll_interval_s=1,
        squeue_json=False,
        unknown_state_timeout_s=60,
        clock=clock,
    )
    handle = executor.submit(build("sleep 30"))
    executor.cancel(handle)  # the real job is not needed: the fake squeue answers for it
    fake_squeue(
        tmp_path, monkeypatch, f"{handle['job_id']}|TELEPORTING|None|mc-job|mc-{handle['token']}"
    )
    status, outputs = executor.poll(handle)
    assert (status, outputs["slurm_state"], outputs["unknown_state"]) == (
        "UNKNOWN",
        "TELEPORTING",
        "TELEPORTING",
    )
    clock.advance(61)
    status, outputs = executor.poll(handle)
    assert status == FAILED
    assert "state TELEPORTING, which MissionControl does not know, for 61 s" in outputs["error"]


def test_squeue_text_lines_become_records():
    records = parse_squeue_text("12|PENDING|Priority|mc-a|mc-abc\n13_4|RUNNING|None|x|(null)\n")
    assert records["12"] == {
        "name": "mc-a",
        "state": "PENDING",
        "reason": "Priority",
        "restarts": 0,
        "comment": "mc-abc",
        "exit_code": None,
    }
    assert records["13_4"]["comment"] is None


def test_sacct_lines_become_records_with_exit_codes():
    records = parse_sacct("41|41|CANCELLED by 1000|0:15|\n42|42|TIMEOUT|1:0|mc-x\n")
    assert (records["41"]["state"], records["41"]["comment"]) == ("CANCELLED", None)
    assert (records["42"]["state"], records["42"]["exit_code"], records["42"]["comment"]) == (
        "TIMEOUT",
        1,
        "mc-x",
    )


# sacct --noheader --parsable2 --allocations --format=JobID,JobIDRaw,State,ExitCode,Comment
# of array 100 (three tasks; the last keeps the array's own raw id, as SLURM
# does), a plain job, and array 200 with two tasks that never started.
SACCT_WITH_ARRAYS = """\
100_0|101|COMPLETED|0:0|mc-t
100_1|102|OUT_OF_MEMORY|0:125|mc-t
100_2|100|TIMEOUT|0:0|mc-t
105|105|FAILED|2:0|mc-u
200_[3-4]|200|CANCELLED by 0|0:0|mc-v
"""


def test_sacct_keys_an_array_task_by_its_array_id_and_index():
    records = parse_sacct(SACCT_WITH_ARRAYS)
    assert records["100_0"]["state"] == "COMPLETED"
    assert records["100_1"]["state"] == "OUT_OF_MEMORY"
    assert records["100_2"]["state"] == "TIMEOUT"
    assert records["105"]["exit_code"] == 2
    assert records["200_3"]["state"] == records["200_4"]["state"] == "CANCELLED"
    assert records["102"] is records["100_1"]  # its raw id as well


def test_jobs_over_max_jobs_wait_held_and_all_run(build, slurm_cluster):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=0.1, max_jobs=1, squeue_json=True
    )
    handles = [executor.submit(build("true")) for _ in range(3)]
    reasons = subprocess.run(
        [
            "squeue",
            "--noheader",
            "--format=%r",
            "--jobs",
            ",".join(handle["job_id"] for handle in handles[1:]),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert reasons == ["JobHeldUser", "JobHeldUser"]
    assert [poll_until_finished(executor, handle)[0] for handle in handles] == ["COMPLETED"] * 3


def test_an_executor_without_max_jobs_releases_held_jobs_an_earlier_one_left(build, slurm_cluster):
    # A runner with max_jobs=1 submitted three jobs, two held; the runner
    # that takes over has no max_jobs (the profile changed): it must not
    # leave them held forever.
    earlier = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=0.1, max_jobs=1, squeue_json=True
    )
    handles = [earlier.submit(build("true")) for _ in range(3)]
    later = SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1, squeue_json=True)
    assert [poll_until_finished(later, handle)[0] for handle in handles] == ["COMPLETED"] * 3
    assert later.command_counts["scontrol"] >= 1


def test_cancelling_a_held_job_frees_its_slot_and_breaks_no_poll(build, slurm_cluster):
    executor = SlurmExecutor(
        partition=slurm_cluster, min_poll_interval_s=0.1, max_jobs=1, squeue_json=True
    )
    running = executor.submit(build("sleep 1"))
    held = executor.submit(build("true"))
    # Cancelled and never polled again, as a flow that failed fast leaves it.
    executor.cancel(held)
    assert poll_until_finished(executor, running)[0] == "COMPLETED"
    # The cancelled held job counts no more: the next job is not held, and
    # every poll meanwhile answered (no failed release of the cancelled job).
    after = executor.submit(build("true"))
    assert poll_until_finished(executor, after)[0] == "COMPLETED"
