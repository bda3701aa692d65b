"""Task logs: what a handler prints or logs while it ticks goes to its task's own bounded file."""

from __future__ import annotations

import logging

from mc.flows import COMPLETED, FlowEngine
from mc.flows.task_logs import MAX_LOG_BYTES, TaskLogs, task_log_path


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
    assert (None, "sweep/item_0") == heard[1][1:3]
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
