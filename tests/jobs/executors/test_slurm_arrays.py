"""Array jobs on the SLURM executor (the real one-node cluster), SLURM commands counted on PATH."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from mc.errors import FlowError
from mc.flows import COMPLETED, FlowEngine
from mc.flows.task_logs import log_tasks, task_output_files
from mc.flows.tree import build_flow_tree
from mc.jobs.executors.base import job_dir_of_handle
from mc.jobs.executors.slurm import SlurmExecutor, array_indices
from tests.jobs.conftest import command_calls
from tests.jobs.executors.test_slurm_polling import sweep_spec


def items(flow) -> dict:
    """The spread's item tasks, as nodes of the flow's tree, by key."""
    nodes = [node for top in build_flow_tree(flow.to_flow_dict()).tasks for node in top.walk()]
    return {node.key: node for node in nodes if node.key.startswith("item_")}


def array_executor(partition: str, **options) -> SlurmExecutor:
    return SlurmExecutor(
        partition=partition, min_poll_interval_s=0.5, array_jobs=True, squeue_json=True, **options
    )


def test_a_spread_of_200_jobs_is_one_array_job_polled_once_a_round(
    task_ctx, slurm_cluster, slurm_command_log
):
    # This one-node cluster runs about one job a second: the test watches 20
    # rounds of the 200 jobs, then cancels the rest (which a run may do too).
    engine = FlowEngine(executors={"slurm": array_executor(slurm_cluster)})
    flow = engine.flow_spec_to_flow(sweep_spec(200))
    rounds = 20
    with pytest.raises(FlowError, match="did not end within 20 ticks"):
        engine.run_flow(flow, task_ctx, poll_interval_s=0.5, max_ticks=rounds)
    assert command_calls(slurm_command_log, "sbatch") == 1
    assert 1 <= command_calls(slurm_command_log, "squeue") <= rounds
    assert len(items(flow)) == 200
    job_ids = {
        Path(node.job_dir, "slurm_job_id").read_text().strip() for node in items(flow).values()
    }
    assert len(job_ids) == 200
    array_ids = {job_id.split("_")[0] for job_id in job_ids}
    assert len(array_ids) == 1
    # Cancelled whole, as an admin would: cancelling 200 pending tasks one by
    # one splits the array 200 times and keeps this small controller busy.
    subprocess.run(["scancel", *array_ids], check=True)
    left = subprocess.run(
        [
            "squeue",
            "--noheader",
            "--array",
            "--states=PENDING,RUNNING",
            "--format=%i",
            "--jobs",
            *array_ids,
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert left == []


def test_each_array_item_keeps_its_own_job_dir_and_status(task_ctx, slurm_cluster):
    spec = sweep_spec(3, command='[ "$(basename "$(dirname "$PWD")")" != item_1 ]')
    spec["tasks"][0]["task_params"]["fail_fast"] = False
    engine = FlowEngine(executors={"slurm": array_executor(slurm_cluster)})
    with pytest.raises(FlowError) as raised:
        engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.2)
    flow = raised.value.flow
    child = items(flow)
    assert {key: node.status for key, node in child.items()} == {
        "item_0": "COMPLETED",
        "item_1": "FAILED",
        "item_2": "COMPLETED",
    }
    ids = [
        Path(child[key].job_dir, "slurm_job_id").read_text().split("_")[0]
        for key in ("item_0", "item_2")
    ]
    assert ids[0] == ids[1]  # one array job


def test_a_failing_array_item_is_retried_alone_with_more_memory(
    task_ctx, slurm_cluster, slurm_command_log
):
    # Item 1 needs 128 MB; every item asks for 64 first, and twice as much on a retry.
    command = (
        '[ "$(basename "$PWD/..")" = x ] || [ "${SLURM_MEM_PER_NODE:-0}" -ge 128 ] || '
        '[ "$(basename "$(dirname "$PWD")")" != item_1 ]'
    )
    spec = sweep_spec(3, command=command)
    skeleton = spec["tasks"][0]["task_params"]["mapping_params"]["skeleton"]
    skeleton["retries"] = 1
    skeleton["task_params"]["resources"] = {"memory_mb": 64, "retry_scale": {"memory_mb": 2}}
    engine = FlowEngine(executors={"slurm": array_executor(slurm_cluster)})
    flow = engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.2)
    assert flow.status == COMPLETED
    child = items(flow)
    assert [child[f"item_{i}"].attempts for i in range(3)] == [1, 2, 1]
    retried = Path(child["item_1"].job_dir)
    assert retried.name == "item_1.2"
    assert json.loads((retried / "resources.json").read_text())["memory_mb"] == 128
    assert "_" not in child["item_1"].job_id  # submitted alone, not as an array's item
    assert command_calls(slurm_command_log, "sbatch") == 2


# Items 1 and 2 need 128 MB; every item asks for 64 first, and twice as much on a retry.
NEEDS_128_MB_BUT_ITEM_0 = (
    '[ "${SLURM_MEM_PER_NODE:-0}" -ge 128 ] || [ "$(basename "$(dirname "$PWD")")" = item_0 ]'
)


def test_items_failing_in_one_round_are_each_resubmitted_alone(
    task_ctx, jobs_root, slurm_cluster, slurm_command_log
):
    spec = sweep_spec(3, command=NEEDS_128_MB_BUT_ITEM_0)
    skeleton = spec["tasks"][0]["task_params"]["mapping_params"]["skeleton"]
    skeleton["retries"] = 1
    skeleton["task_params"]["resources"] = {"memory_mb": 64, "retry_scale": {"memory_mb": 2}}
    # The executor's clock stands still (so its snapshot of the queue stays)
    # until items 1 and 2 have both ended: one round then sees both failed,
    # and the engine retries both in the same tick.
    both_ended: list[bool] = []

    def clock() -> float:
        if not both_ended and len(list(jobs_root.glob("*/item_[12]/exit_status"))) == 2:
            both_ended.append(True)
        return time.monotonic() if both_ended else 0.0

    engine = FlowEngine(executors={"slurm": array_executor(slurm_cluster, clock=clock)})
    flow = engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.2)
    assert flow.status == COMPLETED
    child = items(flow)
    assert [child[f"item_{i}"].attempts for i in range(3)] == [1, 2, 2]
    # One array job, then one plain job for each retried item.
    assert command_calls(slurm_command_log, "sbatch") == 3
    retried_ids = [child[key].job_id for key in ("item_1", "item_2")]
    assert all(job_id and "_" not in job_id for job_id in retried_ids)
    assert retried_ids[0] != retried_ids[1]
    for key in ("item_1", "item_2"):
        retried = Path(child[key].job_dir)
        assert retried.name == f"{key}.2"
        assert json.loads((retried / "resources.json").read_text())["memory_mb"] == 128


def test_each_array_item_writes_its_logs_in_its_own_job_dir(task_ctx, slurm_cluster):
    command = 'echo "out of $(basename "$(dirname "$PWD")")"; echo "err" >&2'
    engine = FlowEngine(executors={"slurm": array_executor(slurm_cluster)})
    flow = engine.run_flow(
        engine.flow_spec_to_flow(sweep_spec(3, command=command)), task_ctx, poll_interval_s=0.2
    )
    assert flow.status == COMPLETED
    job_ids = set()
    for key, node in items(flow).items():
        job_dir = Path(node.job_dir)
        job_id = (job_dir / "slurm_job_id").read_text().strip()
        job_ids.add(job_id.split("_")[0])
        # SLURM's own log of the item, in its job dir: no other item's.
        assert [path.name for path in job_dir.glob("slurm-*.out")] == [f"slurm-{job_id}.out"]
        assert (job_dir / "stdout.txt").read_text() == f"out of {key}\n"
    assert len(job_ids) == 1  # one array job
    # What mc logs shows of each item: the files of its own job dir.
    tree = build_flow_tree(flow.to_flow_dict(), confirm_job_dir=job_dir_of_handle)
    for task in log_tasks(tree):
        if task.node.key.startswith("item_"):
            files = dict(task_output_files("unused_logs_root", task))
            assert files["stdout"].read_text() == f"out of {task.node.key}\n"
            assert files["stderr"].parent == Path(task.node.job_dir)


def test_array_task_strings_expand_to_indices():
    assert array_indices("0-4%2") == [0, 1, 2, 3, 4]
    assert array_indices("3,7-11:2") == [3, 7, 9, 11]
