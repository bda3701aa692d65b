"""The ``slurm`` executor: job dirs as SLURM batch jobs.

Submits ``entrypoint.sh`` with ``sbatch``, in the job dir (which must be on a
filesystem the compute nodes share). Resources become ``sbatch`` options:

=====================  ==============================================
``cores``              ``--cpus-per-task``
``memory_mb``          ``--mem=<n>M``
``walltime_s``         ``--time`` (rounded up to whole minutes)
``partition``          ``--partition``
``account``            ``--account``
``extra_directives``   added as they are, e.g. ``['--qos=long']``
=====================  ==============================================

The executor's own ``partition``, ``account`` and ``extra_directives`` are
defaults that a job's resources override (extra directives add up).

Polling asks ``scontrol show job``. Once a finished job has left the
controller's memory (after ``MinJobAge``), the executor reads the job dir's
exit-status file instead; no ``sacct`` is needed. A job that SLURM requeues
keeps its job id and is followed through its restarts (``outputs['restarts']``).
Polls of one job closer together than ``min_poll_interval_s`` reuse the last
answer, to spare the controller. ``scancel`` cancels.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError
from mc.jobs.constants import COMPLETED, ENTRYPOINT_FILE, FAILED, QUEUED, RUNNING
from mc.jobs.executors.base import JobExecutor, absolute_job_dir
from mc.jobs.job_dir import read_exit_status, read_job_meta

# How long a SLURM command (sbatch, scontrol, scancel) may take to answer.
COMMAND_TIMEOUT_S = 60.0

# SLURM job states (JobState in `scontrol show job`), by what they mean here.
QUEUED_STATES = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
}
RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESV_DEL_HOLD"}
FAILED_STATES = {
    "FAILED",
    "TIMEOUT",
    "CANCELLED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
    "REVOKED",
    "SPECIAL_EXIT",
}


def sbatch_options(resources: Mapping[str, Any]) -> list[str]:
    """Translate job resources into ``sbatch`` options (see the module docstring)."""
    options: list[str] = []
    if resources.get("cores"):
        options.append(f"--cpus-per-task={int(math.ceil(resources['cores']))}")
    if resources.get("memory_mb"):
        options.append(f"--mem={int(math.ceil(resources['memory_mb']))}M")
    if resources.get("walltime_s"):
        minutes = int(math.ceil(resources["walltime_s"] / 60))
        options.append(f"--time={minutes // 1440}-{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00")
    if resources.get("partition"):
        options.append(f"--partition={resources['partition']}")
    if resources.get("account"):
        options.append(f"--account={resources['account']}")
    options.extend(resources.get("extra_directives") or [])
    return options


def parse_scontrol_record(text: str) -> dict[str, str]:
    """Return the ``Key=Value`` fields of one ``scontrol show -o`` line."""
    fields: dict[str, str] = {}
    for token in text.split():
        name, sep, value = token.partition("=")
        if sep:
            fields[name] = value
    return fields


class SlurmExecutor(JobExecutor):
    """Runs job dirs through ``sbatch``; polls with ``scontrol``; cancels with ``scancel``.

    ``partition``, ``account`` and ``extra_directives`` are defaults for every
    job. ``config`` and ``environ`` fulfil config specs. ``clock`` (default
    :func:`time.monotonic`) times ``min_poll_interval_s``.
    """

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        extra_directives: Iterable[str] = (),
        min_poll_interval_s: float = 1.0,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(config, environ)
        self.defaults = {
            "partition": partition,
            "account": account,
            "extra_directives": list(extra_directives),
        }
        self.min_poll_interval_s = min_poll_interval_s
        self.clock = clock or time.monotonic
        self._last_polls: dict[str, tuple[float, tuple[str, dict[str, Any]]]] = {}

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``sbatch`` the job dir and return ``{'job_id', 'job_dir'}``."""
        merged = self.prepare(job_dir, resources)
        path = absolute_job_dir(job_dir)
        extra = [*self.defaults["extra_directives"], *(merged.get("extra_directives") or [])]
        merged = {
            "partition": self.defaults["partition"],
            "account": self.defaults["account"],
            **{name: value for name, value in merged.items() if value is not None},
            "extra_directives": extra,
        }
        key = read_job_meta(path).get("key", "job")
        command = [
            "sbatch",
            "--parsable",
            f"--job-name=mc-{key}",
            f"--chdir={path}",
            f"--output={path}/slurm-%j.out",
            "--ntasks=1",
            *sbatch_options(merged),
            # SLURM runs a copy of the batch script from its spool directory;
            # the wrapper runs entrypoint.sh where it is, so it finds its job dir.
            f"--wrap=exec bash {shlex.quote(str(Path(path) / ENTRYPOINT_FILE))}",
        ]
        result = _run(command)
        if result.returncode != 0:
            raise ExecutorError(
                f"sbatch refused job {key!r} (exit status {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\ncommand: {' '.join(command)}"
            )
        job_id = result.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise ExecutorError(f"sbatch printed {result.stdout.strip()!r}, expected a job id")
        return {"job_id": job_id, "job_dir": path}

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs (``exit_status``, ``error``, ``slurm_state``, ``restarts``)."""
        job_id, job_dir = str(handle["job_id"]), handle["job_dir"]
        now = self.clock()
        last = self._last_polls.get(job_id)
        if last is not None and now - last[0] < self.min_poll_interval_s:
            return last[1]
        outcome = self._poll(job_id, job_dir)
        if outcome[0] in (QUEUED, RUNNING):
            self._last_polls[job_id] = (now, outcome)
        else:
            self._last_polls.pop(job_id, None)
        return outcome

    def _poll(self, job_id: str, job_dir: str) -> tuple[str, dict[str, Any]]:
        result = _run(["scontrol", "show", "job", "-o", job_id])
        if result.returncode != 0:
            if "invalid job id" not in result.stderr.lower():
                raise ExecutorError(f"scontrol show job {job_id} failed: {result.stderr.strip()}")
            # The job has left the controller's memory: its files tell the rest.
            exit_status = read_exit_status(job_dir)
            if exit_status is None:
                return FAILED, {
                    "error": f"SLURM job {job_id} is gone from the controller and left no exit status"
                }
            return (COMPLETED if exit_status == 0 else FAILED), {"exit_status": exit_status}
        fields = parse_scontrol_record(result.stdout)
        state = fields.get("JobState", "UNKNOWN")
        outputs: dict[str, Any] = {
            "slurm_state": state,
            "restarts": int(fields.get("Restarts", "0") or 0),
        }
        if state in QUEUED_STATES:
            outputs["reason"] = fields.get("Reason")
            return QUEUED, outputs
        if state == "COMPLETED":
            exit_status = read_exit_status(job_dir)
            outputs["exit_status"] = 0 if exit_status is None else exit_status
            return (COMPLETED if outputs["exit_status"] == 0 else FAILED), outputs
        if state in FAILED_STATES:
            exit_status = read_exit_status(job_dir)
            if exit_status is None:
                exit_status = _exit_code(fields.get("ExitCode"))
            outputs["exit_status"] = exit_status
            reason = fields.get("Reason")
            outputs["error"] = f"SLURM job {job_id} {state}" + (
                f" ({reason})" if reason and reason != "None" else ""
            )
            return FAILED, outputs
        return RUNNING, outputs

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """``scancel`` the job."""
        job_id = str(handle["job_id"])
        self._last_polls.pop(job_id, None)
        result = _run(["scancel", job_id])
        if result.returncode != 0:
            raise ExecutorError(f"scancel {job_id} failed: {result.stderr.strip()}")


def _exit_code(text: str | None) -> int | None:
    """Return the exit status of SLURM's ``ExitCode=status:signal``."""
    if not text:
        return None
    status, _, _signal = text.partition(":")
    return int(status) if status.isdigit() else None


def _run(
    command: list[str], timeout_s: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a SLURM command; a command that is missing, fails to start or hangs is an ExecutorError.

    An ExecutorError from a poll leaves the job task RUNNING (a controller
    may be briefly unreachable); anything else would fail it at once.
    """
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise ExecutorError(
            f"{command[0]} is not installed here: the slurm executor needs SLURM's commands "
            "(scripts/setup_slurm.sh sets up a one-node test cluster)"
        ) from None
    except subprocess.TimeoutExpired:
        raise ExecutorError(f"{' '.join(command)} did not answer within {timeout_s} s") from None
    except OSError as error:
        raise ExecutorError(f"{' '.join(command)} could not run: {error}") from None
