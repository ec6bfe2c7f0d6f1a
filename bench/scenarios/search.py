"""search: finding words among 1,000,000 stored messages.

The history scenario's room (one room of 1,000,000 messages by 50 people; on SQLite its file
cached under bench/data/, on PostgreSQL seeded with COPY into a database of the run's own) is
searched by a patient who may read the newer half of it: the room's history visibility is
`since_joined` and they joined half-way through, so every search is bounded as the server
bounds a real one. One `GET /api/search` after another, a page of 20 each, cycling through
common words ("the", in a third of the messages), rarer ones (one line of the corpus: 1.3 %),
two words (together, and two that are never said together), prefixes and words no one wrote.

The SQLite file is copied before the room is changed, so the history scenario's cache stays
as it was; the PostgreSQL database is vacuumed first (what autovacuum does after a load that
size: the GIN index's list of pending entries goes into the index proper).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from bench.measure import percentiles
from bench.report import Check, write_result
from bench.scenarios.common import Database, Options
from bench.scenarios.history import FULL as HISTORY_FULL
from bench.scenarios.history import SMOKE as HISTORY_SMOKE
from bench.scenarios.history import HistoryRoom, history_room, issue_token
from bench.targets import memory_kib, sqlite_url, start_peerrooms, stop_all

TARGET_P99_MS = 50.0
PAGE = 20


@dataclass(frozen=True)
class Size:
    messages: int
    queries: int
    warmup: int
    databases: tuple[Database, ...]


FULL = Size(
    messages=HISTORY_FULL.messages, queries=400, warmup=40, databases=("sqlite", "postgresql")
)
SMOKE = Size(
    messages=HISTORY_SMOKE.messages, queries=40, warmup=5, databases=HISTORY_SMOKE.databases
)


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    # Whether the readable half of the room holds a match (bench/corpus.py's lines).
    finds: bool = True


QUERIES = (
    *(Query("common", word) for word in ("the", "i", "today", "group", "good")),
    *(
        Query("rare", word)
        for word in ("river", "keyboard", "lentils", "gratitude", "warmline", "picnic")
    ),
    *(
        Query("two words", words)
        for words in ("box breathing", "good morning", "family dinner", "walk river")
    ),
    Query("two words", "coffee river", finds=False),
    Query("two words", "group morning", finds=False),
    *(Query("prefix", prefix) for prefix in ("sle", "medit", "grat", "journ", "remind")),
    Query("absent", "zeppelin", finds=False),
    Query("absent", "quokka", finds=False),
)


@dataclass(frozen=True)
class SearchRoom:
    url: str
    room_id: int
    token: str
    readable_from_id: int


async def run(options: Options, size: Size | None = None) -> dict[str, Any]:
    size = size or (SMOKE if options.smoke else FULL)
    results = {db: await run_one(db, size, options) for db in size.databases}
    checks: list[Check] = []
    for db, result in results.items():
        for figure in ("p50", "p95"):
            checks.append(
                Check(f"search {figure} (ms), {db}", result[figure], None, None, "", None)
            )
        p99 = result["p99"]
        passed = p99 is not None and p99 <= TARGET_P99_MS
        checks.append(
            Check(f"search p99 (ms), {db}", p99, None, None, f"<= {TARGET_P99_MS:.0f} ms", passed)
        )
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.messages:,} messages in one room by 50 authors (the history scenario's),"
            f" searched by a patient who may read the newer half; {size.queries} sequential"
            f" `GET /api/search` of a page of {PAGE} (after {size.warmup} warm-up), cycling"
            f" through {len(QUERIES)} queries: common words, rarer ones, two words, prefixes,"
            " words no one wrote. One peerrooms process. The relay has no search: bare and"
            " ratio are n/a.",
        ],
        "results": results,
    }
    write_result(options.out, "search", data, checks)
    return data


async def run_one(database: Database, size: Size, options: Options) -> dict[str, Any]:
    started = time.perf_counter()
    async with searched_room(database, size.messages, cache=not options.smoke) as room:
        prepared_s = time.perf_counter() - started
        servers = await start_peerrooms(room.url, options.logs(f"search-{database}"))
        try:
            server = servers[0]
            timings, by_kind = await measure(server.url, room, size)
            rss_kib = memory_kib(server.pid)
        finally:
            await stop_all(servers)
    return {
        "database": database,
        "messages": size.messages,
        "prepare_s": round(prepared_s, 1),
        "queries": len(timings),
        **percentiles(timings),
        "by_kind": {kind: percentiles(each) for kind, each in by_kind.items()},
        "server_rss_mib": round(rss_kib / 1024, 1),
    }


def queries(count: int) -> Iterator[Query]:
    for index in range(count):
        yield QUERIES[index % len(QUERIES)]


async def measure(
    url: str, room: SearchRoom, size: Size
) -> tuple[list[float], dict[str, list[float]]]:
    headers = {"Authorization": f"Bearer {room.token}"}
    timings: list[float] = []
    by_kind: dict[str, list[float]] = {}
    async with aiohttp.ClientSession(headers=headers) as session:
        for index, query in enumerate(queries(size.warmup + size.queries)):
            started = time.perf_counter()
            async with session.get(
                f"{url}/api/search", params={"q": query.text, "limit": PAGE}
            ) as answer:
                page = await answer.json()
            elapsed = (time.perf_counter() - started) * 1000
            check_page(query, room, answer.status, page)
            if index >= size.warmup:
                timings.append(elapsed)
                by_kind.setdefault(query.kind, []).append(elapsed)
    return timings, by_kind


def check_page(query: Query, room: SearchRoom, status: int, page: Any) -> None:
    """A refused search, a match where there is none, none where there is one, or a message
    the searcher may not read: the run is wrong, not slow."""
    if status != 200:
        raise RuntimeError(f"search {query.text!r} refused: {status} {str(page)[:300]}")
    ids = [hit["message_id"] for hit in page["results"]]
    if bool(ids) != query.finds:
        raise RuntimeError(f"search {query.text!r} found {len(ids)} messages")
    if any(message_id < room.readable_from_id for message_id in ids):
        raise RuntimeError(f"search {query.text!r} found a message its searcher may not read")


# ----- the room: the history scenario's, read from half-way -----


@contextlib.asynccontextmanager
async def searched_room(
    database: Database, messages: int, *, cache: bool
) -> AsyncIterator[SearchRoom]:
    async with history_room(database, messages, cache=cache) as room:
        if database == "postgresql":
            yield await read_from_half_way_postgres(room, messages)
            return
        directory = Path(tempfile.mkdtemp(prefix="bench-search-"))
        try:
            copy = directory / "search.db"
            await asyncio.to_thread(copy_sqlite, Path(make_url(room.url).database or ""), copy)
            yield await asyncio.to_thread(read_from_half_way_sqlite, copy, room, messages)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def copy_sqlite(source: Path, target: Path) -> None:
    """The file and what its write-ahead log still holds (a server stopped uncleanly)."""
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").is_file():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


# The room's visibility, and the searcher joining its audience (everyone: their account's
# making) at the message half-way through, as SQL both databases take.
HALF_WAY = (
    "UPDATE room SET history_visibility = 'since_joined' WHERE id = {room}",
    'UPDATE "user" SET created_at = (SELECT created_at FROM message WHERE id = {half})'
    " WHERE id = {searcher}",
)
SEARCHER = 'SELECT max(id) FROM "user"'


def read_from_half_way_sqlite(path: Path, room: HistoryRoom, messages: int) -> SearchRoom:
    half = room.max_id - messages // 2
    connection = sqlite3.connect(path)
    try:
        searcher = connection.execute(SEARCHER).fetchone()[0]
        for statement in HALF_WAY:
            connection.execute(statement.format(room=room.room_id, half=half, searcher=searcher))
        connection.commit()
    finally:
        connection.close()
    return SearchRoom(sqlite_url(path), room.room_id, issue_token(searcher), half)


async def read_from_half_way_postgres(room: HistoryRoom, messages: int) -> SearchRoom:
    half = room.max_id - messages // 2
    dsn = make_url(room.url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        searcher = await connection.fetchval(SEARCHER)
        for statement in HALF_WAY:
            await connection.execute(
                statement.format(room=room.room_id, half=half, searcher=searcher)
            )
        await connection.execute("VACUUM ANALYZE message")
    finally:
        await connection.close()
    return SearchRoom(room.url, room.room_id, issue_token(searcher), half)
