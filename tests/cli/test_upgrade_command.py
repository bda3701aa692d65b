"""``mc upgrade-spec FILE``: a 0.x spec rewritten, to stdout, -o FILE or in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mc.cli import main

OLD_YAML = """\
# A 0.x spec
label: spread_example
tasks:
  - key: spreader
    task_type: spread
    task_params:
      container_task_type: mc.tasks.inline_flow
      items: [item_0, item_1]
      mapping_params:
        skeleton: {task_type: print, task_params: {msg: TO BE WIRED}}
        wirings: ['ctx.item.value => ctx.skeleton.task_params.msg']
"""

UNCONVERTIBLE = {
    "tasks": [
        {"key": "a", "task_type": "my_lab.relax_task"},
        {"key": "b", "task_type": "noop", "answer": "yes"},
    ]
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_upgrade_spec_prints_the_new_spec_and_lists_the_changes(tmp_path, capsys):
    path = write(tmp_path, "old.yaml", OLD_YAML)
    assert main(["upgrade-spec", str(path)]) == 0
    out, err = capsys.readouterr()
    spec = yaml.safe_load(out)
    params = spec["tasks"][0]["task_params"]
    assert "container_task_type" not in params
    assert params["mapping_params"]["wirings"] == ["ctx.item.value => task_params.msg"]
    assert err.splitlines() == [
        "changed: tasks[0].task_params.container_task_type: 'mc.tasks.inline_flow' removed "
        "(a spread's items run as an inline child flow)",
        "changed: tasks[0].task_params.mapping_params.wirings[0]: dest "
        "'ctx.skeleton.task_params.msg' -> 'task_params.msg'",
    ]
    assert path.read_text(encoding="utf-8") == OLD_YAML


def test_upgrade_spec_output_runs(tmp_path, capsys):
    path = write(tmp_path, "old.yaml", OLD_YAML)
    new = tmp_path / "new.json"
    assert main(["upgrade-spec", str(path), "-o", str(new)]) == 0
    capsys.readouterr()
    assert json.loads(new.read_text(encoding="utf-8"))["label"] == "spread_example"
    assert main(["run", str(new)]) == 0
    assert capsys.readouterr().out.startswith("item_0\nitem_1\n")


def test_upgrade_spec_in_place_rewrites_the_file(tmp_path, capsys):
    path = write(tmp_path, "old.json", json.dumps(yaml.safe_load(OLD_YAML)))
    assert main(["upgrade-spec", str(path), "--in-place"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "changed: " in err
    spec = json.loads(path.read_text(encoding="utf-8"))
    assert spec["tasks"][0]["task_params"]["mapping_params"]["wirings"] == [
        "ctx.item.value => task_params.msg"
    ]


def test_upgrade_spec_says_when_nothing_changes(tmp_path, capsys):
    path = write(tmp_path, "new.json", json.dumps({"tasks": [{"task_type": "noop"}]}))
    assert main(["upgrade-spec", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"tasks": [{"task_type": "noop"}]}
    assert err.endswith("nothing to change\n")


def test_upgrade_spec_exits_2_and_writes_nothing_for_what_it_cannot_convert(tmp_path, capsys):
    path = write(tmp_path, "old.json", json.dumps(UNCONVERTIBLE))
    target = tmp_path / "out.json"
    assert main(["upgrade-spec", str(path), "-o", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert not target.exists()
    lines = err.splitlines()
    assert lines[0].endswith("2 part(s) cannot be converted automatically; nothing was written:")
    assert lines[1].startswith("  tasks[0].task_type: 'my_lab.relax_task' is a dotted name")
    assert "register_task_type" in lines[1] and "--allow-imports" in lines[1]
    assert lines[2].startswith("  tasks[1].answer: unknown key")


def test_upgrade_spec_in_place_leaves_an_unconvertible_file_alone(tmp_path, capsys):
    text = json.dumps(UNCONVERTIBLE)
    path = write(tmp_path, "old.json", text)
    assert main(["upgrade-spec", str(path), "--in-place"]) == 2
    assert path.read_text(encoding="utf-8") == text


def test_upgrade_spec_refuses_an_unreadable_file(tmp_path, capsys):
    assert main(["upgrade-spec", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_upgrade_spec_escapes_control_characters_from_the_spec(tmp_path, capsys):
    path = write(
        tmp_path, "old.json", json.dumps({"tasks": [{"key": "a\x1b[31m", "task_type": "noop"}]})
    )
    assert main(["upgrade-spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\\x1b[31m" in err


def test_upgrade_spec_refuses_output_and_in_place_together(tmp_path, capsys):
    path = write(tmp_path, "old.yaml", OLD_YAML)
    with pytest.raises(SystemExit) as exit_:
        main(["upgrade-spec", str(path), "--in-place", "-o", str(tmp_path / "x.yaml")])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_upgrade_spec_escapes_non_ascii_on_stdout_but_keeps_it_in_files(tmp_path, capsys):
    spec = {
        "tasks": [{"task_type": "mc.tasks.print", "task_params": {"msg": "Ångström \u202e\x1b[2J"}}]
    }
    for suffix, loads in ((".json", json.loads), (".yaml", yaml.safe_load)):
        path = write(tmp_path, f"old{suffix}", json.dumps(spec))
        assert main(["upgrade-spec", str(path)]) == 0
        out = capsys.readouterr().out
        assert out.isascii()
        assert loads(out)["tasks"][0]["task_params"]["msg"] == "Ångström \u202e\x1b[2J"
        target = tmp_path / f"new{suffix}"
        assert main(["upgrade-spec", str(path), "-o", str(target)]) == 0
        assert "Ångström" in target.read_text(encoding="utf-8")
