"""``mc logs KEY [TASK] [-f]``: what a stored flow's tasks printed, and their jobs' output.

A task's output comes from up to four files:

* its task log, ``<logs root>/<flow key>/<task path>.log``: what its handler
  printed or logged while a runner ticked it (see :mod:`mc.flows.task_logs`);
* for a job, ``stdout.txt`` and ``stderr.txt`` in its job dir (the dir the
  engine recorded in the task's ``task['job']``, which no spec can write; a
  dir without the ``job.json`` that mc writes into every job dir is not
  read);
* for a SLURM job, the scheduler's log of its latest submission,
  ``slurm-<job id>.out`` in its job dir: what ``slurmstepd`` says when it
  cancels the job at its time limit or kills it for its memory (see
  :func:`mc.flows.task_logs.scheduler_log_file`). Its lines are labelled
  ``scheduler``; a job that has none (a local or Dask job) shows nothing
  for it.

The flow is named by its key or a unique prefix of it, as for every
command (:func:`mc.cli.store_commands.resolve_flow_key`). Tasks are named
by their path from the top flow (``sweep/evaluate_3``), exactly as ``mc
show`` prints them: both walk the same tree (:func:`mc.flows.tree.build_flow_tree`).
``TASK`` picks one task and everything under it (``sweep`` shows the spread
task and each of its items). A task of a stored subflow (``stored_flow``)
has its log under that flow's key; the task a ``switch`` chose runs inside
the switch's ticks, so its log is the switch's. When more than one task
can be shown, every line starts with the task's path
(``sweep/evaluate_3 |``, and ``stderr |`` for a job's standard error,
``scheduler |`` for its scheduler log). One task's files are shown one
after the other under ``==> name <==`` headers, as ``tail`` does.

``-f`` follows: it prints what is there, then what is added, as ``tail -f``
does, also for tasks and jobs that start later and for a scheduler log
that appears later (a job's first, or a resubmitted job's); it returns
once the flow has ended and everything is printed (or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mc.cli.arguments import positive_duration
from mc.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from mc.cli.terminal import printable
from mc.flows.statuses import FlowStatus
from mc.flows.task_logs import (
    TASK_LOG,
    LogTask,
    default_logs_root,
    log_tasks,
    open_regular,
    task_output_files,
)
from mc.flows.tree import PATH_SEPARATOR, build_flow_tree, stored_flow_loader

if TYPE_CHECKING:
    from mc.store.flow_store import FlowStore

__all__ = ["add_logs_command"]


def add_logs_command(commands: Any) -> None:
    """Add ``logs`` to the subcommands ``commands``."""
    from mc.cli.store_commands import add_db_option, with_store

    logs = commands.add_parser(
        "logs",
        help="show what a flow's tasks printed, and their jobs' stdout, stderr and scheduler log",
    )
    logs.add_argument("key", help="the flow's key, or a unique prefix of it")
    logs.add_argument(
        "task",
        nargs="?",
        default=None,
        help="a task's path as mc show prints it, e.g. sweep/evaluate_3 (default: every task); "
        "its subtasks too",
    )
    add_db_option(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing what is added")
    logs.add_argument(
        "--logs-root",
        default=None,
        metavar="DIR",
        help="where the runner put task logs (default: $MC_LOGS_ROOT, else mc_logs)",
    )
    logs.add_argument(
        "--interval",
        type=positive_duration,
        default=0.5,
        metavar="DURATION",
        help="with -f, how long between looks, as 0.5, 2s, 1m (default 0.5s)",
    )
    logs.set_defaults(command=with_store("logs", _logs))


@dataclass
class _Source:
    """One file shown: where it is, how its lines are labelled, how far it was read."""

    path: Path
    task_path: str
    label: str
    offset: int = 0
    partial: bytes = field(default=b"")


def _sources(task: LogTask, logs_root: str) -> list[_Source]:
    path = task.path
    sources = []
    for name, file in task_output_files(logs_root, task):
        label = path if name in (TASK_LOG, "stdout") else f"{path} {name}"
        sources.append(_Source(file, path, label))
    return sources


def _select(tasks: list[LogTask], wanted: str | None) -> list[LogTask]:
    if wanted is None:
        return tasks
    return [
        task
        for task in tasks
        if task.path == wanted or task.path.startswith(wanted + PATH_SEPARATOR)
    ]


class _Printer:
    """Prints new lines of sources: prefixed with their label, or under a header per file."""

    def __init__(self, prefixed: bool | None) -> None:
        # None: decided on the first tasks seen (see _shows_several).
        self.prefixed = prefixed
        self.last_header: str | None = None

    def show(self, source: _Source, final: bool) -> None:
        fd = open_regular(source.path)
        if fd is None:
            return
        with open(fd, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < source.offset:
                # The file was cut (a task log keeps its last megabyte): start over.
                source.offset, source.partial = 0, b""
            file.seek(source.offset)
            data = file.read()
        source.offset += len(data)
        data = source.partial + data
        lines = data.split(b"\n")
        source.partial = lines.pop()
        if final and source.partial:
            lines.append(source.partial)
            source.partial = b""
        self._write(source, lines)

    def show_partial(self, source: _Source) -> None:
        """Print the unended last line read from ``source``, which is read no more."""
        lines, source.partial = [source.partial], b""
        self._write(source, lines)

    def _write(self, source: _Source, lines: list[bytes]) -> None:
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


def _shows_several(selected: list[LogTask]) -> bool:
    """True if the lines shown may come from several tasks, so each needs its task's path."""
    return len(selected) > 1 or selected[0].node.task_type in _PARENT_TASK_TYPES


def _clean_line(text: str) -> str:
    # Tabs stay; other control characters (escape sequences) never reach the terminal.
    return printable(text.replace("\t", "    ").rstrip("\r"))


def _logs(args: argparse.Namespace, store: FlowStore) -> int:
    from mc.cli.store_commands import resolve_flow_key
    from mc.jobs.executors.base import job_dir_of_handle

    key = resolve_flow_key(store, args.key)
    logs_root = args.logs_root or default_logs_root()
    load_stored_flow = stored_flow_loader(store)

    def read_tasks() -> tuple[str, list[LogTask]]:
        flow_dict = store.get_flow(key).to_flow_dict()
        return str(flow_dict["status"]), log_tasks(
            build_flow_tree(flow_dict, load_stored_flow, confirm_job_dir=job_dir_of_handle)
        )

    status, every = read_tasks()
    tasks = _select(every, args.task)
    # Followed, a task of a running flow may not exist yet (a spread's items).
    may_come = args.follow and status not in FlowStatus.FINISHED
    if args.task is not None and not tasks and not may_come:
        known = [task.path for task in every]
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        print(
            f"mc logs: flow {printable(key)} has no task {printable(args.task)!r} "
            f"(tasks: {printable(shown)})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    printer = _Printer(prefixed=None if args.task is not None else True)
    # Keyed by file: a switch and its chosen task share one log, shown once.
    sources: dict[str, _Source] = {}

    def look(every: list[LogTask], final: bool) -> None:
        selected = _select(every, args.task)
        if printer.prefixed is None and selected:
            printer.prefixed = _shows_several(selected)
        listed: set[str] = set()
        for task in selected:
            for source in _sources(task, logs_root):
                listed.add(str(source.path))
                known = sources.setdefault(str(source.path), source)
                if known.task_path == task.path:
                    printer.show(known, final)
        for path, known in sources.items():
            if path not in listed and known.partial:
                # A file no longer listed (the scheduler log of a submission a
                # newer one replaced): its last line, read but unended, now.
                printer.show_partial(known)

    if not args.follow:
        look(every, final=True)
        return EXIT_OK
    try:
        while True:
            ended = store.get_record(key).status in FlowStatus.FINISHED
            _, every = read_tasks()
            look(every, final=ended)
            if ended:
                return EXIT_OK
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return EXIT_OK
