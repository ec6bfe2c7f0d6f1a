"""Message decisions: send (through the gates), edit, delete, react and read history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import public_user, public_user_of
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.db import SessionFactory, session_on_first_use
from server.kernel.errors import AppError, forbidden, invalid, not_found
from server.kernel.hotpath.writer import HotWriter, Rows, Write
from server.realtime.hub import Hub
from server.rooms import store
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft, PostGate, PostListener, StoredWithPost
from server.rooms.models import EditIn, Message, ReactIn, SendIn
from server.rooms.replies import Addressing, References
from server.rooms.serialize import mentions_json, message_json, new_message_json, reply_json


@dataclass(frozen=True)
class SendResult:
    message: dict[str, Any]
    created: bool


async def page_json(
    session: AsyncSession, rows: list[store.PageRow], hidden_through: int = 0
) -> list[dict[str, Any]]:
    """A page for a reader who may not read the room's messages up to `hidden_through`
    (rooms/visibility.py): replies quote only what they may read (rooms/replies.py)."""
    counts = await store.page_reaction_counts(session, rows)
    mentioned = await store.page_mentions(session, rows)
    return [
        message_json(
            row,
            public_user_of(row.author_id, row.author_name, row.author_role),
            counts.get(row.id, {}),
            quoted(row.replied_to, hidden_through),
            mentions_json(mentioned.get(row.id, ())),
        )
        for row in rows
    ]


async def rows_json(
    session: AsyncSession, rows: list[store.MessageRow], hidden_through: int = 0
) -> list[dict[str, Any]]:
    """As `page_json`, for messages loaded one by one."""
    ids = [message.id for message, _ in rows if message.id is not None]
    counts = await store.reaction_counts(session, ids)
    mentioned = await store.mentions_of(session, ids)
    originals = await store.replied_to(
        session, [message.reply_to_id for message, _ in rows if message.reply_to_id is not None]
    )
    return [
        message_json(
            message,
            public_user(author),
            counts.get(message.id or 0, {}),
            quoted(replied_to(message, originals), hidden_through),
            mentions_json(mentioned.get(message.id or 0, ())),
        )
        for message, author in rows
    ]


def replied_to(message: Message, originals: dict[int, store.RepliedTo]) -> store.RepliedTo | None:
    """What a loaded message replies to (an original no longer stored: only its id)."""
    if message.reply_to_id is None:
        return None
    gone = store.RepliedTo(message.reply_to_id, None, None, None, None, None)
    return originals.get(message.reply_to_id, gone)


def quoted(replied: store.RepliedTo | None, hidden_through: int) -> dict[str, Any] | None:
    if replied is None:
        return None
    return reply_json(replied, readable=replied.id > hidden_through)


def writes_stored_with(draft: Draft) -> list[Write]:
    """The gates' rows, written after the message in its transaction, given its id."""
    return [write_after_message(row) for row in draft.stored_with]


def write_after_message(row: StoredWithPost) -> Write:
    def params(earlier: Sequence[Rows]) -> Mapping[str, Any]:
        return row.params(store.inserted_id(earlier[0]))

    return Write(row.statement, params)


def keep_stored_with(draft: Draft, answered: list[Rows]) -> None:
    for row, rows in zip(draft.stored_with, answered, strict=True):
        draft.stored[row.name] = rows


def for_the_room(payload: dict[str, Any], addressing: Addressing) -> dict[str, Any]:
    """A new message as the room's live event carries it: a reply quotes only what everyone
    in the room may read (rooms/replies.py)."""
    if addressing.reply_for_room is addressing.reply_for_sender:
        return payload
    return {**payload, "reply_to": addressing.reply_for_room}


@dataclass
class MessageService:
    sessions: SessionFactory
    clock: Clock
    hub: Hub
    access: RoomAccess
    audit: AuditSink
    edit_window: timedelta
    reaction_emojis: tuple[str, ...]
    # Sends are stored on the hot path's own connections, taking their room's turn.
    writer: HotWriter
    # What every post passes, in order: first those that need no turn (a send passes them
    # before it waits for its room's turn, so what they wait on, the rate limit's Redis,
    # holds no other sender up), then the rest (slow mode reads the room's latest post).
    gates_before_turn: list[PostGate] = field(default_factory=list)
    gates: list[PostGate] = field(default_factory=list)
    listeners: list[PostListener] = field(default_factory=list)
    references: References = field(init=False)

    def __post_init__(self) -> None:
        self.references = References(self.access)

    async def send(self, actor: Actor, data: SendIn) -> SendResult:
        try:
            result = await self._send(actor, data)
        except AppError as error:
            if error.code != "invalid":
                for listener in self.listeners:
                    await listener.post_refused(actor, data.room_id, data.body, error)
            raise
        if not result.created:
            for listener in self.listeners:
                await listener.post_repeated(actor, result.message)
        return result

    async def _send(self, actor: Actor, data: SendIn) -> SendResult:
        async with session_on_first_use(self.sessions) as session:
            # Entered before the room is held: a room that does not exist gets no turn (the
            # SQLite writer keeps a lock per room it has held).
            room = await self.access.enter(session, actor, data.room_id)
            draft = Draft(actor, room, data.body, "send", self.clock.now(), session)
            try:
                await self._pass(self.gates_before_turn, draft)
                # After the crisis gate: a crisis post goes on without a reply it cannot make.
                addressing = await self.references.resolve(draft, data)
            except AppError as refused:
                return await self._earlier_send_or_raise(session, actor, data, refused)
            async with self.writer.turn(data.room_id) as turn:
                # So created_at follows the ids of one room's sends through this process
                # (across processes, as closely as their clocks and a commit's few ms allow).
                draft.now = self.clock.now()
                draft.hold_turn = turn.hold
                try:
                    await self._pass(self.gates, draft)
                except AppError as refused:
                    return await self._earlier_send_or_raise(session, actor, data, refused)
                values: store.NewMessage = {
                    "room_id": data.room_id,
                    "author_id": actor.id,
                    "body": draft.body,
                    "client_id": data.client_id,
                    "created_at": draft.now,
                    "deleted": False,
                }
                if addressing.reply_to_id is not None:
                    values = store.NewReply(**values, reply_to_id=addressing.reply_to_id)
                mentions = [store.mention_insert(user_id) for user_id in addressing.mention_ids]
                try:
                    inserted = await turn.commit(
                        [store.message_insert(values), *mentions, *writes_stored_with(draft)]
                    )
                except IntegrityError:
                    # This client_id is stored already: a repeated send, or the same one that
                    # won a race from another connection of this user.
                    earlier = await self._earlier_send(session, actor, data)
                    if earlier is None:
                        raise
                    return earlier
        keep_stored_with(draft, inserted[1 + len(mentions) :])
        payload = new_message_json(
            store.inserted_id(inserted[0]),
            values,
            actor.public(),
            addressing.reply_for_sender,
            addressing.mentions(),
        )
        await self.hub.to_room(data.room_id, "message", for_the_room(payload, addressing))
        await self._tell_listeners(draft, payload)
        return SendResult(payload, created=True)

    async def _earlier_send_or_raise(
        self, session: AsyncSession, actor: Actor, data: SendIn, refused: AppError
    ) -> SendResult:
        """A gate refused the send. A send repeated once the first was stored (its answer
        lost to a dropped connection) answers with that first one, whatever the gates say
        now: slow mode, a lock or the rate limit would otherwise refuse a message already
        delivered."""
        earlier = await self._earlier_send(session, actor, data)
        if earlier is None:
            raise refused
        return earlier

    async def _earlier_send(
        self, session: AsyncSession, actor: Actor, data: SendIn
    ) -> SendResult | None:
        """The message stored by an earlier send with this client_id, if there was one; a
        repeated send answers with it and broadcasts nothing."""
        earlier = await store.find_by_client_id(
            session, author_id=actor.id, room_id=data.room_id, client_id=data.client_id
        )
        if earlier is None or earlier.id is None:
            return None
        row = await store.get_message_row(session, earlier.id)
        if row is None:
            return None
        hidden_through = 0
        room = await self.access.rooms.get(session, data.room_id)
        if earlier.reply_to_id is not None and room is not None:
            hidden_through = await self.access.history.hidden_through(session, actor, room)
        [message] = await rows_json(session, [row], hidden_through)
        return SendResult(message, created=False)

    @staticmethod
    async def _pass(gates: list[PostGate], draft: Draft) -> None:
        for gate in gates:
            await gate.check(draft)

    async def _tell_listeners(self, draft: Draft, message: dict[str, Any]) -> None:
        for listener in self.listeners:
            await listener.post_stored(draft, message)

    async def edit(self, actor: Actor, data: EditIn) -> dict[str, Any]:
        async with self.sessions() as session:
            message, author = await self._live_message(session, data.message_id)
            room = await self.access.enter_to_read(session, actor, message.room_id, data.message_id)
            if message.author_id != actor.id:
                raise forbidden("Only the author can edit a message.")
            now = self.clock.now()
            if now - message.created_at > self.edit_window:
                minutes = int(self.edit_window.total_seconds() // 60)
                raise forbidden(f"Messages can be edited for {minutes} minutes after sending.")
            draft = Draft(actor, room, data.body, "edit", now, session)
            await self._pass([*self.gates_before_turn, *self.gates], draft)
            message.body = draft.body
            message.edited_at = now
            session.add(message)
            for row in draft.stored_with:
                params = row.params(data.message_id)
                draft.stored[row.name] = await row.statement.rows(session, params)
            await session.commit()
            # Everyone in the room gets it: a reply quotes what all of them may read.
            bound = 0
            if message.reply_to_id is not None:
                bound = await self.access.history.hidden_from_someone(session, room)
            payload = (await rows_json(session, [(message, author)], bound))[0]
        await self.hub.to_room(message.room_id, "message_updated", payload)
        await self._tell_listeners(draft, payload)
        return payload

    async def delete(self, actor: Actor, message_id: int) -> None:
        async with self.sessions() as session:
            message = await store.get_message(session, message_id)
            if message is None:
                raise not_found("message")
            if message.author_id != actor.id:
                # Authors may always take back their own words; others need moderator rights
                # in a room they can enter.
                if not actor.is_staff:
                    raise forbidden("Only the author or a moderator can delete a message.")
                await self.access.enter(session, actor, message.room_id)
            if message.deleted:
                return
            message.deleted = True
            # The text is gone for good, not hidden: that is what the author asked for.
            message.body = ""
            session.add(message)
            await store.clear_reactions(session, message_id)
            await store.clear_mentions(session, message_id)
            await session.commit()
        await self.hub.to_room(
            message.room_id, "message_deleted", {"id": message.id, "room_id": message.room_id}
        )
        if message.author_id != actor.id:
            await self.audit.record(
                actor_id=actor.id,
                action="message_deleted",
                room_id=message.room_id,
                target_user_id=message.author_id,
                message_id=message.id,
            )

    async def react(self, actor: Actor, data: ReactIn) -> dict[str, int]:
        if data.emoji not in self.reaction_emojis:
            raise invalid("emoji: choose one of " + " ".join(self.reaction_emojis) + ".")
        async with self.sessions() as session:
            message, _ = await self._live_message(session, data.message_id)
            room = await self.access.enter_to_read(session, actor, message.room_id, data.message_id)
            if room.archived_at is not None:
                raise AppError(
                    "room_locked",
                    "This room is archived: its messages stay as they are.",
                )
            try:
                await store.toggle_reaction(
                    session, message_id=data.message_id, user_id=actor.id, emoji=data.emoji
                )
                await session.commit()
            except IntegrityError:
                # A concurrent toggle of the same reaction already added it.
                await session.rollback()
            counts = await store.reaction_counts(session, [data.message_id])
            reactions = counts.get(data.message_id, {})
        await self.hub.to_room(
            message.room_id,
            "reactions",
            {"message_id": data.message_id, "room_id": message.room_id, "reactions": reactions},
        )
        return dict(reactions)

    async def history(
        self, actor: Actor, room_id: int, *, before: int | None, limit: int
    ) -> dict[str, Any]:
        """A page of the room's history older than `before`; it ends where what the actor
        may read begins (rooms/visibility.py), `has_more` false there."""
        async with self.sessions() as session:
            room = await self.access.enter(session, actor, room_id)
            hidden_through = await self.access.history.hidden_through(session, actor, room)
            rows, has_more = await store.latest_messages(
                session, room_id, before=before, limit=limit, hidden_through=hidden_through
            )
            return {
                "messages": await page_json(session, rows, hidden_through),
                "has_more": has_more,
            }

    async def stored_since(self, room_id: int, since: datetime, limit: int) -> list[dict[str, Any]]:
        """The room's messages stored at or after `since` (at most the newest `limit`), oldest
        first, as the `message` event carries them; deleted ones left out."""
        async with self.sessions() as session:
            rows, _ = await store.latest_messages(session, room_id, before=None, limit=limit)
            recent = [row for row in rows if not row.deleted and row.created_at >= since]
            # They go to the room's sockets at once: replies quote what all of them may read.
            room = await self.access.rooms.get(session, room_id)
            bound = 0
            if room is not None and any(row.reply_to_id is not None for row in recent):
                bound = await self.access.history.hidden_from_someone(session, room)
            return await page_json(session, recent, bound)

    async def hidden_through_each(self, room_id: int, actors: Sequence[Actor]) -> list[int]:
        """For each actor, the newest message of the room they may not read (0: none)."""
        async with self.sessions() as session:
            room = await self.access.rooms.get(session, room_id)
            if room is None:
                return [0 for _ in actors]
            return [await self.access.history.hidden_through(session, a, room) for a in actors]

    async def _live_message(self, session: AsyncSession, message_id: int) -> store.MessageRow:
        row = await store.get_message_row(session, message_id)
        if row is None or row[0].deleted:
            raise not_found("message")
        return row
