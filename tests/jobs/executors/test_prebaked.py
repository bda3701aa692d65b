"""The prebaked executor: canned files and outputs per job_type, nothing executed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc.errors import JobConfigError, JobError
from mc.jobs.executors.prebaked import Prebaked, PrebakedExecutor
from mc.jobs.job_dir import build_job_dir, stderr_tail


@pytest.fixture
def job_dir(tmp_path, job_types):
    job = {"key": "p", "job_type": "polynomial", "job_params": {"x": 2}}
    return build_job_dir(job, tmp_path / "p", job_types)


def test_prebaked_files_land_in_the_work_dir_for_the_real_parser(job_dir):
    executor = PrebakedExecutor(
        {"polynomial": Prebaked(files={"result.json": '{"x": 2, "y": 40}'})}
    )
    handle = executor.submit(job_dir)
    assert executor.poll(handle) == ("COMPLETED", {"exit_status": 0})
    assert Path(f"{job_dir}/work_dir/result.json").read_text() == '{"x": 2, "y": 40}'


def test_prebaked_outputs_may_depend_on_job_params(job_dir):
    executor = PrebakedExecutor({"polynomial": {"outputs": lambda params: {"y": params["x"] * 10}}})
    status, outputs = executor.poll(executor.submit(job_dir))
    assert (status, outputs["parsed_outputs"]) == ("COMPLETED", {"y": 20})


def test_prebaked_failure_has_its_exit_status_and_stderr(job_dir):
    executor = PrebakedExecutor()
    executor.add("polynomial", exit_status=2, stderr="diverged\n")
    assert executor.poll(executor.submit(job_dir)) == ("FAILED", {"exit_status": 2})
    assert stderr_tail(job_dir) == "diverged"


def test_job_type_without_prebaked_results_fails_saying_so(job_dir):
    executor = PrebakedExecutor({"other": Prebaked()})
    assert executor.poll(executor.submit(job_dir))[0] == "FAILED"
    assert (
        "no prebaked outputs for job_type 'polynomial' (prebaked job types: other)"
        in stderr_tail(job_dir)
    )


def test_submitted_jobs_are_recorded(job_dir):
    executor = PrebakedExecutor({"polynomial": Prebaked()})
    executor.submit(job_dir)
    assert executor.submitted == [{"key": "p", "job_type": "polynomial", "job_params": {"x": 2}}]


def test_missing_required_setting_fails_at_submit_as_on_a_real_executor(tmp_path, job_types):
    job = {
        "key": "q",
        "job_type": "shell",
        "job_params": {"command": "true", "config_spec": {"must": {"required": True}}},
    }
    job_dir = build_job_dir(job, tmp_path / "q", job_types)
    with pytest.raises(JobConfigError, match="needs the setting 'must'"):
        PrebakedExecutor({"shell": Prebaked()}, environ={}).submit(job_dir)


@pytest.mark.parametrize(
    "relative", ["../escaped.txt", "/tmp/absolute.txt", "sub/../../escaped.txt"]
)
def test_prebaked_files_must_stay_inside_the_work_dir(relative):
    with pytest.raises(JobError, match="must be a path inside the work dir"):
        PrebakedExecutor({"polynomial": {"files": {relative: "x"}}})


def test_unknown_prebaked_field_is_refused_naming_it():
    with pytest.raises(JobError, match="prebaked 'polynomial': unknown fields \\['output'\\]"):
        PrebakedExecutor().add("polynomial", output={"y": 1})
