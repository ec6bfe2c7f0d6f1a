"""history visibility per room and when each member joined

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rooms already there take their kind's default, as new ones do (rooms/visibility.py):
# a group room shows history since joining its cohort (and existing memberships have no
# joining time, so nobody loses what they could read), a meeting room since its current
# session; the rest all of it.
KIND_DEFAULTS = {"group": "since_joined", "meeting": "since_session"}


def upgrade() -> None:
    # batch mode: SQLite cannot add a NOT NULL column in place on every version.
    with op.batch_alter_table("room") as batch:
        batch.add_column(
            sa.Column(
                "history_visibility",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="all",
            )
        )
    room = sa.table("room", sa.column("kind", sa.String()), sa.column("history_visibility"))
    for kind, visibility in KIND_DEFAULTS.items():
        op.execute(room.update().where(room.c.kind == kind).values(history_visibility=visibility))
    with op.batch_alter_table("cohortmembership") as batch:
        batch.add_column(sa.Column("joined_at", server.kernel.db.UTCDateTime(), nullable=True))
    op.create_index(
        "ix_message_room_id_created_at",
        "message",
        ["room_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_message_room_id_created_at", table_name="message")
    with op.batch_alter_table("cohortmembership") as batch:
        batch.drop_column("joined_at")
    with op.batch_alter_table("room") as batch:
        batch.drop_column("history_visibility")
