"""Provenance chains: which tasks' outputs fed a task, through ``$ctx`` paths and wirings.

:func:`provenance_chain` reads a flow dict (as stored) and returns a tree
of :class:`ProvenanceNode`: the task asked about, and under it each task
whose output reached it, and so on upstream. A task *feeds* another when:

* the other's ``task_params`` name it in an interpolation
  (``'$ctx.flow.tasks.fetch.data.x'``, or ``'$ctx.parent_flow.tasks...'``
  inside a spread or subflow);
* the other reads flow data (``'$ctx.flow.data.xs'``) that a ``wire`` task
  wrote (a wiring whose ``dest`` is ``ctx.flow.data.xs``, or a path inside
  or around it): that wire task feeds it, and the wire task is fed by its
  wirings' sources in turn;
* a ``wire`` task writes into the other's ``data`` or ``task_params``;
* the other is a ``spread``: its item tasks feed it (their data are its
  ``results``), and its ``items`` and wiring sources feed it and every item.

Item tasks of a spread are named ``SPREAD/ITEM`` (``sweep/evaluate_1``), and
so are the tasks of a ``flow`` task's subflow. The analysis reads only what
the flow dict holds; a task seen twice is shown once, then named again as
``seen``. Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from mc.errors import DotPathError, FlowError, WiringError
from mc.flows.cache import task_provenance
from mc.flows.dotpath import split_path
from mc.flows.task_types.wiring import parse_wiring

__all__ = ["ProvenanceNode", "provenance_chain"]


# Params that hold task specs for later: their paths are read in another flow.
_HELD_FOR_LATER = ("mapping_params", "flow_spec", "cases", "default_case")


@dataclasses.dataclass
class ProvenanceNode:
    """One task in a provenance chain.

    ``path``: the task's key, with its spread or subflow tasks before it
    (``sweep/evaluate_1``); ``task``: its task dict; ``via``: how its output
    reached the task above (a ``$ctx`` path, a wiring); ``seen``: True when
    the task appears earlier in the chain, whose feeders are listed there;
    ``feeders``: the nodes of the tasks that fed it.
    """

    path: str
    task: Mapping[str, Any]
    via: list[str]
    seen: bool = False
    feeders: list[ProvenanceNode] = dataclasses.field(default_factory=list)

    def walk(self) -> Iterator[ProvenanceNode]:
        """Yield this node and every node below it, depth first."""
        yield self
        for feeder in self.feeders:
            yield from feeder.walk()

    def to_dict(self) -> dict[str, Any]:
        """Return the chain as JSON types: path, task type, status, via, cache and provenance.

        Each provenance record is whole (see :func:`~mc.flows.cache.task_provenance`):
        its ``params`` are ``{}`` for a task that had none, and a record of
        the runtime fields alone gets the task's type and times.
        """
        task = self.task
        return {
            "path": self.path,
            "task_type": task.get("task_type"),
            "status": task.get("status"),
            "via": list(self.via),
            "seen": self.seen,
            "cache_key": task.get("cache_key"),
            "cached_from": task.get("cached_from"),
            "provenance": task_provenance(task),
            "feeders": [feeder.to_dict() for feeder in self.feeders],
        }


@dataclasses.dataclass
class _Scope:
    """One flow of the tree: its tasks, the flow around it, and its path prefix."""

    tasks: Mapping[str, Mapping[str, Any]]
    parent: _Scope | None
    prefix: str
    spread_key: str | None = None  # the spread task whose items these are


def provenance_chain(flow_dict: Mapping[str, Any], task_path: str) -> ProvenanceNode:
    """Return the tree of tasks whose outputs fed the task at ``task_path``.

    ``task_path`` is a task key, or ``SPREAD/ITEM`` for an item of a spread
    (or ``FLOW_TASK/KEY`` for a subflow's task). Raises
    :class:`~mc.errors.FlowError` naming the flow if there is no such task.
    """
    scope = _Scope(_tasks(flow_dict), None, "")
    parts = task_path.split("/")
    for depth, key in enumerate(parts):
        if key not in scope.tasks:
            known = ", ".join(sorted(scope.tasks)[:10]) or "none"
            where = "/".join(parts[:depth]) or "the flow"
            raise FlowError(
                f"flow {flow_dict.get('key')!r}: {where} has no task {key!r} (it has: {known})"
            )
        if depth < len(parts) - 1:
            child = _child_scope(scope, key)
            if child is None:
                raise FlowError(
                    f"flow {flow_dict.get('key')!r}: task {'/'.join(parts[: depth + 1])!r} "
                    "has no tasks of its own (it is not a spread or flow task that has started)"
                )
            scope = child
    return _Chain().node(scope, parts[-1], [], spread_items=True)


class _Chain:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def node(self, scope: _Scope, key: str, via: list[str], spread_items: bool) -> ProvenanceNode:
        task = scope.tasks[key]
        path = scope.prefix + key
        if path in self.seen:
            return ProvenanceNode(path, task, via, seen=True)
        self.seen.add(path)
        node = ProvenanceNode(path, task, via)
        # Each feeder once, in the order found, with every way it fed.
        slots: dict[tuple[int, str], tuple[_Scope, str, list[str], bool]] = {}

        def add(found_scope: _Scope, found_key: str, how: str, items: bool = True) -> None:
            slot = slots.setdefault(
                (id(found_scope), found_key), (found_scope, found_key, [], items)
            )
            if how not in slot[2]:
                slot[2].append(how)

        for reference, how in _references(task):
            for found_scope, found_key in self._resolve(scope, reference):
                if found_scope is not scope or found_key != key:
                    add(found_scope, found_key, how)
        for writer_key, how in _wire_writers_into_task(scope, key):
            add(scope, writer_key, how)
        if (
            scope.spread_key is not None
            and scope.parent is not None
            and scope.parent.prefix + scope.spread_key not in self.seen
        ):
            # Asked about an item: it got its values from its spread's items
            # and wirings (asked about the spread, those are listed there).
            add(scope.parent, scope.spread_key, "spread item", items=False)
        child = _child_scope(scope, key) if spread_items else None
        if child is not None:
            for item_key in child.tasks:
                add(child, item_key, "item result")
        for found_scope, found_key, hows, items in slots.values():
            node.feeders.append(self.node(found_scope, found_key, hows, items))
        return node

    def _resolve(self, scope: _Scope, reference: str) -> list[tuple[_Scope, str]]:
        """The tasks a ``ctx...`` path read from: a task itself, or the writers of flow data."""
        try:
            parts = split_path(reference)
        except DotPathError:  # a malformed path reads nothing
            return []
        if len(parts) < 3 or parts[0] != "ctx":
            return []
        target = (
            scope if parts[1] == "flow" else scope.parent if parts[1] == "parent_flow" else None
        )
        if target is None:
            return []
        if parts[2] == "tasks" and len(parts) >= 4 and parts[3] in target.tasks:
            return [(target, parts[3])]
        if parts[2] == "data" and len(parts) >= 4:
            return [(target, writer) for writer in _flow_data_writers(target, parts[3:])]
        return []


def _tasks(flow_dict: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    tasks = flow_dict.get("tasks")
    return tasks if isinstance(tasks, Mapping) else {}


def _child_scope(scope: _Scope, key: str) -> _Scope | None:
    """The flow of a spread's items, or of a flow task's subflow, if it has started."""
    task = scope.tasks[key]
    data = task.get("data") if isinstance(task.get("data"), Mapping) else {}
    proxied = task.get("proxied_task")
    child = data.get("flow") if isinstance(data, Mapping) else None
    if child is None and isinstance(proxied, Mapping):
        proxied_data = proxied.get("data")
        if isinstance(proxied_data, Mapping):
            child = proxied_data.get("flow")
    if not isinstance(child, Mapping):
        return None
    spread_key = key if task.get("task_type") == "spread" else None
    return _Scope(_tasks(child), scope, f"{scope.prefix}{key}/", spread_key)


def _references(task: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``ctx`` path a task reads, with how: ``$ctx...`` params, and wiring sources."""
    found: list[tuple[str, str]] = []

    def visit(value: Any) -> None:
        if isinstance(value, str):
            if value.startswith("$ctx."):
                found.append((value[1:], value))
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    params = task.get("task_params")
    if isinstance(params, Mapping):
        # Specs held for later run in a subflow, which is analysed on its own.
        visit({name: value for name, value in params.items() if name not in _HELD_FOR_LATER})
    for wiring in _wirings(task):
        if "source" in wiring:
            found.append((wiring["source"], f"wiring {wiring['source']} => {wiring['dest']}"))
    return list(dict.fromkeys(found))


def _wirings(task: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The parsed wirings of a wire task, or of a spread's mapping; bad ones are left out."""
    params = task.get("task_params")
    if not isinstance(params, Mapping):
        return []
    if task.get("task_type") == "wire":
        raw = params.get("wirings")
    elif task.get("task_type") == "spread":
        mapping = params.get("mapping_params")
        raw = mapping.get("wirings") if isinstance(mapping, Mapping) else None
    else:
        return []
    parsed = []
    for wiring in raw if isinstance(raw, list) else []:
        try:
            parsed.append(parse_wiring(wiring, "wiring"))
        except WiringError:  # a bad wiring failed its task; it fed nothing
            continue
    return parsed


def _overlaps(a: list[str], b: list[str]) -> bool:
    """True if one path is the other or lies inside it."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _flow_data_writers(scope: _Scope, data_path: list[str]) -> list[str]:
    """The wire tasks of ``scope`` that wrote flow data at, in or around ``data_path``."""
    writers = []
    for key, task in scope.tasks.items():
        if task.get("task_type") != "wire":
            continue
        for wiring in _wirings(task):
            try:
                dest = split_path(wiring["dest"])
            except DotPathError:  # a bad destination wrote nothing
                continue
            if dest[:3] == ["ctx", "flow", "data"] and _overlaps(dest[3:], data_path):
                writers.append(key)
                break
    return writers


def _wire_writers_into_task(scope: _Scope, key: str) -> list[tuple[str, str]]:
    """The wire tasks of ``scope`` that wrote into task ``key``'s data or params."""
    writers = []
    for writer_key, task in scope.tasks.items():
        if task.get("task_type") != "wire" or writer_key == key:
            continue
        for wiring in _wirings(task):
            dest = str(wiring["dest"])
            if dest.startswith(f"ctx.flow.tasks.{key}."):
                writers.append((writer_key, f"wiring {wiring.get('source', 'value')} => {dest}"))
                break
    return writers
