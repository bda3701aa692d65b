"""Validation of flow specs: from a user's dict to a normalized flow dict.

A *flow spec* is the plain dict a user writes (see the docs' "Defining
flows"). :func:`normalize_flow_spec` checks it completely before anything is
built, and either returns a fresh flow dict (the format that
:meth:`~mc.flows.flow.Flow.from_flow_dict` loads) or raises
:class:`~mc.errors.FlowSpecError` naming the path of the first problem and
what was expected there. It never raises anything else on bad input, and it
never keeps a reference into the caller's spec: the result is a deep copy.

The rules for edges:

* ``precursors`` names the tasks a task waits for; ``successors`` names the
  tasks that wait for it. Both end up as the ``precursors`` of the tasks.
* A task that names neither, and that no other task names as a successor,
  follows the task listed before it; the first one follows the implicit root
  task ``ROOT``. So a spec with no edges at all is a chain in list order.
* ``precursors: ['ROOT']`` (or ``[]``) starts a task at once. So does
  ``successors: [...]`` (even ``[]``) on a task that names no precursors: a
  task that names any edge does not follow the one listed before it.

An optional field that is null (``None``, or empty in YAML) counts as absent.
Tuples count as lists. Values in ``data`` and ``task_params`` must be JSON:
dicts with string keys, lists, strings, finite numbers, booleans and null.
The JSON Schema shipped as ``mc/flows/flow_spec.schema.json`` (see
:func:`flow_spec_json_schema`) states the same rules for editors.

Two paths, one result. Specs that programs write (every task a plain dict
with a ``key``, edges given as ``precursors`` only) are checked in one pass
that builds each task dict directly (:func:`fast_flow_dict`); that pass
gives up at the first thing out of the ordinary, good or bad, and the full
checker then runs from the start, so that every message and path is the
full checker's. A property test holds both to the same flow dicts and the
same errors. The fast path accepts nothing the full checker refuses: the
same bounds, text checks and JSON checks apply to every value.
"""

from __future__ import annotations

import difflib
import graphlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any

from mc.errors import FlowSpecError
from mc.flows.compat import NO_INTERPOLATE_KEY, interpolate_setting
from mc.flows.statuses import PENDING

__all__ = [
    "normalize_cache_policy",
    "ROOT_TASK_KEY",
    "FORMAT_VERSION",
    "FLOW_SPEC_KEYS",
    "FLOW_CFG_KEYS",
    "TASK_SPEC_KEYS",
    "LEGACY_TASK_SPEC_KEYS",
    "TRIGGER_RULES",
    "DEFAULT_TRIGGER_RULE",
    "TASK_SPEC_FIELDS",
    "MAX_DURATION_S",
    "TASK_KEY_PATTERN",
    "flow_spec_json_schema",
    "normalize_flow_spec",
    "fast_flow_dict",
    "normalize_task_spec",
    "normalize_task_policies",
    "new_task_dict",
    "check_task_key",
    "generate_task_key",
    "suggest",
    "normalize_cfg",
    "check_acyclic",
    "list_keys",
    "text_problem",
]

ROOT_TASK_KEY = "ROOT"
FORMAT_VERSION = 1

FLOW_SPEC_KEYS = ("label", "key", "cfg", "data", "tasks")
FLOW_CFG_KEYS = ("fail_fast",)
TASK_SPEC_KEYS = (
    "key",
    "label",
    "task_type",
    "task_params",
    "data",
    "precursors",
    "successors",
    "trigger_rule",
    "retries",
    "retry_delay_s",
    "retry_backoff",
    "timeout_s",
    "interpolate",
    "cache",
)
# Accepted in a task spec, but not listed in messages: MissionControl 0.x's
# spelling of 'interpolate: false' (see mc.flows.compat).
LEGACY_TASK_SPEC_KEYS = (NO_INTERPOLATE_KEY,)
# When a task may start, given how its precursors finished (see
# mc.flows.flow.trigger_verdict). The first is the default.
TRIGGER_RULES = ("all_success", "all_done", "one_success", "one_failed", "none_failed")
DEFAULT_TRIGGER_RULE = TRIGGER_RULES[0]
# Per-task policies: stored in the task dict only when the spec sets them.
_TASK_POLICY_FIELDS = (
    "trigger_rule",
    "retries",
    "retry_delay_s",
    "retry_backoff",
    "timeout_s",
    "cache",
)
# The fields of a task's ``cache`` policy (see normalize_cache_policy).
_CACHE_POLICY_KEYS = ("key", "expire_s", "cache_version", "copy_job_dir")
# The fields of a task dict that come from its spec. A retry rebuilds the task
# from these; everything else (handler state, errors) belongs to one attempt.
TASK_SPEC_FIELDS = (
    "key",
    "label",
    "task_type",
    "task_params",
    "precursors",
    *_TASK_POLICY_FIELDS,
    "interpolate",
    "initial_data",
)
_DEFAULT_CFG = {"fail_fast": True}

# Bounds of the numeric policies. A spec is untrusted: without them a
# retry_backoff of 1e200 overflows the retry delay, and a retries of 10**9
# keeps a failing task busy forever. 30 days is longer than any batch
# system lets a job wait or run.
_MAX_RETRIES = 1000
_MAX_RETRY_BACKOFF = 100
MAX_DURATION_S = 30 * 24 * 3600

# ASCII identifiers only, so that the JSON Schema can state the same rule.
# The pattern is written for JSON Schema (ECMA-262), where '$' ends the
# string; in Python it also matches before a final newline, so the validator
# uses fullmatch.
TASK_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_TASK_KEY_RE = re.compile(TASK_KEY_PATTERN)
# A path of a cache key: into the task's params, dot-separated names or indexes.
_CACHE_KEY_PATH_PATTERN = r"^task_params(\.[A-Za-z0-9_-]+)*$"

# The longest integer a spec may hold, in decimal digits: Python's default
# limit for turning an int into text (sys.get_int_max_str_digits), past which
# json.dumps raises.
_MAX_INT_DIGITS = 4300
_INT_LIMIT = 10**_MAX_INT_DIGITS

# Messages about unknown task keys list at most this many known keys.
_MAX_KEYS_LISTED = 10


def flow_spec_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a flow spec that ships inside the package."""
    text = resources.files("mc.flows").joinpath("flow_spec.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def normalize_flow_spec(spec: Any) -> dict[str, Any]:
    """Check a flow spec and return it as a new flow dict.

    Raises :class:`~mc.errors.FlowSpecError` for the first problem found,
    with its path (``tasks[3].precursors[0]``) and what was expected.

    A spec whose tasks all have the common shape (see :func:`fast_flow_dict`)
    is checked in one pass; any other, and any spec with a problem, goes
    through the full checker, which names the problem. Both accept the same
    specs and give the same flow dict.
    """
    flow_dict = fast_flow_dict(spec)
    if flow_dict is not None and _edges_are_sound(flow_dict["tasks"]):
        return flow_dict
    return _full_flow_dict(spec)


def _full_flow_dict(spec: Any) -> dict[str, Any]:
    """The full checker behind :func:`normalize_flow_spec`: any spec, every message."""
    flow_dict, task_specs = _flow_fields(spec)
    tasks = [normalize_task_spec(t, f"tasks[{i}]") for i, t in enumerate(task_specs)]
    _assign_keys(tasks)
    _link_tasks(tasks)
    check_acyclic(tasks)
    flow_dict["tasks"] = {t["key"]: new_task_dict(t["key"], t, t["precursors"]) for t in tasks}
    return flow_dict


def fast_flow_dict(spec: Any) -> dict[str, Any] | None:
    """Return the flow dict of a spec in the common shape, edges unchecked; else None.

    The fast path of :func:`normalize_flow_spec`. The flow's own fields are
    checked as there (a problem with them raises the same
    :class:`~mc.errors.FlowSpecError`). The tasks are checked in one pass,
    with no intermediate copies, when every task spec is a plain ``dict``
    with a ``key`` and without ``successors`` (or the 0.x spelling of
    ``interpolate``), its ``key``, ``task_type`` and ``label`` plain ASCII
    text and its keys unique; anything else, good or bad, gives None, so
    that the full checker finds the first problem and names it.

    Not checked here: that each precursor names a task of the flow, and
    that the tasks make no cycle. The caller must check both (as
    :func:`normalize_flow_spec` does, and
    :meth:`~mc.flows.flow.Flow.from_flow_spec` while it builds its indexes)
    and take the full checker if either fails.
    """
    flow_dict, task_specs = _flow_fields(spec)
    tasks = _fast_task_dicts(task_specs)
    if tasks is None or len(tasks) != len(task_specs):
        # Out of the common shape, or a key given twice (the later task
        # took the earlier one's place).
        return None
    flow_dict["tasks"] = tasks
    return flow_dict


def _flow_fields(spec: Any) -> tuple[dict[str, Any], list[Any] | tuple[Any, ...]]:
    """Check a flow spec's own fields; return the flow dict without tasks, and the task specs."""
    _expect_mapping(spec, "flow spec")
    _check_known_keys(spec, FLOW_SPEC_KEYS, "")
    label = _optional_str(spec, "label", "label")
    key = spec.get("key")
    if key is None:
        key = str(uuid.uuid4())
    elif not isinstance(key, str) or not key:
        raise FlowSpecError("key", f"expected a non-empty string, got {_describe(key)}")
    else:
        _check_text(key, "key")
    cfg = normalize_cfg(spec.get("cfg"))
    data = _json_dict_copy(_get(spec, "data", {}), "data")
    task_specs = _get(spec, "tasks", [])
    if not isinstance(task_specs, (list, tuple)):
        raise FlowSpecError("tasks", f"expected a list of task specs, got {_describe(task_specs)}")
    flow_dict = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "label": label,
        "cfg": cfg,
        "data": data,
        "status": PENDING,
        "depth": 0,
        "parent_key": None,
        "num_ticks": 0,
    }
    return flow_dict, task_specs


# What a task spec may hold on the fast path; and of those, what needs no
# call to a checker of its own (see _fast_task_dicts).
_FAST_TASK_SPEC_KEYS = frozenset(TASK_SPEC_KEYS) - {"successors"}
_PLAIN_TASK_SPEC_KEYS = frozenset(
    {"key", "label", "task_type", "task_params", "data", "precursors"}
)


def _fast_task_dicts(task_specs: list[Any] | tuple[Any, ...]) -> dict[str, dict[str, Any]] | None:
    """The task dicts of :func:`fast_flow_dict`, or None if a task spec is out of the common shape.

    Each accepted value is one the full checker accepts, and each task dict
    equals (key order included) what :func:`new_task_dict` makes of it
    there. Never raises: a problem gives None. Keys are not checked for
    uniqueness: a task whose key was given before replaces the earlier
    one, so the caller compares the counts.
    """
    tasks: dict[str, dict[str, Any]] = {}
    fast_keys = _FAST_TASK_SPEC_KEYS
    plain_keys = _PLAIN_TASK_SPEC_KEYS
    previous = ROOT_TASK_KEY
    for task_spec in task_specs:
        if type(task_spec) is not dict:
            return None
        for name in task_spec:
            # Not str (or a subclass, whose == could say anything): the full
            # checker names the problem, or takes it.
            if type(name) is not str:
                return None
        # Sets of field names, tested without a view of the keys: one
        # container fewer to make per task.
        plain = plain_keys.issuperset(task_spec)
        if not plain and not fast_keys.issuperset(task_spec):
            return None
        key = task_spec.get("key")
        task_type = task_spec.get("task_type")
        label = task_spec.get("label")
        # For ASCII text, isidentifier() is exactly TASK_KEY_PATTERN.
        if (
            type(key) is not str
            or not key.isascii()
            or not key.isidentifier()
            or key == ROOT_TASK_KEY
            or type(task_type) is not str
            or not task_type
            or not task_type.isascii()
            or "\x00" in task_type
            or (
                label is not None
                and (type(label) is not str or not label.isascii() or "\x00" in label)
            )
        ):
            return None
        precursors = task_spec.get("precursors")
        if precursors is None:
            # Names no edge: it follows the task listed before it (no task
            # names successors on this path).
            precursors = [previous]
        elif type(precursors) is list or type(precursors) is tuple:
            # One or two, inline; any other number in _fast_precursors.
            count = len(precursors)
            if count == 1:
                precursors = [precursors[0]]
                if type(precursors[0]) is not str:
                    return None
            elif (
                count == 2
                and type(precursors[0]) is str
                and type(precursors[1]) is str
                and precursors[0] != precursors[1]
                and ROOT_TASK_KEY not in precursors
            ):
                precursors = [precursors[0], precursors[1]]
            else:
                precursors = _fast_precursors(precursors)
                if precursors is None:
                    return None
        else:
            precursors = _fast_precursors(precursors)
            if precursors is None:
                return None
        params = task_spec.get("task_params")
        data = task_spec.get("data")
        try:
            # Absent, null or empty: a new empty dict, with nothing to check.
            params = (
                {}
                if params is None or (type(params) is dict and not params)
                else _json_dict_copy(params, "")
            )
            data = (
                {}
                if data is None or (type(data) is dict and not data)
                else _json_dict_copy(data, "")
            )
        except FlowSpecError:
            return None
        task: dict[str, Any] = {
            "key": key,
            "label": label,
            "task_type": task_type,
            "task_params": params,
            "data": data,
            "precursors": precursors,
            "status": PENDING,
        }
        if not plain:
            try:
                task.update(normalize_task_policies(task_spec, ""))
                if interpolate_setting(task_spec, "") is False:
                    task["interpolate"] = False
            except FlowSpecError:
                return None
        if data:
            task["initial_data"] = json.loads(json.dumps(data))
        tasks[key] = task
        previous = key
    return tasks


def _fast_precursors(names: Any) -> list[str] | None:
    """A task's precursors as :func:`_link_tasks` writes them, or None if not a list of strings."""
    if type(names) is not list and type(names) is not tuple:
        return None
    for name in names:
        if type(name) is not str:
            return None
    # Each once, in the order named; 'ROOT' only when it stands alone.
    precursors = list(dict.fromkeys(names))
    if ROOT_TASK_KEY in precursors:
        precursors.remove(ROOT_TASK_KEY)
    return precursors or [ROOT_TASK_KEY]


def _edges_are_sound(tasks: dict[str, dict[str, Any]]) -> bool:
    """True if every precursor is a task of ``tasks`` (or ROOT) and they make no cycle."""
    for task in tasks.values():
        for pre in task["precursors"]:
            if pre not in tasks and pre != ROOT_TASK_KEY:
                return False
    try:
        check_acyclic(list(tasks.values()))
    except FlowSpecError:
        return False
    return True


def normalize_task_spec(task_spec: Any, path: str) -> dict[str, Any]:
    """Check one task spec on its own and return a normalized copy.

    The copy keeps ``precursors`` and ``successors`` as given (``None`` when
    absent), and the spec ``path`` for later messages; references between
    tasks are checked by the caller, who knows the other tasks.
    """
    _expect_mapping(task_spec, path)
    _check_known_keys(task_spec, TASK_SPEC_KEYS, path, LEGACY_TASK_SPEC_KEYS)
    task_type = task_spec.get("task_type")
    if task_type is None:
        raise FlowSpecError(path, "missing required key 'task_type'")
    if not isinstance(task_type, str) or not task_type:
        raise FlowSpecError(
            f"{path}.task_type", f"expected a non-empty string, got {_describe(task_type)}"
        )
    _check_text(task_type, f"{path}.task_type")
    key = task_spec.get("key")
    if key is not None:
        check_task_key(key, f"{path}.key")
    task_params = _json_dict_copy(_get(task_spec, "task_params", {}), f"{path}.task_params")
    data = _json_dict_copy(_get(task_spec, "data", {}), f"{path}.data")
    return {
        "key": key,
        "label": _optional_str(task_spec, "label", f"{path}.label"),
        "task_type": task_type,
        "task_params": task_params,
        "data": data,
        "precursors": _key_list(task_spec, "precursors", path),
        "successors": _key_list(task_spec, "successors", path),
        "policies": normalize_task_policies(task_spec, path),
        "interpolate": interpolate_setting(task_spec, path),
        "_path": path,
    }


def normalize_task_policies(task_spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Check a task's ``trigger_rule``, ``retries``, ``retry_delay_s``,
    ``retry_backoff`` and ``timeout_s``; return those that are set.
    """
    policies: dict[str, Any] = {}
    rule = task_spec.get("trigger_rule")
    if rule is not None:
        if not isinstance(rule, str) or rule not in TRIGGER_RULES:
            hint = suggest(rule, TRIGGER_RULES) if isinstance(rule, str) else ""
            raise FlowSpecError(
                f"{path}.trigger_rule",
                f"expected one of {', '.join(TRIGGER_RULES)}, got {_describe(rule)}{hint}",
            )
        policies["trigger_rule"] = rule
    retries = task_spec.get("retries")
    if isinstance(retries, float) and retries.is_integer():
        retries = int(retries)  # as JSON Schema's "integer" allows 2.0
    if retries is not None:
        if (
            type(retries) is bool
            or not isinstance(retries, int)
            or not 0 <= retries <= _MAX_RETRIES
        ):
            raise FlowSpecError(
                f"{path}.retries",
                f"expected a whole number from 0 to {_MAX_RETRIES}, got {_describe(retries)}",
            )
        policies["retries"] = int(retries)
    for name, low, strict, high, what in (
        ("retry_delay_s", 0, False, MAX_DURATION_S, "a number of seconds"),
        ("retry_backoff", 1, False, _MAX_RETRY_BACKOFF, "a multiplier"),
        ("timeout_s", 0, True, MAX_DURATION_S, "a number of seconds"),
    ):
        value = task_spec.get(name)
        if value is None:
            continue
        ok = (
            type(value) is not bool
            and isinstance(value, (int, float))
            and value <= high  # first: a huge int overflows math.isfinite
            and math.isfinite(value)
            and (value > low if strict else value >= low)
        )
        if not ok:
            bound = f"> {low}" if strict else f">= {low}"
            raise FlowSpecError(
                f"{path}.{name}", f"expected {what} {bound} and <= {high:g}, got {_describe(value)}"
            )
        policies[name] = value if type(value) in (int, float) else float(value)
    cache = normalize_cache_policy(task_spec.get("cache"), f"{path}.cache")
    if cache is not None:
        policies["cache"] = cache
    return policies


def normalize_cache_policy(cache: Any, path: str) -> dict[str, Any] | None:
    """Check a task's ``cache`` policy; return it as a dict, or None when caching is off.

    ``true`` means ``{'key': 'auto'}``; ``false`` and null mean off. A dict
    may have ``key`` (``'auto'``, the default, or a non-empty list of dot
    paths starting with ``task_params``), ``expire_s`` (seconds > 0),
    ``cache_version`` (a string or a whole number) and ``copy_job_dir``
    (true or false). See the docs' "Caching and provenance".
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return {"key": "auto"}
    _expect_mapping(cache, path)
    _check_known_keys(cache, _CACHE_POLICY_KEYS, path)
    policy: dict[str, Any] = {"key": "auto"}
    key = cache.get("key")
    if isinstance(key, (list, tuple)):
        if not key:
            raise FlowSpecError(f"{path}.key", "expected 'auto' or a non-empty list of dot paths")
        for i, item in enumerate(key):
            if not isinstance(item, str) or not re.fullmatch(_CACHE_KEY_PATH_PATTERN, item):
                raise FlowSpecError(
                    f"{path}.key[{i}]",
                    "expected a dot path into the task's params, such as "
                    f"'task_params.job_params.x', got {_describe(item)}",
                )
        policy["key"] = list(key)
    elif key is not None and key != "auto":
        raise FlowSpecError(
            f"{path}.key", f"expected 'auto' or a list of dot paths, got {_describe(key)}"
        )
    expire_s = cache.get("expire_s")
    if expire_s is not None:
        if (
            type(expire_s) is bool
            or not isinstance(expire_s, (int, float))
            or not math.isfinite(expire_s)
            or expire_s <= 0
        ):
            raise FlowSpecError(
                f"{path}.expire_s", f"expected a number of seconds > 0, got {_describe(expire_s)}"
            )
        policy["expire_s"] = expire_s if type(expire_s) in (int, float) else float(expire_s)
    version = cache.get("cache_version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # as JSON Schema's "integer" allows 2.0
    if version is not None:
        if type(version) is bool or not isinstance(version, (str, int)):
            raise FlowSpecError(
                f"{path}.cache_version",
                f"expected a string or a whole number, got {_describe(version)}",
            )
        policy["cache_version"] = str(version) if isinstance(version, str) else int(version)
    copy_job_dir = cache.get("copy_job_dir")
    if copy_job_dir is not None:
        if not isinstance(copy_job_dir, bool):
            raise FlowSpecError(
                f"{path}.copy_job_dir", f"expected true or false, got {_describe(copy_job_dir)}"
            )
        if copy_job_dir:
            policy["copy_job_dir"] = True
    return policy


def new_task_dict(key: str, task_spec: Mapping[str, Any], precursors: list[str]) -> dict[str, Any]:
    """Return the PENDING task dict for a normalized task spec.

    A task whose spec has data keeps a copy of it in ``initial_data``, so
    that a retry starts from the same data as the first attempt.
    """
    task = {
        "key": key,
        "label": task_spec["label"],
        "task_type": task_spec["task_type"],
        "task_params": task_spec["task_params"],
        "data": task_spec["data"],
        "precursors": precursors,
        "status": PENDING,
    }
    task.update(task_spec["policies"])
    if task_spec.get("interpolate") is False:
        # Stored only when off: the engine then leaves its params as written.
        task["interpolate"] = False
    if task_spec["data"]:
        task["initial_data"] = json.loads(json.dumps(task_spec["data"]))
    return task


def check_task_key(key: Any, path: str) -> None:
    """Raise FlowSpecError unless ``key`` is a usable task key."""
    if not isinstance(key, str):
        raise FlowSpecError(path, f"expected a string, got {_describe(key)}")
    if key == ROOT_TASK_KEY:
        raise FlowSpecError(path, f"'{ROOT_TASK_KEY}' is reserved for the implicit root task")
    if not _TASK_KEY_RE.fullmatch(key):
        raise FlowSpecError(
            path,
            f"invalid task key {key!r}: expected an identifier "
            "(ASCII letters, digits and '_', not starting with a digit)",
        )


def generate_task_key(taken: Mapping[str, Any] | set[str], position: int) -> str:
    """Return ``task_<n>`` for the first ``n >= position`` not in ``taken``."""
    n = position
    while f"task_{n}" in taken:
        n += 1
    return f"task_{n}"


def suggest(name: str, known: Any) -> str:
    """Return a "did you mean" hint for ``name`` among ``known``, or ''.

    The hint starts with ``'; '``, to go at the end of a message.
    """
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def normalize_cfg(cfg: Any) -> dict[str, Any]:
    """Check a flow's ``cfg`` and return it complete, defaults filled in."""
    result = dict(_DEFAULT_CFG)
    if cfg is None:
        return result
    _expect_mapping(cfg, "cfg")
    _check_known_keys(cfg, FLOW_CFG_KEYS, "cfg")
    fail_fast = cfg.get("fail_fast")
    if fail_fast is not None:
        if not isinstance(fail_fast, bool):
            raise FlowSpecError(
                "cfg.fail_fast", f"expected true or false, got {_describe(fail_fast)}"
            )
        result["fail_fast"] = fail_fast
    return result


def _assign_keys(tasks: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for task in tasks:
        key = task["key"]
        if key is None:
            continue
        if key in seen:
            raise FlowSpecError(
                f"{task['_path']}.key", f"duplicate task key {key!r} (first used at {seen[key]})"
            )
        seen[key] = task["_path"]
    for position, task in enumerate(tasks, start=1):
        if task["key"] is None:
            new_key = generate_task_key(seen, position)
            task["key"] = new_key
            seen[new_key] = task["_path"]


def _link_tasks(tasks: list[dict[str, Any]]) -> None:
    """Turn precursors, successors and list order into each task's precursors."""
    by_key = {t["key"]: t for t in tasks}
    # Dicts keep the order precursors were named in, and add each one once.
    incoming: dict[str, dict[str, None]] = {t["key"]: {} for t in tasks}
    named_as_successor: set[str] = set()
    for task in tasks:
        for field in ("precursors", "successors"):
            for i, other in enumerate(task[field] or ()):
                where = f"{task['_path']}.{field}[{i}]"
                if other == ROOT_TASK_KEY:
                    if field == "successors":
                        raise FlowSpecError(where, "'ROOT' cannot be a successor: it comes first")
                    continue
                if other not in by_key:
                    raise FlowSpecError(
                        where,
                        f"unknown task key {other!r} (known: {list_keys(by_key)})"
                        f"{suggest(other, by_key)}",
                    )
                if field == "precursors":
                    incoming[task["key"]][other] = None
                else:
                    incoming[other][task["key"]] = None
                    named_as_successor.add(other)
    previous = None
    for task in tasks:
        key = task["key"]
        implicit = (
            task["precursors"] is None
            and task["successors"] is None
            and key not in named_as_successor
        )
        if implicit and previous is not None:
            incoming[key][previous] = None
        task["precursors"] = list(incoming[key]) or [ROOT_TASK_KEY]
        previous = key


def check_acyclic(tasks: list[dict[str, Any]]) -> None:
    """Raise FlowSpecError naming a cycle if the tasks' precursors make one.

    Dependency counters (Kahn's algorithm) find the tasks stuck behind a
    cycle: that pass runs on every load of a stored flow, and costs a
    quarter of what :meth:`graphlib.TopologicalSorter.prepare` does at
    100,000 tasks. Only when some are stuck does
    :class:`graphlib.TopologicalSorter` find a cycle among them. The message
    shows it from precursor to successor, ending at its first task in flow
    order (``tasks: dependency cycle: b -> a -> b``).
    """
    waiting = {task["key"]: 0 for task in tasks}
    successors: dict[str, list[str]] = {key: [] for key in waiting}
    for task in tasks:
        for pre in task["precursors"]:
            if pre != ROOT_TASK_KEY:
                waiting[task["key"]] += 1
                successors[pre].append(task["key"])
    ready = [key for key, count in waiting.items() if count == 0]
    while ready:
        for succ in successors[ready.pop()]:
            waiting[succ] -= 1
            if waiting[succ] == 0:
                ready.append(succ)
    stuck = [task for task in tasks if waiting[task["key"]]]
    if not stuck:
        return
    # Every stuck task waits for a stuck precursor, so the stuck tasks hold a cycle.
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for task in stuck:
        sorter.add(task["key"], *(pre for pre in task["precursors"] if waiting.get(pre)))
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        found: list[str] = error.args[1][:-1]
        order = {task["key"]: place for place, task in enumerate(tasks)}
        first = min(range(len(found)), key=lambda i: order[found[i]])
        cycle = found[first + 1 :] + found[: first + 1]
        raise FlowSpecError(
            "tasks", "dependency cycle: " + " -> ".join([*cycle, cycle[0]])
        ) from None
    raise AssertionError("stuck tasks without a cycle")  # pragma: no cover


def _get(spec: Mapping[str, Any], field: str, default: Any) -> Any:
    """Return ``spec[field]``, or ``default`` when it is absent or null."""
    value = spec.get(field)
    return default if value is None else value


def list_keys(keys: Any) -> str:
    """Name the known keys (task keys, task types), or the first few of many."""
    if not keys:
        return "no tasks"
    names = list(keys)
    listed = ", ".join(names[:_MAX_KEYS_LISTED])
    if len(names) > _MAX_KEYS_LISTED:
        listed += f", ... ({len(names) - _MAX_KEYS_LISTED} more)"
    return listed


def _key_list(spec: Mapping[str, Any], field: str, path: str) -> list[str] | None:
    value = spec.get(field)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise FlowSpecError(
            f"{path}.{field}", f"expected a list of task keys, got {_describe(value)}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FlowSpecError(
                f"{path}.{field}[{i}]", f"expected a task key (a string), got {_describe(item)}"
            )
    return list(value)


def _optional_str(spec: Mapping[str, Any], field: str, path: str) -> str | None:
    value = spec.get(field)
    if value is not None:
        if not isinstance(value, str):
            raise FlowSpecError(path, f"expected a string, got {_describe(value)}")
        _check_text(value, path)
    return value


def text_problem(text: str) -> str | None:
    """Say why ``text`` cannot be stored and shown safely, or return None.

    A NUL character (PostgreSQL text refuses it, C tools cut strings at it)
    and a lone surrogate (``'\\ud800'``: no UTF-8 encoding exists for it)
    are refused. The common case, ASCII without NUL, costs two C scans.
    """
    if "\x00" in text:
        return "contains a NUL character (\\x00), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"contains a lone surrogate ({text[error.start]!r}), which is not "
                "valid Unicode text and cannot be stored"
            )
    return None


def _check_text(text: str, path: str) -> None:
    """Raise FlowSpecError at ``path`` if :func:`text_problem` finds one in ``text``."""
    problem = text_problem(text)
    if problem is not None:
        raise FlowSpecError(path, problem)


def _expect_mapping(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise FlowSpecError(path, f"expected a dict, got {_describe(value)}")


def _check_known_keys(
    spec: Mapping[str, Any], known: tuple[str, ...], path: str, also: tuple[str, ...] = ()
) -> None:
    for name in spec:
        if not isinstance(name, str):
            raise FlowSpecError(path or "flow spec", f"keys must be strings, got {_describe(name)}")
        if name not in known and name not in also:
            where = _field_path(path, name)
            raise FlowSpecError(
                where, f"unknown key (expected one of: {', '.join(known)}){suggest(name, known)}"
            )


def _field_path(path: str, name: str) -> str:
    """The path of field ``name`` in ``path``: ``path.name``, or ``path['odd name']``."""
    if _TASK_KEY_RE.fullmatch(name):
        return f"{path}.{name}" if path else name
    return f"{path}[{name!r}]"


def _json_dict_copy(value: Any, path: str) -> dict[str, Any]:
    """Deep-copy a dict of JSON values; refuse anything else."""
    if not isinstance(value, Mapping):
        raise FlowSpecError(path, f"expected a dict, got {_describe(value)}")
    try:
        copied: dict[str, Any] = _json_copy(value, set())
        return copied
    except _BadJSONValue as error:
        for step in reversed(error.trail):
            path = f"{path}[{step}]" if isinstance(step, int) else _field_path(path, step)
        raise FlowSpecError(path, error.problem) from None
    except RecursionError:
        raise FlowSpecError(path, "nested too deeply to be stored as JSON") from None


class _BadJSONValue(Exception):
    """A value that JSON cannot store; ``trail`` collects its path on the way out.

    Paths are built only when something is wrong, so that copying a valid
    spec costs no string formatting.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.trail: list[str | int] = []


def _json_copy(value: Any, containers: set[int]) -> Any:
    """Deep-copy a JSON value, turning tuples into lists; refuse anything else.

    ``containers`` holds the ids of the dicts and lists that enclose
    ``value``, to refuse one that contains itself (which JSON cannot store).
    """
    kind = type(value)
    if kind is str:
        if "\x00" in value or not value.isascii():
            problem = text_problem(value)
            if problem is not None:
                raise _BadJSONValue(problem)
        return value
    if value is None or kind is bool:
        return value
    if kind is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return value
        raise _BadJSONValue(
            f"expected a number of at most {_MAX_INT_DIGITS} digits, got {_describe(value)}"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _BadJSONValue(
                f"expected a finite number (JSON has no NaN or Infinity), got {value!r}"
            )
        return float(value)
    # Subclasses (an IntEnum, a str subclass) become the plain type that a
    # JSON round trip would give back, so a stored flow equals the live one.
    if isinstance(value, (str, int)):
        return _json_copy(str(value) if isinstance(value, str) else int(value), containers)
    if not isinstance(value, (Mapping, list, tuple)):
        raise _BadJSONValue(
            "expected a JSON value (dict, list, string, number, true/false or null), "
            f"got {_describe(value)}"
        )
    if id(value) in containers:
        raise _BadJSONValue("contains itself; JSON values must be trees")
    containers.add(id(value))
    copy: Any
    if isinstance(value, Mapping):
        copy = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise _BadJSONValue(f"dict keys must be strings, got {_describe(name)}")
            if "\x00" in name or not name.isascii():
                problem = text_problem(name)
                if problem is not None:
                    raise _BadJSONValue(f"a key {problem}")
            try:
                copy[name] = _json_copy(item, containers)
            except _BadJSONValue as error:
                error.trail.append(name)
                raise
    else:
        copy = []
        for i, item in enumerate(value):
            try:
                copy.append(_json_copy(item, containers))
            except _BadJSONValue as error:
                error.trail.append(i)
                raise
    containers.discard(id(value))
    return copy


def _describe(value: Any) -> str:
    if type(value) is int and not -_INT_LIMIT < value < _INT_LIMIT:
        return f"int of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real problem
        text = "<unprintable>"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"
