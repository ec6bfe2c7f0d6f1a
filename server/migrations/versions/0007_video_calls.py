"""video calls of meeting occurrences and the passes into them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_call",
        sa.Column("room", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("opened_at", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.Column("ended_by", sa.Integer(), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(["ended_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["series_id"], ["meetingseries.id"]),
        sa.PrimaryKeyConstraint("room"),
    )
    op.create_index(op.f("ix_video_call_series_id"), "video_call", ["series_id"], unique=False)
    op.create_table(
        "video_pass",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_at", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("hand_raised_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(["room"], ["video_call.room"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index(op.f("ix_video_pass_room"), "video_pass", ["room"], unique=False)
    op.create_index(op.f("ix_video_pass_user_id"), "video_pass", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_video_pass_user_id"), table_name="video_pass")
    op.drop_index(op.f("ix_video_pass_room"), table_name="video_pass")
    op.drop_table("video_pass")
    op.drop_index(op.f("ix_video_call_series_id"), table_name="video_call")
    op.drop_table("video_call")
