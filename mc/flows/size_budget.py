"""A flow's size budget: a cap on how large the JSON of a flow may grow.

A spec is untrusted, and a few ``wire`` steps that each copy the flow's data
into itself double it every time: 2 KB of spec can grow a flow to gigabytes,
until the runner is killed for lack of memory. So every flow has a budget,
``FlowEngine(max_flow_bytes=...)`` (default :data:`DEFAULT_MAX_FLOW_BYTES`,
64 MiB; ``--max-flow-mb`` on ``mc run`` and ``mc runner``), checked at a cost
proportional to what a task writes, never by serializing the whole flow on a
tick:

* ``Flow.json_size_estimate`` is the flow's JSON size when it was last
  measured for free (from the rows a :class:`~mc.store.FlowStore` read when
  it loaded the flow, adjusted by the rows each incremental save wrote; the
  text :meth:`~mc.flows.flow.Flow.to_json` made; 0 for a new flow), plus the
  size of every value a task has written into it since
  (:func:`charge_write_bytes`, called by wirings). Overwriting a value counts
  again, so for what wirings write the estimate errs high, not low, until the next save measures
  the flow exactly.
* Every value copied for a task during one handler call (interpolated
  params, wiring sources, the items a ``spread`` maps) counts against the
  same budget (:func:`charge_copy`), so one call cannot build a huge value
  before it writes it: memory stays within about twice the budget.
* A subflow (``flow``, ``switch``, ``spread``) has the budget on its own:
  its JSON, measured each time its parent stores it, may not pass it. A
  child kept live between the parent's ticks (see
  :class:`~mc.flows.task_types.control.FlowTaskHandler`) is checked on each
  tick against its own estimate, which the parent's last save measured.

Past the budget the task that writes fails with a
:class:`~mc.errors.FlowSizeError` saying how large the flow would be; the
flow goes on by its usual rules (``fail_fast``, retries, trigger rules).
Nothing is added to a tick that copies and writes nothing: the meter of a
handler call is made on its first charge, in the task context that the
engine builds for that call (:func:`_meter`). A handler called by hand,
without an engine in its context, is not metered.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from mc.errors import FlowSizeError

__all__ = [
    "DEFAULT_MAX_FLOW_BYTES",
    "METER_KEY",
    "charge_copy",
    "charge_write_bytes",
    "check_subflow",
    "json_size",
]

#: The default budget of a flow's JSON, in bytes (64 MiB).
DEFAULT_MAX_FLOW_BYTES = 64 * 1024 * 1024


#: The task-context key under which one handler call's meter lives. Only the
#: engine's code sets it; a wiring may not write it.
METER_KEY = "size_meter"


class _SizeMeter:
    """What one handler call may still copy, and the flow it writes into."""

    __slots__ = ("flow", "max_bytes", "copied")

    def __init__(self, flow: Any, max_bytes: int) -> None:
        self.flow = flow
        self.max_bytes = max_bytes
        self.copied = 0

    def charge_copy(self, num_bytes: int) -> None:
        """Count ``num_bytes`` copied during the current handler call."""
        self.copied += num_bytes
        if self.copied > self.max_bytes:
            raise FlowSizeError(
                f"the task copied {_mb(self.copied)} of data in one tick, more than the "
                f"flow's size budget of {_mb(self.max_bytes)}"
            )

    def charge_write(self, num_bytes: int) -> None:
        """Count ``num_bytes`` written into the flow."""
        if self.flow is None:
            return
        estimate = getattr(self.flow, "json_size_estimate", 0) + num_bytes
        if estimate > self.max_bytes:
            raise FlowSizeError(
                f"writing {_mb(num_bytes)} would grow flow {self.flow.key!r} to about "
                f"{_mb(estimate)} of JSON, past its size budget of {_mb(self.max_bytes)}"
            )
        self.flow.json_size_estimate = estimate


def _meter(task_ctx: Any) -> _SizeMeter | None:
    """Return the meter of the handler call that ``task_ctx`` belongs to.

    The engine builds a fresh task context for every handler call, so the
    meter, made here on first use and kept in the context, counts one call;
    a context copied for a wiring's items shares it. None without an engine
    in the context (a handler called by hand): then nothing is counted.
    """
    if task_ctx is None:
        return None
    found = task_ctx.get(METER_KEY)
    if type(found) is _SizeMeter:
        return found
    engine = task_ctx.get("flow_engine")
    max_bytes = getattr(engine, "max_flow_bytes", None)
    if max_bytes is None:
        return None
    made = _SizeMeter(task_ctx.get("flow"), max_bytes)
    with contextlib.suppress(TypeError):  # a read-only mapping: count this charge alone
        task_ctx[METER_KEY] = made
    return made


def charge_copy(task_ctx: Any, num_bytes: int) -> None:
    """Count ``num_bytes`` copied for the handler call of ``task_ctx``."""
    found = _meter(task_ctx)
    if found is not None:
        found.charge_copy(num_bytes)


def charge_write_bytes(task_ctx: Any, num_bytes: int) -> None:
    """Count ``num_bytes`` of JSON about to be written into the flow of ``task_ctx``.

    Raises :class:`~mc.errors.FlowSizeError`, before anything is written,
    if the flow would pass its budget. Measure the value with
    :func:`json_size`.
    """
    found = _meter(task_ctx)
    if found is not None:
        found.charge_write(num_bytes)


def check_subflow(task_ctx: Any, flow: Any) -> None:
    """Raise FlowSizeError if a subflow, just measured, is past the budget."""
    found = _meter(task_ctx)
    size = getattr(flow, "json_size_estimate", 0)
    if found is not None and size > found.max_bytes:
        raise FlowSizeError(
            f"subflow {flow.key!r} holds {_mb(size)} of JSON, past the size budget of "
            f"{_mb(found.max_bytes)}"
        )


def json_size(value: Any) -> int:
    """Return about how many bytes ``value`` takes as JSON (exact for ASCII text).

    Raises TypeError, ValueError or RecursionError if ``value`` is not JSON
    data (NaN and infinity included).
    """
    if isinstance(value, str):
        return len(value) + 2
    return len(json.dumps(value, allow_nan=False))


def _mb(num_bytes: int) -> str:
    return f"{num_bytes / 1024 / 1024:.1f} MiB"
