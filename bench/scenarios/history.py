"""history: reading back through a room of 1,000,000 stored messages.

All messages sit in one room (the hard case: one huge room, its index deep), written by 50
people. A reader asks for pages of 50 before random cursors spread evenly over the room,
one request after another: first through the `history` Socket.IO event, then through
`GET /api/rooms/{id}/messages?before=`. On SQLite and on PostgreSQL. The relay stores
nothing, so there is no bare figure or ratio here.

Seeding: SQLite with executemany in large transactions, kept under bench/data/ (named by
count and schema revision) so re-runs start at once; PostgreSQL with COPY into a database
of the run's own, then ANALYZE (as autovacuum would have done on a database that big).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from bench.client import LightClient
from bench.corpus import ORDINARY_LINES
from bench.measure import percentiles
from bench.report import Check, write_result
from bench.scenarios.common import Database, Options, database_for
from bench.targets import (
    bench_token,
    memory_kib,
    schema_tag,
    seed_people_and_rooms,
    sqlite_url,
    start_peerrooms,
    stop_all,
)

TARGET_P99_MS = 10.0
PAGE = 50
AUTHORS = 50
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
FIRST_MESSAGE_AT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Size:
    messages: int
    requests: int
    warmup: int
    databases: tuple[Database, ...]


FULL = Size(messages=1_000_000, requests=2000, warmup=200, databases=("sqlite", "postgresql"))
# CI adds PostgreSQL when its test suite runs against it.
SMOKE = Size(
    messages=2000,
    requests=50,
    warmup=10,
    databases=("sqlite", "postgresql")
    if os.environ.get("PEERROOMS_TEST_DATABASE_URL")
    else ("sqlite",),
)


@dataclass(frozen=True)
class HistoryRoom:
    url: str
    room_id: int
    token: str
    max_id: int


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    results = {db: await run_one(db, size, options) for db in size.databases}
    checks: list[Check] = []
    for db, result in results.items():
        for way in ("event", "http"):
            figures = result[way]
            target = f"<= {TARGET_P99_MS:.0f} ms" if way == "event" else ""
            checks.append(
                Check(f"history {way} p50 (ms), {db}", figures["p50"], None, None, "", None)
            )
            checks.append(
                Check(
                    f"history {way} p99 (ms), {db}",
                    figures["p99"],
                    None,
                    None,
                    target,
                    (figures["p99"] is not None and figures["p99"] <= TARGET_P99_MS)
                    if way == "event"
                    else None,
                )
            )
    data = {
        "size": size.__dict__,
        "notes": [
            f"{size.messages:,} messages in one room by {AUTHORS} authors; {size.requests} "
            f"sequential requests for pages of {PAGE} before random cursors (after "
            f"{size.warmup} warm-up requests); one peerrooms process. The relay has no "
            "history: bare and ratio are n/a.",
        ],
        "results": results,
    }
    write_result(options.out, "history", data, checks)
    return data


async def run_one(database: Database, size: Size, options: Options) -> dict[str, Any]:
    started = time.perf_counter()
    async with history_room(database, size.messages, cache=not options.smoke) as room:
        seeded_s = time.perf_counter() - started
        servers = await start_peerrooms(room.url, options.logs(f"history-{database}"))
        try:
            server = servers[0]
            event = await measure_event(server.url, room, size)
            http = await measure_http(server.url, room, size)
            rss_kib = memory_kib(server.pid)
        finally:
            await stop_all(servers)
    return {
        "database": database,
        "messages": size.messages,
        "seed_or_open_s": round(seeded_s, 1),
        "event": percentiles(event),
        "http": percentiles(http),
        "server_rss_mib": round(rss_kib / 1024, 1),
    }


def cursors(room: HistoryRoom, count: int, seed: int) -> list[int]:
    """Random `before` cursors spread over the whole room (each still has a full page)."""
    pick = random.Random(seed)  # noqa: S311 - not cryptographic
    return [pick.randint(PAGE + 1, room.max_id + 1) for _ in range(count)]


async def measure_event(url: str, room: HistoryRoom, size: Size) -> list[float]:
    async with aiohttp.ClientSession() as session:
        client = LightClient(session)
        await client.connect(url, {"token": room.token})
        try:
            timings = []
            for index, before in enumerate(cursors(room, size.warmup + size.requests, 1)):
                started = time.perf_counter()
                ack = await client.call(
                    "history", {"room_id": room.room_id, "before": before, "limit": PAGE}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if not ack.get("ok") or len(ack["messages"]) != PAGE:
                    raise RuntimeError(f"history refused or short: {str(ack)[:300]}")
                if index >= size.warmup:
                    timings.append(elapsed)
            return timings
        finally:
            await client.close()


async def measure_http(url: str, room: HistoryRoom, size: Size) -> list[float]:
    headers = {"Authorization": f"Bearer {room.token}"}
    endpoint = f"{url}/api/rooms/{room.room_id}/messages"
    async with aiohttp.ClientSession(headers=headers) as session:
        timings = []
        for index, before in enumerate(cursors(room, size.warmup + size.requests, 2)):
            started = time.perf_counter()
            async with session.get(endpoint, params={"before": before, "limit": PAGE}) as answer:
                page = await answer.json()
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status != 200 or len(page["messages"]) != PAGE:
                raise RuntimeError(f"history refused or short: {answer.status} {str(page)[:300]}")
            if index >= size.warmup:
                timings.append(elapsed)
        return timings


# ----- seeding -----


@contextlib.asynccontextmanager
async def history_room(
    database: Database, messages: int, *, cache: bool
) -> AsyncIterator[HistoryRoom]:
    if database == "sqlite" and cache:
        path = DATA_DIR / f"history-{messages}-{schema_tag()}.db"
        if not path.is_file():
            await seed_sqlite_file(path, messages)
        yield sqlite_room(path)
        return
    if database == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="bench-history-"))
        try:
            path = directory / "history.db"
            await seed_sqlite_file(path, messages)
            yield sqlite_room(path)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    async with database_for("postgresql", "history") as url:
        yield await seed_postgres(url, messages)


async def seed_sqlite_file(path: Path, messages: int) -> None:
    """Schema and people through the server's own code, then the messages with sqlite3
    directly (an order of magnitude faster than through the ORM). Built beside the final
    name and renamed, so an interrupted seed never leaves a half-filled cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    seeded = await seed_people_and_rooms(sqlite_url(partial), AUTHORS, AUTHORS)
    await asyncio.to_thread(_insert_sqlite, partial, seeded.room_ids[0], seeded.user_ids, messages)
    partial.rename(path)


def _insert_sqlite(path: Path, room_id: int, authors: list[int], messages: int) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=OFF")
        rows = (
            (
                room_id,
                authors[i % len(authors)],
                ORDINARY_LINES[i % len(ORDINARY_LINES)],
                f"h{i}",
                # SQLAlchemy's SQLite DATETIME text format; UTCDateTime reads it back as UTC.
                (FIRST_MESSAGE_AT + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
            )
            for i in range(messages)
        )
        # The search index's triggers (migrations 0017, 0020) may index one row at a time, a
        # hundred times slower than indexing the table once: set aside while the rows go in.
        triggers = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'message'"
        ).fetchall()
        for (sql,) in triggers:
            connection.execute("DROP TRIGGER " + sql.split()[2])
        connection.executemany(
            "INSERT INTO message (room_id, author_id, body, client_id, created_at, deleted)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            rows,
        )
        connection.execute("INSERT INTO message_search (message_search) VALUES ('rebuild')")
        # The index holds every message now: its mark says so, or the server would index
        # them all again (migration 0020).
        connection.execute(
            "UPDATE message_search_indexed SET up_to = (SELECT coalesce(max(id), 0) FROM message)"
        )
        for (sql,) in triggers:
            connection.execute(sql)
        connection.commit()
    finally:
        connection.close()


def sqlite_room(path: Path) -> HistoryRoom:
    """The room, reader and newest id of a seeded file (a fresh token every run)."""
    connection = sqlite3.connect(path)
    try:
        room_id = connection.execute("SELECT min(id) FROM room").fetchone()[0]
        reader = connection.execute("SELECT min(id) FROM user").fetchone()[0]
        max_id = connection.execute("SELECT max(id) FROM message").fetchone()[0]
    finally:
        connection.close()
    return HistoryRoom(sqlite_url(path), room_id, issue_token(reader), max_id)


def issue_token(user_id: int) -> str:
    """A fresh token for a seeded person's seeded sign-in (a cached file outlives tokens)."""
    return bench_token(user_id, datetime.now(UTC))


async def seed_postgres(url: str, messages: int) -> HistoryRoom:
    seeded = await seed_people_and_rooms(url, AUTHORS, AUTHORS)
    room_id, authors = seeded.room_ids[0], seeded.user_ids
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        batch = 100_000
        for start in range(0, messages, batch):
            records = [
                (
                    room_id,
                    authors[i % len(authors)],
                    ORDINARY_LINES[i % len(ORDINARY_LINES)],
                    f"h{i}",
                    FIRST_MESSAGE_AT + timedelta(seconds=i),
                    False,
                )
                for i in range(start, min(messages, start + batch))
            ]
            await connection.copy_records_to_table(
                "message",
                records=records,
                columns=["room_id", "author_id", "body", "client_id", "created_at", "deleted"],
            )
        await connection.execute("ANALYZE")
        max_id = await connection.fetchval("SELECT max(id) FROM message")
    finally:
        await connection.close()
    return HistoryRoom(url, room_id, issue_token(authors[0]), int(max_id))
