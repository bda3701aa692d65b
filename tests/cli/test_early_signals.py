"""A signal that reaches `mc run` or `mc runner` before its own handlers: exit 130, no traceback.

Real subprocesses. To land the signal at a known moment of the start, an
executor plug-in (an entry point of a distribution on PYTHONPATH) writes a
file as its module starts importing, then sleeps: both commands load it
while they set up their executors, before they run anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SLOW_PLUGIN = """\
import os
import pathlib
import time

pathlib.Path(os.environ["SLOW_START_MARKER"]).write_text("importing")
time.sleep(60)


class SlowExecutor:
    pass
"""

# How the console script starts `mc` (what pip writes), and `python -m mc`.
CONSOLE_SCRIPT = "import sys; from mc.entry_point import main; sys.exit(main())"


@pytest.fixture
def slow_start(tmp_path: Path) -> dict[str, str]:
    """An environment where the executor ``slow_start`` loads slowly, saying when it begins."""
    plugins = tmp_path / "plugins"
    dist_info = plugins / "slow_start-0.dist-info"
    dist_info.mkdir(parents=True)
    (plugins / "slow_start.py").write_text(SLOW_PLUGIN)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-start\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(
        "[mc.executors]\nslow_start = slow_start:SlowExecutor\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{plugins}",
        "SLOW_START_MARKER": str(tmp_path / "importing"),
        "MC_JOBS_ROOT": str(tmp_path / "jobs"),
        "XDG_CONFIG_HOME": str(tmp_path / "no_user_config"),
    }
    env.pop("MC_CONFIG", None)
    (tmp_path / "spec.json").write_text('{"tasks": [{"key": "a", "task_type": "print"}]}')
    return env


def start(tmp_path: Path, env: dict[str, str], launcher: list[str], *args: str):
    return subprocess.Popen(
        [sys.executable, *launcher, *args, "--allow-executor", "slow_start"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_file(path: Path, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"mc ended first: {process.communicate()}")
        assert time.monotonic() < deadline, "the plug-in never began to load"
        time.sleep(0.02)


@pytest.mark.parametrize("launcher", [["-m", "mc"], ["-c", CONSOLE_SCRIPT]], ids=["-m", "script"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_mc_run_interrupted_while_starting_exits_130_without_a_traceback(
    tmp_path, slow_start, launcher, signum
):
    run = start(tmp_path, slow_start, launcher, "run", "spec.json")
    wait_for_file(tmp_path / "importing", run)
    run.send_signal(signum)
    out, err = run.communicate(timeout=60)
    assert "Traceback" not in err
    assert run.returncode == 130, err
    assert f"mc: {signum.name}: interrupted; exiting" in err
    assert out == ""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_mc_runner_interrupted_while_starting_exits_130_without_a_traceback(
    tmp_path, slow_start, signum
):
    db = f"sqlite:///{tmp_path / 'flows.db'}"
    runner = start(tmp_path, slow_start, ["-m", "mc"], "runner", "--db", db, "--until-done")
    wait_for_file(tmp_path / "importing", runner)
    runner.send_signal(signum)
    _, err = runner.communicate(timeout=60)
    assert "Traceback" not in err
    assert runner.returncode == 130, err
    assert f"mc: {signum.name}: interrupted; exiting" in err
