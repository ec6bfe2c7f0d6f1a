"""retention by room class and legal holds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("placed_by", sa.Integer(), nullable=True),
        sa.Column("placed_at", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("lifted_by", sa.Integer(), nullable=True),
        sa.Column("lifted_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(room_id IS NULL) <> (user_id IS NULL)", name="ck_legal_hold_one_target"
        ),
        sa.ForeignKeyConstraint(["lifted_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["placed_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_legal_hold_room_id"), "legal_hold", ["room_id"], unique=False)
    op.create_index(op.f("ix_legal_hold_user_id"), "legal_hold", ["user_id"], unique=False)
    op.create_table(
        "job_claim",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lease_until", server.kernel.db.UTCDateTime(), nullable=True),
        sa.Column("last_finished_at", server.kernel.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    # A report outlives the message it is about once retention deletes that message.
    with op.batch_alter_table("report") as batch:
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Reports whose message retention deleted cannot point at it again: they go.
    op.execute(
        "UPDATE alert SET report_id = NULL WHERE report_id IN"
        " (SELECT id FROM report WHERE message_id IS NULL)"
    )
    op.execute("DELETE FROM report WHERE message_id IS NULL")
    with op.batch_alter_table("report") as batch:
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("job_claim")
    op.drop_index(op.f("ix_legal_hold_user_id"), table_name="legal_hold")
    op.drop_index(op.f("ix_legal_hold_room_id"), table_name="legal_hold")
    op.drop_table("legal_hold")
