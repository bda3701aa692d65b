"""The operator's rules for what a spec may do with jobs: :class:`JobPolicy`.

A flow spec is untrusted input. What its ``job`` and ``call`` tasks may
reach is decided by whoever runs the engine, through a :class:`JobPolicy`
passed in the task context as ``'job_policy'`` (``mc run`` and ``mc
runner`` build one from their options). Without one, the defaults apply:

* a spec may name the executors ``local``, ``inline``, ``threads`` and
  ``processes`` (all of them run on this machine, as this user); any other
  executor only if the program registered it on the engine
  (``FlowEngine(executors=...)``), made it the task context's
  ``'default_executor'``, or listed it in :attr:`JobPolicy.executors`;
* job dirs go under the jobs root (the task context's ``'jobs_root'``, else
  ``$MC_JOBS_ROOT``, else ``mc_jobs`` in the working directory), and a
  spec's ``task_params.job_dir`` must lie under it too, symlinks resolved:
  a relative one is taken relative to the jobs root, and ``..`` is refused.

The policy is a frozen object, so a ``wire`` task, which can write into the
dicts of a task context, cannot change it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc.errors import ExecutorError, JobError
from mc.jobs import constants

__all__ = ["DEFAULT_SPEC_EXECUTORS", "JobPolicy", "job_policy"]

# Executors a spec may name when the operator said nothing: they run work on
# this machine, as the runner's user, as the default ones do.
DEFAULT_SPEC_EXECUTORS = ("local", "inline", "threads", "processes")

# One part of a job dir path that a spec gives: no leading dot (so no '..'
# and no hidden files), no separator, no shell or sbatch metacharacter.
_PATH_PART_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,+=@-]{0,254}")


@dataclass(frozen=True)
class JobPolicy:
    """What specs may choose for their jobs; the operator's configuration.

    ``executors``: executor names that a spec's ``task_params.executor`` may
    name (besides the executors registered on the engine and the task
    context's ``'default_executor'``). ``jobs_roots``: the directories
    under which job dirs may be built; the first is where job dirs go when
    the task context names no ``'jobs_root'``; empty means the one jobs
    root in use (see the module docstring). ``allow_job_dir_outside_root``:
    whether a spec's ``task_params.job_dir`` may point anywhere (default
    false). ``executor_jobs_roots``: pairs of an executor name and the jobs
    root of its jobs (an executor profile's ``jobs_root``), which overrides
    the jobs root for that executor's jobs and is allowed for them.
    """

    executors: tuple[str, ...] = DEFAULT_SPEC_EXECUTORS
    jobs_roots: tuple[str, ...] = ()
    allow_job_dir_outside_root: bool = False
    executor_jobs_roots: tuple[tuple[str, str], ...] = ()
    _roots: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _executor_roots: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, given in (("executors", self.executors), ("jobs_roots", self.jobs_roots)):
            if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
                raise JobError(f"JobPolicy: {name} must be a list of strings, got {given!r}")
            value = tuple(str(item) for item in given)
            if any(not item or "\0" in item for item in value):
                raise JobError(
                    f"JobPolicy: {name} must hold non-empty strings without NUL, got {value!r}"
                )
            object.__setattr__(self, name, value)
        object.__setattr__(
            self, "allow_job_dir_outside_root", bool(self.allow_job_dir_outside_root)
        )
        object.__setattr__(
            self, "_roots", tuple(os.path.realpath(root) for root in self.jobs_roots)
        )
        pairs = tuple(
            (str(name), str(root)) for name, root in dict(self.executor_jobs_roots).items()
        )
        object.__setattr__(self, "executor_jobs_roots", pairs)
        object.__setattr__(
            self, "_executor_roots", {name: os.path.realpath(root) for name, root in pairs}
        )

    def check_executor(self, name: Any, task_ctx: Mapping[str, Any], where: str) -> str:
        """Return ``name`` if a spec may choose that executor here, else raise ExecutorError."""
        if not isinstance(name, str) or not name:
            raise ExecutorError(f"{where}: task_params.executor must be a name, got {name!r}")
        engine = task_ctx.get("flow_engine")
        registry = getattr(engine, "executor_registry", None)
        if (
            name in self.executors
            or name == task_ctx.get("default_executor")
            or (registry is not None and registry.is_registered(name))
        ):
            return name
        if registry is not None and name not in registry.names():
            registry.get(name)  # raises the registry's error: unknown, with suggestions
        raise ExecutorError(
            f"{where}: task_params.executor {name!r} is not allowed here (allowed: "
            f"{', '.join(sorted(set(self.executors)))}); the operator allows more with "
            f"JobPolicy(executors=...) or `mc runner --allow-executor {name}`"
        )

    def jobs_root(self, task_ctx: Mapping[str, Any], executor: str | None = None) -> str:
        """Return the jobs root that default job dirs go under, symlinks resolved.

        The jobs of an ``executor`` with a jobs root of its own (see
        ``executor_jobs_roots``) go under that. Raises JobError if the task
        context names a root outside ``jobs_roots``.
        """
        if executor is not None and executor in self._executor_roots:
            return self._executor_roots[executor]
        root = task_ctx.get("jobs_root") or (self.jobs_roots[0] if self.jobs_roots else None)
        root = root or os.environ.get(constants.JOBS_ROOT_ENV_VAR) or constants.DEFAULT_JOBS_ROOT
        resolved = os.path.realpath(root)
        if self._roots and not any(
            _inside(resolved, allowed, or_equal=True) for allowed in self._roots
        ):
            raise JobError(
                f"jobs root {str(root)!r} is not under the allowed jobs roots "
                f"({', '.join(self.jobs_roots)})"
            )
        return resolved

    def spec_job_dir(
        self, job_dir: Any, task_ctx: Mapping[str, Any], where: str, executor: str | None = None
    ) -> str:
        """Return the absolute job dir for a spec's ``task_params.job_dir``, or raise JobError.

        A relative path is taken under the jobs root. Each of its parts (all
        of them, for a path outside the roots) must be a plain name: letters,
        digits and ``_ . , + = @ -``, not starting with a dot. The result,
        symlinks resolved, must lie under an allowed jobs root unless
        ``allow_job_dir_outside_root``.
        """
        if (
            not isinstance(job_dir, str)
            or not job_dir
            or not job_dir.isprintable()
            or not _encodable(job_dir)
        ):
            raise JobError(
                f"{where}: task_params.job_dir must be a path of printable characters, "
                f"got {job_dir!r}"
            )
        root = self.jobs_root(task_ctx, executor)
        candidate = job_dir if os.path.isabs(job_dir) else os.path.join(root, job_dir)
        resolved = os.path.realpath(candidate)
        roots = (root,) if executor in self._executor_roots else (self._roots or (root,))
        inside = next((allowed for allowed in roots if _inside(resolved, allowed)), None)
        if inside is None and not self.allow_job_dir_outside_root:
            raise JobError(
                f"{where}: task_params.job_dir {job_dir!r} is outside the jobs root "
                f"({', '.join(roots)}), symlinks resolved; nothing was built"
            )
        if os.path.isabs(job_dir):
            given = os.path.relpath(resolved, inside) if inside is not None else job_dir
        else:
            given = job_dir
        for part in [part for part in Path(given).parts if part != "/"] + [
            part for part in Path(job_dir).parts if part in (".", "..")
        ]:
            if not _PATH_PART_RE.fullmatch(part):
                raise JobError(
                    f"{where}: task_params.job_dir {job_dir!r}: {part!r} "
                    "is not a plain directory name "
                    "(letters, digits and _ . , + = @ -, not starting with a dot)"
                )
        return resolved


def job_policy(task_ctx: Mapping[str, Any]) -> JobPolicy:
    """Return the task context's ``'job_policy'``, or the default policy."""
    policy = task_ctx.get("job_policy")
    if policy is None:
        return _DEFAULT_POLICY
    if not isinstance(policy, JobPolicy):
        raise JobError(f"task_ctx['job_policy'] must be a JobPolicy, got {type(policy).__name__}")
    return policy


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _inside(path: str, root: str, or_equal: bool = False) -> bool:
    if path == root:
        return or_equal
    return os.path.commonpath([path, root]) == root


_DEFAULT_POLICY = JobPolicy()
