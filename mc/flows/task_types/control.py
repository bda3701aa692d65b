"""Task types that move data and steer a flow: ``wire``, ``switch``, ``flow`` and ``spread``.

``wire`` copies values between tasks (see :mod:`mc.flows.task_types.wiring`).
``switch`` picks one task spec by comparing a value, and runs it in its own
place. ``flow`` runs a whole child flow within the parent's ticks, its state
kept in the task's data. ``spread`` maps a list of items to one task each,
and runs them as a child flow.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from mc.errors import FlowSpecError, WiringError
from mc.flows import size_budget
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
        into_params, whole_dict = check_ctx_dest(dest, where, task_ctx.get("flow"), task["key"])
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
            raise ValueError(f"task {task['key']!r}: missing task_params.control_value")
        control = params["control_value"]
        cases = task_param(task, "cases", list)
        default = task_param(task, "default_case", dict, None)
        checked = [
            self._check_case(case, f"task_params.cases[{i}]") for i, case in enumerate(cases)
        ]
        if default is not None:
            if not isinstance(default.get("task"), Mapping):
                raise ValueError(
                    f"task {task['key']!r}: task_params.default_case.task must be a task spec"
                )
            _check_case_task(default["task"], f"task {task['key']!r}: task_params.default_case")
        for i, (op, arg, case_task) in enumerate(checked):
            where = f"task_params.cases[{i}].condition"
            arg = interpolate(arg, self.task_ctx, f"{where}.arg")
            if _compare(op, control, arg, f"task {task['key']!r}: {where}"):
                task["selected_case"] = i
                return dict(case_task)
        if default is not None:
            task["selected_case"] = "default"
            return dict(default["task"])
        tried = "; ".join(f"{op} {arg!r}" for op, arg, _ in checked) or "no cases"
        raise ValueError(
            f"task {task['key']!r}: no case matched control_value {control!r} "
            f"(tried: {tried}), and there is no default_case"
        )

    def _check_case(self, case: Any, where: str) -> tuple[str, Any, Mapping[str, Any]]:
        prefix = f"task {self.task['key']!r}: {where}"
        if not isinstance(case, Mapping):
            raise ValueError(
                f"{prefix}: expected {{'condition': {{'op', 'arg'}}, 'task': {{...}}}}"
            )
        condition = case.get("condition")
        if not isinstance(condition, Mapping) or not isinstance(condition.get("op"), str):
            raise ValueError(f"{prefix}.condition: expected {{'op': OP, 'arg': ARG}}")
        op = condition["op"]
        if op not in SWITCH_OPS:
            raise ValueError(
                f"{prefix}.condition.op: {op!r} is not allowed (expected one of {', '.join(SWITCH_OPS)})"
            )
        if op != "truth" and "arg" not in condition:
            raise ValueError(f"{prefix}.condition: op {op!r} needs an 'arg'")
        if not isinstance(case.get("task"), Mapping):
            raise ValueError(f"{prefix}.task: expected a task spec")
        _check_case_task(case["task"], prefix)
        return op, condition.get("arg"), case["task"]


def _check_case_task(task_spec: Mapping[str, Any], prefix: str) -> None:
    """Raise ValueError, naming the case's path, if its task cannot be a proxied task."""
    try:
        new_proxied_task(task_spec)
    except FlowSpecError as error:
        path = error.path.replace("proxied_task", f"{prefix}.task", 1)
        raise ValueError(f"{path}: {error.problem}") from None


def _compare(op: str, control: Any, arg: Any, where: str) -> bool:
    try:
        if op == "truth":
            return operator.truth(control)
        return bool(getattr(operator, op)(control, arg))
    except TypeError as error:
        raise ValueError(
            f"{where}: cannot apply {op} to {control!r} and {arg!r}: {error}"
        ) from None


class FlowTaskHandler(BaseTaskHandler):
    """Run a child flow, given by ``task_params['flow_spec']``, inside this task.

    The child is built on the task's first tick and ticked once per tick of
    the task, with the same engine and context (plus ``ctx.parent_flow``).
    Its whole state lives in ``task['data']['flow']`` (a flow dict), so it
    is stored with the parent. The child's key is the spec's, or
    ``'<parent key>.<task key>'``; its ``depth`` is the parent's plus one and
    its ``parent_key`` the parent's key. When the child COMPLETES, the task
    does, with the child's data in ``task['data']['flow_data']``; when it
    FAILS, the task fails with the child's errors.
    """

    raw_params = ("flow_spec",)

    def initial_tick(self) -> None:
        """Build the child flow, then tick it."""
        spec = task_param(self.task, "flow_spec", dict)
        parent = self.task_ctx.get("flow")
        # A proxied flow task is named for the task it stands in for.
        owner = self.task_ctx.get("proxy_task") or self.task
        if spec.get("key") is None and parent is not None:
            spec = {**spec, "key": f"{parent.key}.{owner['key']}"}
        try:
            child = Flow.from_flow_spec(spec)
        except FlowSpecError as error:
            where = "task_params.flow_spec"
            if error.path and error.path != "flow spec":
                where = f"{where}.{error.path}"
            raise ValueError(f"task {owner['key']!r}: {where}: {error.problem}") from None
        if parent is not None:
            child.depth = parent.depth + 1
            child.parent_key = parent.key
        self._tick_child(child)

    def intermediate_tick(self) -> None:
        """Load the child from the task's data and tick it once."""
        self._tick_child(Flow.from_flow_dict(self.task["data"]["flow"], copy=False))

    def _tick_child(self, child: Flow) -> None:
        engine = self.task_ctx["flow_engine"]
        engine.tick_flow(child, self._child_ctx())
        child_dict = child.to_flow_dict()
        # Measured by to_flow_dict: a subflow past the budget is not kept.
        size_budget.check_subflow(self.task_ctx, child)
        self.task["data"]["flow"] = child_dict
        if child.status == COMPLETED:
            self.task["data"]["flow_data"] = self.task["data"]["flow"]["data"]
            self.task["status"] = COMPLETED
        elif child.status == FAILED:
            errors = child.data.get("errors") or ["no error recorded"]
            if child.count_tasks(RUNNING):
                # fail_fast left tasks RUNNING, and a failed task is never
                # ticked again: stop their outside work now.
                engine.cancel_flow(child, "the subflow FAILED", self._child_ctx())
                self.task["data"]["flow"] = child.to_flow_dict()
            self.task["error"] = f"subflow {child.key!r} FAILED: " + "; ".join(errors)
            self.task["status"] = FAILED

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
        task = task_ctx["task"]
        flow_dict = task.get("data", {}).get("flow")
        if not flow_dict:
            return
        child = Flow.from_flow_dict(flow_dict, copy=False)
        handler = cls(task_ctx)
        task_ctx["flow_engine"].cancel_flow(
            child, "its parent task was cancelled", handler._child_ctx()
        )
        task["data"]["flow"] = child.to_flow_dict()


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
    ``ctx.parent_flow`` the flow of the spread task).
    """

    raw_params = ("mapping_params",)

    def generate_proxied_task(self) -> dict[str, Any]:
        """Map the items to task specs, and return a ``flow`` task that runs them."""
        task = self.task
        items = task_param(task, "items", (list, dict))
        mapping_params = task_param(task, "mapping_params", dict)
        fail_fast = task_param(task, "fail_fast", bool, True)
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
                raise ValueError(f"task {task['key']!r}: {error}") from None
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
