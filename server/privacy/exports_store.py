"""Every database read and write of a person's exports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.privacy.exports_models import ExportStatus, PersonalExport


async def pending_export_of(session: AsyncSession, user_id: int) -> PersonalExport | None:
    found = await session.execute(
        select(PersonalExport).where(
            col(PersonalExport.user_id) == user_id,
            col(PersonalExport.status) == ExportStatus.PENDING,
        )
    )
    return found.scalars().first()


async def exports_about(session: AsyncSession, user_id: int) -> list[PersonalExport]:
    """Newest first."""
    found = await session.execute(
        select(PersonalExport)
        .where(col(PersonalExport.user_id) == user_id)
        .order_by(col(PersonalExport.id).desc())
    )
    return list(found.scalars())


async def finish(
    session: AsyncSession, export_id: int, content: str, *, now: datetime, expires_at: datetime
) -> bool:
    """Store a made export, if it is still pending (an erasure meanwhile took it back)."""
    result = await session.execute(
        update(PersonalExport)
        .where(
            col(PersonalExport.id) == export_id,
            col(PersonalExport.status) == ExportStatus.PENDING,
        )
        .values(status=ExportStatus.READY, content=content, ready_at=now, expires_at=expires_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def fail(session: AsyncSession, export_id: int) -> bool:
    result = await session.execute(
        update(PersonalExport)
        .where(
            col(PersonalExport.id) == export_id,
            col(PersonalExport.status) == ExportStatus.PENDING,
        )
        .values(status=ExportStatus.FAILED)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def expire_due(session: AsyncSession, now: datetime) -> int:
    """Delete the content of every export past its expiry; answers how many."""
    result = await session.execute(
        update(PersonalExport)
        .where(
            col(PersonalExport.status) == ExportStatus.READY,
            col(PersonalExport.expires_at) <= now,
        )
        .values(status=ExportStatus.EXPIRED, content=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def fail_stale(session: AsyncSession, started_before: datetime) -> int:
    """Exports still pending long after they were asked for: their process stopped while
    making them. The person may ask again."""
    result = await session.execute(
        update(PersonalExport)
        .where(
            col(PersonalExport.status) == ExportStatus.PENDING,
            col(PersonalExport.created_at) <= started_before,
        )
        .values(status=ExportStatus.FAILED)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def forget_exports_of(session: AsyncSession, user_id: int) -> None:
    """An erased person's exports, made or being made, are deleted with the rest."""
    await session.execute(
        update(PersonalExport)
        .where(
            col(PersonalExport.user_id) == user_id,
            col(PersonalExport.status).in_([ExportStatus.PENDING, ExportStatus.READY]),
        )
        .values(status=ExportStatus.EXPIRED, content=None)
    )
