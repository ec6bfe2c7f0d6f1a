"""Every database read and write of consent acceptances."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.kernel.db import newest_first_page
from server.privacy.consent_models import AcceptancesQuery, ConsentAcceptance, ConsentSource


def add_acceptance(
    session: AsyncSession, user_id: int, version: str, source: ConsentSource, now: datetime
) -> ConsentAcceptance:
    """The acceptance, in the caller's transaction (registration's: the account and its
    acceptance are stored together or not at all)."""
    acceptance = ConsentAcceptance(user_id=user_id, version=version, source=source, accepted_at=now)
    session.add(acceptance)
    return acceptance


async def acceptance_of(
    session: AsyncSession, user_id: int, version: str
) -> ConsentAcceptance | None:
    found = await session.execute(
        select(ConsentAcceptance).where(
            col(ConsentAcceptance.user_id) == user_id, col(ConsentAcceptance.version) == version
        )
    )
    return found.scalars().first()


async def accepters_of(session: AsyncSession, version: str) -> list[int]:
    """Everyone who has accepted this version."""
    found = await session.execute(
        select(ConsentAcceptance.user_id).where(col(ConsentAcceptance.version) == version)
    )
    return list(found.scalars())


async def acceptances(session: AsyncSession, query: AcceptancesQuery) -> list[ConsentAcceptance]:
    """Newest first, the query's page (one more than its limit, to tell whether more follow)."""
    statement = select(ConsentAcceptance)
    if query.user_id is not None:
        statement = statement.where(col(ConsentAcceptance.user_id) == query.user_id)
    return await newest_first_page(session, statement, ConsentAcceptance.id, query)
