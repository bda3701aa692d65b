"""Task logs: what a handler prints or logs while it ticks goes to its task's own bounded file."""

from __future__ import annotations

import logging
import os

from mc.flows import COMPLETED, FlowEngine, task_logs
from mc.flows.task_logs import (
    MAX_LOG_BYTES,
    LogTask,
    TaskLogs,
    scheduler_log_file,
    task_log_path,
    task_output_files,
)
from mc.flows.tree import TaskNode


def chatty(task_ctx):
    task = task_ctx["task"]
    print(f"printed by {task['key']}")
    logging.getLogger("lab.instrument").warning("logged by %s", task["key"])
    task["status"] = COMPLETED


SPEC = {
    "key": "flow-1",
    "tasks": [
        {"key": "first", "task_type": "chatty"},
        {"key": "quiet", "task_type": "noop"},
        {
            "key": "sweep",
            "task_type": "spread",
            "task_params": {
                "items": [1, 2],
                "mapping_params": {
                    "skeleton": {"key": "item", "task_type": "chatty"},
                    "wirings": ["ctx.item.value => task_params.x"],
                },
            },
        },
    ],
}


def run_with_logs(tmp_path, clock):
    engine = FlowEngine(clock=clock, task_output=TaskLogs(tmp_path))
    engine.register_task_type("chatty", chatty)
    return engine.run_flow(engine.flow_spec_to_flow(SPEC))


def test_each_task_prints_and_logs_into_its_own_file_by_path(tmp_path, clock, capsys):
    run_with_logs(tmp_path, clock)
    assert task_log_path(tmp_path, "flow-1", "first").read_text() == (
        "printed by first\nWARNING lab.instrument: logged by first\n"
    )
    assert task_log_path(tmp_path, "flow-1", "sweep/item_1").read_text() == (
        "printed by item_1\nWARNING lab.instrument: logged by item_1\n"
    )
    assert capsys.readouterr().out == ""


def test_a_tick_that_prints_nothing_writes_no_file_and_a_parent_gets_no_copy(tmp_path, clock):
    run_with_logs(tmp_path, clock)
    assert not task_log_path(tmp_path, "flow-1", "quiet").exists()
    assert not task_log_path(tmp_path, "flow-1", "sweep").exists()


def test_keys_cannot_lead_a_log_out_of_its_root(tmp_path):
    path = task_log_path(tmp_path, "../up", "../../etc/passwd")
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_a_task_log_keeps_its_last_megabyte_from_whole_lines(tmp_path):
    logs = TaskLogs(tmp_path)
    line = "x" * 99 + "\n"
    for number in range(25):
        logs.append("k", "t", line * 1000 + f"chunk {number}\n")
    text = task_log_path(tmp_path, "k", "t").read_text()
    assert len(text.encode()) <= 2 * MAX_LOG_BYTES
    assert text.endswith("chunk 24\n")
    assert text.startswith("[earlier output cut: task logs keep the last 1 MB]\n")
    assert "chunk 0\n" not in text


def test_echo_hears_what_each_tick_printed(tmp_path, clock):
    heard = []
    engine = FlowEngine(
        clock=clock, task_output=TaskLogs(tmp_path, echo=lambda *args: heard.append(args))
    )
    engine.register_task_type("chatty", chatty)
    engine.run_flow(engine.flow_spec_to_flow(SPEC))
    assert heard[1][1:3] == (None, "sweep/item_0")
    assert heard[0] == (
        "flow-1",
        None,
        "first",
        "printed by first\nWARNING lab.instrument: logged by first\n",
    )


def test_a_log_that_cannot_be_written_is_a_warning_not_a_failed_task(tmp_path, clock, caplog):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    engine = FlowEngine(clock=clock, task_output=TaskLogs(blocker))
    engine.register_task_type("chatty", chatty)
    flow = engine.run_flow(engine.flow_spec_to_flow(SPEC))
    assert flow.status == COMPLETED
    assert "cannot write the task log" in caplog.text


def test_an_echo_that_raises_is_a_warning_not_a_failed_flow(tmp_path, clock, caplog):
    # As when mc runner's stdout is a closed pipe (mc runner | head).
    def broken_echo(*args):
        raise BrokenPipeError(32, "Broken pipe")

    engine = FlowEngine(clock=clock, task_output=TaskLogs(tmp_path, echo=broken_echo))
    engine.register_task_type("chatty", chatty)
    flow = engine.run_flow(engine.flow_spec_to_flow(SPEC))
    assert flow.status == COMPLETED
    assert "printed by first" in task_log_path(tmp_path, "flow-1", "first").read_text()
    assert "echo of a task's output raised" in caplog.text


# -- which SLURM log of a job dir is its scheduler log ----------------------------


def slurm_log(job_dir, name, text="slurmstepd: error: *** JOB CANCELLED ***\n", age_s=0):
    """A file as SLURM leaves it in a job dir, written ``age_s`` seconds ago."""
    path = job_dir / name
    path.write_text(text)
    when = 1_700_000_000 - age_s
    os.utime(path, (when, when))
    return path


def test_the_scheduler_log_is_the_file_of_the_recorded_job_id(tmp_path):
    slurm_log(tmp_path, "slurm-100.out", age_s=0)
    recorded = slurm_log(tmp_path, "slurm-200.out", age_s=60)
    assert scheduler_log_file(tmp_path, "200") == recorded


def test_without_the_recorded_jobs_file_the_latest_submissions_log_is_chosen(tmp_path):
    slurm_log(tmp_path, "slurm-100.out", age_s=120)
    latest = slurm_log(tmp_path, "slurm-250.out", age_s=10)
    slurm_log(tmp_path, "slurm-90.out", age_s=60)
    # Job 300 (a retry) is still queued: what ended the submission before it shows.
    assert scheduler_log_file(tmp_path, "300") == latest
    assert scheduler_log_file(tmp_path) == latest


def test_scheduler_logs_written_at_once_are_told_apart_by_job_id(tmp_path):
    slurm_log(tmp_path, "slurm-99.out", age_s=5)
    latest = slurm_log(tmp_path, "slurm-100.out", age_s=5)
    assert scheduler_log_file(tmp_path) == latest


def test_an_array_items_scheduler_log_is_named_for_its_array_and_index(tmp_path):
    slurm_log(tmp_path, "slurm-500.out", age_s=0)
    item = slurm_log(tmp_path, "slurm-700_3.out", age_s=60)
    assert scheduler_log_file(tmp_path, "700_3") == item


def test_a_symlinked_scheduler_log_is_never_chosen(tmp_path):
    secret = tmp_path / "operator_secret.txt"
    secret.write_text("secret\n")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "slurm-900.out").symlink_to(secret)
    assert scheduler_log_file(job_dir, "900") is None
    real = slurm_log(job_dir, "slurm-100.out", age_s=3600)
    assert scheduler_log_file(job_dir, "900") == real


def test_a_fifo_scheduler_log_is_never_chosen(tmp_path):
    os.mkfifo(tmp_path / "slurm-900.out")
    assert scheduler_log_file(tmp_path, "900") is None
    real = slurm_log(tmp_path, "slurm-100.out", age_s=3600)
    assert scheduler_log_file(tmp_path, "900") == real


def test_only_slurm_job_id_dot_out_names_are_scheduler_logs(tmp_path):
    names = ("slurm-abc.out", "slurm-1.out.txt", "xslurm-1.out", "slurm--1.out", "slurm-1_.out")
    for name in names:
        slurm_log(tmp_path, name)
    (tmp_path / "slurm-2.out").mkdir()
    assert scheduler_log_file(tmp_path) is None
    assert scheduler_log_file(tmp_path / "no_such_dir") is None


def test_the_recorded_jobs_log_is_found_in_a_dir_a_job_filled_with_files(tmp_path, monkeypatch):
    for i in range(task_logs.MAX_SCANNED_ENTRIES + 200):
        (tmp_path / f"out_{i}.dat").write_text("")
    recorded = slurm_log(tmp_path, "slurm-77.out")
    # Found by its name, not by a listing, whatever the dir holds.
    monkeypatch.setattr(task_logs, "MAX_SCANNED_ENTRIES", 0)
    assert scheduler_log_file(tmp_path, "77") == recorded
    # A listing looks at no more entries than the bound.
    assert scheduler_log_file(tmp_path) is None
    assert scheduler_log_file(tmp_path, "78") is None
    monkeypatch.undo()
    assert scheduler_log_file(tmp_path) == recorded


def test_a_recorded_job_id_that_is_no_job_id_is_never_made_a_path(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    slurm_log(tmp_path, "slurm-5.out")
    older = slurm_log(job_dir, "slurm-4.out", age_s=60)
    for job_id in ("../slurm-5", "5/../../slurm-5", "", "5 ", "٥"):
        assert scheduler_log_file(job_dir, job_id) == older


def job_task(job_dir, job_id="100"):
    node = TaskNode(
        path="fit",
        key="fit",
        label=None,
        task_type="job",
        status="RUNNING",
        job_id=job_id,
        job_dir=str(job_dir),
    )
    return LogTask("fit", node, "flow-1", "fit")


def test_a_job_without_a_scheduler_log_lists_only_its_log_stdout_and_stderr(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "job.json").write_text("{}")
    files = task_output_files(tmp_path / "logs", job_task(job_dir))
    assert [name for name, _ in files] == ["log", "stdout", "stderr"]


def test_a_slurm_jobs_scheduler_log_is_listed_after_stdout_and_stderr(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "job.json").write_text("{}")
    log = slurm_log(job_dir, "slurm-100.out")
    files = task_output_files(tmp_path / "logs", job_task(job_dir))
    assert files[1:] == [
        ("stdout", job_dir / "stdout.txt"),
        ("stderr", job_dir / "stderr.txt"),
        ("scheduler", log),
    ]


def test_a_dir_without_job_json_shows_no_scheduler_log(tmp_path):
    slurm_log(tmp_path, "slurm-100.out")
    assert [name for name, _ in task_output_files(tmp_path / "logs", job_task(tmp_path))] == ["log"]
