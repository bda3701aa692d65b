"""The ``mc`` command: ``mc run`` and ``mc validate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mc.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


FAILING_SPEC = {
    "key": "failing",
    "cfg": {"fail_fast": False},
    "tasks": [
        {"key": "ok", "task_type": "print", "task_params": {"msg": "fine"}},
        {"key": "bad", "task_type": "no_such_type", "precursors": ["ROOT"]},
    ],
}


def test_run_prints_task_output_table_and_status(capsys):
    assert main(["run", str(EXAMPLES / "hello.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["Hello, world!", "Hello, lab!", "Both greetings are out."]
    assert out[3].split() == ["TASK", "TYPE", "STATUS", "DURATION"]
    assert [line.split()[:3] for line in out[4:7]] == [
        ["greet_world", "print", "COMPLETED"],
        ["greet_lab", "print", "COMPLETED"],
        ["done", "print", "COMPLETED"],
    ]
    assert out[7].endswith("(hello): COMPLETED")


def test_run_exits_1_when_the_flow_fails(tmp_path, capsys):
    path = write(tmp_path, "failing.json", json.dumps(FAILING_SPEC))
    assert main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    assert "flow failing (no label): FAILED" in captured.out
    assert "unknown task_type 'no_such_type'" in captured.err


def test_run_json_prints_the_final_flow_dict_and_keeps_task_output_apart(capsys):
    assert main(["run", "--json", str(EXAMPLES / "hello.yaml")]) == 0
    captured = capsys.readouterr()
    flow_dict = json.loads(captured.out)
    assert flow_dict["status"] == "COMPLETED"
    assert set(flow_dict["tasks"]) == {"greet_world", "greet_lab", "done"}
    assert "Hello, world!" in captured.err


def test_run_max_ticks_stops_a_flow_that_does_not_end(tmp_path, capsys):
    spec = {"tasks": [{"task_type": "noop"} for _ in range(5)]}
    path = write(tmp_path, "chain.json", json.dumps(spec))
    assert main(["run", "--max-ticks", "2", str(path)]) == 1
    assert "did not end within 2 ticks" in capsys.readouterr().err


def test_run_refuses_a_bad_spec_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", "label: x\ntaks: []\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "taks: unknown key" in err
    assert "did you mean 'tasks'?" in err


def test_run_allow_imports_lets_a_dotted_task_type_run(tmp_path, capsys):
    spec = {"tasks": [{"task_type": "tests.flows.importable:shout", "task_params": {"msg": "x"}}]}
    path = write(tmp_path, "imports.json", json.dumps(spec))
    assert main(["run", str(path)]) == 1
    assert main(["run", "--allow-imports", "tests.flows.importable", str(path)]) == 0


def test_validate_accepts_a_good_spec(capsys):
    assert main(["validate", str(EXAMPLES / "hello.yaml")]) == 0
    assert "valid flow spec with 3 tasks" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "cycle.yaml",
            "tasks:\n- {key: a, task_type: noop, precursors: [b]}\n"
            "- {key: b, task_type: noop, precursors: [a]}\n",
            "dependency cycle",
        ),
        ("broken.yaml", "tasks: [\n", "invalid YAML"),
        ("broken.json", "{", "invalid JSON"),
        ("list.json", "[]", "flow spec: expected a dict"),
    ],
)
def test_validate_rejects_bad_files_with_the_reason(tmp_path, capsys, name, text, message):
    path = write(tmp_path, name, text)
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_validate_reports_a_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.json", b"\xff{}", "not UTF-8 text"),
        ("huge.json", b'{"data": {"n": ' + b"9" * 5000 + b"}}", "invalid JSON"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),
        ("deep.yaml", b"[" * 100_000 + b"]" * 100_000, "invalid YAML"),
    ],
)
def test_unreadable_content_is_reported_not_raised(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_validate_reports_an_unknown_task_type_with_its_path(tmp_path, capsys):
    spec = {"tasks": [{"task_type": "noop"}, {"task_type": "prnt", "task_params": {"msg": "x"}}]}
    path = write(tmp_path, "typo.json", json.dumps(spec))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tasks[1].task_type: unknown task_type 'prnt'" in err
    assert "did you mean 'print'?" in err


def test_validate_checks_dotted_task_types_against_allow_imports(tmp_path, capsys):
    spec = {"tasks": [{"task_type": "tests.flows.importable:shout"}]}
    path = write(tmp_path, "imports.json", json.dumps(spec))
    assert main(["validate", str(path)]) == 2
    assert "names code to import" in capsys.readouterr().err
    assert main(["validate", "--allow-imports", "tests.flows.importable", str(path)]) == 0


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_run_refuses_a_max_ticks_below_one(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["run", "--max-ticks", value, str(EXAMPLES / "hello.yaml")])
    assert info.value.code == 2
    assert "--max-ticks" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: mc" in capsys.readouterr().err


def test_installed_console_script_runs_the_example():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mc")), "run", str(EXAMPLES / "hello.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello, world!\n")


def test_python_dash_m_mc_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "mc", "validate", str(EXAMPLES / "hello.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_run_refuses_a_bad_allow_imports_prefix_with_exit_2(capsys):
    assert main(["run", "--allow-imports", "bad prefix!", str(EXAMPLES / "hello.yaml")]) == 2
    assert "is not a module prefix" in capsys.readouterr().err
