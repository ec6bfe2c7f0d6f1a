"""Socket.IO event handling shared by every feature: parse the payload, run the handler,
answer through the ack in the contract's shape, and never let one bad event hurt others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio

from server.kernel.actors import Actor
from server.kernel.clock import Clock
from server.kernel.errors import AppError, overloaded, rate_limited, unauthorized
from server.kernel.logs import current_request_id, new_request_id
from server.kernel.ratelimit import RateLimiter
from server.kernel.validation import InputModel, parse_input
from server.realtime.hub import Connection, Hub

log = logging.getLogger(__name__)

InputT = TypeVar("InputT", bound=InputModel)
Ack = dict[str, Any]
EventHandler = Callable[[Connection, InputT], Awaitable[Ack]]
# Asked before any event is handled, with the event's name and payload: raises the refusal
# when the connection's person may not act at all for now (the consent notice not accepted:
# server/privacy/consent.py), unless what they send must get through whatever (crisis words).
EventGate = Callable[[Actor, str, InputModel], Awaitable[None]]

INTERNAL_ERROR: Ack = {
    "ok": False,
    "error": {"code": "internal", "message": "Something went wrong on our side; try again."},
}
DRAINING: Ack = {
    "ok": False,
    "error": {
        "code": "unavailable",
        "message": "The server is restarting; nothing was done. Send again once reconnected.",
    },
}
NOT_IN_TIME: Ack = {
    "ok": False,
    "error": {
        "code": "unavailable",
        "message": "This took too long (the server is waiting on its database); it may or may"
        " not have been done. Try again: a send with the same client_id is stored once.",
    },
}
# After the last in-flight handler returns, how long its ack gets to leave before sockets
# are closed.
ACK_FLUSH_S = 0.3


@dataclass(frozen=True)
class EventDeadlines:
    """How long an event may take from its arrival to its answer. A dependency that hangs
    (a database with its connections open and nothing answering) gets the client an
    `unavailable` answer in this time instead of none at all. In-order events (sends) have
    the shorter one: they wait for the connection's earlier ones, so a slow one holds every
    later one back."""

    any_s: float
    in_order_s: float


@dataclass(frozen=True)
class Admission:
    """How many in-order events (sends) this process takes at once. Past `max_in_flight`,
    a new one is refused at once with `overloaded` instead of joining a queue that only
    grows: past the ceiling, a queue makes every send late (and, past the send deadline,
    answered `unavailable` and stored anyway), while a fast refusal keeps the sends it takes
    quick and tells the others when to come back. `urgent` events are always taken (crisis
    words: nobody in crisis is turned away)."""

    max_in_flight: int
    urgent: Callable[[str, InputModel], bool]
    retry_after_s: float = 1.0


@dataclass(frozen=True)
class EventLimit:
    """Each user's allowance of each limited event: `burst` at once, `per_minute` after, in
    buckets shared across processes when the limiter is Redis's."""

    limiter: RateLimiter
    clock: Clock
    per_minute: float
    burst: int

    async def check(self, event: str, user_id: int) -> None:
        wait_s = await self.limiter.take(
            f"event:{event}:{user_id}", self.per_minute / 60.0, self.burst, self.clock.now()
        )
        if wait_s > 0:
            raise rate_limited(f"Too many `{event}` events at once; wait a moment.", wait_s)


class EventRouter:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        hub: Hub,
        deadlines: EventDeadlines,
        observe: Callable[[str, float], None] | None = None,
        limit: EventLimit | None = None,
        gate: EventGate | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.sio = sio
        self.hub = hub
        self._deadlines = deadlines
        # The payload model of each event handled (the API reference is checked against it).
        self.models: dict[str, type[InputModel]] = {}
        self._observe = observe
        self._limit = limit
        self._gate = gate
        self._admission = admission
        self._draining = False
        self._in_flight = 0
        # In-order events (sends) begun and not yet ended, answered in time or not.
        self._in_order_in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_done = 0.0
        self._working: set[asyncio.Future[Ack]] = set()

    def _began(self, work: asyncio.Future[Ack], event: str, started: float) -> None:
        """Count the work as under way (a shutdown waits for it) until it ends, answered in
        time or not, and keep it referenced until then."""
        self._in_flight += 1
        self._idle.clear()
        self._working.add(work)

        def ended(_: asyncio.Future[Ack]) -> None:
            self._working.discard(work)
            self._in_flight -= 1
            self._last_done = time.monotonic()
            if self._in_flight == 0:
                self._idle.set()
            if self._observe is not None:
                self._observe(event, time.perf_counter() - started)

        work.add_done_callback(ended)

    def _in_order_ended(self, _: asyncio.Future[Ack]) -> None:
        self._in_order_in_flight -= 1

    def _admit(self, event: str, data: InputModel) -> None:
        """Refuse an in-order event at once when this process has as many under way as it
        takes (this one counted), unless it is urgent."""
        admission = self._admission
        if admission is None or self._in_order_in_flight <= admission.max_in_flight:
            return
        if admission.urgent(event, data):
            return
        raise overloaded(
            "The server is busy and did nothing with this; send it again in a moment.",
            admission.retry_after_s,
        )

    async def drain(self, timeout_s: float) -> None:
        """Refuse new events and wait for those under way to finish and be acked."""
        self._draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("shutting down with %d events still being handled", self._in_flight)
        since_last = time.monotonic() - self._last_done
        # The last acks get a moment to leave, unless no socket is left to take them.
        if since_last < ACK_FLUSH_S and self.sio.eio.sockets:
            await asyncio.sleep(ACK_FLUSH_S - since_last)

    def on(
        self,
        event: str,
        model: type[InputT],
        handler: EventHandler[InputT],
        *,
        in_order: bool = False,
        limited: bool = True,
    ) -> None:
        """Handle `event`. `in_order`: one connection's events of this kind run one after
        another, in the order they arrived (python-socketio would run them concurrently).
        `limited`: each user's use of it is held to the router's EventLimit (sends have their
        own, which crisis language passes)."""

        self.models[event] = model
        deadline_s = self._deadlines.in_order_s if in_order else self._deadlines.any_s

        async def handle(connection: Connection, data: InputT, deadline: float) -> Ack:
            if not in_order:
                return await handler(connection, data)
            async with connection.send_lock:
                # Queued behind others when a shutdown began: refuse rather than start.
                if self._draining:
                    return DRAINING
                # Queued past its deadline, the client was told `unavailable` already and
                # will send again: starting now would only store it late.
                if asyncio.get_running_loop().time() > deadline:
                    return NOT_IN_TIME
                return await handler(connection, data)

        async def answer(sid: str, args: tuple[Any, ...], deadline: float) -> Ack:
            try:
                connection = self.hub.connection(sid)
                if connection is None:
                    raise unauthorized()
                data = parse_input(model, args[0] if args else None)
                if in_order:
                    self._admit(event, data)
                if self._gate is not None:
                    await self._gate(connection.actor, event, data)
                if limited and self._limit is not None:
                    await self._limit.check(event, connection.actor.id)
                answered = await handle(connection, data, deadline)
            except AppError as error:
                return {"ok": False, "error": error.as_error()}
            except Exception:
                log.exception("event %s failed", event)
                return INTERNAL_ERROR
            if answered is DRAINING or answered is NOT_IN_TIME:
                return answered
            return {"ok": True, **answered}

        async def receive(sid: str, *args: Any) -> Ack:
            if self._draining:
                return DRAINING
            current_request_id.set(f"{event}-{new_request_id()}")
            started = time.perf_counter()
            deadline = asyncio.get_running_loop().time() + deadline_s
            if in_order:
                self._in_order_in_flight += 1
            work = asyncio.ensure_future(answer(sid, args, deadline))
            if in_order:
                work.add_done_callback(self._in_order_ended)
            self._began(work, event, started)
            # The answer goes at the deadline whatever the work is waiting on; the work is not
            # cancelled (a cancelled driver call can take seconds to let go, and a crisis
            # alert under way must be raised), it goes on, bounded by the database's and
            # Redis's own timeouts, and the client is told it may or may not have been done.
            done, _ = await asyncio.wait({work}, timeout=deadline_s)
            if work in done:
                return work.result()
            log.warning("event %s not answered within %.1f s", event, deadline_s)
            return NOT_IN_TIME

        self.sio.on(event, receive)
