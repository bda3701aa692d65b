"""The prebaked_jobs pytest fixture, used as a library user would use it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from mc.flows import COMPLETED
from mc.jobs.testing import PrebakedJobs


def test_every_job_executor_name_goes_to_the_prebaked_executor(tmp_path, job_types):
    jobs = PrebakedJobs(tmp_path)
    jobs.add("shell", outputs={"out": "canned"})
    flow = jobs.engine.flow_spec_to_flow(
        {
            "tasks": [
                {
                    "key": name,
                    "task_type": "job",
                    "precursors": ["ROOT"],
                    "task_params": {
                        "job_type": "shell",
                        "executor": name,
                        "job_params": {"command": "exit 1"},
                    },
                }
                for name in ("local", "dask", "slurm", "prebaked")
            ]
        }
    )
    jobs.run_flow(flow, {"job_types": job_types})
    assert {task["data"]["outputs"]["out"] for task in flow.tasks.values()} == {"canned"}
    assert flow.status == COMPLETED
    assert len(jobs.submitted) == 4


def test_fixture_works_in_a_users_test_suite(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["mc.jobs.testing"]\n')
    (tmp_path / "test_user_flow.py").write_text(
        textwrap.dedent(
            """
        def test_flow_with_canned_job(prebaked_jobs):
            class Relax:
                @staticmethod
                def build_work_dir(params, output_dir):
                    return {"entrypoint": "run-expensive-code"}

            from mc.jobs.job_modules import JobTypeRegistry

            prebaked_jobs.add("relax", outputs={"energy": -1.5})
            flow = prebaked_jobs.engine.flow_spec_to_flow({"tasks": [
                {"key": "relax", "task_type": "job",
                 "task_params": {"job_type": "relax", "executor": "slurm"}},
            ]})
            prebaked_jobs.run_flow(flow, {"job_types": JobTypeRegistry({"relax": Relax})})
            assert flow.tasks["relax"]["data"]["outputs"] == {"energy": -1.5}
        """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
