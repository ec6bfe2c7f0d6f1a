"""pinned messages per room

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.kernel.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pinned_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.Integer(), nullable=False),
        sa.Column("pinned_at", server.kernel.db.UTCDateTime(), nullable=False),
        # Retention deletes messages for good: their pins go with them.
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"]),
        sa.ForeignKeyConstraint(["pinned_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_pinned_message_room_id", "pinned_message", ["room_id"])


def downgrade() -> None:
    op.drop_index("ix_pinned_message_room_id", table_name="pinned_message")
    op.drop_table("pinned_message")
