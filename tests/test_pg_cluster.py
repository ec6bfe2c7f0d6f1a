"""The PostgreSQL cluster of a test's own (tests/pg_cluster.py): paused, it hangs queries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from tests.pg_cluster import PgCluster


async def test_a_paused_cluster_hangs_queries_until_resumed(tmp_path: Path) -> None:
    cluster = PgCluster(tmp_path)
    await cluster.start()
    try:
        connection = await asyncpg.connect(cluster.dsn)
        try:
            assert await connection.fetchval("SELECT 1") == 1
            cluster.pause()
            # Hangs, rather than fails: what a stalled database host looks like to the server.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(connection.fetchval("SELECT 1"), 1)
        finally:
            # Its query timed out half-sent; the connection is of no further use.
            connection.terminate()
        cluster.resume()
        fresh = await asyncpg.connect(cluster.dsn)
        try:
            assert await fresh.fetchval("SELECT 1") == 1
        finally:
            await fresh.close()
    finally:
        await cluster.stop()
    await cluster.stop()  # a second stop does nothing
