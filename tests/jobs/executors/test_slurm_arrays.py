"""Array jobs on the SLURM executor (the real one-node cluster), SLURM commands counted on PATH."""

from __future__ import annotations

import json
import re
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
from mc.jobs.job_dir import build_job_dir
from tests.jobs.conftest import command_calls, poll_until_finished
from tests.jobs.executors.test_slurm_polling import sweep_spec


def items(flow) -> dict:
    """The spread's item tasks, as nodes of the flow's tree, by key."""
    nodes = [node for top in build_flow_tree(flow.to_flow_dict()).tasks for node in top.walk()]
    return {node.key: node for node in nodes if node.key.startswith("item_")}


def array_executor(partition: str, **options) -> SlurmExecutor:
    options = {"min_poll_interval_s": 0.5, **options}
    return SlurmExecutor(partition=partition, array_jobs=True, squeue_json=True, **options)


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


def test_a_flow_saved_between_ticks_by_two_runners_runs_each_array_item_once(
    tmp_path, task_ctx, slurm_cluster
):
    # Runner 1 ticks the spread (its items submitted together), saves and
    # releases the flow; runner 2 then ticks it with an executor of its own.
    # The array must have been sent before the save: else runner 2 finds the
    # items lost and submits them alone, and runner 1's array runs them again.
    from mc.runner import FlowRunner
    from mc.store import FlowStore

    store = FlowStore(f"sqlite:///{tmp_path}/flows.sqlite")
    executors, runners = [], []
    for name in ("r1", "r2"):
        executor = array_executor(slurm_cluster, min_poll_interval_s=0)
        engine = FlowEngine(executors={"slurm": executor})
        executors.append(executor)
        runners.append(
            FlowRunner(
                store,
                engine=engine,
                task_ctx=task_ctx,
                runner_id=name,
                poll_interval_s=0,
                max_ticks_per_claim=1,
            )
        )
    key = store.create_flow(
        FlowEngine().flow_spec_to_flow(sweep_spec(3, "echo run >> ../runs.txt"))
    )
    runners[0].tick()
    assert executors[0].command_counts["sbatch"] == 1
    deadline = time.monotonic() + 120
    turn = 1
    while not store.get_flow(key).finished:
        assert time.monotonic() < deadline, "the flow did not end in 120 s"
        runners[turn % 2].tick()
        turn += 1
        time.sleep(0.3)
    flow = store.get_flow(key)
    assert flow.status == COMPLETED
    assert sum(executor.command_counts["sbatch"] for executor in executors) == 1
    runs = {key: Path(node.job_dir, "runs.txt").read_text() for key, node in items(flow).items()}
    assert runs == dict.fromkeys(["item_0", "item_1", "item_2"], "run\n")


def test_an_array_that_sbatch_refuses_fails_each_item_with_sbatchs_message(
    task_ctx, slurm_cluster, slurm_command_log
):
    spec = sweep_spec(3)
    spec["tasks"][0]["task_params"]["fail_fast"] = False
    engine = FlowEngine(executors={"slurm": array_executor("no_such_partition")})
    with pytest.raises(FlowError) as raised:
        engine.run_flow(engine.flow_spec_to_flow(spec), task_ctx, poll_interval_s=0.2)
    child_flow = raised.value.flow.tasks["sweep"]["proxied_task"]["data"]["flow"]
    errors = {key: task["error"] for key, task in child_flow["tasks"].items()}
    assert sorted(errors) == ["item_0", "item_1", "item_2"]
    for error in errors.values():
        assert "sbatch refused job array of 3" in error
        # SLURM's reason is the last line, which error summaries show.
        assert "invalid partition" in error.splitlines()[-1].lower()
    assert all("invalid partition" in line.lower() for line in child_flow["data"]["errors"])
    assert command_calls(slurm_command_log, "sbatch") == 1


def test_a_spread_larger_than_max_array_size_goes_as_several_arrays(
    task_ctx, slurm_cluster, slurm_command_log
):
    executor = array_executor(slurm_cluster, max_array_size=3)
    engine = FlowEngine(executors={"slurm": executor})
    flow = engine.run_flow(engine.flow_spec_to_flow(sweep_spec(7)), task_ctx, poll_interval_s=0.2)
    assert flow.status == COMPLETED
    job_ids = [
        Path(items(flow)[f"item_{i}"].job_dir, "slurm_job_id").read_text().strip() for i in range(7)
    ]
    # Arrays of 3, 3 and, for the one item left, a plain job.
    arrays = [job_id.partition("_")[0] for job_id in job_ids]
    assert len(set(arrays)) == 3
    assert [job_id.partition("_")[2] for job_id in job_ids] == ["0", "1", "2"] * 2 + [""]
    assert arrays[0] == arrays[2] != arrays[3] == arrays[5] != arrays[6]
    assert command_calls(slurm_command_log, "sbatch") == 3
    assert command_calls(slurm_command_log, "scontrol") == 0  # max_array_size was given


def test_a_spread_larger_than_the_clusters_max_array_size_is_split_to_fit(
    tmp_path, job_types, slurm_cluster, slurm_command_log
):
    # This cluster's MaxArraySize is read from scontrol show config; 1002
    # trivial jobs exceed SLURM's default (1001), which one array would not pass.
    size = int(
        re.search(
            r"^MaxArraySize\s*=\s*(\d+)",
            subprocess.run(
                ["scontrol", "show", "config"], capture_output=True, text=True, check=True
            ).stdout,
            re.M,
        )[1]
    )
    assert size == 1001  # scripts/setup_slurm.sh keeps SLURM's default
    executor = array_executor(slurm_cluster)
    handles = [
        executor.submit(
            build_job_dir(
                {"key": f"item_{i}", "job_type": "shell", "job_params": {"command": "true"}},
                tmp_path / f"item_{i}",
                job_types,
            )
        )
        for i in range(size + 1)
    ]
    executor.flush_submissions()
    job_ids = [Path(handle["job_dir"], "slurm_job_id").read_text().strip() for handle in handles]
    arrays = sorted({job_id.partition("_")[0] for job_id in job_ids})
    try:
        assert command_calls(slurm_command_log, "sbatch") == 2
        assert executor.command_counts["scontrol"] == 1  # MaxArraySize, asked once
        assert len(arrays) == 2
        assert job_ids[size - 1] == f"{job_ids[0].partition('_')[0]}_{size - 1}"
        assert "_" not in job_ids[size]
        assert executor.array_size_limit() == size
    finally:
        subprocess.run(["scancel", *arrays], check=True)


def test_the_array_list_is_written_over_a_planted_symlink_not_through_it(
    tmp_path, build, slurm_cluster
):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    executor = array_executor(slurm_cluster, min_poll_interval_s=0)
    job_dirs = [build("true") for _ in range(2)]
    (Path(job_dirs[0]) / "slurm_array_jobs.txt").symlink_to(victim)
    handles = [executor.submit(job_dir) for job_dir in job_dirs]
    executor.flush_submissions()
    assert victim.read_text() == "precious\n"
    listing = Path(job_dirs[0]) / "slurm_array_jobs.txt"
    assert not listing.is_symlink()
    assert listing.read_text() == "".join(f"{job_dir}\n" for job_dir in job_dirs)
    for handle in handles:
        assert poll_until_finished(executor, handle)[0] == "COMPLETED"


def test_max_jobs_bounds_the_items_of_arrays_across_spreads(
    task_ctx, slurm_cluster, slurm_command_log
):
    executor = array_executor(slurm_cluster, max_jobs=2, min_poll_interval_s=0.2)
    engine = FlowEngine(executors={"slurm": executor})
    flows = [engine.flow_spec_to_flow(sweep_spec(3, command="sleep 1")) for _ in range(2)]
    most_at_once = 0
    for _ in range(400):
        for flow in flows:
            engine.tick_flow(flow, task_ctx)
        job_ids = [
            Path(node.job_dir, "slurm_job_id").read_text().strip()
            for flow in flows
            for node in items(flow).values()
            if node.job_dir and Path(node.job_dir, "slurm_job_id").exists()
        ]
        queue = subprocess.run(
            ["squeue", "--noheader", "--array", "--format=%i %r", "--jobs", ",".join(job_ids)],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        not_held = [line for line in queue if line.strip() and "JobHeldUser" not in line]
        most_at_once = max(most_at_once, len(not_held))
        if all(flow.finished for flow in flows):
            break
        time.sleep(0.1)
    assert [flow.status for flow in flows] == [COMPLETED, COMPLETED]
    assert most_at_once <= 2
    # The first spread's 2 items went as an array, its third and the second
    # spread's 3 as held arrays: 3 sbatch calls, not one per job.
    assert command_calls(slurm_command_log, "sbatch") == 3
    assert command_calls(slurm_command_log, "scontrol") >= 2
