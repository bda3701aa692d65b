"""A flow's size budget: a cap on how large the JSON of a flow may grow.

A spec is untrusted, and a few ``wire`` steps that each copy the flow's data
into itself double it every time: 2 KB of spec can grow a flow to gigabytes,
until the runner is killed for lack of memory. So every flow has a budget,
``FlowEngine(max_flow_bytes=...)`` (default :data:`DEFAULT_MAX_FLOW_BYTES`,
64 MiB; ``--max-flow-mb`` on ``mc run`` and ``mc runner``), checked at a cost
proportional to what a task writes, never by serializing the whole flow on a
tick:

* ``Flow.json_size_estimate`` is the flow's JSON size when it was last
  measured for free (the store's text when it was loaded, the text
  :meth:`~mc.flows.flow.Flow.to_json` made when it was saved; 0 for a new
  flow), plus the size of every value a task has written into it since
  (:func:`charge_write_bytes`, called by wirings). Overwriting a value counts
  again, so the estimate errs high, never low, until the next save measures
  the flow exactly.
* Every value copied for a task during one handler call (interpolated
  params, wiring sources, the items a ``spread`` maps) counts against the
  same budget (:func:`charge_copy`), so one call cannot build a huge value
  before it writes it: memory stays within about twice the budget.
* A subflow (``flow``, ``switch``, ``spread``) has the budget on its own:
  its JSON, measured each time its parent stores it, may not pass it.

Past the budget the task that writes fails with a
:class:`~mc.errors.FlowSizeError` saying how large the flow would be; the
flow goes on by its usual rules (``fail_fast``, retries, trigger rules).
The engine activates a meter around each tick (:func:`start`); outside a
tick (a handler called by hand, a test) nothing is counted.
"""

from __future__ import annotations

import json
from contextvars import ContextVar, Token
from typing import Any

from mc.errors import FlowSizeError

#: The default budget of a flow's JSON, in bytes (64 MiB).
DEFAULT_MAX_FLOW_BYTES = 64 * 1024 * 1024


class SizeMeter:
    """What one tick of one flow may still write and copy."""

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


_meter: ContextVar[SizeMeter | None] = ContextVar("mc_flow_size_meter", default=None)


def start(flow: Any, max_bytes: int) -> Token[SizeMeter | None]:
    """Activate a meter for ``flow`` (the engine calls this around a tick); pass the
    returned token to :func:`stop`."""
    return _meter.set(SizeMeter(flow, max_bytes))


def stop(token: Token[SizeMeter | None]) -> None:
    """Restore the meter that was active before :func:`start`."""
    _meter.reset(token)


def new_handler_call() -> None:
    """Start counting copies afresh: each handler call may copy up to the budget."""
    meter = _meter.get()
    if meter is not None:
        meter.copied = 0


def charge_copy(num_bytes: int) -> None:
    """Count ``num_bytes`` copied for the task being ticked (no meter: nothing)."""
    meter = _meter.get()
    if meter is not None:
        meter.charge_copy(num_bytes)


def charge_write_bytes(num_bytes: int) -> None:
    """Count ``num_bytes`` of JSON about to be written into the flow being ticked.

    Raises :class:`~mc.errors.FlowSizeError`, before anything is written,
    if the flow would pass its budget. Measure the value with
    :func:`json_size`.
    """
    meter = _meter.get()
    if meter is not None:
        meter.charge_write(num_bytes)


def check_subflow(flow: Any) -> None:
    """Raise FlowSizeError if a subflow, just measured, is past the budget."""
    meter = _meter.get()
    size = getattr(flow, "json_size_estimate", 0)
    if meter is not None and size > meter.max_bytes:
        raise FlowSizeError(
            f"subflow {flow.key!r} holds {_mb(size)} of JSON, past the size budget of "
            f"{_mb(meter.max_bytes)}"
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
