"""Fixtures shared by the executor tests."""

from __future__ import annotations

import pytest

from mc.jobs.job_dir import build_job_dir


@pytest.fixture
def build(tmp_path, job_types):
    """Build a shell job dir running ``command``; return its path."""
    counter = iter(range(1000))

    def build(command, **params):
        key = f"job{next(counter)}"
        job = {"key": key, "job_type": "shell", "job_params": {"command": command, **params}}
        return build_job_dir(job, tmp_path / key, job_types)

    return build
