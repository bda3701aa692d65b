"""The Dask executor, on a real LocalCluster on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc.jobs.executors.dask import DaskExecutor, pack_dir, unpack_dir
from tests.jobs.conftest import poll_until_finished


@pytest.fixture
def executor(dask_address):
    """A Dask executor connected to the session's LocalCluster."""
    executor = DaskExecutor(address=dask_address)
    yield executor
    executor.close()


def test_job_runs_on_a_worker_with_a_shared_filesystem(executor, build):
    job_dir = build("echo on-dask > out.txt")
    assert poll_until_finished(executor, executor.submit(job_dir)) == (
        "COMPLETED",
        {"exit_status": 0},
    )
    assert Path(job_dir, "work_dir", "out.txt").read_text() == "on-dask\n"


def test_without_a_shared_filesystem_the_outputs_come_back(dask_address, build):
    executor = DaskExecutor(address=dask_address, shared_filesystem=False)
    try:
        job_dir = build("echo travelled > out.txt; pwd > where.txt")
        assert poll_until_finished(executor, executor.submit(job_dir))[0] == "COMPLETED"
    finally:
        executor.close()
    assert Path(job_dir, "work_dir", "out.txt").read_text() == "travelled\n"
    # It ran somewhere else, and came back.
    assert Path(job_dir, "work_dir", "where.txt").read_text().strip() != f"{job_dir}/work_dir"


def test_failed_job_reports_its_exit_status(executor, build):
    assert poll_until_finished(executor, executor.submit(build("exit 3"))) == (
        "FAILED",
        {"exit_status": 3},
    )


def test_a_new_executor_reconnects_to_a_published_job(executor, dask_address, build):
    handle = executor.submit(build("sleep 0.3; echo ok > out.txt"))
    restarted = DaskExecutor(address=dask_address)
    try:
        assert poll_until_finished(restarted, handle) == ("COMPLETED", {"exit_status": 0})
    finally:
        restarted.close()


def test_cancel_stops_the_job_on_its_worker(executor, build):
    job_dir = build("sleep 30; touch out.txt")
    handle = executor.submit(job_dir)
    poll_until_finished_or_running = executor.poll(handle)[0]
    assert poll_until_finished_or_running == "RUNNING"
    executor.cancel(handle)
    assert executor.poll(handle) == ("FAILED", {"error": "cancelled"})
    assert not Path(job_dir, "work_dir", "out.txt").exists()


def test_calls_run_on_the_cluster(executor):
    handle = executor.submit_call(divmod, [17, 5], {})
    status, outputs = _poll_call_until_finished(executor, handle)
    assert (status, outputs["result"]) == ("COMPLETED", (3, 2))


def test_unknown_handle_is_lost(executor):
    assert executor.poll_call({"key": "mc-call-" + "0" * 32})[0] == "LOST"


def test_a_key_this_executor_did_not_make_is_refused(executor):
    from mc.errors import JobOwnershipError

    for handle in ({"key": "mc-job-" + "0" * 32}, {"key": "someone-elses-dataset"}):
        with pytest.raises(JobOwnershipError, match="nothing was done"):
            executor.poll_call(handle)


def test_pack_and_unpack_round_trip_a_directory(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("b")
    unpack_dir(pack_dir(tmp_path / "a"), tmp_path / "copy")
    assert (tmp_path / "copy" / "b.txt").read_text() == "b"


def _poll_call_until_finished(executor, handle):
    import time

    for _ in range(600):
        status, outputs = executor.poll_call(handle)
        if status != "RUNNING":
            return status, outputs
        time.sleep(0.05)
    raise AssertionError("call still running")


def test_call_task_runs_on_dask_in_a_flow(executor):
    from mc.flows import FlowEngine

    engine = FlowEngine(executors={"dask": executor})
    flow = engine.flow_spec_to_flow(
        {
            "key": "dask_call",
            "tasks": [
                {
                    "key": "power",
                    "task_type": "call",
                    "task_params": {"fn": "power", "args": [3, 4], "executor": "dask"},
                },
            ],
        }
    )
    engine.run_flow(flow, {"callables": {"power": pow}}, max_ticks=1000, poll_interval_s=0.02)
    assert flow.tasks["power"]["data"]["result"] == 81


def test_unreachable_scheduler_is_an_executor_error(tmp_path):
    # A poll's ExecutorError leaves the job task RUNNING until the scheduler is back.
    from mc.errors import ExecutorError
    from mc.jobs.executors.base import record_submission

    executor = DaskExecutor(address="tcp://127.0.0.1:9", connect_timeout_s=0.5)
    handle = {
        "key": "mc-job-" + "0" * 32,
        "job_dir": str(tmp_path),
        "shared_filesystem": True,
        "token": record_submission(str(tmp_path), "dask"),
    }
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        executor.poll(handle)
    executor.close()
