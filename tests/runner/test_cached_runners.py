"""Runner processes on PostgreSQL share the store's task cache: a key runs once."""

from __future__ import annotations

import stat

from mc.store import FlowStore

SLOW_CACHED_JOB = {
    "label": "cached",
    "tasks": [
        {
            "key": "evaluate",
            "task_type": "job",
            "task_params": {"job_type": "example_polynomial", "job_params": {"x": 3}},
            "cache": True,
        }
    ],
}


def test_two_runner_processes_with_flows_of_the_same_key_run_the_job_once(
    postgres_url, tmp_path, monkeypatch, start_runner
):
    # The job's Python sleeps first, so that both flows want the key at once.
    slow_python = tmp_path / "slow_python"
    slow_python.write_text('#!/bin/sh\nsleep 1\nexec python3 "$@"\n')
    slow_python.chmod(slow_python.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("MC_EXAMPLE_PYTHON", str(slow_python))
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "jobs"))
    with FlowStore(postgres_url) as store:
        keys = [store.create_flow(SLOW_CACHED_JOB) for _ in range(2)]
    runners = [
        start_runner(
            postgres_url, "--until-done", "--batch", "1", "--interval", "0.05", "--poll", "0.1"
        )
        for _ in range(2)
    ]
    for runner in runners:
        _, stderr = runner.communicate(timeout=120)
        assert runner.returncode == 0, stderr
    assert len(list((tmp_path / "jobs").rglob("exit_status"))) == 1
    with FlowStore(postgres_url) as store:
        flows = [store.get_flow(key) for key in keys]
        assert [flow.status for flow in flows] == ["COMPLETED", "COMPLETED"]
        assert sorted("cached_from" in flow.tasks["evaluate"] for flow in flows) == [False, True]
        assert [flow.tasks["evaluate"]["data"]["outputs"]["y"] for flow in flows] == [9, 9]
        assert store.task_cache().entries()[0]["claim_owner"] is None
