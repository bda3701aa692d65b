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

The executor's own ``partition``, ``account``, ``qos``, ``extra_directives``
and ``default_resources`` (``cores``, ``memory_mb``, ``walltime_s``) are
defaults that a job's resources override (extra directives add up). With
``max_jobs``, a job submitted while that many of the executor's jobs are
queued or running is submitted held (``sbatch --hold``), and a later poll
round releases held jobs, oldest first, in one ``scontrol release``, as
slots free up. The items of array jobs count and wait alike: an array's
items beyond the free slots go as an array submitted held, whose items are
released one by one (``scontrol release <array id>_<i>``). A job's
(a spec's) extra directives are refused unless the executor was configured
to allow their option by its exact name (``allowed_directives=('--gres',
'--qos')``); their values are checked (no ``$``, backquote, newline, ``;``,
space, quote or ``/``), and the options in :data:`~mc.jobs.job_dir.NEVER_FROM_A_JOB`
(``--output``, ``--error``, ``--chdir``, ``--export``, ``--wrap``, ...),
and the abbreviations ``sbatch`` would read as one of them (``--chd``), can
never be allowed; nor can the executor's own ``extra_directives`` (a
profile's, a program's) name one, as they would override the executor's.
Every value reaches ``sbatch`` as one argument, never through a shell; the
one line of script (``--wrap``) quotes the job dir with :func:`shlex.quote`.

Array jobs: with ``array_jobs``, ``submit`` checks a job and keeps it;
:meth:`SlurmExecutor.flush_submissions`, which the engine calls at the end
of the tick (and a poll calls, if anything is still kept), submits every
job kept since as one array job per group of identical ``sbatch`` options,
the jobs of a group sharing one token; a group larger than the cluster's
``MaxArraySize`` (or the executor's ``max_array_size``) as several arrays.
Each item's SLURM output goes to
``slurm-<array id>_<i>.out`` in its own job dir. ``submit_alone`` submits
a job at once, by itself, whatever ``array_jobs`` says: the ``job`` task
submits a retry (or a lost job) so.

Ownership: each submission sets the job's comment to ``mc-<token>``, the
token kept in the handle and in the job dir's ``submission.json``. Polls
and ``scancel`` act only on a numeric job id whose comment is that token
(and ``scancel`` also only on the job name it set), with the id passed
after ``--``.

Polling is batched, to spare the controller: one executor answers all its
polls from a snapshot of the queue that one ``squeue --me --states=all``
takes (``--json`` where this SLURM has it, 21.08 and later; else a
``--format`` line per job). A new snapshot is taken when a round of polls
begins again (a job already answered from this snapshot is polled again),
and never sooner than ``min_poll_interval_s`` (default 10 s) after the last:
so one runner round costs at most one ``squeue``, however many jobs it
polls. Jobs that left the queue since the last snapshot without writing
their exit-status file are asked about in one ``sacct`` (where SLURM keeps
accounting; without it, such a job is failed as gone). A finished job that
has left the controller's memory (after ``MinJobAge``) is read from its job
dir's exit-status file. A job submitted since the last snapshot is QUEUED
until the next. A job that SLURM requeues keeps its job id and is followed
through its restarts (``outputs['restarts']``). A job in a state this
executor does not know is UNKNOWN (:data:`~mc.jobs.constants.JOB_UNKNOWN`),
with ``outputs['unknown_state']`` naming the state, and polled on; FAILED,
with an error naming the state, once it has stayed so for
``unknown_state_timeout_s`` (default 10 minutes), and cancelled if it is
still in the queue. ``command_counts`` counts
the SLURM commands the executor ran, by name. ``scancel`` cancels, after
checking the job's comment in the last snapshot (or, for a job the
snapshot does not know, with ``scontrol show job``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import shlex
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError, JobError, JobOwnershipError
from mc.jobs.constants import (
    ALREADY_RUNNING_EXIT_STATUS,
    ENTRYPOINT_FILE,
    JOB_FAILED,
    JOB_LOST,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_UNFINISHED,
    JOB_UNKNOWN,
)
from mc.jobs.executors.base import (
    JobExecutor,
    absolute_job_dir,
    owned_job_dir,
    record_resources,
    record_submission,
)
from mc.jobs.job_dir import (
    NAME_VALUE_RE,
    check_directive,
    check_resources,
    never_from_a_job_read_as,
    outcome_of_exit_status,
    read_exit_status,
    read_job_meta,
)

__all__ = [
    "DEFAULT_MIN_POLL_INTERVAL_S",
    "DEFAULT_UNKNOWN_STATE_TIMEOUT_S",
    "DEFAULT_MAX_ARRAY_SIZE",
    "SQUEUE_FORMAT",
    "HELD_REASON",
    "JOB_ID_FILE",
    "ARRAY_LIST_FILE",
    "SQUEUE_JSON_SINCE",
    "check_job_id",
    "sbatch_options",
    "parse_scontrol_record",
    "squeue_has_json",
    "parse_squeue_json",
    "array_indices",
    "parse_squeue_text",
    "SACCT_FORMAT",
    "parse_sacct",
    "SlurmExecutor",
]


_logger = logging.getLogger(__name__)

# How long a SLURM command (sbatch, squeue, sacct, scancel) may take to answer.
_COMMAND_TIMEOUT_S = 60.0

# The least time between two squeue calls of one executor. Snakemake's SLURM
# executor waits 40 s between its status checks and Nextflow's pollInterval
# for grid executors is 5 s; 10 s keeps a lab's runners light on slurmctld
# and still notices a finished job soon.
DEFAULT_MIN_POLL_INTERVAL_S = 10.0

# How long a job may stay in a SLURM state this executor does not know before
# it is failed and cancelled (meanwhile its status is UNKNOWN, and
# outputs['unknown_state'] names the state).
DEFAULT_UNKNOWN_STATE_TIMEOUT_S = 600.0

# squeue's text format when it has no --json: job id, state, reason, job name
# (ours have no '|') and, last (it may hold anything), the comment.
SQUEUE_FORMAT = "%i|%T|%r|%j|%k"

# The reason SLURM gives for a job submitted with --hold (or held by its user).
HELD_REASON = "JobHeldUser"

# In a job dir: its SLURM job id, when an array job submitted it; and, in
# the first job dir of an array, the list of the array's job dirs.
JOB_ID_FILE = "slurm_job_id"
ARRAY_LIST_FILE = "slurm_array_jobs.txt"

# The most jobs in one array job when neither the executor's max_array_size
# nor the cluster's MaxArraySize (scontrol show config) says: SLURM's default
# MaxArraySize is 1001 (indices 0 to 1000).
DEFAULT_MAX_ARRAY_SIZE = 1000

# The first SLURM release whose squeue has --json.
SQUEUE_JSON_SINCE = (21, 8)

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
    # Held, pending, because the reservation it was to run in was deleted.
    "RESV_DEL_HOLD",
}
_RUNNING_STATES = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}
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

# Every state above, and the one of a job that ended well.
_KNOWN_STATES = _QUEUED_STATES | _RUNNING_STATES | _FAILED_STATES | {"COMPLETED"}

# SLURM job ids, as this executor accepts them from a handle.
_JOB_ID_RE = re.compile(r"[0-9]{1,18}")
# A job id in a handle or a job dir: a job, or one task of an array job.
_HANDLE_JOB_ID_RE = re.compile(r"[0-9]{1,18}(_[0-9]{1,9})?")


def check_job_id(job_id: Any) -> str:
    """Return a SLURM job id from a handle as a string of digits, or raise JobOwnershipError."""
    text = str(job_id) if isinstance(job_id, int) and not isinstance(job_id, bool) else job_id
    if not isinstance(text, str) or not _HANDLE_JOB_ID_RE.fullmatch(text):
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


def squeue_has_json() -> bool:
    """Return True if this SLURM's ``squeue`` has ``--json`` (release 21.08 and later)."""
    result = _run(["squeue", "--version"])
    match = re.search(r"(\d+)\.(\d+)", result.stdout)
    return (
        result.returncode == 0
        and match is not None
        and (int(match[1]), int(match[2])) >= SQUEUE_JSON_SINCE
    )


def _job_record(
    state: Any, reason: Any, restarts: Any, comment: Any, exit_code: Any = None, name: Any = None
) -> dict[str, Any]:
    return {
        "name": None if name in (None, "") else str(name),
        "state": str(state or "UNKNOWN").split()[0].upper(),
        "reason": None if reason in (None, "", "None") else str(reason),
        "restarts": int(restarts) if str(restarts or "0").isdigit() else 0,
        "comment": None if comment in (None, "(null)") else str(comment),
        "exit_code": exit_code,
    }


def parse_squeue_json(text: str) -> dict[str, dict[str, Any]]:
    """Return the jobs of ``squeue --json`` by job id.

    Each has ``state``, ``reason``, ``restarts``, ``comment`` and ``exit_code``.
    """
    try:
        jobs = json.loads(text)["jobs"]
    except (ValueError, KeyError, TypeError) as error:
        raise ExecutorError(
            f"squeue --json printed something that is not its JSON: {error}"
        ) from None
    records = {}
    for job in jobs:
        state = job.get("job_state")
        if isinstance(state, list):  # newer releases list the state and its flags
            state = state[0] if state else None
        exit_code = job.get("exit_code")
        if isinstance(exit_code, dict):  # 23.02 and later: {"status": ..., "return_code": ...}
            exit_code = exit_code.get("return_code")
        record = _job_record(
            state,
            job.get("state_reason"),
            job.get("restart_cnt"),
            job.get("comment"),
            _json_number(exit_code),
            job.get("name"),
        )
        array_id = _json_number(job.get("array_job_id"))
        task_id = _json_number(job.get("array_task_id"))
        if not array_id:
            records[str(job.get("job_id"))] = record
        elif task_id is not None:
            records[f"{array_id}_{task_id}"] = record
        else:
            # The array's tasks not yet started are one record: '0-199%10'.
            for index in array_indices(str(job.get("array_task_string") or "")):
                records[f"{array_id}_{index}"] = record
    return records


def _json_number(value: Any) -> int | None:
    """A whole number of ``squeue --json``: plain (22.05), or ``{set, infinite, number}`` (23.02+).

    None when it is absent, unset or infinite.
    """
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def array_indices(text: str) -> list[int]:
    """Return the task indices of an array's task string, such as ``'3,5-9:2%10'``."""
    indices: list[int] = []
    for part in text.partition("%")[0].split(","):
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        if not first.strip().isdigit():
            continue
        end = int(last) if last.strip().isdigit() else int(first)
        indices.extend(
            range(int(first), end + 1, int(step) if step.strip().isdigit() and int(step) > 0 else 1)
        )
    return indices


def parse_squeue_text(text: str) -> dict[str, dict[str, Any]]:
    """Return the jobs of ``squeue --noheader --format=SQUEUE_FORMAT`` by job id."""
    records = {}
    for line in text.splitlines():
        fields = line.split("|", 4)
        if len(fields) == 5:
            job_id, state, reason, name, comment = fields
            records[job_id.strip()] = _job_record(state, reason, 0, comment, name=name)
    return records


# What sacct is asked for, in this order (see parse_sacct).
SACCT_FORMAT = "JobID,JobIDRaw,State,ExitCode,Comment"

# sacct's JobID of an array's task ('100_3') or of its tasks not yet started ('100_[4-9%2]').
_SACCT_ARRAY_ID_RE = re.compile(r"([0-9]{1,18})_(?:([0-9]{1,9})|\[([0-9,:%-]{1,256})\])")


def parse_sacct(text: str) -> dict[str, dict[str, Any]]:
    """Return the jobs of ``sacct --parsable2 --format=SACCT_FORMAT`` by job id.

    A job is keyed by its raw id (``JobIDRaw``); an array's task also by
    ``<array id>_<index>`` (its ``JobID``), the id this executor polls it
    by (its raw id is a number of its own). SLURM's accounting may not
    keep comments: a job's ownership is then checked by its job dir's
    token alone.
    """
    records = {}
    for line in text.splitlines():
        fields = line.split("|", 4)
        if len(fields) != 5:
            continue
        job_id, raw_id, state, exit_code, comment = fields
        record = _job_record(state, None, 0, comment or None, _exit_code(exit_code))
        records[raw_id] = record
        array = _SACCT_ARRAY_ID_RE.fullmatch(job_id)
        if array is None:
            continue
        indices = [int(array[2])] if array[2] is not None else array_indices(array[3])
        for index in indices:
            records[f"{array[1]}_{index}"] = record
    return records


class SlurmExecutor(JobExecutor):
    """Runs job dirs through ``sbatch``; polls with ``scontrol``; cancels with ``scancel``.

    ``partition``, ``account`` and ``extra_directives`` are defaults for every
    job (the operator's, so taken as they are). ``allowed_directives`` names
    the options (``'--gres'``, ``'--qos'``, ...) that a job's own
    ``extra_directives`` may use; by default none. ``config`` and
    ``environ`` fulfil config specs. ``min_poll_interval_s`` is the least
    time between two ``squeue`` calls; ``squeue_json`` chooses ``squeue
    --json`` (True) or its text format (False), None to ask ``squeue
    --version``; ``unknown_state_timeout_s`` is how long a job may stay in
    a state this executor does not know. ``clock`` (default
    :func:`time.monotonic`) times both. ``max_jobs`` holds jobs over that
    many (see the module docstring). ``array_jobs`` submits the jobs of a
    tick together, as array jobs of at most ``max_array_size`` jobs each
    (None: the cluster's ``MaxArraySize``, see :meth:`array_size_limit`).
    """

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        extra_directives: Iterable[str] = (),
        min_poll_interval_s: float = DEFAULT_MIN_POLL_INTERVAL_S,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        allowed_directives: Iterable[str] = (),
        squeue_json: bool | None = None,
        unknown_state_timeout_s: float = DEFAULT_UNKNOWN_STATE_TIMEOUT_S,
        qos: str | None = None,
        default_resources: Mapping[str, Any] | None = None,
        max_jobs: int | None = None,
        array_jobs: bool = False,
        max_array_size: int | None = None,
    ) -> None:
        super().__init__(config, environ)
        for name, value in (("partition", partition), ("account", account), ("qos", qos)):
            if value is not None and (
                not isinstance(value, str) or not NAME_VALUE_RE.fullmatch(value)
            ):
                raise ExecutorError(
                    f"SlurmExecutor: {name}: expected a name of letters, digits, '_', '.' "
                    f"or '-', got {value!r}"
                )
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise ExecutorError(
                f"SlurmExecutor: max_jobs must be a positive whole number, got {max_jobs!r}"
            )
        self.max_jobs = max_jobs
        if max_array_size is not None and (
            isinstance(max_array_size, bool)
            or not isinstance(max_array_size, int)
            or max_array_size < 1
        ):
            raise ExecutorError(
                "SlurmExecutor: max_array_size must be a positive whole number, "
                f"got {max_array_size!r}"
            )
        self.max_array_size = max_array_size
        self._array_size_limit: int | None = None  # see array_size_limit
        for name, seconds, zero_ok in (
            ("min_poll_interval_s", min_poll_interval_s, True),
            ("unknown_state_timeout_s", unknown_state_timeout_s, False),
        ):
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not math.isfinite(seconds)
                or seconds < 0
                or (seconds == 0 and not zero_ok)
            ):
                wanted = (
                    "a number of seconds, 0 or more" if zero_ok else "a positive number of seconds"
                )
                raise ExecutorError(f"SlurmExecutor: {name}: expected {wanted}, got {seconds!r}")
        self.default_resources = check_resources(
            default_resources, "SlurmExecutor: default_resources"
        )
        if isinstance(allowed_directives, str):
            allowed_directives = (allowed_directives,)
        allowed = []
        for name in allowed_directives:
            option = name if isinstance(name, str) and name.startswith("--") else f"--{name}"
            # sbatch takes any unambiguous prefix of a long option: '--out' is
            # '--output', so a prefix of a never-allowed option is never allowed.
            never = never_from_a_job_read_as(option)
            if never:
                read_as = (
                    "" if never == [option] else f" (sbatch would read it as {' or '.join(never)})"
                )
                raise ExecutorError(
                    f"SlurmExecutor: allowed_directives: {option} can never come from a job"
                    f"{read_as}; "
                    "set what it sets in the executor's own configuration"
                )
            try:
                has_value = (
                    check_directive(option, "SlurmExecutor: allowed_directives", name_only=True)[1]
                    is not None
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
        if isinstance(extra_directives, str):
            extra_directives = (extra_directives,)
        defaults = [str(item) for item in extra_directives] + ([f"--qos={qos}"] if qos else [])
        for i, item in enumerate(defaults):
            # The executor's own options (--chdir, --output, --job-name,
            # --comment, --wrap, --array, ...) come before these on sbatch's
            # command line, so one of them here, or an abbreviation of one,
            # would override them: the rule for specs' and profiles' options.
            try:
                check_directive(item, f"SlurmExecutor: extra_directives[{i}]", check_value=False)
            except JobError as error:
                raise ExecutorError(str(error)) from None
        self.defaults: dict[str, Any] = {
            "partition": partition,
            "account": account,
            "extra_directives": defaults,
        }
        self.min_poll_interval_s = min_poll_interval_s
        self.clock = clock or time.monotonic
        if squeue_json is not None:
            squeue_json = bool(squeue_json)
        self.squeue_json = squeue_json
        self.unknown_state_timeout_s = unknown_state_timeout_s
        self.command_counts: Counter[str] = Counter()
        # The queue as the last squeue saw it, when, and which jobs were
        # answered from it since; jobs submitted since; job dirs by job id.
        self._snapshot: dict[str, dict[str, Any]] | None = None
        self._snapshot_at = 0.0
        self._answered: set[str] = set()
        self._submitted_since: set[str] = set()
        self._job_dirs: dict[str, str] = {}
        self._held: set[str] = set()
        self.array_jobs = bool(array_jobs)
        # Jobs waiting to be submitted, by their sbatch options; and the
        # sbatch refusals of those submitted since, by job dir.
        self._pending: dict[tuple[str, ...], dict[str, Any]] = {}
        # Guards _pending: a program may share an executor between threads.
        self._pending_lock = threading.Lock()
        self._refused: dict[str, str] = {}
        self._unknown_since: dict[str, float] = {}
        self._sacct_works = True

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
        """``sbatch`` the job dir and return ``{'job_id', 'job_dir', 'token', 'job_name'}``.

        With ``array_jobs``, the job waits, checked, with the others
        submitted before the next poll; the handle has no ``job_id`` then
        (see :meth:`flush_submissions`).
        """
        return self._submit(job_dir, resources, self.array_jobs)

    def submit_alone(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``sbatch`` the job dir at once, by itself, even with ``array_jobs``.

        How a ``job`` task submits a retry (or a job its executor lost):
        never joined into an array with other jobs, so that each retried
        job runs with the resources of its own attempt, and its own
        ``sbatch`` options, as :meth:`submit` without ``array_jobs`` does.
        """
        return self._submit(job_dir, resources, False)

    def _submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None, grouped: bool
    ) -> dict[str, Any]:
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
            **self.default_resources,
            **{name: value for name, value in merged.items() if value is not None},
            "extra_directives": extra,
        }
        # Where the operator's configuration (a profile) names the partition
        # or the account, a job (its spec, its module) cannot choose another.
        for name in ("partition", "account"):
            configured = self.defaults[name]
            if configured is not None and merged[name] != configured:
                raise JobError(
                    f"job {key!r}: resources.{name} {merged[name]!r}: this executor's "
                    f"configuration sets {name} {configured!r}, and a job cannot choose another"
                )
        record_resources(path, merged)
        if re.search(r"[%\\\s]", path):
            raise JobError(
                f"job {key!r}: job dir {path!r} has a '%', a backslash or a space, "
                "which sbatch would read as a pattern"
            )
        for stale in (JOB_ID_FILE,):
            (Path(path) / stale).unlink(missing_ok=True)
        options = tuple(sbatch_options(merged))
        if grouped:
            # Jobs with the same sbatch options share a token, which becomes
            # the comment of their one array job.
            with self._pending_lock:
                group = self._pending.setdefault(
                    options, {"token": secrets.token_hex(16), "jobs": []}
                )
                token = record_submission(path, "slurm", group["token"])
                group["jobs"].append((path, key))
            return {"job_dir": path, "token": token, "job_name": _job_name(key)}
        token = record_submission(path, "slurm")
        # Over max_jobs, a job is submitted held, and released by a later
        # poll round once a slot is free: SLURM keeps the queue, so a
        # restarted runner finds the held jobs and releases them in turn.
        hold = self.max_jobs is not None and len(self._active_job_ids()) >= self.max_jobs
        command = _sbatch_command(token, path, options, hold) + _plain_job_arguments(path, key)
        job_id = self._sbatch(command, repr(key))
        self._submitted_since.add(job_id)
        self._job_dirs[job_id] = path
        if hold:
            self._held.add(job_id)
        return {"job_id": job_id, "job_dir": path, "token": token, "job_name": _job_name(key)}

    def _sbatch(self, command: list[str], what: str) -> str:
        self.command_counts["sbatch"] += 1
        result = _run(command)
        if result.returncode != 0:
            # SLURM's reason comes last: the line that a task's and a flow's
            # error summaries show.
            raise ExecutorError(
                f"sbatch refused job {what} (exit status {result.returncode}); "
                f"command: {shlex.join(command)}\n"
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        job_id = result.stdout.strip().split(";")[0]
        if not _JOB_ID_RE.fullmatch(job_id):
            raise ExecutorError(f"sbatch printed {result.stdout.strip()!r}, expected a job id")
        return job_id

    def flush_submissions(self) -> None:
        """Submit the waiting jobs: each group of jobs with the same options as one array job.

        The engine calls this at the end of the tick that submitted them
        (see :meth:`~mc.flows.flow_engine.FlowEngine.flush_at_tick_end`);
        a poll calls it too. A group of more jobs than the cluster's
        ``MaxArraySize`` goes as several arrays (see
        :meth:`array_size_limit`); a group (or the last part of one) of
        one job is submitted as a plain job. Each job's SLURM id (``<array
        id>_<index>``) is written into its job dir's ``slurm_job_id``,
        where polls read it. A group that ``sbatch`` refuses fails its
        jobs' next polls with its message.
        """
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for options, group in pending.items():
            jobs = group["jobs"]
            size = self.array_size_limit() if len(jobs) > 1 else 1
            for start in range(0, len(jobs), size):
                part = jobs[start : start + size]
                if self.max_jobs is None:
                    self._submit_group(options, group["token"], part)
                    continue
                # max_jobs bounds all the executor's jobs, arrays or not: the
                # items beyond the free slots go held, and later polls
                # release them, oldest first, as slots free up.
                free = max(0, self.max_jobs - len(self._active_job_ids()))
                if part[:free]:
                    self._submit_group(options, group["token"], part[:free])
                if part[free:]:
                    self._submit_group(options, group["token"], part[free:], hold=True)

    def array_size_limit(self) -> int:
        """The most jobs one array job may hold here: ``max_array_size``, else the cluster's.

        Without ``max_array_size``, asked once of ``scontrol show config``
        (``MaxArraySize``: an array's indices run from 0 to one less);
        :data:`DEFAULT_MAX_ARRAY_SIZE` if it does not answer with a whole
        number. A cluster whose ``MaxArraySize`` is 0 (no arrays) gets its
        jobs submitted one by one.
        """
        if self._array_size_limit is None:
            self._array_size_limit = (
                self._cluster_max_array_size()
                if self.max_array_size is None
                else self.max_array_size
            )
        return max(1, self._array_size_limit)

    def _cluster_max_array_size(self) -> int:
        self.command_counts["scontrol"] += 1
        try:
            result = _run(["scontrol", "show", "config"])
        except ExecutorError as error:
            problem = str(error)
        else:
            problem = result.stderr.strip()
            match = re.search(r"^MaxArraySize\s*=\s*(\S*)", result.stdout, re.M)
            if result.returncode == 0 and match:
                if re.fullmatch(r"[0-9]{1,9}", match[1]):
                    return int(match[1])
                problem = f"MaxArraySize is {match[1]!r}, not a whole number"
        _logger.warning(
            "slurm executor: could not read MaxArraySize from scontrol show config (%s); "
            "arrays hold at most %d jobs",
            problem or "no MaxArraySize line",
            DEFAULT_MAX_ARRAY_SIZE,
        )
        return DEFAULT_MAX_ARRAY_SIZE

    def _submit_group(
        self,
        options: tuple[str, ...],
        token: str,
        jobs: Sequence[tuple[str, Any]],
        hold: bool = False,
    ) -> None:
        """Submit jobs as one array job (one job: a plain job); record refusals by job dir.

        With ``hold``, every job goes held (``sbatch --hold``), for a later
        poll to release (see :meth:`_release_held`).
        """
        first_dir, first_key = jobs[0]
        command = _sbatch_command(token, first_dir, options, hold)
        try:
            if len(jobs) == 1:
                command += _plain_job_arguments(first_dir, first_key)
            else:
                # The array's list of job dirs, one a line; task i runs line i + 1.
                listing = _write_array_list(first_dir, [path for path, _ in jobs])
                throttle = f"%{self.max_jobs}" if self.max_jobs else ""
                command += [
                    f"--job-name={_job_name(first_key)}-array",
                    f"--array=0-{len(jobs) - 1}{throttle}",
                    # SLURM's --output has no pattern for a directory per
                    # task: the script sends each task's output to its own
                    # job dir (see _array_script), and SLURM's file is none.
                    "--output=/dev/null",
                    f"--wrap={_array_script(listing)}",
                ]
            job_id = self._sbatch(
                command, f"array of {len(jobs)}" if len(jobs) > 1 else repr(first_key)
            )
        except OSError as error:
            for path, _ in jobs:
                self._refused[path] = (
                    f"the list of an array's job dirs could not be written in {first_dir}: "
                    f"{error.strerror or error}; nothing was submitted"
                )
            return
        except ExecutorError as error:
            for path, _ in jobs:
                self._refused[path] = str(error)
            return
        for index, (path, _) in enumerate(jobs):
            item_id = job_id if len(jobs) == 1 else f"{job_id}_{index}"
            _write_job_id(path, item_id)
            self._submitted_since.add(item_id)
            self._job_dirs[item_id] = path
            if hold:
                self._held.add(item_id)

    def _job_id_of(self, handle: Any, job_dir: str) -> str | None:
        """The handle's SLURM job id, else the one its job dir records; None if it has none yet."""
        job_id = handle.get("job_id") if isinstance(handle, Mapping) else None
        if job_id is None:
            job_id = _read_job_id(job_dir)
            if job_id is None:
                return None
        return check_job_id(job_id)

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the job's status and outputs.

        The outputs are ``exit_status``, ``error``, ``slurm_state`` and ``restarts``.

        Answered from this executor's last snapshot of the queue (see
        :meth:`poll_many`): a poll costs a SLURM command only when a new
        round begins and ``min_poll_interval_s`` has passed. Raises
        :class:`~mc.errors.JobOwnershipError` for a handle this executor
        did not submit (a job dir whose token differs, or a SLURM job whose
        comment is not its token).
        """
        return self.poll_many([handle])[0]

    def poll_many(self, handles: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """Poll several jobs with at most one ``squeue`` (and one ``sacct``).

        Returns their answers in order.

        The executor keeps a snapshot of the queue: every job of this user
        that the controller knows, from one ``squeue --me --states=all``. A
        new snapshot is taken when a job already answered from the current
        one is polled again (a new round of polls has begun) or a job is
        polled that the snapshot cannot know, and only if
        ``min_poll_interval_s`` has passed since the last one. A job
        submitted since the snapshot is QUEUED until the next one.
        """
        job_dirs = [owned_job_dir(handle, "slurm") for handle in handles]
        if self._pending:
            self.flush_submissions()
        checked, early = [], {}
        for index, (handle, job_dir) in enumerate(zip(handles, job_dirs, strict=True)):
            job_id = self._job_id_of(handle, job_dir)
            if job_id is None:
                refused = self._refused.pop(job_dir, None)
                early[index] = (
                    (JOB_FAILED, {"error": refused})
                    if refused
                    else (
                        JOB_LOST,
                        {
                            "error": "the job was waiting to be submitted with others "
                            "when its executor went away"
                        },
                    )
                )
                continue
            checked.append((index, job_id, job_dir, handle["token"]))
        if any(self._wants_refresh(job_id) for _, job_id, _, _ in checked) and self._may_refresh():
            self._refresh([(job_id, job_dir) for _, job_id, job_dir, _ in checked])
        answers: list[tuple[str, dict[str, Any]]] = [
            early.get(index, (JOB_LOST, {})) for index in range(len(handles))
        ]
        for index, job_id, job_dir, token in checked:
            answer = self._answer(job_id, job_dir, token)
            if "job_id" not in handles[index]:
                answer[1]["job_id"] = job_id
            answers[index] = answer
            self._answered.add(job_id)
            if answer[0] in JOB_UNFINISHED:
                self._job_dirs[job_id] = job_dir
            else:
                self._job_dirs.pop(job_id, None)
                self._held.discard(job_id)
        return answers

    def _wants_refresh(self, job_id: str) -> bool:
        if self._snapshot is None or job_id in self._answered:
            return True
        return job_id not in self._snapshot and job_id not in self._submitted_since

    def _may_refresh(self) -> bool:
        return (
            self._snapshot is None or self.clock() - self._snapshot_at >= self.min_poll_interval_s
        )

    def _refresh(self, polled: Iterable[tuple[str, str]]) -> None:
        """Take a new snapshot of the queue.

        Asks ``sacct`` about jobs that left it without an exit status.
        """
        previous = self._snapshot or {}
        snapshot = self._squeue()
        # Jobs that were in the queue (or just submitted, or polled now) and
        # have left it: their exit-status file tells, else SLURM's accounting.
        candidates = {
            job_id: job_dir for job_id, job_dir in self._job_dirs.items() if job_id in previous
        }
        candidates.update(
            (job_id, self._job_dirs[job_id])
            for job_id in self._submitted_since
            if job_id in self._job_dirs  # not one cancelled since
        )
        candidates.update(polled)
        gone = sorted(
            (
                job_id
                for job_id, job_dir in candidates.items()
                if job_id not in snapshot and read_exit_status(job_dir) is None
            ),
            key=_job_id_order,
        )
        if gone:
            snapshot.update(self._sacct(gone))
        self._release_held(snapshot)
        self._snapshot = snapshot
        self._snapshot_at = self.clock()
        self._answered.clear()
        self._submitted_since.clear()

    def _active_job_ids(self) -> set[str]:
        """This executor's jobs that are queued or running and not held."""
        return set(self._job_dirs) - self._held

    def _release_held(self, snapshot: Mapping[str, Mapping[str, Any]]) -> None:
        """Release held jobs, as many as ``max_jobs`` has free slots (all without it), in one call.

        Only this executor's jobs that are still queued count as held (a
        held job that was cancelled ends held, and is not released). A
        release that fails is logged and tried again next round: it must
        not fail the polls of every job.
        """
        held, active = [], 0
        for job_id in self._job_dirs:
            record = snapshot.get(job_id)
            if record is None:
                continue
            state = record.get("state")
            if state == "COMPLETED" or state in _FAILED_STATES:
                continue
            if state in _QUEUED_STATES and (
                record.get("reason") == HELD_REASON or job_id in self._held
            ):
                held.append(job_id)
            else:
                # Queued, running, or in a state this executor does not know:
                # it may hold a slot, so it counts.
                active += 1
        free = len(held) if self.max_jobs is None else self.max_jobs - active
        if free <= 0 or not held:
            self._held = set(held)
            return
        release = sorted(held, key=_job_id_order)[:free]
        self.command_counts["scontrol"] += 1
        result = _run(["scontrol", "release", ",".join(release)])
        if result.returncode != 0:
            _logger.warning(
                "slurm executor: scontrol release %s failed (tried again next round): %s",
                ",".join(release),
                result.stderr.strip(),
            )
            self._held = set(held)
            return
        self._held = set(held) - set(release)

    def _squeue(self) -> dict[str, dict[str, Any]]:
        """Return this user's jobs that the controller knows, by job id, from one ``squeue``."""
        if self.squeue_json is None:
            self.squeue_json = squeue_has_json()
        if self.squeue_json:
            command = ["squeue", "--me", "--states=all", "--json"]
        else:
            command = [
                "squeue",
                "--me",
                "--states=all",
                "--array",
                "--noheader",
                f"--format={SQUEUE_FORMAT}",
            ]
        self.command_counts["squeue"] += 1
        result = _run(command)
        if result.returncode != 0:
            raise ExecutorError(f"{' '.join(command)} failed: {result.stderr.strip()}")
        if self.squeue_json:
            return parse_squeue_json(result.stdout)
        return parse_squeue_text(result.stdout)

    def _sacct(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Ask SLURM's accounting about jobs that left the queue, in one ``sacct``.

        Returns {} if it keeps none.
        """
        if not self._sacct_works:
            return {}
        command = [
            "sacct",
            "--noheader",
            "--parsable2",
            "--allocations",
            f"--format={SACCT_FORMAT}",
            f"--jobs={','.join(job_ids)}",
        ]
        self.command_counts["sacct"] += 1
        try:
            result = _run(command)
        except ExecutorError as error:
            _logger.warning("slurm executor: %s; reading exit-status files only", error)
            self._sacct_works = False
            return {}
        if (
            result.returncode != 0
            or "accounting storage is disabled" in (result.stdout + result.stderr).lower()
        ):
            # A cluster without accounting: the job dirs' files are all there is.
            _logger.info("slurm executor: sacct answers nothing here (%s)", result.stderr.strip())
            self._sacct_works = False
            return {}
        return parse_sacct(result.stdout)

    def _answer(self, job_id: str, job_dir: str, token: str) -> tuple[str, dict[str, Any]]:
        assert self._snapshot is not None
        record = self._snapshot.get(job_id)
        if record is None:
            if job_id in self._submitted_since:
                return JOB_QUEUED, {"slurm_state": "SUBMITTED", "restarts": 0}
            # The job has left the controller's memory: its files tell the rest.
            exit_status = read_exit_status(job_dir)
            if exit_status is None:
                return JOB_FAILED, {
                    "error": f"SLURM job {job_id} is gone from the controller "
                    "and left no exit status"
                }
            return outcome_of_exit_status(exit_status)
        comment = record.get("comment")
        if comment is not None and comment != f"mc-{token}":
            raise JobOwnershipError(
                f"slurm executor: SLURM job {job_id} is not the job this handle submitted "
                "(its comment is not the submission's token); nothing was done"
            )
        return self._outcome(job_id, job_dir, record)

    def _outcome(
        self, job_id: str, job_dir: str, record: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        state = str(record.get("state") or "UNKNOWN")
        outputs: dict[str, Any] = {
            "slurm_state": state,
            "restarts": int(record.get("restarts") or 0),
        }
        reason = record.get("reason")
        if state in _KNOWN_STATES:
            self._unknown_since.pop(job_id, None)
        if state in _QUEUED_STATES:
            outputs["reason"] = reason
            return JOB_QUEUED, outputs
        if state in _RUNNING_STATES:
            return JOB_RUNNING, outputs
        if state == "COMPLETED":
            # SLURM says the job ended well; its file has the last word if it wrote one.
            exit_status = read_exit_status(job_dir)
            state, ended = outcome_of_exit_status(0 if exit_status is None else exit_status)
            return state, {**outputs, **ended}
        if state in _FAILED_STATES:
            exit_status = read_exit_status(job_dir)
            # A cancelled job's exit code (0:15) is the signal, not a status
            # the command exited with: report one only if the job wrote it.
            if exit_status is None and not state.startswith("CANCELLED"):
                exit_status = record.get("exit_code")
                if exit_status == ALREADY_RUNNING_EXIT_STATUS:
                    outputs["error"] = (
                        f"SLURM job {job_id} did not start: another run of its job dir held the "
                        "job dir's lock (a job dir runs at most once at a time)"
                    )
                    return JOB_FAILED, outputs
            if exit_status is not None:
                outputs["exit_status"] = exit_status
            outputs["error"] = f"SLURM job {job_id} {state}" + (
                f" ({reason})" if reason and reason != "None" else ""
            )
            return JOB_FAILED, outputs
        return self._unknown_outcome(job_id, state, record.get("name"), outputs)

    def _unknown_outcome(
        self, job_id: str, state: str, name: Any, outputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """UNKNOWN, for a state this executor does not know (a newer SLURM's, or a site's).

        The state is said as it is, in ``outputs['unknown_state']``. Polled
        on, as such a state may pass; FAILED, naming the state, once
        it has lasted ``unknown_state_timeout_s``, so that nothing waits
        forever. A job given up while still in the queue (``name`` is its
        job name there; None if only ``sacct`` knows it) is cancelled, so
        that a retry never runs beside it.
        """
        now = self.clock()
        since = self._unknown_since.setdefault(job_id, now)
        outputs["unknown_state"] = state
        outputs["unknown_for_s"] = now - since
        if now - since >= self.unknown_state_timeout_s:
            self._unknown_since.pop(job_id, None)
            outputs["error"] = (
                f"SLURM job {job_id} has been in state {state}, "
                "which MissionControl does not know, "
                f"for {now - since:g} s (unknown_state_timeout_s={self.unknown_state_timeout_s:g})"
            )
            if name:
                outputs["error"] += self._cancel_given_up(job_id, str(name))
            return JOB_FAILED, outputs
        if since == now:
            _logger.warning(
                "slurm executor: SLURM job %s is in state %s, which MissionControl does not "
                "know; polled on, and failed if it lasts %g s",
                job_id,
                state,
                self.unknown_state_timeout_s,
            )
        return JOB_UNKNOWN, outputs

    def _cancel_given_up(self, job_id: str, name: str) -> str:
        """``scancel`` a job this executor gave up on (its comment was checked); say how it went.

        A failure is told, not raised: the job's task fails either way.
        """
        self.command_counts["scancel"] += 1
        try:
            result = _run(["scancel", f"--name={name}", "--", job_id])
        except ExecutorError as error:
            return f"; it could not be cancelled: {error}"
        if result.returncode != 0:
            return f"; scancel failed: {result.stderr.strip()}"
        return "; it was cancelled"

    def _show_job(self, job_id: str, token: str) -> dict[str, str] | None:
        """Return the job's ``scontrol`` fields, None if the controller forgot it.

        Checks the job's comment.
        """
        self.command_counts["scontrol"] += 1
        result = _run(["scontrol", "show", "job", "-o", "--", job_id])
        if result.returncode != 0:
            if "invalid job id" not in result.stderr.lower():
                raise ExecutorError(f"scontrol show job {job_id} failed: {result.stderr.strip()}")
            return None
        fields = parse_scontrol_record(result.stdout)
        shown_id = fields.get("JobId")
        if fields.get("ArrayTaskId") not in (None, "N/A"):
            shown_id = f"{fields.get('ArrayJobId')}_{fields.get('ArrayTaskId')}"
        if shown_id != job_id or fields.get("Comment") != f"mc-{token}":
            raise JobOwnershipError(
                f"slurm executor: SLURM job {job_id} is not the job this handle submitted "
                "(its comment is not the submission's token); nothing was done"
            )
        return fields

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """``scancel`` the job, if the handle's job id is a job this executor submitted.

        A job still waiting to be submitted with others is dropped. Raises
        :class:`~mc.errors.JobOwnershipError` (and cancels nothing) otherwise.
        """
        job_dir = owned_job_dir(handle, "slurm")
        job_id = self._job_id_of(handle, job_dir)
        if job_id is None:
            with self._pending_lock:
                for group in self._pending.values():
                    group["jobs"] = [(path, key) for path, key in group["jobs"] if path != job_dir]
                self._pending = {
                    options: group for options, group in self._pending.items() if group["jobs"]
                }
            self._refused[job_dir] = "cancelled before it was submitted"
            return
        record = (self._snapshot or {}).get(job_id)
        if record is not None and record.get("name") and record.get("comment") is not None:
            # The last snapshot knows the job: its comment is checked as a
            # poll checks it, with no scontrol call per job.
            if record["comment"] != f"mc-{handle['token']}":
                raise JobOwnershipError(
                    f"slurm executor: SLURM job {job_id} is not the job this handle submitted "
                    "(its comment is not the submission's token); nothing was done"
                )
            name = str(record["name"])
        else:
            fields = self._show_job(job_id, handle["token"])
            if fields is None:
                return  # gone from the controller: it has ended
            name = fields.get("JobName", "")
        command = ["scancel", f"--name={name}", "--", job_id]
        self.command_counts["scancel"] += 1
        result = _run(command)
        if result.returncode != 0:
            raise ExecutorError(f"scancel {job_id} failed: {result.stderr.strip()}")
        # Cancelled: it holds no slot, and is never released.
        self._job_dirs.pop(job_id, None)
        self._held.discard(job_id)


def _sbatch_command(token: str, job_dir: str, options: Sequence[str], hold: bool) -> list[str]:
    """The start of every ``sbatch`` call: the token as comment, the job dir, the options."""
    return [
        "sbatch",
        "--parsable",
        f"--comment=mc-{token}",
        f"--chdir={job_dir}",
        "--ntasks=1",
        *(["--hold"] if hold else []),
        *options,
    ]


def _plain_job_arguments(job_dir: str, key: str) -> list[str]:
    """The rest of a plain job's ``sbatch`` call: its name, its log and its script."""
    return [
        f"--job-name={_job_name(key)}",
        # The job's scheduler log, as mc.flows.task_logs.scheduler_log_file
        # finds it (a name of its own there: mc.flows does not import mc.jobs).
        f"--output={job_dir}/slurm-%j.out",
        # SLURM runs a copy of the batch script from its spool directory;
        # the wrapper runs entrypoint.sh where it is, so it finds its job dir.
        f"--wrap=exec bash {shlex.quote(str(Path(job_dir) / ENTRYPOINT_FILE))}",
    ]


def _array_script(listing: Path) -> str:
    """The batch script of an array job: task ``i`` runs the job dir on line ``i + 1`` of the list.

    The listing holds the job dirs that :meth:`SlurmExecutor.submit`
    checked (absolute, with no space, ``%`` or backslash), written by the
    executor alone; the script quotes its path and the line it reads. The
    task's output (what its shell and ``entrypoint.sh`` print outside the
    job's own ``stdout.txt`` and ``stderr.txt``) goes to
    ``slurm-<array id>_<i>.out`` in its own job dir, as a plain job's
    goes to ``slurm-<job id>.out`` in its job dir.
    """
    return (
        'dir="$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" '
        f'{shlex.quote(str(listing))})" && [ -n "$dir" ] '
        '&& exec >"$dir/slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out" 2>&1 '
        f'&& exec bash "$dir/{ENTRYPOINT_FILE}"; exit 1'
    )


def _write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path``, never through a link planted there.

    Whatever was at ``path`` (a file, a symlink) is removed first; the file
    is created with ``O_EXCL | O_NOFOLLOW``, so a link planted meanwhile
    makes this fail (OSError) rather than write through it.
    """
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def _write_job_id(job_dir: str, job_id: str) -> None:
    _write_new_file(Path(job_dir) / JOB_ID_FILE, job_id + "\n")


def _write_array_list(job_dir: str, job_dirs: Sequence[str]) -> Path:
    """Write an array's list of job dirs, one a line, in its first job dir; return its path."""
    listing = Path(job_dir) / ARRAY_LIST_FILE
    _write_new_file(listing, "".join(f"{path}\n" for path in job_dirs))
    return listing


def _read_job_id(job_dir: str) -> str | None:
    try:
        fd = os.open(Path(job_dir) / JOB_ID_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as file:
            return file.read(64).strip() or None
    except OSError:
        return None


def _job_id_order(job_id: str) -> tuple[int, ...]:
    """Sort key of a job id: a job's number, then an array task's index (``'100_3'``)."""
    return tuple(int(part) for part in job_id.split("_"))


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
        # No stdin: sbatch given no script (an option swallowing --wrap)
        # must fail, not read one from the runner's stdin.
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
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
