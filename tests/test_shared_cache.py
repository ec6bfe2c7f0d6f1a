"""SharedCache: values read once and kept, forgotten on every process when one changes, read
again in one load when they grow old, and never kept when read across a change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.realtime import shared_cache
from server.realtime.bus import ControlBus
from server.realtime.shared_cache import SharedCache

KIND = "test.thing_changed"
MAX_AGE_S = 5.0


class FakeMonotonic:
    """A monotonic clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.current = 1000.0

    def __call__(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


class FakeTable:
    """The database: rows by id, and every load made from it, in order.

    A load reads the rows when it starts and only then waits for `gate` (set unless a test
    clears it), so a value it answers can be older than a change made while it waited."""

    def __init__(self, rows: dict[int, str]) -> None:
        self.rows = dict(rows)
        self.calls: list[list[int]] = []
        self.sessions: list[AsyncSession] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.error: Exception | None = None

    async def load(self, session: AsyncSession, ids: list[int]) -> dict[int, str]:
        self.calls.append(list(ids))
        self.sessions.append(session)
        if self.error is not None:
            raise self.error
        found = {id_: self.rows[id_] for id_ in ids if id_ in self.rows}
        self.entered.set()
        await self.gate.wait()
        return found

    def block(self) -> None:
        self.entered.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def loading(self) -> None:
        """Until a load has begun (and waits at the gate); a test never hangs on it."""
        await asyncio.wait_for(self.entered.wait(), timeout=5)


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    """A session the loader is handed; the fake table never uses it."""
    session = AsyncSession()
    yield session
    await session.close()


def new_cache(
    bus: ControlBus, table: FakeTable, clock: FakeMonotonic | None = None
) -> SharedCache[str]:
    return SharedCache(
        bus, KIND, table.load, max_age_s=MAX_AGE_S, monotonic=clock or FakeMonotonic()
    )


async def keeping_all(
    session: AsyncSession, table: FakeTable, clock: FakeMonotonic
) -> SharedCache[str]:
    """A cache that has read every id of `table`, one at a time."""
    cache = new_cache(ControlBus(), table, clock)
    for id_ in sorted(table.rows):
        await cache.get(session, id_)
    return cache


async def grown_old(session: AsyncSession, table: FakeTable) -> SharedCache[str]:
    """A cache that keeps every id of `table`, read max_age_s ago."""
    clock = FakeMonotonic()
    cache = await keeping_all(session, table, clock)
    clock.advance(MAX_AGE_S)
    return cache


async def test_a_value_is_loaded_once_and_then_answered_from_memory(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one"})
    cache = new_cache(ControlBus(), table)

    assert await cache.get(session, 1) == "one"
    assert await cache.get(session, 1) == "one"

    assert table.calls == [[1]]
    assert table.sessions == [session]


async def test_an_id_the_loader_leaves_out_answers_none_is_not_kept_and_is_found_once_created(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one"})
    cache = new_cache(ControlBus(), table)

    assert await cache.get(session, 2) is None
    assert await cache.get(session, 2) is None
    assert table.calls == [[2], [2]]

    table.rows[2] = "two"
    assert await cache.get(session, 2) == "two"
    assert await cache.get(session, 2) == "two"
    assert table.calls == [[2], [2], [2]]


async def test_a_change_is_forgotten_at_once_here_and_by_every_cache_on_the_bus(
    session: AsyncSession,
) -> None:
    bus = ControlBus()
    table = FakeTable({1: "one", 2: "two"})
    here = new_cache(bus, table)
    there = new_cache(bus, table)
    assert await here.get(session, 1) == "one"
    assert await here.get(session, 2) == "two"
    assert await there.get(session, 1) == "one"
    assert table.calls == [[1], [2], [1]]

    table.rows[1] = "one, renamed"
    await here.changed(1)

    assert await here.get(session, 1) == "one, renamed"
    assert await there.get(session, 1) == "one, renamed"
    # Only the changed id was forgotten.
    assert await here.get(session, 2) == "two"
    assert table.calls == [[1], [2], [1], [1], [1]]


async def test_once_old_every_kept_id_is_read_again_in_one_load_and_changes_are_seen(
    session: AsyncSession,
) -> None:
    clock = FakeMonotonic()
    table = FakeTable({1: "one", 2: "two", 3: "three"})
    cache = await keeping_all(session, table, clock)
    assert table.calls == [[1], [2], [3]]

    # Changed without a bus message (a message lost in a Redis outage).
    table.rows[2] = "two, renamed"
    del table.rows[3]
    clock.advance(MAX_AGE_S - 0.1)
    assert await cache.get(session, 2) == "two"
    assert len(table.calls) == 3

    clock.advance(0.1)
    assert await cache.get(session, 1) == "one"
    assert len(table.calls) == 4
    assert sorted(table.calls[3]) == [1, 2, 3]

    assert await cache.get(session, 2) == "two, renamed"
    assert len(table.calls) == 4
    # An id the re-read left out (deleted meanwhile) is no longer kept.
    assert await cache.get(session, 3) is None
    assert table.calls[4:] == [[3]]


async def test_gets_arriving_while_old_values_are_read_again_share_one_load(
    session: AsyncSession,
) -> None:
    clock = FakeMonotonic()
    table = FakeTable({1: "one", 2: "two", 3: "three"})
    cache = await keeping_all(session, table, clock)
    table.rows = {1: "one v2", 2: "two v2", 3: "three v2"}
    clock.advance(MAX_AGE_S)

    table.block()
    gets = asyncio.gather(*(cache.get(session, id_) for id_ in (1, 2, 3, 1)))
    await table.loading()
    table.release()
    results = await gets

    assert len(table.calls) == 4
    assert sorted(table.calls[3]) == [1, 2, 3]
    # The first get waited for the re-read; the others answered from what was kept.
    assert results == ["one v2", "two", "three", "one"]
    assert [await cache.get(session, id_) for id_ in (1, 2, 3)] == ["one v2", "two v2", "three v2"]
    assert len(table.calls) == 4


@pytest.mark.parametrize(
    ("changed_id", "read_after"), [(7, "seven, renamed"), (8, "seven")], ids=["same", "another"]
)
async def test_a_load_of_one_id_that_overlaps_a_change_keeps_nothing(
    session: AsyncSession, changed_id: int, read_after: str
) -> None:
    """Whichever id changed: the load began before the change, so what it read is not kept."""
    table = FakeTable({7: "seven"})
    cache = new_cache(ControlBus(), table)

    table.block()
    get = asyncio.create_task(cache.get(session, 7))
    await table.loading()
    if changed_id == 7:
        table.rows[7] = "seven, renamed"
    await cache.changed(changed_id)
    table.release()

    assert await get == "seven"
    assert await cache.get(session, 7) == read_after
    assert table.calls == [[7], [7]]


async def test_a_read_of_every_kept_id_that_overlaps_a_change_keeps_nothing(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one", 2: "two"})
    cache = await grown_old(session, table)

    table.block()
    get = asyncio.create_task(cache.get(session, 1))
    await table.loading()
    table.rows[2] = "two, renamed"
    await cache.changed(2)
    table.release()

    assert await get == "one"
    assert sorted(table.calls[2]) == [1, 2]
    # The re-read kept nothing, so the get that ran it loaded its own id again.
    assert table.calls[3:] == [[1]]
    assert await cache.get(session, 2) == "two, renamed"
    assert table.calls[4:] == [[2]]


async def test_a_failing_load_reaches_the_caller_and_the_next_get_tries_again(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one"})
    cache = new_cache(ControlBus(), table)

    table.error = ConnectionError("database unreachable")
    with pytest.raises(ConnectionError, match="database unreachable"):
        await cache.get(session, 1)

    table.error = None
    assert await cache.get(session, 1) == "one"
    assert await cache.get(session, 1) == "one"
    assert table.calls == [[1], [1]]


async def test_a_failing_read_of_every_kept_id_reaches_the_caller_and_is_tried_again(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one", 2: "two"})
    cache = await grown_old(session, table)
    table.rows[2] = "two, renamed"

    table.error = ConnectionError("database unreachable")
    with pytest.raises(ConnectionError, match="database unreachable"):
        await cache.get(session, 1)
    assert sorted(table.calls[2]) == [1, 2]

    table.error = None
    assert await cache.get(session, 1) == "one"
    assert len(table.calls) == 4
    assert sorted(table.calls[3]) == [1, 2]
    assert await cache.get(session, 2) == "two, renamed"
    assert len(table.calls) == 4


async def test_a_message_published_by_hand_with_a_room_id_makes_the_cache_forget_it(
    session: AsyncSession,
) -> None:
    bus = ControlBus()
    table = FakeTable({5: "five", 6: "six"})
    cache = new_cache(bus, table)
    await cache.get(session, 5)
    await cache.get(session, 6)
    table.rows[5] = "five, renamed"

    await bus.publish(KIND, {"room_id": 5})

    assert await cache.get(session, 5) == "five, renamed"
    assert await cache.get(session, 6) == "six"
    assert table.calls == [[5], [6], [5]]


async def test_everything_kept_is_read_again_a_bounded_number_of_ids_at_a_time(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each id is a bound parameter, and a statement takes only so many."""
    monkeypatch.setattr(shared_cache, "LOAD_AT_MOST", 2)
    table = FakeTable({n: f"room {n}" for n in range(1, 6)})
    cache = await grown_old(session, table)
    table.rows[5] = "room 5, renamed"

    assert await cache.get(session, 5) == "room 5, renamed"
    assert table.calls[5:] == [[1, 2], [3, 4], [5]]
    assert [await cache.get(session, n) for n in (1, 2, 3, 4)] == [f"room {n}" for n in range(1, 5)]
    assert len(table.calls) == 8


async def test_gets_of_an_id_nobody_keeps_share_one_load(session: AsyncSession) -> None:
    """After a restart every room is unknown at once: the joins of one room read it once."""
    table = FakeTable({1: "one", 2: "two"})
    cache = new_cache(ControlBus(), table)

    table.block()
    gets = asyncio.gather(*(cache.get(session, id_) for id_ in (1, 1, 2, 1)))
    await table.loading()
    table.release()

    assert await gets == ["one", "one", "two", "one"]
    assert sorted(table.calls) == [[1], [2]]


async def test_a_get_after_a_change_does_not_share_a_load_begun_before_it(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one"})
    cache = new_cache(ControlBus(), table)

    table.block()
    before = asyncio.create_task(cache.get(session, 1))
    await table.loading()
    table.rows[1] = "one, renamed"
    await cache.changed(1)
    after = asyncio.create_task(cache.get(session, 1))
    await asyncio.sleep(0)
    table.release()

    assert await before == "one"
    assert await after == "one, renamed"
    assert table.calls == [[1], [1]]


async def test_gets_sharing_a_load_that_fails_load_again_and_only_its_caller_is_told(
    session: AsyncSession,
) -> None:
    table = FakeTable({1: "one"})
    gate = asyncio.Event()
    calls = 0

    async def failing_once(session: AsyncSession, ids: list[int]) -> dict[int, str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
            raise ConnectionError("database unreachable")
        return await table.load(session, ids)

    cache: SharedCache[str] = SharedCache(
        ControlBus(), KIND, failing_once, monotonic=FakeMonotonic()
    )
    first = asyncio.create_task(cache.get(session, 1))
    await asyncio.sleep(0)
    others = asyncio.gather(cache.get(session, 1), cache.get(session, 1))
    await asyncio.sleep(0)
    gate.set()

    with pytest.raises(ConnectionError, match="database unreachable"):
        await first
    assert list(await others) == ["one", "one"]
    # One of the others loaded it again; the last shared that load.
    assert calls == 2
