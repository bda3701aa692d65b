"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def logs_and_jobs_in_tmp(tmp_path, monkeypatch):
    """Task logs and job dirs of in-process commands go under the test's tmp dir."""
    monkeypatch.setenv("MC_LOGS_ROOT", str(tmp_path / "mc_logs"))
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "mc_jobs"))
