"""Issue 9, item 6: strings that cannot be stored (NUL, lone surrogates) and ints too
long to write as JSON are refused by validation, naming the path; ``mc validate``,
``mc submit`` (SQLite and PostgreSQL) and ``mc run`` exit 2 instead of crashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc.cli import main
from mc.errors import FlowLoadError, FlowSpecError
from mc.flows import Flow, flow_spec_to_flow

SPECS = Path(__file__).parent / "specs"

HOSTILE = [
    ("spec_surrogate_label.json", "label: contains a lone surrogate"),
    ("spec_nul_flow_key.json", "key: contains a NUL character"),
    ("spec_nul_task_label.json", "tasks[0].label: contains a NUL character"),
    ("spec_surrogate_in_params.json", "tasks[0].task_params.msg: contains a lone surrogate"),
]


@pytest.mark.parametrize(("name", "message"), HOSTILE)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_unstorable_strings_make_validate_and_run_exit_2(command, name, message, capsys):
    assert main([command, str(SPECS / name)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("name", "message"), HOSTILE)
def test_unstorable_strings_make_submit_exit_2_and_store_nothing(name, message, db_url, capsys):
    assert main(["submit", str(SPECS / name), "--db", db_url]) == 2
    assert message in capsys.readouterr().err
    assert main(["ls", "--db", db_url, "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"data": {"n": 10**5000}}, "data.n"),
        (
            {"tasks": [{"task_type": "noop", "data": {"xs": [1, -(10**4300)]}}]},
            "tasks[0].data.xs[1]",
        ),
        ({"tasks": [{"task_type": "noop", "retries": 10**5000}]}, "tasks[0].retries"),
        ({"tasks": [{"task_type": "noop", "timeout_s": 10**5000}]}, "tasks[0].timeout_s"),
        ({"data": {"bad\udc80key": 1}}, "data"),
    ],
)
def test_huge_ints_and_bad_keys_are_a_spec_error_naming_the_path(spec, path):
    with pytest.raises(FlowSpecError) as caught:
        flow_spec_to_flow(spec)
    assert caught.value.path == path


def test_an_int_of_4300_digits_is_still_accepted():
    flow = flow_spec_to_flow({"data": {"n": 10**4300 - 1}})
    assert Flow.from_flow_dict(flow.to_flow_dict()).data["n"] == 10**4300 - 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("label", "a\x00b", "label contains a NUL"), ("key", "k\ud800", "key contains a lone")],
)
def test_stored_flow_with_unstorable_key_or_label_does_not_load(field, value, message):
    flow_dict = flow_spec_to_flow({"key": "k", "tasks": [{"task_type": "noop"}]}).to_flow_dict()
    flow_dict[field] = value
    with pytest.raises(FlowLoadError, match=message):
        Flow.from_flow_dict(flow_dict)


def test_stored_flow_with_a_huge_int_is_a_load_error():
    flow_dict = flow_spec_to_flow({"tasks": [{"task_type": "noop"}]}).to_flow_dict()
    flow_dict["data"]["n"] = 10**5000
    with pytest.raises(FlowLoadError):
        Flow.from_flow_dict(flow_dict)
