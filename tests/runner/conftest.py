"""Fixtures for the runner tests: starting ``mc runner`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TASKS = "tests.runner.process_tasks"


@pytest.fixture
def start_runner():
    """Start ``python -m mc runner --db URL ARGS...`` in the repository root.

    Task types from tests/runner/process_tasks.py are allowed. Every process
    still alive at the end of the test is killed.
    """
    processes: list[subprocess.Popen] = []

    def start(db_url: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "mc", "runner", "--db", db_url, "--allow-imports", TASKS, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()
