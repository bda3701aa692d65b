"""The :class:`FlowStore`: flows kept in a SQL database, and leases to tick them.

One table, ``mc_flows``, holds one row per flow: the flow itself as JSON
text, plus copies of the fields that queries filter on (key, label, status,
parent_key, depth, timestamps), written from the flow on every save.

Concurrency guarantees:

* **Optimistic saves.** Every row has a ``version``, which every write
  increases. A flow loaded from the store remembers the version it saw, and
  :meth:`FlowStore.save_flow` writes only if the row still has it; otherwise
  it raises :class:`~mc.errors.StaleFlowError` and overwrites nothing.
* **Leases.** :meth:`FlowStore.claim` hands a runner up to ``n`` flows that
  need ticking (PENDING or RUNNING, not leased, or leased with the lease
  expired) in one atomic statement: ``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, a ``BEGIN IMMEDIATE`` transaction on SQLite. Claiming counts as
  a write, so once a lease expired and another runner claimed the flow, the
  first runner's save is refused as stale: a flow is never saved by two
  runners from the same state. Saving releases the lease.
* **Leases for a with-block.** :meth:`FlowStore.leased` holds one flow's
  lease for a block of code, waiting for another holder if asked, and
  always gives it up (see its docstring for what it guarantees).
* **Database errors.** Every public method raises
  :class:`~mc.errors.StoreDatabaseError` (or
  :class:`~mc.errors.StoreUnavailableError`) in place of SQLAlchemy's
  errors; :mod:`mc.store.database` decides which.
* **Whose clock.** Lease times, ``tick_after`` and the timestamps come from
  the store's ``clock``: by default the clock of the host the store is
  opened on. Runners on several hosts compare lease times written by each
  other's clocks, so their clocks must agree (NTP) to well within
  ``lease_s``: a host whose clock runs ahead by more than that takes over
  flows whose leases have not expired yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from mc.errors import (
    AmbiguousFlowKeyError,
    FlowExistsError,
    FlowLeasedError,
    FlowLoadError,
    FlowNotFoundError,
    StaleFlowError,
    StoreError,
)
from mc.flows.flow import Flow
from mc.flows.statuses import FAILED, PENDING, RUNNING, FlowStatus
from mc.store.database import (
    default_db_url,
    display_url,
    make_engine,
    read_transaction,
    store_errors,
    upgrade_schema,
    write_transaction,
)
from mc.store.redaction import scrub_secrets
from mc.store.tables import flows_table

logger = logging.getLogger(__name__)

# How many matching keys an ambiguous key prefix lists.
_MAX_KEY_CANDIDATES = 10

#: The longest flow key the store accepts (the key column is VARCHAR(255)).
MAX_KEY_LENGTH = 255

_RECORD_COLUMNS = (
    "key",
    "label",
    "status",
    "parent_key",
    "depth",
    "num_tasks",
    "num_ticks",
    "created_at",
    "updated_at",
    "version",
    "lease_owner",
    "lease_expires_at",
    "tick_after",
    "error",
)


@dataclasses.dataclass(frozen=True)
class FlowRecord:
    """What the store knows about a flow without loading it.

    ``error`` is set when the store or a runner marked the flow FAILED
    without the engine (its JSON did not load, or ticking it raised); the
    flow's JSON is then kept as it was.
    """

    key: str
    label: str | None
    status: str
    parent_key: str | None
    depth: int
    num_tasks: int
    num_ticks: int
    created_at: float
    updated_at: float
    version: int
    lease_owner: str | None
    lease_expires_at: float | None
    tick_after: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a dict of JSON types."""
        return dataclasses.asdict(self)


class FlowStore:
    """Flows kept in a SQL database (SQLite or PostgreSQL), through SQLAlchemy Core.

    ``url`` is a SQLAlchemy database URL; by default ``$MC_DB_URL``, else
    ``sqlite:///mc.db`` in the working directory. The tables are created,
    or upgraded in place, on first use. ``clock`` returns epoch seconds
    (default :func:`time.time`); it stamps records and times leases.

    Close the store with :meth:`close`, or use it as a context manager.

    When the database fails, every method (and opening the store) raises
    :class:`~mc.errors.StoreDatabaseError`, or its subclass
    :class:`~mc.errors.StoreUnavailableError` when the store cannot connect
    or lost its connection; no SQLAlchemy or driver error comes out. The
    message shows the URL only with its password hidden.
    """

    def __init__(self, url: str | None = None, clock: Callable[[], float] | None = None) -> None:
        url = url or default_db_url()
        self._engine = make_engine(url)
        # Kept to hide its secrets in any text shown (see hide_secrets).
        self._raw_url = str(url)
        self.clock: Callable[[], float] = clock or time.time
        # The version each loaded Flow object was read at (see save_flow).
        self._versions: weakref.WeakKeyDictionary[Flow, int] = weakref.WeakKeyDictionary()
        try:
            # The server may not be there, refuse us, or the file be no database.
            opening = f"cannot open the flow store at {self.url}"
            with store_errors(self._engine.url, opening, "open"):
                upgrade_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The database URL, with its password and secret parameters hidden
        (see :func:`~mc.store.redaction.redact_db_url`)."""
        return display_url(self._engine.url)

    def hide_secrets(self, text: object) -> str:
        """Return ``text`` (such as a database error) with this store's URL secrets hidden."""
        return scrub_secrets(
            scrub_secrets(text, self._raw_url),
            self._engine.url.render_as_string(hide_password=False),
        )

    @property
    def dialect(self) -> str:
        """The database's kind: ``'sqlite'`` or ``'postgresql'``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close every database connection of the store.

        The store stays usable: a later call connects again.
        """
        with self._database_errors("close()"):
            self._engine.dispose()

    def __enter__(self) -> FlowStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FlowStore {self.url}>"

    # -- single flows -------------------------------------------------------

    def create_flow(self, spec_or_flow: Mapping[str, Any] | Flow) -> str:
        """Store a new flow and return its key.

        ``spec_or_flow`` is a flow spec (validated here; a bad one raises
        :class:`~mc.errors.FlowSpecError` and stores nothing) or a
        :class:`~mc.flows.flow.Flow`, whose ``parent_key`` and ``depth`` are
        stored with it. Raises :class:`~mc.errors.FlowExistsError` if the key
        is taken. A Flow object passed in can be saved afterwards with
        :meth:`save_flow`.
        """
        flow = spec_or_flow if isinstance(spec_or_flow, Flow) else Flow.from_flow_spec(spec_or_flow)
        if len(flow.key) > MAX_KEY_LENGTH:
            raise StoreError(
                f"flow key {flow.key[:40]!r}...: {len(flow.key)} characters; a stored flow's "
                f"key has at most {MAX_KEY_LENGTH}"
            )
        now = self.clock()
        values = {**self._flow_values(flow), "created_at": now, "updated_at": now, "version": 1}
        with self._database_errors(f"create_flow({flow.key!r})"):
            try:
                with write_transaction(self._engine) as connection:
                    connection.execute(sa.insert(flows_table).values(values))
            except sa.exc.IntegrityError:
                raise FlowExistsError(flow.key) from None
        self._versions[flow] = 1
        logger.debug("stored new flow %s", flow.key)
        return flow.key

    def get_flow(self, key: str) -> Flow:
        """Load the flow stored under ``key``.

        Raises :class:`~mc.errors.FlowNotFoundError` if there is none, and
        :class:`~mc.errors.FlowLoadError` if its JSON cannot be loaded.
        """
        columns = (flows_table.c.version, flows_table.c.flow_json)
        with (
            self._database_errors(f"get_flow({key!r})"),
            read_transaction(self._engine) as connection,
        ):
            row = connection.execute(
                sa.select(*columns).where(flows_table.c.key == key)
            ).one_or_none()
        if row is None:
            raise FlowNotFoundError(key, self.url)
        flow = _load_flow_json(key, row.flow_json)
        self._versions[flow] = row.version
        return flow

    def get_record(self, key: str) -> FlowRecord:
        """Return the record of flow ``key``, without loading the flow.

        Raises :class:`~mc.errors.FlowNotFoundError` if there is none.
        """
        with (
            self._database_errors(f"get_record({key!r})"),
            read_transaction(self._engine) as connection,
        ):
            row = connection.execute(
                sa.select(*_record_columns()).where(flows_table.c.key == key)
            ).one_or_none()
        if row is None:
            raise FlowNotFoundError(key, self.url)
        return FlowRecord(**row._asdict())

    def save_flow(self, flow: Flow, tick_after: float | None = None) -> None:
        """Write ``flow`` back to the store, and release any lease on it.

        ``flow`` must come from this store (:meth:`get_flow`, :meth:`claim`
        or :meth:`create_flow`). If the stored row changed since (another
        runner or command saved or claimed it), raises
        :class:`~mc.errors.StaleFlowError` and writes nothing. ``tick_after``
        (epoch seconds) keeps runners from claiming the flow before then.
        """
        version = self._versions.get(flow)
        if version is None:
            raise StaleFlowError(
                flow.key,
                "this Flow object was not loaded from this store; load it with "
                "store.get_flow(key) (or store it with store.create_flow(flow)) first",
            )
        values = {
            **self._flow_values(flow),
            "updated_at": self.clock(),
            "version": version + 1,
            "lease_owner": None,
            "lease_expires_at": None,
            "tick_after": tick_after,
            "error": None,
        }
        with (
            self._database_errors(f"save_flow({flow.key!r})"),
            write_transaction(self._engine) as connection,
        ):
            result = connection.execute(
                sa.update(flows_table)
                .where(flows_table.c.key == flow.key, flows_table.c.version == version)
                .values(values)
            )
            if result.rowcount != 1:
                stored = connection.execute(
                    sa.select(flows_table.c.version).where(flows_table.c.key == flow.key)
                ).scalar_one_or_none()
        if result.rowcount != 1:
            if stored is None:
                raise FlowNotFoundError(flow.key, self.url)
            raise StaleFlowError(
                flow.key,
                f"the stored flow is at version {stored}, this copy was loaded at "
                f"version {version} (another runner or command saved or claimed it since)",
            )
        self._versions[flow] = version + 1

    def fail_flow(self, flow_or_key: Flow | str, reason: str, version: int | None = None) -> bool:
        """Mark a flow FAILED with ``reason`` in its record, keeping its JSON.

        For a flow that the engine cannot load, tick or save: its JSON stays
        as it was, for a person to inspect, and ``reason`` goes to the
        record's ``error``. Releases any lease. Given a Flow object from this
        store (or ``version``), only a row still at that version is changed.
        Returns True if the row was changed.
        """
        if isinstance(flow_or_key, Flow):
            key = flow_or_key.key
            if version is None:
                version = self._versions.get(flow_or_key)
        else:
            key = flow_or_key
        condition = flows_table.c.key == key
        if version is not None:
            condition = sa.and_(condition, flows_table.c.version == version)
        with (
            self._database_errors(f"fail_flow({key!r})"),
            write_transaction(self._engine) as connection,
        ):
            result = connection.execute(
                sa.update(flows_table)
                .where(condition)
                .values(
                    status=FAILED,
                    error=reason,
                    updated_at=self.clock(),
                    version=flows_table.c.version + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        if result.rowcount:
            logger.warning("flow %s marked FAILED: %s", key, reason)
        return bool(result.rowcount)

    def delete_flow(self, key: str) -> None:
        """Delete flow ``key`` (not its stored subflows); raise FlowNotFoundError if absent."""
        with (
            self._database_errors(f"delete_flow({key!r})"),
            write_transaction(self._engine) as connection,
        ):
            result = connection.execute(sa.delete(flows_table).where(flows_table.c.key == key))
        if result.rowcount != 1:
            raise FlowNotFoundError(key, self.url)

    # -- many flows ---------------------------------------------------------

    def query(
        self,
        status: str | None = None,
        label: str | None = None,
        parent_key: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        *,
        label_glob: str | None = None,
        created_since: float | None = None,
        newest_first: bool = False,
    ) -> list[FlowRecord]:
        """Return the records of the flows matching every filter given.

        ``status`` is a flow status; ``label`` and ``parent_key`` match
        exactly. ``label_glob`` matches labels as a shell pattern: ``*`` is
        any run of characters, ``?`` any one character, and every other
        character stands for itself (case-sensitive; a flow without a label
        never matches). ``created_since`` (epoch seconds) keeps flows
        created at or after that time. Oldest first (by creation time, then
        key), or newest first with ``newest_first``. At most ``limit``
        records (None: all), after skipping ``offset``.
        """
        if status is not None and status not in FlowStatus.ALL:
            raise StoreError(
                f"query: status {status!r} is not a flow status "
                f"(expected one of {', '.join(sorted(FlowStatus.ALL))})"
            )
        table = flows_table
        statement = sa.select(*_record_columns())
        if status is not None:
            statement = statement.where(table.c.status == status)
        if label is not None:
            statement = statement.where(table.c.label == label)
        if label_glob is not None:
            statement = statement.where(self._label_matches(label_glob))
        if parent_key is not None:
            statement = statement.where(table.c.parent_key == parent_key)
        if created_since is not None:
            statement = statement.where(table.c.created_at >= created_since)
        if newest_first:
            statement = statement.order_by(table.c.created_at.desc(), table.c.key.desc())
        else:
            statement = statement.order_by(table.c.created_at, table.c.key)
        statement = statement.limit(limit).offset(offset)
        with self._database_errors("query()"), read_transaction(self._engine) as connection:
            rows = connection.execute(statement).all()
        return [FlowRecord(**row._asdict()) for row in rows]

    def _label_matches(self, pattern: str) -> sa.ColumnElement[bool]:
        """The condition 'label matches the shell pattern' (``*`` and ``?``), case-sensitive."""
        column = flows_table.c.label
        if self.dialect == "sqlite":
            # SQLite's LIKE ignores case; its GLOB does not. Brackets are
            # GLOB's only other special characters: make them literal.
            escaped = "".join(f"[{char}]" if char in "[]" else char for char in pattern)
            return column.op("GLOB")(escaped)
        like = "".join(
            {"*": "%", "?": "_", "%": "\\%", "_": "\\_", "\\": "\\\\"}.get(char, char)
            for char in pattern
        )
        return column.like(like, escape="\\")

    def resolve_key(self, prefix: str) -> str:
        """Return the key of the one flow whose key is ``prefix`` or starts with it.

        As git takes a unique prefix of a commit hash: a flow whose key is
        exactly ``prefix`` wins; otherwise exactly one key must start with
        ``prefix`` (case-sensitive). Raises
        :class:`~mc.errors.FlowNotFoundError` if none does, and
        :class:`~mc.errors.AmbiguousFlowKeyError`, listing candidates, if
        several do.
        """
        if not isinstance(prefix, str) or not prefix:
            raise FlowNotFoundError(str(prefix), self.url)
        table = flows_table
        with (
            self._database_errors(f"resolve_key({prefix!r})"),
            read_transaction(self._engine) as connection,
        ):
            exact = connection.execute(
                sa.select(table.c.key).where(table.c.key == prefix)
            ).scalar_one_or_none()
            if exact is not None:
                return str(exact)
            # startswith(autoescape=True) escapes LIKE's wildcards in the
            # prefix; the substr test makes the match case-sensitive on
            # SQLite too, whose LIKE ignores case.
            matches = sa.and_(
                table.c.key.startswith(prefix, autoescape=True),
                sa.func.substr(table.c.key, 1, len(prefix)) == prefix,
            )
            rows = connection.execute(
                sa.select(table.c.key, table.c.label, table.c.status)
                .where(matches)
                .order_by(table.c.created_at.desc(), table.c.key)
                .limit(_MAX_KEY_CANDIDATES)
            ).all()
            count = len(rows)
            if count == _MAX_KEY_CANDIDATES:
                count = connection.execute(
                    sa.select(sa.func.count()).select_from(table).where(matches)
                ).scalar_one()
        if not rows:
            raise FlowNotFoundError(prefix, self.url)
        if count == 1:
            return str(rows[0].key)
        candidates = [f"{row.key}  {row.label or '-'}  {row.status}" for row in rows]
        raise AmbiguousFlowKeyError(prefix, candidates, count)

    def count_by_status(self) -> dict[str, int]:
        """Return how many flows have each status (statuses with none are left out)."""
        statement = sa.select(flows_table.c.status, sa.func.count()).group_by(flows_table.c.status)
        with (
            self._database_errors("count_by_status()"),
            read_transaction(self._engine) as connection,
        ):
            return {status: count for status, count in connection.execute(statement).all()}

    # -- leases -------------------------------------------------------------

    def claim(self, n: int, lease_s: float, runner_id: str) -> list[Flow]:
        """Lease up to ``n`` flows that need ticking to ``runner_id`` and return them.

        A flow needs ticking when it is PENDING or RUNNING, its
        ``tick_after`` (if any) has passed, and no other runner holds an
        unexpired lease on it. Flows still leased to ``runner_id`` itself
        are handed out again (a runner restarted under the same id, or one
        whose last round failed, takes its flows back at once), so two
        runners must never share an id. Flows least recently saved come
        first. The lease lasts ``lease_s`` seconds; saving the flow releases it, and so
        does :meth:`release`. A claimed row whose JSON cannot be loaded is
        marked FAILED (see :meth:`fail_flow`) and not returned.
        """
        if n < 1:
            return []
        if lease_s <= 0:
            raise StoreError(f"claim: lease_s must be positive, got {lease_s!r}")
        now = self.clock()
        table = flows_table
        candidates = (
            sa.select(table.c.key)
            .where(
                table.c.status.in_((PENDING, RUNNING)),
                _lease_is_free(now, runner_id),
                sa.or_(table.c.tick_after.is_(None), table.c.tick_after <= now),
            )
            .order_by(table.c.updated_at, table.c.key)
            .limit(n)
        )
        if self.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            sa.update(table)
            .where(table.c.key.in_(candidates.scalar_subquery()))
            .values(_lease_values(now, lease_s, runner_id))
            .returning(table.c.key, table.c.version, table.c.updated_at, table.c.flow_json)
        )
        with (
            self._database_errors(f"claim({n}, runner_id={runner_id!r})"),
            write_transaction(self._engine) as connection,
        ):
            rows = connection.execute(statement).all()
        flows = []
        for row in sorted(rows, key=lambda row: (row.updated_at, row.key)):
            try:
                flow = _load_flow_json(row.key, row.flow_json)
            except FlowLoadError as error:
                self.fail_flow(row.key, str(error), version=row.version)
                continue
            self._versions[flow] = row.version
            flows.append(flow)
        return flows

    def claim_flow(self, key: str, lease_s: float, runner_id: str) -> Flow | None:
        """Lease flow ``key`` to ``runner_id``, whatever its status, and return it.

        For a command that changes one flow (``mc retry``, ``mc cancel``):
        while it holds the lease no runner claims the flow, so no runner's
        work is thrown away by the command's save. Returns None, changing
        nothing, if another runner holds an unexpired lease on the flow.
        Raises :class:`~mc.errors.FlowNotFoundError` if there is no such
        flow, and :class:`~mc.errors.FlowLoadError` (releasing the lease) if
        its JSON does not load. Saving the flow releases the lease.
        """
        if lease_s <= 0:
            raise StoreError(f"claim_flow: lease_s must be positive, got {lease_s!r}")
        now = self.clock()
        table = flows_table
        statement = (
            sa.update(table)
            .where(table.c.key == key, _lease_is_free(now, runner_id))
            .values(_lease_values(now, lease_s, runner_id))
            .returning(table.c.version, table.c.flow_json)
        )
        operation = f"claim_flow({key!r}, runner_id={runner_id!r})"
        with self._database_errors(operation), write_transaction(self._engine) as connection:
            row = connection.execute(statement).one_or_none()
            exists = (
                row is not None
                or connection.execute(sa.select(table.c.key).where(table.c.key == key)).first()
                is not None
            )
        if not exists:
            raise FlowNotFoundError(key, self.url)
        if row is None:
            return None
        try:
            flow = _load_flow_json(key, row.flow_json)
        except FlowLoadError:
            self.release([key], runner_id)
            raise
        self._versions[flow] = row.version
        return flow

    def release(self, keys: Iterable[str], runner_id: str) -> int:
        """Give up ``runner_id``'s leases on ``keys`` without saving; return how many."""
        keys = list(keys)
        if not keys:
            return 0
        with (
            self._database_errors(f"release(runner_id={runner_id!r})"),
            write_transaction(self._engine) as connection,
        ):
            result = connection.execute(
                sa.update(flows_table)
                .where(flows_table.c.key.in_(keys), flows_table.c.lease_owner == runner_id)
                .values(lease_owner=None, lease_expires_at=None)
            )
        return result.rowcount

    @contextlib.contextmanager
    def leased(
        self,
        key: str,
        holder: str,
        *,
        lease_s: float = 60.0,
        wait_s: float = 0.0,
        save: bool = False,
        poll_s: float = 0.1,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> Iterator[Flow]:
        """Lease flow ``key`` to ``holder`` for a ``with`` block, and yield it loaded.

        For a program that changes one flow while runners work the store
        (``mc retry``, ``mc cancel``)::

            with store.leased(key, "my-tool", wait_s=30) as flow:
                engine.retry_flow(flow)
                store.save_flow(flow)

        The lease lasts ``lease_s`` seconds (from :meth:`claim_flow`); no
        runner claims the flow meanwhile, so the block throws away no
        runner's tick. While another holder has an unexpired lease, the
        claim is tried again every ``poll_s`` seconds for up to ``wait_s``
        seconds (default 0: not at all); then
        :class:`~mc.errors.FlowLeasedError` is raised, naming that holder,
        and nothing is changed. ``sleep(seconds)`` waits between tries and
        ``clock()`` measures the wait (defaults :func:`time.sleep` and
        :func:`time.monotonic`; tests pass fake ones, together). Whatever
        they do, the wait ends once ``wait_s`` has passed by ``clock`` or
        the sleeps add up to ``wait_s``.

        Saving: inside the block, :meth:`save_flow` saves the flow (and so
        ends the lease); with ``save=True``, the flow is also saved when the
        block ends without an exception, unless the block saved it already.
        A flow is never saved because of an exception.

        On leaving the block, however it is left, the lease is released if
        the flow was not saved. If the block raised, its exception is what
        propagates: a failure to release then is logged, not raised, and the
        lease expires after ``lease_s``. Errors before the block runs
        propagate with nothing leased: :class:`~mc.errors.FlowNotFoundError`,
        :class:`~mc.errors.FlowLoadError`, :class:`~mc.errors.FlowLeasedError`,
        :class:`~mc.errors.StoreDatabaseError`. A save on leaving that is
        refused (:class:`~mc.errors.StaleFlowError`: the lease expired and
        another runner claimed the flow) propagates, having saved nothing.
        """
        if wait_s < 0 or poll_s <= 0:
            raise StoreError(
                f"leased: wait_s must not be negative and poll_s must be positive; got "
                f"wait_s={wait_s!r}, poll_s={poll_s!r}"
            )
        flow = self._claim_waiting(
            key, holder, lease_s, wait_s, poll_s, sleep or time.sleep, clock or time.monotonic
        )
        claimed_version = self._versions[flow]
        try:
            yield flow
            if save and self._versions.get(flow) == claimed_version:
                self.save_flow(flow)
        except BaseException:
            if self._versions.get(flow) == claimed_version:
                try:
                    self.release([key], holder)
                except StoreError as error:
                    logger.warning(
                        "flow %s: could not release %s's lease (it expires in %gs): %s",
                        key,
                        holder,
                        lease_s,
                        error,
                    )
            raise
        if self._versions.get(flow) == claimed_version:
            self.release([key], holder)

    def _claim_waiting(
        self,
        key: str,
        holder: str,
        lease_s: float,
        wait_s: float,
        poll_s: float,
        sleep: Callable[[float], Any],
        clock: Callable[[], float],
    ) -> Flow:
        """Claim flow ``key`` for ``holder``, trying again for up to ``wait_s`` (see leased)."""
        started = clock()
        slept = 0.0
        while (flow := self.claim_flow(key, lease_s, holder)) is None:
            left = wait_s - max(clock() - started, slept)
            if left <= 0:
                record = self.get_record(key)
                raise FlowLeasedError(key, record.lease_owner, record.lease_expires_at, wait_s)
            pause = min(poll_s, left)
            sleep(pause)
            slept += pause
        return flow

    # -- internals ----------------------------------------------------------

    def _database_errors(self, operation: str) -> contextlib.AbstractContextManager[None]:
        """Raise the database's errors in the block as StoreDatabaseError naming ``operation``."""
        return store_errors(
            self._engine.url, f"flow store at {self.url}: {operation} failed", operation
        )

    @staticmethod
    def _flow_values(flow: Flow) -> dict[str, Any]:
        return {
            "key": flow.key,
            "label": flow.label,
            "status": flow.status,
            "parent_key": flow.parent_key,
            "depth": flow.depth,
            "num_tasks": len(flow.tasks),
            "num_ticks": flow.num_ticks,
            "flow_json": flow.to_json(),
        }


def _lease_is_free(now: float, runner_id: str) -> sa.ColumnElement[bool]:
    """Rows ``runner_id`` may lease at ``now``: unleased, expired, or its own."""
    return sa.or_(
        flows_table.c.lease_expires_at.is_(None),
        flows_table.c.lease_expires_at <= now,
        flows_table.c.lease_owner == runner_id,
    )


def _lease_values(now: float, lease_s: float, runner_id: str) -> dict[str, Any]:
    """What leasing a row writes; a lease is a write, so it makes older copies stale."""
    return {
        "lease_owner": runner_id,
        "lease_expires_at": now + lease_s,
        "version": flows_table.c.version + 1,
    }


def _record_columns() -> list[sa.Column[Any]]:
    return [flows_table.c[name] for name in _RECORD_COLUMNS]


def _load_flow_json(key: str, text: str) -> Flow:
    """Load a stored flow, raising FlowLoadError (naming the key) if it does not load."""
    try:
        flow_dict = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise FlowLoadError(f"stored flow {key!r}: its JSON does not parse: {error}") from None
    try:
        flow = Flow.from_flow_dict(flow_dict, copy=False)
    except FlowLoadError as error:
        raise FlowLoadError(f"stored flow {key!r}: {error}") from None
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        raise FlowLoadError(
            f"stored flow {key!r}: cannot be loaded: {type(error).__name__}: {error}"
        ) from None
    if flow.key != key:
        raise FlowLoadError(f"stored flow {key!r}: its JSON names key {flow.key!r}")
    flow.json_size_estimate = len(text)  # measured for free (see mc.flows.size_budget)
    return flow
