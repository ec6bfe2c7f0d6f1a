"""Searching messages: which of them a person may find, and how a found one is shown.

What one may find is what one may read now, and nothing else: the rooms one may enter now
(their audience, one's cohort, no ban; `RoomAccess.allows`), and in each only what its
history visibility lets one read (`HistoryWindow.hidden_through`, the bound every read of
history goes through). Staff read every room they may enter, whole. A deleted message
(deleted by its author or a moderator, or erased) is never found: its text is gone; an
edited one is found by its text as it is now. The index (rooms/search_store.py) holds
the current text of every message; the scope given to it is the only thing that keeps a
patient of one cohort from the words of another, so it is built here, once, for every way
in (all my rooms, or one).

A found message comes with a snippet of its text around the first word that matched, as
plain text cut into runs that matched and runs that did not: a client shows it as text,
marking the matches, and never as markup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import public_user_of
from server.kernel.actors import Actor
from server.kernel.clock import iso_utc
from server.kernel.db import SessionFactory
from server.kernel.errors import invalid
from server.rooms import store
from server.rooms.access import RoomAccess
from server.rooms.models import Room
from server.rooms.search_indexing import IndexedAsWritten, SearchIndexing
from server.rooms.search_models import MAX_QUERY_WORDS, SearchQuery
from server.rooms.search_store import Hit, SearchIndex, Terms

# A word: letters and digits of any script (what both indexes split text into, near enough).
WORD = re.compile(r"[^\W_]+")
# The last word of a query also finds longer words it starts ("sle" finds "sleep") from this
# many characters: shorter ones would match most of history (and SQLite's index keeps
# three-letter prefixes ready: migration 0017).
PREFIX_FROM_CHARS = 3
# A snippet: about this many characters, from a little before the first match.
SNIPPET_CHARS = 160
SNIPPET_LEAD_CHARS = 40
ELLIPSIS = "…"


def terms_of(text: str) -> Terms:
    """The words of a query, in lower case; `invalid` when there are none, or too many."""
    words = tuple(dict.fromkeys(WORD.findall(unicodedata.normalize("NFC", text).lower())))
    if not words:
        raise invalid("q: give at least one word (letters or digits).")
    if len(words) > MAX_QUERY_WORDS:
        raise invalid(f"q: give at most {MAX_QUERY_WORDS} words.")
    return Terms(words, prefix=len(words[-1]) >= PREFIX_FROM_CHARS)


def folded(word: str) -> str:
    """A word without case or accents, to tell a match in the text as the indexes do."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def matches_term(word: str, terms: Terms) -> bool:
    candidate = folded(word)
    wanted = [folded(each) for each in terms.words]
    if terms.prefix and candidate.startswith(wanted[-1]):
        return True
    return candidate in wanted


def snippet(body: str, terms: Terms) -> list[dict[str, Any]]:
    """The text on one line around its first match, as runs: `match` true for a word the
    query found. At most about SNIPPET_CHARS characters, cut between words, `…` where cut."""
    text = " ".join(body.split())
    found = [(m.start(), m.end()) for m in WORD.finditer(text) if matches_term(m.group(), terms)]
    start = max(0, found[0][0] - SNIPPET_LEAD_CHARS) if found else 0
    if start > 0:
        # From the start of a word: after the space before it, unless that cuts the match.
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < found[0][0] else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > (found[0][1] if found else start) else end
    runs: list[dict[str, Any]] = []
    at = start
    for match_start, match_end in found:
        if match_start < start or match_end > end:
            continue
        if match_start > at:
            runs.append({"text": text[at:match_start], "match": False})
        runs.append({"text": text[match_start:match_end], "match": True})
        at = match_end
    if at < end or not runs:
        runs.append({"text": text[at:end], "match": False})
    if start > 0:
        _add_to_run(runs, 0, ELLIPSIS, before=True)
    if end < len(text):
        _add_to_run(runs, -1, ELLIPSIS, before=False)
    return runs


def _add_to_run(runs: list[dict[str, Any]], index: int, text: str, *, before: bool) -> None:
    """The ellipsis joins the unmatched run at that end, or is a run of its own."""
    run = runs[index]
    if run["match"]:
        runs.insert(0 if before else len(runs), {"text": text, "match": False})
    else:
        run["text"] = text + run["text"] if before else run["text"] + text


def hit_json(hit: Hit, room_name: str, terms: Terms) -> dict[str, Any]:
    return {
        "message_id": hit.id,
        "room_id": hit.room_id,
        "room_name": room_name,
        "author": public_user_of(hit.author_id, hit.author_name, hit.author_role),
        "created_at": iso_utc(hit.created_at),
        "snippet": snippet(hit.body, terms),
    }


@dataclass
class MessageSearch:
    sessions: SessionFactory
    access: RoomAccess
    index: SearchIndex
    indexing: SearchIndexing = field(default_factory=IndexedAsWritten)

    async def search(self, actor: Actor, query: SearchQuery) -> dict[str, Any]:
        """A page of the messages the actor may read that hold every word of the query,
        newest first; `next_before` pages on (None: no more). Every message stored before
        the search began is in the index by then (search_indexing.py)."""
        terms = terms_of(query.q)
        await self.indexing.catch_up()
        async with self.sessions() as session:
            rooms = await self._rooms(session, actor, query.room_id)
            scope = {
                room.id: await self.access.history.hidden_through(session, actor, room)
                for room in rooms
                if room.id is not None
            }
            hits = await self.index.newest_matching(
                session, terms, scope, before=query.before, limit=query.limit + 1
            )
        names = {room.id: room.name for room in rooms}
        page = hits[: query.limit]
        return {
            "results": [hit_json(hit, names[hit.room_id], terms) for hit in page],
            "next_before": page[-1].id if len(hits) > query.limit else None,
        }

    async def _rooms(self, session: AsyncSession, actor: Actor, room_id: int | None) -> list[Room]:
        """The rooms searched: the one asked for, refused as entering it would be (`not_found`,
        `forbidden`, `banned`); or every room the actor may be in now."""
        if room_id is not None:
            return [await self.access.enter(session, actor, room_id)]
        return [
            room
            for room in await store.list_rooms(session)
            if await self.access.allows(session, actor, room)
        ]
