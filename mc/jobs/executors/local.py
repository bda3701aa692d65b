"""The ``local`` executor: job dirs as detached processes on this machine.

The embedded default, with no configuration needed. Each job runs as
``bash entrypoint.sh`` in a new session, detached from the runner, so a job
outlives a runner that restarts; its process id is written to the job dir's
``local.pid``, with its start time (a process with that id counts as the
job only if it started at that time, since ids are reused after a reboot).
At most ``max_jobs`` jobs run at once (default: the number of
CPUs); the rest wait in this executor's queue, which lives in memory: a job
still queued when its runner stops is reported LOST, and the ``job`` task
submits it again.

Polling is batched: the first poll of a round (a job already answered is
polled again) makes one pass over the running jobs' pids, freeing the slots
of ended ones and starting queued jobs; each poll then reads only its own
job dir. ``poll_many`` polls a list of jobs after one pass; ``passes``
counts the passes made.

A handle is ``{'job_dir': ..., 'token': ...}``; everything else is read
from the job dir, so a new executor polls the jobs an old one started.

Ownership: the executor writes into a job dir (``cancelled``), or signals
its process, only if the handle's token is the one in the job dir's
``submission.json`` (see :func:`~mc.jobs.executors.base.owned_job_dir`),
and it signals a pid only if that process started at the time recorded
with it. Otherwise it raises :class:`~mc.errors.JobOwnershipError` and does
nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
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
from mc.jobs.executors.base import JobExecutor, absolute_job_dir, owned_job_dir, record_submission
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
        self._queue: list[str] = []
        self._running: dict[str, int] = {}
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
            (Path(path) / stale).unlink(missing_ok=True)
        token = record_submission(path, "local")
        self._queue.append(path)
        self._start_queued(reap=False)
        return {"job_dir": path, "token": token}

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs (``exit_status``, ``error``).

        The first poll of a round makes one pass over the running jobs' pids
        (to free the slots of ended jobs and start queued ones); the other
        polls of the round look at their own job dir only.
        """
        job_dir = owned_job_dir(handle, "local")
        if job_dir in self._answered or not self._answered:
            self._start_queued()
        self._answered.add(job_dir)
        return self._poll(job_dir)

    def poll_many(self, handles: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        (
            """Poll several jobs after one pass over the running jobs' pids.

        Returns their answers in order.
        """
            ""
        )
        job_dirs = [owned_job_dir(handle, "local") for handle in handles]
        self._start_queued()
        self._answered.update(job_dirs)
        return [self._poll(job_dir) for job_dir in job_dirs]

    def _poll(self, job_dir: str) -> tuple[str, dict[str, Any]]:
        if (Path(job_dir) / _CANCELLED_FILE).exists():
            return JOB_FAILED, {"error": "cancelled", "exit_status": read_exit_status(job_dir)}
        exit_status = read_exit_status(job_dir)
        if exit_status is not None:
            return outcome_of_exit_status(exit_status)
        if job_dir in self._queue:
            return JOB_QUEUED, {}
        pid = _read_pid(job_dir)
        if pid is None:
            return JOB_LOST, {"error": "the job never started"}
        if _runs_job(pid, job_dir):
            self._running[job_dir] = pid
            return JOB_RUNNING, {"pid": pid}
        # The exit status may have landed between the two reads.
        exit_status = read_exit_status(job_dir)
        if exit_status is not None:
            return outcome_of_exit_status(exit_status)
        if run_state(job_dir) == RUN_UNDER_WAY:
            # Our start was refused (it exited 75): another run holds the lock.
            return JOB_RUNNING, {"pid": None, "note": "another run of this job dir holds its lock"}
        if _logged_refusal(job_dir):
            return JOB_FAILED, {
                "error": "the job did not start "
                f"(exit status {ALREADY_RUNNING_EXIT_STATUS}): another "
                "run of its job dir held the lock, and it has ended without an exit status",
            }
        return JOB_FAILED, {
            "error": f"the job's process (pid {pid}) ended without writing an exit status"
        }

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """Stop the job (or drop it from the queue); its next poll reports FAILED.

        Raises :class:`~mc.errors.JobOwnershipError`, touching nothing, for
        a handle whose token is not its job dir's.
        """
        job_dir = owned_job_dir(handle, "local")
        (Path(job_dir) / _CANCELLED_FILE).write_text("cancelled\n", encoding="utf-8")
        if job_dir in self._queue:
            self._queue.remove(job_dir)
            return
        pid = _read_pid(job_dir)
        self._running.pop(job_dir, None)
        if pid is not None and _runs_job(pid, job_dir):
            # The job's session (its process group) holds the job and its
            # children. A job started a moment ago may not have made its
            # session yet, so the process itself is signalled too.
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError):
                    kill(pid, signal.SIGTERM)

    def _start_queued(self, reap: bool = True) -> None:
        """Start queued jobs in free slots.

        With ``reap``, first free the slots of ended jobs (one pass over the pids).
        """
        if reap:
            self.passes += 1
            self._answered.clear()
            for job_dir, pid in list(self._running.items()):
                if not _alive(pid):
                    del self._running[job_dir]
        while self._queue and len(self._running) < self.max_jobs:
            job_dir = self._queue.pop(0)
            self._running[job_dir] = _start_detached(job_dir)


def _start_detached(job_dir: str) -> int:
    # A short-lived shell starts the job in its own session and prints its
    # pid: the job is then not our child, so it needs no reaping and survives
    # the runner.
    log = Path(job_dir) / _LOG_FILE
    result = subprocess.run(
        [
            "bash",
            "-c",
            'setsid bash "$1" >"$2" 2>&1 </dev/null & echo $!',
            "mc-local-executor",
            str(Path(job_dir) / ENTRYPOINT_FILE),
            str(log),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(result.stdout.strip())
    # The start time tells this process from a later one that reuses its id.
    start_time = _start_time(pid) or "-"
    (Path(job_dir) / _PID_FILE).write_text(f"{pid} {start_time}\n", encoding="utf-8")
    return pid


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
        stat = Path(f"/proc/{pid}/stat").read_text()
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
