"""What a person's export holds: every record peerrooms keeps about them, read as it stands,
and only what belongs to them (docs/privacy.md: "A person's export").

Never another person's words or name: a message of theirs is in it, the message they
reacted to or reported is named only by its id; a moderator's act on them says what was done,
where and when, and by staff (the role, not the name); staff's written reasons and notes are
left out, as they may name other members. Automatic entries (a filter's, the crisis
detector's) keep their text, which peerrooms wrote from the person's own post."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from server.accounts.models import Cohort, CohortMembership, User, UserSession
from server.kernel.clock import iso_utc
from server.meetings.models import CalendarToken, CheckIn, MeetingSeries, PresenceSpan
from server.moderation.models import Alert, AuditEntry, Report, Restriction
from server.notify.models import (
    NotificationSettings,
    PushSubscription,
    RoomFollow,
    chosen_settings,
)
from server.rooms.models import Audience, Message, Reaction, Room

FORMAT = "peerrooms-personal-export"
VERSION = 1
# Entries about a legal hold on the person stay out: telling them could defeat the matter
# the hold is for (an investigation), and they are the program's, not the person's.
WITHHELD_ACTIONS = frozenset({"legal_hold_placed", "legal_hold_lifted"})
SYSTEM = "peerrooms"
OTHERS_SUPPORT = "A member's private support conversation"
YOU = "you"


async def collect(session: AsyncSession, user: User, now: datetime) -> dict[str, Any]:
    """The whole export of one person, as JSON-ready data."""
    assert user.id is not None  # noqa: S101 - a stored user
    user_id = user.id
    rooms = await room_names(session, user_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "made_at": iso_utc(now),
        "profile": await profile(session, user),
        "messages": await messages(session, user_id, rooms),
        "reactions": await reactions(session, user_id, rooms),
        "check_ins": await check_ins(session, user_id),
        "attendance": await attendance(session, user_id, rooms),
        "reports_made": await reports_made(session, user_id, rooms),
        "restrictions": await restrictions(session, user_id, rooms),
        "moderation_log": await moderation_log(session, user_id, rooms),
        "alerts": await alerts(session, user_id, rooms),
        "notification_settings": await notification_settings(session, user_id),
        "followed_rooms": await followed_rooms(session, user_id, rooms),
        "push_devices": await push_devices(session, user_id),
        "calendar_feed": await calendar_feed(session, user_id),
        "sign_ins": await sign_ins(session, user_id),
    }


async def room_names(session: AsyncSession, user_id: int) -> dict[int, str]:
    """Every room's name, as the export names rooms; another person's private support
    conversation (a member of staff's export) is named after that person, so it is not."""
    found = await session.execute(select(Room.id, Room.name, Room.audience, Room.member_id))
    return {
        int(room_id): OTHERS_SUPPORT if audience == Audience.PERSON and member != user_id else name
        for room_id, name, audience, member in found.all()
    }


def room_of(rooms: dict[int, str], room_id: int | None) -> str | None:
    return rooms.get(room_id) if room_id is not None else None


async def profile(session: AsyncSession, user: User) -> dict[str, Any]:
    found = await session.execute(
        select(Cohort.name, CohortMembership.joined_at)
        .join(Cohort, col(Cohort.id) == col(CohortMembership.cohort_id))
        .where(col(CohortMembership.user_id) == user.id)
        .order_by(col(Cohort.id))
    )
    return {
        "id": user.id,
        "display_name": user.display_name,
        "pronouns": user.pronouns,
        "line": user.line,
        "username": user.username,
        "role": user.role,
        "cohorts": [{"name": name, "joined_at": iso_utc(joined)} for name, joined in found.all()],
        "created_at": iso_utc(user.created_at),
        "graduated_at": iso_utc(user.graduated_at),
        "deactivated_at": iso_utc(user.deactivated_at),
    }


async def messages(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """Every message the person wrote, deleted ones with their text gone (as stored)."""
    found = await session.execute(
        select(Message).where(col(Message.author_id) == user_id).order_by(col(Message.id))
    )
    return [
        {
            "id": message.id,
            "room": room_of(rooms, message.room_id),
            "created_at": iso_utc(message.created_at),
            "edited_at": iso_utc(message.edited_at),
            "deleted": message.deleted,
            "body": "" if message.deleted else message.body,
        }
        for message in found.scalars()
    ]


async def reactions(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """The person's reactions; the message reacted to by its id only (it may be another's)."""
    found = await session.execute(
        select(Reaction.message_id, Reaction.emoji, Message.room_id)
        .join(Message, col(Message.id) == col(Reaction.message_id))
        .where(col(Reaction.user_id) == user_id)
        .order_by(col(Reaction.message_id), col(Reaction.emoji))
    )
    return [
        {"message_id": message_id, "room": room_of(rooms, room_id), "emoji": emoji}
        for message_id, emoji, room_id in found.all()
    ]


async def check_ins(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    found = await session.execute(
        select(CheckIn, MeetingSeries.title)
        .join(MeetingSeries, col(MeetingSeries.id) == col(CheckIn.series_id))
        .where(col(CheckIn.user_id) == user_id)
        .order_by(col(CheckIn.occurrence))
    )
    return [
        {
            "meeting": title,
            "occurrence": iso_utc(check_in.occurrence),
            "mood": check_in.mood,
            "note": check_in.note,
            "created_at": iso_utc(check_in.created_at),
        }
        for check_in, title in found.all()
    ]


async def attendance(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """Each stretch of time the person spent in a meeting room (what attendance counts)."""
    found = await session.execute(
        select(PresenceSpan)
        .where(col(PresenceSpan.user_id) == user_id)
        .order_by(col(PresenceSpan.joined_at))
    )
    return [
        {
            "room": room_of(rooms, span.room_id),
            "joined_at": iso_utc(span.joined_at),
            "left_at": iso_utc(span.left_at),
        }
        for span in found.scalars()
    ]


async def reports_made(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """Reports the person made, in their words; the message reported by its id only."""
    found = await session.execute(
        select(Report).where(col(Report.reporter_id) == user_id).order_by(col(Report.id))
    )
    return [
        {
            "id": report.id,
            "room": room_of(rooms, report.room_id),
            "message_id": report.message_id,
            "reason": report.reason,
            "status": report.status,
            "created_at": iso_utc(report.created_at),
            "resolved_at": iso_utc(report.resolved_at),
        }
        for report in found.scalars()
    ]


async def restrictions(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """Mutes and bans of the person, in force or over (kicks are in the moderation log)."""
    found = list(
        (
            await session.execute(
                select(Restriction)
                .where(col(Restriction.user_id) == user_id)
                .order_by(col(Restriction.id))
            )
        ).scalars()
    )
    roles = await roles_of(session, [r.created_by for r in found])
    return [
        {
            "kind": restriction.kind,
            "room": room_of(rooms, restriction.room_id),
            "created_at": iso_utc(restriction.created_at),
            "until": iso_utc(restriction.until),
            "lifted_at": iso_utc(restriction.lifted_at),
            "by": roles.get(restriction.created_by, SYSTEM),
        }
        for restriction in found
    ]


async def moderation_log(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """The audit log's entries about the person; the text of those the system or the person
    wrote, not of those staff wrote."""
    found = [
        entry
        for entry in (
            await session.execute(
                select(AuditEntry)
                .where(col(AuditEntry.target_user_id) == user_id)
                .order_by(col(AuditEntry.id))
            )
        ).scalars()
        if entry.action not in WITHHELD_ACTIONS
    ]
    roles = await roles_of(session, [entry.actor_id for entry in found])
    return [
        {
            "action": entry.action,
            "room": room_of(rooms, entry.room_id),
            "message_id": entry.message_id,
            "created_at": iso_utc(entry.created_at),
            "by": by_whom(entry.actor_id, user_id, roles),
            "detail": entry.reason if entry.actor_id in (None, user_id) else "",
        }
        for entry in found
    ]


def by_whom(actor_id: int | None, user_id: int, roles: dict[int, str]) -> str:
    if actor_id is None:
        return SYSTEM
    if actor_id == user_id:
        return YOU
    return roles.get(actor_id, SYSTEM)


async def alerts(
    session: AsyncSession, user_id: int, rooms: dict[int, str]
) -> list[dict[str, Any]]:
    """Alerts about the person's posts as the record shows them, with staff's outcome; who
    reported a post, who acknowledged and staff's note are left out."""
    found = await session.execute(
        select(Alert).where(col(Alert.user_id) == user_id).order_by(col(Alert.id))
    )
    return [
        {
            "kind": alert.kind,
            "room": room_of(rooms, alert.room_id),
            "message_id": alert.message_id,
            "created_at": iso_utc(alert.created_at),
            "category": alert.category,
            "severity": alert.severity,
            "excerpt": alert.excerpt,
            "status": alert.status,
            "acknowledged_at": iso_utc(alert.acked_at),
            "outcome": alert.outcome,
        }
        for alert in found.scalars()
    ]


async def notification_settings(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """None: the person never changed the defaults."""
    settings = await session.get(NotificationSettings, user_id)
    return None if settings is None else chosen_settings(settings)


async def followed_rooms(session: AsyncSession, user_id: int, rooms: dict[int, str]) -> list[str]:
    found = await session.execute(
        select(RoomFollow.room_id)
        .where(col(RoomFollow.user_id) == user_id)
        .order_by(col(RoomFollow.room_id))
    )
    return [rooms.get(room_id, "") for room_id in found.scalars()]


async def push_devices(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """Browsers that take pushes: the push service each is reached through, not its address
    (which works as a credential)."""
    found = await session.execute(
        select(PushSubscription)
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.id))
    )
    return [
        {
            "push_service": urlsplit(subscription.endpoint).hostname or "",
            "created_at": iso_utc(subscription.created_at),
            "last_sent_at": iso_utc(subscription.last_sent_at),
        }
        for subscription in found.scalars()
    ]


async def calendar_feed(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """Whether the person has a calendar feed address, and since when (not the address: it
    works as a password)."""
    token = await session.get(CalendarToken, user_id)
    return {"created_at": iso_utc(token.created_at)} if token is not None else None


async def sign_ins(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    found = await session.execute(
        select(UserSession)
        .where(col(UserSession.user_id) == user_id)
        .order_by(col(UserSession.created_at))
    )
    return [
        {
            "created_at": iso_utc(sign_in.created_at),
            "ended_at": iso_utc(sign_in.ended_at),
            "user_agent": sign_in.user_agent,
            "address": sign_in.address,
            "remembered": sign_in.remembered_until is not None,
        }
        for sign_in in found.scalars()
    ]


async def roles_of(session: AsyncSession, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({user_id for user_id in user_ids if user_id is not None})
    if not wanted:
        return {}
    found = await session.execute(select(User.id, User.role).where(col(User.id).in_(wanted)))
    return {int(user_id): role for user_id, role in found.all()}
