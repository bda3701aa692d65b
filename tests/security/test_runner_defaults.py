"""Runner defaults an operator can trust: executors, job roots, job dirs, running as root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mc.cli import main
from mc.flows import COMPLETED, FAILED, FlowEngine
from mc.jobs.policy import JobPolicy
from tests.security.conftest import hostile_spec


def run_flow(spec, task_ctx, engine=None):
    engine = engine or FlowEngine()
    flow = engine.flow_spec_to_flow(spec)
    for _ in range(200):
        engine.tick_flow(flow, task_ctx)
        if flow.finished:
            break
    return flow, engine


def test_a_spec_cannot_choose_an_executor_its_operator_did_not_allow(task_ctx):
    flow, engine = run_flow(
        hostile_spec("executor_not_allowed.yaml"), {**task_ctx, "callables": {"len": len}}
    )
    assert "task_params.executor 'slurm' is not allowed here" in flow.tasks["on_slurm"]["error"]
    assert "task_params.executor 'dask' is not allowed here" in flow.tasks["on_dask"]["error"]
    # Neither executor was even made: no SLURM job, no Dask cluster.
    assert "slurm" not in engine.executor_registry
    assert "dask" not in engine.executor_registry
    assert not any(Path(task_ctx["jobs_root"]).rglob("job.json"))


def test_the_operator_allows_an_executor_by_name(task_ctx):
    from mc.jobs.executors.prebaked import PrebakedExecutor

    spec = hostile_spec("executor_not_allowed.yaml")
    spec["tasks"] = spec["tasks"][:1]
    engine = FlowEngine()
    # Registered under another name, so only the policy can allow "slurm".
    engine.register_executor(
        "slurm", PrebakedExecutor({"shell": {"outputs": {"ok": True}}}), replace=True
    )
    flow, _ = run_flow(
        spec, {**task_ctx, "job_policy": JobPolicy(executors=("local", "slurm"))}, engine
    )
    assert flow.tasks["on_slurm"]["status"] == COMPLETED


def test_job_dirs_a_spec_points_outside_the_jobs_root_are_refused(tmp_path, task_ctx, jobs_root):
    outside = tmp_path / "outside"
    (jobs_root / "link").symlink_to(outside, target_is_directory=True)
    outside.mkdir()
    flow, _ = run_flow(hostile_spec("job_dir_escapes_root.yaml", outside=outside), task_ctx)
    for key in ("dotdot", "absolute", "through_symlink"):
        assert flow.tasks[key]["status"] == FAILED
        assert (
            "outside the jobs root" in flow.tasks[key]["error"]
            or "not a plain directory name" in flow.tasks[key]["error"]
        )
    assert "symlinks resolved; nothing was built" in flow.tasks["through_symlink"]["error"]
    assert not (tmp_path / "escaped").exists()
    assert not (jobs_root.parent / "escaped").exists()
    assert list(outside.iterdir()) == []


def test_the_operator_may_allow_job_dirs_outside_the_root(tmp_path, task_ctx):
    outside = tmp_path / "outside"
    spec = hostile_spec("job_dir_escapes_root.yaml", outside=outside)
    spec["tasks"] = [spec["tasks"][1]]
    policy = JobPolicy(allow_job_dir_outside_root=True)
    flow, engine = run_flow(spec, {**task_ctx, "job_policy": policy})
    while not flow.finished:
        engine.tick_flow(flow, {**task_ctx, "job_policy": policy})
    assert flow.tasks["absolute"]["status"] == COMPLETED
    assert (outside / "absolute" / "work_dir" / "out.txt").read_text() == "hello\n"


def test_a_relative_job_dir_lands_under_the_jobs_root(task_ctx, jobs_root):
    spec = {
        "tasks": [
            {
                "key": "job",
                "task_type": "job",
                "task_params": {
                    "job_type": "shell",
                    "job_params": {"command": "true"},
                    "job_dir": "sweep/x1",
                },
            }
        ]
    }
    flow, _ = run_flow(spec, task_ctx)
    assert flow.tasks["job"]["job"]["job_dir"] == str(jobs_root.resolve() / "sweep" / "x1")


def test_a_jobs_root_outside_the_allowed_roots_is_refused(tmp_path, task_ctx):
    policy = JobPolicy(jobs_roots=(str(tmp_path / "allowed"),))
    spec = {
        "tasks": [
            {
                "key": "job",
                "task_type": "job",
                "task_params": {"job_type": "shell", "job_params": {"command": "true"}},
            }
        ]
    }
    flow, _ = run_flow(spec, {**task_ctx, "job_policy": policy})
    assert "is not under the allowed jobs roots" in flow.tasks["job"]["error"]


def write_spec(tmp_path, name, **placeholders):
    path = tmp_path / name.replace(".yaml", ".json")
    path.write_text(json.dumps(hostile_spec(name, **placeholders)))
    return str(path)


def test_mc_run_refuses_a_spec_executor_and_an_escaping_job_dir_by_default(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MC_JOBS_ROOT", raising=False)
    spec = {
        "label": "escape",
        "tasks": [
            {
                "key": "job",
                "task_type": "job",
                "task_params": {
                    "job_type": "example_polynomial",
                    "job_params": {"x": 1},
                    "job_dir": "jobs/../../escaped",
                },
            }
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml")]) == 1
    assert "outside the jobs root" in capsys.readouterr().err
    assert not (tmp_path.parent / "escaped").exists()


def test_mc_run_allow_executor_and_jobs_root_options(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = {
        "label": "allowed",
        "tasks": [
            {
                "key": "job",
                "task_type": "job",
                "task_params": {
                    "job_type": "example_polynomial",
                    "job_params": {"x": 3},
                    "executor": "prebaked",
                },
            }
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml")]) == 1
    assert "task_params.executor 'prebaked' is not allowed here" in capsys.readouterr().err
    (tmp_path / "roots").mkdir()
    assert (
        main(
            [
                "run",
                str(tmp_path / "spec.yaml"),
                "--allow-executor",
                "prebaked",
                "--jobs-root",
                str(tmp_path / "roots"),
                "--json",
            ]
        )
        == 1
    )  # prebaked has no outputs
    flow = json.loads(capsys.readouterr().out)
    assert flow["tasks"]["job"]["job"]["job_dir"].startswith(str((tmp_path / "roots").resolve()))


def test_mc_runner_refuses_slurm_directives_without_slurm(tmp_path, capsys):
    code = main(
        [
            "runner",
            "--db",
            f"sqlite:///{tmp_path / 'mc.db'}",
            "--once",
            "--allow-slurm-directive",
            "gres",
        ]
    )
    assert code == 2
    assert "--allow-slurm-directive needs the slurm executor allowed" in capsys.readouterr().err


def test_running_as_root_prints_one_warning(tmp_path, monkeypatch, capsys):
    import mc.cli.job_options as job_options

    monkeypatch.setattr(job_options, "_warned_about_root", False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"tasks": [{"task_type": "noop"}]}))
    for _ in range(2):
        assert main(["run", str(tmp_path / "spec.yaml")]) == 0
    assert capsys.readouterr().err.count("warning: running as root") == 1


def test_no_root_warning_for_an_ordinary_user(tmp_path, monkeypatch, capsys):
    import mc.cli.job_options as job_options

    monkeypatch.setattr(job_options, "_warned_about_root", False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"tasks": [{"task_type": "noop"}]}))
    assert main(["run", str(tmp_path / "spec.yaml")]) == 0
    assert "running as root" not in capsys.readouterr().err
