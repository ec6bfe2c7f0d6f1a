"""Every database read and write of video calls and their passes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.media.models import VideoCall, VideoPass
from server.meetings.models import MeetingSeries


async def get_call(session: AsyncSession, room: int) -> VideoCall | None:
    return await session.get(VideoCall, room)


async def open_call(
    session: AsyncSession, *, room: int, series_id: int, occurrence: datetime, now: datetime
) -> VideoCall:
    """The call of this room, made now unless another request or process made it first."""
    found = await session.get(VideoCall, room)
    if found is not None:
        return found
    call = VideoCall(room=room, series_id=series_id, occurrence=occurrence, opened_at=now)
    session.add(call)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        found = await session.get(VideoCall, room)
        assert found is not None  # noqa: S101 - the row that won the race
        return found
    return call


async def end_call(
    session: AsyncSession, *, room: int, by: int | None, reason: str, now: datetime
) -> bool:
    """Mark the call ended; False when it had ended already (or never opened)."""
    result = await session.execute(
        update(VideoCall)
        .where(col(VideoCall.room) == room, col(VideoCall.ended_at).is_(None))
        .values(ended_at=now, ended_by=by, end_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


async def open_calls(session: AsyncSession) -> list[tuple[VideoCall, MeetingSeries]]:
    result = await session.execute(
        select(VideoCall, MeetingSeries)
        .join(MeetingSeries, col(MeetingSeries.id) == col(VideoCall.series_id))
        .where(col(VideoCall.ended_at).is_(None))
        .order_by(col(VideoCall.room))
    )
    return [(call, series) for call, series in result.all()]


async def open_calls_in_room(session: AsyncSession, room_id: int) -> list[VideoCall]:
    """The open calls of the meetings held in this chat room."""
    result = await session.execute(
        select(VideoCall)
        .join(MeetingSeries, col(MeetingSeries.id) == col(VideoCall.series_id))
        .where(col(MeetingSeries.room_id) == room_id, col(VideoCall.ended_at).is_(None))
    )
    return list(result.scalars().all())


async def add_pass(
    session: AsyncSession, *, room: int, user_id: int, token: str, now: datetime
) -> VideoPass:
    video_pass = VideoPass(room=room, user_id=user_id, token=token, issued_at=now)
    session.add(video_pass)
    await session.commit()
    await session.refresh(video_pass)
    return video_pass


async def was_removed(session: AsyncSession, *, room: int, user_id: int) -> bool:
    """Whether a moderator removed this person from this call."""
    result = await session.execute(
        select(VideoPass.id)
        .where(
            col(VideoPass.room) == room,
            col(VideoPass.user_id) == user_id,
            col(VideoPass.revoked_reason) == "removed",
        )
        .limit(1)
    )
    return result.first() is not None


async def valid_passes(
    session: AsyncSession, room: int, user_id: int | None = None
) -> list[VideoPass]:
    """The passes of a call not revoked yet (one person's, or everyone's), oldest first."""
    query = select(VideoPass).where(
        col(VideoPass.room) == room, col(VideoPass.revoked_at).is_(None)
    )
    if user_id is not None:
        query = query.where(col(VideoPass.user_id) == user_id)
    result = await session.execute(query.order_by(col(VideoPass.id)))
    return list(result.scalars().all())


async def get_pass(session: AsyncSession, pass_id: int) -> VideoPass | None:
    return await session.get(VideoPass, pass_id)


async def revoke_passes(
    session: AsyncSession, pass_ids: list[int], *, reason: str, now: datetime
) -> None:
    if not pass_ids:
        return
    await session.execute(
        update(VideoPass)
        .where(col(VideoPass.id).in_(pass_ids), col(VideoPass.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


async def raise_hand(
    session: AsyncSession, pass_ids: list[int], *, raised_at: datetime | None
) -> None:
    await session.execute(
        update(VideoPass).where(col(VideoPass.id).in_(pass_ids)).values(hand_raised_at=raised_at)
    )
