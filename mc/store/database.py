"""Connecting to a flow store's database, and keeping its schema current.

SQLite and PostgreSQL differ in how a transaction takes the write lock, and
this module is the one place that knows:

* SQLite runs in WAL mode (readers never block the writer) with a generous
  busy timeout. The sqlite3 driver's own transaction handling is switched off
  and the store emits ``BEGIN`` itself, as SQLAlchemy's documentation
  recommends, so that a write transaction can start with ``BEGIN IMMEDIATE``:
  it takes the write lock first, and two writers queue instead of failing
  with "database is locked" halfway through.
* PostgreSQL runs through psycopg 3; a plain ``postgresql://`` URL is read
  as ``postgresql+psycopg://``.

It is also the one place that turns the database's own errors into
:class:`~mc.errors.StoreDatabaseError` (:func:`store_errors`): failing to
connect, or losing the connection, is a
:class:`~mc.errors.StoreUnavailableError`, whatever the driver calls it; and
a URL is shown only through :func:`display_url`, which hides its password.

The schema is created, or upgraded in place, by Alembic the first time a
:class:`~mc.store.FlowStore` opens a database, inside a write transaction
(under an advisory lock on PostgreSQL), so that several processes opening a
new database at once create it exactly once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mc.errors import StoreDatabaseError, StoreError, StoreUnavailableError
from mc.store.redaction import redact_db_url, scrub_secrets
from mc.store.tables import VERSION_TABLE

logger = logging.getLogger(__name__)

#: The database used when neither a URL nor ``MC_DB_URL`` is given.
DEFAULT_DB_URL = "sqlite:///mc.db"

#: The databases a flow store runs on (SQLAlchemy backend names).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_URL_EXAMPLES = (
    "(expected e.g. sqlite:///mc.db or postgresql+psycopg://user:password@host:5432/dbname)"
)

# Any fixed number: it names the lock that serializes schema upgrades.
_SCHEMA_LOCK_ID = 0x6D635F666C6F77
_SQLITE_BUSY_TIMEOUT_S = 60.0


def default_db_url() -> str:
    """Return ``$MC_DB_URL`` if set, else ``sqlite:///mc.db`` (in the working directory)."""
    return os.environ.get("MC_DB_URL") or DEFAULT_DB_URL


def display_url(url: sa.URL) -> str:
    """Return ``url`` as text fit for a message or a log, its secrets hidden.

    See :func:`~mc.store.redaction.redact_db_url`: the password, and every
    query parameter whose name says it is a secret.
    """
    return redact_db_url(url.render_as_string(hide_password=False))


class _ConnectFailure(Exception):
    """The database driver failed to connect; ``error`` is SQLAlchemy's error (see _connect)."""

    def __init__(self, error: sa.exc.DBAPIError) -> None:
        self.error = error
        super().__init__(str(error))


#: The errors :func:`store_errors` turns into StoreDatabaseError: the driver's
#: (DBAPIError), the connection pool's, and a failure to connect.
DATABASE_ERRORS = (
    sa.exc.DBAPIError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
    _ConnectFailure,
)


@contextlib.contextmanager
def store_errors(url: sa.URL, doing: str, operation: str = "") -> Iterator[None]:
    """Raise the database errors of the block as :class:`~mc.errors.StoreDatabaseError`.

    The message is ``"<doing>: <the database's reason>"``; ``doing`` names
    the store and what it was doing, and ``operation`` (default ``doing``)
    goes to the error's ``operation``. Failing to connect, losing the
    connection, and waiting too long for a pooled connection raise
    :class:`~mc.errors.StoreUnavailableError`. The password of ``url`` is
    never in the message, even where the driver repeats it.
    """
    try:
        yield
    except DATABASE_ERRORS as error:
        raise _store_database_error(error, url, doing, operation or doing) from None


def _store_database_error(
    error: Exception, url: sa.URL, doing: str, operation: str
) -> StoreDatabaseError:
    unavailable = isinstance(
        error, (_ConnectFailure, sa.exc.TimeoutError, sa.exc.DisconnectionError)
    ) or bool(getattr(error, "connection_invalidated", False))
    if isinstance(error, _ConnectFailure):
        error = error.error
    # The driver's own message, without SQLAlchemy's statement, parameters and link.
    reason = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
    # Drivers do not repeat a password; should one ever, it is hidden all the same.
    reason = scrub_secrets(reason, url.render_as_string(hide_password=False))
    kind = StoreUnavailableError if unavailable else StoreDatabaseError
    return kind(f"{doing}: {reason}", url=display_url(url), operation=operation)


def make_engine(url: str | sa.URL) -> sa.Engine:
    """Return a SQLAlchemy engine for a flow store at ``url``.

    Raises :class:`~mc.errors.StoreError` for a URL that SQLAlchemy cannot
    parse (a port that is not a number from 1 to 65535 included), a database
    other than SQLite or PostgreSQL, a driver that is not installed, or a
    SQLite file whose directory does not exist. Messages show the URL
    through :func:`~mc.store.redaction.redact_db_url`.
    """
    raw = url.render_as_string(hide_password=False) if isinstance(url, sa.URL) else str(url)
    try:
        parsed = sa.make_url(url)
        port = parsed.port
    except (sa.exc.ArgumentError, ValueError) as error:
        problem = scrub_secrets(error, raw)
        if isinstance(error, ValueError) and not isinstance(error, sa.exc.ArgumentError):
            problem = f"the port is not a number ({problem})"
        raise StoreError(
            f"database URL {redact_db_url(raw)!r}: {problem} {_URL_EXAMPLES}"
        ) from None
    shown = redact_db_url(raw)
    if port is not None and not 1 <= port <= 65535:
        raise StoreError(f"database URL {shown!r}: port {port} is not from 1 to 65535")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise StoreError(
            f"database URL {shown!r}: a flow store runs on SQLite or PostgreSQL, not "
            f"{parsed.get_backend_name()!r} {_URL_EXAMPLES}"
        )
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_directory(parsed, shown)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
        else:
            engine = sa.create_engine(parsed)
    except (ImportError, sa.exc.NoSuchModuleError) as error:
        extra = (
            " (install it with: pip install 'missioncontrol[postgres]')"
            if (parsed.drivername == "postgresql+psycopg")
            else ""
        )
        raise StoreError(
            f"database URL {shown!r}: its driver is not available: "
            f"{scrub_secrets(error, raw)}{extra}"
        ) from None
    return engine


def _check_sqlite_directory(url: sa.URL, shown: str) -> None:
    """Raise StoreError if a SQLite file's directory is missing (SQLite only says "unable to open")."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    directory = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(directory):
        raise StoreError(
            f"database URL {shown!r}: the directory {directory!r} of the SQLite file "
            "does not exist (create it first, or give another path)"
        )


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The store emits BEGIN itself (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _connect(engine: sa.Engine) -> sa.Connection:
    """Check a connection out of ``engine``'s pool, telling a failure to connect apart.

    SQLAlchemy reports "connection refused" like any failed statement; the
    store must know it could not connect (see :func:`store_errors`). Only
    the driver's OperationalError and InterfaceError mean that (PEP 249:
    the server, the file or the connection); any other error while
    connecting, such as SQLite's "file is not a database", stays a plain
    database error.
    """
    try:
        return engine.connect()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise _ConnectFailure(error) from error


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Open a connection in a transaction that holds the write lock from its start.

    Use it inside :func:`store_errors`, which turns a failure to connect
    into :class:`~mc.errors.StoreUnavailableError`.
    """
    with _connect(engine) as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            yield connection


@contextlib.contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Open a connection in a plain (read) transaction (inside :func:`store_errors`)."""
    with _connect(engine) as connection, connection.begin():
        yield connection


def migrations_dir() -> str:
    """Return the directory of the store's Alembic migrations, inside the package."""
    return str(resources.files("mc.store").joinpath("migrations"))


def _alembic_config(
    connection: sa.Connection | None = None, migrations: str | None = None
) -> Config:
    config = Config()
    config.set_main_option("script_location", migrations or migrations_dir())
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=8)
def head_revision(migrations: str | None = None) -> str:
    """Return the newest schema revision that this version of mc ships."""
    head = ScriptDirectory.from_config(_alembic_config(migrations=migrations)).get_current_head()
    assert head is not None, "mc.store ships no migrations"
    return head


def _is_known_revision(revision: str, migrations: str | None) -> bool:
    script = ScriptDirectory.from_config(_alembic_config(migrations=migrations))
    return any(known.revision == revision for known in script.walk_revisions())


def current_revision(connection: sa.Connection) -> str | None:
    """Return the schema revision of the database behind ``connection`` (None if new)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade_schema(engine: sa.Engine, migrations: str | None = None) -> bool:
    """Create or upgrade the store's tables to the newest revision.

    Returns True if the database was changed. Safe to call from several
    processes at once: the check and the upgrade run in one write
    transaction. Raises :class:`~mc.errors.StoreError`, changing nothing, if
    the database has a revision this version does not ship (a newer mc wrote
    it). ``migrations`` is another migrations directory, for tests.
    """
    head = head_revision(migrations)
    with read_transaction(engine) as connection:
        if current_revision(connection) == head:
            return False
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": _SCHEMA_LOCK_ID}
            )
        current = current_revision(connection)
        if current == head:
            return False
        if current is not None and not _is_known_revision(current, migrations):
            raise StoreError(
                f"the flow store at {display_url(engine.url)} has "
                f"schema revision {current!r}, which this version of mc does not know (its "
                f"newest is {head!r}): a newer version of missioncontrol wrote it; upgrade "
                "missioncontrol to use this database"
            )
        logger.info("upgrading the flow store schema from %s to %s", current, head)
        command.upgrade(_alembic_config(connection, migrations), "head")
    return True
