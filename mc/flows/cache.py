"""Task caching and provenance: cache keys, the cache contract, and who made a result.

A task with a ``cache`` policy (see :func:`mc.flows.spec.normalize_cache_policy`)
and an engine with a cache (``FlowEngine(cache=...)``) is looked up before
its handler first runs:

* **hit**: a fresh entry exists under the task's key. The task COMPLETES at
  once with the entry's ``data``; its record gets ``cached_from: {flow,
  task, at}`` and the entry's ``provenance`` (who made the result);
* **miss**: the task *claims* the key, runs, and when it COMPLETES its data
  is stored under the key. A FAILED attempt stores nothing and gives the
  claim up;
* **wait**: another task (in this flow or another, in this process or on
  another host) holds an unexpired claim on the key. The task stays RUNNING
  and looks again on its next tick, so the same work runs once; if the
  holder dies, its claim expires and a waiter claims the key itself.

The cache key (:func:`cache_key`) is the SHA-256 of a canonical JSON
document::

    {"format": 1, "task_type": ..., "params": ..., "code": ..., "cache_version": ...}

``params`` are the task's params after interpolation, less those its task
type says do not change the result (a ``job``'s ``executor``,
``resources`` and ``job_dir``; a ``call``'s ``executor``); with ``key:
[paths...]`` only the values at those paths, by path. ``code`` is what the
task type says identifies the code that runs (for a ``job``: the job
type's name, version and the SHA-256 of its module's source; for a
``call``: the function's import path and the SHA-256 of its source).
Canonical JSON sorts keys, uses no spaces and escapes non-ASCII, so the
key of the same inputs is the same on every host and Python version. (JSON
tells ``1`` from ``1.0``: so do keys.)

The cache itself is a plug-in (:class:`TaskCache`): :class:`MemoryTaskCache`
here, for one process, and :class:`mc.store.cache.SqlTaskCache` in a flow
store's database, shared by runners on every host. Standard library only.
"""

from __future__ import annotations

import getpass
import hashlib
import inspect
import json
import os
import platform
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from mc import __version__ as MC_VERSION

__all__ = [
    "CACHE_KEY_FORMAT",
    "DEFAULT_CLAIM_S",
    "RUNTIME",
    "RUNTIME_RECORD",
    "LazyTaskCache",
    "MemoryTaskCache",
    "TaskCache",
    "cache_key",
    "canonical_json",
    "entry_is_fresh",
    "file_sha256",
    "function_source_sha256",
    "import_path",
    "is_runtime_record",
    "module_source_sha256",
    "provenance_record",
    "provenance_with_params",
    "task_provenance",
]


CACHE_KEY_FORMAT = 1

#: How long a claim lasts, unless the cache says otherwise (its ``claim_s``).
DEFAULT_CLAIM_S = 120.0


@runtime_checkable
class TaskCache(Protocol):
    """Where results of cached tasks are kept: entries under keys, and claims on keys.

    An *entry* is a dict: ``key``, ``task_type``, ``flow_key``,
    ``task_key``, ``created_at``, ``expires_at`` (or None), ``data`` (the
    task's data) and ``provenance``. A *claim* says that one task (its
    ``owner``, a unique string) is computing a key, until it expires
    ``claim_s`` seconds after it was taken or last renewed. Times are epoch
    seconds from the engine's clock.
    """

    claim_s: float

    def lookup(self, key: str, now: float) -> dict[str, Any] | None:
        """Return the entry under ``key`` if it has not expired by ``now``, else None."""

    def claim(self, key: str, owner: str, now: float) -> str | None:
        """Claim ``key`` for ``owner``, or renew ``owner``'s claim; return None if it holds.

        Otherwise return whom to wait for: the owner of another unexpired
        claim, or ``''`` when a fresh entry exists now (look it up).
        """

    def store(self, key: str, entry: Mapping[str, Any], owner: str) -> None:
        """Store ``entry`` under ``key`` (replacing any older one) and end the claim."""

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s claim on ``key``, if it holds one; store nothing."""


def cache_key(
    task_type: str,
    params: Any,
    code: Mapping[str, Any] | None = None,
    cache_version: str | int | None = None,
) -> str:
    """Return the cache key of a task: the SHA-256 (hex) of its canonical JSON document.

    See the module docstring for the document. Raises ValueError for
    params that are not JSON.
    """
    document = {
        "format": CACHE_KEY_FORMAT,
        "task_type": task_type,
        "params": params,
        "code": dict(code or {}),
        "cache_version": cache_version,
    }
    return hashlib.sha256(canonical_json(document).encode("ascii")).hexdigest()


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON text: sorted keys, no spaces, ASCII only."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


# -- source hashes ------------------------------------------------------------

_file_hashes: dict[tuple[str, int, int], str] = {}
_file_hashes_lock = threading.Lock()


def file_sha256(path: str) -> str:
    """Return the SHA-256 (hex) of a file's bytes, remembered while its size and mtime stay."""
    stat = os.stat(path)
    token = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    with _file_hashes_lock:
        found = _file_hashes.get(token)
    if found is None:
        with open(path, "rb") as source:
            found = hashlib.sha256(source.read()).hexdigest()
        with _file_hashes_lock:
            _file_hashes[token] = found
    return found


def module_source_sha256(obj: Any) -> str | None:
    """Return the SHA-256 of the source file of the module that defines ``obj``.

    ``obj`` is a module, or an object defined in one. The file is read as it
    is on disk now, so an edit changes the hash. None when there is no
    source file (a built-in or compiled module, an object made at run time).
    """
    module = obj if inspect.ismodule(obj) else inspect.getmodule(obj)
    if module is None:
        return None
    try:
        path = inspect.getsourcefile(module)
    except TypeError:
        return None
    if not path or not os.path.isfile(path):
        return None
    return file_sha256(path)


def function_source_sha256(fn: Any) -> str | None:
    """Return the SHA-256 of a function's own source text, or None if it has none."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def import_path(obj: Any) -> str:
    """Return ``'module:qualname'`` for a function or class (``'module'`` for a module)."""
    if inspect.ismodule(obj):
        return obj.__name__
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}:{name}"


# -- provenance ------------------------------------------------------------------


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no user name here (a container without one)
        return None


#: What every provenance record of this process says about where it ran.
RUNTIME = {
    "mc_version": MC_VERSION,
    "python": platform.python_version(),
    "host": socket.gethostname(),
    "user": _user(),
}


class _RuntimeRecord(dict[str, Any]):
    """A read-only dict: :data:`RUNTIME_RECORD`, which many tasks share."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "this provenance record (RUNTIME_RECORD) is shared by every task that recorded "
            "only where it ran: it is read-only"
        )

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def copy(self) -> dict[str, Any]:
        """Return a plain, writable dict of the same fields."""
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # copy.deepcopy and pickle make a plain dict of it.
        return (dict, (dict(self),))


#: The provenance record of a task whose attempt has nothing to record but
#: where it ran (no params, no code to identify): the fields of
#: :data:`RUNTIME` alone. Its task type and times are the task's own
#: (``task_type``, ``started_at``, ``finished_at``), and :func:`task_provenance`
#: puts them in. One read-only dict, shared by all such tasks in this process:
#: a task of a big flow of such tasks then costs no record of its own.
RUNTIME_RECORD: Mapping[str, Any] = _RuntimeRecord(RUNTIME)


def is_runtime_record(record: Any) -> bool:
    """True if ``record`` is a provenance record of the runtime fields alone.

    That is :data:`RUNTIME_RECORD`, or a stored flow's copy of it, loaded
    again as a plain dict. Such a record has no ``task_type``: every record
    :func:`provenance_record` makes has one.
    """
    return isinstance(record, Mapping) and "task_type" not in record


def task_provenance(task: Mapping[str, Any]) -> Any:
    """Return a task's provenance record in full, for readers: a new dict.

    A record of the runtime fields alone (see :data:`RUNTIME_RECORD`) gets
    the task's ``task_type``, ``started_at`` and ``finished_at``; a record
    without ``params`` gets ``{}`` (see :func:`provenance_with_params`).
    Changing the result changes nothing in the task. A task without a
    record gives None; anything else that is not a record is returned as
    it is.
    """
    record = task.get("provenance")
    if not isinstance(record, Mapping):
        return record
    whole = dict(record)
    if "task_type" not in whole:
        whole["task_type"] = task.get("task_type")
        whole["started_at"] = task.get("started_at")
        whole["finished_at"] = task.get("finished_at")
    whole.setdefault("params", {})
    return whole


def provenance_record(
    task: Mapping[str, Any],
    params: Any,
    finished_at: float | None,
    code: Mapping[str, Any] | None = None,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return who made a task's result, and how.

    The mc version, Python version, host and user of this process; the task
    type; ``code`` (what code ran, as for the cache key); ``run`` (for jobs:
    the executor, job id, resources and job dir); the task's times and its
    input params. Never environment variables.

    ``params`` is left out when the task has none: most tasks of a big
    flow, to which an empty dict would add a container for the garbage
    collector to walk, for nothing. :func:`provenance_with_params` puts it
    back, as ``{}``, for readers. (The engine gives a task with neither
    params nor ``code`` :data:`RUNTIME_RECORD` instead of this record.)
    """
    record: dict[str, Any] = {**RUNTIME, "task_type": task.get("task_type")}
    if code:
        record["code"] = dict(code)
    if run:
        record["run"] = dict(run)
    record["started_at"] = task.get("started_at")
    record["finished_at"] = finished_at
    if params:
        record["params"] = _json_copy(params)
    return record


def provenance_with_params(record: Any) -> Any:
    """Return a provenance record with its ``params``: a copy with ``{}`` if it has none.

    A record that :func:`provenance_record` made for a task without params
    leaves them out. Anything that is not such a record is returned as it is.
    """
    if isinstance(record, Mapping) and "params" not in record:
        return {**record, "params": {}}
    return record


def _json_copy(value: Any) -> Any:
    """A JSON copy of ``value``: a value that is not JSON (an object a
    ``$ctx`` path reached, NaN) is recorded as a string naming its type."""
    if not value and isinstance(value, (dict, list)):
        return type(value)()  # most tasks' params: nothing to copy
    text = json.dumps(value, default=_not_json, allow_nan=True)
    return json.loads(text, parse_constant=lambda name: f"<not JSON: {name}>")


def _not_json(value: Any) -> str:
    return f"<not JSON: {type(value).__name__}>"


# -- a cache in memory -------------------------------------------------------------


class MemoryTaskCache:
    """A :class:`TaskCache` in this process's memory, shared by its threads.

    For tests, notebooks and embedding; entries are lost when the process
    ends. ``claim_s`` is how long a claim lasts unless renewed.
    """

    def __init__(self, claim_s: float = DEFAULT_CLAIM_S) -> None:
        self.claim_s = claim_s
        self._entries: dict[str, dict[str, Any]] = {}
        self._claims: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str, now: float) -> dict[str, Any] | None:
        """Return a copy of the entry under ``key`` unless it expired by ``now``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry_is_fresh(entry, now):
                return None
            copied: dict[str, Any] = json.loads(json.dumps(entry))
            return copied

    def claim(self, key: str, owner: str, now: float) -> str | None:
        """Claim or renew ``key`` for ``owner`` (see :meth:`TaskCache.claim`)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry_is_fresh(entry, now):
                return ""
            holder = self._claims.get(key)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return holder[0]
            self._claims[key] = (owner, now + self.claim_s)
            return None

    def store(self, key: str, entry: Mapping[str, Any], owner: str) -> None:
        """Keep a copy of ``entry`` under ``key``; end the claim."""
        with self._lock:
            self._entries[key] = json.loads(json.dumps(dict(entry)))
            self._claims.pop(key, None)

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s claim on ``key``."""
        with self._lock:
            if self._claims.get(key, ("",))[0] == owner:
                del self._claims[key]

    def entries(self) -> list[dict[str, Any]]:
        """Return copies of every entry, oldest first."""
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda entry: entry["created_at"])
            return [json.loads(json.dumps(entry)) for entry in entries]


def entry_is_fresh(entry: Mapping[str, Any], now: float, max_age_s: float | None = None) -> bool:
    """Return True if ``entry`` has not expired by ``now``, nor is older than ``max_age_s``."""
    expires_at = entry.get("expires_at")
    if expires_at is not None and expires_at <= now:
        return False
    return max_age_s is None or entry["created_at"] + max_age_s > now


class LazyTaskCache:
    """A :class:`~mc.flows.cache.TaskCache` opened on first use, by ``opener()``.

    ``mc run`` uses one, so that a flow without cached tasks never creates
    or opens the local cache file.
    """

    def __init__(self, opener: Callable[[], TaskCache], claim_s: float = DEFAULT_CLAIM_S) -> None:
        self._opener = opener
        self._cache: TaskCache | None = None
        self.claim_s = claim_s

    @property
    def opened(self) -> bool:
        """True once the cache was opened."""
        return self._cache is not None

    def _open(self) -> TaskCache:
        if self._cache is None:
            self._cache = self._opener()
            self.claim_s = self._cache.claim_s
        return self._cache

    def lookup(self, key: str, now: float) -> dict[str, Any] | None:
        """See :meth:`TaskCache.lookup`."""
        return self._open().lookup(key, now)

    def claim(self, key: str, owner: str, now: float) -> str | None:
        """See :meth:`TaskCache.claim`."""
        return self._open().claim(key, owner, now)

    def store(self, key: str, entry: Mapping[str, Any], owner: str) -> None:
        """See :meth:`TaskCache.store`."""
        self._open().store(key, entry, owner)

    def release(self, key: str, owner: str) -> None:
        """See :meth:`TaskCache.release`."""
        self._open().release(key, owner)

    def close(self) -> None:
        """Close the cache if it was opened (and has ``close()``)."""
        close = getattr(self._cache, "close", None)
        if callable(close):
            close()
