"""The ``local`` executor: job dirs as detached processes on this machine.

The embedded default, with no configuration needed. Each job runs as
``bash entrypoint.sh`` in a new session (started with one
:func:`os.posix_spawn`, its output going to ``local_executor.log``), so a
job outlives a runner that restarts; its process id is written to the job
dir's ``local.pid``, with its start time (a process with that id counts as
the job only if it started at that time, since ids are reused after a
reboot). At most ``max_jobs`` jobs run at once (default: the number of
CPUs); the rest wait in this executor's queue, which lives in memory: a job
still queued when its runner stops is reported LOST, and the ``job`` task
submits it again.

The jobs an executor starts are its child processes until they end: it
reaps them (:func:`os.waitpid` without waiting), so none is left a zombie,
and a process it has not reaped yet cannot have handed its id to another.
A job started by another executor object (an earlier runner's) is found
through its job dir's ``local.pid`` instead. Either way the job dir's
``exit_status``, written by the entrypoint, says how the job ended.

Polling is batched: the first poll of a round (a job already answered is
polled again) makes one pass over the running jobs' processes, freeing the
slots of ended ones and starting queued jobs; each poll then looks at its
own job only: a queued job is answered from memory, a started one from its
job dir and, when it is this executor's child, a reap of that one process.
A poll that finds its job ended frees its slot at once and starts the next
queued job, so a round of polls keeps the slots full without a second pass.
``poll_many`` polls a list of jobs after one pass; ``passes`` counts the
passes.

A handle is ``{'job_dir': ..., 'token': ...}``; everything else is read
from the job dir, so a new executor polls the jobs an old one started.

Ownership: the executor reads a job dir, writes into it (``cancelled``), or
signals its process, only if the handle's token is the one in the job dir's
``submission.json`` (see :func:`~mc.jobs.executors.base.owned_job_dir`),
and it signals a pid only if that process is its own unreaped child or
started at the time recorded with it. Otherwise it raises
:class:`~mc.errors.JobOwnershipError` and does nothing. A job still in the
queue is answered without a look at its job dir: its handle's token must
then be the one this executor made for it at submit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mc.errors import JobError
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    ENTRYPOINT_FILE,
    JOB_FAILED,
    JOB_LOST,
    JOB_QUEUED,
    JOB_RUNNING,
)
from mc.jobs.executors.base import (
    JobExecutor,
    absolute_job_dir,
    handle_fields,
    owned_job_dir,
    record_submission,
)
from mc.jobs.job_dir import RUN_UNDER_WAY, outcome_of_exit_status, read_exit_status, run_state

__all__ = ["LocalExecutor"]

_PID_FILE = "local.pid"
_CANCELLED_FILE = "cancelled"
_LOG_FILE = "local_executor.log"


class LocalExecutor(JobExecutor):
    """Runs job dirs as local processes, ``max_jobs`` at a time.

    ``config`` and ``environ`` fulfil config specs (see
    :class:`~mc.jobs.executors.base.JobExecutor`).
    """

    def __init__(
        self,
        max_jobs: int | None = None,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, environ)
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise JobError(
                f"LocalExecutor: max_jobs must be a positive whole number, got {max_jobs!r}"
            )
        self.max_jobs = max_jobs or os.cpu_count() or 1
        # Job dir -> its submission token, for the jobs waiting for a slot
        # (a dict keeps their order, and finds one in O(1)).
        self._queue: dict[str, str] = {}
        # Job dir -> pid, for the jobs holding a slot.
        self._running: dict[str, int] = {}
        # Pid -> job dir, for the processes this executor started and has not
        # reaped yet; and job dir -> wait status, for those it reaped and
        # whose end no poll has told yet.
        self._children: dict[int, str] = {}
        self._reaped: dict[str, int] = {}
        # Job dir -> why its process could not be started.
        self._not_started: dict[str, str] = {}
        # Jobs answered since the last pass over the pids: polling one again
        # means a new round of polls has begun, and makes the next pass.
        self._answered: set[str] = set()
        self.passes = 0

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Queue the job dir, start it if a slot is free, and return its handle."""
        self.prepare(job_dir, resources)
        path = absolute_job_dir(job_dir)
        for stale in (_PID_FILE, _CANCELLED_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(path, stale))
        token = record_submission(path, "local")
        self._queue.pop(path, None)
        self._reaped.pop(path, None)
        self._not_started.pop(path, None)
        self._queue[path] = token
        self._start_queued()
        return {"job_dir": path, "token": token}

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs (``exit_status``, ``error``).

        The first poll of a round makes one pass over the running jobs'
        processes (to free the slots of ended jobs and start queued ones);
        the other polls of the round look at their own job only.
        """
        queued = self._queued_job_dir(handle)
        job_dir = queued or owned_job_dir(handle, "local")
        if job_dir in self._answered or not self._answered:
            self._reap()
            self._start_queued()
        self._answered.add(job_dir)
        return self._poll(job_dir)

    def poll_many(self, handles: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """Poll several jobs after one pass over the running jobs' processes.

        Returns their answers in order.
        """
        job_dirs = [
            self._queued_job_dir(handle) or owned_job_dir(handle, "local") for handle in handles
        ]
        self._reap()
        self._start_queued()
        self._answered.update(job_dirs)
        return [self._poll(job_dir) for job_dir in job_dirs]

    def _queued_job_dir(self, handle: Mapping[str, Any]) -> str | None:
        """The handle's job dir if it waits in this executor's queue under the handle's token.

        Then its job dir need not be read: the token is checked against the
        one this executor made at submit.
        """
        job_dir, token = handle_fields(handle, "local")
        known = self._queue.get(job_dir)
        return job_dir if known is not None and secrets.compare_digest(known, token) else None

    def _poll(self, job_dir: str) -> tuple[str, dict[str, Any]]:
        if job_dir in self._queue:
            return JOB_QUEUED, {}
        pid = self._running.get(job_dir)
        if pid is not None and pid in self._children:
            # Reaped first, so that the exit status read next is final.
            self._reap_one(pid)
            self._start_queued()
        # Kept only until the job's end is told, so the executor's memory
        # does not grow with every job it ran.
        wait_status = self._reaped.pop(job_dir, None)
        if os.path.lexists(os.path.join(job_dir, _CANCELLED_FILE)):
            return JOB_FAILED, {"error": "cancelled", "exit_status": read_exit_status(job_dir)}
        exit_status = read_exit_status(job_dir)
        if exit_status is not None:
            return outcome_of_exit_status(exit_status)
        if job_dir in self._not_started:
            return JOB_FAILED, {"error": self._not_started[job_dir]}
        if wait_status is not None:
            return self._ended_without_exit_status(job_dir, wait_status)
        if pid is not None and pid in self._children:
            return JOB_RUNNING, {"pid": pid}
        # Not this executor's child: an earlier runner's job, found by local.pid.
        pid = _read_pid(job_dir)
        if pid is None:
            return JOB_LOST, {"error": "the job never started"}
        if _runs_job(pid, job_dir):
            self._running[job_dir] = pid
            return JOB_RUNNING, {"pid": pid}
        self._running.pop(job_dir, None)
        # The exit status may have landed between the two reads.
        exit_status = read_exit_status(job_dir)
        if exit_status is not None:
            return outcome_of_exit_status(exit_status)
        return self._ended_without_exit_status(job_dir, None)

    def _ended_without_exit_status(
        self, job_dir: str, wait_status: int | None
    ) -> tuple[str, dict[str, Any]]:
        """Answer for a job whose process has ended and left no ``exit_status``."""
        if run_state(job_dir) == RUN_UNDER_WAY:
            # Our start was refused (it exited 75): another run holds the lock.
            return JOB_RUNNING, {"pid": None, "note": "another run of this job dir holds its lock"}
        if _logged_refusal(job_dir):
            return JOB_FAILED, {
                "error": "the job did not start "
                f"(exit status {ALREADY_RUNNING_EXIT_STATUS}): another "
                "run of its job dir held the lock, and it has ended without an exit status",
            }
        pid = _read_pid(job_dir)
        how = ""
        if wait_status is not None and os.WIFSIGNALED(wait_status):
            number = os.WTERMSIG(wait_status)
            try:
                how = f", killed by {signal.Signals(number).name}"
            except ValueError:
                how = f", killed by signal {number}"
        return JOB_FAILED, {
            "error": f"the job's process (pid {pid}) ended without writing an exit status{how}"
        }

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """Stop the job (or drop it from the queue); its next poll reports FAILED.

        Raises :class:`~mc.errors.JobOwnershipError`, touching nothing, for
        a handle whose token is not its job dir's.
        """
        job_dir = owned_job_dir(handle, "local")
        _write_new_file(os.path.join(job_dir, _CANCELLED_FILE), "cancelled\n")
        if self._queue.pop(job_dir, None) is not None:
            return
        pid = self._running.pop(job_dir, None)
        if pid is not None and pid in self._children:
            # Our own child, not reaped yet: its id cannot name another process.
            self._reap_one(pid)
            owned = pid in self._children
        else:
            pid = _read_pid(job_dir)
            owned = pid is not None and _runs_job(pid, job_dir)
        if pid is not None and owned:
            # The job's session (its process group) holds the job and its
            # children; the process itself is signalled too, in case it has
            # left that group.
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError):
                    kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        """One pass: reap ended children and free the slots of all ended jobs."""
        self.passes += 1
        self._answered.clear()
        for pid in list(self._children):
            self._reap_one(pid)
        for job_dir, pid in list(self._running.items()):
            if pid not in self._children and not _alive(pid):
                del self._running[job_dir]

    def _reap_one(self, pid: int) -> None:
        """Reap child ``pid`` if it has ended, freeing its job's slot."""
        try:
            reaped, wait_status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Reaped by someone else (a handler of SIGCHLD): no status to keep.
            reaped, wait_status = pid, -1
        if reaped == 0:
            return
        job_dir = self._children.pop(pid)
        if wait_status != -1:
            self._reaped[job_dir] = wait_status
        if self._running.get(job_dir) == pid:
            del self._running[job_dir]

    def _start_queued(self) -> None:
        """Start queued jobs in free slots."""
        while self._queue and len(self._running) < self.max_jobs:
            job_dir = next(iter(self._queue))
            del self._queue[job_dir]
            try:
                pid = _spawn(job_dir)
            except OSError as error:
                self._not_started[job_dir] = f"the job's process could not be started: {error}"
                continue
            self._children[pid] = job_dir
            self._running[job_dir] = pid
            # The start time tells this process from a later one that reuses its id.
            _write_new_file(os.path.join(job_dir, _PID_FILE), f"{pid} {_start_time(pid) or '-'}\n")


def _spawn(job_dir: str) -> int:
    """Start ``bash entrypoint.sh`` of ``job_dir`` in a new session; return its pid.

    Standard input is ``/dev/null``; standard output and error go to the job
    dir's ``local_executor.log`` (a new file, never through a symlink). The
    runner's descriptors stay behind: Python opens its own not inheritable,
    and any other marked inheritable is closed in the child.
    """
    log = os.path.join(job_dir, _LOG_FILE)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(log)
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]
    return os.posix_spawnp(
        "bash",
        ["bash", os.path.join(job_dir, ENTRYPOINT_FILE)],
        os.environ,
        file_actions=actions,
        setsid=True,
    )


def _inheritable_fds() -> list[int]:
    """This process's open descriptors above 2 that a child would inherit."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        names = [str(fd) for fd in range(3, 1024)]
    found = []
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # not open (the listing's own, long closed)
                if os.get_inheritable(fd):
                    found.append(fd)
    return found


def _write_new_file(path: str, text: str) -> None:
    """Write ``text`` into a new file at ``path``: never through a symlink or into a hard link."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def _read_pid(job_dir: str) -> int | None:
    try:
        return int((Path(job_dir) / _PID_FILE).read_text(encoding="utf-8").split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _recorded_start_time(job_dir: str) -> str | None:
    try:
        fields = (Path(job_dir) / _PID_FILE).read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return None
    return fields[1] if len(fields) > 1 and fields[1] != "-" else None


def _start_time(pid: int) -> str | None:
    """The process's start time, in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
            stat = file.read()
        return stat.rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _runs_job(pid: int, job_dir: str) -> bool:
    """Return True if process ``pid`` is alive and is this job dir's job.

    After a reboot the pid in ``local.pid`` may belong to another process:
    that one is neither the job nor to be killed. The job is known by the
    start time recorded with its pid (which an exec does not change).
    """
    if not _alive(pid):
        return False
    recorded = _recorded_start_time(job_dir)
    # No recorded start time (the process had ended before it could be read),
    # or none to read now: it is not known to be the job, so never signalled.
    return recorded is not None and _start_time(pid) == recorded


def _logged_refusal(job_dir: str) -> bool:
    """Return True if the job's start was refused because another run held the lock."""
    try:
        return "MissionControl: not started" in (Path(job_dir) / _LOG_FILE).read_text(
            errors="replace"
        )
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie has ended; its parent just has not reaped it yet.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True
