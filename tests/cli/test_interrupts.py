"""Ctrl-C on `mc run` (a real subprocess): jobs cancelled, or kept for `mc runner` with --db."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.jobs.conftest import process_ended, slurm_cluster  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]


def sweep(path: Path, count: int, command: str, executor: str = "local") -> str:
    skeleton = {
        "key": "item",
        "task_type": "job",
        "task_params": {
            "job_type": "tests.jobs.conftest:ShellJob",
            "executor": executor,
            "job_params": {"command": command},
        },
    }
    spec = {
        "label": "interrupted",
        "data": {"items": list(range(count))},
        "tasks": [
            {
                "key": "sweep",
                "task_type": "spread",
                "task_params": {
                    "items": "$ctx.flow.data.items",
                    "mapping_params": {"skeleton": skeleton},
                },
            }
        ],
    }
    path.write_text(json.dumps(spec))
    return str(path)


def start_mc(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MC_JOBS_ROOT": str(tmp_path / "jobs"),
        "XDG_CONFIG_HOME": str(tmp_path / "no_user_config"),
    }
    env.pop("MC_CONFIG", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc",
            *args,
            "--progress",
            "plain",
            "--allow-imports",
            "tests.jobs.conftest",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(files_of, count: int, timeout_s: float = 30) -> list:
    deadline = time.monotonic() + timeout_s
    while len(found := files_of()) < count:
        assert time.monotonic() < deadline, f"only {len(found)} of {count} jobs started"
        time.sleep(0.1)
    return found


def local_pids(tmp_path: Path) -> list[int]:
    return [
        int(path.read_text().split()[0]) for path in (tmp_path / "jobs").glob("*.sweep/*/local.pid")
    ]


def test_ctrl_c_cancels_the_local_jobs_and_prints_the_table(tmp_path):
    run = start_mc(tmp_path, "run", sweep(tmp_path / "spec.json", 3, "sleep 60"))
    # Two run (max_jobs is the number of CPUs, 2 here, or more) and one may wait in the queue.
    wait_for(lambda: list((tmp_path / "jobs").glob("*.sweep/*/submission.json")), 3)
    wait_for(lambda: local_pids(tmp_path), min(3, os.cpu_count() or 1))
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert "mc run: SIGINT: cancelled 3 running job(s)" in err
    assert "sweep  spread  FAILED" in out and "flow " in out
    assert all(process_ended(pid) for pid in local_pids(tmp_path))


def test_sigterm_is_handled_as_ctrl_c(tmp_path):
    run = start_mc(tmp_path, "run", sweep(tmp_path / "spec.json", 1, "sleep 60"))
    wait_for(lambda: local_pids(tmp_path), 1)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert (run.returncode, "mc run: SIGTERM: cancelled 1 running job(s)" in err) == (130, True)
    assert all(process_ended(pid) for pid in local_pids(tmp_path))


def test_ctrl_c_cancels_the_slurm_jobs(tmp_path, slurm_cluster):
    (tmp_path / "mc.toml").write_text(
        f'[executors.lab]\ntype = "slurm"\npartition = "{slurm_cluster}"\n'
        "min_poll_interval_s = 0.2\n"
    )
    run = start_mc(tmp_path, "run", sweep(tmp_path / "spec.json", 3, "sleep 60", executor="lab"))
    submitted = wait_for(lambda: list((tmp_path / "jobs").glob("*.sweep/*/submission.json")), 3)
    time.sleep(0.5)  # let the tick that submitted them keep their handles
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "cancelled 3 running job(s)" in err and "Traceback" not in err
    job_ids = [line.split()[-1] for line in err.splitlines() if line.startswith("  cancelled: ")]
    assert len(job_ids) == len(submitted) == 3
    assert all(re.fullmatch(r"[0-9]+(_[0-9]+)?", job_id) for job_id in job_ids), job_ids
    queued = subprocess.run(
        [
            "squeue",
            "--noheader",
            "--states=PENDING,RUNNING,CONFIGURING,COMPLETING",
            "--format=%i",
            "--jobs",
            ",".join(job_ids),
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert queued == []


def test_with_db_an_interrupted_run_is_stored_and_resumed_by_the_runner(tmp_path):
    marker = tmp_path / "runs.txt"
    db = f"sqlite:///{tmp_path / 'mc.db'}"
    run = start_mc(
        tmp_path,
        "run",
        sweep(tmp_path / "spec.json", 2, f"sleep 2; echo run >> {marker}"),
        "--db",
        db,
    )
    wait_for(lambda: local_pids(tmp_path), 2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "with 2 job(s) still running; resume it with: mc runner --db" in err
    runner = start_mc(
        tmp_path, "runner", "--db", db, "--until-done", "--interval", "0.2", "--poll", "0.2"
    )
    _, runner_err = runner.communicate(timeout=120)
    assert runner.returncode == 0, runner_err
    assert marker.read_text() == "run\nrun\n"  # each job ran once: the runner reconnected to them


def test_a_second_ctrl_c_exits_at_once(tmp_path):
    # An inline call blocks the tick: the first Ctrl-C waits for the tick to
    # end, the second does not.
    spec = {
        "tasks": [
            {"key": "nap", "task_type": "call", "task_params": {"fn": "time:sleep", "args": [60]}}
        ]
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    run = start_mc(tmp_path, "run", str(tmp_path / "spec.json"), "--allow-imports", "time")
    wait_for(lambda: [line for line in [run.stderr.readline()] if "nap RUNNING" in line], 1)
    run.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130
    assert time.monotonic() - started < 10
    assert "interrupted again: exiting at once" in err and "Traceback" not in err
