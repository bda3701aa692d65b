"""What every job executor shares: the interface, and fulfilling a job's needs at submit.

A *job executor* runs job dirs (see :mod:`mc.jobs.job_dir`). Its interface:

``submit(job_dir, resources=None) -> handle``
    starts (or queues) the job and returns a JSON-able handle. ``resources``
    override those the job module asked for.
``poll(handle) -> (status, outputs)``
    ``status`` is one of QUEUED, RUNNING, COMPLETED, FAILED or LOST (the
    executor knows nothing of the job and it never ran, so submitting again
    is safe; with ``outputs['resubmit'] = False``, it may have run, and only
    the task's retries may run it again); ``outputs`` is a dict, with
    ``exit_status`` once the job ended and ``error`` when the executor has
    something to say about a failure.
    A new executor object, given a handle an earlier one returned, polls the
    same job: that is how a restarted runner reconnects.
``cancel(handle)``
    stops the job; its next poll reports FAILED.

Handles are checked before use. A handle comes from the engine-owned
``task['job']``, never from a spec, and still every built-in executor
refuses one it did not make: :func:`record_submission` writes a random
token into the job dir at submit, which goes into the handle too, and
:func:`owned_job_dir` checks the two (and that no symlink was swapped into
the path) before anything is polled, written or signalled, raising
:class:`~mc.errors.JobOwnershipError` otherwise.

A *call executor* runs Python callables: ``submit_call(fn, args, kwargs) ->
handle``, ``poll_call(handle) -> (status, outputs)`` with ``outputs``
holding ``result`` or ``error``, and ``cancel_call(handle)``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mc.errors import JobOwnershipError
from mc.flows.plugins import can_run_calls, can_run_jobs
from mc.jobs.config_spec import resolve_config, write_config_env
from mc.jobs.constants import RESOURCES_FILE, SUBMISSION_FILE
from mc.jobs.job_dir import check_resources, read_job_meta

__all__ = [
    "record_resources",
    "job_dir_of_handle",
    "recorded_submission",
    "JobExecutor",
    "absolute_job_dir",
    "can_run_calls",
    "can_run_jobs",
    "handle_fields",
    "owned_job_dir",
    "record_submission",
]


class JobExecutor:
    """Base class of the built-in job executors.

    ``config`` maps config-spec setting names to values (see
    :mod:`mc.jobs.config_spec`); ``environ`` is the environment settings
    fall back to (default :data:`os.environ`).
    """

    def __init__(
        self, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.environ = environ

    def prepare(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Fulfil the job's config spec into ``config.env``; return its merged resources.

        The merged resources are recorded in the job dir's ``resources.json``
        (when there are none, no file is written, and one left by an earlier
        submission is removed).

        Raises :class:`~mc.errors.JobConfigError` naming a required setting
        nothing provides, before anything runs.
        """
        meta = read_job_meta(job_dir)
        values = resolve_config(
            meta.get("config_spec") or {}, self.config, self.environ, meta.get("key")
        )
        write_config_env(job_dir, values)
        merged = dict(meta.get("resources") or {})
        merged.update(check_resources(resources, f"job {meta.get('key')!r}: resources"))
        if merged:
            record_resources(job_dir, merged)
        else:
            (Path(job_dir) / RESOURCES_FILE).unlink(missing_ok=True)
        return merged


def record_resources(job_dir: str | os.PathLike[str], resources: Mapping[str, Any]) -> None:
    """Write the resources a submission asked for into the job dir's ``resources.json``."""
    path = Path(job_dir) / RESOURCES_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(json.dumps(dict(resources), sort_keys=True) + "\n")


def absolute_job_dir(job_dir: str | os.PathLike[str]) -> str:
    """Return ``job_dir`` as an absolute path string, symlinks resolved."""
    return os.path.realpath(job_dir)


def record_submission(job_dir: str, executor_kind: str, token: str | None = None) -> str:
    """Write the job dir's ``submission.json`` for a new submission; return its token.

    The token goes into the handle too: an executor acts on a job dir (writes
    into it, signals its process) only if the two match (see
    :func:`owned_job_dir`).
    """
    token = token or secrets.token_hex(16)
    text = json.dumps({"executor": executor_kind, "token": token})
    path = Path(job_dir) / SUBMISSION_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    return token


def recorded_submission(job_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return what :func:`record_submission` wrote into ``job_dir``.

    None if it holds nothing readable.

    The file is opened without following a symlink.
    """
    try:
        fd = os.open(Path(job_dir) / SUBMISSION_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, encoding="utf-8") as file:
            record = json.loads(file.read(4096))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def job_dir_of_handle(handle: Any) -> str | None:
    """Return the job dir a job task's handle names, if that job dir's submission token matches.

    For readers that show a job's files (``mc logs``): the same checks as
    :func:`owned_job_dir` (an absolute path with no symlink on the way, a
    ``submission.json`` holding the handle's token), whatever executor made
    it; None when one fails.
    """
    if not isinstance(handle, Mapping):
        return None
    job_dir, token = handle.get("job_dir"), handle.get("token")
    if not isinstance(job_dir, str) or not os.path.isabs(job_dir) or "\0" in job_dir:
        return None
    if (
        not isinstance(token, str)
        or not token
        or os.path.realpath(job_dir) != os.path.normpath(job_dir)
    ):
        return None
    record = recorded_submission(job_dir)
    if record is None or not secrets.compare_digest(str(record.get("token")), token):
        return None
    return job_dir


def handle_fields(handle: Any, executor_kind: str) -> tuple[str, str]:
    """Return a handle's job dir and token, checked for shape only; nothing is read.

    The job dir must be an absolute path and the token a non-empty string;
    otherwise raises :class:`~mc.errors.JobOwnershipError`. Whether the
    token is the job dir's is for :func:`owned_job_dir` (or an executor's
    own record of the tokens it made) to say.
    """
    if not isinstance(handle, Mapping):
        raise JobOwnershipError(
            f"{executor_kind} executor: a handle must be a dict, got {type(handle).__name__}"
        )
    job_dir, token = handle.get("job_dir"), handle.get("token")
    if not isinstance(job_dir, str) or not os.path.isabs(job_dir) or "\0" in job_dir:
        raise JobOwnershipError(
            f"{executor_kind} executor: handle's job_dir {job_dir!r} is not an absolute path"
        )
    if not isinstance(token, str) or not token:
        raise JobOwnershipError(
            f"{executor_kind} executor: the handle of {job_dir!r} has no submission token "
            "(made by another program, or by an older MissionControl); nothing was done"
        )
    return job_dir, token


def owned_job_dir(handle: Any, executor_kind: str) -> str:
    """Return the handle's job dir if this kind of executor submitted it with the handle's token.

    The job dir must be an absolute path with no symlink on the way (as
    :func:`absolute_job_dir` recorded it at submit, so a directory swapped
    for a symlink since then is refused), and its ``submission.json`` must
    hold ``executor_kind`` and the handle's token. Otherwise raises
    :class:`~mc.errors.JobOwnershipError`, and the caller does nothing.
    """
    job_dir, token = handle_fields(handle, executor_kind)
    if os.path.realpath(job_dir) != os.path.normpath(job_dir):
        raise JobOwnershipError(
            f"{executor_kind} executor: job dir {job_dir!r} leads through a symlink; "
            "nothing was done"
        )
    record = recorded_submission(job_dir)
    if (
        record is None
        or record.get("executor") != executor_kind
        or not secrets.compare_digest(str(record.get("token")), token)
    ):
        raise JobOwnershipError(
            f"{executor_kind} executor: job dir {job_dir!r} was not submitted by this handle "
            f"(its {SUBMISSION_FILE} does not match); nothing was done"
        )
    return job_dir
