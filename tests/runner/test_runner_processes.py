"""Real ``mc runner`` processes sharing one database: no flow lost, no task run twice."""

from __future__ import annotations

import collections
import concurrent.futures
import signal
import time
from pathlib import Path

import pytest

from mc.store import FlowStore
from tests.runner.conftest import TASKS


def wait_for(condition, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def recording_spec(path: Path, n_tasks: int = 5) -> dict:
    """A flow of n tasks (a first, n - 2 in parallel, a last), each recording its completion."""
    task = {"task_type": f"{TASKS}:record_completion", "task_params": {"path": str(path)}}
    tasks = [{**task, "key": "t0"}]
    tasks += [{**task, "key": f"t{i}", "precursors": ["t0"]} for i in range(1, n_tasks - 1)]
    tasks += [
        {**task, "key": f"t{n_tasks - 1}", "precursors": [f"t{i}" for i in range(1, n_tasks - 1)]}
    ]
    return {"label": "recorded", "tasks": tasks}


def test_four_runner_processes_complete_200_flows_each_task_exactly_once(
    db_url, tmp_path, start_runner
):
    record = tmp_path / "completions.txt"
    with FlowStore(db_url) as store:
        keys = [store.create_flow(recording_spec(record)) for _ in range(200)]
    runners = [
        start_runner(db_url, "--until-done", "--interval", "0.05", "--poll", "0", "--batch", "2")
        for _ in range(4)
    ]
    # Read every runner's pipes at once: a runner blocked on a full pipe
    # would hold its leases and stall the others.
    with concurrent.futures.ThreadPoolExecutor(len(runners)) as pool:
        outputs = list(pool.map(lambda runner: runner.communicate(timeout=240), runners))
    for runner, (_, stderr) in zip(runners, outputs):
        assert runner.returncode == 0, stderr
    lines = record.read_text().splitlines()
    done = collections.Counter(tuple(line.split()[:2]) for line in lines)
    assert len(done) == 200 * 5
    assert set(done.values()) == {1}
    assert {flow_key for flow_key, _ in done} == set(keys)
    assert len({line.split()[2] for line in lines}) >= 2, "only one runner did any work"
    with FlowStore(db_url) as store:
        assert store.count_by_status() == {"COMPLETED": 200}
        assert {r.lease_owner for r in store.query(limit=None)} == {None}


def test_a_killed_runners_flows_are_finished_by_another_once_its_lease_expires(
    db_url, tmp_path, start_runner
):
    marker = tmp_path / "hung"
    with FlowStore(db_url) as store:
        hung = store.create_flow(
            {
                "tasks": [
                    {
                        "key": "hang",
                        "task_type": f"{TASKS}:hang_the_first_time",
                        "task_params": {"marker": str(marker)},
                    }
                ]
            }
        )
        others = [
            store.create_flow({"tasks": [{"key": "a", "task_type": "noop"}]}) for _ in range(3)
        ]
        first = start_runner(db_url, "--lease", "1", "--batch", "10", "--interval", "0.05")
        wait_for(marker.exists, what="the first runner to start the hanging task")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        leased = store.get_record(hung)
        assert leased.lease_owner == marker.read_text()
        second = start_runner(db_url, "--until-done", "--interval", "0.05", "--poll", "0")
        _, stderr = second.communicate(timeout=120)
        assert second.returncode == 0, stderr
        assert {store.get_record(key).status for key in [hung, *others]} == {"COMPLETED"}
        # The flows the first runner had claimed waited for its leases to expire.
        for key in [hung, *others]:
            assert store.get_record(key).updated_at >= leased.lease_expires_at


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_lets_the_runner_save_its_current_flow_release_the_rest_and_exit_0(
    sqlite_url, tmp_path, start_runner, signum
):
    markers = [tmp_path / f"started_{i}" for i in range(3)]
    with FlowStore(sqlite_url) as store:
        keys = [
            store.create_flow(
                {
                    "tasks": [
                        {
                            "key": "slow",
                            "task_type": f"{TASKS}:slow_with_marker",
                            "task_params": {"marker": str(marker), "seconds": 1.0},
                        }
                    ]
                }
            )
            for marker in markers
        ]
        runner = start_runner(sqlite_url, "--batch", "10", "--interval", "0.05")
        wait_for(lambda: any(m.exists() for m in markers), what="a task to start")
        runner.send_signal(signum)
        stdout, stderr = runner.communicate(timeout=60)
        assert runner.returncode == 0, stderr
        assert "stopped by signal" in stdout
        records = [store.get_record(key) for key in keys]
        statuses = collections.Counter(record.status for record in records)
        assert statuses == {"COMPLETED": 1, "PENDING": 2}
        assert {record.lease_owner for record in records} == {None}
        assert sum(m.exists() for m in markers) == 1


def test_an_idle_runner_stops_at_once_on_sigterm(sqlite_url, start_runner):
    with FlowStore(sqlite_url):
        pass
    runner = start_runner(sqlite_url, "--interval", "600")
    # The first line comes once the runner handles signals.
    assert runner.stdout.readline().split(" ", 1)[1].startswith("runner ")
    started = time.monotonic()
    runner.send_signal(signal.SIGTERM)
    stdout, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr
    assert "stopped by signal" in stdout
    assert time.monotonic() - started < 30, "the runner slept out its interval"
