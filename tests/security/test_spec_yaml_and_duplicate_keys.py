"""Issue 9, item 3: a spec file cannot exhaust memory with YAML aliases, and a key
given twice is an error instead of "last one wins"."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from mc.cli import main

SPECS = Path(__file__).parent / "specs"


def test_yaml_alias_bomb_is_refused_quickly_with_exit_2(capsys):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["validate", str(SPECS / "spec_yaml_alias_bomb.yaml")]) == 2
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    err = capsys.readouterr().err
    assert "alias *a is not allowed" in err
    assert "spec_yaml_alias_bomb.yaml:5:" in err
    # The expanded file would take gigabytes; refusing it takes next to nothing.
    assert grown_kb < 50_000


@pytest.mark.parametrize("command", ["run", "submit"])
def test_yaml_alias_bomb_is_refused_by_run_and_submit(command, tmp_path, capsys):
    argv = [command, str(SPECS / "spec_yaml_alias_bomb.yaml")]
    if command == "submit":
        argv += ["--db", f"sqlite:///{tmp_path / 'mc.db'}"]
    assert main(argv) == 2
    assert "alias *a is not allowed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("spec_duplicate_key.yaml", "spec_duplicate_key.yaml:5:3"),
        ("spec_duplicate_key.json", "spec_duplicate_key.json: tasks[0]"),
    ],
)
def test_duplicate_key_is_an_error_naming_the_key_and_where(name, where, capsys):
    assert main(["validate", str(SPECS / name)]) == 2
    err = capsys.readouterr().err
    assert "duplicate key 'task_type'" in err
    assert where in err


def test_yaml_anchor_without_alias_is_still_accepted(tmp_path):
    path = tmp_path / "anchor.yaml"
    path.write_text("label: &name fine\ntasks:\n- task_type: noop\n")
    assert main(["validate", str(path)]) == 0
