"""examples/jobs_sweep.yaml, run by `mc run` on every executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc.cli import main
from mc.cli.spec_files import load_flow_spec_file
from mc.jobs.testing import PrebakedJobs

SWEEP = Path(__file__).resolve().parents[3] / "examples" / "jobs_sweep.yaml"
SUMMARY = "minimum y = 0 at x = 1, over 5 points"


@pytest.fixture
def jobs_root(tmp_path, monkeypatch):
    """Job dirs of `mc run` go to a temporary directory."""
    monkeypatch.setenv("MC_JOBS_ROOT", str(tmp_path))
    return tmp_path


def mc_run(*options):
    return main(["run", str(SWEEP), *options])


def test_sweep_runs_on_the_local_executor_by_default(jobs_root, capsys):
    assert mc_run() == 0
    assert capsys.readouterr().out.startswith(SUMMARY + "\n")
    assert len(list(jobs_root.glob("*/evaluate_*/exit_status"))) == 5


def test_sweep_runs_on_dask(jobs_root, capsys, dask_address):
    import dask.config

    with dask.config.set({"scheduler-address": dask_address}):
        assert mc_run("--executor", "dask") == 0
    assert capsys.readouterr().out.startswith(SUMMARY + "\n")


def test_sweep_runs_on_slurm(jobs_root, capsys, slurm_cluster):
    assert mc_run("--executor", "slurm") == 0
    assert capsys.readouterr().out.startswith(SUMMARY + "\n")
    assert len(list(jobs_root.glob("*/evaluate_*/slurm-*.out"))) == 5


def test_sweep_runs_on_prebaked_outputs_without_running_anything(tmp_path, capsys):
    jobs = PrebakedJobs(tmp_path)
    jobs.add("example_polynomial", outputs=lambda params: {"x": params["x"], "y": params["x"] ** 2})
    flow = jobs.engine.flow_spec_to_flow(load_flow_spec_file(SWEEP))
    jobs.run_flow(flow)
    assert capsys.readouterr().out == "minimum y = 0 at x = 0, over 5 points\n"
    assert [job["job_params"]["x"] for job in jobs.submitted] == [-1, 0, 1, 2, 3]


def test_unknown_executor_is_bad_input(capsys):
    assert mc_run("--executor", "slrum") == 2
    assert "mc run: unknown executor 'slrum'" in capsys.readouterr().err
