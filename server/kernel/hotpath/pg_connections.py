"""A few PostgreSQL connections of their own, straight on asyncpg, for the busiest write.

Through SQLAlchemy's async session a send's transaction passes through greenlets at every step
and its pool pings each connection it hands out (a round trip); measured on `send`, that
machinery cost more CPU than the statements. These connections are plain asyncpg ones: taken
from a queue, used for one transaction, put back. One found closed (the server restarted, or
dropped it) is replaced by a fresh one before use; one that fails mid-use is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import URL

from server.kernel.db import Deadlines
from server.kernel.hotpath.driver_errors import is_connection_lost


class PgConnections:
    def __init__(self, url: URL, *, size: int, application_name: str, deadlines: Deadlines) -> None:
        # asyncpg takes the libpq form of the URL, without SQLAlchemy's driver name.
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._application_name = application_name
        self._deadlines = deadlines
        self._idle: asyncio.Queue[asyncpg.Connection | None] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(None)  # opened on first use

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        held = await self._idle.get()
        try:
            if held is None or held.is_closed():
                held = await asyncpg.connect(
                    self._dsn,
                    timeout=self._deadlines.connect_s,
                    command_timeout=self._deadlines.statement_s,
                    server_settings={"application_name": self._application_name},
                )
            yield held
        except Exception as error:
            # Raised as the driver raised it, or translated (driver_errors.py).
            if is_connection_lost(error):
                if held is not None:
                    held.terminate()
                held = None
            raise
        finally:
            if held is not None and not held.is_closed() and held.is_in_transaction():
                # Left mid-transaction (its task was cancelled): never hand that on.
                held.terminate()
                held = None
            self._idle.put_nowait(held)

    async def close(self) -> None:
        while not self._idle.empty():
            held = self._idle.get_nowait()
            if held is not None:
                await held.close()
