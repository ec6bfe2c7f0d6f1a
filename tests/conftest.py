"""Fixtures: every test gets its own database (SQLite file, or a fresh PostgreSQL database
when PEERROOMS_TEST_DATABASE_URL names a server), copied from a template when a server here
starts on it (tests/templates.py), and a real server on a free port."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from tests.cluster import Cluster, cluster_env, run_cluster
from tests.janus import JanusServer, janus_or_skip, running_janus
from tests.push_service import PushService, running_push_service
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    RunningServer,
    server_settings,
    start_server,
)
from tests.templates import (
    Templates,
    build_templates,
    community_for,
    drop_templates,
    seeded_community,
    template_for,
)

PG_URL = os.environ.get("PEERROOMS_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PEERROOMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The shared test Redis; a test gives it its own key prefix (`redis_prefix`)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is needed for this test and did not answer: {error}")
    finally:
        await client.aclose()
    yield REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys, and only they, are deleted afterwards."""
    prefix = f"peerrooms-test-{secrets.token_hex(6)}"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    built = build_templates(PG_URL or None, tmp_path_factory.mktemp("templates"))
    yield built
    drop_templates(built)


@pytest.fixture
async def database_url(
    tmp_path: Path, request: pytest.FixtureRequest, templates: Templates, clock: FakeClock
) -> AsyncIterator[str]:
    template = template_for(request, clock)
    if not PG_URL:
        path = tmp_path / "peerrooms.db"
        if template is None:
            yield f"sqlite+aiosqlite:///{path}"
        else:
            yield await templates.create_sqlite(template, path)
        return
    url = make_url(PG_URL)
    name = f"peerrooms_test_{secrets.token_hex(6)}"
    admin_dsn = url.set(drivername="postgresql", database=url.database or "postgres")
    connection = await asyncpg.connect(admin_dsn.render_as_string(hide_password=False))
    source = "" if template is None else f' TEMPLATE "{templates.sources[template]}"'
    try:
        await connection.execute(f'CREATE DATABASE "{name}"{source}')
        yield url.set(database=name).render_as_string(hide_password=False)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    """Settings a test changes: parametrize it with `tests.support.with_settings`."""
    return {}


@pytest.fixture
async def server(
    database_url: str, tmp_path: Path, clock: FakeClock, server_overrides: dict[str, Any]
) -> AsyncIterator[RunningServer]:
    running = await start_server(server_settings(database_url, tmp_path, **server_overrides), clock)
    yield running
    await running.stop()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(server.url, session)


@pytest.fixture
async def community(
    request: pytest.FixtureRequest, server: RunningServer, api: Api, templates: Templates
) -> Community:
    return await community_for(request, server, api, templates)


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[JanusServer]:
    """Debian's Janus in a network namespace of the test's own (tests/janus.py); skipped,
    saying why, where it cannot run."""
    janus_or_skip()
    folder = tmp_path / "janus"
    folder.mkdir()
    async with running_janus(folder) as server:
        yield server


PeerFactory = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def peer(server: RunningServer) -> AsyncIterator[PeerFactory]:
    """Connect a Socket.IO peer with a token (or none); all are disconnected after the test."""
    peers: list[Peer] = []

    async def connect(token: str | None, url: str | None = None) -> Peer:
        connected = Peer(url or server.url, token)
        peers.append(connected)
        return await connected.connect()

    yield connect
    for connected in peers:
        await connected.disconnect()


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    """A push service on 127.0.0.1 that decrypts what it is sent (tests/push_service.py)."""
    async with running_push_service() as service:
        yield service


@pytest.fixture
def cluster_overrides() -> dict[str, str]:
    """Settings of both processes of a `cluster` that a module changes (environment values)."""
    return {}


@pytest.fixture
async def cluster(
    database_url: str,
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    request: pytest.FixtureRequest,
    templates: Templates,
    cluster_overrides: dict[str, str],
) -> AsyncIterator[Cluster]:
    env = cluster_env(database_url, tmp_path, redis_url, redis_prefix, **cluster_overrides)
    async for started in run_cluster(env, tmp_path, seeded_community(request, templates)):
        yield started


# The modules that take longest (about 10 s to 45 s each, from `pytest --durations=0`), longest
# first. xdist hands whole modules to the workers in collection order; started last, one of
# these would keep one worker busy while the others sit idle at the end of the run.
LONGEST_FIRST = (
    "test_bench_smoke.py",
    "browser/test_safety.py",
    "browser/test_video_call.py",
    "test_scale_out.py",
    "test_hangs.py",
    "test_fuzz.py",
    "test_scale_out_rights.py",
    "test_cli.py",
    "browser/test_chat.py",
    "browser/test_console.py",
    "browser/test_screens.py",
    "test_shutdown.py",
    "test_crisis_detector.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        found = [i for i, name in enumerate(LONGEST_FIRST) if path.endswith(f"tests/{name}")]
        return found[0] if found else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
