"""Task logs: what a task's handler prints or logs while it ticks, kept per task.

An engine made with ``FlowEngine(task_output=TaskLogs(root))`` runs every
tick of every task inside :meth:`TaskLogs.capture`: what the handler writes
to ``sys.stdout`` and ``sys.stderr``, and the log records emitted in that
thread meanwhile (at the levels the loggers let through), are appended to
the task's log file::

    <root>/<flow key>/<task path>.log

``<task path>`` is the task's path from the top flow (``sweep/evaluate_3``
for an item of the spread ``sweep``, see :mod:`mc.flows.events`), each key
made a safe file name of its own (:mod:`mc.flows.file_names`). Output is
gathered in memory during the tick and written once at its end, and only
when there was some: a tick that prints nothing touches no file.

Why files, and not the store: a log grows with every tick, and a flow's JSON
(saved whole on every tick) must not; a file is appended in O(what was
printed) and read by ``mc logs`` without a database. Each file is bounded:
once it passes 2 MB it is cut to its last 1 MB (:data:`MAX_LOG_BYTES`), so
the work of trimming is spread over a megabyte of output.

A job's own output is not here: it stays in the job dir's ``stdout.txt``
and ``stderr.txt``, and a SLURM job's dir also holds the scheduler's log
(``slurm-<job id>.out``: what ``slurmstepd`` says, such as a job cancelled
at its time limit; see :func:`scheduler_log_file`). :func:`log_tasks` lists
a flow's tasks, from its tree (:mod:`mc.flows.tree`), with where each one's
log is, and :func:`task_output_files` names all of a task's output files
(its log, then its job's stdout and stderr and, where there is one, its
scheduler log, from a job dir the tree confirmed): ``mc logs``, the status
page (``mc ui``) and ``mc report`` all show what it names, opened with
:func:`open_regular`.

This module imports nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from mc.flows.file_names import safe_file_name
from mc.flows.tree import PATH_SEPARATOR, FlowTree, TaskNode

__all__ = [
    "MAX_LOG_BYTES",
    "MAX_SCANNED_ENTRIES",
    "SCHEDULER_LOG",
    "TASK_LOG",
    "LogTask",
    "TaskLogs",
    "default_logs_root",
    "is_capturing",
    "log_tasks",
    "open_regular",
    "scheduler_log_file",
    "task_log_path",
    "task_output_files",
]

_logger = logging.getLogger(__name__)

MAX_LOG_BYTES = 1024 * 1024
_LOG_SUFFIX = ".log"
_LOGS_ROOT_ENV_VAR = "MC_LOGS_ROOT"
_DEFAULT_LOGS_ROOT = "mc_logs"

# Called with (flow key, flow label, task path, text) after a tick that printed.
_EchoCallback = Callable[[str, "str | None", str, str], object]


# Job dir files, as mc.jobs.constants names them (not imported: mc.flows does
# not depend on mc.jobs).
_JOB_META_FILE = "job.json"
_JOB_OUTPUT_FILES = (("stdout", "stdout.txt"), ("stderr", "stderr.txt"))
#: The name :func:`task_output_files` gives a task's own log.
TASK_LOG = "log"
#: The name :func:`task_output_files` gives a job's scheduler log (see :func:`scheduler_log_file`).
SCHEDULER_LOG = "scheduler"
# The SLURM executor's log of one submission in a job dir (mc.jobs.executors.slurm):
# slurm-<job id>.out for a plain job, slurm-<array id>_<index>.out for an array's item.
_SCHEDULER_LOG_ID = re.compile(r"[0-9]{1,18}(?:_[0-9]{1,9})?")
_SCHEDULER_LOG_NAME = re.compile(rf"slurm-({_SCHEDULER_LOG_ID.pattern})\.out")
#: How many entries of a job dir :func:`scheduler_log_file` looks at, at most,
#: when the recorded submission's log is not there.
MAX_SCANNED_ENTRIES = 1000


def default_logs_root() -> str:
    """Return ``$MC_LOGS_ROOT``, else ``mc_logs`` in the working directory."""
    return os.environ.get(_LOGS_ROOT_ENV_VAR) or _DEFAULT_LOGS_ROOT


def _safe_name(key: str) -> str:
    """Return ``key`` as one safe file name, distinct for distinct keys.

    Keys come from specs, so a key such as ``'../x'`` must not lead a log
    out of its root, nor ``'a b'`` write into the log of flow ``'a_b'``: see
    :func:`mc.flows.file_names.safe_file_name`.
    """
    return safe_file_name(key)


def task_log_path(root: str | os.PathLike[str], flow_key: str, task_path: str) -> Path:
    """Return the log file of the task at ``task_path`` (keys joined by ``/``) of ``flow_key``."""
    parts = [_safe_name(part) for part in task_path.split("/")]
    parts[-1] += _LOG_SUFFIX
    return Path(root, _safe_name(flow_key), *parts)


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
    what a tick printed, e.g. to show it labelled on a terminal; an echo
    that raises is logged as a warning, and the task goes on.
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, echo: _EchoCallback | None = None
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
                    self._echo(flow_key, flow_label, task_path, text)

    def _echo(self, flow_key: str, flow_label: str | None, task_path: str, text: str) -> None:
        # Showing output must never fail a task (a closed pipe, a full terminal).
        echo = self.echo
        if echo is None:
            return
        try:
            echo(flow_key, flow_label, task_path, text)
        except Exception:  # noqa: BLE001 (any failure to show is only shown)
            _logger.warning(
                "echo of a task's output raised (flow %s, task %s)",
                flow_key,
                task_path,
                exc_info=True,
            )

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
            _logger.warning("cannot write the task log %s: %s", path, error)


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


# -- which files hold a task's output (mc logs, mc ui, mc report) ------------


@dataclasses.dataclass(frozen=True)
class LogTask:
    """A task as its output is read: its path as ``mc show`` prints it, and where its log is.

    ``log_flow_key`` and ``log_path`` name its task log (see
    :func:`task_log_path`): a stored subflow's tasks log under the subflow's
    own key, and a proxied task (the task a ``switch`` chose) logs in its
    proxy's log, since it ticks inside its proxy's tick.
    """

    path: str
    node: TaskNode
    log_flow_key: str
    log_path: str


def log_tasks(tree: FlowTree) -> list[LogTask]:
    """Return every task of ``tree`` in ``mc show``'s order, with the flow and path of its log."""
    found: list[LogTask] = []

    def walk(nodes: list[TaskNode], flow_key: str, strip: str, proxy_log: str | None) -> None:
        for node in nodes:
            log_path = (
                proxy_log if node.kind == "proxied" and proxy_log else node.path[len(strip) :]
            )
            found.append(LogTask(node.path, node, flow_key, log_path))
            if node.subflow_stored and node.subflow_key:
                walk(node.children, node.subflow_key, node.path + PATH_SEPARATOR, None)
            else:
                walk(node.children, flow_key, strip, log_path)

    walk(tree.tasks, tree.key, "", None)
    return found


def task_output_files(logs_root: str | os.PathLike[str], task: LogTask) -> list[tuple[str, Path]]:
    """Return ``[(name, path)]`` of the files that hold a task's output.

    First its task log (:data:`TASK_LOG`, under ``logs_root``), then, for a
    job whose job dir the tree confirmed (see
    :func:`~mc.flows.tree.build_flow_tree`'s ``confirm_job_dir``) and that
    holds mc's ``job.json``, the job's ``stdout`` and ``stderr``: these
    three are named whether they exist yet or not. Last, only where the job
    dir holds one, the job's scheduler log (:data:`SCHEDULER_LOG`, see
    :func:`scheduler_log_file`): a local or Dask job normally has none, so
    it is not named for them as a file still to come.
    """
    files = [(TASK_LOG, task_log_path(logs_root, task.log_flow_key, task.log_path))]
    job_dir = task.node.job_dir
    if job_dir and (Path(job_dir) / _JOB_META_FILE).is_file():
        files.extend((name, Path(job_dir) / file_name) for name, file_name in _JOB_OUTPUT_FILES)
        scheduler_log = scheduler_log_file(job_dir, task.node.job_id)
        if scheduler_log is not None:
            files.append((SCHEDULER_LOG, scheduler_log))
    return files


def scheduler_log_file(job_dir: str | os.PathLike[str], job_id: str | None = None) -> Path | None:
    """Return the SLURM log of a job dir's latest submission, or None if it has none.

    Only files directly in ``job_dir`` named as the SLURM executor names
    them (``slurm-<job id>.out``, ``slurm-<array id>_<index>.out``, digits
    only) and that are regular files (a symlink or a FIFO is never chosen)
    are candidates. A job submitted again into its job dir (a job its
    executor lost) leaves one per submission there: the one named for
    ``job_id`` (the id the engine recorded for the task's current
    submission) is chosen; while it does not exist (a resubmitted job
    still queued), the one written last (then the highest job id), so that
    what ended the previous submission stays in view, its name saying
    which submission it was. The recorded one costs one ``lstat``; the
    others a listing of the job dir, of its first :data:`MAX_SCANNED_ENTRIES`
    entries at most (a job that fills its own dir with files may so hide an
    older submission's log, never show another's). The caller confirms that
    ``job_dir`` is the job's (as :func:`task_output_files` does); the file
    is read with :func:`open_regular`, which checks it again.
    """
    if job_id is not None and _SCHEDULER_LOG_ID.fullmatch(job_id):
        # The common case, one lstat: the recorded submission's log is there.
        path = Path(job_dir, f"slurm-{job_id}.out")
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                return path
        except OSError:
            pass  # not yet written (a submission still queued): look around
    candidates: list[tuple[int, tuple[int, ...], str]] = []
    try:
        with os.scandir(job_dir) as entries:
            # A job dir holds a dozen entries; a job that fills its dir (it
            # can write there) costs each listing no more than this.
            for entry in itertools.islice(entries, MAX_SCANNED_ENTRIES):
                match = _SCHEDULER_LOG_NAME.fullmatch(entry.name)
                if match is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    modified = entry.stat(follow_symlinks=False).st_mtime_ns
                except OSError:  # removed since it was listed
                    continue
                order = tuple(int(part) for part in match[1].split("_"))
                candidates.append((modified, order, entry.name))
    except OSError:
        return None
    return Path(job_dir, max(candidates)[2]) if candidates else None


def open_regular(path: str | os.PathLike[str]) -> int | None:
    """Open ``path`` for reading if it is a regular file reached without a symlink; else None.

    A job can replace its ``stdout.txt`` with a symlink (to a file of the
    operator's) or a FIFO (which would block a reader): neither is read.
    Returns a file descriptor for :func:`open`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd
