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
   task context's ``'job_types'``, else the engine's ``job_types``, else
   :data:`default_job_types`);
2. to an entry point of the group ``mc.job_types`` with that name;
3. only if it is a dotted path whose module lies under the engine's
   ``allow_imports`` prefixes: the module itself (``mylab.jobs.relax``) or an
   object in it (``mylab.jobs:relax``), under the rules of
   :func:`mc.flows.registry.import_allowed`.

Nothing else is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from mc.errors import JobTypeError
from mc.flows.registry import Registry

__all__ = [
    "JobModule",
    "ParsingJobModule",
    "is_job_module",
    "JobTypeRegistry",
    "default_job_types",
    "register_job_type",
]

_ENTRY_POINT_GROUP = "mc.job_types"


@runtime_checkable
class JobModule(Protocol):
    """The contract of a job module (usually a Python module with these functions).

    ``parse_work_dir(work_dir) -> dict`` is optional, so it is not part of
    the protocol; see :class:`ParsingJobModule`.
    """

    def build_work_dir(self, params: dict[str, Any], output_dir: str, /) -> Mapping[str, Any]:
        """Write the job's files into ``output_dir``; return at least ``{'entrypoint': ...}``."""


@runtime_checkable
class ParsingJobModule(JobModule, Protocol):
    """A job module that also reads its finished work dir back into outputs."""

    def parse_work_dir(self, work_dir: str, /) -> Any:
        """Return the JSON-able outputs of the finished job in ``work_dir``."""


_JobModuleT = TypeVar("_JobModuleT")


def is_job_module(obj: Any) -> bool:
    """Return True if ``obj`` has a callable ``build_work_dir``."""
    return callable(getattr(obj, "build_work_dir", None))


class JobTypeRegistry(Registry[JobModule]):
    """Maps job-type names to job modules (:class:`JobModule`).

    ``job_modules`` are registered at once. A ``job`` task uses the
    registry in its task context (``task_ctx['job_types']``), else its
    engine's (``FlowEngine(job_types=...)``), else
    :data:`default_job_types`. Names follow the rules of
    :class:`~mc.flows.registry.Registry`; a dotted ``job_type`` may name a
    module, or an object in one, under the allowed prefixes.
    """

    def __init__(
        self,
        job_modules: Mapping[str, JobModule] | None = None,
        allow_imports: Iterable[str] | str = (),
    ) -> None:
        super().__init__(
            "job type",
            "job_type",
            is_job_module,
            "a job module (expected an object with build_work_dir(params, output_dir))",
            JobTypeError,
            _ENTRY_POINT_GROUP,
            items=job_modules,
            allow_imports=allow_imports,
            import_modules=True,
            unknown_hint="; or a module path under allow_imports",
        )


default_job_types = JobTypeRegistry()
"""The registry ``job`` tasks use when neither the task context nor the engine names one.

It is shared, as the default engine is: :func:`register_job_type` fills it.
"""


@overload
def register_job_type(
    name: str, job_module: None = None, replace: bool = False
) -> Callable[[_JobModuleT], _JobModuleT]: ...


@overload
def register_job_type(name: str, job_module: _JobModuleT, replace: bool = False) -> _JobModuleT: ...


def register_job_type(name: str, job_module: Any = None, replace: bool = False) -> Any:
    """Register a job module on :data:`default_job_types`; a decorator without ``job_module``."""
    if job_module is None:
        return lambda job_module: default_job_types.register(name, job_module, replace)
    return default_job_types.register(name, job_module, replace)
