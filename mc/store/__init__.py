"""``mc.store``: flows kept in a SQL database (SQLite or PostgreSQL).

``FlowStore(url)`` stores flows as JSON rows through SQLAlchemy Core, keeps
its schema current with Alembic migrations on first use, and leases flows to
runners (see :mod:`mc.runner`). See the "Storing flows" chapter of the docs.
"""

from mc.errors import (
    FlowExistsError,
    FlowNotFoundError,
    StaleFlowError,
    StoreError,
    StoreUnavailableError,
)
from mc.store.database import DEFAULT_DB_URL, default_db_url
from mc.store.flow_store import FlowRecord, FlowStore

__all__ = [
    "DEFAULT_DB_URL",
    "FlowExistsError",
    "FlowNotFoundError",
    "FlowRecord",
    "FlowStore",
    "StaleFlowError",
    "StoreError",
    "StoreUnavailableError",
    "default_db_url",
]
