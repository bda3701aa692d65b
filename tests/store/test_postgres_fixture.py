"""Without a PostgreSQL server, its tests fail under CI=true and skip otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
A_POSTGRES_TEST = "tests/store/test_migrations.py::test_a_new_database_is_created_at_the_newest_revision[postgres]"


def run_without_server(ci: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MC_TEST_POSTGRES_URL": "postgresql+psycopg://mc:mc@127.0.0.1:1/none"}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", A_POSTGRES_TEST],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_postgres_tests_fail_when_the_server_is_missing_under_ci():
    result = run_without_server("true")
    assert result.returncode == 1, result.stdout
    assert "is not reachable" in result.stdout and "start_test_services.sh" in result.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_postgres_tests_skip_saying_why_when_the_server_is_missing_outside_ci(ci):
    result = run_without_server(ci)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "is not reachable" in result.stdout
