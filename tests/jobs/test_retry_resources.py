"""Resources that grow on retry (mc.jobs.retry_resources), and on the real SLURM cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mc.errors import JobError
from mc.flows import COMPLETED, FlowEngine
from mc.jobs.executors.slurm import SlurmExecutor
from mc.jobs.retry_resources import resources_for_attempt


def test_a_retry_scale_multiplies_per_attempt():
    resources = {
        "memory_mb": 4000,
        "walltime_s": 600,
        "partition": "x",
        "retry_scale": {"memory_mb": 2, "walltime_s": 1.5},
    }
    assert resources_for_attempt(resources, 1, "r") == {
        "memory_mb": 4000,
        "walltime_s": 600,
        "partition": "x",
    }
    assert resources_for_attempt(resources, 3, "r") == {
        "memory_mb": 16000,
        "walltime_s": 1350.0,
        "partition": "x",
    }


def test_a_list_gives_one_value_per_attempt_and_the_last_repeats():
    assert [resources_for_attempt({"cores": [1, 2, 4]}, attempt, "r") for attempt in (1, 3, 9)] == [
        {"cores": 1},
        {"cores": 4},
        {"cores": 4},
    ]


def test_growth_stops_at_the_resources_limit():
    grown = resources_for_attempt({"memory_mb": 1e6, "retry_scale": {"memory_mb": 16}}, 50, "r")
    assert grown == {"memory_mb": 1e12}


def test_scaled_cores_are_whole():
    assert resources_for_attempt({"cores": 3, "retry_scale": {"cores": 1.5}}, 2, "r") == {
        "cores": 5
    }


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"memory_mb": 100, "retry_scale": {"memory_mb": 0.5}},
            r"retry_scale.memory_mb: expected a number from 1 to 16",
        ),
        (
            {"memory_mb": 100, "retry_scale": {"partition": 2}},
            r"retry_scale: 'partition' cannot grow",
        ),
        (
            {"retry_scale": {"memory_mb": 2}},
            r"retry_scale.memory_mb: memory_mb must be given as a number",
        ),
        ({"walltime_s": [60, "x"]}, r"walltime_s: a list gives one positive number per attempt"),
        ({"walltime_s": []}, r"walltime_s: a list gives one positive number per attempt"),
    ],
)
def test_bad_growth_is_refused_saying_where(resources, message):
    with pytest.raises(JobError, match=f"task 'fit': task_params.resources.{message}"):
        resources_for_attempt(resources, 1, "task 'fit': task_params.resources")


def test_a_job_failing_for_memory_is_retried_alone_with_more(task_ctx, slurm_cluster):
    # The job fails unless SLURM gave it at least 128 MB; the first attempt asks for 64.
    command = (
        '[ "$SLURM_MEM_PER_NODE" -ge 128 ] || { echo "only $SLURM_MEM_PER_NODE MB" >&2; exit 1; }'
    )
    spec = {
        "label": "grow",
        "tasks": [
            {
                "key": "small",
                "task_type": "job",
                "task_params": {
                    "job_type": "shell",
                    "executor": "slurm",
                    "job_params": {"command": "true"},
                },
            },
            {
                "key": "hungry",
                "task_type": "job",
                "retries": 2,
                "task_params": {
                    "job_type": "shell",
                    "executor": "slurm",
                    "job_params": {"command": command},
                    "resources": {"memory_mb": 64, "retry_scale": {"memory_mb": 2}},
                },
            },
        ],
    }
    engine = FlowEngine(
        executors={"slurm": SlurmExecutor(partition=slurm_cluster, min_poll_interval_s=0.1)}
    )
    flow = engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.05)
    assert flow.status == COMPLETED
    hungry, small = flow.tasks["hungry"], flow.tasks["small"]
    assert (len(hungry["attempts"]), len(small.get("attempts") or [])) == (1, 0)
    recorded = json.loads(Path(hungry["job"]["job_dir"], "resources.json").read_text())
    assert recorded["memory_mb"] == 128
    first_dir = Path(hungry["job"]["job_dir"]).with_name("hungry")
    assert json.loads((first_dir / "resources.json").read_text())["memory_mb"] == 64
