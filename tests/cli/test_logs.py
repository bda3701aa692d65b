"""``mc logs KEY [TASK] [-f]``: task logs and job output, by task path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mc.cli import main
from mc.store import FlowStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def ticker_flow(lines: int = 2, wait_for: str = "") -> dict:
    """A print task, then a spread of one real local job that prints ``lines`` lines."""
    job_params = {"interval_s": 0.05, "wait_for": wait_for}
    return {
        "label": "logged",
        "tasks": [
            {"key": "hello", "task_type": "print", "task_params": {"msg": "hi there"}},
            {
                "key": "sweep",
                "task_type": "spread",
                "precursors": ["hello"],
                "task_params": {
                    "items": [lines],
                    "mapping_params": {
                        "skeleton": {
                            "key": "evaluate",
                            "task_type": "job",
                            "task_params": {
                                "job_type": "tests.cli.ticker_job",
                                "executor": "local",
                                "job_params": job_params,
                            },
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.lines"],
                    },
                },
            },
        ],
    }


@pytest.fixture
def ran(sqlite_url, capsys):
    """A ticker flow run to its end by ``mc runner``; its key."""
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(ticker_flow())
    assert (
        main(
            [
                "runner",
                "--db",
                sqlite_url,
                "--until-done",
                "--interval",
                "0.01",
                "--poll",
                "0.05",
                "--allow-imports",
                "tests.cli",
            ]
        )
        == 0
    )
    capsys.readouterr()
    return key


def logs(capsys, *args):
    code = main(["logs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_logs_of_a_flow_prefix_every_line_with_its_task_path(ran, sqlite_url, capsys):
    code, out, _ = logs(capsys, ran, "--db", sqlite_url)
    assert code == 0
    assert out.splitlines() == [
        "hello | hi there",
        "sweep/evaluate_0 | tick 0",
        "sweep/evaluate_0 | tick 1",
        "sweep/evaluate_0 stderr | warning 0",
        "sweep/evaluate_0 stderr | warning 1",
    ]


def test_logs_of_one_task_show_its_files_under_headers(ran, sqlite_url, capsys):
    code, out, _ = logs(capsys, ran, "sweep/evaluate_0", "--db", sqlite_url)
    assert code == 0
    assert out.splitlines() == [
        "==> sweep/evaluate_0: stdout.txt <==",
        "tick 0",
        "tick 1",
        "==> sweep/evaluate_0: stderr.txt <==",
        "warning 0",
        "warning 1",
    ]


def test_logs_of_a_spread_task_include_its_items(ran, sqlite_url, capsys):
    _, out, _ = logs(capsys, ran, "sweep", "--db", sqlite_url)
    assert "sweep/evaluate_0 | tick 1" in out.splitlines()


def test_logs_of_an_unknown_task_exit_2_listing_the_paths(ran, sqlite_url, capsys):
    code, _, err = logs(capsys, ran, "sweep/evaluate_9", "--db", sqlite_url)
    assert code == 2
    assert "has no task 'sweep/evaluate_9' (tasks: hello, sweep, sweep/evaluate_0)" in err


def test_logs_of_an_unknown_flow_exit_2(sqlite_url, capsys):
    with FlowStore(sqlite_url):
        pass
    code, _, err = logs(capsys, "no-such-key", "--db", sqlite_url)
    assert code == 2
    assert "no-such-key" in err


def test_logs_never_read_a_job_dir_that_mc_did_not_build(sqlite_url, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "stdout.txt").write_text("not a job's output\n")
    spec = {"tasks": [{"key": "fake", "task_type": "noop", "data": {"job_dir": str(elsewhere)}}]}
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(spec)
    _, out, _ = logs(capsys, key, "--db", sqlite_url)
    assert "not a job's output" not in out


def test_logs_follow_prints_a_running_jobs_output_as_it_comes(sqlite_url, tmp_path):
    go_on = tmp_path / "go_on"
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(ticker_flow(lines=3, wait_for=str(go_on)))
    env = {
        **os.environ,
        "MC_JOBS_ROOT": str(tmp_path / "jobs"),
        "MC_LOGS_ROOT": str(tmp_path / "logs"),
    }
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc",
            "runner",
            "--db",
            sqlite_url,
            "--until-done",
            "--interval",
            "0.05",
            "--poll",
            "0.05",
            "--allow-imports",
            "tests.cli",
            "--progress",
            "none",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc",
            "logs",
            key,
            "sweep/evaluate_0",
            "-f",
            "--db",
            sqlite_url,
            "--interval",
            "0.05",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        while "tick 1" not in seen:
            line = follower.stdout.readline()
            assert line, f"mc logs -f ended early: {seen} {follower.stderr.read()}"
            seen.append(line.strip())
        # The job waits for go_on before its last line: it is still running.
        with FlowStore(sqlite_url) as store:
            assert store.get_record(key).status == "RUNNING"
        assert follower.poll() is None
        go_on.write_text("")
        # Read on from the same buffered stream (communicate() would skip
        # what readline() has buffered already).
        rest = follower.stdout.read()
        err = follower.stderr.read()
        follower.wait(timeout=60)
    finally:
        for process in (follower, runner):
            if process.poll() is None:
                process.kill()
        runner.wait(timeout=60)
        follower.stdout.close()
        follower.stderr.close()
    assert follower.returncode == 0, err
    lines = seen + rest.splitlines()
    assert lines[0] == "==> sweep/evaluate_0: stdout.txt <==", lines
    assert [line for line in lines if line.startswith("tick")] == ["tick 0", "tick 1", "tick 2"]
    assert [line for line in lines if line.startswith("warning")] == [
        "warning 0",
        "warning 1",
        "warning 2",
    ], lines
