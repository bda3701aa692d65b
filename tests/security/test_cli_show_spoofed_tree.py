"""``mc show`` shows only the outside work the engine recorded.

A task's ``data`` is written by the spec (and by wirings), so copies of job
facts there (``executor``, ``job_dir``, a ``handle``) and a ``child_key``
naming some other stored flow must not make ``mc show`` present that work or
that flow as this flow's.
"""

from __future__ import annotations

from mc.cli import main
from mc.flows.tree import build_flow_tree
from mc.store import FlowStore
from tests.security.conftest import hostile_spec


def test_show_ignores_job_facts_and_a_child_key_that_a_spec_wrote(sqlite_url, capsys):
    with FlowStore(sqlite_url) as store:
        victim = store.create_flow(
            {
                "label": "victim",
                "key": "victim-flow",
                "tasks": [{"key": "secret_step", "task_type": "noop"}],
            }
        )
        key = store.create_flow(hostile_spec("show_spoofed_job_and_child.yaml", victim_key=victim))
    assert main(["show", key, "--db", sqlite_url]) == 0
    shown = capsys.readouterr().out
    for spoofed in ("31337", "someone_else", "secret_step", "victim"):
        assert spoofed not in shown


def test_a_stored_child_whose_parent_is_another_flow_is_not_nested():
    parent = {
        "key": "p",
        "label": None,
        "status": "RUNNING",
        "data": {},
        "tasks": {
            "s": {
                "key": "s",
                "task_type": "stored_flow",
                "status": "PENDING",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {"child_key": "other"},
            }
        },
    }
    other = {
        "key": "other",
        "label": "x",
        "status": "RUNNING",
        "parent_key": None,
        "data": {},
        "tasks": {
            "a": {
                "key": "a",
                "task_type": "noop",
                "status": "PENDING",
                "precursors": ["ROOT"],
                "task_params": {},
                "data": {},
            }
        },
    }
    node = build_flow_tree(parent, {"other": other}.get).find("s")
    assert (node.subflow_key, node.children) == (None, [])
