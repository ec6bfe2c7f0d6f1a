"""rooms archived and edited; when a person was last seen

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.kernel.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Both nullable: rooms there now are open, and nobody has been seen since the upgrade
    # (the person's page falls back on their last sign-in).
    with op.batch_alter_table("room") as batch:
        batch.add_column(sa.Column("archived_at", server.kernel.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("last_seen_at", server.kernel.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("room") as batch:
        batch.drop_column("archived_at")
