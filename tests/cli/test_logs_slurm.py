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


def napping_job_spec(retries: int = 0) -> dict:
    return {
        "label": "napping",
        "tasks": [
            {
                "key": "nap",
                "task_type": "job",
                "retries": retries,
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


def run_cancelling_each_submission(tmp_path, sqlite_url, partition, retries=0):
    """Run a napping job under ``mc runner``, ``scancel`` each submission once it runs.

    ``mc logs -f`` follows it from before the job is even submitted, so its
    scheduler logs appear after following began. Returns the flow's key,
    the job ids in the order submitted, the job dir, and what the follower
    printed.
    """
    (tmp_path / "mc.toml").write_text(
        f'[executors.lab]\ntype = "slurm"\npartition = "{partition}"\nmin_poll_interval_s = 0.2\n'
    )
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(napping_job_spec(retries))
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
    job_ids: list[str] = []
    try:
        with FlowStore(sqlite_url) as store:

            def next_job_started() -> tuple[str, str] | None:
                node = build_flow_tree(store.get_flow(key).to_flow_dict()).find("nap")
                if node is None or not node.job_id or not node.job_dir:
                    return None
                if (
                    node.job_id in job_ids
                    or not Path(node.job_dir, "slurm-" + node.job_id + ".out").is_file()
                ):
                    return None
                return node.job_id, node.job_dir

            for _ in range(retries + 1):
                job_id, job_dir = wait_until(next_job_started, "the next submission's start")
                job_ids.append(job_id)
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
    return key, job_ids, job_dir, followed


@pytest.fixture
def cancelled_job(tmp_path, sqlite_url, slurm_cluster):
    """A flow whose one SLURM job ``scancel`` killed: key, job id, what ``mc logs -f`` printed."""
    key, [job_id], _, followed = run_cancelling_each_submission(tmp_path, sqlite_url, slurm_cluster)
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


def test_logs_show_the_scheduler_log_of_a_retried_jobs_latest_attempt(
    tmp_path, sqlite_url, slurm_cluster, capsys
):
    key, job_ids, job_dir, _ = run_cancelling_each_submission(
        tmp_path, sqlite_url, slurm_cluster, retries=1
    )
    first, second = job_ids
    # A retry (a later attempt of the task) is built in a job dir of its own.
    assert [path.name for path in Path(job_dir).glob("slurm-*.out")] == [f"slurm-{second}.out"]
    assert main(["logs", key, "nap", "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert f"==> nap: slurm-{second}.out <==" in out
    assert f"slurm-{first}.out" not in out
    assert [match[2] for match in CANCELLED.finditer(out)] == [second]
