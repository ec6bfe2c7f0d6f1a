"""Live unread counts in every view: what the sockets of a room's audience that are not in the
room hear of its new messages.

A socket gets `message` only for the rooms it joined. Every other socket of someone who may
read a room gets `room_activity` when messages are stored there: the room's id, the newest
message's id and how many there were, never their text or who wrote them. Someone a message
mentions or replies to gets `room_mention` as well (docs/api/events/activity.md).

- **Who hears.** Each socket enters, when it connects, the channels of the audiences its
  person belongs to (policy.py: `audience_channels`: staff, everyone, alumni, their cohort,
  their own private room), and leaves and enters them again when their access changes (a
  cohort move, graduation: RoomService's access listeners). One emit to a room's audience
  channels reaches them all, on every process: a message costs no work per person. Skipped,
  on each process against its own sockets: those in the room (they have `message`), the
  authors' own (their messages are not unread to them) and those of whoever a gate keeps out
  of the room now (a ban: access.py `kept_out`, read from memory), so a banned person hears
  nothing of the room, as their room list says nothing of it.
- **Not before consent.** A socket whose person has not accepted the consent notice in force
  when it connects follows no channel (`may_follow`) until it connects again.
- **At most one a second.** A room's first message goes out at once; what follows within
  ACTIVITY_EVERY_S waits, and goes as one event (the newest id, the count) when the room's
  turn comes. Each process paces what it stored; a client counts what it is told and reads
  the room list again now and then for exact figures.
- **Within a budget.** A room's activity is one frame for every socket of its audience, a
  message one for each of its dozen members: with every room busy, activity cost several
  times the messages themselves (84 rooms open to 1,000 people: 84,000 frames a second
  against 6,000 deliveries). So a process hands out at most `frames_per_s` activity frames a
  second (counted against its own sockets), and rooms whose turn has come wait theirs,
  longest-waiting first: when many rooms are busy at once each is told of less often, and
  nothing is lost (the count adds up).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.kernel.actors import Actor
from server.kernel.clock import Clock, LoopingCall
from server.kernel.db import SessionFactory, session_on_first_use
from server.kernel.errors import AppError
from server.realtime.hub import Connection, Hub, room_channel, user_channel
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft
from server.rooms.models import Room
from server.rooms.policy import audience_channels, room_channels

log = logging.getLogger(__name__)

# A room's activity goes to each socket at most once in this long (per process).
ACTIVITY_EVERY_S = 1.0
# How often what waits is looked at: it goes within this long of its room's turn.
TICK_S = 0.25
# Activity frames a process hands out in a second, at most (settings:
# ROOM_ACTIVITY_FRAMES_PER_S); up to a second's worth may go at once.
ACTIVITY_FRAMES_PER_S = 1000.0

# Whether a person may hear of rooms yet: the consent notice in force accepted.
MayFollow = Callable[[int], Awaitable[bool]]


async def anyone(_user_id: int) -> bool:
    return True


@dataclass
class Waiting:
    """A room's messages not yet told of: the newest, who wrote them, and how many."""

    room: Room
    message_id: int
    authors: set[int]
    since: datetime
    count: int = 1

    def add(self, message_id: int, author_id: int) -> None:
        self.message_id = max(self.message_id, message_id)
        self.count += 1
        self.authors.add(author_id)

    def event(self) -> dict[str, Any]:
        return {"room_id": self.room.id, "message_id": self.message_id, "count": self.count}


def addressed_in(message: dict[str, Any]) -> tuple[set[int], int | None]:
    """Whom a new message mentions, and the author of the message it replies to (if shown)."""
    mentioned = {int(user["id"]) for user in message.get("mentions") or ()}
    author = (message.get("reply_to") or {}).get("author") or {}
    replied_to = author.get("id")
    return mentioned, int(replied_to) if replied_to is not None else None


@dataclass
class RoomActivity:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    access: RoomAccess
    may_follow: MayFollow = anyone
    every: timedelta = timedelta(seconds=ACTIVITY_EVERY_S)
    frames_per_s: float = ACTIVITY_FRAMES_PER_S
    _budget: FrameBudget = field(init=False)
    _last_sent: dict[int, datetime] = field(default_factory=dict, init=False)
    _waiting: dict[int, Waiting] = field(default_factory=dict, init=False)
    _ticking: LoopingCall | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._budget = FrameBudget(self.frames_per_s, self.clock.now())

    async def start(self) -> None:
        self._ticking = self.clock.looping_call(self._send_due, TICK_S)

    async def close(self) -> None:
        if self._ticking is not None:
            await self._ticking.stop()

    # ----- who follows which audiences -----

    async def connected(self, connection: Connection) -> None:
        if await self.may_follow(connection.actor.id):
            await self.hub.follow(connection, audience_channels(connection.actor))

    async def access_changed_here(self, actor: Actor, connections: Sequence[Connection]) -> None:
        """The person's role or cohorts changed: their sockets here that follow audiences
        follow those of the rooms they may enter now."""
        for connection in connections:
            if connection.channels:
                await self.hub.follow(connection, audience_channels(actor))

    # ----- new messages (a post listener) -----

    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None:
        if draft.action != "send" or draft.room.id is None:
            return
        try:
            # A session of its own, made only if needed (bans are read from memory): the
            # send's own has closed by now.
            async with session_on_first_use(self.sessions) as session:
                await self._stored(draft, int(message["id"]), session)
                await self._tell_addressed(draft, message, session)
        except Exception:
            # The message is stored and its room has it; the others' room lists catch up
            # when they are read again.
            log.exception("room activity of message %s not sent", message.get("id"))

    async def post_refused(self, actor: Actor, room_id: int, body: str, error: AppError) -> None:
        return None

    async def post_repeated(self, actor: Actor, message: dict[str, Any]) -> None:
        return None

    async def _stored(self, draft: Draft, message_id: int, session: AsyncSession) -> None:
        room_id = draft.room.id or 0
        waiting = self._waiting.get(room_id)
        if waiting is not None:
            waiting.add(message_id, draft.actor.id)
            return
        now = self.clock.now()
        news = Waiting(draft.room, message_id, {draft.actor.id}, now)
        if self._turn_came(room_id, now) and self._afford(news, now):
            await self._send(news, session)
        else:
            self._waiting[room_id] = news

    def _turn_came(self, room_id: int, now: datetime) -> bool:
        last = self._last_sent.get(room_id)
        return last is None or now - last >= self.every

    async def _send_due(self) -> None:
        now = self.clock.now()
        due = sorted(
            (room_id for room_id in self._waiting if self._turn_came(room_id, now)),
            key=lambda room_id: self._waiting[room_id].since,
        )
        # Rooms quiet for a turn need no pacing: what is kept is the rooms of the last second.
        self._last_sent = {
            room_id: sent
            for room_id, sent in self._last_sent.items()
            if now - sent < self.every or room_id in self._waiting
        }
        if not due:
            return
        async with session_on_first_use(self.sessions) as session:
            for room_id in due:
                if not self._afford(self._waiting[room_id], now):
                    break  # the rest wait for the budget, in the order they came
                news = self._waiting.pop(room_id)
                try:
                    await self._send(news, session)
                except Exception:
                    log.exception("room activity of room %s not sent", room_id)

    def _afford(self, news: Waiting, now: datetime) -> bool:
        return self._budget.spend(self.hub.reach_here(room_channels(news.room)), now)

    async def _send(self, news: Waiting, session: AsyncSession) -> None:
        room_id = news.room.id or 0
        # Before anything is awaited: a message stored meanwhile waits for the next turn.
        self._last_sent[room_id] = self.clock.now()
        kept_out = await self.access.kept_out(session, news.room)
        skipped = [room_channel(room_id)]
        skipped += [user_channel(user_id) for user_id in sorted(kept_out | news.authors)]
        await self.hub.to_channels(
            room_channels(news.room), "room_activity", news.event(), skipped=skipped
        )

    # ----- those a message mentions or replies to -----

    async def _tell_addressed(
        self, draft: Draft, message: dict[str, Any], session: AsyncSession
    ) -> None:
        room_id = draft.room.id or 0
        for user_id in await self._addressed(draft, message, session):
            await self.hub.to_channels(
                [user_channel(user_id)],
                "room_mention",
                {"room_id": room_id, "message_id": message["id"]},
                skipped=[room_channel(room_id)],
            )

    async def _addressed(
        self, draft: Draft, message: dict[str, Any], session: AsyncSession
    ) -> list[int]:
        """Those the message mentions or replies to who may read it now, never its author.
        Mentions were checked as the send was (rooms/replies.py); the author of the original
        is checked here, since they may have lost the room since (a ban, graduation)."""
        mentioned, replied_to = addressed_in(message)
        wanted = set(mentioned)
        if replied_to is not None and replied_to not in mentioned:
            person = await account_store.load_actor(session, replied_to)
            if person is not None and await self.access.allows(session, person, draft.room):
                wanted.add(replied_to)
        wanted.discard(draft.actor.id)
        return [user_id for user_id in sorted(wanted) if await self.may_follow(user_id)]


@dataclass
class FrameBudget:
    """Frames that may go out: `per_s` a second, up to a second's worth saved up. An emit
    larger than a whole second's worth goes once the budget is full, and the budget then
    owes it (it goes negative): over time no more than `per_s` a second go out."""

    per_s: float
    at: datetime
    left: float = field(init=False)

    def __post_init__(self) -> None:
        self.left = self.per_s

    def spend(self, frames: int, now: datetime) -> bool:
        seconds = max(0.0, (now - self.at).total_seconds())
        self.left, self.at = min(self.per_s, self.left + seconds * self.per_s), now
        if self.left < min(frames, self.per_s):
            return False
        self.left -= frames
        return True
