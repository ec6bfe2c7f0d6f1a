"""Replies and mentions: what a `send` refers to, checked before it is stored.

- **A reply** (`reply_to`) names a message of the same room that the sender may read now
  (rooms/visibility.py). Anything else (another room's message, an unknown id, one from
  before what the sender may read) is `not_found`, as if it were not there, and nothing is
  stored. An original deleted meanwhile may still be replied to: the reply shows it deleted.
  Every message carries `reply_to` (null unless it is a reply): the original's id, author
  and the start of its current text (serialize.py: `reply_json`), read with each page, so
  an edit or a deletion of the original shows at the next read.
- **What a reply quotes** is read for its reader: a page is read for one person, and an
  original they may not read is quoted as `hidden` (no author, no text). A live event goes
  to everyone in the room at once, so it quotes the original only if everyone who may be in
  the room may read it (`HistoryWindow.opens_for_everyone`); otherwise it goes `hidden` and
  each person's next read of the page quotes it for them. The sender's own answer quotes it.
- **Mentions** (`mentions`, user ids) are the people the text names as `@display name`
  (the web client inserts it from its suggestions). Someone counts as mentioned only if
  they may be in the room now (its audience, active, no ban) and their `@name` is in the
  text; any other id is silently no mention, whether or not such a person exists, so
  mentions tell nobody who exists outside the room. The sender is never their own mention.
- **Nobody in crisis is silenced**: a reply the sender may not make is dropped from a post
  that speaks of crisis rather than refusing it (`Draft.refuse`).

A send without either costs nothing here. A reply costs one lookup of the original by its
primary key (with the sender's and the room's reading bounds, in rooms whose history is not
open to all); mentions one lookup of the people named and one check of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts import store as account_store
from server.kernel.errors import not_found
from server.rooms import store
from server.rooms.access import RoomAccess
from server.rooms.gates import Draft
from server.rooms.models import SendIn
from server.rooms.serialize import mentions_json, reply_json


@dataclass(frozen=True)
class Addressing:
    """What a send refers to, checked: the original it replies to, and who it mentions."""

    reply_to_id: int | None = None
    # The reply as its sender sees it, and as the room's live event carries it.
    reply_for_sender: dict[str, Any] | None = None
    reply_for_room: dict[str, Any] | None = None
    mentioned: tuple[tuple[int, str, str], ...] = ()

    @property
    def mention_ids(self) -> list[int]:
        return [user_id for user_id, _, _ in self.mentioned]

    def mentions(self) -> list[dict[str, Any]]:
        return mentions_json(self.mentioned)


NOTHING = Addressing()


def names_in(body: str, name: str) -> bool:
    """Whether the text holds `@name` as a word of its own (any case): `@Ana` is not in
    `@Anabel`, nor in `ana@example.org`."""
    pattern = rf"(?<![\w@])@{re.escape(name)}(?!\w)"
    return re.search(pattern, body, flags=re.IGNORECASE) is not None


@dataclass
class References:
    access: RoomAccess

    async def resolve(self, draft: Draft, data: SendIn) -> Addressing:
        """The send's reply and mentions, checked (see the module's docstring)."""
        if data.reply_to is None and not data.mentions:
            return NOTHING
        session, room = draft.reads, draft.room
        reply_to_id, for_sender, for_room = None, None, None
        if data.reply_to is not None:
            replied = await self._original(draft, data.reply_to)
            if replied is not None:
                reply_to_id = data.reply_to
                for_sender = reply_json(replied.replied, readable=True)
                floor = await self.access.history.opens_for_everyone(session, room)
                quotable = floor is None or replied.created_at >= floor
                for_room = for_sender if quotable else reply_json(replied.replied, readable=False)
        mentioned = await self._mentioned(draft, data.mentions)
        return Addressing(reply_to_id, for_sender, for_room, mentioned)

    async def _original(self, draft: Draft, message_id: int) -> store.Original | None:
        """The original, if the sender may reply to it; else refused (a crisis post goes on
        without the reply)."""
        session, room = draft.reads, draft.room
        original = await store.original(session, message_id)
        if original is not None and original.room_id == room.id:
            opens = await self.access.history.opens_at(session, draft.actor, room)
            if opens is None or original.created_at >= opens:
                return original
        draft.refuse(not_found("message"))
        return None

    async def _mentioned(
        self, draft: Draft, user_ids: list[int]
    ) -> tuple[tuple[int, str, str], ...]:
        wanted = sorted(set(user_ids) - {draft.actor.id})
        if not wanted:
            return ()
        session = draft.reads
        found = []
        for user in await account_store.get_users(session, wanted):
            if user.id is None or not names_in(draft.body, user.display_name):
                continue
            if await self._may_be_in_room(session, user.id, draft):
                found.append((user.id, user.display_name, user.role))
        return tuple(sorted(found, key=lambda person: (person[1].lower(), person[0])))

    async def _may_be_in_room(self, session: AsyncSession, user_id: int, draft: Draft) -> bool:
        person = await account_store.load_actor(session, user_id)
        return person is not None and await self.access.allows(session, person, draft.room)
