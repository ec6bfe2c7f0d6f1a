"""Databases made once per test worker and copied for each test that starts a server in its
own process: bringing a new database to the schema (every Alembic migration) took 0.17 s of
each such test, and building the community over HTTP 0.24 s more; copying a file (SQLite) or
creating a database from a template (PostgreSQL's `CREATE DATABASE ... TEMPLATE`) takes
milliseconds. What a test sees is the same database it would have built itself; only the
server's memory starts empty, as after a restart.

Tests that need an empty database (the migrations, the command line, processes of their own)
still get one: `database_url` copies a template only for tests that use the `server` fixture.
A test whose clock starts far from today builds its community itself: the template's sign-in
tokens were issued today, and would be from the future (or long expired) on its clock.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url

from server.accounts.models import CohortMembership, User
from server.app import CORE
from tests.support import (
    Api,
    Community,
    FakeClock,
    RunningServer,
    build_community,
    server_settings,
    start_server,
)

SCHEMA = "schema"  # migrated to the head revision, nothing in it
COMMUNITY = "community"  # and the community of tests.support.build_community
# How far a test's clock may stand from the real one for the community template to serve it.
CLOCK_TOLERANCE = timedelta(hours=1)
REGISTERED_AGO = timedelta(days=60)
SEEDED = pytest.StashKey[str | None]()


@dataclass
class Templates:
    """Where each template is (a file, or a PostgreSQL database name) and the community the
    second one holds."""

    sources: dict[str, str]
    community: Community
    pg_url: str | None

    def fresh_community(self) -> Community:
        """The community of the copied database, for one test to use (and change) alone."""
        return copy.deepcopy(self.community)

    async def create_sqlite(self, kind: str, path: Path) -> str:
        shutil.copyfile(self.sources[kind], path)
        return f"sqlite+aiosqlite:///{path}"

    async def drop(self) -> None:
        if self.pg_url is None:
            return
        connection = await _admin_connection(self.pg_url)
        try:
            for name in self.sources.values():
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def _admin_connection(pg_url: str) -> asyncpg.Connection:
    url = make_url(pg_url)
    admin = url.set(drivername="postgresql", database=url.database or "postgres")
    return await asyncpg.connect(admin.render_as_string(hide_password=False))


async def _seed(database_url: str, data_dir: Path, *, with_community: bool) -> Community | None:
    """Start a server on the database (which migrates it), build the community if asked,
    and stop: the pool is closed, so the database can be copied."""
    server = await start_server(server_settings(database_url, data_dir), FakeClock())
    try:
        if not with_community:
            return None
        async with aiohttp.ClientSession() as session:
            community = await build_community(server, Api(server.url, session))
        await _registered_long_ago(server)
        return community
    finally:
        await server.stop()


async def _registered_long_ago(server: RunningServer) -> None:
    """The community's people joined the program REGISTERED_AGO before today, as a real
    cohort has, so a test may hold sessions in the recent past that they were expected at
    (attendance counts only those registered by a session's start)."""
    joined = datetime.now(UTC) - REGISTERED_AGO
    async with server.app[CORE].sessions() as session:
        await session.execute(update(User).values(created_at=joined))
        # And joined their cohorts then: a group room shows history since joining.
        await session.execute(update(CohortMembership).values(joined_at=joined))
        await session.commit()


async def _build(pg_url: str | None, folder: Path) -> Templates:
    urls: dict[str, str] = {}
    sources: dict[str, str] = {}
    if pg_url is None:
        for kind in (SCHEMA, COMMUNITY):
            path = folder / f"{kind}.db"
            sources[kind] = str(path)
            urls[kind] = f"sqlite+aiosqlite:///{path}"
    else:
        connection = await _admin_connection(pg_url)
        try:
            for kind in (SCHEMA, COMMUNITY):
                name = f"peerrooms_template_{kind}_{secrets.token_hex(4)}"
                await connection.execute(f'CREATE DATABASE "{name}"')
                sources[kind] = name
                urls[kind] = make_url(pg_url).set(database=name).render_as_string(False)
        finally:
            await connection.close()
    await _seed(urls[SCHEMA], folder, with_community=False)
    community = await _seed(urls[COMMUNITY], folder, with_community=True)
    assert community is not None
    return Templates(sources, community, pg_url)


def build_templates(pg_url: str | None, folder: Path) -> Templates:
    """Both templates, built on a loop of their own in a thread of their own: the tests' loops
    are per test, and this runs once for them all."""
    built: list[Templates] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            built.append(asyncio.run(_build(pg_url, folder)))
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            failed.append(error)

    worker = threading.Thread(target=run, name="database-templates")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return built[0]


def drop_templates(templates: Templates) -> None:
    worker = threading.Thread(target=lambda: asyncio.run(templates.drop()))
    worker.start()
    worker.join()


def template_for(request: pytest.FixtureRequest, clock: FakeClock) -> str | None:
    """What a test's new database starts from (remembered for `community_for`): the
    community's template for a test that uses the community on a clock near today's, the
    migrated schema for one that starts a server here, nothing (an empty database) for the
    others."""
    template: str | None = None
    if "cluster" in request.fixturenames:
        # Processes of its own, on the real clock: the day the template's tokens are for.
        template = COMMUNITY
    elif "server" in request.fixturenames:
        template = SCHEMA
        near_today = abs(clock.now() - datetime.now(UTC)) < CLOCK_TOLERANCE
        if "community" in request.fixturenames and near_today:
            template = COMMUNITY
    request.node.stash[SEEDED] = template
    return template


def seeded_community(request: pytest.FixtureRequest, templates: Templates) -> Community | None:
    """The community already in the test's database, when it was copied from its template
    (the same people, rooms and sign-in tokens)."""
    if request.node.stash.get(SEEDED, None) == COMMUNITY:
        return templates.fresh_community()
    return None


async def community_for(
    request: pytest.FixtureRequest, server: RunningServer, api: Api, templates: Templates
) -> Community:
    """The community: the template's, or built now."""
    return seeded_community(request, templates) or await build_community(server, api)
