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
from typing import Any

from mc.errors import ExecutorError
from mc.flows.entry_points import entry_point_names, load_entry_point
from mc.flows.spec import suggest

ENTRY_POINT_GROUP = "mc.executors"


class ExecutorRegistry:
    """Maps executor names to executor objects, for one engine.

    ``executors`` are registered at once. Executors found through entry
    points are made on first use and belong to this registry: :meth:`close`
    closes them. Executors you register stay yours to close.
    """

    def __init__(self, executors: Mapping[str, Any] | None = None) -> None:
        self._registered: dict[str, Any] = {}
        # Executors this registry made from entry points; it closes them.
        self._made: dict[str, Any] = {}
        for name, executor in (executors or {}).items():
            self.register(name, executor)

    def register(self, name: str, executor: Any, replace: bool = False) -> Any:
        """Register ``executor`` under ``name`` and return it.

        Raises :class:`~mc.errors.ExecutorError` if ``name`` is already
        registered (unless ``replace`` is true) or is not a non-empty string.
        """
        if not isinstance(name, str) or not name:
            raise ExecutorError(f"executor name {name!r}: expected a non-empty string")
        if executor is None:
            raise ExecutorError(f"executor {name!r}: expected an executor object, got None")
        if name in self._registered and not replace:
            raise ExecutorError(
                f"executor {name!r} is already registered; pass replace=True to replace it"
            )
        self._registered[name] = executor
        return executor

    def get(self, name: str) -> Any:
        """Return the executor named ``name``, making it from its entry point if needed.

        Raises :class:`~mc.errors.ExecutorError` naming the known executors
        if there is none by that name, or if its entry point fails.
        """
        executor = self._registered.get(name)
        if executor is None:
            executor = self._made.get(name)
        if executor is not None:
            return executor
        if not isinstance(name, str):
            raise ExecutorError(f"executor name {name!r}: expected a string")
        factory = load_entry_point(
            ENTRY_POINT_GROUP, name, callable, f"executor {name!r}", "a class or factory", ExecutorError
        )
        if factory is not None:
            try:
                executor = factory()
            except Exception as error:
                raise ExecutorError(
                    f"executor {name!r}: making it failed: {type(error).__name__}: {error}"
                ) from error
            self._made[name] = executor
            return executor
        known = self.names()
        raise ExecutorError(
            f"unknown executor {name!r} (known: {', '.join(known) or 'none'}){suggest(name, known)}"
        )

    def names(self) -> list[str]:
        """Return the known executor names: registered and from entry points."""
        names = set(self._registered)
        names.update(entry_point_names(ENTRY_POINT_GROUP))
        return sorted(names)

    def is_registered(self, name: object) -> bool:
        """Return True if ``name`` was registered here (by the program, not found as an entry point)."""
        return name in self._registered

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` is registered or already made here."""
        return name in self._registered or name in self._made

    def close(self) -> None:
        """Close the executors this registry made from entry points, and forget them.

        Each one's ``close()`` is called if it has one. Registered executors
        are left alone: whoever made them closes them.
        """
        made, self._made = self._made, {}
        for executor in made.values():
            close = getattr(executor, "close", None)
            if callable(close):
                close()


