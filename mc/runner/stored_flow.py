"""The ``stored_flow`` task type: a subflow kept as its own record in the store.

A ``stored_flow`` task creates its child flow, from ``task_params.flow_spec``,
as a separate row of the :class:`~mc.store.FlowStore` (with ``parent_key``
set to the parent's key and ``depth`` one more than the parent's). Runners
tick the child like any other flow; the task only looks at the child's
record on each tick of its parent, and when the child ends it copies the
child's ``data`` into ``task['data']['flow_data']`` and COMPLETES, or FAILS
with the child's errors. The parent's JSON holds only the child's key, so a
huge child does not bloat its parent.

The child's key is derived from the parent's key, the task's key and the
attempt number, so a runner that crashes between creating the child and
saving the parent finds the same child again instead of creating a second
one. Each retry of the task runs a new child: a retry by the task's
``retries`` policy starts the task again (its ``started_at`` changes), and
one by :meth:`~mc.flows.flow_engine.FlowEngine.retry_flow` (``mc retry``)
resets its data, so it finds the FAILED child under the first attempt's key
and moves on to the next attempt.

Cancelling the parent (:meth:`~mc.flows.flow_engine.FlowEngine.cancel_flow`
with ``task_ctx={'flow_store': store}``, as ``mc cancel`` does) cancels the
running child too, and its children in turn. The child is leased first
(:meth:`~mc.store.FlowStore.leased`), waiting a few seconds, by the engine's
``sleep`` and ``clock``, for a runner that is ticking it, so that no
runner's tick of the child is thrown away; if the runner keeps it, the
parent's task records why in ``data['cancel_error']`` and the child runs on.

The task needs the store, which :class:`~mc.runner.FlowRunner` passes in
``task_ctx['flow_store']``. Every runner registers the type on its engine
(:func:`add_stored_flow_task_type`); a plain engine does not know it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from mc.errors import FlowExistsError, FlowLeasedError, FlowNotFoundError, StaleFlowError
from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.flows.statuses import COMPLETED, FAILED
from mc.flows.task_types.basic import task_param

logger = logging.getLogger(__name__)

# Child keys are UUIDs (version 5) in this namespace, named by parent, task and attempt.
_CHILD_KEY_NAMESPACE = uuid.UUID("4f0c2a52-5a0e-4f39-9a55-6d635f666c6f")

# Cancelling a child leases it for this long, after waiting at most this long
# for a runner that holds it to save it.
_CHILD_LEASE_S = 60.0
_CHILD_LEASE_WAIT_S = 10.0


def child_flow_key(parent_key: str, task_key: str, attempt: int) -> str:
    """Return the key of the child flow that attempt ``attempt`` of a task creates."""
    return str(uuid.uuid5(_CHILD_KEY_NAMESPACE, f"{parent_key}/{task_key}/{attempt}"))


def stored_flow_task(task_ctx: dict[str, Any]) -> None:
    """Run ``task_params.flow_spec`` as a child flow in the store, and wait for it.

    Completes when the child COMPLETES, with the child's data in
    ``task['data']['flow_data']``; fails when the child FAILS. See the module
    docstring.
    """
    task = task_ctx["task"]
    flow: Flow = task_ctx["flow"]
    store = task_ctx.get("flow_store")
    if store is None:
        raise ValueError(
            f"task {task['key']!r}: a stored_flow task needs a flow store in "
            "task_ctx['flow_store']; run its flow with a FlowRunner (mc runner)"
        )
    data = task["data"]
    child_key = data.get("child_key")
    if child_key is None or data.get("child_started_at") != task.get("started_at"):
        _create_child(store, flow, task)
        return
    try:
        record = store.get_record(child_key)
    except FlowNotFoundError:
        task["status"] = FAILED
        task["error"] = f"stored subflow {child_key!r} is no longer in the store"
        return
    if record.parent_key != flow.key:
        # Never read (or, on cancel, stop) a flow this one did not create.
        task["status"] = FAILED
        task["error"] = f"flow {child_key!r} is not a subflow of {flow.key!r}; it was left alone"
        return
    if record.status == COMPLETED:
        child = store.get_flow(child_key)
        data["flow_data"] = child.data
        task["status"] = COMPLETED
    elif record.status == FAILED:
        reasons: list[str] = []
        if record.error:
            reasons.append(record.error)
        else:
            try:
                reasons.extend(store.get_flow(child_key).data.get("errors") or [])
            except Exception as error:  # the child's own record says why it failed
                reasons.append(str(error))
        task["status"] = FAILED
        task["error"] = f"stored subflow {child_key!r} FAILED" + "".join(
            f"\n  {line}" for line in reasons
        )


def _create_child(store: Any, flow: Flow, task: dict[str, Any]) -> None:
    data = task["data"]
    spec = task_param(task, "flow_spec", dict)
    attempt = int(data.get("attempt", 0))
    while True:
        attempt += 1
        child_key = child_flow_key(flow.key, task["key"], attempt)
        child = Flow.from_flow_spec({**spec, "key": child_key})
        child.parent_key = flow.key
        child.depth = flow.depth + 1
        try:
            store.create_flow(child)
        except FlowExistsError:
            record = store.get_record(child_key)
            if record.parent_key != flow.key:
                raise ValueError(
                    f"task {task['key']!r}: flow {child_key!r} is in the store but belongs "
                    f"to parent {record.parent_key!r}, not {flow.key!r}"
                ) from None
            if record.status == FAILED:
                continue  # an earlier attempt's child: this is a retry
            # Created by an earlier tick whose parent was never saved (a crash).
            logger.info(
                "flow %s task %s: adopted stored subflow %s", flow.key, task["key"], child_key
            )
        else:
            logger.info(
                "flow %s task %s: created stored subflow %s", flow.key, task["key"], child_key
            )
        break
    data.update(child_key=child_key, attempt=attempt, child_started_at=task.get("started_at"))


def cancel_stored_child(task_ctx: dict[str, Any]) -> None:
    """Cancel hook of ``stored_flow``: cancel the task's child flow in the store, if running."""
    store = task_ctx.get("flow_store")
    child_key = (task_ctx["task"].get("data") or {}).get("child_key")
    if store is None or child_key is None:
        return
    engine = task_ctx.get("flow_engine")
    if engine is None:
        with FlowEngine() as own_engine:
            add_stored_flow_task_type(own_engine)
            _cancel_child(store, own_engine, child_key, task_ctx)
        return
    _cancel_child(store, engine, child_key, task_ctx)


def _cancel_child(store: Any, engine: FlowEngine, child_key: str, task_ctx: dict[str, Any]) -> None:
    """Lease the child, cancel it, save it: a runner ticking it meanwhile would lose its tick."""
    parent_key = task_ctx["flow"].key
    holder = f"cancel of parent {parent_key} {uuid.uuid4().hex[:8]}"
    # A task's data is not trusted: a child_key naming a flow that is not
    # this parent's child is neither leased nor cancelled.
    if store.get_record(child_key).parent_key != parent_key:
        raise ValueError(
            f"stored flow {child_key!r} is not a subflow of {parent_key!r}: not cancelled"
        )
    # The engine's sleep and clock, so that an engine with fake time waits in fake time.
    leased = store.leased(
        child_key,
        holder,
        lease_s=_CHILD_LEASE_S,
        wait_s=_CHILD_LEASE_WAIT_S,
        sleep=engine.sleep,
        clock=engine.clock,
    )
    try:
        with leased as child:
            if not child.finished:
                engine.cancel_flow(
                    child, f"parent flow {parent_key} was cancelled", task_ctx={"flow_store": store}
                )
                store.save_flow(child)
    except FlowLeasedError as error:
        raise StaleFlowError(
            child_key,
            f"not cancelled: runner {error.lease_owner} kept it leased for "
            f"{_CHILD_LEASE_WAIT_S:g} s; cancel it once that runner has saved it",
        ) from None


stored_flow_task.cancel_task = cancel_stored_child  # type: ignore[attr-defined]


def add_stored_flow_task_type(engine: FlowEngine) -> None:
    """Register ``stored_flow`` on ``engine``, unless it already has that task type."""
    if "stored_flow" not in engine.task_type_registry:
        engine.register_task_type("stored_flow", stored_flow_task)
