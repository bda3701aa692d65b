"""Resources by the names Snakemake, Nextflow and the issue use (mem_gb, time_min, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mc.errors import JobError
from mc.flows import COMPLETED, FlowEngine
from mc.jobs.executors.slurm import SlurmExecutor, sbatch_options
from mc.jobs.retry_resources import RESOURCE_ALIASES, canonical_resources, resources_for_attempt

WHERE = "task 'fit': task_params.resources"


def test_the_issues_example_grows_by_its_own_names():
    resources = {"mem_gb": 4, "time_min": 60, "retry_scale": {"mem_gb": 2, "time_min": 1.5}}
    assert resources_for_attempt(resources, 1, WHERE) == {"memory_mb": 4096, "walltime_s": 3600}
    assert resources_for_attempt(resources, 2, WHERE) == {"memory_mb": 8192, "walltime_s": 5400.0}


def test_mem_gb_and_time_min_reach_sbatch_as_mem_and_time():
    resources = resources_for_attempt({"mem_gb": 4, "time_min": 90}, 1, WHERE)
    assert sbatch_options(resources) == ["--mem=4096M", "--time=0-01:30:00"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"mem_mb": 500}, {"memory_mb": 500}),
        ({"runtime": 30}, {"walltime_s": 1800}),
        ({"cpus": 4}, {"cores": 4}),
        ({"cpus_per_task": 8}, {"cores": 8}),
        ({"mem_gb": 0.5, "partition": "debug"}, {"memory_mb": 512.0, "partition": "debug"}),
    ],
)
def test_snakemake_and_nextflow_names_are_read_in_their_units(given, expected):
    assert resources_for_attempt(given, 1, WHERE) == expected


def test_a_list_under_another_name_gives_one_value_per_attempt():
    assert resources_for_attempt({"mem_gb": [1, 2, 8]}, 2, WHERE) == {"memory_mb": 2048}


def test_retry_scale_may_name_the_resource_by_any_of_its_names():
    resources = {"mem_gb": 1, "retry_scale": {"memory_mb": 2}}
    assert resources_for_attempt(resources, 2, WHERE) == {"memory_mb": 2048}


def test_every_alias_names_a_resource_that_can_grow():
    for name, (resource, units) in RESOURCE_ALIASES.items():
        assert canonical_resources({name: 1}, WHERE) == {resource: units}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"mem_gb": -1}, r"\.mem_gb: expected a positive number up to"),
        ({"mem_gb": 0}, r"\.mem_gb: expected a positive number up to"),
        ({"mem_gb": "4 GB"}, r"\.mem_gb: expected a positive number up to .* got '4 GB'"),
        ({"time_min": True}, r"\.time_min: expected a positive number"),
        ({"time_min": float("nan")}, r"\.time_min: expected a positive number"),
        ({"mem_gb": 1e300}, r"\.mem_gb: expected a positive number up to 9\.76562e\+08"),
        ({"runtime": []}, r"\.runtime: expected a positive number"),
        ({"cpus": [1] * 101}, r"\.cpus: .*a list of 1 to 100"),
        ({"mem_gb": 4, "memory_mb": 4096}, r": 'mem_gb' and 'memory_mb' both give memory_mb"),
        ({"time_min": 4, "runtime": 4}, r": 'time_min' and 'runtime' both give walltime_s"),
        (
            {"mem_gb": 4, "retry_scale": {"mem_gb": 2, "memory_mb": 2}},
            r"\.retry_scale: memory_mb is scaled twice",
        ),
        ({"mem_gb": 4, "retry_scale": {"mem_gb": 20}}, r"\.retry_scale\.mem_gb: expected a number"),
        ({"retry_scale": {"time_min": 2}}, r"\.retry_scale\.time_min: time_min must be given"),
        ({"mem_gb": [1, 2], "retry_scale": {"mem_gb": 2}}, r"\.retry_scale\.mem_gb: mem_gb must"),
        ({"mem_gb": 1, "retry_scale": {"gpus": 2}}, r"\.retry_scale: 'gpus' cannot grow"),
    ],
)
def test_bad_values_are_refused_naming_the_path(resources, message):
    with pytest.raises(JobError, match=rf"^task 'fit': task_params\.resources{message}"):
        resources_for_attempt(resources, 1, WHERE)


def test_slurm_runs_a_retry_with_the_grown_mem_gb_and_time_min(task_ctx, slurm_cluster):
    # The job fails unless SLURM gave it 2 GB; it writes what SLURM gave it.
    command = (
        '[ "$SLURM_MEM_PER_NODE" -ge 2048 ] || exit 1; '
        'echo "$SLURM_MEM_PER_NODE $(squeue -h -j "$SLURM_JOB_ID" -o %l)" > out.txt'
    )
    spec = {
        "label": "grow by name",
        "tasks": [
            {
                "key": "hungry",
                "task_type": "job",
                "retries": 1,
                "task_params": {
                    "job_type": "shell",
                    "executor": "slurm",
                    "job_params": {"command": command},
                    "resources": {
                        "mem_gb": 1,
                        "time_min": 2,
                        "retry_scale": {"mem_gb": 2, "time_min": 1.5},
                    },
                },
            },
        ],
    }
    engine = FlowEngine(
        executors={"slurm": SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)}
    )
    flow = engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.05)
    assert flow.status == COMPLETED
    hungry = flow.tasks["hungry"]
    assert len(hungry["attempts"]) == 1
    assert hungry["data"]["outputs"] == {"out": "2048 3:00"}
    second_dir = Path(hungry["job"]["job_dir"])
    first_dir = second_dir.with_name("hungry")
    recorded = [json.loads((d / "resources.json").read_text()) for d in (first_dir, second_dir)]
    assert [(r["memory_mb"], r["walltime_s"]) for r in recorded] == [(1024, 120), (2048, 180.0)]
