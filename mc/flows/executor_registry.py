"""The executor registry: from an executor's name to the object that runs work.

An *executor* runs work outside the tick: a job dir in a subprocess, on a
Dask cluster or through SLURM, or a Python call in a thread. Task handlers
(such as ``job`` and ``call`` from :mod:`mc.jobs`) look executors up by name
through their engine, so that a spec says ``executor: slurm`` and the
program that runs the flow decides what ``slurm`` means.

A name resolves, in this order:

1. to an executor registered on this registry (``FlowEngine(executors=...)``
   or :meth:`ExecutorRegistry.register`);
2. to an entry point of the group ``mc.executors`` with that name. The entry
   point names a class (or any factory) called with no arguments, once per
   registry, on first use; the object made is kept, and :meth:`close` closes
   it. MissionControl declares ``local``, ``prebaked``, ``dask``, ``slurm``,
   ``inline``, ``threads`` and ``processes`` this way.

Anything else is an :class:`~mc.errors.ExecutorError` that lists the known
names. This module imports only the standard library; it never imports an
executor's module before the executor is first used.
"""

from __future__ import annotations

from collections.abc import Mapping

from mc.errors import ExecutorError
from mc.flows.plugins import AnyExecutor
from mc.flows.registry import Registry

__all__ = ["ExecutorRegistry"]

_ENTRY_POINT_GROUP = "mc.executors"


def _is_executor(obj: object) -> bool:
    # Registering is lenient (an executor may have only the methods its
    # tasks use); a task checks the methods it needs before using one.
    return obj is not None


class ExecutorRegistry(Registry[AnyExecutor]):
    """Maps executor names to executor objects, for one engine.

    ``executors`` are registered at once. Executors found through entry
    points are made on first use and belong to this registry: :meth:`close`
    closes them. Executors you register stay yours to close. Names follow
    the rules of :class:`~mc.flows.registry.Registry`; executors are never
    imported from a dotted name.
    """

    def __init__(self, executors: Mapping[str, AnyExecutor] | None = None) -> None:
        super().__init__(
            "executor",
            "executor",
            _is_executor,
            "an executor object",
            ExecutorError,
            _ENTRY_POINT_GROUP,
            items=executors,
            imports=False,
            make_from_entry_points=True,
        )

    def get(self, name: str) -> AnyExecutor:
        """Return the executor named ``name``, making it from its entry point if needed.

        Raises :class:`~mc.errors.ExecutorError` naming the known executors
        if there is none by that name, or if its entry point fails.
        """
        return self.resolve(name)

    def is_registered(self, name: object) -> bool:
        """Return True if the program registered ``name`` here (not found as an entry point)."""
        return name in self._registered

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` is registered or already made here."""
        return super().__contains__(name) or name in self.made()

    def close(self) -> None:
        """Close the executors this registry made from entry points, and forget them.

        Each one's ``close()`` is called if it has one. Registered executors
        are left alone: whoever made them closes them.
        """
        for executor in self.forget_made().values():
            close = getattr(executor, "close", None)
            if callable(close):
                close()
