"""Create the mc_flows table.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create mc_flows and its indexes."""
    op.create_table(
        "mc_flows",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent_key", sa.String(255), nullable=True),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("num_tasks", sa.Integer, nullable=False),
        sa.Column("num_ticks", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("tick_after", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("flow_json", sa.Text, nullable=False),
    )
    for column in ("label", "status", "parent_key", "created_at", "updated_at", "lease_expires_at"):
        op.create_index(f"ix_mc_flows_{column}", "mc_flows", [column])


def downgrade() -> None:
    """Drop mc_flows."""
    op.drop_table("mc_flows")
