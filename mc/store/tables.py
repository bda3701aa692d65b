"""The tables of a flow store, as SQLAlchemy Core objects.

These describe the newest schema. Databases get there through the Alembic
migrations in ``mc/store/migrations/versions/``: a change here needs a new
migration file there, and a test (tests/store/test_migrations.py) checks that
the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata", "VERSION_TABLE", "cache_table", "flows_table", "tasks_table"]

metadata = sa.MetaData()

#: The Alembic version table; its own name, so that an application keeping
#: its own Alembic history in the same database is not disturbed.
VERSION_TABLE = "mc_alembic_version"

flows_table = sa.Table(
    "mc_flows",
    metadata,
    # Identity and the columns that queries filter on; all copied from the
    # flow on every save, so they always agree with flow_json.
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("label", sa.Text, nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("parent_key", sa.String(255), nullable=True, index=True),
    sa.Column("depth", sa.Integer, nullable=False, default=0),
    sa.Column("num_tasks", sa.Integer, nullable=False, default=0),
    sa.Column("num_ticks", sa.Integer, nullable=False, default=0),
    # Epoch seconds, as the engine's clock gives them.
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    # Optimistic concurrency: every write adds one, and a save must name the
    # version it loaded.
    sa.Column("version", sa.Integer, nullable=False, default=1),
    # A runner's lease; NULL when no runner holds the flow.
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_expires_at", sa.Float, nullable=True, index=True),
    # A flow waiting on outside work is not claimed before this time.
    sa.Column("tick_after", sa.Float, nullable=True),
    # Why the store or a runner marked the flow FAILED without the engine
    # (its JSON did not load, or ticking or saving it raised).
    sa.Column("error", sa.Text, nullable=True),
    # The flow's own fields (Flow.to_flow_dict() without its tasks, which
    # are rows of mc_tasks) as JSON text, and the checksum the store wrote
    # with it (NULL: not written by this layout; the flow is validated when
    # loaded).
    sa.Column("flow_json", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(32), nullable=True),
)

tasks_table = sa.Table(
    "mc_tasks",
    metadata,
    # One row per task of a stored flow, so a save writes only the tasks
    # that changed (see docs/storing.rst). Deleted with their flow.
    sa.Column("flow_key", sa.String(255), primary_key=True),
    # The task's place in its flow (Flow.task_position): tasks load in this order.
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("task_key", sa.Text, nullable=False),
    # The task dict as JSON text, and its checksum (as for mc_flows).
    sa.Column("task_json", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(32), nullable=True),
)

cache_table = sa.Table(
    "mc_cache",
    metadata,
    # A task's cache key (see mc.flows.cache.cache_key): a SHA-256 in hex.
    sa.Column("key", sa.String(64), primary_key=True),
    # Who made the entry; NULL while the key is only claimed.
    sa.Column("task_type", sa.String(255), nullable=True),
    sa.Column("flow_key", sa.String(255), nullable=True),
    sa.Column("task_key", sa.String(255), nullable=True),
    # Epoch seconds; created_at is NULL while the key is only claimed.
    sa.Column("created_at", sa.Float, nullable=True, index=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    # The task's data and provenance, as JSON text.
    sa.Column("data_json", sa.Text, nullable=True),
    sa.Column("provenance_json", sa.Text, nullable=True),
    # A task computing the key: the second one with the same key waits.
    sa.Column("claim_owner", sa.Text, nullable=True),
    sa.Column("claim_expires_at", sa.Float, nullable=True),
)
