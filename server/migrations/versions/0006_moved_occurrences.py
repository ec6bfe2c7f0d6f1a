"""occurrences of a meeting series moved to another time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import server.kernel.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moved_occurrence",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("moved_to", server.kernel.db.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["meetingseries.id"]),
        sa.PrimaryKeyConstraint("series_id", "occurrence"),
    )


def downgrade() -> None:
    op.drop_table("moved_occurrence")
