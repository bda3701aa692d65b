"""Job dirs: built by the job module, self-contained, runnable by hand."""

from __future__ import annotations

import json
import subprocess

import pytest

from mc.errors import JobError, JobTypeError
from mc.jobs.job_dir import build_job_dir, read_exit_status, read_job_meta, stderr_tail


def shell_job(command, **params):
    return {"key": "greet", "job_type": "shell", "job_params": {"command": command, **params}}


def test_job_dir_holds_work_dir_entrypoint_and_metadata(tmp_path, job_types):
    job_dir = build_job_dir(
        shell_job("echo hi > out.txt", files={"in.txt": "x"}), tmp_path / "j", job_types
    )
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == [
        "entrypoint.sh",
        "job.json",
        "work_dir",
    ]
    assert (tmp_path / "j" / "work_dir" / "in.txt").read_text() == "x"
    meta = read_job_meta(job_dir)
    assert meta["key"] == "greet"
    assert meta["job_type"] == "shell"
    assert meta["entrypoint"] == "echo hi > out.txt"


def test_bash_entrypoint_runs_the_job_by_hand_and_records_its_ends(tmp_path, job_types):
    job_dir = build_job_dir(shell_job("echo out; echo err >&2; exit 4"), tmp_path / "j", job_types)
    result = subprocess.run(["bash", "entrypoint.sh"], cwd=job_dir)
    assert result.returncode == 4
    assert read_exit_status(job_dir) == 4
    assert (tmp_path / "j" / "stdout.txt").read_text() == "out\n"
    assert stderr_tail(job_dir) == "err"


def test_entrypoint_runs_from_any_working_directory(tmp_path, job_types):
    job_dir = build_job_dir(shell_job("pwd > out.txt"), tmp_path / "j", job_types)
    subprocess.run(["bash", f"{job_dir}/entrypoint.sh"], cwd="/", check=True)
    assert (tmp_path / "j" / "work_dir" / "out.txt").read_text().strip() == f"{job_dir}/work_dir"


def test_entrypoint_sources_config_env(tmp_path, job_types):
    job_dir = build_job_dir(shell_job('echo "$CHEM" > out.txt'), tmp_path / "j", job_types)
    (tmp_path / "j" / "config.env").write_text("export CHEM=/opt/chem\n")
    subprocess.run(["bash", "entrypoint.sh"], cwd=job_dir, check=True)
    assert (tmp_path / "j" / "work_dir" / "out.txt").read_text() == "/opt/chem\n"


def test_exit_status_is_absent_until_the_job_ends(tmp_path, job_types):
    job_dir = build_job_dir(shell_job("true"), tmp_path / "j", job_types)
    assert read_exit_status(job_dir) is None


def test_job_dir_that_is_not_empty_is_refused(tmp_path, job_types):
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "keep.txt").write_text("mine")
    with pytest.raises(JobError, match="exists and is not empty"):
        build_job_dir(shell_job("true"), tmp_path / "j", job_types)
    assert (tmp_path / "j" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "job, problem",
    [
        ("x", "job: expected a mapping"),
        ({"key": "", "job_type": "shell"}, "job.key: expected a non-empty string"),
        ({"key": "k", "job_type": 3}, "job 'k': job_type: expected a non-empty string"),
        ({"key": "k", "job_type": "shell", "job_params": []}, "job_params: expected a mapping"),
        ({"key": "k", "job_type": "shell", "params": {}}, "unknown fields ['params']"),
    ],
)
def test_malformed_job_is_refused_saying_what(tmp_path, job_types, job, problem):
    with pytest.raises(JobError) as caught:
        build_job_dir(job, tmp_path / "j", job_types)
    assert problem in str(caught.value)


def test_builder_without_an_entrypoint_is_a_job_type_error(tmp_path, job_types):
    with pytest.raises(JobTypeError, match="'entrypoint' must be a non-empty shell command"):
        build_job_dir(shell_job(""), tmp_path / "j", job_types)


def test_builder_resources_are_checked(tmp_path, job_types):
    with pytest.raises(JobError, match="resources.cores: expected a positive number"):
        build_job_dir(shell_job("true", resources={"cores": 0}), tmp_path / "j", job_types)


def test_job_json_is_plain_json_with_config_spec_and_resources(tmp_path, job_types):
    job = shell_job("true", config_spec={"scratch": {}}, resources={"cores": 2})
    job_dir = build_job_dir(job, tmp_path / "j", job_types)
    meta = json.loads((tmp_path / "j" / "job.json").read_text())
    assert meta["config_spec"] == {"scratch": {"required": False, "env_var": "SCRATCH"}}
    assert meta["resources"] == {"cores": 2}
    assert meta == read_job_meta(job_dir)


@pytest.mark.parametrize(
    "key", ["k\ntouch pwned", "k\r\ntouch pwned", "$(touch pwned)", "k`touch pwned`"]
)
def test_job_key_cannot_inject_commands_into_the_entrypoint(tmp_path, job_types, key):
    job = {"key": key, "job_type": "shell", "job_params": {"command": "true"}}
    job_dir = build_job_dir(job, tmp_path / "j", job_types)
    subprocess.run(["bash", "entrypoint.sh"], cwd=job_dir, check=True)
    assert not list(tmp_path.rglob("pwned"))


def test_extra_directives_must_be_options(tmp_path, job_types):
    job = shell_job("true", resources={"extra_directives": ["--qos=long", "evil.sh"]})
    with pytest.raises(
        JobError, match=r"extra_directives\[1\]: 'evil.sh' is not a directive such as '--qos=long'"
    ):
        build_job_dir(job, tmp_path / "j", job_types)


def test_run_state_follows_a_run_of_the_job_dir(tmp_path, job_types):
    import time

    from mc.jobs.job_dir import NOT_STARTED, RUN_OVER, RUN_UNDER_WAY, run_state

    job_dir = build_job_dir(shell_job("sleep 0.5"), tmp_path / "j", job_types)
    assert run_state(job_dir) == NOT_STARTED
    process = subprocess.Popen(["bash", f"{job_dir}/entrypoint.sh"])
    deadline = time.monotonic() + 10
    while run_state(job_dir) != RUN_UNDER_WAY:
        assert time.monotonic() < deadline
    assert process.wait() == 0
    assert run_state(job_dir) == RUN_OVER


@pytest.mark.parametrize(
    "directive",
    ["--qos=a;b", "--qos=$(id)", "--qos=a b", "--qos=/etc", "-q", "qos=x", "--qos=a\nb", "--Qos=x"],
)
def test_directives_with_shell_or_paths_are_refused(directive):
    from mc.jobs.job_dir import check_directive

    with pytest.raises(JobError):
        check_directive(directive, "where")


def test_a_plain_directive_is_split_into_option_and_value():
    from mc.jobs.job_dir import check_directive

    assert check_directive("--gres=gpu:2", "w") == ("--gres", "gpu:2")
    assert check_directive("--exclusive", "w") == ("--exclusive", None)
