"""The daily email digest: what a person missed in their rooms, and their sessions of the
coming day (docs/notifications.md).

Counts and room names only, never what anyone wrote: these are therapy rooms, and a mailbox is
shared, forwarded and kept by a provider. A room counts when the person may be in it now (its
audience, and no ban), as the room list counts it; a message counts when someone else wrote
it after the person's read marker and after the newest message the last digest looked at,
and the room lets the person read it (rooms/visibility.py: not from before they joined).
Private support conversations are counted under one name: theirs is named after the member,
and a staff member's mailbox is no place for a patient's alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.kernel.actors import Actor
from server.meetings import store as meeting_store
from server.meetings.occurrences import expand
from server.notify.models import NotificationSettings
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.models import Audience, Room

# Counted no further than this per room: past it the number says enough, and a newcomer to a
# long-lived room costs one short index range rather than a count of its history.
COUNT_CAP = 999
COMING_DAY = timedelta(days=1)
PRIVATE_SUPPORT = "Private support conversations"


@dataclass(frozen=True)
class Missed:
    """What one person's digest says."""

    rooms: list[tuple[str, int]]  # (room name, messages by others not read), unread only
    sessions: list[tuple[str, datetime]]  # (title, start in UTC), soonest first
    through_id: int  # the newest message looked at: the next digest counts from here

    @property
    def anything_unread(self) -> bool:
        return bool(self.rooms)


def digest_day(settings: NotificationSettings, now: datetime, hour: int) -> date | None:
    """The person's own date, once their clock has passed the digest hour today; None
    before it. From that hour to midnight, not at that minute only: a server that was down
    at 07:00 still sends when it is back (the day is claimed once, so never twice)."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    return local.date() if local.hour >= hour else None


async def missed(
    session: AsyncSession, access: RoomAccess, actor: Actor, after_id: int, now: datetime
) -> Missed:
    """What the actor missed since their read markers and message `after_id` (the last
    digest's), and their sessions of the coming day from `now`."""
    rooms = await _open_rooms(session, access, actor)
    room_ids = [room.id for room in rooms if room.id is not None]
    last_ids = await room_store.last_message_ids(session, room_ids)
    markers = await room_store.read_markers(session, actor.id)
    counted: dict[str, int] = {}  # by the name the mail shows, in the room list's order
    for room in rooms:
        room_id = room.id or 0
        after = max(markers.get(room_id, 0), after_id)
        if last_ids.get(room_id, 0) <= after:
            continue  # nothing newer at all: no count query
        # Nor what they may not read of the room's history (rooms/visibility.py).
        after = max(after, await access.history.hidden_through(session, actor, room))
        unread = await room_store.unread_count(
            session, room_id=room_id, user_id=actor.id, after=after, cap=COUNT_CAP
        )
        if unread:
            label = _label(room)
            counted[label] = counted.get(label, 0) + unread
    sessions = await _coming_sessions(session, set(room_ids), now)
    return Missed(list(counted.items()), sessions, max([after_id, *last_ids.values()]))


def _label(room: Room) -> str:
    return PRIVATE_SUPPORT if room.audience == Audience.PERSON else room.name


async def _open_rooms(session: AsyncSession, access: RoomAccess, actor: Actor) -> list[Room]:
    """The rooms the person may be in now, in the room list's order."""
    return [
        room
        for room in await room_store.list_rooms(session)
        if await access.allows(session, actor, room)
    ]


async def _coming_sessions(
    session: AsyncSession, room_ids: set[int], now: datetime
) -> list[tuple[str, datetime]]:
    """Sessions in these rooms starting within the coming day, cancelled ones left out."""
    pairs = [(s, r) for s, r in await meeting_store.list_series(session) if r.id in room_ids]
    exceptions = await meeting_store.exceptions(session, [s.id for s, _ in pairs if s.id])
    coming = [
        (series.title, occurrence.start)
        for series, _ in pairs
        for occurrence in expand(series, now, now + COMING_DAY, exceptions[series.id or 0])
        if not occurrence.cancelled and now < occurrence.start < now + COMING_DAY
    ]
    return sorted(coming, key=lambda item: item[1])
