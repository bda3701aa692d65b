"""Issue 9, proof: hostile strings in every string field of every built-in task type.

For each built-in type (print, log, noop, wire, switch, spread, flow) a small
spec uses every field that type reads. Hypothesis replaces one string of the
spec (or of the flow around it) with something hostile: shell metacharacters,
``..`` and absolute paths, NUL, lone surrogates, terminal escape sequences,
``$`` paths, or a huge number. Either validation refuses the spec with a
FlowSpecError naming the place, or the flow runs to its end, any failed task
with a clear error, the tick never raising and nothing written to disk.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mc.errors import FlowError, FlowSpecError
from mc.flows import Flow, FlowEngine
from mc.flows.statuses import COMPLETED, FAILED, SKIPPED

TEMPLATES: dict[str, dict[str, Any]] = {
    "print": {"task_params": {"msg": "hello"}},
    "log": {"task_params": {"msg": "hello", "level": "INFO", "logger": "mc.test"}},
    "noop": {"task_params": {"x": "y"}},
    "wire": {
        "task_params": {
            "wirings": [
                "ctx.flow.data.a => ctx.flow.data.b",
                {"source": "ctx.flow.data.a", "dest": "ctx.task.data.c", "transform": "json.dumps"},
                {"value": "v", "dest": "ctx.flow.data.d"},
            ]
        }
    },
    "switch": {
        "task_params": {
            "control_value": "a",
            "cases": [
                {
                    "condition": {"op": "eq", "arg": "a"},
                    "task": {"task_type": "print", "label": "case", "task_params": {"msg": "m"}},
                }
            ],
            "default_case": {"task": {"task_type": "noop", "label": "default"}},
        }
    },
    "spread": {
        "task_params": {
            "items": ["one", "two"],
            "mapping_params": {
                "skeleton": {"key": "item", "task_type": "print", "task_params": {"msg": "s"}},
                "wirings": ["ctx.item.value => task_params.msg"],
            },
        }
    },
    "flow": {
        "task_params": {
            "flow_spec": {
                "label": "child",
                "data": {"k": "v"},
                "tasks": [{"key": "inner", "task_type": "print", "task_params": {"msg": "m"}}],
            }
        }
    },
}

HOSTILE_STRINGS = [
    "; rm -rf ~",
    "$(id > pwned)",
    "`id > pwned`",
    "| tee pwned",
    "&& touch pwned",
    "../../../../etc/passwd",
    "..",
    "/etc/passwd",
    "/tmp/pwned",
    "~root",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\x1b[2J\x1b]0;pwned\x07",
    "\u202eevil",
    "$ctx.flow_engine",
    "$ctx",
    "$ctx.flow.data",
    "\\$ctx",
    "${HOME}",
    "$HOME",
    "ctx.flow.tasks.t.status",
    "a\nb\r",
    "%s%n%x",
    "{0.__class__}",
    "",
]
HUGE_NUMBERS = [10**5000, -(10**4301), 1e308, -1e308, 2**63, 10**4300 - 1]

hostile_values = (
    st.sampled_from(HOSTILE_STRINGS)
    | st.text(alphabet=st.sampled_from("$;|&`/.\\\x00\x1b\ud800\n'\"~*"), max_size=8)
    | st.sampled_from(HUGE_NUMBERS)
)


def _spec(task_type: str) -> dict[str, Any]:
    task = {
        "key": "t",
        "label": "a task",
        "task_type": task_type,
        **copy.deepcopy(TEMPLATES[task_type]),
    }
    return {"key": "f", "label": "a flow", "data": {"a": "value"}, "tasks": [task]}


def _string_paths(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [found for name, item in items for found in _string_paths(item, (*path, name))]


def _replace(spec: dict[str, Any], path: tuple, new: Any) -> None:
    target = spec
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new


def _spec_path(path: tuple) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step.isidentifier():
            text += f".{step}" if text else step
        else:
            text += f"[{step!r}]"
    return text


@st.composite
def hostile_specs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    spec = _spec(draw(st.sampled_from(sorted(TEMPLATES))))
    path = draw(st.sampled_from(_string_paths(spec)))
    _replace(spec, path, draw(hostile_values))
    return spec, _spec_path(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_specs())
def test_hostile_strings_give_a_spec_error_or_a_clean_failure(case):
    spec, replaced = case
    with tempfile.TemporaryDirectory() as workdir:
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            _check(spec, replaced)
        finally:
            os.chdir(cwd)
        assert os.listdir(workdir) == []  # nothing written where the flow ran


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_specs())
def test_hostile_specs_that_validate_can_be_stored_and_loaded(case):
    # What mc submit does: a spec that passes validation never crashes the store.
    from mc.store import FlowStore

    spec, _ = case
    with tempfile.TemporaryDirectory() as workdir, FlowStore(f"sqlite:///{workdir}/mc.db") as store:
        try:
            key = store.create_flow(spec)
        except FlowSpecError:
            return
        loaded = store.get_flow(key)
        assert loaded.label == spec.get("label")
        assert [record.key for record in store.query()] == [key]


def _check(spec: dict[str, Any], replaced: str) -> None:
    engine = FlowEngine()
    try:
        flow = engine.flow_spec_to_flow(spec)
    except FlowSpecError as error:
        assert error.path, error
        # The error names the replaced field, or a place that encloses it.
        assert replaced.startswith(error.path.split(".task_params")[0]), (error.path, replaced)
        return
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            engine.run_flow(flow, max_ticks=50)
        except FlowError:
            pass
    assert flow.finished
    for task in flow.tasks.values():
        assert task["status"] in (COMPLETED, FAILED, SKIPPED)
        if task["status"] == FAILED:
            assert isinstance(task["error"], str) and task["error"].strip()
    for line in flow.data.get("errors", []):
        assert "Traceback" not in line
    # Whatever ran, the flow can still be stored and loaded.
    assert Flow.from_flow_dict(flow.to_flow_dict()).status == flow.status


def test_every_listed_hostile_value_in_every_string_field_of_every_task_type():
    # The same check, exhaustively over the fixed list: 7 types x their fields.
    checked = 0
    for task_type in sorted(TEMPLATES):
        for path in _string_paths(_spec(task_type)):
            for value in [*HOSTILE_STRINGS, *HUGE_NUMBERS]:
                spec = _spec(task_type)
                _replace(spec, path, value)
                with tempfile.TemporaryDirectory() as workdir:
                    cwd = os.getcwd()
                    os.chdir(workdir)
                    try:
                        _check(spec, _spec_path(path))
                    finally:
                        os.chdir(cwd)
                    assert os.listdir(workdir) == []
                checked += 1
    assert checked > 2000
