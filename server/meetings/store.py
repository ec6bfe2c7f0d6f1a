"""Every database read and write of meetings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import and_, col, or_, select

from server.accounts.models import CohortMembership, User
from server.kernel.actors import Role
from server.kernel.db import insert_once
from server.meetings.models import (
    CalendarToken,
    Cancellation,
    CheckIn,
    MeetingSeries,
    MovedOccurrence,
    PresenceSpan,
    Transition,
)
from server.meetings.occurrences import Exceptions
from server.rooms.models import Audience, Room


async def get_series(session: AsyncSession, series_id: int) -> MeetingSeries | None:
    return await session.get(MeetingSeries, series_id)


async def list_series(session: AsyncSession) -> list[tuple[MeetingSeries, Room]]:
    result = await session.execute(
        select(MeetingSeries, Room)
        .join(Room, col(Room.id) == col(MeetingSeries.room_id))
        .order_by(col(MeetingSeries.id))
    )
    return [(series, room) for series, room in result.all()]


async def series_of_room(session: AsyncSession, room_id: int) -> list[MeetingSeries]:
    result = await session.execute(select(MeetingSeries).where(MeetingSeries.room_id == room_id))
    return list(result.scalars())


async def exceptions(session: AsyncSession, series_ids: Sequence[int]) -> dict[int, Exceptions]:
    """Each series' cancelled and moved occurrences (no entry: none)."""
    cancelled: dict[int, set[datetime]] = defaultdict(set)
    moved: dict[int, dict[datetime, datetime]] = defaultdict(dict)
    if series_ids:
        for cancellation in await session.scalars(
            select(Cancellation).where(col(Cancellation.series_id).in_(series_ids))
        ):
            cancelled[cancellation.series_id].add(cancellation.occurrence)
        for move in await session.scalars(
            select(MovedOccurrence).where(col(MovedOccurrence.series_id).in_(series_ids))
        ):
            moved[move.series_id][move.occurrence] = move.moved_to
    return defaultdict(
        Exceptions,
        {
            series_id: Exceptions(frozenset(cancelled[series_id]), moved[series_id])
            for series_id in {*cancelled, *moved}
        },
    )


async def move_occurrence(
    session: AsyncSession, series_id: int, rule_start: datetime, to: datetime, reason: str
) -> None:
    """Hold the rule's occurrence at `rule_start` at `to` instead (back at its own time: the
    move is forgotten)."""
    move = await session.get(MovedOccurrence, (series_id, rule_start))
    if to == rule_start:
        if move is not None:
            await session.delete(move)
    elif move is None:
        session.add(
            MovedOccurrence(series_id=series_id, occurrence=rule_start, moved_to=to, reason=reason)
        )
    else:
        move.moved_to, move.reason = to, reason
        session.add(move)
    await session.flush()


async def add_cancellation(
    session: AsyncSession, series_id: int, occurrence: datetime, reason: str
) -> bool:
    """Cancel an occurrence; False when it was cancelled already."""
    if await session.get(Cancellation, (series_id, occurrence)) is not None:
        return False
    session.add(Cancellation(series_id=series_id, occurrence=occurrence, reason=reason))
    await session.flush()
    return True


async def claimed_transitions(
    session: AsyncSession, series_id: int, occurrence: datetime
) -> set[str]:
    result = await session.execute(
        select(Transition.kind).where(
            Transition.series_id == series_id, Transition.occurrence == occurrence
        )
    )
    return set(result.scalars())


async def claim_transition(
    session: AsyncSession, series_id: int, occurrence: datetime, kind: str, now: datetime
) -> bool:
    """Record that this transition's notice is being sent; False when another process did."""
    claim = Transition(series_id=series_id, occurrence=occurrence, kind=kind, claimed_at=now)
    return await insert_once(session, claim)


async def open_span(
    session: AsyncSession, *, room_id: int, user_id: int, conn_id: str, now: datetime
) -> None:
    session.add(PresenceSpan(room_id=room_id, user_id=user_id, conn_id=conn_id, joined_at=now))
    await session.commit()


async def close_spans(session: AsyncSession, *, room_id: int, conn_id: str, now: datetime) -> None:
    await session.execute(
        update(PresenceSpan)
        .where(
            col(PresenceSpan.room_id) == room_id,
            col(PresenceSpan.conn_id) == conn_id,
            col(PresenceSpan.left_at).is_(None),
        )
        .values(left_at=now)
    )
    await session.commit()


async def open_conn_ids(session: AsyncSession, *, room_id: int, prefix: str) -> set[str]:
    """The connections (named from `prefix` on) that are in the room now: their span is open."""
    result = await session.execute(
        select(PresenceSpan.conn_id).where(
            col(PresenceSpan.room_id) == room_id,
            col(PresenceSpan.conn_id).startswith(prefix),
            col(PresenceSpan.left_at).is_(None),
        )
    )
    return set(result.scalars().all())


async def spans_between(
    session: AsyncSession, room_id: int, since: datetime, until: datetime
) -> list[PresenceSpan]:
    """Spans in the room that overlap [since, until)."""
    result = await session.execute(
        select(PresenceSpan)
        .where(
            PresenceSpan.room_id == room_id,
            col(PresenceSpan.joined_at) < until,
            or_(col(PresenceSpan.left_at).is_(None), col(PresenceSpan.left_at) > since),
        )
        .order_by(col(PresenceSpan.joined_at))
    )
    return list(result.scalars())


async def save_check_in(session: AsyncSession, check_in: CheckIn) -> CheckIn:
    """One check-in per person and occurrence: a second replaces the first."""
    existing = await session.get(
        CheckIn, (check_in.series_id, check_in.occurrence, check_in.user_id)
    )
    if existing is not None:
        existing.mood, existing.note = check_in.mood, check_in.note
        existing.created_at = check_in.created_at
        check_in = existing
    session.add(check_in)
    await session.commit()
    return check_in


async def check_ins(
    session: AsyncSession, series_id: int, occurrence: datetime
) -> dict[int, CheckIn]:
    result = await session.execute(
        select(CheckIn).where(CheckIn.series_id == series_id, CheckIn.occurrence == occurrence)
    )
    return {check_in.user_id: check_in for check_in in result.scalars()}


async def count_check_ins_of(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        select(func.count()).select_from(CheckIn).where(col(CheckIn.user_id) == user_id)
    )
    return int(result.scalar_one())


async def expected_user_ids(session: AsyncSession, room: Room, at: datetime) -> list[int]:
    """Everyone a room was for at `at` (staff not included), as far as the accounts tell:
    registered by then, not yet deactivated, and a patient of its cohort then (graduated
    later, or not at all), or an alumnus then. Who expects whom at a session is read this way,
    so a patient who joined after it, or graduated before it, is not counted absent from it.
    A move to another cohort keeps no history: the person counts in the cohort they are in."""
    role = col(User.role)
    registered = and_(
        col(User.created_at) <= at,
        or_(col(User.deactivated_at).is_(None), col(User.deactivated_at) > at),
    )
    patient_then = or_(role == Role.PATIENT, and_(role == Role.ALUMNI, col(User.graduated_at) > at))
    alumnus_then = and_(
        role == Role.ALUMNI,
        or_(col(User.graduated_at).is_(None), col(User.graduated_at) <= at),
    )
    query = select(User.id).where(registered)
    if room.audience == Audience.COHORT:
        query = query.join(CohortMembership, col(CohortMembership.user_id) == col(User.id)).where(
            CohortMembership.cohort_id == room.cohort_id, patient_then
        )
    elif room.audience == Audience.ALUMNI:
        query = query.where(alumnus_then)
    else:
        query = query.where(col(User.role).in_([Role.PATIENT, Role.ALUMNI]))
    result = await session.execute(query.order_by(col(User.id)))
    return [int(user_id) for user_id in result.scalars()]


async def staff_user_ids(session: AsyncSession) -> list[int]:
    result = await session.execute(
        select(User.id).where(col(User.role).in_([Role.MODERATOR, Role.ADMIN]))
    )
    return [user_id for user_id in result.scalars() if user_id is not None]


async def calendar_token_of(session: AsyncSession, user_id: int) -> CalendarToken | None:
    return await session.get(CalendarToken, user_id)


async def calendar_token_owner(session: AsyncSession, token: str) -> int | None:
    result = await session.execute(
        select(CalendarToken.user_id).where(CalendarToken.token == token)
    )
    return result.scalars().first()


async def revoke_calendar_token(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(CalendarToken).where(col(CalendarToken.user_id) == user_id))
    await session.commit()
