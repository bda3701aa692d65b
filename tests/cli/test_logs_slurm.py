"""``mc logs``, the status page's JSON view and ``mc report`` show a SLURM job's scheduler log.

On the real one-node cluster: a job that ``scancel`` kills leaves
slurmstepd's message in its job dir's ``slurm-<job id>.out``, which the
task's own files (``stdout.txt``, ``stderr.txt``) never hold.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mc.cli import main
from mc.flows.tree import build_flow_tree
from mc.store import FlowStore

REPO = Path(__file__).resolve().parents[2]

# What slurmstepd writes when a job is cancelled (its name may carry the node's).
CANCELLED = re.compile(r"slurmstepd(-\S+)?: error: \*\*\* JOB ([0-9]+) ON \S+ CANCELLED AT ")


def napping_job_spec() -> dict:
    return {
        "label": "napping",
        "tasks": [
            {
                "key": "nap",
                "task_type": "job",
                "task_params": {
                    "job_type": "tests.jobs.conftest:ShellJob",
                    "executor": "lab",
                    "job_params": {"command": "echo started; sleep 120"},
                },
            }
        ],
    }


def wait_until(condition, what: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        time.sleep(0.1)
    return found


@pytest.fixture
def cancelled_job(tmp_path, sqlite_url, slurm_cluster):
    """A flow whose SLURM job ``scancel`` killed, run by ``mc runner``, followed by ``mc logs -f``.

    ``mc logs -f`` starts before the job is even submitted, so its
    scheduler log appears after following began. Returns the flow's key,
    the job id and what the follower printed.
    """
    (tmp_path / "mc.toml").write_text(
        f'[executors.lab]\ntype = "slurm"\npartition = "{slurm_cluster}"\n'
        "min_poll_interval_s = 0.2\n"
    )
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(napping_job_spec())
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MC_JOBS_ROOT": os.environ["MC_JOBS_ROOT"],
        "MC_LOGS_ROOT": os.environ["MC_LOGS_ROOT"],
        "XDG_CONFIG_HOME": str(tmp_path / "no_user_config"),
    }
    env.pop("MC_CONFIG", None)

    def mc(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mc", *args, "--db", sqlite_url],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    follower = mc("logs", key, "nap", "-f", "--interval", "0.1")
    runner = mc(
        "runner",
        "--until-done",
        "--interval",
        "0.1",
        "--poll",
        "0.2",
        "--progress",
        "none",
        "--allow-imports",
        "tests.jobs.conftest",
    )
    try:
        with FlowStore(sqlite_url) as store:

            def job_started() -> tuple[str, str] | None:
                node = build_flow_tree(store.get_flow(key).to_flow_dict()).find("nap")
                if node is None or not node.job_id or not node.job_dir:
                    return None
                stdout = Path(node.job_dir, "stdout.txt")
                return (
                    (node.job_id, node.job_dir) if stdout.is_file() and stdout.read_text() else None
                )

            job_id, job_dir = wait_until(job_started, "the job's start")
        subprocess.run(["scancel", "--", job_id], check=True)
        _, runner_err = runner.communicate(timeout=120)
        followed, follower_err = follower.communicate(timeout=60)
    finally:
        for process in (runner, follower):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert follower.returncode == 0, follower_err
    with FlowStore(sqlite_url) as store:
        assert store.get_record(key).status == "FAILED", runner_err
    assert Path(job_dir, f"slurm-{job_id}.out").is_file()
    return key, job_id, followed


def test_logs_show_slurmstepds_message_of_a_cancelled_job(cancelled_job, sqlite_url, capsys):
    key, job_id, _ = cancelled_job
    assert main(["logs", key, "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    scheduler_lines = [line for line in out.splitlines() if line.startswith("nap scheduler | ")]
    assert any(
        (match := CANCELLED.search(line)) and match[2] == job_id for line in scheduler_lines
    ), out
    assert "nap | started" in out  # the job's stdout, as before


def test_logs_follow_picks_up_a_scheduler_log_that_appears_later(cancelled_job):
    _, job_id, followed = cancelled_job
    lines = followed.splitlines()
    header = f"==> nap: slurm-{job_id}.out <=="
    assert header in lines, followed
    after = lines[lines.index(header) + 1 :]
    assert any(CANCELLED.search(line) for line in after), followed


def test_the_ui_and_the_report_show_the_scheduler_log(cancelled_job, sqlite_url):
    from mc.ui.report import report_data
    from mc.ui.views import task_log_view

    key, job_id, _ = cancelled_job
    with FlowStore(sqlite_url) as store:
        answer = task_log_view(store, key, "nap", {"source": "scheduler"})
        report = report_data(store, key)
    assert answer["available"] == ["log", "stdout", "stderr", "scheduler"]
    [source] = answer["sources"]
    assert (source["name"], source["label"]) == ("scheduler", "scheduler log")
    assert source["path"].endswith(f"/slurm-{job_id}.out")
    assert CANCELLED.search(source["text"])
    reported = {source["name"]: source for source in report["logs"]["nap"]["sources"]}
    assert CANCELLED.search(reported["scheduler"]["text"])
