"""The task-type registry: from a spec's ``task_type`` name to a handler.

A spec is data, often from a file someone else wrote, so a ``task_type`` must
never make the engine import arbitrary code. A name resolves, in this order:

1. to a handler registered on this registry (the built-ins, and those added
   with :meth:`TaskTypeRegistry.register`);
2. to an entry point of the group ``mc.task_types`` that an installed package
   declares under that name;
3. only if it is a dotted path (``pkg.mod:Handler`` or ``pkg.mod.Handler``)
   whose module lies under one of the ``allow_imports`` prefixes, to the
   object imported from there. Any other dotted path is refused, and so is
   any part of a path that starts with ``_``.
"""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mc.errors import MCError, TaskTypeError
from mc.flows.entry_points import entry_point_names, load_entry_point
from mc.flows.spec import suggest
from mc.flows.task_handler import TaskHandler, is_task_handler

ENTRY_POINT_GROUP = "mc.task_types"
_MODULE_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TaskTypeRegistry:
    """Maps task-type names to handlers, for one engine.

    ``handlers`` are registered on top of the built-ins (and may replace
    them). ``allow_imports`` lists module prefixes, such as ``'mylab.tasks'``,
    from which a dotted ``task_type`` may be imported; by default none.
    """

    def __init__(
        self,
        handlers: Mapping[str, Any] | None = None,
        allow_imports: Iterable[str] = (),
    ) -> None:
        from mc.flows.task_types import BUILTIN_TASK_TYPES

        if isinstance(allow_imports, str):
            allow_imports = (allow_imports,)
        self.allow_imports: tuple[str, ...] = tuple(allow_imports)
        for prefix in self.allow_imports:
            if not isinstance(prefix, str) or not _MODULE_PREFIX_RE.fullmatch(prefix):
                raise TaskTypeError(
                    f"allow_imports: {prefix!r} is not a module prefix such as 'mylab.tasks'"
                )
        self._handlers: dict[str, Any] = {}
        # Handlers found through entry points or allowed imports.
        self._found: dict[str, Any] = {}
        # The function that ticks a task, per name: the engine's hot path.
        self._tick_functions: dict[
            str, tuple[Callable[[dict[str, Any]], Any], tuple[str, ...]]
        ] = {}
        for name, handler in BUILTIN_TASK_TYPES.items():
            self.register(name, handler)
        for name, handler in (handlers or {}).items():
            self.register(name, handler, replace=True)

    def register(self, name: str, handler: TaskHandler, replace: bool = False) -> TaskHandler:
        """Register ``handler`` under ``name`` and return the handler.

        Raises :class:`~mc.errors.TaskTypeError` if ``name`` is taken (unless
        ``replace`` is true) or ``handler`` cannot tick a task.
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise TaskTypeError(f"task type name {name!r}: expected a non-empty string without ':'")
        if not is_task_handler(handler):
            raise TaskTypeError(
                f"task type {name!r}: {handler!r} is not a handler "
                "(expected a function tick(task_ctx) or a BaseTaskHandler subclass)"
            )
        if name in self._handlers and not replace:
            raise TaskTypeError(
                f"task type {name!r} is already registered; pass replace=True to replace it"
            )
        self._handlers[name] = handler
        self._tick_functions.pop(name, None)
        return handler

    def resolve_tick(self, name: str) -> tuple[Callable[[dict[str, Any]], Any], tuple[str, ...]]:
        """Return the function that ticks a task of type ``name`` given its
        task_ctx, and the handler's ``raw_params`` (params not to interpolate).

        Raises :class:`~mc.errors.TaskTypeError` as :meth:`resolve` does.
        """
        found = self._tick_functions.get(name)
        if found is None:
            handler = self.resolve(name)
            tick = getattr(handler, "tick_task", None) or handler
            found = self._tick_functions[name] = (tick, tuple(getattr(handler, "raw_params", ())))
        return found

    def resolve(self, name: str) -> Any:
        """Return the handler for ``name``, or raise TaskTypeError saying why not."""
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._found.get(name)
        if handler is not None:
            return handler
        handler = self._load_entry_point(name)
        if handler is None and _looks_like_import_path(name):
            handler = self._import(name)
        if handler is None:
            known = self.names()
            raise TaskTypeError(
                f"unknown task_type {name!r} (known: {', '.join(known)}){suggest(name, known)}"
            )
        # Cache, so the next tick of this type costs one dict lookup.
        self._found[name] = handler
        return handler

    def names(self) -> list[str]:
        """Return the known task-type names: registered and from entry points."""
        names = set(self._handlers)
        names.update(entry_point_names(ENTRY_POINT_GROUP))
        return sorted(names)

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` is registered here (entry points not counted)."""
        return name in self._handlers

    def _load_entry_point(self, name: str) -> Any:
        return load_entry_point(
            ENTRY_POINT_GROUP, name, is_task_handler, f"task type {name!r}", "a handler", TaskTypeError
        )

    def _import(self, path: str) -> Any:
        return import_allowed(path, self.allow_imports, is_task_handler, "task_type", "a handler")

    def _allows(self, module_name: str) -> bool:
        return module_allowed(module_name, self.allow_imports)


def module_allowed(module_name: str, allow_imports: Iterable[str]) -> bool:
    """Return True if ``module_name`` is one of ``allow_imports`` or lies under one."""
    return any(
        module_name == prefix or module_name.startswith(prefix + ".")
        for prefix in allow_imports
    )


def import_allowed(
    path: str,
    allow_imports: Iterable[str],
    check: Callable[[Any], bool],
    what: str,
    expected: str,
    error_class: type[MCError] = TaskTypeError,
    modules: bool = False,
) -> Any:
    """Import the object a spec names by ``path``, under the import rules, or raise.

    The rules, shared by every place a spec may name code (task types, job
    types, callables): the module must lie under one of ``allow_imports``;
    no part of the path may start with ``_``; the walk from the module to the
    object never passes through another module; the object must pass
    ``check`` and be defined in a module under ``allow_imports``.

    ``path`` is ``pkg.mod:qualname`` or ``pkg.mod.name``; with ``modules``
    true, a path without ``:`` names a module, which is then the object.
    ``what`` names the spec field in messages (``'task_type'``) and
    ``expected`` the kind of object (``'a handler'``). Raises
    ``error_class`` saying which rule refused the path.
    """
    allow_imports = tuple(allow_imports)
    if modules and ":" not in path:
        module_name, qualname = path, ""
    else:
        module_name, qualname = _split_import_path(path)
    if not module_allowed(module_name, allow_imports):
        allowed = ", ".join(allow_imports) or "no module"
        raise error_class(
            f"{what} {path!r} names code to import, and this engine imports from "
            f"{allowed} (see FlowEngine(allow_imports=...))"
        )
    parts = qualname.split(".") if qualname else []
    if any(
        not part.isidentifier() or part.startswith("_")
        for part in (*module_name.split("."), *parts)
    ):
        raise error_class(
            f"{what} {path!r}: must name public modules and attributes only "
            "(no part may start with '_')"
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in parts:
            obj = getattr(obj, part)
            # Walking into a module the allowed one imported (os, sys, ...)
            # would reach code outside the allowed prefixes.
            if isinstance(obj, types.ModuleType):
                raise error_class(
                    f"{what} {path!r}: {part!r} is a module; name {expected} instead"
                )
    except (ImportError, AttributeError) as error:
        raise error_class(f"{what} {path!r} could not be imported: {error}") from error
    if not check(obj):
        raise error_class(f"{what} {path!r} is not {expected}")
    if isinstance(obj, types.ModuleType):
        defined_in = obj.__name__
    else:
        defined_in = getattr(obj, "__module__", None)
    if not isinstance(defined_in, str) or not module_allowed(defined_in, allow_imports):
        raise error_class(
            f"{what} {path!r} is defined in module {defined_in!r}, "
            "which allow_imports does not allow"
        )
    return obj


def _split_import_path(path: str) -> tuple[str, str]:
    if ":" in path:
        module_name, _, qualname = path.partition(":")
    else:
        module_name, _, qualname = path.rpartition(".")
    return module_name, qualname


def _looks_like_import_path(name: str) -> bool:
    return ":" in name or "." in name


