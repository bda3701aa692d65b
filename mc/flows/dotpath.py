"""Dot paths: ``ctx.flow.tasks.task_1.data.msg`` names a value in a task context.

A dot path is a chain of names separated by dots. Each step looks up a key
in a dict, an index in a list (``items.0``, ``items.-1``), or a field of an
object that lists its path fields in ``DOTPATH_FIELDS`` (a
:class:`~mc.flows.flow.Flow` lists ``key``, ``data``, ``tasks`` and its other
stored fields). Nothing else is reachable: a path never calls code, never
evaluates an expression, and never reaches an attribute an object did not
list, dunder names included.

This module resolves paths for interpolation (``'$ctx.flow.data.x'`` in
``task_params``) and for the wirings of the ``wire`` and ``spread`` task types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from mc.errors import DotPathError

_MISSING = object()
_INDEX_RE = re.compile(r"-?[0-9]+")


def split_path(path: str) -> list[str]:
    """Split a dot path into its parts; raise DotPathError if one is empty."""
    if not isinstance(path, str) or not path:
        raise DotPathError(f"expected a dot path such as 'ctx.flow.data.x', got {path!r}")
    parts = path.split(".")
    if any(not part for part in parts):
        raise DotPathError(
            f"path {path!r} has an empty part (two dots in a row, or a dot at an end)"
        )
    return parts


def get_path(root: Any, path: str) -> Any:
    """Return the value at dot path ``path`` inside ``root``.

    Raises :class:`~mc.errors.DotPathError` naming the path and the first
    part that does not resolve.
    """
    parts = split_path(path)
    value = root
    for i, part in enumerate(parts):
        value = _step(value, part)
        if value is _MISSING:
            raise DotPathError(_not_found(path, parts, i, _container(root, parts[:i])))
    return value


def set_path(root: Any, path: str, value: Any) -> None:
    """Set the value at dot path ``path`` inside ``root``.

    Missing dicts on the way are created. The last container must be a dict,
    or a list with that index. Raises :class:`~mc.errors.DotPathError` if a
    part on the way is neither.
    """
    parts = split_path(path)
    container = root
    for i, part in enumerate(parts[:-1]):
        step = _step(container, part)
        if step is _MISSING or step is None:
            if not isinstance(container, MutableMapping):
                if step is None:
                    raise DotPathError(
                        f"path {path!r} does not resolve at {part!r}: "
                        f"{'.'.join(parts[: i + 1])} is null, and no dict can be made in a list"
                    )
                raise DotPathError(_not_found(path, parts, i, container))
            step = container[part] = {}
        container = step
    last = parts[-1]
    if isinstance(container, MutableMapping):
        container[last] = value
    elif isinstance(container, list):
        index = _index(last)
        if index is None or not -len(container) <= index < len(container):
            raise DotPathError(
                f"path {path!r}: {'.'.join(parts[:-1])} is a list of {len(container)}, "
                f"which has no index {last!r}"
            )
        container[index] = value
    else:
        raise DotPathError(
            f"path {path!r}: {'.'.join(parts[:-1])} is a {type(container).__name__}, "
            "not a dict or list to set a value in"
        )


def _step(value: Any, part: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(part, _MISSING)
    if isinstance(value, (list, tuple)):
        index = _index(part)
        if index is None or not -len(value) <= index < len(value):
            return _MISSING
        return value[index]
    fields = getattr(type(value), "DOTPATH_FIELDS", ())
    if part in fields:
        return getattr(value, part)
    return _MISSING


def _index(part: str) -> int | None:
    # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
    return int(part) if _INDEX_RE.fullmatch(part) else None


def _container(root: Any, parts: list[str]) -> Any:
    value = root
    for part in parts:
        value = _step(value, part)
    return value


def _not_found(path: str, parts: list[str], i: int, container: Any) -> str:
    where = ".".join(parts[:i]) or "the root"
    part = parts[i]
    if isinstance(container, Mapping):
        names = sorted(map(str, container))
        known = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
        known = known or "nothing"
        detail = f"{where} has no key {part!r} (it has: {known})"
    elif isinstance(container, (list, tuple)):
        detail = f"{where} is a list of {len(container)}, which has no index {part!r}"
    elif getattr(type(container), "DOTPATH_FIELDS", None):
        fields = ", ".join(type(container).DOTPATH_FIELDS)
        detail = f"{where} has no field {part!r} (it has: {fields})"
    else:
        detail = f"{where} is a {type(container).__name__}, which a path cannot enter"
    return f"path {path!r} does not resolve at {part!r}: {detail}"
