"""Status names of flows and tasks.

Statuses are plain strings, so that a flow dict stays plain JSON. The names
are also available as constants, for code that prefers a typo to fail loudly.
"""

from __future__ import annotations

__all__ = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED", "TaskStatus", "FlowStatus"]

PENDING = "PENDING"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
SKIPPED = "SKIPPED"


class TaskStatus:
    """The statuses a task can have.

    A task is PENDING until its precursors allow it to start, RUNNING while
    its handler works on it (possibly over many ticks), and then COMPLETED or
    FAILED. A task that can never run because something upstream failed is
    SKIPPED.
    """

    PENDING = PENDING
    RUNNING = RUNNING
    COMPLETED = COMPLETED
    FAILED = FAILED
    SKIPPED = SKIPPED

    ALL = frozenset({PENDING, RUNNING, COMPLETED, FAILED, SKIPPED})
    FINISHED = frozenset({COMPLETED, FAILED, SKIPPED})


class FlowStatus:
    """The statuses a flow can have: it never is SKIPPED."""

    PENDING = PENDING
    RUNNING = RUNNING
    COMPLETED = COMPLETED
    FAILED = FAILED

    ALL = frozenset({PENDING, RUNNING, COMPLETED, FAILED})
    FINISHED = frozenset({COMPLETED, FAILED})
