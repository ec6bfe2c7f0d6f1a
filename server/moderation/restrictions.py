"""Mutes, kicks and bans: the moderator actions that keep someone out of a conversation,
with their live effect on every process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import AppError, forbidden, not_found
from server.moderation import store
from server.moderation.models import BanIn, KickIn, MuteIn, Restriction
from server.moderation.serialize import public_users, restriction_json
from server.presence.service import PresenceService
from server.realtime.bus import ControlBus
from server.realtime.notices import Notifier
from server.realtime.shared_cache import SharedCache
from server.rooms import store as room_store
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft
from server.rooms.models import Room

MUTE, BAN = "mute", "ban"
RESTRICTIONS_CHANGED = "moderation.restrictions_changed"
# The notice kind and text a person gets when a moderator lifts their mute or ban early.
LIFTED = {
    MUTE: ("unmuted", "A moderator has lifted your mute in this room; you can post again."),
    BAN: ("unbanned", "A moderator has lifted your ban from this room; you can join it again."),
}
# Told of each kick or ban, after it took effect here: (room_id, user_id, "kicked" | "banned").
# A video call held in the room puts the person out of the call too.
RemovalListener = Callable[[int, int, str], Awaitable[None]]
# Each user's mutes and bans in force in one room: (kind, user_id) -> their end times.
RoomRestrictions = dict[tuple[str, int], list[datetime | None]]


def until_text(until: datetime | None) -> str:
    return f"until {iso_utc(until)}" if until else "until a moderator lifts it"


class RestrictionCache:
    """The mutes and bans in force per room, read from the database once and kept, on every
    process alike (realtime/shared_cache.py).

    Every send and join asks whether its author is muted or banned; answering from memory
    saves two queries on each. End times are kept, so an expiry needs no message: each check
    compares them with the clock."""

    def __init__(self, bus: ControlBus, clock: Clock) -> None:
        self._clock = clock
        self._rooms: SharedCache[RoomRestrictions] = SharedCache(
            bus, RESTRICTIONS_CHANGED, self._read
        )

    async def until(
        self, session: AsyncSession, *, kind: str, room_id: int, user_id: int, now: datetime
    ) -> tuple[bool, datetime | None]:
        """Whether a restriction of this kind holds the user now, and when the longest one
        ends (None: until lifted)."""
        table = await self._rooms.get(session, room_id) or {}
        ends = [end for end in table.get((kind, user_id), []) if end is None or end > now]
        if not ends:
            return False, None
        return True, None if None in ends else max(e for e in ends if e is not None)

    async def holding(
        self, session: AsyncSession, *, kind: str, room_id: int, now: datetime
    ) -> set[int]:
        """Everyone a restriction of this kind holds in the room now."""
        table = await self._rooms.get(session, room_id) or {}
        return {
            user_id
            for (held, user_id), ends in table.items()
            if held == kind and any(end is None or end > now for end in ends)
        }

    async def changed(self, room_id: int) -> None:
        await self._rooms.changed(room_id)

    async def _read(
        self, session: AsyncSession, room_ids: list[int]
    ) -> dict[int, RoomRestrictions]:
        tables: dict[int, RoomRestrictions] = {room_id: {} for room_id in room_ids}
        found = await store.restrictions_in_force(session, room_ids=room_ids, now=self._clock.now())
        for restriction in found:
            table = tables[restriction.room_id]
            table.setdefault((restriction.kind, restriction.user_id), []).append(restriction.until)
        return tables


@dataclass
class RestrictionService:
    sessions: SessionFactory
    clock: Clock
    access: RoomAccess
    presence: PresenceService
    notifier: Notifier
    audit: AuditSink
    cache: RestrictionCache
    on_removal: list[RemovalListener] = field(default_factory=list)

    async def mute(self, actor: Actor, room_id: int, data: MuteIn) -> dict[str, Any]:
        until, restriction = await self._restrict(
            actor, room_id, MUTE, data.user_id, data.reason, timedelta(minutes=data.minutes)
        )
        await self.notifier.tell(
            data.user_id,
            "muted",
            f"A moderator has muted you in this room {until_text(until)}.",
            room_id=room_id,
            until=iso_utc(until),
        )
        return restriction

    async def kick(self, actor: Actor, room_id: int, data: KickIn) -> None:
        async with self.sessions() as session:
            await self._target(session, actor, room_id, data.user_id)
        await self.presence.evict(data.user_id, [room_id])
        await self._tell_removal_listeners(room_id, data.user_id, "kicked")
        await self.notifier.tell(
            data.user_id, "kicked", "A moderator has removed you from this room.", room_id=room_id
        )
        await self.audit.record(
            actor_id=actor.id,
            action="kick",
            room_id=room_id,
            target_user_id=data.user_id,
            reason=data.reason,
        )

    async def ban(self, actor: Actor, room_id: int, data: BanIn) -> dict[str, Any]:
        length = timedelta(minutes=data.minutes) if data.minutes else None
        until, restriction = await self._restrict(
            actor, room_id, BAN, data.user_id, data.reason, length
        )
        await self.presence.evict(data.user_id, [room_id])
        await self._tell_removal_listeners(room_id, data.user_id, "banned")
        await self.notifier.tell(
            data.user_id,
            "banned",
            f"A moderator has banned you from this room {until_text(until)}.",
            room_id=room_id,
            until=iso_utc(until),
        )
        return restriction

    async def lift(self, actor: Actor, room_id: int, kind: str, user_id: int) -> None:
        require_staff(actor)
        now = self.clock.now()
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            lifted = await store.lift_restrictions(
                session, kind=kind, room_id=room_id, user_id=user_id, by=actor.id, now=now
            )
            await session.commit()
        if not lifted:
            raise not_found(f"{kind} of that user in this room")
        await self.cache.changed(room_id)
        await self._tell_staff(kind, room_id, user_id, until=None, lifted=True)
        await self.audit.record(
            actor_id=actor.id, action=f"un{kind}", room_id=room_id, target_user_id=user_id
        )
        # The person was told of the mute or ban; they are told it is over, too.
        await self.notifier.tell(user_id, LIFTED[kind][0], LIFTED[kind][1], room_id=room_id)

    async def on_person(self, user_id: int) -> dict[str, Any]:
        """The mutes and bans in force on a person, for their page in the console (the caller
        checked that the reader is staff)."""
        async with self.sessions() as session:
            found = await store.restrictions_on_user(session, user_id=user_id, now=self.clock.now())
            rooms = await room_store.rooms_by_id(session, sorted({r.room_id for r in found}))
        names = {room.id: room.name for room in rooms}
        return {
            "restrictions": [
                {
                    "kind": restriction.kind,
                    "room_id": restriction.room_id,
                    "room_name": names.get(restriction.room_id, ""),
                    "until": iso_utc(restriction.until) if restriction.until else None,
                }
                for restriction in found
            ]
        }

    async def current(self, actor: Actor, room_id: int, kind: str) -> list[dict[str, Any]]:
        require_staff(actor)
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            found = await store.active_restrictions(
                session, kind=kind, room_id=room_id, now=self.clock.now()
            )
            users = await public_users(
                session, [id_ for r in found for id_ in (r.user_id, r.created_by)]
            )
        return [restriction_json(restriction, users) for restriction in found]

    async def _tell_staff(
        self, kind: str, room_id: int, user_id: int, *, until: datetime | None, lifted: bool
    ) -> None:
        """Every moderator's console and person page, on every process, shows the mutes and
        bans in force: each made or lifted is announced, so none waits for a reload. Ids only:
        each reader asks for what its screen shows."""
        await self.notifier.hub.to_staff(
            "restriction_changed",
            {
                "user_id": user_id,
                "room_id": room_id,
                "kind": kind,
                "until": iso_utc(until) if until else None,
                "lifted": lifted,
            },
        )

    async def _tell_removal_listeners(self, room_id: int, user_id: int, why: str) -> None:
        for listener in self.on_removal:
            await listener(room_id, user_id, why)

    async def _restrict(
        self,
        actor: Actor,
        room_id: int,
        kind: str,
        user_id: int,
        reason: str,
        length: timedelta | None,
    ) -> tuple[datetime | None, dict[str, Any]]:
        """Put a restriction in force; answers when it ends and its JSON."""
        now = self.clock.now()
        async with self.sessions() as session:
            await self._target(session, actor, room_id, user_id)
            # A new mute or ban replaces the one in force, so the latest decision is the rule.
            await store.lift_restrictions(
                session, kind=kind, room_id=room_id, user_id=user_id, by=actor.id, now=now
            )
            restriction = Restriction(
                kind=kind,
                room_id=room_id,
                user_id=user_id,
                reason=reason,
                created_by=actor.id,
                created_at=now,
                until=now + length if length else None,
            )
            session.add(restriction)
            await session.commit()
            users = await public_users(session, [user_id, actor.id])
        await self.cache.changed(room_id)
        await self._tell_staff(kind, room_id, user_id, until=restriction.until, lifted=False)
        await self.audit.record(
            actor_id=actor.id, action=kind, room_id=room_id, target_user_id=user_id, reason=reason
        )
        return restriction.until, restriction_json(restriction, users)

    async def _target(
        self, session: AsyncSession, actor: Actor, room_id: int, user_id: int
    ) -> Room:
        require_staff(actor)
        room = await self.access.enter(session, actor, room_id)
        target = await account_store.get_user(session, user_id)
        if target is None:
            raise not_found("user (user_id)")
        if target.role in ("moderator", "admin"):
            raise forbidden("Moderators and admins cannot be muted, kicked or banned.")
        return room


@dataclass
class BanGate:
    """An access gate: a banned user may not join, read or post in the room."""

    cache: RestrictionCache

    async def check_access(
        self, session: AsyncSession, actor: Actor, room: Room, now: datetime
    ) -> None:
        if actor.is_staff or room.id is None:
            return
        banned, until = await self.cache.until(
            session, kind=BAN, room_id=room.id, user_id=actor.id, now=now
        )
        if banned:
            raise AppError(
                "banned",
                f"A moderator has banned you from this room {until_text(until)}.",
                until=iso_utc(until),
            )

    async def kept_out(self, session: AsyncSession, room: Room, now: datetime) -> set[int]:
        if room.id is None:
            return set()
        return await self.cache.holding(session, kind=BAN, room_id=room.id, now=now)


@dataclass
class MuteGate:
    """A post gate: a muted user's posts are refused until the mute ends."""

    cache: RestrictionCache

    async def check(self, draft: Draft) -> None:
        if draft.actor.is_staff or draft.room.id is None:
            return
        muted, until = await self.cache.until(
            draft.reads, kind=MUTE, room_id=draft.room.id, user_id=draft.actor.id, now=draft.now
        )
        if muted:
            draft.refuse(
                AppError(
                    "muted",
                    f"A moderator has muted you in this room {until_text(until)}.",
                    until=iso_utc(until),
                )
            )
