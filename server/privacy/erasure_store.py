"""Every database read and write of erasure: the requests, and what an approved one changes."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts import store as account_store
from server.accounts.models import User, UserSession
from server.meetings.models import CalendarToken
from server.moderation.models import Alert, Report, StaffDuty
from server.notify.models import NotificationSettings, PushSubscription, RoomFollow
from server.privacy.exports_models import ErasureRequest, ErasureStatus
from server.privacy.retention_models import LegalHold
from server.rooms.models import Audience, Message, Reaction, ReadMarker, Room

# An erased account's password: no argon2 hash, so no password matches it.
NO_PASSWORD = "!erased"  # noqa: S105 - not a password: what no password matches
PSEUDONYM_PREFIX = "Former member"
SUPPORT_ROOM_PREFIX = "Private support"


class Removed(NamedTuple):
    """A message whose text an erasure replaced, for telling its room."""

    id: int
    room_id: int


# ----- requests -----


async def pending_request_of(session: AsyncSession, user_id: int) -> ErasureRequest | None:
    found = await session.execute(
        select(ErasureRequest).where(
            col(ErasureRequest.user_id) == user_id,
            col(ErasureRequest.status) == ErasureStatus.PENDING,
        )
    )
    return found.scalars().first()


async def was_erased(session: AsyncSession, user_id: int) -> bool:
    found = await session.execute(
        select(ErasureRequest.id).where(
            col(ErasureRequest.user_id) == user_id,
            col(ErasureRequest.status) == ErasureStatus.ERASED,
        )
    )
    return found.first() is not None


async def requests(
    session: AsyncSession, *, status: str, user_id: int | None
) -> list[ErasureRequest]:
    """Newest first; `status` one of ErasureStatus, or `all`."""
    query = select(ErasureRequest).order_by(col(ErasureRequest.id).desc())
    if status != "all":
        query = query.where(col(ErasureRequest.status) == status)
    if user_id is not None:
        query = query.where(col(ErasureRequest.user_id) == user_id)
    return list((await session.execute(query.limit(500))).scalars())


async def decide(
    session: AsyncSession, request_id: int, status: str, *, by: int, note: str, now: datetime
) -> bool:
    """Decide a pending request, once: False when it was decided already (by another admin,
    a moment ago)."""
    result = await session.execute(
        update(ErasureRequest)
        .where(
            col(ErasureRequest.id) == request_id,
            col(ErasureRequest.status) == ErasureStatus.PENDING,
        )
        .values(status=status, decided_by=by, decided_at=now, note=note)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ----- what an erasure changes -----


async def new_pseudonym(session: AsyncSession) -> tuple[str, str]:
    """A display name and a login name no account has: "Former member 7f3a2c"."""
    while True:
        tag = secrets.token_hex(3)
        name, username = f"{PSEUDONYM_PREFIX} {tag}", f"former-member-{tag}"
        taken = await session.execute(
            select(User.id).where(
                or_(col(User.display_name) == name, col(User.username) == username)
            )
        )
        if taken.first() is None:
            return name, username


async def pseudonymise(
    session: AsyncSession, user: User, names: tuple[str, str], now: datetime
) -> None:
    """The alias and login name freed for others, nothing said about the person beside them,
    no password, and deactivated for good."""
    user.display_name, user.username = names
    user.pronouns = user.line = None
    user.password_hash = NO_PASSWORD
    if user.deactivated_at is None:
        user.deactivated_at = now
    session.add(user)
    await session.flush()


async def forget_sign_in_details(session: AsyncSession, user_id: int) -> None:
    """Sign-ins are kept (when the account was used) without the device and address."""
    await session.execute(
        update(UserSession)
        .where(col(UserSession.user_id) == user_id)
        .values(
            user_agent="",
            address="",
            refresh_digest=None,
            refresh_previous_digest=None,
            remembered_until=None,
        )
    )


async def replace_messages(
    session: AsyncSession, user_id: int, text: str, *, held: set[int]
) -> list[Removed]:
    """Every message of the person's still shown, outside the `held` rooms: its text
    replaced, marked deleted (clients show it as removed), its reactions gone, as a deletion
    does."""
    found = await session.execute(
        select(Message.id, Message.room_id).where(
            col(Message.author_id) == user_id,
            col(Message.deleted).is_(False),
            col(Message.room_id).not_in(held),
        )
    )
    removed = [Removed(int(message_id), int(room_id)) for message_id, room_id in found.all()]
    ids = [message.id for message in removed]
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        await session.execute(
            update(Message).where(col(Message.id).in_(batch)).values(body=text, deleted=True)
        )
        await session.execute(delete(Reaction).where(col(Reaction.message_id).in_(batch)))
    return removed


async def replace_words_elsewhere(
    session: AsyncSession, user_id: int, text: str, *, held: set[int]
) -> None:
    """The person's words kept outside their messages, outside the `held` rooms: the
    excerpts of alerts about them, the reasons of their reports, and the reasons they gave
    for erasure."""
    await session.execute(
        update(Alert)
        .where(
            col(Alert.user_id) == user_id,
            or_(col(Alert.room_id).is_(None), col(Alert.room_id).not_in(held)),
        )
        .values(excerpt=text)
    )
    await session.execute(
        update(Report)
        .where(col(Report.reporter_id) == user_id, col(Report.room_id).not_in(held))
        .values(reason=text)
    )
    await session.execute(
        update(ErasureRequest).where(col(ErasureRequest.user_id) == user_id).values(reason="")
    )


async def remove_personal_settings(session: AsyncSession, user_id: int, now: datetime) -> None:
    """What reaches or follows the person: email and notification settings, push
    subscriptions, followed rooms, the calendar feed, read markers, duty, reset codes."""
    for model, column in (
        (NotificationSettings, NotificationSettings.user_id),
        (PushSubscription, PushSubscription.user_id),
        (RoomFollow, RoomFollow.user_id),
        (CalendarToken, CalendarToken.user_id),
        (ReadMarker, ReadMarker.user_id),
        (StaffDuty, StaffDuty.user_id),
    ):
        await session.execute(delete(model).where(col(column) == user_id))
    await account_store.retire_resets(session, user_id, now)


async def rename_support_rooms(session: AsyncSession, user_id: int, pseudonym: str) -> list[int]:
    """The person's private support conversation is named after them: renamed after the
    pseudonym. Answers the rooms renamed."""
    found = await session.execute(
        select(Room).where(col(Room.audience) == Audience.PERSON, col(Room.member_id) == user_id)
    )
    renamed = []
    for room in found.scalars():
        room.name = f"{SUPPORT_ROOM_PREFIX}: {pseudonym}"
        session.add(room)
        if room.id is not None:
            renamed.append(room.id)
    await session.flush()
    return renamed


async def rooms_under_hold(session: AsyncSession) -> set[int]:
    """Rooms a legal hold in force covers: what was said there stays as it is."""
    found = await session.execute(
        select(LegalHold.room_id).where(
            col(LegalHold.lifted_at).is_(None), col(LegalHold.room_id).is_not(None)
        )
    )
    return {int(room_id) for room_id in found.scalars() if room_id is not None}


async def messages_shown_in(session: AsyncSession, user_id: int, room_ids: set[int]) -> int:
    """How many of the person's messages in these rooms are still shown."""
    if not room_ids:
        return 0
    found = await session.execute(
        select(func.count())
        .select_from(Message)
        .where(
            col(Message.author_id) == user_id,
            col(Message.deleted).is_(False),
            col(Message.room_id).in_(room_ids),
        )
    )
    return int(found.scalar_one())
