"""Wirings: copy values between places of a task context, as the ``wire`` task does.

A wiring is either a string ``'SRC => DEST'`` or a dict:

``source``
    a dot path, such as ``'ctx.flow.tasks.task_1.data.result'``; or
``value``
    a literal value instead of a source;
``dest``
    where the value goes, a dot path; missing dicts on the way are created;
``transform`` (optional)
    ``'json.dumps'``, ``'json.loads'``, or ``'mapping'``, which turns each
    item of the source (a list or a dict) into a copy of
    ``mapping_params['skeleton']`` with ``mapping_params['wirings']``
    applied to it (see :func:`map_items`).

In a ``wire`` task, sources and destinations start with ``ctx`` (the task
context). A destination may be any key the caller put in the context, or
``ctx.flow.data.NAME...``, ``ctx.task.data...``, or the ``data`` or
``task_params`` of an existing task (``ctx.flow.tasks.KEY.data...``) that
is not RUNNING: never a task's status, key or edges, which only the engine
changes, and never the state of a task while its handler works on it. A whole
``data`` or ``task_params`` can only be replaced by a dict.

What a ``wire`` task writes into a task's ``task_params``, and the item
values a ``spread`` wires into its task specs' ``task_params``, are data,
not paths: strings in them that start with ``$`` are escaped (``\\$``), so
they reach the handler as they were instead of being interpolated again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from mc.errors import DotPathError, WiringError
from mc.flows import size_budget
from mc.flows.dotpath import get_path, set_path, split_path
from mc.flows.interpolation import copy_value, escape_dollars
from mc.flows.statuses import RUNNING

TRANSFORMS = ("json.dumps", "json.loads", "mapping")
_WIRING_KEYS = ("source", "value", "dest", "transform", "mapping_params")


def parse_wiring(wiring: Any, where: str) -> dict[str, Any]:
    """Return a wiring as a dict with ``source`` or ``value``, ``dest`` and ``transform``.

    Raises :class:`WiringError` naming ``where`` and what was expected.
    """
    if isinstance(wiring, str):
        source, arrow, dest = wiring.partition("=>")
        if not arrow or not source.strip() or not dest.strip():
            raise WiringError(f"{where}: expected 'SOURCE => DEST', got {wiring!r}")
        return {"source": source.strip(), "dest": dest.strip(), "transform": None}
    if not isinstance(wiring, Mapping):
        raise WiringError(
            f"{where}: expected 'SOURCE => DEST' or a dict with source (or value) and dest, "
            f"got {type(wiring).__name__}"
        )
    unknown = [name for name in wiring if name not in _WIRING_KEYS]
    if unknown:
        raise WiringError(
            f"{where}: unknown key {unknown[0]!r} (expected: {', '.join(_WIRING_KEYS)})"
        )
    if ("source" in wiring) == ("value" in wiring):
        raise WiringError(f"{where}: give exactly one of 'source' and 'value'")
    if not isinstance(wiring.get("dest"), str):
        raise WiringError(f"{where}.dest: expected a dot path string")
    if "source" in wiring and not isinstance(wiring["source"], str):
        raise WiringError(f"{where}.source: expected a dot path string")
    transform = wiring.get("transform")
    if transform is not None and transform not in TRANSFORMS:
        raise WiringError(
            f"{where}.transform: expected one of {', '.join(TRANSFORMS)}, got {transform!r}"
        )
    if transform == "mapping" and not isinstance(wiring.get("mapping_params"), Mapping):
        raise WiringError(f"{where}.mapping_params: the 'mapping' transform needs a dict")
    parsed = dict(wiring)
    parsed["transform"] = transform
    return parsed


def apply_wiring(
    wiring: Any,
    task_ctx: Mapping[str, Any],
    dest_root: Any,
    where: str,
    escape: Collection[str] = (),
    check_value: Callable[[Any], None] | None = None,
    into_flow: bool = True,
) -> None:
    """Apply one wiring: read its source in ``task_ctx``, write into ``dest_root``.

    Sources are paths rooted at ``ctx`` (``task_ctx``); ``dest_root`` is
    the object destination paths start in. ``escape`` names the kinds of
    wiring (``'source'``, ``'value'``) whose strings starting with ``$`` are
    escaped before they are written, because the destination will be
    interpolated again. ``check_value``, if given, is called with the value
    before it is written, and raises :class:`WiringError` to refuse it.
    Only JSON data is written. With ``into_flow`` (the default) the value
    counts against the size budget of the flow in ``task_ctx`` (see
    :mod:`mc.flows.size_budget`); :func:`map_items` writes into copies, so
    it does not count them twice.
    """
    parsed = parse_wiring(wiring, where)
    if "source" in parsed:
        kind = "source"
        value = copy_value(_resolve(parsed["source"], task_ctx, f"{where}: source"), task_ctx)
    else:
        kind = "value"
        value = copy_value(parsed["value"], task_ctx)
    transform = parsed["transform"]
    try:
        if transform == "json.dumps":
            value = json.dumps(value)
        elif transform == "json.loads":
            if not isinstance(value, str):
                raise WiringError(f"{where}: json.loads needs a string, got {type(value).__name__}")
            value = json.loads(value)
        elif transform == "mapping":
            value = map_items(value, parsed["mapping_params"], task_ctx, f"{where}.mapping_params")
    except (TypeError, ValueError) as error:
        # ValueError: json.dumps refuses circular data, json.loads bad text.
        if isinstance(error, WiringError):
            raise
        raise WiringError(f"{where}: transform {transform} failed: {error}") from None
    if kind in escape:
        value = escape_dollars(value)
    if check_value is not None:
        check_value(value)
    # Before writing: only JSON data goes into a flow (an interpolated
    # '$ctx.flow_engine' is an object, not data), and a value past the
    # flow's size budget is never written.
    try:
        size = size_budget.json_size(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise WiringError(
            f"{where}: the value is not JSON data ({error}); a wiring writes only "
            "dicts, lists, strings, numbers, true/false and null"
        ) from None
    if into_flow:
        size_budget.charge_write_bytes(task_ctx, size)
    try:
        set_path(dest_root, parsed["dest"], value)
    except DotPathError as error:
        raise WiringError(f"{where}: dest: {error}") from None


def map_items(
    items: Any,
    mapping_params: Any,
    task_ctx: Mapping[str, Any],
    where: str,
    escape_params: Collection[str] = (),
) -> list[Any]:
    """Return one copy of ``mapping_params['skeleton']`` per item, wired.

    ``items`` is a list or a dict. For each item, ``ctx.item`` is
    ``{'key': ..., 'value': ..., 'idx': ...}`` (for a list, the key is the
    index), and each of ``mapping_params['wirings']`` copies a value from
    ``ctx`` into the skeleton's copy: its destination is a path inside the
    copy, such as ``'task_params.msg'``. Wirings of the kinds named in
    ``escape_params`` (``'source'``, ``'value'``) whose destination is
    inside ``task_params`` escape what they write (see :func:`apply_wiring`).
    """
    if not isinstance(mapping_params, Mapping):
        raise WiringError(f"{where}: expected a dict with skeleton and wirings")
    skeleton = mapping_params.get("skeleton")
    wirings = mapping_params.get("wirings") or []
    if not isinstance(skeleton, Mapping):
        raise WiringError(f"{where}.skeleton: expected a dict")
    if not isinstance(wirings, list):
        raise WiringError(f"{where}.wirings: expected a list of wirings")
    if isinstance(items, Mapping):
        pairs = list(items.items())
    elif isinstance(items, list):
        pairs = list(enumerate(items))
    else:
        raise WiringError(f"{where}: items must be a list or a dict, got {type(items).__name__}")
    mapped = []
    for idx, (key, value) in enumerate(pairs):
        item_ctx = {**task_ctx, "item": {"key": key, "value": value, "idx": idx}}
        copy = copy_value(dict(skeleton), task_ctx)
        for i, wiring in enumerate(wirings):
            wiring_where = f"{where}.wirings[{i}] (item {idx})"
            into_params = parse_wiring(wiring, wiring_where)["dest"].split(".")[0] == "task_params"
            apply_wiring(
                wiring,
                item_ctx,
                copy,
                wiring_where,
                escape_params if into_params else (),
                into_flow=False,
            )
        mapped.append(copy)
    return mapped


def check_ctx_dest(
    dest: str, where: str, flow: Any = None, writer_key: str | None = None
) -> tuple[bool, bool]:
    """Refuse a ``wire`` destination that would change what only the engine may.

    With ``flow`` (the wire task's flow), a destination in
    ``ctx.flow.tasks.KEY`` must name an existing task that is not RUNNING
    (unless it is the wiring task itself, ``writer_key``): while a task
    runs, its data is its handler's working state (a subflow, the child
    key of a stored subflow), which no wiring may change. Returns two flags:
    whether the destination is inside some ``task_params`` (so that values
    written there must be escaped), and whether it is a whole ``data`` or
    ``task_params`` (so that only a dict may be written there).
    """
    try:
        parts = split_path(dest)
    except DotPathError as error:
        raise WiringError(f"{where}: {error}") from None
    if parts[0] != "ctx" or len(parts) < 2:
        raise WiringError(f"{where}: dest {dest!r} must start with 'ctx.'")
    allowed = True
    into_params = whole_dict = False
    if parts[1] == "flow":
        if parts[2:] == ["data"]:
            raise WiringError(
                f"{where}: dest {dest!r} would replace the flow's whole data; "
                "write inside it, as in 'ctx.flow.data.NAME'"
            )
        allowed = len(parts) >= 3 and (
            parts[2] == "data"
            or (parts[2] == "tasks" and len(parts) >= 5 and parts[4] in ("data", "task_params"))
        )
        if allowed and parts[2] == "tasks":
            if flow is not None and parts[3] not in flow.tasks:
                raise WiringError(
                    f"{where}: dest {dest!r} names task {parts[3]!r}, which the flow does "
                    "not have (a wiring cannot add a task)"
                )
            if (
                flow is not None
                and parts[3] != writer_key
                and flow.tasks[parts[3]].get("status") == RUNNING
            ):
                raise WiringError(
                    f"{where}: dest {dest!r}: task {parts[3]!r} is RUNNING, and a running "
                    "task's data and params belong to its handler; write into a task before "
                    "it starts (or after it ends)"
                )
            into_params = parts[4] == "task_params"
            whole_dict = len(parts) == 5
    elif parts[1] == "task":
        allowed = len(parts) >= 3 and parts[2] == "data"
        whole_dict = len(parts) == 3
    elif parts[1] in ("flow_engine", "parent_flow", "proxy_task", size_budget.METER_KEY):
        allowed = False
    if not allowed:
        raise WiringError(
            f"{where}: dest {dest!r} is not writable; write to ctx.flow.data..., "
            "ctx.task.data..., or ctx.flow.tasks.KEY.data... / .task_params..."
        )
    return into_params, whole_dict


def _resolve(path: str, task_ctx: Mapping[str, Any], where: str) -> Any:
    try:
        parts = split_path(path)
        if parts[0] != "ctx":
            raise DotPathError(f"path {path!r} must start with 'ctx.'")
        return get_path({"ctx": task_ctx}, path)
    except DotPathError as error:
        raise WiringError(f"{where}: {error}") from None
