"""JobPolicy: which executors a spec may name, and where its job dirs may go."""

from __future__ import annotations

import dataclasses
import os

import pytest

from mc.errors import ExecutorError, JobError
from mc.flows import FlowEngine
from mc.jobs import JobPolicy
from mc.jobs.executors.prebaked import PrebakedExecutor
from mc.jobs.policy import job_policy


def test_by_default_a_spec_may_name_only_executors_of_this_machine():
    ctx = {"flow_engine": FlowEngine()}
    for name in ("local", "inline", "threads", "processes"):
        assert JobPolicy().check_executor(name, ctx, "t") == name
    with pytest.raises(ExecutorError, match="'dask' is not allowed here"):
        JobPolicy().check_executor("dask", ctx, "t")


def test_registered_and_default_executors_are_the_operators_choice():
    engine = FlowEngine(executors={"canned": PrebakedExecutor()})
    assert JobPolicy().check_executor("canned", {"flow_engine": engine}, "t") == "canned"
    assert (
        JobPolicy().check_executor(
            "slurm", {"flow_engine": engine, "default_executor": "slurm"}, "t"
        )
        == "slurm"
    )


def test_an_unknown_executor_is_named_as_unknown_with_a_suggestion():
    with pytest.raises(ExecutorError, match="did you mean 'slurm'"):
        JobPolicy().check_executor("slrum", {"flow_engine": FlowEngine()}, "t")


def test_the_policy_cannot_be_changed_once_made():
    with pytest.raises(dataclasses.FrozenInstanceError):
        JobPolicy().executors = ("dask",)  # type: ignore[misc]


def test_a_relative_job_dir_goes_under_the_jobs_root(tmp_path):
    assert JobPolicy().spec_job_dir("a/b", {"jobs_root": str(tmp_path)}, "t") == str(
        tmp_path.resolve() / "a" / "b"
    )


@pytest.mark.parametrize(
    "job_dir",
    ["../x", "a/../../x", ".hidden", "a b", "a;b", "$(id)", "a\x1b[31m", "a\ud800", "a\0b", ""],
)
def test_job_dirs_that_are_not_plain_names_are_refused(tmp_path, job_dir):
    with pytest.raises(JobError, match="task_params.job_dir"):
        JobPolicy().spec_job_dir(job_dir, {"jobs_root": str(tmp_path)}, "t")


def test_an_absolute_job_dir_must_lie_under_an_allowed_root(tmp_path):
    roots = (str(tmp_path / "a"), str(tmp_path / "b"))
    policy = JobPolicy(jobs_roots=roots)
    assert policy.spec_job_dir(str(tmp_path / "b" / "x"), {}, "t") == str(
        tmp_path.resolve() / "b" / "x"
    )
    with pytest.raises(JobError, match="outside the jobs root"):
        policy.spec_job_dir(str(tmp_path / "c" / "x"), {}, "t")
    assert policy.jobs_root({}) == str(tmp_path.resolve() / "a")


def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "link")
    with pytest.raises(JobError, match="symlinks resolved"):
        JobPolicy().spec_job_dir("link/x", {"jobs_root": str(tmp_path / "root")}, "t")


def test_job_policy_in_the_task_context_must_be_a_job_policy():
    assert job_policy({}) == JobPolicy()
    with pytest.raises(JobError, match="must be a JobPolicy"):
        job_policy({"job_policy": {"executors": ["dask"]}})
