"""Rewrite a MissionControl 0.x flow spec in today's spelling: ``mc upgrade-spec``.

:func:`upgrade_flow_spec` walks a spec (and the specs nested in it: the
``flow_spec`` of a ``flow`` task, the case tasks of a ``switch``, the
skeleton of a ``spread`` or of a ``mapping`` transform) and returns a new
spec, the list of what it changed, and the list of what it could not
convert. It never changes its argument, never imports anything the spec
names, and refuses rather than guesses: a part that could mean two things
is reported, not rewritten.

What it rewrites (each rule is the one the engine applies to the 0.x
spelling at run time, from :mod:`mc.flows.compat`):

* ``task_type: mc.tasks.print`` (0.x's names of the built-ins) to ``print``;
* a ``spread``'s ``container_task_type`` naming an inline flow: removed;
* ``'transform': {'type': ...}`` to the transform's name, and its
  ``params`` to the wiring's ``mapping_params``;
* a mapping wiring's ``ctx.skeleton.X`` destination to ``X``;
* the ``$ctx.flow`` and ``$ctx.task`` paths of tasks that 0.x interpolated
  in an outer task's context (the whole task was interpolated when it
  ticked, specs for later included), and that are interpolated where they
  run here: in a ``spread``'s skeleton and in the tasks of a ``flow``'s
  ``flow_spec`` (but not of 0.x's persistent ``mc.tasks.flow``, which it
  left raw), ``$ctx.flow`` becomes ``$ctx.parent_flow`` and ``$ctx.task``
  ``$ctx.parent_flow.tasks.<key>``; in a ``switch``'s case tasks,
  ``$ctx.task`` becomes ``$ctx.proxy_task``;
* ``_mc_no_interpolate: true`` to ``interpolate: false``;
* the ``log`` task's ``log_level`` and ``logger_name`` to ``level`` and
  ``logger``, and ``level: WARNING`` (0.x's default) where none was given;
* ``status: PENDING``, ``depth: 0`` and ``parent_key: null`` in a flow spec,
  and ``status: PENDING`` in a task spec, which say nothing: removed.

What it cannot convert, and reports: dotted task types (0.x imported a
module for them; see :doc:`/migrating`), unknown keys, task keys that are
not identifiers, switch ops outside the allowed list, paths that call
methods (``values()``), ``$`` strings outside ``task_params`` (0.x
interpolated the whole task), such outer paths nested too deep to name,
the log task's ``dump_task_ctx``, other spread containers, and a 0.x flow
dict given in place of a spec.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mc.errors import FlowSpecError, WiringError
from mc.flows.compat import (
    LEGACY_TASK_TYPES,
    NO_INTERPOLATE_KEY,
    SPREAD_CONTAINER_TYPES,
    mapping_dest,
    transform_spelling,
)
from mc.flows.spec import (
    FLOW_CFG_KEYS,
    FLOW_SPEC_KEYS,
    TASK_KEY_PATTERN,
    TASK_SPEC_KEYS,
    normalize_flow_spec,
)
from mc.flows.task_types.basic import LOG_PARAM_ALIASES
from mc.flows.task_types.control import SWITCH_OPS

__all__ = ["SpecUpgrade", "upgrade_flow_spec"]

_KEY_RE = re.compile(TASK_KEY_PATTERN)
# Flow-spec fields of a 0.x flow that say nothing for a new flow.
_EMPTY_FLOW_FIELDS = {"status": ("PENDING", None), "depth": (0, None), "parent_key": (None,)}


@dataclass
class SpecUpgrade:
    """What :func:`upgrade_flow_spec` made of a spec.

    ``spec`` is the rewritten spec (a new object); ``changes`` says, one line
    each, what was rewritten and where; ``problems`` what could not be
    converted, and how to rewrite it by hand. ``ok`` is True when there is
    no problem: then ``spec`` is a valid flow spec.
    """

    spec: Any
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when everything could be converted."""
        return not self.problems


def upgrade_flow_spec(spec: Any) -> SpecUpgrade:
    """Rewrite a MissionControl 0.x flow spec in today's spelling (see the module docstring).

    Running it on its own result changes nothing.
    """
    result = SpecUpgrade(copy.deepcopy(spec))
    _Upgrader(result).flow(result.spec, "")
    if result.ok:
        try:
            normalize_flow_spec(result.spec)
        except FlowSpecError as error:
            result.problems.append(str(error))
    return result


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Upgrader:
    def __init__(self, result: SpecUpgrade) -> None:
        self.changes = result.changes
        self.problems = result.problems

    # -- flows and tasks -----------------------------------------------------

    def flow(self, spec: Any, where: str, reroot: _Reroot | None = None) -> None:
        name = where or "flow spec"
        if not isinstance(spec, dict):
            self.problems.append(f"{name}: expected a dict, got {type(spec).__name__}")
            return
        if "graph" in spec:
            self.problems.append(
                f"{name}: this is a 0.x flow dict (a stored flow, with 'graph'), not a spec: "
                "flow dicts cannot be converted; build the flow again from its spec"
            )
            return
        for key in list(spec):
            if key in FLOW_SPEC_KEYS:
                continue
            if key in _EMPTY_FLOW_FIELDS and spec[key] in _EMPTY_FLOW_FIELDS[key]:
                del spec[key]
                self.changes.append(f"{_join(where, key)}: removed (a new flow sets it)")
            else:
                self.problems.append(
                    f"{_join(where, str(key))}: unknown key; a flow spec has "
                    f"{', '.join(FLOW_SPEC_KEYS)} (put values in data)"
                )
        cfg = spec.get("cfg")
        if isinstance(cfg, dict):
            for key in cfg:
                if key not in FLOW_CFG_KEYS:
                    self.problems.append(
                        f"{_join(where, 'cfg')}.{key}: unknown setting (cfg has only fail_fast)"
                    )
        if spec.get("data") is not None and not isinstance(spec["data"], dict):
            self.problems.append(f"{_join(where, 'data')}: must be a dict")
        tasks = spec.get("tasks")
        if isinstance(tasks, list):
            for i, task in enumerate(tasks):
                self.task(task, f"{_join(where, 'tasks')}[{i}]", reroot)

    def task(self, task: Any, where: str, reroot: _Reroot | None = None) -> None:
        if not isinstance(task, dict):
            self.problems.append(f"{where}: expected a task spec (a dict)")
            return
        key = task.get("key")
        if key is not None and not (isinstance(key, str) and _KEY_RE.fullmatch(key)):
            self.problems.append(
                f"{where}.key: {key!r} is not an identifier (ASCII letters, digits, '_'): "
                "rename the task, and every path and edge that names it"
            )
        if task.get("status", "PENDING") in ("PENDING", None) and "status" in task:
            del task["status"]
            self.changes.append(f"{where}.status: removed (a new task is PENDING)")
        if NO_INTERPOLATE_KEY in task:
            if task[NO_INTERPOLATE_KEY] is True and "interpolate" not in task:
                del task[NO_INTERPOLATE_KEY]
                task["interpolate"] = False
                self.changes.append(f"{where}: {NO_INTERPOLATE_KEY}: true -> interpolate: false")
            else:
                self.problems.append(
                    f"{where}.{NO_INTERPOLATE_KEY}: 0.x turned interpolation off whatever its "
                    "value; write 'interpolate: false' or remove it"
                )
        for name in task:
            if name not in TASK_SPEC_KEYS:
                self.problems.append(
                    f"{where}.{name}: unknown key; move the value into the task's data or "
                    "task_params"
                )
        for name in ("data", "label", "key"):
            for path in _dollar_strings(task.get(name), _join(where, name)):
                self.problems.append(
                    f"{path}: 0.x interpolated '$' strings anywhere in a task; here only "
                    "task_params are: move it into task_params, or copy it with a wire task"
                )
        old_type = task.get("task_type")
        self.task_type(task, where)
        params = task.get("task_params")
        if not isinstance(params, dict):
            return
        for path, text, _, _ in _strings(params, f"{where}.task_params"):
            if text.startswith("$") and "()" in text:
                self._method_call(path, text)
        if reroot is not None:
            self._reroot(task, f"{where}.task_params", reroot)
        handler: Callable[[dict[str, Any], str, dict[str, Any], Any], None] | None = {
            "log": self.log_params,
            "wire": self.wire_params,
            "spread": self.spread_params,
            "switch": self.switch_params,
            "flow": self.flow_params,
        }.get(task.get("task_type"))  # type: ignore[arg-type]
        if handler is not None:
            handler(params, f"{where}.task_params", task, old_type)

    def task_type(self, task: dict[str, Any], where: str) -> None:
        task_type = task.get("task_type")
        if not isinstance(task_type, str):
            return
        if task_type in LEGACY_TASK_TYPES:
            task["task_type"] = LEGACY_TASK_TYPES[task_type]
            self.changes.append(f"{where}.task_type: {task_type!r} -> {task['task_type']!r}")
        elif ":" in task_type:
            module = task_type.split(":")[0]
            self.changes.append(
                f"{where}.task_type: {task_type!r} left as is: it imports code, so it runs "
                f"only with --allow-imports {module} (or register the handler with "
                "register_task_type and name it here)"
            )
        elif "." in task_type:
            module = re.sub(r"task(?!_handler)", "task_handler", task_type)
            if not module.endswith("task_handler"):
                module += "_task_handler"
            self.problems.append(
                f"{where}.task_type: {task_type!r} is a dotted name, which 0.x imported as "
                f"{module}:TaskHandler; register that handler with "
                f"register_task_type('NAME', handler) and write task_type: NAME, or write "
                f"'{module}:TaskHandler' and run with --allow-imports {module.rsplit('.', 1)[0]}"
            )

    # -- task types ------------------------------------------------------------

    def log_params(
        self, params: dict[str, Any], where: str, task: dict[str, Any], old_type: Any
    ) -> None:
        for old, new in LOG_PARAM_ALIASES.items():
            if old not in params:
                continue
            if new in params:
                self.problems.append(f"{where}: has both {new!r} and {old!r}; keep one")
                continue
            params[new] = params.pop(old)
            self.changes.append(f"{where}.{old} -> {new}")
        if "level" not in params:
            params["level"] = "WARNING"
            self.changes.append(f"{where}.level: set to 'WARNING', 0.x's default (today's is INFO)")
        if "dump_task_ctx" in params:
            self.problems.append(
                f"{where}.dump_task_ctx: not supported (the context holds live objects); use "
                "dump_task or dump_flow"
            )

    def wire_params(
        self, params: dict[str, Any], where: str, task: dict[str, Any], old_type: Any
    ) -> None:
        wirings = params.get("wirings")
        if isinstance(wirings, list):
            for i, wiring in enumerate(wirings):
                wirings[i] = self.wiring(wiring, f"{where}.wirings[{i}]", in_mapping=False)

    def spread_params(
        self, params: dict[str, Any], where: str, task: dict[str, Any], old_type: Any
    ) -> None:
        if "container_task_type" in params:
            container = params["container_task_type"]
            if container in SPREAD_CONTAINER_TYPES:
                del params["container_task_type"]
                self.changes.append(
                    f"{where}.container_task_type: {container!r} removed (a spread's items run "
                    "as an inline child flow)"
                )
            else:
                self.problems.append(
                    f"{where}.container_task_type: {container!r} is not supported: a spread "
                    "runs its items as an inline child flow"
                )
        mapping_params = params.get("mapping_params")
        if isinstance(mapping_params, dict):
            reroot = _outer_task_reroot(task, "the skeleton is interpolated in the child flow")
            self.mapping_params(mapping_params, f"{where}.mapping_params", reroot)

    def switch_params(
        self, params: dict[str, Any], where: str, task: dict[str, Any], old_type: Any
    ) -> None:
        cases = params.get("cases")
        for i, case in enumerate(cases if isinstance(cases, list) else []):
            if not isinstance(case, dict):
                continue
            condition = case.get("condition")
            op = condition.get("op") if isinstance(condition, dict) else None
            if isinstance(op, str) and op not in SWITCH_OPS:
                self.problems.append(
                    f"{where}.cases[{i}].condition.op: {op!r} is not allowed (a spec may "
                    f"name only {', '.join(SWITCH_OPS)}): compute the value in a task, and "
                    "compare its result"
                )
            self.task(case.get("task"), f"{where}.cases[{i}].task", _CASE_REROOT)
        default = params.get("default_case")
        if isinstance(default, dict) and "task" in default:
            self.task(default["task"], f"{where}.default_case.task", _CASE_REROOT)

    def flow_params(
        self, params: dict[str, Any], where: str, task: dict[str, Any], old_type: Any
    ) -> None:
        if "flow_spec" not in params:
            return
        # 0.x interpolated a subflow's spec in the flow task's own context,
        # except for its persistent 'mc.tasks.flow', which it left raw.
        reroot = None
        if old_type != "mc.tasks.flow":
            reroot = _outer_task_reroot(task, "a subflow's tasks are interpolated in the subflow")
        self.flow(params["flow_spec"], f"{where}.flow_spec", reroot)

    # -- wirings -------------------------------------------------------------------

    def wiring(self, wiring: Any, where: str, in_mapping: bool) -> Any:
        if isinstance(wiring, str):
            source, arrow, dest = wiring.partition("=>")
            if not arrow:
                return wiring
            self._check_path(source.strip(), f"{where} (source)")
            new_dest = self._dest(dest.strip(), where, in_mapping)
            return wiring if new_dest == dest.strip() else f"{source.strip()} => {new_dest}"
        if not isinstance(wiring, dict):
            return wiring
        if isinstance(wiring.get("source"), str):
            self._check_path(wiring["source"], f"{where}.source")
        if isinstance(wiring.get("dest"), str):
            wiring["dest"] = self._dest(wiring["dest"], where, in_mapping)
        transform = wiring.get("transform")
        if isinstance(transform, dict):
            try:
                name, mapping_params = transform_spelling(
                    transform, wiring.get("mapping_params"), where
                )
            except WiringError as error:
                self.problems.append(str(error))
                return wiring
            wiring["transform"] = name
            if mapping_params is not None:
                wiring["mapping_params"] = mapping_params
            self.changes.append(f"{where}.transform: {transform.get('type')!r} as a string")
        if wiring.get("transform") == "mapping" and isinstance(wiring.get("mapping_params"), dict):
            self.mapping_params(wiring["mapping_params"], f"{where}.mapping_params", None)
        return wiring

    def mapping_params(self, params: dict[str, Any], where: str, reroot: _Reroot | None) -> None:
        wirings = params.get("wirings")
        if isinstance(wirings, list):
            for i, wiring in enumerate(wirings):
                wirings[i] = self.wiring(wiring, f"{where}.wirings[{i}]", in_mapping=True)
        skeleton = params.get("skeleton")
        if isinstance(skeleton, dict) and "task_type" in skeleton:
            self.task(skeleton, f"{where}.skeleton", reroot)

    def _dest(self, dest: str, where: str, in_mapping: bool) -> str:
        self._check_path(dest, f"{where} (dest)")
        if not in_mapping:
            return dest
        try:
            inner = mapping_dest(dest, where)
        except WiringError as error:
            self.problems.append(str(error))
            return dest
        if inner != dest:
            self.changes.append(f"{where}: dest {dest!r} -> {inner!r}")
        return inner

    def _check_path(self, path: str, where: str) -> None:
        if "()" in path:
            self._method_call(where, path)

    def _method_call(self, where: str, path: str) -> None:
        self.problems.append(
            f"{where}: {path!r} calls a method, which 0.x's paths could (values(), items()); "
            "a path here only looks values up: map a dict directly (each item has key and "
            "value), or have a task write the list you need into its data"
        )

    def _reroot(self, task: dict[str, Any], where: str, reroot: _Reroot) -> None:
        """Rewrite the ``$ctx.flow`` and ``$ctx.task`` paths of a task that 0.x
        interpolated in an outer task's context, to name the same things here."""
        params = task["task_params"]
        held = _RAW_PARAMS.get(task.get("task_type"), ())  # type: ignore[arg-type]
        for name in params:
            wrapper = {name: params[name]}
            for path, text, container, key in _strings(wrapper, where):
                root = _path_root(text)
                if root is None:
                    continue
                if name in held:
                    self.problems.append(
                        f"{path}: 0.x resolved {text!r} in the context of an outer task, which "
                        "a spec nested this deep cannot name; copy the value into data with a "
                        "wire task, and name that"
                    )
                    continue
                new_root = reroot.flow_to if root == "$ctx.flow" else reroot.task_to
                if new_root is None and root == "$ctx.task" and reroot.task_problem:
                    self.problems.append(f"{path}: {text!r} {reroot.task_problem}")
                    continue
                if new_root is None or new_root == root:
                    continue
                new = new_root + text[len(root) :]
                (params if container is wrapper else container)[key] = new
                self.changes.append(f"{path}: {text!r} -> {new!r} ({reroot.why})")


@dataclass(frozen=True)
class _Reroot:
    """How to rewrite the paths of a task that 0.x interpolated in an outer context.

    ``flow_to`` and ``task_to`` replace ``$ctx.flow`` and ``$ctx.task``
    (None: leave as is); ``task_problem`` is reported for ``$ctx.task``
    when it cannot be named; ``why`` ends each change's line.
    """

    flow_to: str | None
    task_to: str | None
    why: str
    task_problem: str | None = None


# A case's task runs as the switch's proxied task, in the same flow: 0.x's
# $ctx.task (the switch) is the proxy task there.
_CASE_REROOT = _Reroot(None, "$ctx.proxy_task", "a case's task is the switch's proxied task")

# The params in which a task type holds specs that run later, elsewhere.
_RAW_PARAMS = {
    "flow": ("flow_spec",),
    "switch": ("cases", "default_case"),
    "spread": ("mapping_params",),
}


def _outer_task_reroot(task: dict[str, Any], why: str) -> _Reroot:
    """The rewrite for tasks that run in a child flow of ``task``."""
    key = task.get("key")
    if isinstance(key, str) and _KEY_RE.fullmatch(key):
        return _Reroot("$ctx.parent_flow", f"$ctx.parent_flow.tasks.{key}", why)
    return _Reroot(
        "$ctx.parent_flow",
        None,
        why,
        "named the outer task in 0.x; give that task a key, and write "
        "$ctx.parent_flow.tasks.KEY...",
    )


def _path_root(text: str) -> str | None:
    """Return ``'$ctx.flow'`` or ``'$ctx.task'`` if ``text`` is an interpolated path from there."""
    for root in ("$ctx.flow", "$ctx.task"):
        if text == root or text.startswith(root + "."):
            return root
    return None


def _strings(value: Any, where: str) -> list[tuple[str, str, Any, Any]]:
    """Return (path, string, container, key) for every string inside ``value``.

    ``container[key]`` is the string; a bare string ``value`` has none.
    """
    found: list[tuple[str, str, Any, Any]] = []
    items: Any = ()
    if isinstance(value, Mapping):
        items = ((name, f"{where}.{name}") for name in value)
    elif isinstance(value, list):
        items = ((i, f"{where}[{i}]") for i in range(len(value)))
    for name, path in items:
        item = value[name]
        if isinstance(item, str):
            found.append((path, item, value, name))
        else:
            found.extend(_strings(item, path))
    return found


def _dollar_strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [where] if value.startswith("$") else []
    return [path for path, text, _, _ in _strings(value, where) if text.startswith("$")]
