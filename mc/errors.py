"""The MissionControl error hierarchy, in one place.

Every error that MissionControl raises on purpose derives from
:class:`MCError`, so a caller can catch them all at once. Each error says
*where* the problem is (a spec path, a task key, a flow key) and *what* was
expected.
"""

from __future__ import annotations

import datetime
from typing import Any

__all__ = [
    "ConfigError",
    "TaskParamsError",
    "MCError",
    "CacheKeyNotFoundError",
    "FlowSpecError",
    "FlowError",
    "FlowSizeError",
    "FlowLoadError",
    "TaskTypeError",
    "DotPathError",
    "WiringError",
    "ExecutorError",
    "JobError",
    "JobTypeError",
    "JobConfigError",
    "GraphvizError",
    "GraphvizNotFoundError",
    "JobOwnershipError",
    "StoreError",
    "StoreDatabaseError",
    "StoreUnavailableError",
    "FlowNotFoundError",
    "AmbiguousFlowKeyError",
    "FlowExistsError",
    "FlowLeasedError",
    "StaleFlowError",
]


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


class TaskParamsError(MCError, ValueError):
    """A task's ``task_params`` (or what they resolved to) are not what its task type expects.

    Raised by the built-in task types; the message names the task and the
    parameter. The engine records it as the task's error, without a
    traceback: the spec is at fault, not the code.
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


class GraphvizError(MCError):
    """Graphviz's ``dot`` program is missing, or could not draw a graph."""


class GraphvizNotFoundError(GraphvizError, LookupError):
    """Graphviz's ``dot`` program is not installed (not on ``PATH``)."""


class JobOwnershipError(JobError):
    """A handle names a job (a job dir, a process, a SLURM job) that its executor did not submit.

    Nothing was signalled, cancelled or written.
    """


class StoreError(MCError):
    """A flow store cannot do what was asked (see the subclasses)."""


class StoreDatabaseError(StoreError):
    """The database behind a flow store failed what the store asked of it.

    Every public method of :class:`~mc.store.FlowStore` (and opening one)
    raises this, or its subclass :class:`StoreUnavailableError`, in place of
    the database driver's own error. The message names the store's URL (its
    password hidden), what the store was doing, and the database's reason.
    ``url`` is that URL and ``operation`` what the store was doing, as in
    ``"save_flow('f1')"``.
    """

    def __init__(self, message: str, url: str = "", operation: str = "") -> None:
        self.url = url
        self.operation = operation
        super().__init__(message)


class StoreUnavailableError(StoreDatabaseError):
    """The store could not connect to its database, or lost its connection.

    The server is down, refuses connections or cannot be reached, it ended
    the session (a restart, an administrator), no connection was free in
    time, or a SQLite file cannot be opened. Trying again later may
    succeed: a :class:`~mc.runner.FlowRunner` waits and tries again. The
    failed call changed nothing, unless the connection was lost while its
    write was being committed: then the write may have been made. That is
    safe to retry: a save that did land makes the copy in hand stale, so
    saving it again raises :class:`StaleFlowError` and overwrites nothing.
    """


class FlowNotFoundError(StoreError, LookupError):
    """No flow with the given key is in the store."""

    def __init__(self, key: str, url: str = "") -> None:
        self.key = key
        where = f" in {url}" if url else ""
        super().__init__(f"no flow with key {key!r}{where}")


class AmbiguousFlowKeyError(StoreError, LookupError):
    """A key prefix matches more than one stored flow.

    ``candidates`` lists (some of) the matching keys; ``count`` is how many
    flows match in all.
    """

    def __init__(self, prefix: str, candidates: list[str], count: int) -> None:
        self.prefix = prefix
        self.candidates = candidates
        self.count = count
        listed = "\n  ".join(candidates)
        more = f"\n  ... and {count - len(candidates)} more" if count > len(candidates) else ""
        super().__init__(
            f"key prefix {prefix!r} is ambiguous: {count} flows match; give more of the key. "
            f"Candidates:\n  {listed}{more}"
        )


class CacheKeyNotFoundError(StoreError, LookupError):
    """No task cache entry has this key, or exactly one key starts with this prefix."""


class FlowExistsError(StoreError):
    """A flow with the same key is already in the store."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"a flow with key {key!r} is already in the store")


class FlowLeasedError(StoreError):
    """Another holder kept a flow leased for longer than the caller would wait.

    Raised by :meth:`~mc.store.FlowStore.leased`; nothing was changed.
    ``key`` names the flow, ``lease_owner`` and ``lease_expires_at`` (epoch
    seconds) are the lease that was in the way when the wait ended (None if
    it was given up just then), and ``wait_s`` is how long the caller waited.
    """

    def __init__(
        self,
        key: str,
        lease_owner: str | None,
        lease_expires_at: float | None,
        wait_s: float,
    ) -> None:
        self.key = key
        self.lease_owner = lease_owner
        self.lease_expires_at = lease_expires_at
        self.wait_s = wait_s
        until = "" if lease_expires_at is None else f" until {_format_epoch(lease_expires_at)}"
        super().__init__(
            f"flow {key!r} is leased to {lease_owner}{until}; waited {wait_s:g} s for it, "
            "nothing was changed"
        )


def _format_epoch(epoch_s: float) -> str:
    """Epoch seconds as local ISO time, to the second, for messages."""
    try:
        return datetime.datetime.fromtimestamp(epoch_s).isoformat(sep=" ", timespec="seconds")
    except (OverflowError, OSError, ValueError):  # not a time this machine can show
        return f"{epoch_s!r} (epoch seconds)"


class StaleFlowError(StoreError):
    """Saving a flow failed: the stored copy changed since this one was loaded.

    Nothing was overwritten. Load the flow again (``store.get_flow(key)``),
    apply the change to the fresh copy, and save that.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"flow {key!r}: {problem}; nothing was saved")


class ConfigError(MCError, ValueError):
    """An ``mc.toml`` that cannot be used; the message names the file and the setting."""
