"""Job modules, and how a job's ``job_type`` finds one.

A *job module* is any object (usually a Python module) with

``build_work_dir(params, output_dir) -> dict``
    writes the files of the job into ``output_dir`` (the job dir's
    ``work_dir/``) and returns ``{'entrypoint': <shell command run inside
    work_dir>, 'config_spec': {...}, 'resources': {...}}``; only
    ``entrypoint`` is required (see :mod:`mc.jobs.config_spec`);
``parse_work_dir(work_dir) -> dict`` (optional)
    reads the finished work dir back into JSON-able outputs.

A ``job_type`` resolves, in this order, like a task type does:

1. to a job module registered on the :class:`JobTypeRegistry` in use (the
   task context's ``'job_types'``, else :data:`default_job_types`);
2. to an entry point of the group ``mc.job_types`` with that name;
3. only if it is a dotted path whose module lies under the engine's
   ``allow_imports`` prefixes: the module itself (``mylab.jobs.relax``) or an
   object in it (``mylab.jobs:relax``), under the rules of
   :func:`mc.flows.registry.import_allowed`.

Nothing else is imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mc.errors import JobTypeError
from mc.flows.registry import import_allowed
from mc.flows.spec import suggest
from mc.flows.entry_points import entry_point_names, load_entry_point

ENTRY_POINT_GROUP = "mc.job_types"


def is_job_module(obj: Any) -> bool:
    """Return True if ``obj`` has a callable ``build_work_dir``."""
    return callable(getattr(obj, "build_work_dir", None))


class JobTypeRegistry:
    """Maps job-type names to job modules.

    ``job_modules`` are registered at once. Pass a registry to a flow's
    ticks as ``task_ctx['job_types']``; without one, ``job`` tasks use
    :data:`default_job_types`.
    """

    def __init__(self, job_modules: Mapping[str, Any] | None = None) -> None:
        self._modules: dict[str, Any] = {}
        for name, module in (job_modules or {}).items():
            self.register(name, module)

    def register(self, name: str, job_module: Any, replace: bool = False) -> Any:
        """Register ``job_module`` under ``name`` and return it.

        Raises :class:`~mc.errors.JobTypeError` if the name is taken (unless
        ``replace``) or the object has no ``build_work_dir``.
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise JobTypeError(f"job type name {name!r}: expected a non-empty string without ':'")
        if not is_job_module(job_module):
            raise JobTypeError(
                f"job type {name!r}: {job_module!r} is not a job module "
                "(expected an object with build_work_dir(params, output_dir))"
            )
        if name in self._modules and not replace:
            raise JobTypeError(
                f"job type {name!r} is already registered; pass replace=True to replace it"
            )
        self._modules[name] = job_module
        return job_module

    def resolve(self, job_type: Any, allow_imports: Iterable[str] = ()) -> Any:
        """Return the job module for ``job_type``, or raise JobTypeError saying why not."""
        if not isinstance(job_type, str) or not job_type:
            raise JobTypeError(f"job_type: expected a non-empty string, got {job_type!r}")
        module = self._modules.get(job_type)
        if module is not None:
            return module
        module = load_entry_point(
            ENTRY_POINT_GROUP, job_type, is_job_module, f"job type {job_type!r}", "a job module", JobTypeError
        )
        if module is not None:
            return module
        if "." in job_type or ":" in job_type:
            return import_allowed(
                job_type,
                allow_imports,
                is_job_module,
                "job_type",
                "a job module (with build_work_dir)",
                error_class=JobTypeError,
                modules=True,
            )
        known = self.names()
        raise JobTypeError(
            f"unknown job_type {job_type!r} (known: {', '.join(known) or 'none'}; "
            "or a module path under allow_imports)" + suggest(job_type, known)
        )

    def names(self) -> list[str]:
        """Return the known job-type names: registered and from entry points."""
        return sorted({*self._modules, *entry_point_names(ENTRY_POINT_GROUP)})

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` is registered here (entry points not counted)."""
        return name in self._modules


default_job_types = JobTypeRegistry()
"""The registry ``job`` tasks use when the task context names none."""


def register_job_type(name: str, job_module: Any = None, replace: bool = False) -> Any:
    """Register a job module on :data:`default_job_types`; a decorator without ``job_module``."""
    if job_module is None:
        return lambda job_module: default_job_types.register(name, job_module, replace)
    return default_job_types.register(name, job_module, replace)

