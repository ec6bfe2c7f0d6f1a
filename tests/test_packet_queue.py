"""PacketQueue (server/realtime/packet_queue.py): each engine.io socket's outgoing packets, with
asyncio.Queue's answers to every call engine.io makes (put, put_nowait, get inside wait_for,
get_nowait, task_done, join) at a fifth of its memory or less, on a real server too.

Where a test needs tasks to have run, `run_ready` lets the event loop run what is ready a few
rounds: no time passes and nothing is timed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import sys
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from server.app import CORE
from server.realtime import packet_queue
from server.realtime.packet_queue import COMPACT_FROM, PacketQueue
from tests.conftest import PeerFactory
from tests.support import Community, RunningServer, joined, send, with_id

# Rounds of the event loop `run_ready` gives: every hand-off in these tests (a wake-up, a
# cancellation passing a wake-up on, a join answered) takes one or two.
READY_ROUNDS = 10


async def run_ready() -> None:
    """Let every task that can run, run, and those they wake in turn; no time passes."""
    for _ in range(READY_ROUNDS):
        await asyncio.sleep(0)


async def waiting_get(queue: PacketQueue) -> asyncio.Task[Any]:
    """A task in `queue.get()`, already waiting when this answers."""
    task = asyncio.create_task(queue.get())
    await run_ready()
    assert not task.done(), "get() answered on an empty queue"
    return task


async def got(queue: PacketQueue) -> Any:
    """What a `queue.get()` answers once the ready tasks have run; it must have answered by
    then (a get that would wait fails the test rather than hanging it)."""
    task = asyncio.create_task(queue.get())
    await run_ready()
    if not task.done():
        await cancelled(task)
        pytest.fail("get() is still waiting")
    return task.result()


async def cancelled(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks still running and wait for them to end (a test's clean-up)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ----- 1. order and inspection -----


async def test_items_come_out_in_order_and_pending_shows_what_waits_oldest_first() -> None:
    queue = PacketQueue()
    assert queue.empty() and queue.qsize() == 0
    assert list(queue.pending()) == []

    for item in ("a", "b", "c"):
        queue.put_nowait(item)

    assert queue.qsize() == 3 and not queue.empty()
    assert list(queue.pending()) == ["a", "b", "c"]
    # Reading what waits took nothing from the queue.
    assert list(queue.pending()) == ["a", "b", "c"]
    assert queue.qsize() == 3

    assert queue.get_nowait() == "a"
    assert list(queue.pending()) == ["b", "c"]
    assert queue.qsize() == 2
    queue.put_nowait("d")
    assert list(queue.pending()) == ["b", "c", "d"]
    assert [queue.get_nowait() for _ in range(3)] == ["b", "c", "d"]
    assert queue.empty() and queue.qsize() == 0
    assert list(queue.pending()) == []


async def test_get_nowait_on_an_empty_queue_raises_queue_empty_and_changes_nothing() -> None:
    queue = PacketQueue()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()

    queue.put_nowait(None)  # engine.io's "stop" packet is None: a valid item
    assert queue.get_nowait() is None
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    assert queue.empty() and queue.qsize() == 0

    queue.put_nowait("after")
    assert queue.get_nowait() == "after"


# ----- 2. waiting getters -----


@pytest.mark.parametrize("awaited", [False, True], ids=["put_nowait", "put"])
async def test_a_get_waiting_on_an_empty_queue_is_woken_by_a_put(awaited: bool) -> None:
    queue = PacketQueue()
    getter = await waiting_get(queue)

    if awaited:
        await queue.put("packet")
    else:
        queue.put_nowait("packet")
    await run_ready()

    assert getter.done() and getter.result() == "packet"
    assert queue.empty()


async def test_several_waiting_getters_each_get_one_item_in_the_order_they_began_waiting() -> None:
    queue = PacketQueue()
    getters = [await waiting_get(queue) for _ in range(4)]

    queue.put_nowait("first")
    queue.put_nowait("second")
    await queue.put("third")
    await run_ready()

    assert [getter.done() for getter in getters] == [True, True, True, False]
    assert [getter.result() for getter in getters[:3]] == ["first", "second", "third"]
    assert queue.empty()

    queue.put_nowait("fourth")
    await run_ready()
    assert getters[3].done() and getters[3].result() == "fourth"


# ----- 3. a get that times out -----


@contextlib.contextmanager
def futures_made_by_get() -> Iterator[list[weakref.ref[asyncio.Future[Any]]]]:
    """Weak references to the futures `PacketQueue.get` makes to wait on (the loop's
    `create_future`, watched while the block runs): one still alive after its get has ended
    is a getter the queue kept."""
    loop = asyncio.get_running_loop()
    make = loop.create_future
    made: list[weakref.ref[asyncio.Future[Any]]] = []

    def watched() -> asyncio.Future[Any]:
        future = make()
        caller = sys._getframe(1).f_code
        if caller.co_name == "get" and caller.co_filename == packet_queue.__file__:
            made.append(weakref.ref(future))
        return future

    loop.create_future = watched  # type: ignore[method-assign]
    try:
        yield made
    finally:
        del loop.create_future  # the class's own again


async def test_a_get_that_times_out_leaves_no_getter_behind_and_loses_no_later_item() -> None:
    queue = PacketQueue()
    with futures_made_by_get() as getters:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(queue.get(), 0.001)
    assert queue.empty()
    gc.collect()
    assert len(getters) == 3
    assert [getter() for getter in getters] == [None, None, None], "the queue kept a getter"

    # Nothing left over takes what is put afterwards: it waits for the next get.
    queue.put_nowait("kept")
    assert queue.qsize() == 1
    assert await got(queue) == "kept"

    # And the next getter to wait is the one woken: the timed-out ones used up no wake-up.
    getter = await waiting_get(queue)
    queue.put_nowait("woken")
    await run_ready()
    assert getter.done() and getter.result() == "woken"
    assert queue.empty()


# ----- 4. cancellation -----


async def test_a_getter_woken_and_cancelled_before_it_runs_passes_the_item_to_the_next() -> None:
    queue = PacketQueue()
    first = await waiting_get(queue)
    second = await waiting_get(queue)

    queue.put_nowait("packet")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it has run to take it
    await run_ready()

    assert first.cancelled()
    assert second.done(), "the item was left in the queue with a getter waiting for it"
    assert second.result() == "packet"
    assert queue.empty()


async def test_a_getter_woken_and_cancelled_with_no_one_else_waiting_leaves_the_item() -> None:
    queue = PacketQueue()
    only = await waiting_get(queue)

    queue.put_nowait("packet")
    only.cancel()
    await run_ready()

    assert only.cancelled()
    assert list(queue.pending()) == ["packet"]
    assert await got(queue) == "packet"


async def test_a_waiting_getter_cancelled_leaves_the_queue_usable() -> None:
    queue = PacketQueue()
    gone = await waiting_get(queue)
    await cancelled(gone)
    assert gone.cancelled()
    assert queue.empty()

    # A put after it goes to the getter still waiting, not to the one that went away.
    getter = await waiting_get(queue)
    queue.put_nowait("one")
    await run_ready()
    assert getter.done() and getter.result() == "one"

    queue.put_nowait("two")
    assert queue.qsize() == 1
    assert queue.get_nowait() == "two"


async def test_a_cancelled_getter_between_two_waiting_ones_does_not_take_a_wake_up() -> None:
    queue = PacketQueue()
    first = await waiting_get(queue)
    middle = await waiting_get(queue)
    last = await waiting_get(queue)
    await cancelled(middle)

    queue.put_nowait("a")
    queue.put_nowait("b")
    await run_ready()

    assert (first.done(), last.done()) == (True, True)
    assert (first.result(), last.result()) == ("a", "b")
    assert queue.empty()


# ----- 5. task_done and join -----


async def test_join_answers_at_once_when_nothing_is_unfinished() -> None:
    queue = PacketQueue()
    join = asyncio.create_task(queue.join())
    await run_ready()
    assert join.done() and join.result() is None

    queue.put_nowait("x")
    queue.get_nowait()
    queue.task_done()
    again = asyncio.create_task(queue.join())
    await run_ready()
    assert again.done() and again.result() is None


async def test_join_waits_until_every_item_put_is_marked_done() -> None:
    queue = PacketQueue()
    queue.put_nowait("a")
    await queue.put("b")
    join = asyncio.create_task(queue.join())
    await run_ready()
    assert not join.done()

    # Taking the items is not enough: each must be marked done.
    queue.get_nowait()
    queue.get_nowait()
    await run_ready()
    assert not join.done()

    queue.task_done()
    await run_ready()
    assert not join.done()

    queue.task_done()
    await run_ready()
    assert join.done() and join.result() is None

    # A later item makes a later join wait again.
    queue.put_nowait("c")
    later = asyncio.create_task(queue.join())
    await run_ready()
    assert not later.done()
    queue.get_nowait()
    queue.task_done()
    await run_ready()
    assert later.done() and later.result() is None


async def test_task_done_more_often_than_items_were_put_raises_value_error() -> None:
    queue = PacketQueue()
    with pytest.raises(ValueError):
        queue.task_done()

    queue.put_nowait("a")
    queue.get_nowait()
    queue.task_done()
    with pytest.raises(ValueError):
        queue.task_done()

    # The refusal changed nothing: the next item is counted as before.
    queue.put_nowait("b")
    join = asyncio.create_task(queue.join())
    await run_ready()
    assert not join.done()
    queue.task_done()
    await run_ready()
    assert join.done()


async def test_a_cancelled_join_does_not_break_a_second_join() -> None:
    queue = PacketQueue()
    queue.put_nowait("a")
    first = asyncio.create_task(queue.join())
    await run_ready()
    await cancelled(first)
    assert first.cancelled()

    second = asyncio.create_task(queue.join())
    await run_ready()
    assert not second.done()

    queue.get_nowait()
    queue.task_done()
    await run_ready()
    assert second.done() and not second.cancelled()
    assert second.result() is None


async def test_every_join_waiting_is_answered_when_the_last_item_is_done() -> None:
    queue = PacketQueue()
    queue.put_nowait("a")
    joins = [asyncio.create_task(queue.join()) for _ in range(3)]
    await run_ready()
    assert not any(join.done() for join in joins)

    queue.task_done()
    await run_ready()
    assert all(join.done() and join.result() is None for join in joins)


# ----- 6. a long interleaving -----

# Items through the queue, and the most that wait at once.
THROUGH = 10_000
MOST_WAITING = 300


async def test_many_interleaved_puts_and_gets_keep_order_and_leave_the_list_empty() -> None:
    queue = PacketQueue()
    pick = random.Random(20240607)
    taken: list[int] = []
    put = 0
    longest_list = 0
    while put < THROUGH:
        # Put a burst, never letting more than MOST_WAITING wait...
        for _ in range(pick.randint(1, 40)):
            if put == THROUGH or queue.qsize() == MOST_WAITING:
                break
            queue.put_nowait(put)
            put += 1
        # ...then take some, always leaving one behind until the end, so the list is never
        # emptied by running dry: only the compaction keeps it short.
        for _ in range(pick.randint(1, 40)):
            if queue.qsize() <= 1:
                break
            taken.append(queue.get_nowait())
            # Reading the private list checks the memory promise: taken packets are let go of.
            longest_list = max(longest_list, len(queue._items))
    while not queue.empty():
        taken.append(queue.get_nowait())

    assert taken == list(range(THROUGH))
    # The memory promise: the list holds no more than about twice what waits (at least
    # COMPACT_FROM taken ones), never everything ever sent, and nothing once drained.
    assert longest_list <= 2 * MOST_WAITING + COMPACT_FROM
    assert queue._items == []
    assert list(queue.pending()) == []
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


# ----- 7. the same answers as asyncio.Queue -----

STEPS = 20_000


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call answered, or the kind of exception it raised."""
    try:
        return ("answered", call())
    except (asyncio.QueueEmpty, ValueError) as error:
        return ("raised", type(error))


async def test_a_random_sequence_of_calls_answers_as_asyncio_queue_does() -> None:
    ours = PacketQueue()
    theirs: asyncio.Queue[int] = asyncio.Queue()
    pick = random.Random(7)
    taken = 0  # items got and not yet marked done
    next_item = 0
    seen: set[tuple[str, str]] = set()
    deepest = 0
    for step in range(STEPS):
        # Phases of a thousand steps that mostly fill the queue, then mostly drain it.
        puts, gets = (6, 3) if step // 1000 % 2 == 0 else (2, 7)
        choice = pick.choices(["put", "get", "task_done", "qsize"], [puts, gets, 3, 1])[0]
        if choice == "put":
            results = [outcome(partial(q.put_nowait, next_item)) for q in (ours, theirs)]
            next_item += 1
        elif choice == "get":
            results = [outcome(q.get_nowait) for q in (ours, theirs)]
            taken += results[1][0] == "answered"
        elif choice == "task_done":
            if taken == 0:
                continue  # only where it is valid (the invalid one has a test of its own)
            results = [outcome(q.task_done) for q in (ours, theirs)]
            taken -= 1
        else:
            results = [outcome(q.qsize) for q in (ours, theirs)]
        assert results[0] == results[1], f"step {step}: {choice}"
        assert (ours.qsize(), ours.empty()) == (theirs.qsize(), theirs.empty()), f"step {step}"
        seen.add((choice, results[1][0]))
        deepest = max(deepest, theirs.qsize())
    # Every kind of answer came up (gets from an empty queue included), and the queue grew
    # past where taken items start being dropped from the list's front.
    assert seen == {
        ("put", "answered"),
        ("get", "answered"),
        ("get", "raised"),
        ("task_done", "answered"),
        ("qsize", "answered"),
    }
    assert deepest > 2 * COMPACT_FROM


async def test_too_many_task_dones_raise_what_asyncio_queue_raises() -> None:
    ours = PacketQueue()
    theirs: asyncio.Queue[int] = asyncio.Queue()
    for queue in (ours, theirs):
        queue.put_nowait(1)
        queue.get_nowait()
    assert outcome(ours.task_done) == outcome(theirs.task_done) == ("answered", None)
    assert outcome(ours.task_done) == outcome(theirs.task_done) == ("raised", ValueError)
    assert outcome(ours.get_nowait) == outcome(theirs.get_nowait)
    assert outcome(ours.get_nowait) == ("raised", asyncio.QueueEmpty)


# ----- 8. memory -----

QUEUES = 1_000


def traced_bytes_per_queue(make: Callable[[], object]) -> float:
    """What one queue made by `make` costs, traced by tracemalloc over QUEUES of them (the
    list that keeps them is made before tracing starts counting)."""
    kept: list[object] = [None] * QUEUES
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for index in range(QUEUES):
            kept[index] = make()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        if started_here:
            tracemalloc.stop()
    assert all(queue is not None for queue in kept)
    return (after - before) / QUEUES


async def test_an_empty_packet_queue_takes_at_most_a_fifth_of_an_empty_asyncio_queue() -> None:
    ours = traced_bytes_per_queue(PacketQueue)
    theirs = traced_bytes_per_queue(asyncio.Queue)
    assert 0 < ours <= theirs / 5, f"PacketQueue {ours:.0f} B, asyncio.Queue {theirs:.0f} B"


# ----- 9. on a real server -----


async def test_a_real_servers_engineio_sockets_use_packet_queues_and_messages_get_through(
    server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    avi = await peer(c.pat_avi.token)
    sockets = server.app[CORE].sio.eio.sockets
    assert len(sockets) == 2
    for eio_socket in sockets.values():
        assert isinstance(eio_socket.queue, PacketQueue), type(eio_socket.queue)

    await joined(ana, c.group_a)
    await joined(avi, c.group_a)
    sent = await send(ana, c.group_a, "through the packet queue")
    received = await avi.wait_for("message", with_id(sent["id"]))
    assert received["body"] == "through the packet queue"


# ----- 5. what the writer has in hand (a write that would go past the queue) -----


async def test_all_written_holds_only_when_nothing_waits_and_nothing_taken_is_unwritten() -> None:
    queue = PacketQueue()
    assert queue.all_written()

    getter = await waiting_get(queue)
    assert queue.all_written()  # a writer waiting with nothing in hand
    queue.put_nowait("a")
    assert not queue.all_written()  # waits in the queue
    await run_ready()
    assert getter.result() == "a"
    assert queue.empty() and not queue.all_written()  # taken, not yet written

    queue.mark_writing()
    assert not queue.all_written()  # a write waiting for the connection to drain
    queue.mark_written()
    assert queue.all_written()

    # A get that times out takes nothing, and leaves nothing in hand.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), 0.001)
    assert queue.all_written()
