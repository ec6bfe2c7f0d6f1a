"""Room decisions: listing, creating and changing rooms, joining and leaving them live,
typing indicators, and keeping live connections within what each user may enter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.accounts.models import member_user, public_user
from server.accounts.service import require_staff
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory
from server.kernel.errors import forbidden, invalid, not_found
from server.kernel.throttle import Throttle
from server.presence.service import PresenceService
from server.realtime.bus import ControlBus
from server.realtime.hub import Connection, Hub
from server.realtime.notices import Notifier
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
    audience_problem,
    room_with,
)
from server.rooms.policy import may_enter
from server.rooms.reshape import check_audience, check_kind
from server.rooms.serialize import room_json
from server.rooms.visibility import default_visibility

ACCESS_CHANGED = "rooms.access_changed"
# Told, on each process, of a person whose access changed and their sockets there.
AccessChangedHere = Callable[[Actor, list[Connection]], Awaitable[None]]
# Room lists show "99+" past this; counting further would read a newcomer's whole backlog.
UNREAD_CAP = 100


ROOM_RECHECK = "rooms.recheck"
# A room's columns whose change may close it to some of those in it now.
ACCESS_COLUMNS = frozenset({"audience", "cohort_id", "archived_at"})
ARCHIVED_NOTICE = "{name} has been archived: it is closed now, and its history is kept."


def room_change_action(name: str, value: object) -> str:
    """The audit action of one changed room setting."""
    if name == "locked":
        return "room_locked" if value else "room_unlocked"
    if name == "archived_at":
        return "room_archived" if value else "room_unarchived"
    return f"room_{name}_changed"


def room_change_reason(name: str, value: object) -> str:
    """What the audit entry of one changed setting says: who may now read which history
    matters to a privacy review (its visibility, its audience); and what a room now is. The
    other settings speak for themselves."""
    return f"now {value}" if name in ("history_visibility", "audience", "kind") else ""


def audience_text(room: Room) -> str:
    """Who a room is for, in an audit entry: `cohort 3`, `alumni`, `everyone`."""
    return f"cohort {room.cohort_id}" if room.cohort_id else room.audience


def changed_columns(room: Room, data: RoomPatch, now: datetime) -> dict[str, Any]:
    """The room's columns the patch changes, with their new values. A new audience other
    than `cohort` drops the cohort; `archived` is kept as the moment it was archived."""
    wanted = data.model_dump(exclude_none=True, exclude={"archived"})
    if data.audience is not None and data.audience != "cohort":
        wanted.setdefault("cohort_id", None)
    if data.archived is not None and data.archived != (room.archived_at is not None):
        wanted["archived_at"] = now if data.archived else None
    return {name: value for name, value in wanted.items() if getattr(room, name) != value}


def audit_entries(changes: dict[str, Any], room: Room) -> list[tuple[str, str]]:
    """(action, reason) of each change; an audience and its cohort are one change."""
    entries = []
    for name, value in changes.items():
        if name == "cohort_id" and "audience" in changes:
            continue
        if name in ("audience", "cohort_id"):
            entries.append(("room_audience_changed", f"now {audience_text(room)}"))
        else:
            entries.append((room_change_action(name, value), room_change_reason(name, value)))
    return entries


def room_note(room: Room) -> str:
    """What the audit entry of a new room says: who it is for and how it is kept."""
    audience = audience_text(room)
    return (
        f"{room.name}: {room.kind} room for {audience}, contact {room.contact_policy},"
        f" history {room.history_visibility}"
    )


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
    notifier: Notifier = field(init=False)
    # Joins under way, by socket, room and `since`: the same join asked for again meanwhile
    # (a client retrying after its deadline answered `unavailable`) waits for this one.
    _joining: dict[tuple[str, int, int | None], asyncio.Task[dict[str, Any]]] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        self.bus.subscribe(ACCESS_CHANGED, self._reconcile_access_here)
        self.bus.subscribe(ROOM_RECHECK, self._recheck_room)
        self.notifier = Notifier(self.hub)

    # ----- rooms -----

    async def list_rooms(self, actor: Actor, *, archived: bool = False) -> list[dict[str, Any]]:
        """The rooms the actor may enter; with `archived`, those archived too (only staff
        may enter them)."""
        async with self.sessions() as session:
            every = await store.list_rooms(session, archived=archived)
            rooms = [room for room in every if may_enter(actor, room)]
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
                slow_mode_s=data.slow_mode_s,
                contact_policy=data.contact_policy,
                history_visibility=data.history_visibility or default_visibility(data.kind),
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            session.add(room)
            await session.commit()
        await self.audit.record(
            actor_id=actor.id, action="room_created", room_id=room.id, reason=room_note(room)
        )
        return room_json(room, 0)

    async def ensure_room(self, actor: Actor, data: RoomIn) -> dict[str, Any]:
        """The room of this name, created when missing (operator set-up, the demo)."""
        async with self.sessions() as session:
            room = await store.get_room_by_name(session, data.name)
        if room is None:
            return await self.create_room(actor, data)
        return room_json(room, 0)

    async def update_room(self, actor: Actor, room_id: int, data: RoomPatch) -> dict[str, Any]:
        """Changes a room's settings, kind, audience (rooms/reshape.py) or archives it (and
        brings it back). Those in it get `room_updated`; anyone it closes to leaves it at
        once on every process, and an archived room's audience is told."""
        require_staff(actor)
        async with self.sessions() as session:
            # A room of this session's own to change, not the kept one others read.
            room = await store.get_room(session, room_id)
            if room is None:
                raise not_found("room")
            await self.access.admit(session, actor, room)
            changes = changed_columns(room, data, self.clock.now())
            await self._check_reshape(session, room, room_with(room, **changes))
            for name, value in changes.items():
                setattr(room, name, value)
            session.add(room)
            await session.commit()
            archived_for = (
                await store.audience_user_ids(session, room) if changes.get("archived_at") else []
            )
        if changes:
            # Every process forgets its kept copy (rooms/kept.py) before this answers.
            await self.access.rooms.changed(room_id)
        payload = room_json(room, (await self.presence.online_counts([room_id]))[room_id])
        await self.hub.to_room(room_id, "room_updated", payload)
        if ACCESS_COLUMNS & changes.keys():
            await self.bus.publish(ROOM_RECHECK, {"room_id": room_id})
        for user_id in archived_for:
            await self.notifier.tell(
                user_id, "room_archived", ARCHIVED_NOTICE.format(name=room.name), room_id=room_id
            )
        for action, reason in audit_entries(changes, room):
            await self.audit.record(
                actor_id=actor.id, action=action, room_id=room_id, reason=reason
            )
        return payload

    async def _check_reshape(self, session: AsyncSession, before: Room, after: Room) -> None:
        """Refuses a kind, audience or cohort the room may not have (rooms/reshape.py)."""
        if (after.kind, after.audience, after.cohort_id) == (
            before.kind,
            before.audience,
            before.cohort_id,
        ):
            return  # its other settings are the input model's to check
        problem = audience_problem(after.kind, after.audience, after.cohort_id)
        if problem is not None:
            field_name, sentence = problem
            raise invalid(f"{field_name}: {sentence}.")
        if after.cohort_id is not None and after.cohort_id != before.cohort_id:
            if await account_store.get_cohort(session, after.cohort_id) is None:
                raise not_found("cohort (cohort_id)")
        check_kind(before, after)
        await check_audience(session, self.access.history, before, after)

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
        """Who is in the room, as its list shows them: those connected to this process as
        their sockets know them (kept current as they change: `Hub.update_actor`), the rest
        (on other processes) read. Every join asks: in a reconnect storm, reading everyone
        was a twentieth of the server's CPU."""
        here: dict[int, dict[str, Any]] = {}
        elsewhere: list[int] = []
        for user_id in await self.presence.online_user_ids(room_id):
            connections = self.hub.connections_of(user_id)
            if connections:
                here[user_id] = connections[0].actor.member()
            else:
                elsewhere.append(user_id)
        for user in await account_store.get_users(session, elsewhere):
            here[user.id or 0] = member_user(user)
        return [here[user_id] for user_id in sorted(here)]

    # ----- live membership -----

    async def join(self, connection: Connection, data: JoinIn) -> dict[str, Any]:
        """Enter the room and read what the socket needs of it. A join past its deadline
        goes on (the client was answered `unavailable`) and the client asks again: that
        second ask waits for the first instead of doing all of it again. In a reconnect
        storm the repeats doubled the work of a server already behind."""
        key = (connection.sid, data.room_id, data.since)
        under_way = self._joining.get(key)
        if under_way is None:
            under_way = asyncio.ensure_future(self._join(connection, data))
            self._joining[key] = under_way
            under_way.add_done_callback(lambda done: self._joined(key, done))
        # Shielded: a waiter given up on leaves the join to the others.
        return await asyncio.shield(under_way)

    def _joined(self, key: tuple[str, int, int | None], done: asyncio.Task[Any]) -> None:
        if self._joining.get(key) is done:
            del self._joining[key]
        if not done.cancelled():
            done.exception()  # retrieved here, in case every waiter was given up on

    async def _join(self, connection: Connection, data: JoinIn) -> dict[str, Any]:
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

    async def room_ids_open_to(self, actor: Actor) -> list[int]:
        """The rooms the person may enter, bans aside (what they wrote there is still read):
        where a change to their profile is announced."""
        async with self.sessions() as session:
            every = await store.list_rooms(session, archived=actor.is_staff)
        return [room.id for room in every if room.id is not None and may_enter(actor, room)]

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

    async def _recheck_room(self, payload: dict[str, Any]) -> None:
        await self.recheck_room_here(int(payload["room_id"]))

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
