"""``mc.store``: flows kept in a SQL database (SQLite or PostgreSQL).

``FlowStore(url)`` stores flows as JSON rows through SQLAlchemy Core, keeps
its schema current with Alembic migrations on first use, and leases flows to
runners (see :mod:`mc.runner`); ``store.leased(key, holder)`` is a ``with``
block that holds one flow's lease. The database's own errors come out as
:class:`StoreDatabaseError` (:class:`StoreUnavailableError` when the store
cannot connect). See the "Storing flows" chapter of the docs.
"""

from mc.errors import (
    AmbiguousFlowKeyError,
    FlowExistsError,
    FlowLeasedError,
    FlowNotFoundError,
    StaleFlowError,
    StoreDatabaseError,
    StoreError,
    StoreUnavailableError,
)
from mc.store.database import DEFAULT_DB_URL, default_db_url
from mc.store.flow_store import FlowRecord, FlowStore

__all__ = [
    "AmbiguousFlowKeyError",
    "DEFAULT_DB_URL",
    "FlowExistsError",
    "FlowLeasedError",
    "FlowNotFoundError",
    "FlowRecord",
    "FlowStore",
    "StaleFlowError",
    "StoreDatabaseError",
    "StoreError",
    "StoreUnavailableError",
    "default_db_url",
]
