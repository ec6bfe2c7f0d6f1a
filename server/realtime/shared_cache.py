"""Values read from the database once and kept, which every process forgets together when one
of them changes: what each send needs to know about its room (the room's settings, the mutes
and bans in force there) without a query per send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from server.realtime.bus import ControlBus

V = TypeVar("V")
# Reads the values of these ids, in one go, through the caller's session; an id it leaves
# out has none (nothing is kept).
Loader = Callable[[AsyncSession, list[int]], Awaitable[dict[int, V]]]

# Even when no change is heard (a Redis outage drops bus messages), what is kept is read
# again this often, so a change made elsewhere holds here within seconds.
MAX_AGE_S = 5.0
# Ids per load when everything is read again: each is a bound parameter, and SQLite takes
# at most 32,766 in one statement.
LOAD_AT_MOST = 1000


class SharedCache(Generic[V]):
    """Per room id, the value as last read.

    - A change made on any process: `changed(id)` forgets the id here before the caller
      answers, and publishes on the control bus, so every other process forgets it too.
    - Every `max_age_s` everything kept is read again, up to LOAD_AT_MOST ids a load.
      Re-reading each id on its own cost a query per room every few seconds: under load,
      most of the cost of checking a send's author for mutes.
    - A load that overlapped a change keeps nothing, so a value read before the change is
      never kept after it.

    Loads run through the caller's session: one of its own would make every caller hold two
    pooled connections at once, and a burst of callers could take them all and wait forever.
    """

    def __init__(
        self,
        bus: ControlBus,
        kind: str,
        load: Loader[V],
        *,
        max_age_s: float = MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._kind = kind
        self._load = load
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._values: dict[int, V] = {}
        # Loads of one id under way: the change count they began at, and their answer (None
        # if the load failed).
        self._loading: dict[int, tuple[int, asyncio.Future[dict[int, V] | None]]] = {}
        self._read_at = monotonic()
        # Bumped by every change; a load that began before one is not kept.
        self._changes = 0
        bus.subscribe(kind, self._forget_published)
        # A change published while Redis was down never reached this process.
        bus.after_outage(self._forget_everything)

    async def get(self, session: AsyncSession, key: int) -> V | None:
        if self._monotonic() - self._read_at >= self.max_age_s:
            await self._read_everything_again(session)
        while key not in self._values:
            under_way = self._loading.get(key)
            # A load begun before a change may answer what the change replaced: only a get
            # that came before any change shares it.
            if under_way is None or under_way[0] != self._changes:
                return await self._load_one(session, key)
            found = await asyncio.shield(under_way[1])
            if found is not None:
                return found.get(key)
            # That load failed (its caller was told): go round, and load if nobody is.
        return self._values[key]

    def kept(self, key: int) -> V | None:
        """The value kept now, if any, without reading it."""
        return self._values.get(key)

    async def _load_one(self, session: AsyncSession, key: int) -> V | None:
        """Gets of an id nobody keeps yet share one load: after a restart, a reconnect storm's
        joins of 200 rooms read each room once instead of once per person joining it."""
        changes = self._changes
        done: asyncio.Future[dict[int, V] | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = (changes, done)
        found: dict[int, V] | None = None
        try:
            found = await self._load(session, [key])
        finally:
            if self._loading.get(key, (0, None))[1] is done:
                del self._loading[key]
            done.set_result(found)
        if changes == self._changes:
            self._values.update(found)
        return found.get(key)

    async def changed(self, key: int) -> None:
        self._forget(key)
        await self._bus.publish(self._kind, {"room_id": key})

    def _forget(self, key: int) -> None:
        self._changes += 1
        self._values.pop(key, None)

    def _forget_everything(self) -> None:
        self._changes += 1
        self._values = {}

    async def _forget_published(self, payload: dict[str, Any]) -> None:
        self._forget(int(payload["room_id"]))

    async def _read_everything_again(self, session: AsyncSession) -> None:
        """One load of every id kept, by the first caller past the age; callers meanwhile
        answer from what is kept (older by the load's few milliseconds)."""
        last_read_at, self._read_at = self._read_at, self._monotonic()
        changes = self._changes
        ids = list(self._values)
        found: dict[int, V] = {}
        try:
            for start in range(0, len(ids), LOAD_AT_MOST):
                found.update(await self._load(session, ids[start : start + LOAD_AT_MOST]))
        except BaseException:
            self._read_at = last_read_at  # the next caller tries again
            raise
        # After a change meanwhile nothing of this load is kept: each id is read again when
        # next asked for. So are ids first read meanwhile.
        self._values = found if changes == self._changes else {}
