"""``mc logs KEY [TASK] [-f]``: what a stored flow's tasks printed, and their jobs' output.

A task's output comes from up to three files:

* its task log, ``<logs root>/<flow key>/<task path>.log``: what its handler
  printed or logged while a runner ticked it (see :mod:`mc.flows.task_logs`);
* for a job, ``stdout.txt`` and ``stderr.txt`` in its job dir (the dir the
  engine recorded in the task's ``data['job_dir']``; a dir without the
  ``job.json`` that mc writes into every job dir is not read).

Tasks are named by their path from the top flow (``sweep/evaluate_3``).
``TASK`` picks one task and everything under it (``sweep`` shows the spread
task and each of its items). When more than one task can be shown, every
line starts with the task's path (``sweep/evaluate_3 |``, and ``stderr |``
for a job's standard error). One task's files are shown one after the
other under ``==> name <==`` headers, as ``tail`` does.

``-f`` follows: it prints what is there, then what is added, as ``tail -f``
does, also for tasks and jobs that start later; it returns once the flow
has ended and everything is printed (or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mc.cli.arguments import positive_float
from mc.cli.terminal import printable
from mc.flows.events import TASK_PATH_SEPARATOR
from mc.flows.statuses import FlowStatus
from mc.flows.task_logs import default_logs_root, task_log_path

if TYPE_CHECKING:
    from mc.store.flow_store import FlowStore

EXIT_OK = 0
EXIT_BAD_INPUT = 2
# Job dir files, as mc.jobs.constants names them (not imported: mc.cli does
# not need mc.jobs to show logs).
_JOB_META_FILE = "job.json"
_JOB_OUTPUT_FILES = (("stdout.txt", "stdout"), ("stderr.txt", "stderr"))


def add_logs_command(commands: Any) -> None:
    """Add ``logs`` to the subcommands ``commands``."""
    from mc.cli.store_commands import _add_db, _with_store

    logs = commands.add_parser(
        "logs", help="show what a flow's tasks printed, and their jobs' stdout and stderr"
    )
    logs.add_argument("key", help="the flow's key")
    logs.add_argument(
        "task",
        nargs="?",
        default=None,
        help="a task's path, e.g. sweep/evaluate_3 (default: every task); its subtasks too",
    )
    _add_db(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing what is added")
    logs.add_argument(
        "--logs-root",
        default=None,
        metavar="DIR",
        help="where the runner put task logs (default: $MC_LOGS_ROOT, else mc_logs)",
    )
    logs.add_argument(
        "--interval",
        type=positive_float,
        default=0.5,
        metavar="S",
        help="with -f, seconds between looks (default 0.5)",
    )
    logs.set_defaults(command=_with_store("logs", _logs))


def _resolve_flow_key(store: FlowStore, text: str) -> str:
    """Return the flow key that ``text`` names (today: ``text`` itself; the store checks it)."""
    return text


def walk_tasks(tasks: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, task)`` for every task, and the tasks of subflows and spreads under it."""
    for key, task in tasks.items():
        path = f"{prefix}{key}"
        yield path, task
        child = _child_flow(task)
        if child is not None:
            yield from walk_tasks(child["tasks"], f"{path}{TASK_PATH_SEPARATOR}")


def _child_flow(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The flow dict a ``flow`` task (or a proxy of one, as ``spread``) runs, if any."""
    for holder in (task, task.get("proxied_task")):
        if isinstance(holder, Mapping):
            data = holder.get("data")
            child = data.get("flow") if isinstance(data, Mapping) else None
            if isinstance(child, Mapping) and isinstance(child.get("tasks"), Mapping):
                return child
    return None


def _job_dir(task: Mapping[str, Any]) -> Path | None:
    """The task's job dir, if it has one that mc built (it holds ``job.json``)."""
    data = task.get("data")
    job_dir = data.get("job_dir") if isinstance(data, Mapping) else None
    if not isinstance(job_dir, str) or not job_dir:
        return None
    path = Path(job_dir)
    return path if (path / _JOB_META_FILE).is_file() else None


@dataclass
class _Source:
    """One file shown: where it is, how its lines are labelled, how far it was read."""

    path: Path
    task_path: str
    label: str
    offset: int = 0
    partial: bytes = field(default=b"")


def _sources(flow_key: str, path: str, task: Mapping[str, Any], logs_root: str) -> list[_Source]:
    sources = [_Source(task_log_path(logs_root, flow_key, path), path, path)]
    job_dir = _job_dir(task)
    if job_dir is not None:
        for name, stream in _JOB_OUTPUT_FILES:
            label = path if stream == "stdout" else f"{path} {stream}"
            sources.append(_Source(job_dir / name, path, label))
    return sources


def _select(
    tasks: list[tuple[str, dict[str, Any]]], wanted: str | None
) -> list[tuple[str, dict[str, Any]]]:
    if wanted is None:
        return tasks
    return [
        (path, task)
        for path, task in tasks
        if path == wanted or path.startswith(wanted + TASK_PATH_SEPARATOR)
    ]


class _Printer:
    """Prints new lines of sources: prefixed with their label, or under a header per file."""

    def __init__(self, prefixed: bool | None) -> None:
        # None: decided on the first tasks seen (see _shows_several).
        self.prefixed = prefixed
        self.last_header: str | None = None

    def show(self, source: _Source, final: bool) -> None:
        try:
            with open(source.path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < source.offset:
                    # The file was cut (a task log keeps its last megabyte): start over.
                    source.offset, source.partial = 0, b""
                file.seek(source.offset)
                data = file.read()
        except FileNotFoundError:
            return
        source.offset += len(data)
        data = source.partial + data
        lines = data.split(b"\n")
        source.partial = lines.pop()
        if final and source.partial:
            lines.append(source.partial)
            source.partial = b""
        if not lines:
            return
        out = sys.stdout
        if not self.prefixed and self.last_header != str(source.path):
            out.write(f"==> {printable(source.task_path)}: {source.path.name} <==\n")
            self.last_header = str(source.path)
        for raw in lines:
            line = _clean_line(raw.decode("utf-8", errors="replace"))
            out.write(f"{printable(source.label)} | {line}\n" if self.prefixed else f"{line}\n")
        out.flush()


# Task types whose task runs other tasks, which appear under it later.
_PARENT_TASK_TYPES = frozenset({"flow", "spread", "switch"})


def _shows_several(selected: list[tuple[str, dict[str, Any]]]) -> bool:
    """True if the lines shown may come from several tasks, so each needs its task's path."""
    return len(selected) > 1 or selected[0][1].get("task_type") in _PARENT_TASK_TYPES


def _clean_line(text: str) -> str:
    # Tabs stay; other control characters (escape sequences) never reach the terminal.
    return printable(text.replace("\t", "    ").rstrip("\r"))


def _logs(args: argparse.Namespace, store: FlowStore) -> int:
    key = _resolve_flow_key(store, args.key)
    logs_root = args.logs_root or default_logs_root()
    flow_dict = store.get_flow(key).to_flow_dict()
    tasks = _select(list(walk_tasks(flow_dict["tasks"])), args.task)
    # Followed, a task of a running flow may not exist yet (a spread's items).
    may_come = args.follow and flow_dict["status"] not in FlowStatus.FINISHED
    if args.task is not None and not tasks and not may_come:
        known = [path for path, _ in walk_tasks(flow_dict["tasks"])]
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        print(f"mc logs: flow {key!r} has no task {args.task!r} (tasks: {shown})", file=sys.stderr)
        return EXIT_BAD_INPUT
    printer = _Printer(prefixed=None if args.task is not None else True)
    sources: dict[tuple[str, str], _Source] = {}

    def look(flow_dict: Mapping[str, Any], final: bool) -> None:
        selected = _select(list(walk_tasks(flow_dict["tasks"])), args.task)
        if printer.prefixed is None and selected:
            printer.prefixed = _shows_several(selected)
        for path, task in selected:
            for source in _sources(key, path, task, logs_root):
                known = sources.setdefault((source.label, str(source.path)), source)
                printer.show(known, final)

    if not args.follow:
        look(flow_dict, final=True)
        return EXIT_OK
    try:
        while True:
            ended = store.get_record(key).status in FlowStatus.FINISHED
            flow_dict = store.get_flow(key).to_flow_dict()
            look(flow_dict, final=ended)
            if ended:
                return EXIT_OK
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return EXIT_OK
