"""Events: what happens to a flow, told as it happens.

An engine made with ``FlowEngine(on_event=callback)`` (or a runner made with
``FlowRunner(on_event=callback)``) calls ``callback(event)`` with a
:class:`FlowEvent` at every transition:

``flow_started``
    a flow's first tick (status RUNNING);
``flow_ended``
    a flow COMPLETED or FAILED, or was cancelled (status: the flow's);
``task_started``
    a task became RUNNING, also on each retry (``attempt``);
``task_completed``
    a task COMPLETED (``cached_from``: ``FLOW/TASK``, the task whose cached
    result it took, on a hit of the task cache);
``task_failed``
    a task FAILED for good (``error``, ``attempt``);
``task_retrying``
    an attempt failed and the task waits to retry, PENDING (``error``,
    ``attempt``, ``retry_at``);
``task_skipped``
    a task can never run (SKIPPED);
``job_submitted``
    a ``job`` task submitted its job (status QUEUED; ``executor``,
    ``job_id``, ``job_dir``);
``job_state_changed``
    a poll found the job in a new state (status: the job's, such as
    RUNNING, COMPLETED, FAILED or LOST).

``job_id`` is the executor's id of the job: a SLURM job id or a Dask key
from submission on; for a local job, its process id, from the poll that
first sees it RUNNING (a local job that ends before any poll sees it run
has none).

Every event names the *top* flow (``flow_key``, ``flow_label``: the flow that
was ticked, not a subflow inside it) and, for task and job events, the task
by its path from the top flow: the task keys joined with ``/``, so the third
item of the spread ``sweep`` is ``sweep/evaluate_3`` and task ``b`` of the
subflow task ``sub`` is ``sub/b``. A stored subflow (``stored_flow``) is a
flow of its own in the store: its events name it. The task a ``switch``
chose runs inside the switch's ticks: it is told as the switch.

Events are told when the engine makes the change, before a runner saves the
flow. A runner whose save is refused (another runner took the flow over)
has told events of a tick that is thrown away; the work is done again, and
told again: like the work, an event comes at least once. A callback that
raises is logged and otherwise ignored: watching a flow never breaks it.

With no callback, the engine does no work for events.

This module imports nothing outside the standard library.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import threading
import unicodedata
from collections.abc import Callable
from typing import IO, Any

__all__ = [
    "json_line",
    "FLOW_STARTED",
    "FLOW_ENDED",
    "TASK_STARTED",
    "TASK_COMPLETED",
    "TASK_FAILED",
    "TASK_RETRYING",
    "TASK_SKIPPED",
    "JOB_SUBMITTED",
    "JOB_STATE_CHANGED",
    "TASK_PATH_SEPARATOR",
    "FlowEvent",
    "iso_time",
    "EventCallback",
    "call_all",
    "JsonLinesEventWriter",
]

FLOW_STARTED = "flow_started"
FLOW_ENDED = "flow_ended"
TASK_STARTED = "task_started"
TASK_COMPLETED = "task_completed"
TASK_FAILED = "task_failed"
TASK_RETRYING = "task_retrying"
TASK_SKIPPED = "task_skipped"
JOB_SUBMITTED = "job_submitted"
JOB_STATE_CHANGED = "job_state_changed"

_EVENT_NAMES = (
    FLOW_STARTED,
    FLOW_ENDED,
    TASK_STARTED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_RETRYING,
    TASK_SKIPPED,
    JOB_SUBMITTED,
    JOB_STATE_CHANGED,
)

TASK_PATH_SEPARATOR = "/"


@dataclasses.dataclass(frozen=True)
class FlowEvent:
    """One thing that happened to a flow or one of its tasks.

    ``time`` is epoch seconds (the engine's clock); ``event`` one of
    :data:`_EVENT_NAMES`; ``flow_key`` and ``flow_label`` name the top flow;
    ``task_key`` is the task's ``/`` path from the top flow (None for flow
    events); ``status`` the new status (see the module docstring). The
    other fields are set where they apply, and None otherwise.
    """

    time: float
    event: str
    flow_key: str
    flow_label: str | None
    task_key: str | None = None
    status: str | None = None
    error: str | None = None
    attempt: int | None = None
    retry_at: float | None = None
    executor: str | None = None
    job_id: str | None = None
    job_dir: str | None = None
    cached_from: str | None = None

    @property
    def is_task_event(self) -> bool:
        """True for events about a task (or its job), False for flow events."""
        return self.task_key is not None

    def to_json_dict(self) -> dict[str, Any]:
        """Return the event as JSON types: times in ISO 8601 (UTC), unset fields left out.

        The fields ``time``, ``event``, ``flow_key``, ``flow_label``,
        ``task_key`` and ``status`` are always present (null where unset).
        """
        result: dict[str, Any] = {
            "time": iso_time(self.time),
            "event": self.event,
            "flow_key": self.flow_key,
            "flow_label": self.flow_label,
            "task_key": self.task_key,
            "status": self.status,
        }
        for name in ("error", "attempt", "executor", "job_id", "job_dir", "cached_from"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        if self.retry_at is not None:
            result["retry_at"] = iso_time(self.retry_at)
        return result


def iso_time(epoch_s: float) -> str:
    """Return epoch seconds as an ISO 8601 UTC time with milliseconds."""
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


EventCallback = Callable[[FlowEvent], Any]


def call_all(*callbacks: EventCallback | None) -> EventCallback | None:
    """Return one callback that calls each given one in turn (None if none is given)."""
    present = [callback for callback in callbacks if callback is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def call(event: FlowEvent) -> None:
        for callback in present:
            callback(event)

    return call


# What JSON leaves raw with ensure_ascii=False and a terminal must not get raw
# (``tail -f`` of an events file): C1 controls and DEL, format characters (the
# bidirectional overrides), line and paragraph separators, lone surrogates.
_ESCAPED_IN_JSON = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def json_line(value: Any) -> str:
    """Return ``value`` as one line of JSON: readable text, control characters as ``\\uXXXX``.

    Labels, keys and errors come from specs; escaped, they cannot drive the
    terminal of someone who runs ``tail -f`` on the file, and a lone
    surrogate cannot make the write fail. ``json.loads`` reads back the
    same value.
    """
    line = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if line.isprintable():
        return line
    return "".join(
        _json_escape(char) if unicodedata.category(char) in _ESCAPED_IN_JSON else char
        for char in line
    )


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # Past the BMP (a tag character): JSON writes a UTF-16 surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


class JsonLinesEventWriter:
    """An event callback that appends each event to a file as one line of JSON.

    ``JsonLinesEventWriter(path)`` opens ``path`` for appending (creating
    it); each line is :meth:`FlowEvent.to_json_dict` and is flushed at once,
    so ``tail -f`` shows events as they come. Safe to call from several
    threads. Close it (or use ``with``) when done.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._lock = threading.Lock()

    def __call__(self, event: FlowEvent) -> None:
        """Append ``event`` as one JSON line."""
        line = json_line(event.to_json_dict())
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> JsonLinesEventWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
