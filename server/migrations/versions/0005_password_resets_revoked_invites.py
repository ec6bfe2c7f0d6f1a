"""password-reset codes staff hand over; revoked invites; cancellation reasons;
archived cohorts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_password_reset_user_id", "password_reset", ["user_id"])
    with op.batch_alter_table("invite") as batch:
        batch.add_column(sa.Column("revoked_at", server.kernel.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("cohort") as batch:
        batch.add_column(sa.Column("archived_at", server.kernel.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("cancellation") as batch:
        batch.add_column(
            sa.Column(
                "reason",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("cohort") as batch:
        batch.drop_column("archived_at")
    with op.batch_alter_table("cancellation") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("invite") as batch:
        batch.drop_column("revoked_at")
    op.drop_index("ix_password_reset_user_id", table_name="password_reset")
    op.drop_table("password_reset")
