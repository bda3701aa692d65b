"""The operator's options of ``mc run`` and ``mc runner``: what specs may do with jobs.

``--config FILE`` reads the operator's executor profiles (see
:mod:`mc.jobs.profiles`; default ``./mc.toml``, else ``$MC_CONFIG``, else
the user's config dir), which specs may then name; ``--executor NAME``
runs job tasks that name no executor there.
``--allow-executor NAME`` (repeatable) lets specs name an executor besides
``local``, ``inline``, ``threads`` and ``processes``; ``--jobs-root DIR``
(repeatable) says where job dirs may go (the first is where they go; default
``$MC_JOBS_ROOT``, else ``./mc_jobs``); ``--allow-job-dir-outside-root``
lets a spec's ``task_params.job_dir`` point anywhere; ``--allow-slurm-directive
OPTION`` (repeatable) lets specs' ``extra_directives`` use that ``sbatch``
option. They become a :class:`~mc.jobs.policy.JobPolicy` in the task context,
and, for SLURM, a configured :class:`~mc.jobs.executors.slurm.SlurmExecutor`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from mc.errors import MCError
from mc.flows.flow_engine import FlowEngine

__all__ = ["add_job_options", "configure_jobs", "warn_if_root"]

_warned_about_root = False


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """Add the job options to the parser of ``mc run`` or ``mc runner``."""
    group = parser.add_argument_group("what specs may do with jobs (the operator's choice)")
    group.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="the operator's config file of executor profiles (default: ./mc.toml, else "
        "$MC_CONFIG, else mc.toml in the user's config dir); specs may name its profiles",
    )
    group.add_argument(
        "--executor",
        default=None,
        metavar="NAME",
        help="executor of job tasks that name none (default: local): local, dask, slurm, "
        "or a profile of the config file",
    )
    group.add_argument(
        "--allow-executor",
        action="append",
        default=[],
        metavar="NAME",
        help="an executor that specs may name besides local, inline, threads and processes, "
        "e.g. dask or slurm (repeatable)",
    )
    group.add_argument(
        "--jobs-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory under which job dirs may go; the first is where they go "
        "(repeatable; default $MC_JOBS_ROOT, else ./mc_jobs)",
    )
    group.add_argument(
        "--allow-job-dir-outside-root",
        action="store_true",
        help="let a spec's task_params.job_dir point outside the jobs roots",
    )
    group.add_argument(
        "--allow-slurm-directive",
        action="append",
        default=[],
        metavar="OPTION",
        help="an sbatch option (such as gres, or --qos) that specs' extra_directives may "
        "use on the slurm executor (repeatable; needs slurm allowed)",
    )


def configure_jobs(args: argparse.Namespace, engine: FlowEngine) -> dict[str, Any]:
    """Apply the job options and the config file's profiles to ``engine``.

    Returns the task context entries they make.

    Each executor profile of the config file is registered on the engine
    under its name, and so may be named by specs. Raises
    :class:`~mc.errors.MCError` (a usage error) for options that do not fit
    together, a config file that cannot be used, or an unknown executor.
    """
    from mc.jobs.policy import DEFAULT_SPEC_EXECUTORS, JobPolicy
    from mc.jobs.profiles import load_config

    config = load_config(args.config)
    for name, profile in config.executors.items():
        engine.register_executor(name, profile.make_executor(), replace=True)
    default_executor = args.executor
    allowed = [*DEFAULT_SPEC_EXECUTORS, *config.executors, *args.allow_executor]
    if default_executor:
        allowed.append(default_executor)
    if args.allow_slurm_directive:
        if "slurm" not in allowed:
            raise MCError(
                "--allow-slurm-directive needs the slurm executor allowed: "
                "add --allow-executor slurm"
            )
        from mc.jobs.executors.slurm import SlurmExecutor

        engine.register_executor(
            "slurm", SlurmExecutor(allowed_directives=args.allow_slurm_directive), replace=True
        )
    for name in [*args.allow_executor, *([default_executor] if default_executor else [])]:
        engine.get_executor(name)  # an unknown executor is a usage error, said now
    policy = JobPolicy(
        executors=tuple(dict.fromkeys(allowed)),
        jobs_roots=tuple(args.jobs_root),
        allow_job_dir_outside_root=args.allow_job_dir_outside_root,
        executor_jobs_roots=tuple(
            (name, profile.jobs_root)
            for name, profile in config.executors.items()
            if profile.jobs_root
        ),
    )
    task_ctx: dict[str, Any] = {"job_policy": policy}
    if default_executor:
        task_ctx["default_executor"] = default_executor
    return task_ctx


def warn_if_root(stream: TextIO, command: str) -> None:
    """Print, once per process, a warning that ``command`` runs as root."""
    global _warned_about_root  # noqa: PLW0603 - once per process, as documented
    if _warned_about_root or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    _warned_about_root = True
    print(
        f"mc {command}: warning: running as root; every job and call of every flow runs "
        "as root too. Run MissionControl as an unprivileged user.",
        file=stream,
    )
