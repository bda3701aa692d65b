"""Keep each task of a stored flow in its own row (mc_tasks), so saves write only what changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Every flow of ``mc_flows`` keeps its own fields in ``flow_json``; its tasks
move to rows of the new table ``mc_tasks``, in their order. A row whose JSON
does not parse, or has no dict of tasks, is left exactly as it was: loading
it fails as it did before, and a runner marks it FAILED with the reason.
The checksums stay NULL, so each migrated flow is fully validated the first
time it is loaded, and written with checksums when it is next saved.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The tables as this migration knows them (not mc.store.tables, which moves on).
_flows = sa.table("mc_flows", sa.column("key", sa.String), sa.column("flow_json", sa.Text))
_tasks = sa.table(
    "mc_tasks",
    sa.column("flow_key", sa.String),
    sa.column("position", sa.Integer),
    sa.column("task_key", sa.Text),
    sa.column("task_json", sa.Text),
)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def upgrade() -> None:
    """Create mc_tasks, add the checksum column, and split every flow's tasks into rows."""
    op.create_table(
        "mc_tasks",
        sa.Column("flow_key", sa.String(255), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("task_key", sa.Text, nullable=False),
        sa.Column("task_json", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(32), nullable=True),
    )
    with op.batch_alter_table("mc_flows") as batch:
        batch.add_column(sa.Column("checksum", sa.String(32), nullable=True))
    connection = op.get_bind()
    keys = connection.execute(sa.select(_flows.c.key).order_by(_flows.c.key)).scalars().all()
    for key in keys:
        text = connection.execute(
            sa.select(_flows.c.flow_json).where(_flows.c.key == key)
        ).scalar_one()
        try:
            flow_dict = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if not isinstance(flow_dict, dict) or not isinstance(flow_dict.get("tasks"), dict):
            continue
        tasks = flow_dict.pop("tasks")
        rows = [
            {"flow_key": key, "position": position, "task_key": task_key, "task_json": _dumps(task)}
            for position, (task_key, task) in enumerate(tasks.items())
        ]
        if rows:
            connection.execute(sa.insert(_tasks), rows)
        connection.execute(
            sa.update(_flows).where(_flows.c.key == key).values(flow_json=_dumps(flow_dict))
        )


def downgrade() -> None:
    """Put every flow's tasks back into its flow_json, and drop mc_tasks and the checksums."""
    connection = op.get_bind()
    keys = connection.execute(sa.select(_flows.c.key)).scalars().all()
    for key in keys:
        text = connection.execute(
            sa.select(_flows.c.flow_json).where(_flows.c.key == key)
        ).scalar_one()
        try:
            flow_dict = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if not isinstance(flow_dict, dict) or "tasks" in flow_dict:
            continue
        rows = connection.execute(
            sa.select(_tasks.c.task_key, _tasks.c.task_json)
            .where(_tasks.c.flow_key == key)
            .order_by(_tasks.c.position)
        ).all()
        flow_dict["tasks"] = {row.task_key: json.loads(row.task_json) for row in rows}
        connection.execute(
            sa.update(_flows).where(_flows.c.key == key).values(flow_json=_dumps(flow_dict))
        )
    op.drop_table("mc_tasks")
    with op.batch_alter_table("mc_flows") as batch:
        batch.drop_column("checksum")
