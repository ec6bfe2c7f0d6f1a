"""Reads of the full-text index of message bodies (migration 0017): one interface, one
implementation per database.

Both walk the matches newest first and stop at the page's end, so a word said a hundred
thousand times costs a page, not a hundred thousand rows: SQLite's FTS5 gives its matches in
rowid order (the message id); PostgreSQL walks the newest messages by primary key, testing
each one's stored words, then takes what is left from its GIN index (`PostgresSearch`).

Only what the scope allows is read: the rooms given, within each only the messages above its
bound (rooms/visibility.py), never a deleted one. Which rooms and bounds those are is the
service's decision (rooms/search.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Column, Integer, MetaData, Select, Table, Text, and_, func, literal_column
from sqlalchemy import or_ as any_of
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from server.accounts.models import User
from server.rooms.models import Message


@dataclass(frozen=True)
class Terms:
    """What to look for: every word (already folded to lower case), the last also as the
    beginning of a longer one when `prefix`."""

    words: tuple[str, ...]
    prefix: bool


class Hit(NamedTuple):
    id: int
    room_id: int
    body: str
    created_at: datetime
    author_id: int
    author_name: str
    author_role: str


# Room id -> the newest message id of it the reader may not read (0: none).
Scope = Mapping[int, int]


class SearchIndex(Protocol):
    async def newest_matching(
        self, session: AsyncSession, terms: Terms, scope: Scope, *, before: int | None, limit: int
    ) -> list[Hit]:
        """Up to `limit` live messages of the scope that hold every term, older than
        `before` (when given), newest first."""
        ...


def _hits(message_id: ColumnElement[int]) -> Select[Any]:
    hits: Select[Any] = select(  # type: ignore[call-overload]
        message_id,
        col(Message.room_id),
        col(Message.body),
        col(Message.created_at),
        col(User.id),
        col(User.display_name),
        col(User.role),
    )
    return hits


def _readable(scope: Scope) -> ColumnElement[bool]:
    """Messages of the scope's rooms above each one's bound, and not deleted."""
    whole = [room_id for room_id, bound in scope.items() if bound == 0]
    parts: list[ColumnElement[bool]] = [col(Message.room_id).in_(whole)] if whole else []
    parts += [
        and_(col(Message.room_id) == room_id, col(Message.id) > bound)
        for room_id, bound in scope.items()
        if bound > 0
    ]
    return and_(any_of(*parts), col(Message.deleted).is_(False))


def _window(
    message_id: ColumnElement[int], scope: Scope, before: int | None
) -> list[ColumnElement[bool]]:
    """The id range every hit lies in, given to the index's own walk: above the lowest bound
    of the scope, below `before`."""
    bounds = [col(message_id) > min(scope.values())]
    if before is not None:
        bounds.append(col(message_id) < before)
    return bounds


# The FTS5 table (migration 0017); not a model, so the schema's comparison leaves it alone.
_FTS = Table("message_search", MetaData(), Column("rowid", Integer), Column("body", Text))


def fts5_query(terms: Terms) -> str:
    """Each word a quoted string (a word holds letters and digits only, so no quote to
    escape), all of them required; `*` makes the last a prefix."""
    quoted = [f'"{word}"' for word in terms.words]
    return " ".join(quoted) + ("*" if terms.prefix else "")


def index_pending(connection: sqlite3.Connection, *, limit: int) -> int:
    """Put up to `limit` of the messages above the index's mark into SQLite's index, oldest
    first, and move the mark past them (migration 0020); answers how many. Run inside a
    write transaction, which keeps the mark and the index in step."""
    (mark,) = connection.execute("SELECT up_to FROM message_search_indexed").fetchone()
    rows = connection.execute(
        "SELECT id, body FROM message WHERE id > ? ORDER BY id LIMIT ?", (mark, limit)
    ).fetchall()
    if rows:
        connection.executemany("INSERT INTO message_search (rowid, body) VALUES (?, ?)", rows)
        connection.execute("UPDATE message_search_indexed SET up_to = ?", (rows[-1][0],))
    return len(rows)


class SqliteSearch:
    async def newest_matching(
        self, session: AsyncSession, terms: Terms, scope: Scope, *, before: int | None, limit: int
    ) -> list[Hit]:
        if not scope:
            return []
        rowid = _FTS.c.rowid
        query = (
            _hits(rowid)
            .select_from(_FTS)
            .join(Message, col(Message.id) == rowid)
            .join(User, col(User.id) == col(Message.author_id))
            .where(
                literal_column("message_search").op("MATCH")(fts5_query(terms)),
                *_window(rowid, scope, before),
                _readable(scope),
            )
            .order_by(rowid.desc())
            .limit(limit)
        )
        return [Hit._make(row) for row in (await session.execute(query)).all()]


_SIMPLE: ColumnElement[str] = literal_column("'simple'::regconfig")


def tsquery(terms: Terms) -> str:
    """All words required (`&`); `:*` makes the last a prefix. A word holds letters and digits
    only, none of to_tsquery's operators."""
    return " & ".join(terms.words) + (":*" if terms.prefix else "")


# Each message's words, a column of its own (migration 0017), GIN-indexed.
_WORDS: ColumnElement[str] = literal_column("message.body_search")
_MESSAGE_ID: ColumnElement[int] = Message.__table__.c.id  # type: ignore[attr-defined]
# How many of the newest messages (by id, below the page's cursor) the first look walks.
RECENT_WINDOW = 10_000
# The planner's hands for each look (transaction-local settings): the newest messages walked
# by the primary key; or the GIN index's matches fetched, then sorted. Each look planned for
# its own id range: a prepared statement's generic plan (from its sixth run) guesses ranges,
# and guessed a small one to AND the index's matches with a bitmap of half the table.
AS_BEFORE = {
    "enable_bitmapscan": "on",
    "enable_indexscan": "on",
    "enable_seqscan": "on",
    "plan_cache_mode": "auto",
}
WALK_RECENT = {**AS_BEFORE, "enable_bitmapscan": "off", "plan_cache_mode": "force_custom_plan"}
FROM_THE_INDEX = {
    **AS_BEFORE,
    "enable_indexscan": "off",
    "enable_seqscan": "off",
    "plan_cache_mode": "force_custom_plan",
}


@dataclass(frozen=True)
class PostgresSearch:
    """Two looks. A word in many messages is found among the newest few thousand, walking
    them newest first and testing each row's stored words, and the walk stops at the page's
    end; the GIN index would fetch every one of its matches to sort them. A word in few
    messages is not, and walking on would read all history; so what the walk did not fill,
    the index's matches below the window fill. The planner guesses which case a query is from
    word statistics, and a wrong guess (a word no one said) walked a million rows: so each
    look tells it which way to go."""

    recent_window: int = RECENT_WINDOW

    async def newest_matching(
        self, session: AsyncSession, terms: Terms, scope: Scope, *, before: int | None, limit: int
    ) -> list[Hit]:
        if not scope:
            return []
        newest = await _set_config(session, WALK_RECENT, select(func.max(Message.id)))
        if before is None:
            before = int(newest or 0) + 1
        window_starts = before - self.recent_window
        # Once for the statement: a bound tsquery text is otherwise parsed again on every row
        # walked (planned without its value, it is no constant to fold).
        query = select(func.to_tsquery(_SIMPLE, tsquery(terms))).scalar_subquery()
        recent = col(Message.id) >= window_starts
        found = await self._look(session, query, scope, before, limit, recent)
        if len(found) < limit and window_starts > min(scope.values()):
            await _set_config(session, FROM_THE_INDEX)
            found += await self._look(session, query, scope, window_starts, limit - len(found))
        # As they were. A search that fails half-way needs no such step: its transaction is
        # rolled back, and SET LOCAL with it.
        await _set_config(session, AS_BEFORE)
        return found

    @staticmethod
    async def _look(
        session: AsyncSession,
        query: ColumnElement[Any],
        scope: Scope,
        before: int,
        limit: int,
        *within: ColumnElement[bool],
    ) -> list[Hit]:
        message_id = _MESSAGE_ID
        statement = (
            _hits(message_id)
            .join(User, col(User.id) == col(Message.author_id))
            .where(
                _WORDS.op("@@")(query),
                *_window(message_id, scope, before),
                *within,
                _readable(scope),
            )
            .order_by(message_id.desc())
            .limit(limit)
        )
        return [Hit._make(row) for row in (await session.execute(statement)).all()]


async def _set_config(
    session: AsyncSession, settings: Mapping[str, str], also: Select[Any] | None = None
) -> Any:
    """SET LOCAL (to the end of the transaction at most), in the same round trip as `also`'s
    one value, which it answers."""
    values = [func.set_config(name, value, True) for name, value in settings.items()]
    scalar = [also.scalar_subquery()] if also is not None else []
    row = (await session.execute(select(*scalar, *values))).one()
    return row[0] if also is not None else None


def search_index_for(dialect: str) -> SearchIndex:
    """The index of the database peerrooms runs on (its engine's dialect name)."""
    return PostgresSearch() if dialect == "postgresql" else SqliteSearch()
