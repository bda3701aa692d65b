"""Item 2: a spec cannot make a flow poll, signal or cancel work it does not own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mc.errors import JobOwnershipError
from mc.flows import FAILED, FlowEngine
from mc.jobs.executors.local import LocalExecutor
from mc.jobs.executors.slurm import SlurmExecutor
from tests.jobs.conftest import process_ended
from tests.security.conftest import hostile_spec, process_alive, slurm_state


def start_and_cancel(spec, task_ctx, engine=None, ticks=2):
    engine = engine or FlowEngine()
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(ticks):
        engine.tick_flow(flow, task_ctx)
    engine.cancel_flow(flow, "attack over", task_ctx)
    return flow


def test_wire_cannot_point_a_running_job_at_another_flows_job(task_ctx, victim):
    victim_dir, victim_pid, _ = victim
    spec = hostile_spec("wire_overwrites_local_handle.yaml", victim_dir=victim_dir)
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow(spec)
    engine.tick_flow(flow, task_ctx)
    own_pid = int(Path(flow.tasks["sleeper"]["job"]["job_dir"], "local.pid").read_text().split()[0])
    engine.cancel_flow(flow, "attack over", task_ctx)
    assert "task 'sleeper' is RUNNING" in flow.tasks["hijack"]["error"]
    assert process_alive(victim_pid)
    assert not Path(victim_dir, "cancelled").exists()
    assert process_ended(own_pid)  # its own job was cancelled, as it should be


def test_wire_cannot_reach_a_job_handle_inside_a_running_subflow(task_ctx, victim):
    victim_dir, victim_pid, _ = victim
    spec = hostile_spec("wire_into_subflow_handle.yaml", victim_dir=victim_dir)
    flow = start_and_cancel(spec, task_ctx)
    assert "task 'sub' is RUNNING" in flow.tasks["hijack"]["error"]
    assert process_alive(victim_pid)
    assert not Path(victim_dir, "cancelled").exists()


def test_spec_data_cannot_supply_a_job_handle(task_ctx, victim):
    victim_dir, victim_pid, _ = victim
    spec = hostile_spec("spec_data_supplies_handle.yaml", victim_dir=victim_dir)
    engine = FlowEngine()
    flow = engine.flow_spec_to_flow(spec)
    engine.tick_flow(flow, task_ctx)
    state = flow.tasks["sleeper"]["job"]
    assert state["job_dir"].startswith(task_ctx["jobs_root"])
    assert state["handle"]["job_dir"] == state["job_dir"]
    engine.cancel_flow(flow, "attack over", task_ctx)
    assert process_alive(victim_pid)
    assert not Path(victim_dir, "cancelled").exists()


def test_local_executor_refuses_a_handle_without_the_job_dirs_token(victim):
    victim_dir, victim_pid, handle = victim
    for forged in ({"job_dir": victim_dir}, {"job_dir": victim_dir, "token": "0" * 32}):
        with pytest.raises(JobOwnershipError, match="nothing was done"):
            LocalExecutor().cancel(forged)
    assert process_alive(victim_pid)
    assert not Path(victim_dir, "cancelled").exists()
    assert LocalExecutor().poll(handle)[0] == "RUNNING"  # the real handle still works


def test_local_executor_refuses_a_job_dir_swapped_for_a_symlink(tmp_path, victim):
    victim_dir, victim_pid, handle = victim
    decoy = tmp_path / "decoy"
    os.rename(victim_dir, tmp_path / "moved")
    decoy.symlink_to(tmp_path / "moved")
    with pytest.raises(JobOwnershipError, match="symlink"):
        LocalExecutor().cancel({**handle, "job_dir": str(decoy)})
    assert process_alive(victim_pid)
    os.rename(tmp_path / "moved", victim_dir)


def test_local_executor_never_signals_a_pid_whose_start_time_differs(task_ctx, build):
    # local.pid names a live process (this one) that is not the job.
    executor = LocalExecutor()
    job_dir = build("sleep 30")
    handle = executor.submit(job_dir)
    real_pid = int(Path(job_dir, "local.pid").read_text().split()[0])
    Path(job_dir, "local.pid").write_text(f"{os.getpid()} 1 x\n")
    executor.cancel(handle)  # must not SIGTERM this test process
    os.kill(real_pid, 15)
    assert process_ended(real_pid)


@pytest.fixture
def slurm_victim(tmp_path, slurm_cluster):
    """Someone else's SLURM job, submitted by hand: ``sleep 60``."""
    result = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--partition={slurm_cluster}",
            "--job-name=not-mc",
            "--output=/dev/null",
            "--wrap=sleep 60",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    job_id = result.stdout.strip().split(";")[0]
    yield job_id
    subprocess.run(["scancel", job_id], check=False)


@pytest.mark.parametrize("job_id", ["VICTIM", "--user=root"])
def test_wire_cannot_make_a_flow_scancel_a_foreign_slurm_job(
    tmp_path, task_ctx, slurm_cluster, slurm_victim, job_id
):
    job_id = slurm_victim if job_id == "VICTIM" else job_id
    spec = hostile_spec(
        "wire_overwrites_slurm_job_id.yaml", victim_job_id=job_id, victim_dir=tmp_path
    )
    engine = FlowEngine(
        executors={"slurm": SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)}
    )
    flow = start_and_cancel(spec, task_ctx, engine)
    assert flow.tasks["hijack"]["status"] == FAILED
    assert slurm_state(slurm_victim) in ("PENDING", "RUNNING")


@pytest.mark.parametrize("job_id", ["VICTIM", "--user=root", "1;2", 12.5])
def test_slurm_executor_cancels_only_a_numeric_job_id_with_its_own_token(
    tmp_path, slurm_cluster, slurm_victim, job_id
):
    from mc.jobs.executors.base import record_submission

    job_id = slurm_victim if job_id == "VICTIM" else job_id
    handle = {
        "job_id": job_id,
        "job_dir": str(tmp_path),
        "token": record_submission(str(tmp_path), "slurm"),
    }
    with pytest.raises(JobOwnershipError, match="nothing was done"):
        SlurmExecutor().cancel(handle)
    with pytest.raises(JobOwnershipError, match="nothing was done"):
        SlurmExecutor().poll(handle)
    assert slurm_state(slurm_victim) in ("PENDING", "RUNNING")


def test_a_task_spec_cannot_set_the_handle_field_itself(victim):
    from mc.errors import FlowSpecError

    victim_dir, _, _ = victim
    spec = hostile_spec("spec_data_supplies_handle.yaml", victim_dir=victim_dir)
    spec["tasks"][0]["job"] = spec["tasks"][0].pop("data")["job"]
    with pytest.raises(FlowSpecError, match=r"tasks\[0\]"):
        FlowEngine().flow_spec_to_flow(spec)
