"""Code that installed packages declare by name, as entry points.

Specs name task types (group ``mc.task_types``), executors
(``mc.executors``), job types (``mc.job_types``) and callables
(``mc.callables``) by plain names; an installed package may declare such a
name as an entry point. Loading one imports only what that package
declared, never a path the spec spelled out. Standard library only.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

from mc.errors import MCError


def entry_point_names(group: str) -> list[str]:
    """Return the names declared in the entry-point group ``group``."""
    return sorted(
        {entry_point.name for entry_point in importlib.metadata.entry_points(group=group)}
    )


def load_entry_point(
    group: str,
    name: str,
    check: Callable[[Any], bool],
    what: str,
    expected: str,
    error_class: type[MCError],
) -> Any:
    """Return the object declared as ``name`` in ``group``, or None if none is.

    Raises ``error_class``, naming ``what`` (``"job type 'relax'"``), if the
    entry point fails to load or its object fails ``check`` (is not
    ``expected``).
    """
    for entry_point in importlib.metadata.entry_points(group=group):
        if entry_point.name != name:
            continue
        try:
            obj = entry_point.load()
        except Exception as error:
            raise error_class(
                f"{what}: entry point {entry_point.value!r} failed to load: {type(error).__name__}: {error}"
            ) from error
        if not check(obj):
            raise error_class(f"{what}: entry point {entry_point.value!r} is not {expected}")
        return obj
    return None
