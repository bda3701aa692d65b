"""Hostile strings in every field of the ``job`` and ``call`` task types that names something.

Each example puts one string with a shell metacharacter, ``..``, an
absolute path, a NUL, a lone surrogate or a terminal escape sequence (or a
huge number, in a numeric resource) into one field. The outcome is either a
FlowSpecError naming the path, or a flow whose task FAILED with a clear
error (no traceback); and nothing appears outside the jobs root. Fields that
are data (a call's ``args``) stay data: the callable gets the string as it is.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mc.errors import FlowSpecError
from mc.flows import COMPLETED, FAILED, FlowEngine

HOSTILE_PARTS = [
    ";id",
    "|id",
    "&&id",
    "$(id)",
    "`id`",
    "$HOME",
    "\nid",
    "'",
    '"',
    " ",
    "/../",
    "/..",
    "/etc/passwd",
    "\x00",
    "\ud800",
    "\x1b[31m",
    "\x1b]0;title\x07",
    "*",
    "~",
    "%j",
    "\\",
    "<",
    ">",
]
hostile_strings = st.builds(
    # A path part goes first, or it would be a harmless name inside the jobs root.
    lambda prefix, part, suffix: (part if part.startswith("/") else prefix + part) + suffix,
    st.text(alphabet="abcXYZ019_-", max_size=4),
    st.sampled_from(HOSTILE_PARTS),
    st.text(alphabet="abc_/.", max_size=4),
)
huge_numbers = st.sampled_from([10**400, 1e308, -1, 0, float("inf"), float("nan")])

# Where a hostile value goes: (task type, path inside task_params, strategy).
JOB_FIELDS = [
    ("job", ("job_type",), hostile_strings),
    ("job", ("executor",), hostile_strings),
    ("job", ("job_dir",), hostile_strings),
    ("job", ("resources", "partition"), hostile_strings),
    ("job", ("resources", "account"), hostile_strings),
    ("job", ("resources", "extra_directives", 0), hostile_strings),
    ("job", ("resources", "extra_directives", 0), hostile_strings.map(lambda s: f"--qos={s}")),
    ("job", ("resources", "cores"), huge_numbers),
    ("job", ("resources", "memory_mb"), huge_numbers),
    ("job", ("resources", "walltime_s"), huge_numbers),
    ("call", ("fn",), hostile_strings),
    ("call", ("executor",), hostile_strings),
]
_counter = itertools.count()


def task_spec(task_type, path, value):
    if task_type == "job":
        params = {
            "job_type": "example_polynomial",
            "job_params": {"x": 2},
            "resources": {"extra_directives": []},
        }
    else:
        params = {"fn": "len", "args": [[1, 2]]}
    container = params
    for part in path[:-1]:
        container = container[part]
    if isinstance(container, list):
        container.append(value)
    else:
        container[path[-1]] = value
    return {"key": "target", "task_type": task_type, "task_params": params}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_hostile_strings_fail_clearly_and_touch_nothing_outside_the_jobs_root(tmp_path, data):
    task_type, path, strategy = data.draw(st.sampled_from(JOB_FIELDS))
    value = data.draw(strategy)
    place = tmp_path / f"example{next(_counter)}"
    jobs_root = place / "jobs"
    jobs_root.mkdir(parents=True)
    spec = {"key": "hostile", "tasks": [task_spec(task_type, path, value)]}
    engine = FlowEngine()
    try:
        flow = engine.flow_spec_to_flow(spec)
    except FlowSpecError as error:
        assert error.path.startswith("tasks[0]"), error
        return
    task_ctx = {"jobs_root": str(jobs_root), "callables": {"len": len}}
    for _ in range(50):
        engine.tick_flow(flow, task_ctx)
        if flow.finished:
            break
    task = flow.tasks["target"]
    assert task["status"] == FAILED, (path, value, task)
    assert isinstance(task["error"], str) and task["error"]
    assert "Traceback (most recent call last)" not in task["error"], task["error"]
    assert sorted(p.name for p in place.iterdir()) == ["jobs"]


@settings(max_examples=15, deadline=None)
@given(value=hostile_strings)
def test_hostile_strings_in_call_args_stay_data(value):
    engine = FlowEngine()
    spec = {
        "tasks": [
            {"key": "target", "task_type": "call", "task_params": {"fn": "echo", "args": [value]}}
        ]
    }
    try:
        flow = engine.flow_spec_to_flow(spec)
    except FlowSpecError as error:
        assert error.path.startswith("tasks[0]")
        return
    engine.tick_flow(flow, {"callables": {"echo": lambda text: text}})
    task = flow.tasks["target"]
    if value.startswith("$"):
        # In a spec, '$ctx...' is a path by design (see interpolation); any other '$x' is refused.
        assert task["status"] == FAILED and "Traceback" not in task["error"]
        return
    assert task["status"] == COMPLETED, task
    assert task["data"]["result"] == value
