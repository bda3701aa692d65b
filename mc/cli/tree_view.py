"""``mc show``'s picture of a flow tree (:mod:`mc.flows.tree`) on a terminal or in a file.

On a terminal, with ``rich`` installed, the tree is drawn by ``rich`` with
statuses in colour. Anywhere else it is plain text, one task per line plus
indented detail lines, with tree guides (``├──``, ``└──``; ASCII ``|--``
and ```--`` when the output's encoding has no box characters), so that a
log file or a pipe to ``grep`` reads as well. Every string that comes from
the flow is escaped (:func:`mc.cli.terminal.printable`) before it is shown.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, TextIO

from mc.cli.terminal import printable
from mc.flows.tree import FlowTree, TaskNode

# The colour rich gives each status.
STATUS_STYLES = {
    "PENDING": "dim",
    "RUNNING": "bold blue",
    "COMPLETED": "green",
    "FAILED": "bold red",
    "SKIPPED": "yellow",
}

# A line is a list of (text, style) segments; style None is plain.
Segment = tuple[str, "str | None"]
Line = list[Segment]


def node_lines(node: TaskNode, now: float) -> list[Line]:
    """Return what is shown of one task: a summary line, then detail lines."""
    summary: Line = [(printable(node.path), "bold"), ("  ", None)]
    summary.append((printable(node.status), STATUS_STYLES.get(node.status)))
    summary.append((f"  {printable(node.task_type)}", None))
    if node.kind == "proxied":
        summary.append((" (proxied)", "dim"))
    if node.label:
        summary.append((f"  [{printable(node.label)}]", "dim"))
    if node.attempts:
        summary.append((f"  {node.attempts} attempt{'s' if node.attempts != 1 else ''}", None))
    if node.duration_s is not None:
        summary.append((f"  {format_duration(node.duration_s)}", None))
    elif node.started_at is not None and node.status == "RUNNING":
        summary.append((f"  running {format_duration(max(0.0, now - node.started_at))}", None))
    if node.retry_at is not None:
        summary.append((f"  retry at {format_time(node.retry_at)}", None))
    lines = [summary]
    if node.started_at is not None:
        times = f"started {format_time(node.started_at)}"
        if node.finished_at is not None:
            times += f", finished {format_time(node.finished_at, node.started_at)}"
        lines.append([(times, "dim")])
    job = [
        f"{name} {printable(value)}"
        for name, value in (
            ("executor", node.executor),
            ("job id", node.job_id),
            ("job status", node.job_status),
            ("job dir", node.job_dir),
        )
        if value is not None
    ]
    if job:
        lines.append([(", ".join(job), None)])
    if node.subflow_key is not None:
        kind = "stored subflow" if node.subflow_stored else "subflow"
        text = f"{kind} {printable(node.subflow_key)}"
        if node.subflow_label:
            text += f" ({printable(node.subflow_label)})"
        if node.subflow_status:
            text += f": {printable(node.subflow_status)}"
        lines.append([(text, "dim")])
    if node.error:
        lines.append([("error: ", "red"), (printable(node.error), None)])
    return lines


def flow_header(tree: FlowTree) -> str:
    """The first line of ``mc show``: key, label and status."""
    label = printable(tree.label) if tree.label else "no label"
    return f"flow {printable(tree.key)} ({label}): {printable(tree.status)}"


def format_flow_tree(tree: FlowTree, now: float, unicode: bool = True) -> str:
    """Return the tasks of ``tree`` as plain text lines with tree guides."""
    branch, last, pipe, space = (
        ("├── ", "└── ", "│   ", "    ") if unicode else ("|-- ", "`-- ", "|   ", "    ")
    )
    out: list[str] = []

    def draw(nodes: Sequence[TaskNode], indent: str) -> None:
        for i, node in enumerate(nodes):
            is_last = i == len(nodes) - 1
            first, *details = node_lines(node, now)
            out.append(indent + (last if is_last else branch) + _plain(first))
            child_indent = indent + (space if is_last else pipe)
            detail_indent = child_indent + (pipe if node.children else space)
            out.extend(detail_indent + _plain(line) for line in details)
            draw(node.children, child_indent)

    draw(tree.tasks, "")
    return "\n".join(out)


def print_flow_tree(
    tree: FlowTree, out: TextIO, now: float, header_lines: Sequence[str] = ()
) -> None:
    """Print the flow's header, ``header_lines`` and its task tree to ``out``.

    Uses ``rich`` on a terminal when it is installed; plain text otherwise.
    """
    rich_tree = _rich_tree(tree, now, header_lines) if _is_terminal(out) else None
    if rich_tree is not None:
        from rich.console import Console

        Console(file=out, highlight=False, soft_wrap=False).print(rich_tree)
        return
    print(flow_header(tree), file=out)
    for line in header_lines:
        print(line, file=out)
    if tree.tasks:
        print(format_flow_tree(tree, now, unicode=_can_encode(out, "├──│└")), file=out)


def _rich_tree(tree: FlowTree, now: float, header_lines: Sequence[str]) -> Any:
    try:
        from rich.text import Text
        from rich.tree import Tree
    except ImportError:  # rich is optional: plain text then
        return None

    def text_of(lines: list[Line]) -> Any:
        text = Text()
        for number, line in enumerate(lines):
            if number:
                text.append("\n")
            for segment, style in line:
                text.append(segment, style=style or "")
        return text

    label = Text(f"flow {printable(tree.key)} ", style="bold")
    label.append(f"({printable(tree.label) if tree.label else 'no label'}): ")
    label.append(printable(tree.status), style=STATUS_STYLES.get(tree.status, ""))
    for line in header_lines:
        label.append("\n" + line, style="dim")
    root = Tree(label, guide_style="dim")

    def add(parent: Any, nodes: Sequence[TaskNode]) -> None:
        for node in nodes:
            add(parent.add(text_of(node_lines(node, now))), node.children)

    add(root, tree.tasks)
    return root


def _plain(line: Line) -> str:
    return "".join(segment for segment, _ in line)


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _can_encode(out: TextIO, sample: str) -> bool:
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def format_duration(seconds: float) -> str:
    """Return a duration as ``0.52s``, ``42s``, ``3m05s``, ``2h03m`` or ``1d02h``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_time(epoch_s: float, same_day_as: float | None = None) -> str:
    """Return local time as ``2026-11-30 08:10:01``; only the time on ``same_day_as``'s day."""
    moment = datetime.datetime.fromtimestamp(epoch_s)
    if (
        same_day_as is not None
        and moment.date() == datetime.datetime.fromtimestamp(same_day_as).date()
    ):
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")
