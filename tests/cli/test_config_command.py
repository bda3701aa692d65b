"""Executor profiles through the `mc` command.

mc config show, and mc run --config/--executor on the real SLURM cluster.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mc.cli import main
from tests.jobs.conftest import command_calls, slurm_cluster, slurm_command_log  # noqa: F401 (fixtures)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory for `mc`, with job dirs under it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path / "jobs"))
    monkeypatch.delenv("MC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no_user_config"))
    return tmp_path


def write_spec(path, executor, resources=None):
    task_params = {
        "job_type": "example_polynomial",
        "executor": executor,
        "job_params": {"coefficients": [1, 0], "x": 2},
    }
    if resources is not None:
        task_params["resources"] = resources
    spec = {
        "label": "profiled",
        "tasks": [{"key": "poly", "task_type": "job", "task_params": task_params}],
    }
    path.write_text(json.dumps(spec))
    return str(path)


def slurm_profile(partition, **settings):
    lines = [
        "[executors.lab_queue]",
        'type = "slurm"',
        f'partition = "{partition}"',
        "min_poll_interval_s = 0.2",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def test_config_show_prints_the_profiles_with_secrets_redacted(workdir, capsys):
    (workdir / "mc.toml").write_text(
        '[executors.remote]\ntype = "dask"\nscheduler_address = "tls://me:hunter2@10.0.0.5:8786"\n'
    )
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert f"# config file: {workdir / 'mc.toml'}" in out
    assert 'scheduler_address = "tls://me:***@10.0.0.5:8786"' in out
    assert "hunter2" not in out


def test_config_show_says_when_there_is_no_file(workdir, capsys):
    assert main(["config", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"config_file": None, "executors": {}}


def test_a_bad_config_file_is_bad_input_for_mc_run(workdir, capsys):
    (workdir / "mc.toml").write_text('[executors.q]\ntype = "slurm"\nqueue = "x"\n')
    assert main(["run", write_spec(workdir / "spec.json", "q")]) == 2
    assert "unknown settings ['queue'] for a slurm profile" in capsys.readouterr().err


def test_a_profile_from_mc_toml_sets_partition_and_time(workdir, capsys, slurm_cluster):
    (workdir / "mc.toml").write_text(slurm_profile(slurm_cluster, time_min=3))
    # A job type that asks for no time of its own, so the profile's default holds.
    spec = {
        "label": "profiled",
        "tasks": [
            {
                "key": "shell",
                "task_type": "job",
                "task_params": {
                    "job_type": "tests.jobs.conftest:ShellJob",
                    "executor": "lab_queue",
                    "job_params": {"command": "true"},
                },
            }
        ],
    }
    (workdir / "spec.json").write_text(json.dumps(spec))
    options = ["--json", "--progress", "none", "--allow-imports", "tests.jobs.conftest"]
    assert main(["run", str(workdir / "spec.json"), *options]) == 0
    flow = json.loads(capsys.readouterr().out)
    job_id = flow["tasks"]["shell"]["job"]["handle"]["job_id"]
    fields = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
    ).stdout
    assert f"Partition={slurm_cluster} " in fields
    assert "TimeLimit=00:03:00 " in fields


def test_a_directive_the_profile_does_not_allow_is_refused_before_sbatch(
    workdir, capsys, slurm_cluster, slurm_command_log
):
    (workdir / "mc.toml").write_text(slurm_profile(slurm_cluster, allowed_directives=["--gres"]))
    spec = write_spec(workdir / "spec.json", "lab_queue", {"extra_directives": ["--nice=5"]})
    assert main(["run", spec, "--progress", "none"]) == 1
    assert (
        "--nice is not allowed by this slurm executor (allowed_directives: --gres); "
        "nothing was submitted" in capsys.readouterr().err
    )
    assert command_calls(slurm_command_log, "sbatch") == 0


def test_executor_names_a_profile_for_tasks_that_name_none(workdir, capsys):
    (workdir / "mc.toml").write_text('[executors.two_at_a_time]\ntype = "local"\nmax_jobs = 2\n')
    spec = json.loads((workdir / write_spec(workdir / "spec.json", "x")).read_text())
    del spec["tasks"][0]["task_params"]["executor"]
    (workdir / "spec.json").write_text(json.dumps(spec))
    assert (
        main(
            [
                "run",
                str(workdir / "spec.json"),
                "--executor",
                "two_at_a_time",
                "--json",
                "--progress",
                "none",
            ]
        )
        == 0
    )
    assert (
        json.loads(capsys.readouterr().out)["tasks"]["poly"]["job"]["executor"] == "two_at_a_time"
    )


def test_a_profiles_jobs_root_holds_its_job_dirs(workdir, capsys):
    (workdir / "mc.toml").write_text(
        f'[executors.scratch]\ntype = "local"\njobs_root = "{workdir / "scratch"}"\n'
    )
    assert (
        main(["run", write_spec(workdir / "spec.json", "scratch"), "--json", "--progress", "none"])
        == 0
    )
    job_dir = json.loads(capsys.readouterr().out)["tasks"]["poly"]["job"]["job_dir"]
    assert job_dir.startswith(str(workdir / "scratch") + "/")


def test_mc_runner_takes_config_and_executor(workdir, capsys):
    (workdir / "conf.toml").write_text('[executors.two_at_a_time]\ntype = "local"\nmax_jobs = 2\n')
    spec = json.loads((workdir / write_spec(workdir / "spec.json", "x")).read_text())
    del spec["tasks"][0]["task_params"]["executor"]
    (workdir / "spec.json").write_text(json.dumps(spec))
    db = f"sqlite:///{workdir / 'mc.db'}"
    assert main(["submit", str(workdir / "spec.json"), "--db", db]) == 0
    key = capsys.readouterr().out.strip()
    options = [
        "--config",
        str(workdir / "conf.toml"),
        "--executor",
        "two_at_a_time",
        "--progress",
        "none",
    ]
    assert (
        main(["runner", "--db", db, "--until-done", "--interval", "0.1", "--poll", "0.1", *options])
        == 0
    )
    from mc.store import FlowStore

    with FlowStore(db) as store:
        flow = store.get_flow(key)
    assert (flow.status, flow.tasks["poly"]["job"]["executor"]) == ("COMPLETED", "two_at_a_time")


def test_mc_runner_refuses_an_unknown_executor(workdir, capsys):
    assert (
        main(
            [
                "runner",
                "--db",
                f"sqlite:///{workdir / 'mc.db'}",
                "--once",
                "--executor",
                "gpu_queue",
            ]
        )
        == 2
    )
    assert "unknown executor 'gpu_queue'" in capsys.readouterr().err


def test_a_profile_that_abbreviates_export_file_runs_nothing(
    workdir, capsys, slurm_cluster, slurm_command_log
):
    # sbatch reads '--export-fi' as '--export-file': with evil.env setting
    # BASH_ENV, the job's shell would run pwn.sh before entrypoint.sh.
    marker = workdir / "marker"
    (workdir / "pwn.sh").write_text(f"#!/bin/sh\necho pwned > {marker}\n")
    (workdir / "evil.env").write_text(f"BASH_ENV={workdir / 'pwn.sh'}\n")
    (workdir / "mc.toml").write_text(
        slurm_profile(slurm_cluster, extra_directives=["--export-fi=evil.env"], array_jobs=False)
    )
    spec = {
        "tasks": [
            {
                "key": "a",
                "task_type": "job",
                "task_params": {
                    "job_type": "tests.jobs.conftest:ShellJob",
                    "executor": "lab_queue",
                    "job_params": {"command": "true"},
                },
            }
        ]
    }
    (workdir / "spec.json").write_text(json.dumps(spec))
    options = ["--progress", "none", "--allow-imports", "tests.jobs.conftest"]
    assert main(["run", str(workdir / "spec.json"), *options]) == 2
    assert (
        f"{workdir / 'mc.toml'}: [executors.lab_queue].extra_directives[0]: --export-fi is never "
        "taken from a job (sbatch would read it as --export-file)" in capsys.readouterr().err
    )
    assert command_calls(slurm_command_log, "sbatch") == 0
    assert not marker.exists()
