"""``mc.jobs``: job modules, job dirs, executors, and the ``job`` and ``call`` task types.

A *job* is a dict ``{key, job_type, job_params}``. Its *job module* builds it
into a *job dir* that runs anywhere (:func:`build_job_dir`); an *executor*
runs the job dir (``local``, ``dask``, ``slurm``, ``prebaked``); the job
module's parser reads the outputs back. The ``job`` task type does all this
over a flow's ticks, without blocking. A :class:`JobPolicy` in the task
context says what specs may choose (executors, job dirs). This package needs only the standard
library; the Dask executor imports dask when it is first used.
"""

from mc.jobs.job_dir import build_job_dir
from mc.jobs.job_modules import JobModule, JobTypeRegistry, default_job_types, register_job_type
from mc.jobs.policy import JobPolicy
from mc.jobs.task_types import (
    CallableRegistry,
    CallTaskHandler,
    JobTaskHandler,
    register_callable,
)

__all__ = [
    "CallTaskHandler",
    "CallableRegistry",
    "JobModule",
    "JobPolicy",
    "JobTaskHandler",
    "JobTypeRegistry",
    "build_job_dir",
    "default_job_types",
    "register_callable",
    "register_job_type",
]
