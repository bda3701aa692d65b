"""``mc logs`` reads only the job dirs the engine recorded and the job dir confirms.

A spec writes a task's ``data`` (and a wiring can overwrite it), so neither
``data['job_dir']`` nor a ``flow`` kept in a non-``flow`` task's data may make
``mc logs`` print another flow's job output; and a job that swaps its
``stdout.txt`` for a symlink does not make ``mc logs`` print the file it
points to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mc.cli import main
from mc.flows.tree import build_flow_tree
from mc.store import FlowStore
from tests.security.conftest import hostile_spec

SECRET = "VICTIM-SECRET-OUTPUT"


@pytest.fixture(autouse=True)
def logs_and_jobs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("MC_LOGS_ROOT", str(tmp_path / "mc_logs"))
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "mc_jobs"))


@pytest.fixture
def victim_dir(tmp_path: Path) -> Path:
    """Another flow's job dir, as mc leaves it: job.json, submission.json, stdout.txt."""
    job_dir = tmp_path / "other_flows_jobs" / "victim"
    job_dir.mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps({"key": "victim", "job_type": "shell"}))
    (job_dir / "submission.json").write_text(json.dumps({"executor": "local", "token": "0f" * 16}))
    (job_dir / "stdout.txt").write_text(SECRET + "\n")
    (job_dir / "stderr.txt").write_text(SECRET + " on stderr\n")
    return job_dir


def _run_spec(spec: dict, sqlite_url: str, capsys, *runner_args: str) -> str:
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(spec)
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
                *runner_args,
            ]
        )
        == 0
    )
    capsys.readouterr()
    return key


def test_logs_never_read_a_job_dir_that_a_spec_put_in_task_data(victim_dir, sqlite_url, capsys):
    spec = hostile_spec(
        "logs_reads_other_job_dir.yaml", victim_dir=victim_dir, victim_token="0f" * 16
    )
    key = _run_spec(spec, sqlite_url, capsys)
    for args in ([key], [key, "spoof"], [key, "spoof/stolen"]):
        code = main(["logs", *args, "--db", sqlite_url])
        out, err = capsys.readouterr()
        assert SECRET not in out + err
        assert code in (0, 2)


def test_logs_do_not_follow_a_symlinked_job_output_file(tmp_path, sqlite_url, capsys):
    from tests.cli.test_logs import ticker_flow

    key = _run_spec(ticker_flow(), sqlite_url, capsys, "--allow-imports", "tests.cli")
    with FlowStore(sqlite_url) as store:
        node = build_flow_tree(store.get_flow(key).to_flow_dict()).find("sweep/evaluate_0")
    job = {"job_dir": node.job_dir}
    secret_file = tmp_path / "operator_secret.txt"
    secret_file.write_text(SECRET + "\n")
    stdout = Path(job["job_dir"], "stdout.txt")
    stdout.unlink()
    os.symlink(secret_file, stdout)
    assert main(["logs", key, "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "sweep/evaluate_0 stderr | warning 0" in out  # the job's real files are still shown


def test_logs_do_not_follow_a_symlinked_or_fifo_scheduler_log(tmp_path, sqlite_url, capsys):
    from tests.cli.test_logs import ticker_flow

    key = _run_spec(ticker_flow(), sqlite_url, capsys, "--allow-imports", "tests.cli")
    with FlowStore(sqlite_url) as store:
        node = build_flow_tree(store.get_flow(key).to_flow_dict()).find("sweep/evaluate_0")
    secret_file = tmp_path / "operator_secret.txt"
    secret_file.write_text(SECRET + "\n")
    # A job can leave these in its own dir: the newest "SLURM log" a link, an
    # older a FIFO; the oldest, a regular file, is the one to show.
    oldest = Path(node.job_dir, "slurm-1.out")
    oldest.write_text("the oldest submission's log\n")
    os.utime(oldest, (1_000_000, 1_000_000))
    os.mkfifo(Path(node.job_dir, "slurm-2.out"))
    os.symlink(secret_file, Path(node.job_dir, "slurm-3.out"))
    assert main(["logs", key, "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    assert "sweep/evaluate_0 scheduler | the oldest submission's log" in out
    assert "sweep/evaluate_0 stderr | warning 0" in out
