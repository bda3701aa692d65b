"""The store commands of ``mc``: submit, runner, ls, show, retry, cancel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mc.cli import main
from mc.store import FlowStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_spec(tmp_path: Path, spec: dict, name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return str(path)


GOOD = {
    "label": "good",
    "tasks": [
        {"key": "a", "task_type": "noop"},
        {
            "key": "b",
            "task_type": "print",
            "task_params": {"msg": "hello from b"},
            "precursors": ["a"],
        },
    ],
}
BAD_TYPE = {
    "label": "bad",
    "tasks": [
        {"key": "a", "task_type": "noop"},
        {"key": "oops", "task_type": "no_such_type", "precursors": ["a"]},
        {"key": "c", "task_type": "noop", "precursors": ["oops"]},
    ],
}


@pytest.fixture
def mc(capsys):
    """Run ``mc ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def submitted(mc, db_url, tmp_path):
    """Submit GOOD and BAD_TYPE; return their keys."""

    def submit(spec: dict) -> str:
        code, out, err = mc("submit", write_spec(tmp_path, spec), "--db", db_url)
        assert code == 0, err
        return out.strip()

    return {"good": submit(GOOD), "bad": submit(BAD_TYPE)}


def test_submit_prints_the_key_of_the_new_pending_flow(mc, db_url, tmp_path):
    code, out, _ = mc("submit", write_spec(tmp_path, GOOD), "--db", db_url)
    assert code == 0
    with FlowStore(db_url) as store:
        record = store.get_record(out.strip())
    assert (record.label, record.status) == ("good", "PENDING")


def test_submit_reads_yaml(mc, sqlite_url, tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text("label: from_yaml\ntasks:\n  - {key: a, task_type: noop}\n")
    code, out, _ = mc("submit", str(path), "--db", sqlite_url)
    assert code == 0
    with FlowStore(sqlite_url) as store:
        assert store.get_record(out.strip()).label == "from_yaml"


def test_submit_of_an_invalid_spec_exits_2_naming_the_path_and_stores_nothing(
    mc, sqlite_url, tmp_path
):
    code, out, err = mc(
        "submit", write_spec(tmp_path, {"tasks": [{"key": "a"}]}), "--db", sqlite_url
    )
    assert (code, out) == (2, "")
    assert "mc submit: tasks[0]" in err and "task_type" in err
    with FlowStore(sqlite_url) as store:
        assert store.query() == []


def test_submit_uses_mc_db_url_when_no_db_is_given(mc, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("MC_DB_URL", url)
    code, out, _ = mc("submit", write_spec(tmp_path, GOOD))
    assert code == 0
    with FlowStore(url) as store:
        assert store.get_record(out.strip()).label == "good"


def test_a_database_that_cannot_be_opened_exits_2(mc, tmp_path):
    code, _, err = mc("ls", "--db", "nosuchdb://x/y")
    assert code == 2
    assert "mc ls: database URL 'nosuchdb://x/y'" in err


def test_runner_until_done_runs_every_flow_to_its_end(mc, db_url, submitted):
    code, out, _ = mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    assert code == 0
    assert "hello from b" in out
    assert "done: claimed 2 ticked 2 completed 1 failed 1" in out
    with FlowStore(db_url) as store:
        assert store.count_by_status() == {"COMPLETED": 1, "FAILED": 1}


def test_runner_once_runs_one_round(mc, sqlite_url, tmp_path):
    for _ in range(3):
        mc("submit", write_spec(tmp_path, GOOD), "--db", sqlite_url)
    code, _, _ = mc("runner", "--db", sqlite_url, "--once", "--batch", "2")
    assert code == 0
    with FlowStore(sqlite_url) as store:
        assert store.count_by_status() == {"COMPLETED": 2, "PENDING": 1}


def test_runner_prints_plain_timestamped_lines_when_not_on_a_terminal(mc, db_url, submitted):
    _, out, _ = mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    lines = out.splitlines()
    assert "\r" not in out
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", line) for line in lines)
    assert lines[0].split(" ", 1)[1].startswith("runner ")
    assert f"good {submitted['good'][:8]} b | hello from b" in out
    assert f"bad {submitted['bad'][:8]} oops FAILED: unknown task_type 'no_such_type'" in out
    assert lines[-1].split(" ", 1)[1] == "done: claimed 2 ticked 2 completed 1 failed 1"


def test_ls_prints_a_table_of_the_flows(mc, db_url, submitted):
    code, out, _ = mc("ls", "--db", db_url)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["KEY", "LABEL", "STATUS", "TASKS", "UPDATED"]
    assert sorted(row.split()[:4] for row in rows) == sorted(
        [[submitted["good"], "good", "PENDING", "2"], [submitted["bad"], "bad", "PENDING", "3"]]
    )


def test_ls_json_lists_records_with_key_label_status_and_times(mc, db_url, submitted):
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, out, _ = mc("ls", "--db", db_url, "--json", "--status", "FAILED")
    assert code == 0
    (record,) = json.loads(out)
    assert (record["key"], record["label"], record["status"]) == (submitted["bad"], "bad", "FAILED")
    assert record["updated_at"] >= record["created_at"] > 0


def test_ls_refuses_an_unknown_status(mc, sqlite_url):
    with pytest.raises(SystemExit) as caught:
        main(["ls", "--db", sqlite_url, "--status", "DONE"])
    assert caught.value.code == 2


def test_show_lists_tasks_statuses_and_errors(mc, db_url, submitted):
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, out, _ = mc("show", submitted["bad"], "--db", db_url)
    assert code == 0
    assert out.splitlines()[0] == f"flow {submitted['bad']} (bad): FAILED"
    summaries = [line for line in out.splitlines() if line.startswith(("├── ", "└── "))]
    statuses = {line.split()[1]: line.split()[2] for line in summaries}
    assert statuses == {"a": "COMPLETED", "oops": "FAILED", "c": "SKIPPED"}
    assert "error: unknown task_type 'no_such_type'" in out


def test_show_json_prints_the_flow_dict(mc, db_url, submitted):
    code, out, _ = mc("show", submitted["good"], "--db", db_url, "--json")
    assert code == 0
    assert set(json.loads(out)["tasks"]) == {"a", "b"}


def test_show_of_an_unknown_key_exits_2(mc, sqlite_url):
    code, _, err = mc("show", "no_such_key", "--db", sqlite_url)
    assert code == 2
    assert "no flow with key 'no_such_key'" in err


def test_show_reports_a_flow_the_runner_could_not_load(mc, db_url, submitted):
    import sqlalchemy as sa

    from mc.store.tables import flows_table

    with FlowStore(db_url) as store, store._engine.begin() as connection:
        connection.execute(
            sa.update(flows_table)
            .where(flows_table.c.key == submitted["good"])
            .values(flow_json="{")
        )
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, out, _ = mc("show", submitted["good"], "--db", db_url)
    assert code == 0
    assert "marked FAILED by the store or a runner: stored flow" in out
    assert "the stored flow cannot be loaded" in out


def test_a_database_that_fails_during_a_command_is_reported_in_one_line_exit_2(
    mc, db_url, submitted
):
    import sqlalchemy as sa

    with FlowStore(db_url) as store, store._engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE mc_flows"))
    code, out, err = mc("show", submitted["good"], "--db", db_url)
    assert (code, out) == (2, "")
    assert err.startswith(f"mc show: flow store at {store.url}: resolve_key(")
    assert "Traceback" not in err and "[SQL:" not in err


def test_retry_puts_failed_and_skipped_tasks_back_and_the_flow_runs_again(mc, db_url, submitted):
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, out, _ = mc("retry", submitted["bad"], "--db", db_url)
    assert code == 0
    assert out.strip() == f"flow {submitted['bad']}: 2 tasks back to PENDING: oops, c"
    with FlowStore(db_url) as store:
        flow = store.get_flow(submitted["bad"])
        assert flow.status == "RUNNING"
        assert [flow.tasks[k]["status"] for k in ("a", "oops", "c")] == [
            "COMPLETED",
            "PENDING",
            "PENDING",
        ]


def test_retry_of_a_flow_with_nothing_to_retry_exits_1(mc, db_url, submitted):
    code, out, err = mc("retry", submitted["good"], "--db", db_url)
    assert (code, out) == (1, "")
    assert "no FAILED or SKIPPED task to retry" in err


def test_cancel_fails_the_flow_with_the_reason_and_runners_leave_it(mc, db_url, submitted):
    code, out, _ = mc("cancel", submitted["good"], "--db", db_url, "--reason", "wrong input")
    assert code == 0
    assert out.strip() == f"flow {submitted['good']} cancelled: wrong input"
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    with FlowStore(db_url) as store:
        flow = store.get_flow(submitted["good"])
    assert flow.status == "FAILED"
    assert flow.data["cancelled"]["reason"] == "wrong input"
    assert {task["status"] for task in flow.tasks.values()} == {"SKIPPED"}


def test_cancel_of_a_flow_a_runner_holds_waits_then_exits_1_changing_nothing(
    mc, db_url, submitted, monkeypatch
):
    from mc.cli import store_commands

    monkeypatch.setattr(store_commands, "_LEASE_WAIT_S", 0.2)
    with FlowStore(db_url) as store:
        (held,) = store.claim(1, lease_s=300, runner_id="busy-runner")
        before = store.get_record(held.key)
        code, out, err = mc("cancel", held.key, "--db", db_url)
        assert (code, out) == (1, "")
        assert f"flow {held.key!r} is leased to runner busy-runner until" in err
        assert store.get_record(held.key) == before


def test_cancel_takes_the_lease_so_a_runner_never_ticks_the_flow_meanwhile(
    mc, db_url, submitted, monkeypatch
):
    from mc.cli import store_commands

    seen = {}
    original = store_commands._change_flow

    def change_and_look(store, key, change, command):
        def looking(flow, record):
            seen["runner claims"] = store.claim(5, lease_s=30, runner_id="runner")
            seen["holder"] = record.lease_owner
            return change(flow, record)

        return original(store, key, looking, command)

    monkeypatch.setattr(store_commands, "_change_flow", change_and_look)
    code, _, err = mc("cancel", submitted["good"], "--db", db_url)
    assert code == 0, err
    claimed = [flow.key for flow in seen["runner claims"]]
    assert submitted["good"] not in claimed
    assert seen["holder"].startswith("mc cancel ")
    with FlowStore(db_url) as store:
        record = store.get_record(submitted["good"])
    assert (record.status, record.lease_owner) == ("FAILED", None)


def test_cancel_of_a_finished_flow_exits_1(mc, db_url, submitted):
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    code, _, err = mc("cancel", submitted["good"], "--db", db_url)
    assert code == 1
    assert "has already ended: COMPLETED" in err


def test_runner_rejects_a_non_positive_lease(mc, sqlite_url):
    with pytest.raises(SystemExit) as caught:
        main(["runner", "--db", sqlite_url, "--lease", "0"])
    assert caught.value.code == 2


def test_retry_clears_a_runners_failure_mark_so_runners_try_again(mc, db_url, submitted):
    with FlowStore(db_url) as store:
        store.fail_flow(submitted["good"], "ticking the flow raised: RuntimeError: fixed since")
    code, out, _ = mc("retry", submitted["good"], "--db", db_url)
    assert code == 0
    assert "cleared the runner's error" in out
    mc("runner", "--db", db_url, "--until-done", "--interval", "0.01")
    with FlowStore(db_url) as store:
        record = store.get_record(submitted["good"])
    assert (record.status, record.error) == ("COMPLETED", None)


def test_runner_with_a_malformed_allow_imports_prefix_exits_2(mc, sqlite_url):
    code, _, err = mc("runner", "--db", sqlite_url, "--once", "--allow-imports", "not a module")
    assert code == 2
    assert "mc runner:" in err and "not a module" in err


PARENT = {
    "key": "parent",
    "tasks": [
        {
            "key": "sub",
            "task_type": "stored_flow",
            "task_params": {
                "flow_spec": {"label": "kid", "tasks": [{"key": "a", "task_type": "noop"}]}
            },
        }
    ],
}


def test_show_nests_the_stored_subflows_and_ls_parent_filters_them(mc, sqlite_url, tmp_path):
    mc("submit", write_spec(tmp_path, PARENT), "--db", sqlite_url)
    mc("runner", "--db", sqlite_url, "--until-done", "--interval", "0.01", "--poll", "0")
    with FlowStore(sqlite_url) as store:
        (child,) = store.query(parent_key="parent")
    _, out, _ = mc("show", "parent", "--db", sqlite_url)
    assert f"stored subflow {child.key} (kid): COMPLETED" in out
    assert "└── sub/a  COMPLETED  noop" in out
    _, out, _ = mc("ls", "--db", sqlite_url, "--parent", "parent", "--json")
    assert [record["key"] for record in json.loads(out)] == [child.key]


def test_runner_logs_a_flow_it_marks_failed_as_a_timestamped_warning(sqlite_url, tmp_path):
    import sqlalchemy as sa

    from mc.store.tables import flows_table

    with FlowStore(sqlite_url) as store:
        key = store.create_flow(GOOD)
        with store._engine.begin() as connection:
            connection.execute(
                sa.update(flows_table).where(flows_table.c.key == key).values(flow_json="{")
            )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mc",
            "runner",
            "--db",
            sqlite_url,
            "--until-done",
            "--interval",
            "0.01",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "marked FAILED" in line]
    assert " WARNING mc.store.flow_store: flow " in line and "JSON does not parse" in line
