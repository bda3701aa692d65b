"""What every job executor shares: fulfilling the config spec and merging resources at submit."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_the_merged_resources_are_recorded_in_resources_json(job_dir):
    JobExecutor().prepare(job_dir, {"cores": 2})
    recorded = json.loads(Path(job_dir, "resources.json").read_text())
    assert recorded == {"cores": 2, "memory_mb": 100}


def test_a_submission_without_resources_leaves_no_resources_json(tmp_path, job_types):
    job = {"key": "bare", "job_type": "shell", "job_params": {"command": "true"}}
    bare = build_job_dir(job, tmp_path / "bare", job_types)
    Path(bare, "resources.json").write_text('{"cores": 8}\n')  # an earlier submission's
    assert JobExecutor().prepare(bare, None) == {}
    assert not Path(bare, "resources.json").exists()
