"""Progress of ``mc run`` and ``mc runner``.

Live on a terminal, one line per change otherwise, events as JSON lines.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from mc.cli import main
from mc.store import FlowStore

REPO_ROOT = Path(__file__).resolve().parents[2]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


def write_spec(tmp_path: Path, spec: dict, name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return str(path)


# A retried task that fails for good, a spread of two print tasks, and a
# task skipped after the failure.
SWEEP = {
    "key": "sweep-flow-key",
    "label": "sweep",
    "cfg": {"fail_fast": False},
    "tasks": [
        {"key": "flaky", "task_type": "no_such_type", "retries": 1},
        {
            "key": "sweep",
            "task_type": "spread",
            "precursors": ["ROOT"],
            "task_params": {
                "items": ["a", "b"],
                "mapping_params": {
                    "skeleton": {"key": "say", "task_type": "print"},
                    "wirings": ["ctx.item.value => task_params.msg"],
                },
            },
        },
        {"key": "after", "task_type": "noop", "precursors": ["flaky"]},
    ],
}


def ticker_spec(label: str = "ticking", lines: int = 3, interval_s: float = 0.4) -> dict:
    """A flow whose one job (a real local job) prints ``lines`` lines, ``interval_s`` apart."""
    return {
        "label": label,
        "tasks": [
            {"key": "hello", "task_type": "print", "task_params": {"msg": "hi there"}},
            {
                "key": "sweep",
                "task_type": "spread",
                "precursors": ["hello"],
                "task_params": {
                    "items": [lines],
                    "mapping_params": {
                        "skeleton": {
                            "key": "evaluate",
                            "task_type": "job",
                            "task_params": {
                                "job_type": "tests.cli.ticker_job",
                                "executor": "local",
                                "job_params": {"interval_s": interval_s},
                            },
                        },
                        "wirings": ["ctx.item.value => task_params.job_params.lines"],
                    },
                },
            },
        ],
    }


def spawn_mc(*args: str, tmp_path: Path) -> pexpect.spawn:
    """Start ``mc ARGS`` on a pseudo-terminal of 120 columns."""
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
        "MC_JOBS_ROOT": str(tmp_path / "mc_jobs"),
        "MC_LOGS_ROOT": str(tmp_path / "mc_logs"),
    }
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable,
        ["-m", "mc", *args],
        cwd=str(REPO_ROOT),
        env=env,
        timeout=60,
        dimensions=(40, 120),
    )


def read_all(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return child.before.decode("utf-8", errors="replace")


# -- mc run ----------------------------------------------------------------------


def test_run_off_a_terminal_prints_one_timestamped_line_per_task_change(tmp_path, capsys):
    assert main(["run", write_spec(tmp_path, SWEEP)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if re.match(STAMP, line)]
    told = [line.split(" ", 3)[1:] for line in lines]
    assert told[0] == ["sweep", "sweep-fl", "flow RUNNING"]
    assert ["sweep", "sweep-fl", "flaky RUNNING"] in told
    assert told[-1] == ["sweep", "sweep-fl", "flow FAILED"]
    tails = [tail for _, _, tail in told]
    assert "sweep/say_1 COMPLETED" in tails
    assert "after SKIPPED" in tails
    assert any(t.startswith("flaky PENDING (attempt 1 failed, retrying at ") for t in tails)
    assert any(t.startswith("flaky FAILED: unknown task_type 'no_such_type'") for t in tails)


def test_run_progress_none_prints_no_progress_lines(tmp_path, capsys):
    main(["run", "--progress", "none", write_spec(tmp_path, SWEEP)])
    assert not [line for line in capsys.readouterr().err.splitlines() if re.match(STAMP, line)]


def test_run_events_file_holds_one_json_object_per_event_in_order(tmp_path, capsys):
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("")  # appended to, never truncated
    main(["run", "--progress", "none", "--events", str(events_file), write_spec(tmp_path, SWEEP)])
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert {(e["flow_key"], e["flow_label"]) for e in events} == {("sweep-flow-key", "sweep")}
    assert all(re.fullmatch(STAMP + r"\.\d{3}\+00:00", e["time"]) for e in events)
    order = [(e["event"], e["task_key"], e["status"]) for e in events]
    assert order[0] == ("flow_started", None, "RUNNING")
    assert order[-1] == ("flow_ended", None, "FAILED")
    flaky = [step for step in order if step[1] == "flaky"]
    assert flaky == [
        ("task_started", "flaky", "RUNNING"),
        ("task_retrying", "flaky", "PENDING"),
        ("task_started", "flaky", "RUNNING"),
        ("task_failed", "flaky", "FAILED"),
    ]
    assert order.index(("task_failed", "flaky", "FAILED")) < order.index(
        ("task_skipped", "after", "SKIPPED")
    )
    assert (
        order.index(("task_started", "sweep/say_0", "RUNNING"))
        < order.index(("task_completed", "sweep/say_0", "COMPLETED"))
        < order.index(("task_completed", "sweep", "COMPLETED"))
    )
    failed = next(e for e in events if e["event"] == "task_failed")
    assert failed["attempt"] == 2 and "no_such_type" in failed["error"]


def test_run_refuses_an_events_file_it_cannot_open(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--events", str(tmp_path / "no_dir" / "e.jsonl"), write_spec(tmp_path, SWEEP)])
    assert exit_info.value.code == 2
    assert "--events" in capsys.readouterr().err


def test_run_on_a_terminal_shows_a_live_display_then_the_final_table(tmp_path):
    child = spawn_mc(
        "run",
        "--allow-imports",
        "tests.cli",
        write_spec(tmp_path, ticker_spec()),
        tmp_path=tmp_path,
    )
    output = read_all(child)
    assert child.exitstatus == 0, output
    # The live display: counts by status, the running task with its elapsed
    # time, and the job by executor and state.
    assert "RUNNING TASK" in output
    assert re.search(r"sweep/evaluate_0\s+\d+s", output)
    assert re.search(r"jobs: local (QUEUED|RUNNING) 1", output)
    last_frame = output.rindex("tasks:")
    table = output.rindex("TASK ")
    assert last_frame < table
    assert "hi there" in output
    end = output[table:]
    assert re.search(r"sweep\s*│\s*spread\s*│\s*(\x1b\[[0-9;]*m)?COMPLETED", end)
    assert re.search(r"\(ticking\): COMPLETED", end)


# -- mc runner -------------------------------------------------------------------


def test_runner_off_a_terminal_prints_each_task_change_and_output_naming_the_flow(
    tmp_path, capsys, sqlite_url
):
    with FlowStore(sqlite_url) as store:
        first = store.create_flow(
            {
                "label": "one",
                "tasks": [{"key": "say", "task_type": "print", "task_params": {"msg": "from one"}}],
            }
        )
        second = store.create_flow(
            {
                "label": "two",
                "tasks": [{"key": "say", "task_type": "print", "task_params": {"msg": "from two"}}],
            }
        )
    assert main(["runner", "--db", sqlite_url, "--until-done", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out.splitlines()
    for key, label in ((first, "one"), (second, "two")):
        tag = f"{label} {key[:8]}"
        mine = [line.split(" ", 1)[1] for line in out if line.split(" ", 3)[1:3] == tag.split()]
        assert mine == [
            f"{tag} flow RUNNING",
            f"{tag} say RUNNING",
            f"{tag} say COMPLETED",
            f"{tag} say | from {label}",
            f"{tag} flow COMPLETED",
        ]
    assert not any(line.startswith("from ") for line in out)
    assert not any("claimed" in line for line in out[1:-1])


def test_runner_on_a_terminal_keeps_its_live_display_apart_and_ends_with_a_table(
    tmp_path, sqlite_url
):
    with FlowStore(sqlite_url) as store:
        key = store.create_flow(ticker_spec(label="watched"))
    child = spawn_mc(
        "runner",
        "--db",
        sqlite_url,
        "--until-done",
        "--interval",
        "0.05",
        "--poll",
        "0.1",
        "--allow-imports",
        "tests.cli",
        tmp_path=tmp_path,
    )
    output = read_all(child)
    assert child.exitstatus == 0, output
    tag = f"watched {key[:8]}"
    assert re.search(STAMP + f" {tag} sweep/evaluate_0 job QUEUED on local", output)
    assert f"{tag} hello | hi there" in output
    # The live display (redrawn in place) names the running task with its flow.
    assert "RUNNING TASK" in output
    assert re.search(rf"{tag} sweep/evaluate_0\s+\d+s", output)
    # Every log line starts on a line of its own, never after a live frame.
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    starts = [match.start() for match in re.finditer(STAMP + f" {tag}", plain)]
    assert len(starts) > 8
    assert all(plain[start - 1] in "\r\n" for start in starts), plain
    table = output.rindex("FLOW")
    assert output.rindex("RUNNING TASK") < table
    assert re.search(rf"{key}\s*│\s*watched\s*│\s*(\x1b\[[0-9;]*m)?COMPLETED", output[table:])
    assert "done: claimed" in output[table:]


# -- what the lines and the display hold ------------------------------------------


def test_a_runners_board_forgets_the_tasks_and_jobs_of_a_flow_that_ended():
    from mc.cli.progress import TaskBoard
    from mc.flows.events import FlowEvent

    board = TaskBoard(many_flows=True)
    board.update(FlowEvent(1.0, "task_started", "k1", "one", task_key="a", status="RUNNING"))
    board.update(
        FlowEvent(
            1.0, "job_submitted", "k1", "one", task_key="a", status="QUEUED", executor="slurm"
        )
    )
    board.update(FlowEvent(1.0, "task_started", "k2", "two", task_key="b", status="RUNNING"))
    assert board.snapshot()[1] == [("one k1 a", 1.0), ("two k2 b", 1.0)]
    board.update(FlowEvent(2.0, "flow_ended", "k1", "one", status="COMPLETED"))
    counts, running, jobs = board.snapshot()
    assert (counts["RUNNING"], running, dict(jobs)) == (1, [("two k2 b", 1.0)], {})
    assert board.flows["k1"] == ("one", "COMPLETED")


def test_lines_show_control_characters_of_keys_and_errors_as_escapes():
    from mc.cli.progress import format_event_line
    from mc.flows.events import FlowEvent

    line = format_event_line(
        FlowEvent(
            0.0,
            "task_failed",
            "k\x1b[2J",
            "lab\x07",
            task_key="t\r",
            status="FAILED",
            error="bad\x1b]0;title\x07",
        )
    )
    assert "\x1b" not in line and "\x07" not in line and "\r" not in line
    assert line.endswith("lab\\x07 k\\x1b[2J t\\x0d FAILED: bad\\x1b]0;title\\x07")


def test_a_job_running_line_names_its_job_id():
    from mc.cli.progress import format_event_line
    from mc.flows.events import FlowEvent

    event = FlowEvent(
        time=0.0,
        event="job_state_changed",
        flow_key="k",
        flow_label=None,
        task_key="sweep/evaluate_3",
        status="RUNNING",
        executor="local",
        job_id="4242",
    )
    assert format_event_line(event).endswith(" - k sweep/evaluate_3 job RUNNING (job 4242)")


def test_a_completion_from_the_cache_says_where_the_result_came_from():
    from mc.cli.progress import format_event_line
    from mc.flows.events import FlowEvent

    event = FlowEvent(
        time=0.0,
        event="task_completed",
        flow_key="k",
        flow_label=None,
        task_key="fit",
        status="COMPLETED",
        cached_from="older/fit\x1b",
    )
    assert format_event_line(event).endswith(" - k fit COMPLETED (cached from older/fit\\x1b)")
