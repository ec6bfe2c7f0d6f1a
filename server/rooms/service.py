"""Room decisions: listing, creating and changing rooms, joining and leaving them live,
typing indicators, and keeping live connections within what each user may enter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.models import public_user
from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory
from server.kernel.errors import forbidden, not_found
from server.kernel.throttle import Throttle
from server.presence.service import PresenceService
from server.realtime.bus import ControlBus
from server.realtime.hub import Connection, Hub
from server.rooms import store
from server.rooms.access import RoomAccess
from server.rooms.messages import page_json
from server.rooms.models import (
    JOIN_LATEST_LIMIT,
    JOIN_SINCE_LIMIT,
    JoinIn,
    Room,
    RoomIn,
    RoomPatch,
)
from server.rooms.policy import may_enter
from server.rooms.serialize import room_json
from server.rooms.visibility import default_visibility

ACCESS_CHANGED = "rooms.access_changed"
# Told, on each process, of a person whose access changed and their sockets there.
AccessChangedHere = Callable[[Actor, list[Connection]], Awaitable[None]]
# Room lists show "99+" past this; counting further would read a newcomer's whole backlog.
UNREAD_CAP = 100


def room_change_action(name: str, value: object) -> str:
    """The audit action of one changed room setting."""
    if name == "locked":
        return "room_locked" if value else "room_unlocked"
    return f"room_{name}_changed"


def room_change_reason(name: str, value: object) -> str:
    """What the audit entry of one changed setting says: who may now read which history
    matters to a privacy review; the other settings speak for themselves."""
    return f"now {value}" if name == "history_visibility" else ""


@dataclass
class RoomService:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    bus: ControlBus
    presence: PresenceService
    access: RoomAccess
    audit: AuditSink
    throttle: Throttle
    typing_interval_s: float
    reaction_emojis: tuple[str, ...] = ()
    access_changed_here: list[AccessChangedHere] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bus.subscribe(ACCESS_CHANGED, self._reconcile_access_here)

    # ----- rooms -----

    async def list_rooms(self, actor: Actor) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rooms = [room for room in await store.list_rooms(session) if may_enter(actor, room)]
            # A room one is banned from stays listed (the ban is news to keep), but says
            # nothing of what goes on in it.
            open_rooms = [
                room for room in rooms if room.id and await self.access.allows(session, actor, room)
            ]
            reading = await self._reading(session, actor, open_rooms)
        counts = await self.presence.online_counts(list(reading))
        shut = {"last_message_id": None, "unread_count": 0, "mention_count": 0}
        return [
            room_json(room, counts.get(room.id or 0, 0)) | reading.get(room.id or 0, shut)
            for room in rooms
        ]

    async def _reading(
        self, session: AsyncSession, actor: Actor, rooms: list[Room]
    ) -> dict[int, dict[str, Any]]:
        """Each room's newest message id and how many messages by others the actor has not
        read yet (at most UNREAD_CAP), of those they may read (rooms/visibility.py); and how
        many of those mention them or reply to them (rooms/replies.py)."""
        last_ids = await store.last_message_ids(session, [room.id for room in rooms if room.id])
        markers = await store.read_markers(session, actor.id)
        reading: dict[int, dict[str, Any]] = {}
        for room in rooms:
            room_id = room.id or 0
            last_id, marker = last_ids.get(room_id), markers.get(room_id, 0)
            unread = mentions = 0
            if last_id is not None and last_id > marker:
                hidden_through = await self.access.history.hidden_through(session, actor, room)
                if last_id <= hidden_through:
                    last_id = None  # all there is was said before they may read
                else:
                    unread_since = {
                        "room_id": room_id,
                        "user_id": actor.id,
                        "after": max(marker, hidden_through),
                        "cap": UNREAD_CAP,
                    }
                    unread = await store.unread_count(session, **unread_since)
                    if unread:
                        mentions = await store.unread_for_me(session, **unread_since)
            reading[room_id] = {
                "last_message_id": last_id,
                "unread_count": unread,
                "mention_count": mentions,
            }
        return reading

    async def mark_read(self, actor: Actor, room_id: int, message_id: int) -> dict[str, Any]:
        """Moves the actor's read marker forward, to at most the room's newest message."""
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            newest = (await store.last_message_ids(session, [room_id])).get(room_id, 0)
            last_read = await store.advance_read_marker(
                session, user_id=actor.id, room_id=room_id, message_id=min(message_id, newest)
            )
            await session.commit()
        return {"room_id": room_id, "last_read_id": last_read}

    async def create_room(self, actor: Actor, data: RoomIn) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            if data.cohort_id is not None:
                if await account_store.get_cohort(session, data.cohort_id) is None:
                    raise not_found("cohort (cohort_id)")
            room = Room(
                name=data.name,
                kind=data.kind,
                audience=data.audience,
                cohort_id=data.cohort_id,
                topic=data.topic,
                contact_policy=data.contact_policy,
                history_visibility=data.history_visibility or default_visibility(data.kind),
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            session.add(room)
            await session.commit()
        return room_json(room, 0)

    async def ensure_room(self, actor: Actor, data: RoomIn) -> dict[str, Any]:
        """The room of this name, created when missing (operator set-up, the demo)."""
        async with self.sessions() as session:
            room = await store.get_room_by_name(session, data.name)
        if room is None:
            return await self.create_room(actor, data)
        return room_json(room, 0)

    async def update_room(self, actor: Actor, room_id: int, data: RoomPatch) -> dict[str, Any]:
        require_staff(actor)
        async with self.sessions() as session:
            # A room of this session's own to change, not the kept one others read.
            room = await store.get_room(session, room_id)
            if room is None:
                raise not_found("room")
            await self.access.admit(session, actor, room)
            changes = {
                name: value
                for name, value in data.model_dump(exclude_none=True).items()
                if getattr(room, name) != value
            }
            for name, value in changes.items():
                setattr(room, name, value)
            session.add(room)
            await session.commit()
        if changes:
            # Every process forgets its kept copy (rooms/kept.py) before this answers.
            await self.access.rooms.changed(room_id)
        payload = room_json(room, (await self.presence.online_counts([room_id]))[room_id])
        await self.hub.to_room(room_id, "room_updated", payload)
        for name, value in changes.items():
            await self.audit.record(
                actor_id=actor.id,
                action=room_change_action(name, value),
                room_id=room_id,
                reason=room_change_reason(name, value),
            )
        return payload

    async def online(self, actor: Actor, room_id: int) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            await self.access.enter(session, actor, room_id)
            return await self._online_users(session, room_id)

    async def members(self, actor: Actor, room_id: int) -> list[dict[str, Any]]:
        """Staff's view of who a room is for (staff not included, nor deactivated accounts),
        each with whether they may enter it now (a ban keeps them out) and are in it now."""
        require_staff(actor)
        async with self.sessions() as session:
            room = await self.access.enter(session, actor, room_id)
            online = set(await self.presence.online_user_ids(room_id))
            members = []
            for user_id in await store.audience_user_ids(session, room):
                person = await account_store.load_actor(session, user_id)
                user = await account_store.get_user(session, user_id)
                if person is None or user is None:
                    continue  # deactivated
                allowed = await self.access.allows(session, person, room)
                members.append(
                    {**public_user(user), "may_enter": allowed, "online": user_id in online}
                )
        return sorted(members, key=lambda member: str(member["display_name"]).lower())

    async def _online_users(self, session: Any, room_id: int) -> list[dict[str, Any]]:
        user_ids = await self.presence.online_user_ids(room_id)
        users = await account_store.get_users(session, user_ids)
        return [public_user(user) for user in sorted(users, key=lambda user: user.id or 0)]

    # ----- live membership -----

    async def join(self, connection: Connection, data: JoinIn) -> dict[str, Any]:
        async with self.sessions() as session:
            room = await self.access.enter(session, connection.actor, data.room_id)
        # Entering announces the user and records attendance, each with a session of its own;
        # holding this one meanwhile would let a burst of joins (a reconnect storm) take every
        # pooled connection and wait forever for one more.
        # Enter before reading, so a message sent meanwhile arrives live or in the page:
        # possibly both (clients keep one per id), never neither.
        await self.presence.enter(connection, data.room_id)
        async with self.sessions() as session:
            # Only what the person may read of the room's history (rooms/visibility.py).
            hidden_through = await self.access.history.hidden_through(
                session, connection.actor, room
            )
            if data.since is None:
                rows, has_more = await store.latest_messages(
                    session,
                    data.room_id,
                    before=None,
                    limit=JOIN_LATEST_LIMIT,
                    hidden_through=hidden_through,
                )
            else:
                rows, has_more = await store.messages_after(
                    session,
                    data.room_id,
                    after=max(data.since, hidden_through),
                    limit=JOIN_SINCE_LIMIT,
                )
            counts = await self.presence.online_counts([data.room_id])
            return {
                "room": room_json(room, counts[data.room_id]),
                "online": await self._online_users(session, data.room_id),
                "messages": await page_json(session, rows, hidden_through),
                "has_more": has_more,
                "reaction_emojis": list(self.reaction_emojis),
            }

    async def leave(self, connection: Connection, room_id: int) -> None:
        if room_id not in connection.rooms:
            async with self.sessions() as session:
                if await store.get_room(session, room_id) is None:
                    raise not_found("room")
            return
        await self.presence.exit(connection, room_id)

    async def typing(self, connection: Connection, room_id: int) -> None:
        if room_id not in connection.rooms:
            async with self.sessions() as session:
                await self.access.enter(session, connection.actor, room_id)
            raise forbidden("Join the room before typing in it.")
        key = f"typing:{connection.actor.id}:{room_id}"
        if await self.throttle.allow(key, self.typing_interval_s, self.clock.now()):
            await self.hub.to_room(
                room_id,
                "typing",
                {"room_id": room_id, "user": connection.actor.public()},
                skip_sid=connection.sid,
            )

    # ----- access changes (graduation) -----

    async def access_changed(self, actor: Actor) -> None:
        """Have every process re-check the rooms the user's live connections are in."""
        await self.bus.publish(ACCESS_CHANGED, {"user_id": actor.id})

    async def recheck_room_here(self, room_id: int) -> None:
        """Take out of the room this process's connections that may no longer be in it: a
        ban made on another process while Redis was down reached this one as nothing, and
        its sockets must not be given what was said since (rooms/catch_up.py)."""
        connections = self.hub.connections_in(room_id)
        if not connections:
            return
        async with self.sessions() as session:
            room = await store.get_room(session, room_id)
            for connection in connections:
                if room is None or not await self.access.allows(session, connection.actor, room):
                    await self.presence.exit(connection, room_id)

    async def _reconcile_access_here(self, payload: dict[str, Any]) -> None:
        """Bring this process's connections of a user in line with what they may now enter."""
        user_id = int(payload["user_id"])
        connections = self.hub.connections_of(user_id)
        if not connections:
            return
        async with self.sessions() as session:
            actor = await account_store.load_actor(session, user_id)
            if actor is None:
                return
            self.hub.update_actor(actor)
            joined = sorted({room_id for c in connections for room_id in c.rooms})
            rooms = [await store.get_room(session, room_id) for room_id in joined]
        closed = [room.id for room in rooms if room and room.id and not may_enter(actor, room)]
        for connection in connections:
            for room_id in closed:
                if room_id in connection.rooms:
                    await self.presence.exit(connection, room_id)
        for listener in self.access_changed_here:
            await listener(actor, connections)
