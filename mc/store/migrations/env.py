"""Alembic environment of the flow store's migrations.

The store runs these migrations itself, on first use, through
:func:`mc.store.database.upgrade_schema`, which passes its open connection
(inside a transaction that holds the database's write lock) in
``config.attributes['connection']``. No ``alembic.ini`` is needed.
"""

from __future__ import annotations

from alembic import context

from mc.store.tables import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "mc.store migrations run through mc.store (FlowStore(url) upgrades the "
        "database on first use); pass a connection in config.attributes['connection']"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
