"""One registry class for everything a spec names by a plain name.

A spec is data, often from a file someone else wrote, so a name in it must
never make the engine import arbitrary code. :class:`Registry` maps names to
plug-ins with one set of rules, used for task types
(:class:`TaskTypeRegistry`), executors
(:class:`~mc.flows.executor_registry.ExecutorRegistry`), job types
(:class:`~mc.jobs.job_modules.JobTypeRegistry`) and callables
(:class:`~mc.jobs.task_types.CallableRegistry`). A name resolves, in this
order:

1. to an object registered on the registry (:meth:`Registry.register`);
   a name is a non-empty string without ``':'``, registered once unless
   ``replace=True``;
2. to an entry point of the registry's group (``mc.task_types``,
   ``mc.executors``, ``mc.job_types``, ``mc.callables``) that an installed
   package declares under that name;
3. only for registries that allow it, and only if it is a dotted path
   (``pkg.mod:name`` or ``pkg.mod.name``) whose module lies under one of the
   ``allow_imports`` prefixes, to the object imported from there (see
   :func:`import_allowed`). Any other dotted path is refused, and so is any
   part of a path that starts with ``_``.

Anything else raises the registry's error class with the known names and,
when one is close, "did you mean". A registry belongs to one engine (see
:class:`~mc.flows.flow_engine.FlowEngine`): nothing registered on one
reaches another.
"""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, NamedTuple, TypeVar, cast

from mc.errors import MCError, TaskTypeError
from mc.flows.compat import LEGACY_TASK_TYPES
from mc.flows.entry_points import entry_point_names, load_entry_point
from mc.flows.plugins import TaskHandler
from mc.flows.spec import suggest
from mc.flows.task_handler import is_task_handler

__all__ = [
    "check_allow_imports",
    "Registry",
    "TaskTypeRegistry",
    "TaskTypeHooks",
    "module_allowed",
    "import_allowed",
]

_ENTRY_POINT_GROUP = "mc.task_types"
_MODULE_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_T = TypeVar("_T")

_TickFunction = Callable[[dict[str, Any]], Any]


class TaskTypeHooks(NamedTuple):
    """What the engine calls for a task type, looked up once per name.

    ``handler``: the handler itself; ``tick``: the function that ticks a
    task given its task_ctx; ``raw_params``: params not to interpolate;
    ``code_identity`` and ``run_record``: the handler's optional hooks of
    those names (see :mod:`mc.flows.plugins`), or None when it has none.
    """

    handler: TaskHandler
    tick: _TickFunction
    raw_params: tuple[str, ...]
    code_identity: Callable[[dict[str, Any]], Any] | None
    run_record: Callable[[dict[str, Any]], Any] | None


def check_allow_imports(
    allow_imports: Iterable[str] | str, error_class: type[MCError] = TaskTypeError
) -> tuple[str, ...]:
    """Return ``allow_imports`` as a tuple of module prefixes, or raise ``error_class``.

    A single string counts as one prefix.
    """
    prefixes = (allow_imports,) if isinstance(allow_imports, str) else tuple(allow_imports)
    for prefix in prefixes:
        if not isinstance(prefix, str) or not _MODULE_PREFIX_RE.fullmatch(prefix):
            raise error_class(
                f"allow_imports: {prefix!r} is not a module prefix such as 'mylab.tasks'"
            )
    return prefixes


class Registry(Generic[_T]):
    """Maps names to plug-ins of one kind, with the rules of :mod:`mc.flows.registry`.

    ``kind`` names the plug-in in messages (``'task type'``), ``field`` the
    spec field that names one (``'task_type'``). ``check`` says whether an
    object is a plug-in, which ``expected`` describes (``'a handler
    (expected ...)'``); ``error_class`` is raised on every refusal.
    ``entry_point_group`` is where installed packages declare plug-ins;
    with ``make_from_entry_points``, an entry point names a factory, called
    once with no arguments to make the plug-in, which the registry then
    keeps (see :meth:`made`). ``allow_imports`` lists the module prefixes
    dotted names may import from; with ``imports`` false, dotted names are
    never imported; with ``import_modules``, a dotted name without ``':'``
    may name a module, which is then the plug-in. ``listed_as`` and
    ``unknown_hint`` shape the message for an unknown name.
    ``items`` are registered at once.
    """

    def __init__(
        self,
        kind: str,
        field: str,
        check: Callable[[Any], bool],
        expected: str,
        error_class: type[MCError],
        entry_point_group: str,
        *,
        items: Mapping[str, _T] | None = None,
        allow_imports: Iterable[str] | str = (),
        imports: bool = True,
        import_modules: bool = False,
        make_from_entry_points: bool = False,
        listed_as: str = "known",
        unknown_hint: str = "",
    ) -> None:
        self.kind = kind
        self.field = field
        self.check = check
        self.expected = expected
        self.error_class = error_class
        self.entry_point_group = entry_point_group
        self.allow_imports: tuple[str, ...] = check_allow_imports(allow_imports, error_class)
        self.imports = imports
        self.import_modules = import_modules
        self.make_from_entry_points = make_from_entry_points
        self.listed_as = listed_as
        self.unknown_hint = unknown_hint
        self._registered: dict[str, _T] = {}
        # Found through entry points (made, for factories) or allowed imports:
        # the next lookup of the name costs one dict lookup.
        self._found: dict[str, _T] = {}
        for name, obj in (items or {}).items():
            self.register(name, obj)

    # -- registering --------------------------------------------------------

    def register(self, name: str, obj: _T, replace: bool = False) -> _T:
        """Register ``obj`` under ``name`` and return it.

        Raises the registry's error if ``name`` is not a non-empty string
        without ``':'``, if ``obj`` is not a plug-in of this kind, or if
        ``name`` is taken (unless ``replace`` is true).
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise self.error_class(
                f"{self.kind} name {name!r}: expected a non-empty string without ':'"
            )
        if not self.check(obj):
            raise self.error_class(f"{self.kind} {name!r}: {obj!r} is not {self.expected}")
        if name in self._registered and not replace:
            raise self.error_class(
                f"{self.kind} {name!r} is already registered; pass replace=True to replace it"
            )
        self._registered[name] = obj
        return obj

    def pop(self, name: str, default: _T | None = None) -> _T | None:
        """Unregister ``name``; return what was registered under it, or ``default``."""
        return self._registered.pop(name, default)

    # -- looking up ---------------------------------------------------------

    def resolve(self, name: str, allow_imports: Iterable[str] | None = None) -> _T:
        """Return the plug-in ``name`` resolves to, or raise the registry's error saying why not.

        ``allow_imports``, when given, replaces the registry's own prefixes
        for this lookup (a caller passes its engine's).
        """
        found = self.lookup(name, allow_imports)
        if found is None:
            raise self.unknown(name)
        return found

    def lookup(self, name: str, allow_imports: Iterable[str] | None = None) -> _T | None:
        """Return the plug-in ``name`` resolves to, or None if nothing declares it.

        Like :meth:`resolve`, but an unknown plain name gives None (so a
        caller can look elsewhere first); a refused import, a broken entry
        point or a name that is not a string still raise.
        """
        found = self._registered.get(name) if isinstance(name, str) else None
        if found is None and isinstance(name, str):
            found = self._found.get(name)
        if found is not None:
            return found
        if not isinstance(name, str) or not name:
            raise self.error_class(f"{self.field}: expected a non-empty string, got {name!r}")
        made = self._from_entry_point(name)
        if made is not None:
            self._found[name] = made
            return made
        if self.imports and (":" in name or "." in name):
            prefixes = self.allow_imports if allow_imports is None else tuple(allow_imports)
            imported: _T = import_allowed(
                name,
                prefixes,
                self.check,
                self.field,
                self.expected.split(" (")[0],
                error_class=self.error_class,
                modules=self.import_modules,
            )
            if allow_imports is None:
                # Cached only under the registry's own rules: another caller's
                # prefixes must not open this name to everyone.
                self._found[name] = imported
            return imported
        return None

    def unknown(self, name: str, also: Iterable[str] = ()) -> MCError:
        """Return the error for an unknown ``name``, listing the known ones and ``also``."""
        known = sorted({*self.names(), *also})
        return self.error_class(
            f"unknown {self.field} {name!r} ({self.listed_as}: {', '.join(known) or 'none'}"
            f"{self.unknown_hint}){suggest(name, known)}"
        )

    def names(self) -> list[str]:
        """Return the known names: registered and declared as entry points."""
        return sorted({*self._registered, *entry_point_names(self.entry_point_group)})

    def registered(self) -> dict[str, _T]:
        """Return a copy of the names registered here (entry points not counted)."""
        return dict(self._registered)

    def made(self) -> dict[str, _T]:
        """Return the plug-ins this registry made from entry-point factories."""
        return dict(self._found) if self.make_from_entry_points else {}

    def forget_made(self) -> dict[str, _T]:
        """Forget the plug-ins made from entry points and return them; the next
        lookup makes new ones."""
        made = self.made()
        for name in made:
            del self._found[name]
        return made

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` is registered here (entry points not counted)."""
        return name in self._registered

    def __iter__(self) -> Iterator[str]:
        """Iterate over the registered names."""
        return iter(list(self._registered))

    def __len__(self) -> int:
        """Return how many names are registered here."""
        return len(self._registered)

    def _from_entry_point(self, name: str) -> _T | None:
        what = f"{self.kind} {name!r}"
        if not self.make_from_entry_points:
            obj: _T | None = load_entry_point(
                self.entry_point_group,
                name,
                self.check,
                what,
                self.expected.split(" (")[0],
                self.error_class,
            )
            return obj
        factory = load_entry_point(
            self.entry_point_group, name, callable, what, "a class or factory", self.error_class
        )
        if factory is None:
            return None
        try:
            made: _T = factory()
        except Exception as error:
            raise self.error_class(
                f"{what}: making it failed: {type(error).__name__}: {error}"
            ) from error
        return made


class TaskTypeRegistry(Registry[TaskHandler]):
    """Maps task-type names to handlers, for one engine.

    ``handlers`` are registered on top of the built-ins (and may replace
    them). ``allow_imports`` lists module prefixes, such as ``'mylab.tasks'``,
    from which a dotted ``task_type`` may be imported; by default none.
    """

    def __init__(
        self,
        handlers: Mapping[str, TaskHandler] | None = None,
        allow_imports: Iterable[str] | str = (),
    ) -> None:
        from mc.flows.task_types import BUILTIN_TASK_TYPES

        # What the engine calls, per name: its hot path. Forgotten when a
        # name is registered or popped.
        self._hooks: dict[str, TaskTypeHooks] = {}
        super().__init__(
            "task type",
            "task_type",
            is_task_handler,
            "a handler (expected a function tick(task_ctx) or a BaseTaskHandler subclass)",
            TaskTypeError,
            _ENTRY_POINT_GROUP,
            items=BUILTIN_TASK_TYPES,
            allow_imports=allow_imports,
        )
        for name, handler in (handlers or {}).items():
            self.register(name, handler, replace=True)

    def register(self, name: str, obj: TaskHandler, replace: bool = False) -> TaskHandler:
        """Register the handler ``obj`` under ``name`` (see :meth:`Registry.register`)."""
        registered = super().register(name, obj, replace)
        self._hooks.clear()  # a legacy name may have resolved to it
        return registered

    def pop(self, name: str, default: TaskHandler | None = None) -> TaskHandler | None:
        """Unregister ``name`` (see :meth:`Registry.pop`)."""
        self._hooks.clear()
        return super().pop(name, default)

    def lookup(self, name: str, allow_imports: Iterable[str] | None = None) -> TaskHandler | None:
        """Return the handler ``name`` resolves to, or None (see :meth:`Registry.lookup`).

        MissionControl 0.x's names of the built-in task types
        (``mc.tasks.print``, see :data:`mc.flows.compat.LEGACY_TASK_TYPES`)
        resolve to today's names, unless registered themselves: nothing is
        imported for them.
        """
        if isinstance(name, str) and name in LEGACY_TASK_TYPES and name not in self:
            name = LEGACY_TASK_TYPES[name]
        return super().lookup(name, allow_imports)

    def resolve_tick(self, name: str) -> tuple[_TickFunction, tuple[str, ...]]:
        """Return the function that ticks a task of type ``name`` given its
        task_ctx, and the handler's ``raw_params`` (params not to interpolate).

        Raises :class:`~mc.errors.TaskTypeError` as :meth:`resolve` does.
        """
        hooks = self.resolve_hooks(name)
        return hooks.tick, hooks.raw_params

    def resolve_hooks(self, name: str) -> TaskTypeHooks:
        """Return what the engine calls for a task of type ``name`` (see :class:`TaskTypeHooks`).

        Looked up once per name, and kept until a name is registered or
        popped. Raises :class:`~mc.errors.TaskTypeError` as :meth:`resolve` does.
        """
        found = self._hooks.get(name)
        if found is not None:
            return found
        handler = self.resolve(name)
        # A class handler ticks through tick_task; a function handler is the tick.
        tick = cast(_TickFunction, getattr(handler, "tick_task", None) or handler)
        hooks = TaskTypeHooks(
            handler,
            tick,
            tuple(getattr(handler, "raw_params", ()) or ()),
            _callable_or_none(getattr(handler, "code_identity", None)),
            _callable_or_none(getattr(handler, "run_record", None)),
        )
        self._hooks[name] = hooks
        return hooks


def _callable_or_none(hook: Any) -> Callable[[dict[str, Any]], Any] | None:
    return hook if callable(hook) else None


def module_allowed(module_name: str, allow_imports: Iterable[str]) -> bool:
    """Return True if ``module_name`` is one of ``allow_imports`` or lies under one."""
    return any(
        module_name == prefix or module_name.startswith(prefix + ".") for prefix in allow_imports
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
                raise error_class(f"{what} {path!r}: {part!r} is a module; name {expected} instead")
    except (ImportError, AttributeError) as error:
        raise error_class(f"{what} {path!r} could not be imported: {error}") from error
    if not check(obj):
        raise error_class(f"{what} {path!r} is not {expected}")
    defined_in: object
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
