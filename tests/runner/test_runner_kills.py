"""Runner processes killed with SIGKILL: at most the tick in flight is done again."""

from __future__ import annotations

import collections
import random
import signal
import time

from mc.store import FlowStore
from tests.runner.conftest import TASKS
from tests.runner.test_runner_processes import recording_spec, wait_for


def test_a_runner_killed_at_random_points_repeats_at_most_the_tick_in_flight(
    db_url, tmp_path, start_runner
):
    record = tmp_path / "completions.txt"
    with FlowStore(db_url) as store:
        keys = [
            store.create_flow(recording_spec(record, n_tasks=4, sleep_s=0.01)) for _ in range(30)
        ]
    kills = 0
    rng = random.Random(20261130)
    for _ in range(4):
        # The same runner id: a restarted runner takes its leased flows back at once.
        runner = start_runner(
            db_url, "--runner-id", "victim", "--interval", "0.05", "--poll", "0", "--batch", "3"
        )
        wait_for(lambda: record.exists() and record.stat().st_size > 0, what="some work")
        time.sleep(rng.uniform(0.05, 0.3))
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=30)
            kills += 1
    last = start_runner(
        db_url, "--runner-id", "victim", "--until-done", "--interval", "0.05", "--poll", "0"
    )
    _, stderr = last.communicate(timeout=120)
    assert last.returncode == 0, stderr
    lines = [line.split() for line in record.read_text().splitlines()]
    done = collections.Counter((flow_key, task_key) for flow_key, task_key, _, _ in lines)
    assert set(done) == {(key, f"t{i}") for key in keys for i in range(4)}
    repeated = {task for task, count in done.items() if count > 1}
    assert all(done[task] == 2 for task in repeated)
    # Every repeat belongs to a tick a kill cut short: one flow and tick number per kill.
    repeated_ticks = {
        (flow_key, tick)
        for flow_key, task_key, _, tick in lines
        if (flow_key, task_key) in repeated
    }
    assert len(repeated_ticks) <= kills
    with FlowStore(db_url) as store:
        assert store.count_by_status() == {"COMPLETED": 30}
    assert kills >= 2


def test_a_killed_runners_flow_is_resumed_by_another_within_two_leases(
    db_url, tmp_path, start_runner
):
    lease_s = 2.0
    marker = tmp_path / "hung"
    with FlowStore(db_url) as store:
        key = store.create_flow(
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
        first = start_runner(db_url, "--lease", str(lease_s), "--interval", "0.05")
        wait_for(marker.exists, what="the first runner to start the hanging task")
        second = start_runner(
            db_url, "--lease", str(lease_s), "--until-done", "--interval", "0.05", "--poll", "0"
        )
        # The first runner's tick outlives its lease several times over, and its
        # heartbeat keeps the flow away from the second runner meanwhile.
        time.sleep(2.5 * lease_s)
        record = store.get_record(key)
        assert (record.status, record.lease_owner) == ("PENDING", marker.read_text())
        first.send_signal(signal.SIGKILL)
        killed_at = time.time()
        first.wait(timeout=30)
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 0, stderr
        record = store.get_record(key)
        assert record.status == "COMPLETED"
        assert record.updated_at - killed_at < 2 * lease_s
