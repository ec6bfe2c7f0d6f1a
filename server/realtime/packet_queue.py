"""What waits to be written to one engine.io socket, at a small part of asyncio.Queue's memory.

engine.io gives each socket a queue of outgoing packets (`create_queue`, which an application
may replace) and one writer task that takes them off it. asyncio.Queue costs about 2.5 KiB for
an empty one (three deques and an Event with a deque of its own, each deque a 64-slot block
from the start): 6 % of an idle connection's memory (`python -m bench idle`). A socket uses
it in a narrow way (unbounded, one writer waiting at a time, `join` once when it closes), so
`PacketQueue` keeps the same answers with a list, an index into it and the futures of whoever
waits now: about 0.2 KiB for an idle socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import islice
from typing import Any

# Taken packets are dropped from the list's front once they are this many and half of it:
# the list does not grow with everything a busy socket ever sent, and dropping them costs
# one move of what is left, at most once per as many gets.
COMPACT_FROM = 64


class PacketQueue:
    """An unbounded FIFO with asyncio.Queue's methods that engine.io calls: `put`,
    `put_nowait`, `get`, `get_nowait` (asyncio.QueueEmpty when there is nothing), `task_done`,
    `join`, `qsize`, `empty`; and `pending`, what waits, oldest first, for the backlog bound,
    and `all_written` for a write that would go past the queue."""

    __slots__ = ("_items", "_head", "_getters", "_unfinished", "_all_done", "_in_hand")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # items before it were taken
        self._getters: list[asyncio.Future[None]] = []
        self._unfinished = 0  # put and not yet marked done by task_done
        self._all_done: asyncio.Future[None] | None = None
        self._in_hand = False  # handed out by `get`, and not yet marked written

    def qsize(self) -> int:
        return len(self._items) - self._head

    def empty(self) -> bool:
        return self.qsize() == 0

    def pending(self) -> Iterator[Any]:
        return islice(self._items, self._head, None)

    def all_written(self) -> bool:
        """Nothing waits here, and whatever `get` last handed out has been written: the
        socket's writer has nothing in hand (`websockets.py`). A `get` hands out its item a
        turn of the loop or more before the writer task resumes with it, and the writer
        takes the rest with `get_nowait` and writes them all without yielding, unless a
        write waits for the connection to drain: the websocket marks each write
        (`mark_writing`, `mark_written`), so that wait counts as in hand too."""
        return not self._in_hand and len(self._items) == self._head

    def mark_writing(self) -> None:
        self._in_hand = True

    def mark_written(self) -> None:
        self._in_hand = False

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        self._wake_a_getter()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if self.empty():
            raise asyncio.QueueEmpty
        item = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self._items.clear()  # an empty list keeps no slots
            self._head = 0
        elif self._head >= COMPACT_FROM and self._head * 2 >= len(self._items):
            del self._items[: self._head]
            self._head = 0
        return item

    async def get(self) -> Any:
        while self.empty():
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                # Woken and then cancelled before taking anything: the wake-up goes to the
                # next one waiting, so a packet is never left behind with a writer waiting.
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if not self.empty() and not getter.cancelled():
                    self._wake_a_getter()
                raise
        item = self.get_nowait()
        self._in_hand = True
        return item

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called more times than there were items")
        self._unfinished -= 1
        if self._unfinished == 0 and self._all_done is not None:
            if not self._all_done.done():
                self._all_done.set_result(None)
            self._all_done = None

    async def join(self) -> None:
        if self._unfinished == 0:
            return
        if self._all_done is None:
            self._all_done = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._all_done)

    def _wake_a_getter(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return
