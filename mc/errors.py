"""The MissionControl error hierarchy, in one place.

Every error that MissionControl raises on purpose derives from
:class:`MCError`, so a caller can catch them all at once. Each error says
*where* the problem is (a spec path, a task key, a flow key) and *what* was
expected.
"""

from __future__ import annotations

from typing import Any


class MCError(Exception):
    """Base class of every error MissionControl raises on purpose."""


class FlowSpecError(MCError, ValueError):
    """A flow spec (or a task spec added to a flow) is malformed.

    ``path`` names the place in the spec, as in ``tasks[3].precursors[0]``;
    ``problem`` says what was found and what was expected. ``str(error)`` is
    ``"<path>: <problem>"``.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class FlowError(MCError):
    """A flow failed, or could not be loaded or advanced.

    ``flow`` is the :class:`~mc.flows.flow.Flow` concerned, when there is one.
    """

    def __init__(self, message: str, flow: Any = None) -> None:
        self.flow = flow
        super().__init__(message)


class FlowSizeError(FlowError):
    """A task would grow its flow past the flow's size budget (see :mod:`mc.flows.size_budget`)."""


class FlowLoadError(FlowError, ValueError):
    """A flow dict (for example one read back from storage) is malformed."""


class TaskTypeError(MCError, LookupError):
    """A task type is unknown, refused, or registered twice."""


class DotPathError(MCError, LookupError):
    """A dot path (``ctx.flow.data.x``) does not resolve, or cannot be set.

    The message names the path and the first part that did not resolve.
    """


class WiringError(MCError, ValueError):
    """A wiring of a ``wire`` or ``spread`` task is malformed, or its source or
    destination does not resolve; the message names the wiring's place.
    """


class ExecutorError(MCError, LookupError):
    """An executor is unknown, refused, registered twice, or cannot do what was asked."""


class JobError(MCError):
    """A job could not be built, submitted or read back.

    ``job_key`` names the job concerned, when there is one.
    """

    def __init__(self, message: str, job_key: str | None = None) -> None:
        self.job_key = job_key
        super().__init__(message)


class JobTypeError(JobError, LookupError):
    """A job type is unknown or refused, or its module lacks what a job module needs."""


class JobConfigError(JobError):
    """A job needs a setting (from its config spec) that its executor does not provide."""


class StoreError(MCError):
    """A flow store cannot do what was asked (see the subclasses)."""


class StoreUnavailableError(StoreError):
    """The database server of a flow store cannot be reached (it may be down or starting)."""


class FlowNotFoundError(StoreError, LookupError):
    """No flow with the given key is in the store."""

    def __init__(self, key: str, url: str = "") -> None:
        self.key = key
        where = f" in {url}" if url else ""
        super().__init__(f"no flow with key {key!r}{where}")


class FlowExistsError(StoreError):
    """A flow with the same key is already in the store."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"a flow with key {key!r} is already in the store")


class StaleFlowError(StoreError):
    """Saving a flow failed: the stored copy changed since this one was loaded.

    Nothing was overwritten. Load the flow again (``store.get_flow(key)``),
    apply the change to the fresh copy, and save that.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"flow {key!r}: {problem}; nothing was saved")
