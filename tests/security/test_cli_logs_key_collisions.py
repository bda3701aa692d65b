"""A flow key never shares its task logs or job dirs with another flow's key.

Keys are made file names (:mod:`mc.flows.file_names`); a spec whose key
differs from a victim's only in characters that are not kept (``'victim
flow'`` against ``'victim_flow'``) must not append to the victim's task log,
where ``mc logs victim_flow`` would show the forged lines as the victim's.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mc.cli import main
from mc.flows.file_names import safe_file_name
from mc.store import FlowStore
from tests.security.conftest import SPECS_DIR


def test_a_hostile_key_does_not_write_into_another_flows_task_log(
    tmp_path, sqlite_url, capsys, monkeypatch
):
    monkeypatch.setenv("MC_LOGS_ROOT", str(tmp_path / "mc_logs"))
    with FlowStore(sqlite_url) as store:
        victim = store.create_flow(
            {
                "key": "victim_flow",
                "tasks": [
                    {
                        "key": "report",
                        "task_type": "print",
                        "task_params": {"msg": "victim's own line"},
                    }
                ],
            }
        )
        store.create_flow(json.loads((SPECS_DIR / "logs_key_collides.json").read_text()))
    assert main(["runner", "--db", sqlite_url, "--until-done", "--interval", "0.01"]) == 0
    capsys.readouterr()
    assert main(["logs", victim, "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["report | victim's own line"]


@given(st.text(max_size=300), st.text(max_size=300))
def test_distinct_keys_get_distinct_plain_file_names(first, second):
    if first != second:
        assert safe_file_name(first) != safe_file_name(second)
    for name in (safe_file_name(first), safe_file_name(second)):
        assert "/" not in name and "\0" not in name and not name.startswith(".") and name
        assert len(name.encode()) <= 255 and "%" not in name and Path(name).name == name


def test_ordinary_keys_keep_their_names():
    assert safe_file_name("sweep-2026.run_3") == "sweep-2026.run_3"
