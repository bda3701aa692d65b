"""What every job executor shares: the interface, and fulfilling a job's needs at submit.

A *job executor* runs job dirs (see :mod:`mc.jobs.job_dir`). Its interface:

``submit(job_dir, resources=None) -> handle``
    starts (or queues) the job and returns a JSON-able handle. ``resources``
    override those the job module asked for.
``poll(handle) -> (status, outputs)``
    ``status`` is one of QUEUED, RUNNING, COMPLETED, FAILED or LOST (the
    executor knows nothing of the job and it never ran, so submitting again
    is safe); ``outputs`` is a dict, with ``exit_status`` once the job ended
    and ``error`` when the executor has something to say about a failure.
    A new executor object, given a handle an earlier one returned, polls the
    same job: that is how a restarted runner reconnects.
``cancel(handle)``
    stops the job; its next poll reports FAILED.

A *call executor* runs Python callables: ``submit_call(fn, args, kwargs) ->
handle``, ``poll_call(handle) -> (status, outputs)`` with ``outputs``
holding ``result`` or ``error``, and ``cancel_call(handle)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mc.flows.plugins import can_run_calls, can_run_jobs
from mc.jobs.config_spec import resolve_config, write_config_env
from mc.jobs.job_dir import check_resources, read_job_meta

__all__ = ["JobExecutor", "absolute_job_dir", "can_run_calls", "can_run_jobs"]


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
        return merged


def absolute_job_dir(job_dir: str | os.PathLike[str]) -> str:
    """Return ``job_dir`` as an absolute path string."""
    return str(Path(job_dir).absolute())
