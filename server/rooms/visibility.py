"""How much of a room's history each person may read: Matrix's `history_visibility`.

A room says from when its members may read what was said in it:

- `since_joined` (group rooms): from when the person joined the room's audience: their
  cohort for a cohort's room (a move to another cohort is a new joining), their graduation
  for an alumni room, their account's making otherwise. A membership from before joining
  times were recorded has none, and its person reads everything, as they could before.
- `since_session` (meeting rooms): from the opening of the room's current session (the lobby
  of its latest occurrence whose lobby has opened); before any, from now.
- `all` (the rest): everything.

Staff read everything: they moderate it. Every read of history goes through
`HistoryWindow.hidden_through`: a join's page and its `since` catch-up, history pages,
unread counts (the room list, the digest), and the single messages one reacts to, reports
or edits; a message at or below the bound is answered `not_found`, as if it were not there.
Live delivery needs no bound: a new message comes after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.rooms import store
from server.rooms.models import Audience, Room


class Visibility(StrEnum):
    SINCE_JOINED = "since_joined"
    ALL = "all"
    SINCE_SESSION = "since_session"


# A room's kind decides its visibility unless staff choose one.
KIND_DEFAULTS = {"group": Visibility.SINCE_JOINED, "meeting": Visibility.SINCE_SESSION}


def default_visibility(kind: str) -> Visibility:
    return KIND_DEFAULTS.get(kind, Visibility.ALL)


# When the room's current session opened (its latest occurrence whose lobby has opened by
# `now`), None when none has: meetings know (wired in server/app.py), rooms cannot.
SessionOpened = Callable[[AsyncSession, int, datetime], Awaitable[datetime | None]]


async def no_sessions(session: AsyncSession, room_id: int, now: datetime) -> datetime | None:
    return None


@dataclass
class HistoryWindow:
    clock: Clock
    session_opened: SessionOpened = no_sessions

    async def hidden_through(self, session: AsyncSession, actor: Actor, room: Room) -> int:
        """The newest message id of the room that the actor may not read (0: none hidden).
        Ids grow with time within a room, so what they may read is exactly what is above."""
        opens = await self.opens_at(session, actor, room)
        if opens is None or room.id is None:
            return 0
        return await store.last_message_before(session, room.id, opens)

    async def opens_at(self, session: AsyncSession, actor: Actor, room: Room) -> datetime | None:
        """The moment from which the actor may read the room's history; None: all of it."""
        if actor.is_staff:
            return None
        if room.history_visibility == Visibility.SINCE_JOINED:
            return await self._joined_at(session, actor, room)
        if room.history_visibility == Visibility.SINCE_SESSION:
            now = self.clock.now()
            opened = await self.session_opened(session, room.id or 0, now)
            return opened if opened is not None else now
        return None

    async def opens_for_everyone(self, session: AsyncSession, room: Room) -> datetime | None:
        """The latest moment from which someone who may be in the room, staff aside, may
        read its history: what is older some of them may not read (None: all may read all).
        What the room's live events may quote of its history (rooms/replies.py)."""
        if room.history_visibility == Visibility.SINCE_JOINED:
            return await store.latest_joining(session, room)
        if room.history_visibility == Visibility.SINCE_SESSION:
            now = self.clock.now()
            opened = await self.session_opened(session, room.id or 0, now)
            return opened if opened is not None else now
        return None

    async def hidden_from_someone(self, session: AsyncSession, room: Room) -> int:
        """The newest message of the room that someone who may be in it may not read (0:
        none): a live event may quote only what is newer."""
        opens = await self.opens_for_everyone(session, room)
        if opens is None or room.id is None:
            return 0
        return await store.last_message_before(session, room.id, opens)

    @staticmethod
    async def _joined_at(session: AsyncSession, actor: Actor, room: Room) -> datetime | None:
        """When the actor joined the room's audience (None: no record, no limit)."""
        if room.audience == Audience.COHORT and room.cohort_id is not None:
            return await account_store.joined_cohort_at(session, actor.id, room.cohort_id)
        user = await account_store.get_user(session, actor.id)
        if user is None:
            return None
        if room.audience == Audience.ALUMNI and user.graduated_at is not None:
            return user.graduated_at
        return user.created_at
