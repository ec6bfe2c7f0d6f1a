"""Every database read and write of retention and legal holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.privacy.retention_classes import RecordClass
from server.privacy.retention_models import LegalHold

# ----- legal holds -----

IN_FORCE = col(LegalHold.lifted_at).is_(None)


async def holds_covering(
    session: AsyncSession, *, user_id: int | None = None, room_id: int | None = None
) -> list[LegalHold]:
    targets: list[ColumnElement[bool]] = []
    if user_id is not None:
        targets.append(col(LegalHold.user_id) == user_id)
    if room_id is not None:
        targets.append(col(LegalHold.room_id) == room_id)
    if not targets:
        return []
    found = await session.execute(
        select(LegalHold).where(IN_FORCE, or_(*targets)).order_by(col(LegalHold.id))
    )
    return list(found.scalars())


async def list_holds(session: AsyncSession, status: str) -> list[LegalHold]:
    """Newest first; `active`, `lifted` or `all`."""
    query = select(LegalHold).order_by(col(LegalHold.id).desc())
    if status == "active":
        query = query.where(IN_FORCE)
    elif status == "lifted":
        query = query.where(col(LegalHold.lifted_at).is_not(None))
    return list((await session.execute(query)).scalars())


async def count_holds_in_force(session: AsyncSession) -> int:
    found = await session.execute(select(func.count()).select_from(LegalHold).where(IN_FORCE))
    return int(found.scalar_one())


async def lift_hold(session: AsyncSession, hold_id: int, *, by: int | None, now: datetime) -> bool:
    """Lift a hold in force; False when it was lifted already."""
    result = await session.execute(
        update(LegalHold)
        .where(col(LegalHold.id) == hold_id, IN_FORCE)
        .values(lifted_by=by, lifted_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ----- records due -----


async def count_where(
    session: AsyncSession, record: RecordClass, condition: ColumnElement[bool]
) -> int:
    found = await session.execute(select(func.count()).select_from(record.model).where(condition))
    return int(found.scalar_one())


async def due_ids(
    session: AsyncSession, record: RecordClass, cutoff: datetime, limit: int
) -> list[int]:
    """The oldest-numbered rows due, up to `limit`: one batch."""
    found = await session.execute(
        select(record.id_column).where(record.due(cutoff)).order_by(record.id_column).limit(limit)
    )
    return [row_id for row_id in found.scalars() if row_id is not None]


async def delete_rows(session: AsyncSession, record: RecordClass, ids: list[int]) -> None:
    """The rows and what hangs on them (their class's unlink), in the caller's transaction."""
    await record.unlink(session, ids)
    await session.execute(delete(record.model).where(record.id_column.in_(ids)))
