"""What every job executor shares: fulfilling the config spec and merging resources at submit."""

from __future__ import annotations

import pytest

from mc.errors import JobError
from mc.jobs.executors.base import JobExecutor
from mc.jobs.job_dir import build_job_dir


@pytest.fixture
def job_dir(tmp_path, job_types):
    """A job dir whose module asks for 1 core and 100 MB."""
    job = {
        "key": "k",
        "job_type": "shell",
        "job_params": {"command": "true", "resources": {"cores": 1, "memory_mb": 100}},
    }
    return build_job_dir(job, tmp_path / "k", job_types)


def test_submit_resources_override_the_job_modules(job_dir):
    assert JobExecutor().prepare(job_dir, {"cores": 4}) == {"cores": 4, "memory_mb": 100}


def test_submit_resources_are_checked_naming_the_job(job_dir):
    with pytest.raises(JobError, match="job 'k': resources: unknown resources \\['gpus'\\]"):
        JobExecutor().prepare(job_dir, {"gpus": 1})
