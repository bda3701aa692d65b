"""``mc.store``: flows kept in a SQL database (SQLite or PostgreSQL).

``FlowStore(url)`` stores flows as JSON rows through SQLAlchemy Core, keeps
its schema current with Alembic migrations on first use, and leases flows to
runners (see :mod:`mc.runner`); ``store.leased(key, holder)`` is a ``with``
block that holds one flow's lease; ``store.task_cache()`` is the task cache
in the same database (:class:`SqlTaskCache`, see :mod:`mc.store.cache`).
The database's own errors come out as
:class:`StoreDatabaseError` (:class:`StoreUnavailableError` when the store
cannot connect). See the "Storing flows" chapter of the docs.
"""

from mc.errors import (
    AmbiguousFlowKeyError,
    CacheKeyNotFoundError,
    FlowExistsError,
    FlowLeasedError,
    FlowNotFoundError,
    StaleFlowError,
    StoreDatabaseError,
    StoreError,
    StoreUnavailableError,
)
from mc.store.cache import SqlTaskCache, default_cache_db_url
from mc.store.database import DEFAULT_DB_URL, default_db_url
from mc.store.flow_store import FlowRecord, FlowStore

__all__ = [
    "AmbiguousFlowKeyError",
    "CacheKeyNotFoundError",
    "DEFAULT_DB_URL",
    "FlowExistsError",
    "FlowLeasedError",
    "FlowNotFoundError",
    "FlowRecord",
    "FlowStore",
    "SqlTaskCache",
    "StaleFlowError",
    "StoreDatabaseError",
    "StoreError",
    "StoreUnavailableError",
    "default_cache_db_url",
    "default_db_url",
]
