"""Task types that move data and steer a flow: ``wire``, ``switch``, ``flow`` and ``spread``.

``wire`` copies values between tasks (see :mod:`mc.flows.task_types.wiring`).
``switch`` picks one task spec by comparing a value, and runs it in its own
place. ``flow`` runs a whole child flow within the parent's ticks, its state
kept in the task's data. ``spread`` maps a list of items to one task each,
and runs them as a child flow.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from mc.errors import FlowSpecError, TaskParamsError, WiringError
from mc.flows import size_budget
from mc.flows.compat import spread_container
from mc.flows.dotpath import split_path
from mc.flows.flow import Flow
from mc.flows.interpolation import interpolate
from mc.flows.spec import normalize_task_spec
from mc.flows.statuses import COMPLETED, FAILED, RUNNING
from mc.flows.task_handler import (
    BaseProxyingTaskHandler,
    BaseTaskHandler,
    TaskCtx,
    new_proxied_task,
)
from mc.flows.task_types.basic import task_param
from mc.flows.task_types.wiring import (
    apply_wiring,
    check_ctx_dest,
    map_items,
    parse_wiring,
)

__all__ = ["SWITCH_OPS", "wire_task", "SwitchTaskHandler", "FlowTaskHandler", "SpreadTaskHandler"]

# The comparisons a switch case may name, all from the operator module.
SWITCH_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "is_", "is_not", "truth")


def wire_task(task_ctx: TaskCtx) -> None:
    """Apply ``task_params['wirings']`` in order, then complete.

    Each wiring copies a value (from a ``ctx`` path, or a literal) to a
    ``ctx`` destination; see :mod:`mc.flows.task_types.wiring`.
    """
    task = task_ctx["task"]
    wirings = task_param(task, "wirings", list)
    for i, wiring in enumerate(wirings):
        where = f"task_params.wirings[{i}]"
        dest = parse_wiring(wiring, where)["dest"]
        flow = task_ctx.get("flow")
        into_params, whole_dict = check_ctx_dest(dest, where, flow, task["key"])
        apply_wiring(
            wiring,
            task_ctx,
            {"ctx": task_ctx},
            where,
            # This task's own params were interpolated already: what lands in
            # another task's params must not be read as a path a second time.
            escape=("source", "value") if into_params else (),
            check_value=_dict_checker(dest, where) if whole_dict else None,
        )
        parts = split_path(dest)
        if flow is not None and parts[1:3] == ["flow", "tasks"]:
            # Another task's dict changed outside the state machine: the
            # next save must write it (see Flow.changed_task_keys).
            flow.mark_changed(parts[3])
    task["status"] = COMPLETED


def _dict_checker(dest: str, where: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise WiringError(f"{where}: dest {dest!r} must get a dict, got {type(value).__name__}")

    return check


class SwitchTaskHandler(BaseProxyingTaskHandler):
    """Run the task of the first case whose condition holds for ``control_value``.

    ``task_params``: ``control_value`` (usually interpolated, as in
    ``'$ctx.flow.tasks.check.data.score'``); ``cases``, a list of
    ``{'condition': {'op': OP, 'arg': ARG}, 'task': TASK_SPEC}``; and an
    optional ``default_case`` ``{'task': TASK_SPEC}``. A condition holds when
    ``operator.OP(control_value, ARG)`` is true (``truth`` takes no arg).
    The chosen task runs as this task's proxied task; its data becomes this
    task's data, and ``task['selected_case']`` records the case's index (or
    ``'default'``). No match and no default fails the task.
    """

    raw_params = ("cases", "default_case")

    def generate_proxied_task(self) -> dict[str, Any]:
        """Pick the case, record it, and return its task spec."""
        task = self.task
        params = task["task_params"]
        if "control_value" not in params:
            raise TaskParamsError(f"task {task['key']!r}: missing task_params.control_value")
        control = params["control_value"]
        cases = task_param(task, "cases", list)
        default = task_param(task, "default_case", dict, None)
        checked = [
            self._check_case(case, f"task_params.cases[{i}]") for i, case in enumerate(cases)
        ]
        if default is not None:
            if not isinstance(default.get("task"), Mapping):
                raise TaskParamsError(
                    f"task {task['key']!r}: task_params.default_case.task must be a task spec"
                )
            _check_case_task(default["task"], f"task {task['key']!r}: task_params.default_case")
        for i, (op, raw_arg, case_task) in enumerate(checked):
            where = f"task_params.cases[{i}].condition"
            arg = interpolate(raw_arg, self.task_ctx, f"{where}.arg")
            if _compare(op, control, arg, f"task {task['key']!r}: {where}"):
                task["selected_case"] = i
                return dict(case_task)
        if default is not None:
            task["selected_case"] = "default"
            return dict(default["task"])
        tried = "; ".join(f"{op} {arg!r}" for op, arg, _ in checked) or "no cases"
        raise TaskParamsError(
            f"task {task['key']!r}: no case matched control_value {control!r} "
            f"(tried: {tried}), and there is no default_case"
        )

    def _check_case(self, case: Any, where: str) -> tuple[str, Any, Mapping[str, Any]]:
        prefix = f"task {self.task['key']!r}: {where}"
        if not isinstance(case, Mapping):
            raise TaskParamsError(
                f"{prefix}: expected {{'condition': {{'op', 'arg'}}, 'task': {{...}}}}"
            )
        condition = case.get("condition")
        if not isinstance(condition, Mapping) or not isinstance(condition.get("op"), str):
            raise TaskParamsError(f"{prefix}.condition: expected {{'op': OP, 'arg': ARG}}")
        op = condition["op"]
        if op not in SWITCH_OPS:
            raise TaskParamsError(
                f"{prefix}.condition.op: {op!r} is not allowed "
                f"(expected one of {', '.join(SWITCH_OPS)})"
            )
        if op != "truth" and "arg" not in condition:
            raise TaskParamsError(f"{prefix}.condition: op {op!r} needs an 'arg'")
        if not isinstance(case.get("task"), Mapping):
            raise TaskParamsError(f"{prefix}.task: expected a task spec")
        _check_case_task(case["task"], prefix)
        return op, condition.get("arg"), case["task"]


def _check_case_task(task_spec: Mapping[str, Any], prefix: str) -> None:
    """Raise TaskParamsError, naming the case's path, if its task cannot be a proxied task."""
    try:
        new_proxied_task(task_spec)
    except FlowSpecError as error:
        path = error.path.replace("proxied_task", f"{prefix}.task", 1)
        raise TaskParamsError(f"{path}: {error.problem}") from None


def _compare(op: str, control: Any, arg: Any, where: str) -> bool:
    try:
        if op == "truth":
            return operator.truth(control)
        return bool(getattr(operator, op)(control, arg))
    except TypeError as error:
        raise TaskParamsError(
            f"{where}: cannot apply {op} to {control!r} and {arg!r}: {error}"
        ) from None


class _LiveChild:
    """A ``flow`` task's child flow, kept loaded between ticks in this process.

    ``written`` is the dict last written into ``task['data']['flow']``: the
    live child stands for the task's state only while that dict is still
    there (a parent loaded again from storage has other dicts, and loads its
    child from them).
    """

    __slots__ = ("child", "written")

    def __init__(self, child: Flow, written: object) -> None:
        self.child = child
        self.written = written


# Live children by parent flow, then by the key of the parent's task that
# runs them (the spread task, for a spread's child). A parent dropped from
# memory drops its children with it.
_live_children: weakref.WeakKeyDictionary[Flow, dict[str, _LiveChild]] = weakref.WeakKeyDictionary()


class FlowTaskHandler(BaseTaskHandler):
    """Run a child flow, given by ``task_params['flow_spec']``, inside this task.

    The child is built on the task's first tick and ticked once per tick of
    the task, with the same engine and context (plus ``ctx.parent_flow``).
    Its whole state is stored in ``task['data']['flow']`` (a flow dict), so
    it is stored with the parent. Between ticks in one process the child is
    kept as a live :class:`~mc.flows.flow.Flow`, and written into
    ``task['data']['flow']`` only when the parent is serialized
    (:meth:`~mc.flows.flow.Flow.to_flow_dict`, a store's save, see
    :meth:`~mc.flows.flow.Flow.defer_serialization`) and when the child
    ends: a tick of the parent costs what the child's tick changes, not the
    child's size. The child's key is the spec's, or
    ``'<parent key>.<task key>'``; its ``depth`` is the parent's plus one and
    its ``parent_key`` the parent's key. When the child COMPLETES, the task
    does, with the child's data in ``task['data']['flow_data']``; when it
    FAILS, the task fails with the child's errors. Either way, the hook
    :meth:`on_flow_finished` is then called with the child.
    """

    raw_params = ("flow_spec",)

    def initial_tick(self) -> None:
        """Build the child flow, then tick it."""
        spec = task_param(self.task, "flow_spec", dict)
        parent = self.task_ctx.get("flow")
        # A proxied flow task is named for the task it stands in for.
        owner = self._owner()
        if spec.get("key") is None and parent is not None:
            spec = {**spec, "key": f"{parent.key}.{owner['key']}"}
        try:
            child = Flow.from_flow_spec(spec)
        except FlowSpecError as error:
            where = "task_params.flow_spec"
            if error.path and error.path != "flow spec":
                where = f"{where}.{error.path}"
            raise TaskParamsError(f"task {owner['key']!r}: {where}: {error.problem}") from None
        if parent is not None:
            child.depth = parent.depth + 1
            child.parent_key = parent.key
        self._tick_child(child)

    def intermediate_tick(self) -> None:
        """Tick the live child once (loading it from the task's data if it is not live)."""
        child = self._child()
        if child is None:
            raise ValueError(
                f"task {self._owner()['key']!r}: its child flow is missing from "
                "task['data']['flow']"
            )
        self._tick_child(child)

    def _owner(self) -> dict[str, Any]:
        owner: dict[str, Any] = self.task_ctx.get("proxy_task") or self.task
        return owner

    def _child(self) -> Flow | None:
        """The child flow: the live one if it still stands for the task, else loaded, else None."""
        parent = self.task_ctx.get("flow")
        live = _live_children.get(parent, {}).get(self._owner()["key"]) if parent else None
        written = self.task.get("data", {}).get("flow")
        if live is not None and live.written is written:
            return live.child
        if not written:
            return None
        return Flow.from_flow_dict(written, copy=False)

    def _tick_child(self, child: Flow) -> None:
        engine = self.task_ctx["flow_engine"]
        engine.tick_flow(child, self._child_ctx())
        if child.status == FAILED and child.count_tasks(RUNNING):
            # fail_fast left tasks RUNNING, and a failed task is never
            # ticked again: stop their outside work now.
            engine.cancel_flow(child, "the subflow FAILED", self._child_ctx())
        if child.finished or self.task_ctx.get("flow") is None:
            self._write_child(child)
        else:
            # A live child is checked against its size estimate (exact as of
            # its last serialization, plus what its tasks wrote since), which
            # costs nothing per tick; it is measured exactly whenever the
            # parent is serialized. A subflow past the budget is not kept.
            try:
                size_budget.check_subflow(self.task_ctx, child)
            except Exception:
                self._drop_live()
                raise
            self._keep_live(child)
        if child.status == COMPLETED:
            self.task["data"]["flow_data"] = self.task["data"]["flow"]["data"]
            self.task["status"] = COMPLETED
        elif child.status == FAILED:
            errors = child.data.get("errors") or ["no error recorded"]
            self.task["error"] = f"subflow {child.key!r} FAILED: " + "; ".join(errors)
            self.task["status"] = FAILED
        else:
            return
        self.on_flow_finished(flow=child)

    def on_flow_finished(self, flow: Flow) -> None:
        """Do what a subclass wants once the child flow has ended; by default nothing.

        Called on the tick the child COMPLETES or FAILS, after the task's
        status, data and error are set (a subclass may still change them),
        with the child :class:`~mc.flows.flow.Flow`. An error it raises fails
        the task.
        """

    def _keep_live(self, child: Flow) -> None:
        """Keep ``child`` live until the parent (there must be one) is serialized."""
        parent = self.task_ctx["flow"]
        owner_key = self._owner()["key"]
        children = _live_children.setdefault(parent, {})
        live = children.get(owner_key)
        if live is None or live.child is not child:
            live = children[owner_key] = _LiveChild(child, self.task["data"].get("flow"))
        task = self.task

        def write() -> None:
            # Only if the live child still stands for this task dict.
            if children.get(owner_key) is live and task["data"].get("flow") is live.written:
                live.written = task["data"]["flow"] = live.child.to_flow_dict()

        parent.defer_serialization(owner_key, write)

    def _write_child(self, child: Flow) -> None:
        """Write the child into the task's data now; it is live no more.

        Measured by ``to_flow_dict``: a subflow past the size budget is not
        kept (:class:`~mc.errors.FlowSizeError`, the task's data unchanged).
        """
        self._drop_live()
        child_dict = child.to_flow_dict()
        size_budget.check_subflow(self.task_ctx, child)
        self.task["data"]["flow"] = child_dict

    def _drop_live(self) -> None:
        """Forget the live child of this task: a write it deferred does nothing."""
        parent = self.task_ctx.get("flow")
        if parent is not None:
            _live_children.get(parent, {}).pop(self._owner()["key"], None)

    def _child_ctx(self) -> dict[str, Any]:
        ctx = {
            name: value
            for name, value in self.task_ctx.items()
            if name not in ("task", "flow", "flow_engine", "proxy_task", size_budget.METER_KEY)
        }
        ctx["parent_flow"] = self.task_ctx.get("flow")
        return ctx

    @classmethod
    def cancel_task(cls, task_ctx: TaskCtx) -> None:
        """Cancel the child flow, and so its RUNNING tasks."""
        handler = cls(task_ctx)
        child = handler._child()
        if child is None:
            return
        task_ctx["flow_engine"].cancel_flow(
            child, "its parent task was cancelled", handler._child_ctx()
        )
        handler._drop_live()
        task_ctx["task"]["data"]["flow"] = child.to_flow_dict()


class SpreadTaskHandler(BaseProxyingTaskHandler):
    """Run one task per item, side by side, as a child flow.

    ``task_params``: ``items``, a list or a dict (usually interpolated), and
    ``mapping_params`` ``{'skeleton': TASK_SPEC, 'wirings': [...]}``: each
    item gets a copy of the skeleton, with the wirings applied (sources
    such as ``'ctx.item.value'``, destinations inside the copy such as
    ``'task_params.msg'``; see :func:`~mc.flows.task_types.wiring.map_items`).
    Optional ``fail_fast`` (default true) is the child flow's. The item
    tasks are keyed ``<skeleton key or 'item'>_<index>``. When they have all
    finished, ``task['data']['results']`` lists each one's data, in item
    order. Strings starting with ``$`` in the skeleton are interpolated when
    each item's task ticks, in the child flow (``ctx.flow`` is the child,
    ``ctx.parent_flow`` the flow of the spread task). MissionControl 0.x's
    ``container_task_type`` may be given, if it names an inline flow (see
    :data:`mc.flows.compat.SPREAD_CONTAINER_TYPES`).
    """

    raw_params = ("mapping_params",)

    def generate_proxied_task(self) -> dict[str, Any]:
        """Map the items to task specs, and return a ``flow`` task that runs them."""
        task = self.task
        items = task_param(task, "items", (list, dict))
        mapping_params = task_param(task, "mapping_params", dict)
        fail_fast = task_param(task, "fail_fast", bool, True)
        spread_container(
            task["task_params"].get("container_task_type"), f"task {task['key']!r}: task_params"
        )
        # Item values are data: the child tasks must not read them as paths.
        specs = map_items(
            items, mapping_params, self.task_ctx, "task_params.mapping_params", ("source",)
        )
        base = mapping_params["skeleton"].get("key") or "item"
        keys = []
        for idx, spec in enumerate(specs):
            spec["key"] = f"{base}_{idx}"
            spec["precursors"] = ["ROOT"]
            spec.pop("successors", None)
            keys.append(spec["key"])
            try:
                # Checked here, so that a bad skeleton is named as the user wrote it.
                normalize_task_spec(spec, f"task_params.mapping_params.skeleton[item {idx}]")
            except FlowSpecError as error:
                raise TaskParamsError(f"task {task['key']!r}: {error}") from None
        task["spread_keys"] = keys
        flow_spec = {
            "label": f"spread {task['key']}",
            "cfg": {"fail_fast": fail_fast},
            "tasks": specs,
        }
        return {"task_type": "flow", "task_params": {"flow_spec": flow_spec}}

    def proxied_task_data(self, proxied_task: dict[str, Any]) -> dict[str, Any]:
        """Each item task's data, in item order, once the child flow has ended."""
        child = proxied_task["data"].get("flow")
        if not child or child["status"] == RUNNING or proxied_task["status"] == RUNNING:
            return {"results": None}
        return {"results": [child["tasks"][key]["data"] for key in self.task["spread_keys"]]}
