"""The ``slurm`` executor: job dirs as SLURM batch jobs.

Submits ``entrypoint.sh`` with ``sbatch``, in the job dir (which must be on a
filesystem the compute nodes share). Resources become ``sbatch`` options:

=====================  ==============================================
``cores``              ``--cpus-per-task``
``memory_mb``          ``--mem=<n>M``
``walltime_s``         ``--time`` (rounded up to whole minutes)
``partition``          ``--partition``
``account``            ``--account``
``extra_directives``   e.g. ``['--qos=long']``, only options in the
                       executor's ``allowed_directives``
=====================  ==============================================

The executor's own ``partition``, ``account`` and ``extra_directives`` are
defaults that a job's resources override (extra directives add up). A job's
(a spec's) extra directives are refused unless the executor was configured
to allow their option by its exact name (``allowed_directives=('--gres',
'--qos')``); their values are checked (no ``$``, backquote, newline, ``;``,
space, quote or ``/``), and the options in :data:`~mc.jobs.job_dir.NEVER_FROM_A_JOB`
(``--output``, ``--error``, ``--chdir``, ``--export``, ``--wrap``, ...) can
never be allowed. Every value reaches ``sbatch`` as one argument, never
through a shell; the one line of script (``--wrap``) quotes the job dir
with :func:`shlex.quote`.

Ownership: each submission sets the job's comment to ``mc-<token>``, the
token kept in the handle and in the job dir's ``submission.json``. Polls
and ``scancel`` act only on a numeric job id whose comment is that token
(and ``scancel`` also only on the job name it set), with the id passed
after ``--``.

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
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError, JobError, JobOwnershipError
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    ENTRYPOINT_FILE,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_RUNNING,
)
from mc.jobs.executors.base import JobExecutor, absolute_job_dir, owned_job_dir, record_submission
from mc.jobs.job_dir import (
    NEVER_FROM_A_JOB,
    check_directive,
    outcome_of_exit_status,
    read_exit_status,
    read_job_meta,
)

__all__ = ["check_job_id", "sbatch_options", "parse_scontrol_record", "SlurmExecutor"]

# How long a SLURM command (sbatch, scontrol, scancel) may take to answer.
_COMMAND_TIMEOUT_S = 60.0

# SLURM job states (JobState in `scontrol show job`), by what they mean here.
_QUEUED_STATES = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "STOPPED",
}
_RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESV_DEL_HOLD"}
_FAILED_STATES = {
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


# SLURM job ids, as this executor accepts them from a handle.
_JOB_ID_RE = re.compile(r"[0-9]{1,18}")


def check_job_id(job_id: Any) -> str:
    """Return a SLURM job id from a handle as a string of digits, or raise JobOwnershipError."""
    text = str(job_id) if isinstance(job_id, int) and not isinstance(job_id, bool) else job_id
    if not isinstance(text, str) or not _JOB_ID_RE.fullmatch(text):
        raise JobOwnershipError(
            f"slurm executor: job id {job_id!r} is not a number; nothing was done"
        )
    return text


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
    job (the operator's, so taken as they are). ``allowed_directives`` names
    the options (``'--gres'``, ``'--qos'``, ...) that a job's own
    ``extra_directives`` may use; by default none. ``config`` and
    ``environ`` fulfil config specs. ``clock`` (default
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
        allowed_directives: Iterable[str] = (),
    ) -> None:
        super().__init__(config, environ)
        if isinstance(allowed_directives, str):
            allowed_directives = (allowed_directives,)
        allowed = []
        for name in allowed_directives:
            option = name if isinstance(name, str) and name.startswith("--") else f"--{name}"
            if option in NEVER_FROM_A_JOB:
                raise ExecutorError(
                    f"SlurmExecutor: allowed_directives: {option} can never come from a job; "
                    "set what it sets in the executor's own configuration"
                )
            try:
                has_value = (
                    check_directive(option, "SlurmExecutor: allowed_directives")[1] is not None
                )
            except JobError:
                has_value = True
            if has_value:
                raise ExecutorError(
                    f"SlurmExecutor: allowed_directives: {name!r} "
                    "must be an option name such as '--gres'"
                )
            allowed.append(option)
        self.allowed_directives: tuple[str, ...] = tuple(allowed)
        defaults = [str(item) for item in extra_directives]
        for item in defaults:
            if not item.startswith("-"):
                raise ExecutorError(
                    f"SlurmExecutor: extra_directives: {item!r} "
                    "is not an option such as '--qos=long'"
                )
        self.defaults: dict[str, Any] = {
            "partition": partition,
            "account": account,
            "extra_directives": defaults,
        }
        self.min_poll_interval_s = min_poll_interval_s
        self.clock = clock or time.monotonic
        self._last_polls: dict[str, tuple[float, tuple[str, dict[str, Any]]]] = {}

    def check_job_directives(self, directives: Iterable[str], where: str) -> list[str]:
        """Return a job's extra directives if each is allowed here; else raise JobError naming it.

        ``where`` is where the directives sit in the spec, for the error.
        """
        checked = []
        for i, directive in enumerate(directives):
            option, _value = check_directive(directive, f"{where}[{i}]")
            if option not in self.allowed_directives:
                allowed = ", ".join(self.allowed_directives) or "none"
                raise JobError(
                    f"{where}[{i}]: {option} is not allowed by this slurm executor "
                    f"(allowed_directives: {allowed}); nothing was submitted"
                )
            checked.append(directive)
        return checked

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``sbatch`` the job dir and return ``{'job_id', 'job_dir', 'token'}``."""
        merged = self.prepare(job_dir, resources)
        path = absolute_job_dir(job_dir)
        key = read_job_meta(path).get("key", "job")
        extra = [
            *self.defaults["extra_directives"],
            *self.check_job_directives(
                merged.get("extra_directives") or [], f"job {key!r}: resources.extra_directives"
            ),
        ]
        merged = {
            "partition": self.defaults["partition"],
            "account": self.defaults["account"],
            **{name: value for name, value in merged.items() if value is not None},
            "extra_directives": extra,
        }
        if re.search(r"[%\\\s]", path):
            raise JobError(
                f"job {key!r}: job dir {path!r} has a '%', a backslash or a space, "
                "which sbatch would read as a pattern"
            )
        token = record_submission(path, "slurm")
        command = [
            "sbatch",
            "--parsable",
            f"--job-name={_job_name(key)}",
            f"--comment=mc-{token}",
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
                f"{result.stderr.strip() or result.stdout.strip()}\ncommand: {shlex.join(command)}"
            )
        job_id = result.stdout.strip().split(";")[0]
        if not _JOB_ID_RE.fullmatch(job_id):
            raise ExecutorError(f"sbatch printed {result.stdout.strip()!r}, expected a job id")
        return {"job_id": job_id, "job_dir": path, "token": token, "job_name": _job_name(key)}

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs.

        The outputs are ``exit_status``, ``error``, ``slurm_state`` and ``restarts``.

        Raises :class:`~mc.errors.JobOwnershipError` for a handle this
        executor did not make (a job id that is not a number, a job dir
        without its token, a job whose comment is not its token).
        """
        job_id = check_job_id(handle.get("job_id") if isinstance(handle, Mapping) else None)
        job_dir = owned_job_dir(handle, "slurm")
        now = self.clock()
        last = self._last_polls.get(job_id)
        if last is not None and now - last[0] < self.min_poll_interval_s:
            return last[1]
        outcome = self._poll(job_id, job_dir, handle["token"])
        if outcome[0] in (JOB_QUEUED, JOB_RUNNING):
            self._last_polls[job_id] = (now, outcome)
        else:
            self._last_polls.pop(job_id, None)
        return outcome

    def _show_job(self, job_id: str, token: str) -> dict[str, str] | None:
        """Return the job's ``scontrol`` fields, None if the controller forgot it.

        Raise JobOwnershipError unless the job's comment carries ``token``.
        """
        result = _run(["scontrol", "show", "job", "-o", "--", job_id])
        if result.returncode != 0:
            if "invalid job id" not in result.stderr.lower():
                raise ExecutorError(f"scontrol show job {job_id} failed: {result.stderr.strip()}")
            return None
        fields = parse_scontrol_record(result.stdout)
        if fields.get("JobId") != job_id or fields.get("Comment") != f"mc-{token}":
            raise JobOwnershipError(
                f"slurm executor: SLURM job {job_id} is not the job this handle submitted "
                "(its comment is not the submission's token); nothing was done"
            )
        return fields

    def _poll(self, job_id: str, job_dir: str, token: str) -> tuple[str, dict[str, Any]]:
        fields = self._show_job(job_id, token)
        if fields is None:
            # The job has left the controller's memory: its files tell the rest.
            exit_status = read_exit_status(job_dir)
            if exit_status is None:
                return JOB_FAILED, {
                    "error": f"SLURM job {job_id} is gone from the controller "
                    "and left no exit status"
                }
            return outcome_of_exit_status(exit_status)
        state = fields.get("JobState", "UNKNOWN")
        outputs: dict[str, Any] = {
            "slurm_state": state,
            "restarts": int(fields.get("Restarts", "0") or 0),
        }
        if state in _QUEUED_STATES:
            outputs["reason"] = fields.get("Reason")
            return JOB_QUEUED, outputs
        if state == "COMPLETED":
            # SLURM says the job ended well; its file has the last word if it wrote one.
            exit_status = read_exit_status(job_dir)
            state, ended = outcome_of_exit_status(0 if exit_status is None else exit_status)
            return state, {**outputs, **ended}
        if state in _FAILED_STATES:
            exit_status = read_exit_status(job_dir)
            # A cancelled job's ExitCode (0:15) is the signal, not a status
            # the command exited with: report one only if the job wrote it.
            if exit_status is None and not state.startswith("CANCELLED"):
                exit_status = _exit_code(fields.get("ExitCode"))
                if exit_status == ALREADY_RUNNING_EXIT_STATUS:
                    outputs["error"] = (
                        f"SLURM job {job_id} did not start: another run of its job dir held the "
                        "job dir's lock (a job dir runs at most once at a time)"
                    )
                    return JOB_FAILED, outputs
            if exit_status is not None:
                outputs["exit_status"] = exit_status
            reason = fields.get("Reason")
            outputs["error"] = f"SLURM job {job_id} {state}" + (
                f" ({reason})" if reason and reason != "None" else ""
            )
            return JOB_FAILED, outputs
        return JOB_RUNNING, outputs

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """``scancel`` the job, if the handle's job id is a job this executor submitted.

        Raises :class:`~mc.errors.JobOwnershipError` (and cancels nothing)
        otherwise.
        """
        job_id = check_job_id(handle.get("job_id") if isinstance(handle, Mapping) else None)
        owned_job_dir(handle, "slurm")
        self._last_polls.pop(job_id, None)
        fields = self._show_job(job_id, handle["token"])
        if fields is None:
            return  # gone from the controller: it has ended
        command = ["scancel", f"--name={fields.get('JobName', '')}", "--", job_id]
        result = _run(command)
        if result.returncode != 0:
            raise ExecutorError(f"scancel {job_id} failed: {result.stderr.strip()}")


def _job_name(key: str) -> str:
    """The SLURM job name of job ``key``: ``mc-`` and the key, made of safe characters."""
    return "mc-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(key))[:100]


def _exit_code(text: str | None) -> int | None:
    """Return the exit status of SLURM's ``ExitCode=status:signal``."""
    if not text:
        return None
    status, _, _signal = text.partition(":")
    return int(status) if status.isdigit() else None


def _run(
    command: list[str], timeout_s: float = _COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a SLURM command; a command that is missing, fails to start or hangs is an ExecutorError.

    An ExecutorError from a poll leaves the job task RUNNING (a controller
    may be briefly unreachable); anything else would fail it at once.
    """
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError:
        raise ExecutorError(
            f"{command[0]} is not installed here: the slurm executor needs SLURM's commands "
            "(scripts/setup_slurm.sh sets up a one-node test cluster)"
        ) from None
    except subprocess.TimeoutExpired:
        raise ExecutorError(f"{' '.join(command)} did not answer within {timeout_s} s") from None
    except OSError as error:
        raise ExecutorError(f"{' '.join(command)} could not run: {error}") from None
