"""The Alembic migrations build the whole schema from empty, and agree with the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from server.kernel.db import create_engine
from server.kernel.migrate import current_revision, head_revision, upgrade_to_head
from server.migrations.schema import in_the_models, schema_metadata
from tests.processes import run_cli, server_env
from tests.support import FakeClock, server_settings, start_server

pytestmark = pytest.mark.persistence


def differences(connection: Connection) -> list[Any]:
    # The search index lives outside the models (server/migrations/schema.py).
    opts = {"compare_type": True, "include_name": in_the_models}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, schema_metadata()))


async def test_migrations_from_empty_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade_to_head(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
        await upgrade_to_head(engine)  # a second upgrade is a no-op
    finally:
        await engine.dispose()


async def test_db_upgrade_command(database_url: str, tmp_path: Path) -> None:
    env = server_env(database_url, tmp_path, database_migrate_on_start="false")
    before = await run_cli(env, "db", "current")
    assert f"schema revision None (this peerrooms: {head_revision()})" in before
    after = await run_cli(env, "db", "upgrade")
    assert f"schema revision {head_revision()}" in after


async def test_a_server_refuses_a_database_that_is_not_up_to_date(
    database_url: str, tmp_path: Path
) -> None:
    settings = server_settings(database_url, tmp_path, database_migrate_on_start=False)
    with pytest.raises(RuntimeError, match="run `peerrooms db upgrade` first"):
        await start_server(settings, FakeClock())
