"""Keeping the full-text index up with new messages.

PostgreSQL computes each message's search column as the row is written (migration 0017):
there is nothing to keep up with. On SQLite a new message is put into the FTS5 index after
it is stored, in batches (migration 0020 says why: a message indexed in its own transaction
cost four times its insert), a few times a second, and before every search, so that a
search finds whatever was stored before it began. Edits, deletions and erasure change the
index in their own transactions, through the triggers, as before.

Each batch is one transaction on the writer connection that sends use (in line with them,
never racing them for SQLite's lock); processes sharing a file each index, and the mark read
inside the transaction keeps them from indexing a message twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from server.kernel.clock import Clock, LoopingCall
from server.kernel.hotpath.writer import HotWriter, SqliteHotWriter
from server.rooms.search_store import index_pending

Transaction = Callable[[Callable[[sqlite3.Connection], int]], Awaitable[int]]

# At 500 messages a second, about 125 a batch: 2-3 ms on the event loop's thread, each.
INDEX_EVERY_S = 0.25
# The most one transaction indexes, so that a backlog (after a restart) is taken in steps
# that let sends in between.
BATCH = 250


class SearchIndexing(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def catch_up(self) -> None:
        """Answers once every message stored before it was called can be found."""
        ...


class IndexedAsWritten:
    """PostgreSQL's index is written with each row: always caught up."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def catch_up(self) -> None:
        return None


@dataclass
class IndexedInBatches:
    """SQLite: messages above the index's mark put in, `batch` a transaction."""

    transaction: Transaction
    clock: Clock
    every_s: float = INDEX_EVERY_S
    batch: int = BATCH
    _looping: LoopingCall | None = field(default=None, init=False)

    async def start(self) -> None:
        # At once as well: what a stop left unindexed is indexed before the first search.
        self._looping = self.clock.looping_call(self.catch_up, self.every_s, run_now=True)

    async def close(self) -> None:
        if self._looping is not None:
            await self._looping.stop()

    async def catch_up(self) -> None:
        while await self.transaction(partial(index_pending, limit=self.batch)) == self.batch:
            pass


def search_indexing_for(writer: HotWriter, clock: Clock) -> SearchIndexing:
    if isinstance(writer, SqliteHotWriter):
        return IndexedInBatches(writer.transaction, clock)
    return IndexedAsWritten()
