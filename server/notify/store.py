"""Every database read and write of notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts.models import User
from server.kernel.actors import Role
from server.kernel.db import insert_once
from server.kernel.hotpath.statements import HotStatement
from server.notify.models import (
    DEFAULT_REMINDER_MINUTES,
    NotificationSent,
    NotificationSettings,
    PushSubscription,
    RoomFollow,
)


async def settings_of(
    session: AsyncSession, user_ids: Sequence[int]
) -> dict[int, NotificationSettings]:
    """Each person's settings; the defaults for those who never changed them."""
    result = await session.execute(
        select(NotificationSettings).where(col(NotificationSettings.user_id).in_(list(user_ids)))
    )
    found = {row.user_id: row for row in result.scalars().all()}
    return {
        user_id: found.get(user_id) or NotificationSettings(user_id=user_id) for user_id in user_ids
    }


async def longest_lead(session: AsyncSession) -> int:
    """The longest reminder lead time anyone chose, in minutes (the default if longer)."""
    result = await session.execute(select(func.max(NotificationSettings.reminder_minutes)))
    return max(DEFAULT_REMINDER_MINUTES, int(result.scalar() or 0))


async def digest_takers(session: AsyncSession) -> list[NotificationSettings]:
    """The settings of everyone who asked for the daily digest at a confirmed address."""
    result = await session.execute(
        select(NotificationSettings)
        .where(
            col(NotificationSettings.email_digest).is_(True),
            col(NotificationSettings.email_confirmed).is_(True),
            col(NotificationSettings.email).is_not(None),
        )
        .order_by(col(NotificationSettings.user_id))
    )
    return list(result.scalars().all())


async def digested_through(session: AsyncSession, user_id: int, message_id: int) -> None:
    """Remember the newest message a digest looked at. Only this column is written, so a
    settings change saved at the same moment keeps its own values."""
    await session.execute(
        update(NotificationSettings)
        .where(col(NotificationSettings.user_id) == user_id)
        .values(digest_through_id=message_id)
    )
    await session.commit()


async def save_settings(session: AsyncSession, settings: NotificationSettings) -> None:
    await session.merge(settings)
    await session.commit()


async def subscriptions_of(
    session: AsyncSession, user_ids: Sequence[int]
) -> list[PushSubscription]:
    result = await session.execute(
        select(PushSubscription)
        .where(col(PushSubscription.user_id).in_(list(user_ids)))
        .order_by(col(PushSubscription.id))
    )
    return list(result.scalars().all())


_DEVICE_COLUMNS = ("id", "user_id", "endpoint", "p256dh", "auth", "created_at", "last_sent_at")

# Every member of staff, with each browser of theirs (none: one row of NULLs). The roles are
# compared one by one: an IN list is rendered anew for each execution, and this statement
# is compiled once.
_STAFF_DEVICES = HotStatement(
    select(
        col(User.id).label("staff_id"),
        *(col(getattr(PushSubscription, name)) for name in _DEVICE_COLUMNS),
    )
    .select_from(User)
    .outerjoin(PushSubscription, col(PushSubscription.user_id) == col(User.id))
    .where(or_(col(User.role) == Role.MODERATOR, col(User.role) == Role.ADMIN))
    .order_by(col(PushSubscription.id))
)


async def staff_and_devices(session: AsyncSession) -> tuple[set[int], list[PushSubscription]]:
    """Everyone on staff (moderators and admins), and their browsers, oldest first. One
    statement on the driver: every alert's push asks it, and a crisis alert's CPU was
    mostly its statements through the ORM (docs/performance.md)."""
    rows = await _STAFF_DEVICES.rows(session, {})
    staff = {int(row[0]) for row in rows}
    devices = [
        PushSubscription(**dict(zip(_DEVICE_COLUMNS, row[1:], strict=True)))
        for row in rows
        if row[1] is not None
    ]
    return staff, devices


async def save_subscription(
    session: AsyncSession, *, user_id: int, endpoint: str, p256dh: str, auth: str, now: datetime
) -> None:
    """Keep the browser's subscription; one endpoint belongs to whoever subscribed it last
    (a shared computer signed in by someone else)."""
    await session.execute(
        delete(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    )
    session.add(
        PushSubscription(
            user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
        )
    )
    await session.commit()


async def delete_subscription(session: AsyncSession, *, endpoint: str, user_id: int | None) -> bool:
    query = delete(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    if user_id is not None:
        query = query.where(col(PushSubscription.user_id) == user_id)
    result = await session.execute(query)
    await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def mark_sent(session: AsyncSession, subscription_id: int, now: datetime) -> None:
    await session.execute(
        update(PushSubscription)
        .where(col(PushSubscription.id) == subscription_id)
        .values(last_sent_at=now)
    )
    await session.commit()


async def followers(session: AsyncSession, room_id: int) -> list[int]:
    result = await session.execute(select(RoomFollow.user_id).where(RoomFollow.room_id == room_id))
    return sorted(result.scalars().all())


async def rooms_with_followers(session: AsyncSession) -> list[int]:
    result = await session.execute(select(RoomFollow.room_id).distinct())
    return sorted(result.scalars().all())


async def followed_rooms(session: AsyncSession, user_id: int) -> list[int]:
    result = await session.execute(select(RoomFollow.room_id).where(RoomFollow.user_id == user_id))
    return sorted(result.scalars().all())


async def set_follow(session: AsyncSession, *, user_id: int, room_id: int, follow: bool) -> None:
    await session.execute(
        delete(RoomFollow).where(
            col(RoomFollow.user_id) == user_id, col(RoomFollow.room_id) == room_id
        )
    )
    if follow:
        session.add(RoomFollow(user_id=user_id, room_id=room_id))
    await session.commit()


async def claim(session: AsyncSession, key: str, now: datetime) -> bool:
    """Claim a notification before sending it; False when another process (or an earlier
    turn) sent it."""
    return await insert_once(session, NotificationSent(key=key, sent_at=now))
