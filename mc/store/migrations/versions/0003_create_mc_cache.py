"""Create the mc_cache table: results of cached tasks, and claims on their keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create mc_cache and its index."""
    op.create_table(
        "mc_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("task_type", sa.String(255), nullable=True),
        sa.Column("flow_key", sa.String(255), nullable=True),
        sa.Column("task_key", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Float, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("data_json", sa.Text, nullable=True),
        sa.Column("provenance_json", sa.Text, nullable=True),
        sa.Column("claim_owner", sa.Text, nullable=True),
        sa.Column("claim_expires_at", sa.Float, nullable=True),
    )
    op.create_index("ix_mc_cache_created_at", "mc_cache", ["created_at"])


def downgrade() -> None:
    """Drop mc_cache."""
    op.drop_table("mc_cache")
