"""`peerrooms backup` and `peerrooms restore` (docs/privacy.md, "Backups"), run as an operator
runs them: on SQLite, and in CI's second pass on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from server.kernel.db import create_engine
from server.rooms.models import Message
from tests.processes import CliOutcome, free_port, run_cli, run_cli_outcome, server_env
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    RunningServer,
    build_community,
    send,
    server_settings,
    sign_in,
    start_server,
    stored_messages,
)

pytestmark = pytest.mark.persistence


def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


@pytest.fixture
async def second_database(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the test's own, for a backup to be restored into."""
    url = make_url(database_url)
    if not is_postgres(database_url):
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'peerrooms.db'}"
        return
    name = f"peerrooms_restore_{secrets.token_hex(6)}"
    # Connected to the test's own database only while creating and dropping: a restore into
    # that database refuses while others are connected to it.
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    yield url.set(database=name).render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def serving(
    database_url: str, data_dir: Path, clock: FakeClock
) -> AsyncIterator[tuple[RunningServer, Api]]:
    """A server of the test's own on the database, stopped when the block ends."""
    data_dir.mkdir(exist_ok=True)
    server = await start_server(server_settings(database_url, data_dir), clock)
    try:
        async with aiohttp.ClientSession() as session:
            yield server, Api(server.url, session)
    finally:
        await server.stop()


async def bodies_in(database_url: str) -> list[str]:
    """Every message's body as the database holds it, oldest first."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list(
                (
                    await connection.execute(select(col(Message.body)).order_by(col(Message.id)))
                ).scalars()
            )
    finally:
        await engine.dispose()


async def execute(database_url: str, statement: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def tables_in(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()


def refused(outcome: CliOutcome, *words: str) -> str:
    """The one line a failed command wrote on stderr, which must hold these words."""
    assert outcome.returncode != 0, outcome
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peerrooms: "), outcome
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def room_histories(api: Api, c: Community) -> dict[int, list[dict[str, object]]]:
    """Every room's stored messages, as its moderator reads them."""
    moderator = await sign_in(api, c.mod_lee.username)
    rooms = (c.group_a, c.group_b, c.lounge, c.commons)
    return {room: await stored_messages(api, moderator.token, room) for room in rooms}


async def talk(c: Community, url: str) -> None:
    """A few messages in every room, from the people who may post there."""
    for person, room in (
        (c.pat_ana, c.group_a),
        (c.pat_avi, c.group_a),
        (c.pat_bo, c.group_b),
        (c.alum_dee, c.lounge),
        (c.mod_lee, c.commons),
        (c.pat_ana, c.commons),
    ):
        peer = await Peer(url, person.token).connect()
        try:
            for n in range(3):
                await send(peer, room, f"{person.username} in room {room}, #{n}")
        finally:
            await peer.disconnect()


async def test_a_backup_taken_while_the_server_runs_restores_every_message_and_person(
    server: RunningServer,
    api: Api,
    community: Community,
    database_url: str,
    second_database: str,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    c = community
    await talk(c, server.url)
    backup = tmp_path / "peerrooms.backup"

    # Ana keeps writing while the backup is taken: it must hold one moment of the database,
    # every message acknowledged before it began and no gap after.
    before = [m["id"] for m in (await room_histories(api, c))[c.group_a]]
    acknowledged: list[int] = []
    stop = asyncio.Event()
    ana = await Peer(server.url, c.pat_ana.token).connect()

    async def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            acknowledged.append((await send(ana, c.group_a, f"while backing up, #{n}"))["id"])
            n += 1
            # Paced, so that writes go on through the command's whole run (its start-up is
            # most of it) without piling up thousands of messages on a busy machine.
            await asyncio.sleep(0.01)

    writing = asyncio.create_task(keep_writing())
    try:
        report = await run_cli(server_env(database_url, tmp_path), "backup", "--to", str(backup))
    finally:
        stop.set()
        await writing
        await ana.disconnect()
    original = await room_histories(api, c)

    assert mode_of(backup) == 0o600
    assert f"backup written to {backup}" in report
    assert "pg_restore reads the file" in report or "integrity check finds no fault" in report
    counted = re.search(r"(\d+) messages, (\d+) people", report)
    assert counted, report
    assert acknowledged, "no message was written while the backup ran"

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir(exist_ok=True)
    report = await run_cli(
        server_env(second_database, restored_dir), "restore", "--from", str(backup)
    )
    assert "the schema is the one this peerrooms uses" in report

    async with serving(second_database, restored_dir, clock) as (_, restored_api):
        for person in c.people.values():
            await sign_in(restored_api, person.username)
        restored = await room_histories(restored_api, c)

    # The summary counts the backup itself, not the database a moment before or after.
    assert int(counted[1]) == len(await bodies_in(second_database))
    assert int(counted[2]) == len(c.people)
    for room in (c.group_b, c.lounge, c.commons):
        assert restored[room] == original[room]
    group = restored[c.group_a]
    assert group == original[c.group_a][: len(group)]  # a prefix: one moment, no gap
    assert [m["id"] for m in group][: len(before)] == before
    assert all(m["id"] in before or m["id"] in acknowledged for m in group)


async def test_restore_refuses_a_database_in_use_or_with_tables_unless_told_yes(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    env = server_env(database_url, tmp_path)
    backup = tmp_path / "peerrooms.backup"
    async with serving(database_url, tmp_path, clock) as (server, api):
        c = await build_community(server, api)
        await talk(c, server.url)
        await run_cli(env, "backup", "--to", str(backup))
        peer = await Peer(server.url, c.pat_bo.token).connect()
        await send(peer, c.group_b, "written after the backup")
        await peer.disconnect()
        in_use = await run_cli_outcome(env, "restore", "--from", str(backup), "--yes")
    refused(in_use, "stop")
    assert "in use" in in_use.stderr or "other connections" in in_use.stderr
    after = await bodies_in(database_url)
    assert after[-1] == "written after the backup"

    has_tables = await run_cli_outcome(env, "restore", "--from", str(backup))
    refused(has_tables, "already has", "tables", "--yes")
    assert await bodies_in(database_url) == after

    report = await run_cli(env, "restore", "--from", str(backup), "--yes")
    assert "the schema is the one this peerrooms uses" in report
    assert await bodies_in(database_url) == after[:-1]
    async with serving(database_url, tmp_path, clock) as (_, api):
        await sign_in(api, c.pat_bo.username)

    # A table the backup lacks (as a later version's would be): SQLite's copy replaces the
    # whole file; pg_restore would leave the table behind, so PostgreSQL refuses.
    await execute(database_url, "CREATE TABLE later_feature (id INTEGER)")
    outcome = await run_cli_outcome(env, "restore", "--from", str(backup), "--yes")
    if is_postgres(database_url):
        refused(outcome, "public.later_feature", "empty database")
        assert "later_feature" in await tables_in(database_url)
    else:
        assert outcome.returncode == 0, outcome
        assert "later_feature" not in await tables_in(database_url)
    assert await bodies_in(database_url) == after[:-1]


async def test_a_corrupt_or_missing_backup_fails_clearly_and_changes_nothing(
    database_url: str, second_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    env = server_env(database_url, tmp_path)
    backup = tmp_path / "peerrooms.backup"
    async with serving(database_url, tmp_path, clock) as (server, api):
        await talk(await build_community(server, api), server.url)
    await run_cli(env, "backup", "--to", str(backup))
    kept = await bodies_in(database_url)

    whole = backup.read_bytes()
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(whole[: len(whole) // 2])
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(secrets.token_bytes(len(whole)))
    missing = tmp_path / "no-such.backup"
    for bad in (truncated, garbage, missing):
        over_data = await run_cli_outcome(env, "restore", "--from", str(bad), "--yes")
        refused(over_data, str(bad))
        assert await bodies_in(database_url) == kept

    empty_dir = tmp_path / "restored"
    empty_dir.mkdir(exist_ok=True)
    into_empty = await run_cli_outcome(
        server_env(second_database, empty_dir), "restore", "--from", str(garbage)
    )
    refused(into_empty, "cannot read the backup", str(garbage))
    assert await tables_in(second_database) == []


async def test_a_failed_backup_leaves_the_last_one_whole_and_a_new_one_is_private(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    backup = folder / "peerrooms.backup"
    backup.write_bytes(b"yesterday's backup")
    backup.chmod(0o644)
    async with serving(database_url, tmp_path, clock) as (server, api):
        await talk(await build_community(server, api), server.url)

    if is_postgres(database_url):
        unreachable = make_url(database_url).set(port=free_port())
        nowhere = unreachable.render_as_string(hide_password=False)
        without_tools = server_env(database_url, tmp_path) | {"PATH": str(tmp_path / "no-tools")}
        failed = await run_cli_outcome(without_tools, "backup", "--to", str(backup))
        refused(failed, "pg_dump is not installed")
    else:
        nowhere = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere' / 'peerrooms.db'}"
    failed = await run_cli_outcome(server_env(nowhere, tmp_path), "backup", "--to", str(backup))
    refused(failed)
    assert backup.read_bytes() == b"yesterday's backup"
    assert os.listdir(folder) == [backup.name]

    await run_cli(server_env(database_url, tmp_path), "backup", "--to", str(backup))
    assert backup.read_bytes() != b"yesterday's backup"
    assert mode_of(backup) == 0o600
    assert os.listdir(folder) == [backup.name]
