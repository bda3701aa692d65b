"""What ``mc run`` and ``mc runner`` show while flows run.

Both are event callbacks (see :mod:`mc.flows.events`):

:class:`PlainProgress`
    one timestamped line per task state change (and per job state change,
    and per flow start and end), naming the flow's label, the first 8
    characters of its key, the task's path and its new status::

        2026-11-30T08:20:33 sweep 236f41ea sweep/evaluate_3 COMPLETED

    For pipes, files and CI logs: every line stands alone and greps well.
:class:`LiveProgress`
    a display that ``rich`` redraws in place on a terminal: the tasks by
    status, the running tasks with their elapsed time, and the jobs by
    executor and state. Failures and retries are also printed as lines
    above it, so they stay on screen after the display is gone.

Keys, labels and errors come from specs and handlers: control characters
are replaced before they reach a terminal, and ``rich`` never reads them as
markup (they are passed as :class:`rich.text.Text`).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from mc.cli.terminal import printable
from mc.flows import events
from mc.flows.events import FlowEvent
from mc.flows.flow import Flow
from mc.flows.statuses import COMPLETED, FAILED, PENDING, RUNNING, SKIPPED

__all__ = [
    "STATUS_STYLES",
    "flow_tag",
    "format_event_line",
    "PlainProgress",
    "TaskBoard",
    "LiveProgress",
    "board_for_flow",
    "task_table",
    "task_duration",
]

_KEY_PREFIX_LENGTH = 8
_STATUS_ORDER = (PENDING, RUNNING, COMPLETED, FAILED, SKIPPED)
STATUS_STYLES = {
    PENDING: "dim",
    RUNNING: "cyan",
    COMPLETED: "green",
    FAILED: "bold red",
    SKIPPED: "yellow",
}
# How many running tasks the live display lists before it says "and N more".
_MAX_RUNNING_SHOWN = 12


def flow_tag(flow_key: str, flow_label: str | None) -> str:
    """Return how a line names a flow: its label (or ``-``) and its key's first 8 characters."""
    return f"{printable(flow_label or '-')} {printable(flow_key[:_KEY_PREFIX_LENGTH])}"


def _stamp(epoch_s: float) -> str:
    return datetime.datetime.fromtimestamp(epoch_s).isoformat(timespec="seconds")


def _describe_event(event: FlowEvent) -> str:
    """Return what an event says, after the flow's tag: task path, status and details."""
    status = printable(event.status or "")
    if event.task_key is None:
        text = f"flow {status}"
        if event.error:
            text += f": {printable(event.error)}"
        return text
    path = printable(event.task_key)
    if event.event == events.JOB_SUBMITTED:
        text = f"{path} job {status} on {printable(event.executor)}"
        if event.job_id:
            text += f" (job {printable(event.job_id)})"
        return text
    if event.event == events.JOB_STATE_CHANGED:
        text = f"{path} job {status}"
        if event.job_id and event.status == "RUNNING":
            # A local job's pid is known only once it runs: say it then.
            text += f" (job {printable(event.job_id)})"
        return text
    text = f"{path} {status}"
    if event.event == events.TASK_RETRYING:
        text += f" (attempt {event.attempt} failed, retrying"
        if event.retry_at is not None:
            text += f" at {_stamp(event.retry_at)}"
        text += ")"
    elif event.event == events.TASK_STARTED and event.attempt and event.attempt > 1:
        text += f" (attempt {event.attempt})"
    elif event.event == events.TASK_COMPLETED and event.cached_from:
        text += f" (cached from {printable(event.cached_from)})"
    if event.error and event.event in (events.TASK_FAILED, events.TASK_RETRYING):
        text += f": {printable(event.error)}"
    return text


def format_event_line(event: FlowEvent) -> str:
    """Return the timestamped line :class:`PlainProgress` prints for ``event``."""
    tag = flow_tag(event.flow_key, event.flow_label)
    return f"{_stamp(event.time)} {tag} {_describe_event(event)}"


class PlainProgress:
    """An event callback that prints :func:`format_event_line` to ``out``, one flushed line each.

    With ``flow_events`` false, flow starts and ends are left out.
    """

    def __init__(self, out: TextIO, flow_events: bool = True) -> None:
        self.out = out
        self.flow_events = flow_events
        self._lock = threading.Lock()

    def __call__(self, event: FlowEvent) -> None:
        """Print the event's line."""
        if event.task_key is None and not self.flow_events:
            return
        line = format_event_line(event)
        with self._lock:
            print(line, file=self.out, flush=True)


class TaskBoard:
    """What the live display knows: each task's status, the running tasks, the jobs.

    Fed by events; read by the display's refresh thread, hence the lock.
    ``tasks`` seeds the statuses (a flow's top-level tasks, PENDING at first).
    With ``many_flows`` (a runner's board), tasks are named with their flow,
    and a flow's tasks and jobs leave the board when it ends, so that a
    runner that runs for months holds only the flows it is ticking.
    """

    def __init__(self, tasks: Iterable[tuple[str, str]] = (), many_flows: bool = False) -> None:
        self.lock = threading.Lock()
        self.many_flows = many_flows
        # (flow key, task path) -> status, running since, (executor, job state)
        self.status_of: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()
        self.running_since: dict[tuple[str, str], float] = {}
        self.jobs: dict[tuple[str, str], tuple[str, str]] = {}
        self.names: dict[str, str] = {}
        # flow key -> (label, status), in the order flows were first seen
        self.flows: dict[str, tuple[str | None, str]] = {}
        for path, status in tasks:
            self.status_of[("", path)] = status
            self.counts[status] += 1

    def update(self, event: FlowEvent) -> None:
        """Take in one event."""
        with self.lock:
            flow_key = event.flow_key if self.many_flows else ""
            if event.task_key is None:
                self.flows[event.flow_key] = (event.flow_label, event.status or "")
                if self.many_flows and event.event == events.FLOW_ENDED:
                    self._forget(flow_key)
                return
            self.flows.setdefault(event.flow_key, (event.flow_label, RUNNING))
            self.names.setdefault(flow_key, flow_tag(event.flow_key, event.flow_label))
            task = (flow_key, event.task_key)
            if event.event.startswith("job_"):
                self.jobs[task] = (event.executor or "?", event.status or "?")
                return
            old = self.status_of.get(task)
            if old is not None:
                self.counts[old] -= 1
            new = event.status or "?"
            self.status_of[task] = new
            self.counts[new] += 1
            if new == RUNNING:
                self.running_since[task] = event.time
            else:
                self.running_since.pop(task, None)

    def _forget(self, flow_key: str) -> None:
        for table in (self.status_of, self.running_since, self.jobs):
            for task in [task for task in table if task[0] == flow_key]:
                value = table.pop(task)
                if table is self.status_of:
                    self.counts[value] -= 1  # type: ignore[index]
        self.names.pop(flow_key, None)

    def snapshot(self) -> tuple[dict[str, int], list[tuple[str, float]], Counter[tuple[str, str]]]:
        """Return the counts by status, the running tasks (oldest first), and jobs.

        Jobs are counted by (executor, state).
        """
        with self.lock:
            counts = dict(self.counts)
            running = [
                (f"{self.names[flow]} {path}" if self.many_flows else path, since)
                for (flow, path), since in sorted(
                    self.running_since.items(), key=lambda item: item[1]
                )
            ]
            jobs = Counter(self.jobs.values())
        return counts, running, jobs


def _render_board(title: str, board: TaskBoard, now: float | None = None) -> Any:
    """Return a rich renderable of ``board``: counts, running tasks with elapsed time, jobs."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    now = time.time() if now is None else now
    counts, running, jobs = board.snapshot()
    header = Text(title, style="bold")
    line = Text("tasks: ")
    for status in _STATUS_ORDER:
        line.append(f"{status} {counts.get(status, 0)}", style=STATUS_STYLES[status])
        line.append("  ")
    parts: list[Any] = [header, line]
    if jobs:
        job_line = Text("jobs: ")
        for (executor, state), number in sorted(jobs.items()):
            job_line.append(f"{printable(executor)} {printable(state)} {number}  ")
        parts.append(job_line)
    if running:
        table = Table(box=None, show_header=True, pad_edge=False)
        table.add_column("RUNNING TASK")
        table.add_column("ELAPSED", justify="right")
        for path, since in running[:_MAX_RUNNING_SHOWN]:
            table.add_row(Text(printable(path)), _format_elapsed(now - since))
        parts.append(table)
        if len(running) > _MAX_RUNNING_SHOWN:
            parts.append(Text(f"... and {len(running) - _MAX_RUNNING_SHOWN} more running"))
    return Group(*parts)


def _format_elapsed(seconds: float) -> str:
    """Return a duration as ``12s``, ``3m04s`` or ``2h05m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LiveProgress:
    """An event callback that feeds a :class:`TaskBoard` shown live with ``rich``.

    Use as a context manager around the run: the display starts on entry
    and is removed on exit (print the final table after it). ``title`` heads
    the display; failures and retries are printed above it as lines (every
    event's line, with ``all_lines``).
    """

    def __init__(self, console: Any, title: str, board: TaskBoard, all_lines: bool = False) -> None:
        from rich.live import Live

        self.console = console
        self.title = title
        self.board = board
        self.all_lines = all_lines
        self.live = Live(
            console=console, refresh_per_second=4, transient=True, get_renderable=self._render
        )

    def _render(self) -> Any:
        return _render_board(self.title, self.board)

    def __call__(self, event: FlowEvent) -> None:
        """Take in one event; print failures and retries above the display."""
        from rich.text import Text

        self.board.update(event)
        if (
            self.all_lines
            or event.event in (events.TASK_FAILED, events.TASK_RETRYING)
            or (event.event == events.FLOW_ENDED and event.task_key is None)
        ):
            style = "red" if event.status == FAILED else ""
            self.console.print(Text(format_event_line(event), style=style))

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.live.stop()


def board_for_flow(flow: Flow) -> TaskBoard:
    """Return a board seeded with ``flow``'s top-level tasks and their statuses."""
    return TaskBoard((key, task["status"]) for key, task in flow.tasks.items())


def task_table(flow: Flow) -> Any:
    """Return a rich table of the flow's tasks: key, type, status, duration."""
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for name in ("TASK", "TYPE", "STATUS", "DURATION"):
        table.add_column(name)
    for key, task in flow.tasks.items():
        table.add_row(
            Text(printable(key)),
            Text(printable(task["task_type"])),
            Text(task["status"], style=STATUS_STYLES.get(task["status"], "")),
            task_duration(task),
        )
    return table


def task_duration(task: dict[str, Any]) -> str:
    """Return a task's duration for the task tables.

    ``cached`` (its result came from the task cache), ``-`` (never
    started), ``running`` or seconds (``1.234s``).
    """
    if "cached_from" in task:
        return "cached"
    started, finished = task.get("started_at"), task.get("finished_at")
    if started is None:
        return "-"
    if finished is None:
        return "running"
    return f"{finished - started:.3f}s"
