"""Every database read and write of the access audit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.kernel.db import in_time_range, newest_first_page
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
    statement = in_time_range(statement, AccessRecord.at, query)
    return await newest_first_page(session, statement, AccessRecord.id, query)
