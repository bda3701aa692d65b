"""The task cache in a SQL database: :class:`SqlTaskCache`, a :class:`~mc.flows.cache.TaskCache`.

One table, ``mc_cache``, holds a row per cache key: the entry (the task's
data and provenance as JSON text, who made it and when, when it expires),
and a claim (an owner and an expiry) while a task computes the key. A row
can hold a claim and no entry yet, or an old entry and a new claim.

The cache lives in a flow store's database (``FlowStore.task_cache()``
shares the store's connections), so runners on every host share it on
PostgreSQL; or in a SQLite file of its own, as ``mc run`` keeps one in the
user's cache directory (:func:`default_cache_db_url`).

Claims are atomic. Taking one is a single write transaction: an ``INSERT
... ON CONFLICT DO NOTHING`` of a claim row and, when the row exists, a
``SELECT ... FOR UPDATE`` (PostgreSQL) or the ``BEGIN IMMEDIATE`` write lock
(SQLite) while the claim is decided. So of two flows that start the same
key at the same time, on any hosts, exactly one claims it; the other waits.
Like flow leases, claims compare times from the hosts' clocks, which must
agree to well within ``claim_s``.

Every method raises :class:`~mc.errors.StoreDatabaseError` (or
:class:`~mc.errors.StoreUnavailableError`) in place of the database's errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mc.errors import CacheKeyNotFoundError, StoreError
from mc.flows.cache import DEFAULT_CLAIM_S, entry_is_fresh
from mc.store.database import (
    display_url,
    make_engine,
    read_transaction,
    store_errors,
    upgrade_schema,
    write_transaction,
)
from mc.store.tables import cache_table

__all__ = ["LOCAL_CACHE_FILE", "SqlTaskCache", "default_cache_db_url", "user_cache_dir"]


#: The file name of the local cache of ``mc run``, in the user's cache directory.
LOCAL_CACHE_FILE = "cache.db"

# How many keys an ambiguous key prefix lists.
_MAX_KEY_CANDIDATES = 10
_ENTRY_COLUMNS = ("key", "task_type", "flow_key", "task_key", "created_at", "expires_at")


def user_cache_dir() -> Path:
    """Return the directory where MissionControl keeps its local cache.

    ``$XDG_CACHE_HOME/missioncontrol`` (default ``~/.cache/missioncontrol``)
    on Linux and other Unix systems, ``~/Library/Caches/missioncontrol`` on
    macOS, ``%LOCALAPPDATA%\\missioncontrol\\Cache`` on Windows.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "missioncontrol" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "missioncontrol"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "missioncontrol"


def default_cache_db_url() -> str:
    """Return the URL of the local cache that ``mc run`` uses.

    It is a SQLite file in :func:`user_cache_dir`.
    """
    return f"sqlite:///{user_cache_dir() / LOCAL_CACHE_FILE}"


class SqlTaskCache:
    """A :class:`~mc.flows.cache.TaskCache` in SQLite or PostgreSQL.

    ``url`` names the database (its tables are created or upgraded on
    first use, as for a :class:`~mc.store.FlowStore`); a SQLite file's
    directory is created if missing. ``FlowStore.task_cache()`` makes one
    on the store's own connections instead. ``claim_s``: how long a claim
    lasts unless renewed. ``clock`` returns epoch seconds, for the
    maintenance methods (:meth:`clear`); the engine passes its own times to
    the cache methods.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        claim_s: float = DEFAULT_CLAIM_S,
        clock: Callable[[], float] | None = None,
        engine: sa.Engine | None = None,
    ) -> None:
        if claim_s <= 0:
            raise StoreError(f"SqlTaskCache: claim_s must be positive, got {claim_s!r}")
        self.claim_s = claim_s
        self.clock: Callable[[], float] = clock or time.time
        self._owns_engine = engine is None
        if engine is None:
            url = url or default_cache_db_url()
            _make_sqlite_directory(url)
            engine = make_engine(url)
            try:
                with store_errors(
                    engine.url, f"cannot open the task cache at {display_url(engine.url)}", "open"
                ):
                    upgrade_schema(engine)
            except BaseException:
                engine.dispose()
                raise
        self._engine = engine

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return display_url(self._engine.url)

    def close(self) -> None:
        """Close the cache's connections (not those of a store it shares)."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> SqlTaskCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqlTaskCache {self.url}>"

    # -- the TaskCache contract ---------------------------------------------

    def lookup(self, key: str, now: float) -> dict[str, Any] | None:
        """Return the entry under ``key`` unless it has expired by ``now``."""
        table = cache_table
        with self._errors(f"lookup({key[:12]!r})"), read_transaction(self._engine) as connection:
            row = connection.execute(
                sa.select(table).where(table.c.key == key, table.c.data_json.is_not(None))
            ).one_or_none()
        if row is None:
            return None
        entry = _entry(row)
        return entry if entry_is_fresh(entry, now) else None

    def claim(self, key: str, owner: str, now: float) -> str | None:
        """Claim ``key`` for ``owner``, or renew its claim (see :meth:`TaskCache.claim`)."""
        table = cache_table
        claim_values = {"claim_owner": owner, "claim_expires_at": now + self.claim_s}
        with self._errors(f"claim({key[:12]!r})"), write_transaction(self._engine) as connection:
            inserted = connection.execute(
                self._insert()
                .values(key=key, **claim_values)
                .on_conflict_do_nothing(index_elements=[table.c.key])
            )
            if inserted.rowcount == 1:
                return None
            select = sa.select(
                table.c.created_at,
                table.c.expires_at,
                table.c.claim_owner,
                table.c.claim_expires_at,
                table.c.data_json.is_not(None).label("has_data"),
            ).where(table.c.key == key)
            if self._engine.dialect.name == "postgresql":
                select = select.with_for_update()
            row = connection.execute(select).one()
            if row.has_data and entry_is_fresh(
                {"created_at": row.created_at, "expires_at": row.expires_at}, now
            ):
                return ""
            if (
                row.claim_owner is not None
                and row.claim_owner != owner
                and row.claim_expires_at is not None
                and row.claim_expires_at > now
            ):
                return str(row.claim_owner)
            connection.execute(sa.update(table).where(table.c.key == key).values(claim_values))
        return None

    def store(self, key: str, entry: Mapping[str, Any], owner: str) -> None:
        """Store ``entry`` under ``key``, replacing an older one, and end the claim."""
        table = cache_table
        values = {
            "task_type": entry.get("task_type"),
            "flow_key": entry.get("flow_key"),
            "task_key": entry.get("task_key"),
            "created_at": entry["created_at"],
            "expires_at": entry.get("expires_at"),
            "data_json": json.dumps(entry["data"], allow_nan=False),
            "provenance_json": json.dumps(entry.get("provenance"), allow_nan=False),
            "claim_owner": None,
            "claim_expires_at": None,
        }
        statement = self._insert().values(key=key, **values)
        statement = statement.on_conflict_do_update(index_elements=[table.c.key], set_=values)
        with self._errors(f"store({key[:12]!r})"), write_transaction(self._engine) as connection:
            connection.execute(statement)

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s claim on ``key``; a row with no entry left goes."""
        table = cache_table
        with self._errors(f"release({key[:12]!r})"), write_transaction(self._engine) as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.key == key, table.c.claim_owner == owner)
                .values(claim_owner=None, claim_expires_at=None)
            )
            connection.execute(
                sa.delete(table).where(
                    table.c.key == key,
                    table.c.data_json.is_(None),
                    table.c.claim_owner.is_(None),
                )
            )

    # -- looking after the cache (mc cache ...) ------------------------------

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Return the rows, newest entries first, without data or provenance.

        Each is a dict: ``key``, ``task_type``, ``flow_key``, ``task_key``,
        ``created_at``, ``expires_at``, ``claim_owner``, ``claim_expires_at``
        (a row that is only a claim has no ``created_at``).
        """
        table = cache_table
        columns = [table.c[name] for name in (*_ENTRY_COLUMNS, "claim_owner", "claim_expires_at")]
        statement = sa.select(*columns).order_by(
            table.c.created_at.desc().nulls_first(), table.c.key
        )
        if limit is not None:
            statement = statement.limit(limit)
        with self._errors("entries()"), read_transaction(self._engine) as connection:
            return [row._asdict() for row in connection.execute(statement).all()]

    def resolve_key(self, prefix: str) -> str:
        """Return the one key that is ``prefix`` or starts with it (as git takes a commit).

        Raises :class:`CacheKeyNotFoundError` when none does, and when
        several do (listing some).
        """
        table = cache_table
        if not isinstance(prefix, str) or not prefix:
            raise CacheKeyNotFoundError("expected a cache key, or the start of one")
        with self._errors(f"resolve_key({prefix!r})"), read_transaction(self._engine) as connection:
            keys = (
                connection.execute(
                    sa.select(table.c.key)
                    .where(
                        table.c.key.startswith(prefix.lower(), autoescape=True),
                    )
                    .order_by(table.c.key)
                    .limit(_MAX_KEY_CANDIDATES + 1)
                )
                .scalars()
                .all()
            )
        if not keys:
            raise CacheKeyNotFoundError(
                f"no cache entry has a key starting with {prefix!r} in {self.url}"
            )
        if len(keys) > 1:
            shown = ", ".join(key[:16] for key in keys[:_MAX_KEY_CANDIDATES])
            more = " and more" if len(keys) > _MAX_KEY_CANDIDATES else ""
            raise CacheKeyNotFoundError(
                f"cache key prefix {prefix!r} is ambiguous: it starts {shown}{more}; "
                "give more of it"
            )
        return str(keys[0])

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the whole row under ``key`` (entry, data, provenance and claim), or None."""
        table = cache_table
        with self._errors(f"get({key[:12]!r})"), read_transaction(self._engine) as connection:
            row = connection.execute(sa.select(table).where(table.c.key == key)).one_or_none()
        if row is None:
            return None
        found = (
            _entry(row)
            if row.data_json is not None
            else {name: getattr(row, name) for name in _ENTRY_COLUMNS}
        )
        found["claim_owner"] = row.claim_owner
        found["claim_expires_at"] = row.claim_expires_at
        return found

    def delete(self, key: str) -> bool:
        """Delete the row under ``key`` (entry and claim); return True if there was one."""
        table = cache_table
        with self._errors(f"delete({key[:12]!r})"), write_transaction(self._engine) as connection:
            result = connection.execute(sa.delete(table).where(table.c.key == key))
        return bool(result.rowcount)

    def clear(self, older_than_s: float | None = None) -> int:
        """Delete entries (all, or those created more than ``older_than_s`` ago); return how many.

        Rows that only hold a live claim stay: a task is computing them.
        """
        table = cache_table
        now = self.clock()
        condition: sa.ColumnElement[bool] = table.c.data_json.is_not(None)
        if older_than_s is not None:
            condition = sa.and_(condition, table.c.created_at <= now - older_than_s)
        claim_expired = sa.and_(
            table.c.data_json.is_(None),
            sa.or_(table.c.claim_expires_at.is_(None), table.c.claim_expires_at <= now),
        )
        with self._errors("clear()"), write_transaction(self._engine) as connection:
            result = connection.execute(sa.delete(table).where(condition))
            connection.execute(sa.delete(table).where(claim_expired))
        return int(result.rowcount)

    # -- internals --------------------------------------------------------------

    def _insert(self) -> Any:
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(cache_table)

    def _errors(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return store_errors(
            self._engine.url, f"task cache at {self.url}: {operation} failed", operation
        )


def _entry(row: Any) -> dict[str, Any]:
    entry = {name: getattr(row, name) for name in _ENTRY_COLUMNS}
    entry["data"] = json.loads(row.data_json)
    entry["provenance"] = json.loads(row.provenance_json) if row.provenance_json else None
    return entry


def _make_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite cache file, as for the user's cache dir."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return  # make_engine says what is wrong
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not (database.startswith("file:"))
    ):
        Path(database).absolute().parent.mkdir(parents=True, exist_ok=True)
