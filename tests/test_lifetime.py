"""Resources live one cleanup context each: a failed start-up unwinds exactly what started."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from server.kernel.lifetime import closed_after_serving, while_serving
from tests.support import FakeClock, server_settings, start_server


class Resource:
    def __init__(self, name: str, log: list[str], *, fails_to_start: bool = False) -> None:
        self.name = name
        self.log = log
        self.fails_to_start = fails_to_start

    async def start(self) -> None:
        if self.fails_to_start:
            raise RuntimeError(f"{self.name} did not start")
        self.log.append(f"start {self.name}")

    async def close(self) -> None:
        self.log.append(f"close {self.name}")


async def test_a_failed_start_closes_only_what_started_before_it_in_reverse() -> None:
    log: list[str] = []
    pool, bus = Resource("pool", log), Resource("bus", log)
    loop, late = Resource("loop", log, fails_to_start=True), Resource("late", log)
    app = web.Application()
    app.cleanup_ctx.extend(
        [closed_after_serving(pool.close), while_serving(bus), while_serving(loop)]
    )
    app.cleanup_ctx.append(while_serving(late))
    runner = web.AppRunner(app)

    with pytest.raises(RuntimeError, match="loop did not start"):
        await runner.setup()
    await runner.cleanup()

    assert log == ["start bus", "close bus", "close pool"]


async def test_a_clean_stop_closes_everything_in_reverse_order() -> None:
    log: list[str] = []
    first, second = Resource("first", log), Resource("second", log)
    app = web.Application()
    app.cleanup_ctx.extend([while_serving(first), while_serving(second)])
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()
    assert log == ["start first", "start second", "close second", "close first"]


async def test_a_database_behind_the_schema_stops_start_up_before_anything_else(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = server_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", tmp_path, database_migrate_on_start=False
    )
    with pytest.raises(RuntimeError, match="peerrooms db upgrade"):
        await start_server(settings, clock)
