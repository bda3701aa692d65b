"""``mc logs KEY [TASK] [-f]``: task logs and job output, by task path."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mc.cli import main
from mc.flows.tree import build_flow_tree
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


@dataclasses.dataclass
class Followed:
    """``mc logs KEY sweep/evaluate_0 -f`` on a ticker flow run by ``mc runner``."""

    key: str
    job_dir: str
    follower: subprocess.Popen
    seen: list[str] = dataclasses.field(default_factory=list)
    err: str = ""

    def read_until(self, wanted: str) -> None:
        """Read the follower's lines into ``seen`` until ``wanted`` is one of them."""
        while wanted not in self.seen:
            line = self.follower.stdout.readline()
            assert line, f"mc logs -f ended early: {self.seen} {self.follower.stderr.read()}"
            self.seen.append(line.strip())


@contextlib.contextmanager
def following_a_running_job(sqlite_url, tmp_path):
    """Run a ticker flow whose job waits, and follow the job's output, until the block ends.

    Inside the block the job has printed ``tick 1`` and waits; then it goes
    on, the flow ends, and ``seen`` holds every line the follower printed.
    """
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
            *(sys.executable, "-m", "mc", "runner", "--db", sqlite_url, "--until-done"),
            *("--interval", "0.05", "--poll", "0.05", "--allow-imports", "tests.cli"),
            *("--progress", "none"),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    follower = subprocess.Popen(
        [
            *(sys.executable, "-m", "mc", "logs", key, "sweep/evaluate_0", "-f"),
            *("--db", sqlite_url, "--interval", "0.05"),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        followed = Followed(key, "", follower)
        followed.read_until("tick 1")
        with FlowStore(sqlite_url) as store:
            node = build_flow_tree(store.get_flow(key).to_flow_dict()).find("sweep/evaluate_0")
        followed.job_dir = node.job_dir
        yield followed
        go_on.write_text("")
        # Read on from the same buffered stream (communicate() would skip
        # what readline() has buffered already).
        followed.seen += follower.stdout.read().splitlines()
        followed.err = follower.stderr.read()
        follower.wait(timeout=60)
    finally:
        go_on.write_text("")  # the job ends in any case
        for process in (follower, runner):
            if process.poll() is None:
                process.kill()
        runner.wait(timeout=60)
        follower.stdout.close()
        follower.stderr.close()


def test_logs_follow_prints_a_running_jobs_output_as_it_comes(sqlite_url, tmp_path):
    with following_a_running_job(sqlite_url, tmp_path) as followed:
        # The job waits for go_on before its last line: it is still running.
        with FlowStore(sqlite_url) as store:
            assert store.get_record(followed.key).status == "RUNNING"
        assert followed.follower.poll() is None
    assert followed.follower.returncode == 0, followed.err
    lines = followed.seen
    assert lines[0] == "==> sweep/evaluate_0: stdout.txt <==", lines
    assert [line for line in lines if line.startswith("tick")] == ["tick 0", "tick 1", "tick 2"]
    assert [line for line in lines if line.startswith("warning")] == [
        "warning 0",
        "warning 1",
        "warning 2",
    ], lines


def test_logs_follow_ends_a_replaced_scheduler_logs_last_line(sqlite_url, tmp_path):
    """A job submitted again into its job dir: the older SLURM log's unended line still shows.

    The job dir gets the scheduler logs of two submissions as SLURM would
    leave them (the real cluster's are in tests/cli/test_logs_slurm.py);
    the first one's last line has no newline when the second one appears.
    """
    with following_a_running_job(sqlite_url, tmp_path) as followed:
        first = Path(followed.job_dir, "slurm-5.out")
        first.write_text("the first submission ended\nslurmstepd: unended")
        os.utime(first, (1_000_000, 1_000_000))
        followed.read_until("the first submission ended")
        Path(followed.job_dir, "slurm-6.out").write_text("the second submission\n")
        followed.read_until("the second submission")
    assert followed.follower.returncode == 0, followed.err
    lines = followed.seen
    assert "slurmstepd: unended" in lines, lines
    assert lines.index("the first submission ended") < lines.index("slurmstepd: unended")


def test_logs_take_a_unique_prefix_of_the_flow_key(ran, sqlite_url, capsys):
    code, out, err = logs(capsys, ran[:8], "sweep/evaluate_0", "--db", sqlite_url)
    assert code == 0, err
    assert "tick 1" in out.splitlines()


# A switch whose chosen task prints, a subflow task that prints, and a stored
# subflow whose task prints: three ways a task nests under another.
NESTED = {
    "label": "nested",
    "tasks": [
        {
            "key": "sw",
            "task_type": "switch",
            "task_params": {
                "control_value": 1,
                "cases": [
                    {
                        "condition": {"op": "eq", "arg": 1},
                        "task": {
                            "key": "chosen",
                            "task_type": "print",
                            "task_params": {"msg": "from the case"},
                        },
                    }
                ],
            },
        },
        {
            "key": "sub",
            "task_type": "flow",
            "task_params": {
                "flow_spec": {
                    "tasks": [
                        {
                            "key": "b",
                            "task_type": "print",
                            "task_params": {"msg": "from the subflow"},
                        }
                    ]
                }
            },
        },
        {
            "key": "stored",
            "task_type": "stored_flow",
            "task_params": {
                "flow_spec": {
                    "tasks": [
                        {
                            "key": "c",
                            "task_type": "print",
                            "task_params": {"msg": "from the stored subflow"},
                        }
                    ]
                }
            },
        },
    ],
}


def test_every_path_mc_show_prints_is_a_task_mc_logs_shows(sqlite_url, capsys):
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(NESTED)
    assert main(["runner", "--db", sqlite_url, "--until-done", "--interval", "0.01"]) == 0
    capsys.readouterr()
    assert main(["show", key, "--db", sqlite_url]) == 0
    shown = re.findall(r"── (\S+)  ", capsys.readouterr().out)
    assert shown == ["sw", "sw/chosen", "sub", "sub/b", "stored", "stored/c"]
    printed = {
        "sw/chosen": "from the case",
        "sub/b": "from the subflow",
        "stored/c": "from the stored subflow",
    }
    for path in shown:
        code, out, err = logs(capsys, key, path, "--db", sqlite_url)
        assert code == 0, (path, err)
        if path in printed:
            assert printed[path] in out, (path, out)


def test_logs_interval_takes_a_duration_with_a_unit(ran, sqlite_url, capsys):
    code, out, err = logs(capsys, ran, "hello", "-f", "--interval", "1s", "--db", sqlite_url)
    assert code == 0, err
    assert out.splitlines() == ["==> hello: hello.log <==", "hi there"]


def test_logs_interval_refuses_a_malformed_duration(ran, sqlite_url, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["logs", ran, "-f", "--interval", "2x", "--db", sqlite_url])
    assert exit_info.value.code == 2
    assert "expected a duration such as 30s" in capsys.readouterr().err
