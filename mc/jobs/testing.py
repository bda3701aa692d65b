"""Testing flows of jobs without running them: a pytest fixture over the prebaked executor.

In your project's ``conftest.py``::

    pytest_plugins = ["mc.jobs.testing"]

and a test gets ``prebaked_jobs``: a :class:`PrebakedJobs` whose ``engine``
sends every job, whatever executor its task names (``local``, ``dask``,
``slurm``, ``prebaked``), to one :class:`~mc.jobs.executors.prebaked.PrebakedExecutor`,
with job dirs under the test's temporary directory. Say what each job_type
returns with :meth:`PrebakedJobs.add`, run the flow, and check what was
submitted in ``prebaked_jobs.submitted``.

This module imports pytest only if it is installed; :class:`PrebakedJobs`
works without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mc.flows.flow import Flow
from mc.flows.flow_engine import FlowEngine
from mc.jobs.executors.prebaked import Prebaked, PrebakedExecutor

JOB_EXECUTOR_NAMES = ("local", "dask", "slurm", "prebaked")


class PrebakedJobs:
    """An engine whose job executors are all one prebaked executor.

    ``jobs_root`` is where job dirs go; ``allow_imports`` and ``engine_kwargs``
    go to the :class:`~mc.flows.flow_engine.FlowEngine`.
    """

    def __init__(
        self,
        jobs_root: str | Path,
        allow_imports: Iterable[str] = (),
        **engine_kwargs: Any,
    ) -> None:
        self.executor = PrebakedExecutor()
        self.jobs_root = str(jobs_root)
        self.engine = FlowEngine(
            allow_imports=allow_imports,
            executors={name: self.executor for name in JOB_EXECUTOR_NAMES},
            **engine_kwargs,
        )

    def add(
        self, job_type: str, entry: Prebaked | Mapping[str, Any] | None = None, **fields: Any
    ) -> Prebaked:
        """Set what jobs of ``job_type`` return (see :class:`~mc.jobs.executors.prebaked.Prebaked`)."""
        return self.executor.add(job_type, entry, **fields)

    @property
    def submitted(self) -> list[dict[str, Any]]:
        """The jobs submitted so far: ``{key, job_type, job_params}`` each."""
        return self.executor.submitted

    def run_flow(
        self, flow: Flow, task_ctx: Mapping[str, Any] | None = None, max_ticks: int = 1000
    ) -> Flow:
        """Run ``flow`` to its end on this engine, job dirs under ``jobs_root``."""
        return self.engine.run_flow(
            flow, {"jobs_root": self.jobs_root, **(task_ctx or {})}, max_ticks=max_ticks
        )


def _prebaked_jobs_fixture(tmp_path: Path) -> Iterator[PrebakedJobs]:
    jobs = PrebakedJobs(tmp_path / "jobs")
    yield jobs
    jobs.engine.executor_registry.close()


try:
    import pytest
except ImportError:  # pytest is only needed by those who use the fixture.
    pass
else:
    prebaked_jobs = pytest.fixture(_prebaked_jobs_fixture, name="prebaked_jobs")
    prebaked_jobs.__doc__ = "A :class:`PrebakedJobs` with job dirs in the test's tmp_path."
