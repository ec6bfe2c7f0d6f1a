"""Every database read and write of the access audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.privacy.access_audit_models import AccessLogQuery, AccessRecord


async def access_records(session: AsyncSession, query: AccessLogQuery) -> list[AccessRecord]:
    """Newest first, the query's page (one more than its limit, to tell whether more follow)."""
    statement = select(AccessRecord)
    if query.actor_id is not None:
        statement = statement.where(col(AccessRecord.actor_id) == query.actor_id)
    if query.kind is not None:
        statement = statement.where(col(AccessRecord.kind) == query.kind)
    if query.target_type is not None:
        statement = statement.where(col(AccessRecord.target_type) == query.target_type)
    if query.target_id is not None:
        statement = statement.where(col(AccessRecord.target_id) == query.target_id)
    if query.since is not None:
        statement = statement.where(col(AccessRecord.at) >= query.since)
    if query.until is not None:
        statement = statement.where(col(AccessRecord.at) < query.until)
    if query.before is not None:
        statement = statement.where(col(AccessRecord.id) < query.before)
    statement = statement.order_by(col(AccessRecord.id).desc()).limit(query.limit + 1)
    return list((await session.execute(statement)).scalars())
