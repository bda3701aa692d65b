"""The ``prebaked`` executor: canned outputs per job_type, for testing flows without running anything.

"Define a runner with prebaked outputs": a flow of ``job`` tasks runs in a
test in milliseconds, with no cluster, and every job's outputs are what the
test said they would be. Per job_type, a :class:`Prebaked` entry gives

``files``
    files (relative path -> text) written into the job's ``work_dir/``, so
    that the job module's real ``parse_work_dir`` reads them;
``outputs``
    parsed outputs, used instead of calling ``parse_work_dir``; a dict, or a
    function ``outputs(job_params) -> dict`` for outputs that depend on the
    job's parameters;
``exit_status``, ``stdout``, ``stderr``
    what the job "printed" and how it "ended".

Submitting writes all that into the job dir at once (nothing is executed);
the first poll reports the job finished. The job dir is still built by the
real job module, so builders are exercised too. A job_type with no entry
fails its job, saying so. Every submitted job is kept in :attr:`submitted`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc.errors import JobError
from mc.jobs.constants import (
    COMPLETED,
    EXIT_STATUS_FILE,
    FAILED,
    LOST,
    STDERR_FILE,
    STDOUT_FILE,
    WORK_DIR_NAME,
)
from mc.jobs.executors.base import JobExecutor, absolute_job_dir, owned_job_dir, record_submission
from mc.jobs.job_dir import read_exit_status, read_job_meta

PREBAKED_OUTPUTS_FILE = "prebaked_outputs.json"


@dataclass
class Prebaked:
    """What a prebaked job of one job_type leaves behind (see the module docstring)."""

    files: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] | None = None
    exit_status: int = 0
    stdout: str = ""
    stderr: str = ""


class PrebakedExecutor(JobExecutor):
    """Finishes every job at submit with the canned results of its job_type.

    ``prebaked`` maps job_type names to :class:`Prebaked` entries (or to
    dicts of its fields). ``config`` fulfils config specs as any executor
    does, so that a missing required setting fails here as it would for real.
    """

    def __init__(
        self,
        prebaked: Mapping[str, Prebaked | Mapping[str, Any]] | None = None,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, environ)
        self.prebaked: dict[str, Prebaked] = {}
        self.submitted: list[dict[str, Any]] = []
        for job_type, entry in (prebaked or {}).items():
            self.add(job_type, entry)

    def add(
        self, job_type: str, entry: Prebaked | Mapping[str, Any] | None = None, **fields: Any
    ) -> Prebaked:
        """Set the canned results of ``job_type``: a :class:`Prebaked`, a dict, or keywords."""
        if isinstance(entry, Mapping) or entry is None:
            fields = {**(entry or {}), **fields}
            unknown = set(fields) - set(Prebaked.__dataclass_fields__)
            if unknown:
                raise JobError(
                    f"prebaked {job_type!r}: unknown fields {sorted(unknown)} "
                    f"(expected some of {sorted(Prebaked.__dataclass_fields__)})"
                )
            entry = Prebaked(**fields)
        elif not isinstance(entry, Prebaked):
            raise JobError(
                f"prebaked {job_type!r}: expected a Prebaked or a dict, got {type(entry).__name__}"
            )
        for relative in entry.files:
            path = Path(relative)
            if path.is_absolute() or ".." in path.parts:
                raise JobError(
                    f"prebaked {job_type!r}: files: {relative!r} must be a path inside the work dir "
                    "(relative, without '..')"
                )
        self.prebaked[job_type] = entry
        return entry

    def submit(
        self, job_dir: str | os.PathLike[str], resources: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write the job_type's canned results into the job dir; return its handle."""
        self.prepare(job_dir, resources)
        path = Path(absolute_job_dir(job_dir))
        token = record_submission(str(path), "prebaked")
        meta = read_job_meta(path)
        self.submitted.append({key: meta[key] for key in ("key", "job_type", "job_params")})
        entry = self.prebaked.get(meta["job_type"])
        if entry is None:
            known = ", ".join(sorted(self.prebaked)) or "none"
            (path / STDERR_FILE).write_text(
                f"prebaked executor: no prebaked outputs for job_type {meta['job_type']!r} "
                f"(prebaked job types: {known})\n",
                encoding="utf-8",
            )
            (path / EXIT_STATUS_FILE).write_text("1\n", encoding="utf-8")
            return {"job_dir": str(path), "token": token}
        for relative, text in entry.files.items():
            target = path / WORK_DIR_NAME / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        outputs = entry.outputs(meta["job_params"]) if callable(entry.outputs) else entry.outputs
        if outputs is not None:
            (path / PREBAKED_OUTPUTS_FILE).write_text(json.dumps(outputs), encoding="utf-8")
        (path / STDOUT_FILE).write_text(entry.stdout, encoding="utf-8")
        (path / STDERR_FILE).write_text(entry.stderr, encoding="utf-8")
        (path / EXIT_STATUS_FILE).write_text(f"{entry.exit_status}\n", encoding="utf-8")
        return {"job_dir": str(path), "token": token}

    def poll(self, handle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Report the job finished, with ``parsed_outputs`` if outputs were prebaked."""
        job_dir = Path(owned_job_dir(handle, "prebaked"))
        exit_status = read_exit_status(job_dir)
        if exit_status is None:
            return LOST, {"error": "no prebaked results in the job dir"}
        outputs: dict[str, Any] = {"exit_status": exit_status}
        parsed = job_dir / PREBAKED_OUTPUTS_FILE
        if parsed.exists():
            outputs["parsed_outputs"] = json.loads(parsed.read_text(encoding="utf-8"))
        return (COMPLETED if exit_status == 0 else FAILED), outputs

    def cancel(self, handle: Mapping[str, Any]) -> None:
        """Do nothing: a prebaked job has already finished."""
