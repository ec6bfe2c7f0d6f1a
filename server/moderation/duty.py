"""Which staff are online now, and which of them said they are on duty: whom a crisis alert
reaches, and so what its writer can truthfully be told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock, iso_utc
from server.kernel.db import SessionFactory, session_on_first_use
from server.moderation import store
from server.moderation.models import DutyIn
from server.moderation.serialize import public_users
from server.presence.store import PresenceStore
from server.realtime.bus import ControlBus
from server.realtime.hub import Connection
from server.realtime.shared_cache import SharedCache

# The presence key under which staff connections are counted, on every process alike (the
# Redis store when there is one). Room ids start at 1, so no room shares it.
STAFF_DESK = 0
# The roster kept on every process (one value, under this key), forgotten everywhere when
# someone goes on or off duty: each crisis alert reads it twice (whom it reaches, whom to push).
ROSTER_CHANGED = "moderation.duty_changed"
ROSTER = 0


async def read_roster(session: AsyncSession, _keys: list[int]) -> dict[int, frozenset[int]]:
    return {ROSTER: frozenset(entry.user_id for entry in await store.duty_roster(session))}


@dataclass
class StaffDesk:
    sessions: SessionFactory
    clock: Clock
    presence: PresenceStore
    audit: AuditSink
    bus: ControlBus
    _roster: SharedCache[frozenset[int]] = field(init=False)

    def __post_init__(self) -> None:
        self._roster = SharedCache(self.bus, ROSTER_CHANGED, read_roster)

    async def connected(self, connection: Connection) -> None:
        if connection.actor.is_staff:
            await self.presence.add(STAFF_DESK, connection.actor.id, connection.sid)

    async def disconnected(self, connection: Connection) -> None:
        if connection.actor.is_staff:
            await self.presence.remove(STAFF_DESK, connection.actor.id, connection.sid)

    async def online_staff(self) -> set[int]:
        return set(await self.presence.user_ids(STAFF_DESK))

    async def on_duty(self, session: AsyncSession | None = None) -> set[int]:
        """Who is on duty, from memory; read (when due) through the caller's session if it
        holds one, so that no caller holds two pooled connections at once."""
        if session is not None:
            return set(await self._roster.get(session, ROSTER) or ())
        async with session_on_first_use(self.sessions) as own:
            return set(await self._roster.get(own, ROSTER) or ())

    async def roster(self, actor: Actor) -> dict[str, Any]:
        """Who is on duty (and online), and whether the asker is."""
        require_staff(actor)
        online = await self.online_staff()
        async with self.sessions() as session:
            entries = await store.duty_roster(session)
            users = await public_users(session, [entry.user_id for entry in entries])
        on_duty = [
            {
                "user": users.get(entry.user_id),
                "since": iso_utc(entry.since),
                "online": entry.user_id in online,
            }
            for entry in entries
        ]
        mine = next((entry for entry in entries if entry.user_id == actor.id), None)
        return {
            "on_duty": mine is not None,
            "since": iso_utc(mine.since) if mine else None,
            "roster": on_duty,
            "staff_online": len(online),
        }

    async def set_duty(self, actor: Actor, data: DutyIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            changed = await store.set_duty(session, actor.id, data.on_duty, self.clock.now())
            await session.commit()
        if changed:
            await self._roster.changed(ROSTER)
            await self.audit.record(
                actor_id=actor.id,
                action="duty_started" if data.on_duty else "duty_ended",
                target_user_id=actor.id,
            )
        return await self.roster(actor)
