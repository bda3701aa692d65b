"""Task logs: what a task's handler prints or logs while it ticks, kept per task.

An engine made with ``FlowEngine(task_output=TaskLogs(root))`` runs every
tick of every task inside :meth:`TaskLogs.capture`: what the handler writes
to ``sys.stdout`` and ``sys.stderr``, and the log records emitted in that
thread meanwhile (at the levels the loggers let through), are appended to
the task's log file::

    <root>/<flow key>/<task path>.log

``<task path>`` is the task's path from the top flow (``sweep/evaluate_3``
for an item of the spread ``sweep``, see :mod:`mc.flows.events`), each key
made a safe file name. Output is gathered in memory during the tick and
written once at its end, and only when there was some: a tick that prints
nothing touches no file.

Why files, and not the store: a log grows with every tick, and a flow's JSON
(saved whole on every tick) must not; a file is appended in O(what was
printed) and read by ``mc logs`` without a database. Each file is bounded:
once it passes 2 MB it is cut to its last 1 MB (:data:`MAX_LOG_BYTES`), so
the work of trimming is spread over a megabyte of output.

A job's own output is not here: it stays in the job dir's ``stdout.txt``
and ``stderr.txt``, where ``mc logs`` finds it from the task's ``job_dir``.

This module imports nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_LOG_BYTES = 1024 * 1024
LOG_SUFFIX = ".log"
LOGS_ROOT_ENV_VAR = "MC_LOGS_ROOT"
DEFAULT_LOGS_ROOT = "mc_logs"

# Called with (flow key, flow label, task path, text) after a tick that printed.
EchoCallback = Callable[[str, "str | None", str, str], object]


def default_logs_root() -> str:
    """Return ``$MC_LOGS_ROOT``, else ``mc_logs`` in the working directory."""
    return os.environ.get(LOGS_ROOT_ENV_VAR) or DEFAULT_LOGS_ROOT


def safe_name(key: str) -> str:
    """Return ``key`` as one safe file name: no separators, no leading dot.

    Keys come from specs, so a key such as ``'../x'`` must not lead a log
    out of its root. Characters other than letters, digits, ``_``, ``-``
    and ``.`` become ``_``, as does a leading dot.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(key))
    return re.sub(r"^\.", "_", safe) or "_"


def task_log_path(root: str | os.PathLike[str], flow_key: str, task_path: str) -> Path:
    """Return the log file of the task at ``task_path`` (keys joined by ``/``) of flow ``flow_key``."""
    parts = [safe_name(part) for part in task_path.split("/")]
    parts[-1] += LOG_SUFFIX
    return Path(root, safe_name(flow_key), *parts)


_capturing = threading.local()


def is_capturing() -> bool:
    """True while this thread runs a tick whose output goes to a task log.

    A logging filter on other handlers can use it to leave task records to
    the task logs (``mc runner`` does, so that they do not appear twice).
    """
    return bool(getattr(_capturing, "handlers", None))


# What mc itself logs about a task (the engine's "task FAILED", a runner's
# warnings) is not the task's output: it is in the task's status and error.
_OWN_LOGGERS = ("mc.flows.flow_engine", "mc.runner", "mc.store")


class _RecordHandler(logging.Handler):
    """Collects the log records of one thread into a buffer, while it is the innermost capture.

    A subflow's task ticks inside its parent task's tick: its records go to
    its own log only.
    """

    def __init__(self, buffer: io.StringIO, thread_id: int) -> None:
        super().__init__()
        self.buffer = buffer
        self.thread_id = thread_id
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_id or record.name.startswith(_OWN_LOGGERS):
            return
        stack = getattr(_capturing, "handlers", None)
        if stack and stack[-1] is self:
            self.buffer.write(self.format(record) + "\n")


class TaskLogs:
    """Keeps what each task prints or logs in its own bounded file (see the module docstring).

    ``root`` is the logs root (default :func:`default_logs_root`);
    ``echo(flow_key, flow_label, task_path, text)``, if given, is also told
    what a tick printed, e.g. to show it labelled on a terminal.
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, echo: EchoCallback | None = None
    ) -> None:
        self.root = Path(root if root is not None else default_logs_root()).absolute()
        self.echo = echo

    def path(self, flow_key: str, task_path: str) -> Path:
        """Return the log file of a task (see :func:`task_log_path`)."""
        return task_log_path(self.root, flow_key, task_path)

    @contextlib.contextmanager
    def capture(self, flow_key: str, flow_label: str | None, task_path: str) -> Iterator[None]:
        """Capture what the code in the block prints or logs into the task's log."""
        buffer = io.StringIO()
        handler = _RecordHandler(buffer, threading.get_ident())
        root_logger = logging.getLogger()
        root_logger.addHandler(handler)
        if not hasattr(_capturing, "handlers"):
            _capturing.handlers = []
        _capturing.handlers.append(handler)
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                yield
        finally:
            _capturing.handlers.pop()
            root_logger.removeHandler(handler)
            text = buffer.getvalue()
            if text:
                self.append(flow_key, task_path, text)
                if self.echo is not None:
                    self.echo(flow_key, flow_label, task_path, text)

    def append(self, flow_key: str, task_path: str, text: str) -> None:
        """Append ``text`` to a task's log, keeping the file bounded."""
        path = self.path(flow_key, task_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8", errors="replace") as file:
                file.write(text)
                size = file.tell()
            if size > 2 * MAX_LOG_BYTES:
                _keep_tail(path, MAX_LOG_BYTES)
        except OSError as error:
            # A full disk must not fail the task: warn, and go on.
            logger.warning("cannot write the task log %s: %s", path, error)


def _keep_tail(path: Path, keep: int) -> None:
    """Cut a file to its last ``keep`` bytes, starting at a whole line."""
    with open(path, "rb") as file:
        file.seek(-keep, os.SEEK_END)
        tail = file.read()
    newline = tail.find(b"\n")
    if 0 <= newline < len(tail) - 1:
        tail = tail[newline + 1 :]
    marker = b"[earlier output cut: task logs keep the last 1 MB]\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(marker + tail)
    os.replace(tmp, path)
