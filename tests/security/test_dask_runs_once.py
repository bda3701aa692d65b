"""Item 8: a job dir runs at most once at a time, even when Dask loses the worker that ran it.

Real LocalClusters on 127.0.0.1, one per test, since the tests kill workers.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from mc.flows import COMPLETED, FAILED, FlowEngine
from mc.jobs.constants import ALREADY_RUNNING_EXIT_STATUS
from tests.jobs.conftest import service_missing
from tests.security.conftest import hostile_spec, tick_until


@pytest.fixture
def distributed():
    try:
        import distributed
    except ImportError:
        service_missing("dask.distributed is not installed (pip install 'missioncontrol[dask]')")
    return distributed


@pytest.fixture
def nanny_cluster(distributed):
    """A scheduler with one worker under a nanny, which restarts it when it dies."""
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    yield cluster
    cluster.close()
    collect_dead_sockets()


@pytest.fixture
def bare_scheduler(distributed):
    """A scheduler with no workers; tests start workers without a nanny."""
    cluster = distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0")
    workers = []

    def start_worker():
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                cluster.scheduler_address,
                "--no-nanny",
                "--nthreads",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(worker)
        with distributed.Client(cluster.scheduler_address) as client:
            client.wait_for_workers(len([w for w in workers if w.poll() is None]), timeout=60)
        return worker

    yield cluster, start_worker
    for worker in workers:
        worker.kill()
        worker.wait()
    cluster.close()
    collect_dead_sockets()


def collect_dead_sockets() -> None:
    """Collect the sockets of killed workers' connections now, not in a later test.

    Dask leaves them to the garbage collector, whose ResourceWarning would
    otherwise fail whichever test runs when it comes.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def dask_engine(address):
    from mc.jobs.executors.dask import DaskExecutor

    executor = DaskExecutor(address=address)
    return FlowEngine(executors={"dask": executor}), executor


def job_pid(job_dir: str) -> int:
    """The pid of the entrypoint of the run under way (it writes it into job.lock)."""
    line = Path(job_dir, "job.lock").read_text().splitlines()[-1]
    return int(line.rsplit(" ", 1)[1])


def test_a_second_start_of_a_running_job_dir_does_nothing_and_exits_75(build):
    job_dir = build("echo run >> runs.txt; sleep 2; echo done > out.txt")
    first = subprocess.Popen(["bash", f"{job_dir}/entrypoint.sh"])
    deadline = time.monotonic() + 10
    while not Path(job_dir, "work_dir", "runs.txt").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = subprocess.run(["bash", f"{job_dir}/entrypoint.sh"], capture_output=True, text=True)
    assert second.returncode == ALREADY_RUNNING_EXIT_STATUS
    assert "not started: another run" in second.stderr
    assert first.wait() == 0
    assert Path(job_dir, "work_dir", "runs.txt").read_text() == "run\n"
    assert Path(job_dir, "exit_status").read_text() == "0\n"


def test_a_killed_worker_under_a_nanny_does_not_run_the_job_twice(
    tmp_path, task_ctx, nanny_cluster
):
    engine, executor = dask_engine(nanny_cluster.scheduler_address)
    try:
        flow = engine.flow_spec_to_flow(hostile_spec("dask_job_once.yaml", target=tmp_path))
        tick_until(engine, flow, task_ctx, lambda flow: (tmp_path / "runs.txt").exists())
        (worker_pid,) = executor.client.run(os.getpid).values()
        os.kill(worker_pid, signal.SIGKILL)
        tick_until(engine, flow, task_ctx, lambda flow: False, timeout_s=90)
    finally:
        executor.close()
    task = flow.tasks["once"]
    assert task["status"] == COMPLETED, task.get("error")
    assert (tmp_path / "runs.txt").read_text() == "run\n"
    assert task["job"]["submissions"] == 1


def test_a_job_whose_worker_died_without_a_nanny_ends_when_the_job_does(
    tmp_path, task_ctx, bare_scheduler
):
    cluster, start_worker = bare_scheduler
    worker = start_worker()
    engine, executor = dask_engine(cluster.scheduler_address)
    try:
        flow = engine.flow_spec_to_flow(hostile_spec("dask_job_once.yaml", target=tmp_path))
        tick_until(engine, flow, task_ctx, lambda flow: (tmp_path / "runs.txt").exists())
        worker.kill()
        started = time.monotonic()
        tick_until(engine, flow, task_ctx, lambda flow: False, timeout_s=30)
        assert time.monotonic() - started < 20
    finally:
        executor.close()
    assert flow.tasks["once"]["status"] == COMPLETED, flow.tasks["once"].get("error")
    assert (tmp_path / "runs.txt").read_text() == "run\n"


def test_a_job_lost_with_its_worker_is_reported_lost_and_not_run_again(
    tmp_path, task_ctx, bare_scheduler
):
    cluster, start_worker = bare_scheduler
    worker = start_worker()
    engine, executor = dask_engine(cluster.scheduler_address)
    try:
        flow = engine.flow_spec_to_flow(hostile_spec("dask_job_once.yaml", target=tmp_path))
        tick_until(engine, flow, task_ctx, lambda flow: (tmp_path / "runs.txt").exists())
        job_dir = flow.tasks["once"]["job"]["job_dir"]
        worker.kill()
        os.killpg(job_pid(job_dir), signal.SIGKILL)  # the job dies with it
        tick_until(engine, flow, task_ctx, lambda flow: False, timeout_s=30)
        start_worker()  # a worker again: the cluster must not run the job again
        time.sleep(2)
    finally:
        executor.close()
    task = flow.tasks["once"]
    assert task["status"] == FAILED
    assert "job lost by executor 'dask'" in task["error"]
    assert "not submitted again, as it may have run (the task's retries decide)" in task["error"]
    assert task["job"]["submissions"] == 1
    assert (tmp_path / "runs.txt").read_text() == "run\n"
