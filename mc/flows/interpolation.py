"""Interpolation: ``'$ctx.flow.tasks.task_1.data.msg'`` in task_params, resolved at tick time.

Any string in a task's ``task_params`` (at any depth in dicts and lists) that
starts with ``$`` is replaced, for the handler, by the value at that dot path
in the task context (see :mod:`mc.flows.dotpath`); the path starts with
``ctx``. A string that starts with ``\\$`` stands for the same string with a
literal ``$`` and no backslash. The stored task keeps its raw params, so a
flow loaded from storage interpolates again, from its current data.

A handler may name params that hold specs for later (``flow_spec`` of the
``flow`` task type, the ``cases`` of ``switch``) in a ``raw_params`` tuple;
those are left raw, to be interpolated where they run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mc.errors import DotPathError
from mc.flows import size_budget
from mc.flows.dotpath import get_path

__all__ = ["needs_interpolation", "interpolate", "escape_dollars", "copy_value"]


def needs_interpolation(value: Any, raw: Iterable[str] = ()) -> bool:
    """Return True if ``value`` holds a string that starts with ``$`` or ``\\$``.

    Top-level entries of a dict ``value`` named in ``raw`` are not looked
    at, as :func:`interpolate` leaves them alone.
    """
    if raw and isinstance(value, dict):
        return any(needs_interpolation(item) for name, item in value.items() if name not in raw)
    if isinstance(value, str):
        return value.startswith(("$", "\\$"))
    if isinstance(value, dict):
        return any(needs_interpolation(item) for item in value.values())
    if isinstance(value, list):
        return any(needs_interpolation(item) for item in value)
    return False


def interpolate(
    value: Any,
    task_ctx: Mapping[str, Any],
    where: str = "task_params",
    raw: Iterable[str] = (),
) -> Any:
    """Return ``value`` with every ``$path`` string replaced by what it names.

    ``where`` names ``value`` in error messages. Top-level entries of a dict
    ``value`` named in ``raw`` are left as they are (a task type whose params
    hold specs for later, such as ``flow_spec``, lists them). Raises
    :class:`~mc.errors.DotPathError` naming the parameter, the path, and the
    part that did not resolve. Values taken from dicts and lists are copied,
    so a handler that changes its params cannot change their source.
    """
    if isinstance(value, str):
        if value.startswith("\\$"):
            return value[1:]
        if not value.startswith("$"):
            return value
        path = value[1:]
        if not (path == "ctx" or path.startswith("ctx.")):
            raise DotPathError(
                f"{where}: {value!r} starts with '$' but its path does not start with 'ctx.' "
                "(write '\\$' for a literal '$')"
            )
        try:
            found = get_path({"ctx": task_ctx}, path)
        except DotPathError as error:
            raise DotPathError(f"{where}: {error}") from None
        return copy_value(found, task_ctx)
    if isinstance(value, dict):
        return {
            name: item if name in raw else interpolate(item, task_ctx, f"{where}.{name}")
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate(item, task_ctx, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def escape_dollars(value: Any) -> Any:
    """Return ``value`` with each string that starts with ``$`` escaped as ``\\$``.

    Interpolating the result gives ``value`` back: use it where data is
    written into params that will be interpolated again. (A string that
    already starts with ``\\$`` cannot be escaped: it comes back without its
    backslash.)
    """
    if isinstance(value, str):
        return "\\" + value if value.startswith("$") else value
    if isinstance(value, dict):
        return {name: escape_dollars(item) for name, item in value.items()}
    if isinstance(value, list):
        return [escape_dollars(item) for item in value]
    return value


# How deep _copy_containers goes before it calls the data a loop or a bomb.
_MAX_COPY_DEPTH = 1000


def copy_value(value: Any, task_ctx: Mapping[str, Any] | None = None) -> Any:
    """Return a deep copy of a dict or list's data; other values as they are.

    Data that JSON can hold is copied through a JSON round trip, the
    fastest deep copy of it (so, as in a stored flow, non-string dict keys
    come back as strings and tuples as lists). Data that JSON cannot hold is
    copied container by container: every dict, list, tuple and set is new,
    so the copy shares no container with ``value``, while any other object
    (an engine or a store that a ``$ctx`` path reached, an object a handler
    left) is the same object, never copied: it is not data. With the
    ``task_ctx`` of a handler call, the copy counts against the flow's size
    budget (see :mod:`mc.flows.size_budget`), and so does a string, which a
    caller may write many times over.
    """
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            return _copy_containers(value)
        if task_ctx is not None:
            size_budget.charge_copy(task_ctx, len(text))
        return json.loads(text)
    if task_ctx is not None and isinstance(value, str):
        size_budget.charge_copy(task_ctx, len(value))
    return value


def _copy_containers(value: Any, depth: int = 0) -> Any:
    """Copy the dicts, lists, tuples and sets of ``value``; share anything else."""
    if depth > _MAX_COPY_DEPTH:
        raise ValueError(f"data nested deeper than {_MAX_COPY_DEPTH} levels")
    if isinstance(value, dict):
        return {key: _copy_containers(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_containers(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy_containers(item, depth + 1) for item in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_copy_containers(item, depth + 1) for item in value)
    return value
