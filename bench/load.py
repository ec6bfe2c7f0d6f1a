"""The load generator: worker processes, each driving many light clients on one event loop.

The main process never carries client traffic; it tells the workers what to do over a pipe
and merges what they saw. Each worker reports its own CPU time, so a run shows whether the
generator, rather than the server, was the limit.

Latency is wall clock across processes on one machine: a sender writes `time.time_ns()` into
the message's `client_id` (`w<worker>c<client>s<seq>t<ns>`), and every receiver subtracts it
from its own `time.time_ns()` at receipt. Bodies stay ordinary chat text, so the content
filters see what they would see in production (a long number in a body could be taken for a
phone number and masked).

The storm scenario uses the same workers differently: clients that remember which message ids
they saw (`connect_tracking`), extra people who send messages and wait for each ack
(`send_messages`), and a reconnect of every client at once, each joining its room again with
`since` (`storm`).

The overload scenario adds busy rooms beside a load run (`connect_busy`, `busy_start`,
`busy_report`): a stream of long posts, members who stop reading, and members who read on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import random
import resource
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from bench.client import LightClient, client_id_of, message_id_of, stalling_socket
from bench.corpus import ORDINARY_LINES

CONNECT_CONCURRENCY = 50
# Joins in flight across all workers. peerrooms' `join` holds a database connection while
# presence listeners open a second one; with more concurrent joins than the pool holds (5 + 10
# overflow on SQLite) every join waits for a connection none will give back, until the pool's
# 30 s timeout. Reported; the benchmark stays under the limit so set-up does not stall.
JOIN_CONCURRENCY = 12
ACK_WAIT_S = 5.0
DRAIN_MAX_S = 10.0
# A send answered `unavailable` is tried again, as a client would, up to this many tries
# (the web client's outbox never gives up; three were too few for a smoke run sharing two
# cores with the test suite: a send answered `unavailable` three times was then stored and
# delivered, and the ledger counted its deliveries as unexpected).
SEND_ATTEMPTS = 6
# Storm: a reconnecting client behaves as the web client does (web/src/connection.ts,
# web/src/room/controller.ts): an ack not come in 10 s counts as lost; a join answered
# `unavailable` or lost is tried again 2 s later; a failed connect again after 0.5 s, the
# delay doubling up to 5 s, each +-30 % at random; a join answered `has_more` is followed by
# another from the last id received. The web client never gives up; the benchmark does after
# GIVE_UP_S, and counts that client as not caught up.
REQUEST_TIMEOUT_S = 10.0
JOIN_RETRY_S = 2.0
RECONNECT_DELAY_S = 0.5
RECONNECT_DELAY_MAX_S = 5.0
RECONNECT_RANDOMISATION = 0.3
MAX_CATCH_UP_ROUNDS = 50
GIVE_UP_S = 60.0
# The storm's senders set the scene rather than being measured: like the web client's outbox
# they send again (same client_id) while the answer says nothing, or maybe something, was done
# (for GIVE_UP_S at most), the pause doubling from SEND_AGAIN_DELAY_S.
SEND_AGAIN = ("unavailable", "overloaded")
SEND_AGAIN_DELAY_S = 0.1

# What a worker does with each `message` event a client of its receives:
# (client index, raw packet, receive time in time.time_ns()).
ReceiptHook = Callable[[int, str, int], None]


@dataclass(frozen=True)
class ClientSpec:
    """One simulated person: which server they use, how they sign in, their room."""

    index: int
    url: str
    auth: dict[str, Any]
    room_id: int


@dataclass(frozen=True)
class LoadSpec:
    """Every client sends `per_client_rate` messages/s to its room for `duration_s`, starting
    at wall time `start_at`; afterwards the worker waits for acks (at most ACK_WAIT_S). When
    collected, it waits until no delivery has come for `drain_s`."""

    per_client_rate: float
    duration_s: float
    drain_s: float
    start_at: float


@dataclass
class LoadReport:
    """What one worker saw during one load run."""

    worker: int
    # (client_id, room_id, ok, error code, ack latency ms) per message this worker sent.
    sent: list[tuple[str, int, bool, str, float]] = field(default_factory=list)
    unacked: list[tuple[str, int]] = field(default_factory=list)
    # (client_id, receiver index) per `message` event received.
    receipts: list[tuple[str, int]] = field(default_factory=list)
    # Per receipt: send time (s since start_at) and latency (ms).
    sent_at_s: array[float] = field(default_factory=lambda: array("d"))
    latency_ms: array[float] = field(default_factory=lambda: array("d"))
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_schedule_lag_ms: float = 0.0
    disconnected: int = 0
    # Sends asked again after an `unavailable` answer.
    retried: int = 0


@dataclass(frozen=True)
class SendJob:
    """One extra person who sends `per_room` messages to each of `room_ids`, one after another,
    each once its ack came back (so they are stored in the order sent), then disconnects.
    Sending needs no `join`: the sender receives nothing."""

    index: int
    url: str
    auth: dict[str, Any]
    room_ids: tuple[int, ...]
    per_room: int
    # Part of every client_id, so two batches by one person never share one.
    tag: str


@dataclass(frozen=True)
class StormSpec:
    """Every tracked client reconnects at wall time `start_at`, to the URL its server moved to
    (`moved`: old URL -> new), and joins its room with `since` = the newest id it saw. After
    the last join, the worker waits until no message has come for `quiet_s`."""

    start_at: float
    moved: dict[str, str]
    quiet_s: float


@dataclass
class SentMessages:
    """What a worker's storm senders got done: (room id, message id) per message stored,
    (room id, why not) per message given up on, and how many sends were tried again."""

    stored: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    tried_again: int = 0


@dataclass
class Reconnect:
    """What one client saw reconnecting in a storm."""

    index: int
    room_id: int
    since: int
    # How long after the storm's start the worker got to this client (the generator's delay,
    # not counted in the timings below).
    start_lag_ms: float = 0.0
    # From the first connect attempt to Socket.IO's connect answer, failed attempts included.
    connect_ms: float | None = None
    # From then to the ack of the last join (retries and follow-ups included).
    join_ms: float | None = None
    connect_failures: int = 0
    join_retries: int = 0
    joins: int = 0
    # Ids of the messages in the join answers, and of those that came as `message` events.
    page_ids: list[int] = field(default_factory=list)
    live_ids: list[int] = field(default_factory=list)
    # Why it did not get back in ("" when it did).
    error: str = ""


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Worker:
    """The clients of one worker process and the runs it is asked to make."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.clients: list[tuple[ClientSpec, LightClient]] = []
        self._report: LoadReport | None = None
        self._epoch_ns = 0
        self._last_receipt_ns = 0
        self._pending: dict[str, tuple[int, int]] = {}
        self._started = (0.0, 0.0)
        self._session: aiohttp.ClientSession | None = None
        # Storm: the tracked clients, and the message ids each has seen, in arrival order.
        self._tracked: list[ClientSpec] = []
        self._seen: dict[int, list[int]] = {}

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector)
        try:
            while True:
                command, argument = await loop.run_in_executor(None, conn.recv)
                if command == "close":
                    await self.close()
                    conn.send({"closed": True})
                    return
                answer = await getattr(self, command)(argument)
                conn.send(answer)
        finally:
            await self._session.close()

    async def connect(self, argument: tuple[Sequence[ClientSpec], int]) -> dict[str, Any]:
        """Connect every client (many at a time), then join each one's room (a few at a time:
        see JOIN_CONCURRENCY)."""
        specs, join_concurrency = argument
        return await self._connect(specs, join_concurrency, self._received)

    async def connect_tracking(self, argument: tuple[Sequence[ClientSpec], int]) -> dict[str, Any]:
        """As `connect`, but each client remembers the ids of the messages it gets (live or in
        its join answer): the newest is the `since` of its reconnect in a storm."""
        specs, join_concurrency = argument
        self._seen = {spec.index: [] for spec in specs}
        answer = await self._connect(specs, join_concurrency, self._track, self._track_page)
        connected = set(answer["connected"])
        self._tracked = [spec for spec in specs if spec.index in connected]
        self._seen = {spec.index: self._seen[spec.index] for spec in self._tracked}
        return answer

    async def _connect(
        self,
        specs: Sequence[ClientSpec],
        join_concurrency: int,
        on_message: ReceiptHook,
        on_joined: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        errors: list[str] = []
        opened = await self._open_all(specs, errors, on_message)
        joined = await self._join_all(opened, join_concurrency, errors, on_joined)
        self.clients.extend(joined)
        self.clients.sort(key=lambda pair: pair[0].index)
        return {
            "worker": self.number,
            "connected": [spec.index for spec, _ in joined],
            "errors": errors[:20],
            "failed": len(errors),
            "seconds": time.perf_counter() - started,
        }

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the worker has no HTTP session")
        return self._session

    async def _open_all(
        self, specs: Sequence[ClientSpec], errors: list[str], on_message: ReceiptHook
    ) -> list[tuple[ClientSpec, LightClient]]:
        session = self._http()
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(spec: ClientSpec) -> tuple[ClientSpec, LightClient] | None:
            async with limit:
                client = LightClient(session, partial(on_message, spec.index))
                try:
                    await client.connect(spec.url, spec.auth)
                except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as error:
                    errors.append(f"{spec.index} connect: {error!r}")
                    await client.close()
                    return None
                return spec, client

        return [pair for pair in await asyncio.gather(*map(one, specs)) if pair is not None]

    async def _join_all(
        self,
        opened: list[tuple[ClientSpec, LightClient]],
        concurrency: int,
        errors: list[str],
        on_joined: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> list[tuple[ClientSpec, LightClient]]:
        limit = asyncio.Semaphore(concurrency)

        async def one(spec: ClientSpec, client: LightClient) -> bool:
            async with limit:
                try:
                    ack = await client.call("join", {"room_id": spec.room_id})
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    ack = {"ok": False, "error": repr(error)}
            if not ack.get("ok"):
                errors.append(f"{spec.index} join: {ack}")
                await client.close()
            elif on_joined is not None:
                on_joined(spec.index, ack)
            return bool(ack.get("ok"))

        results = await asyncio.gather(*(one(spec, client) for spec, client in opened))
        return [pair for pair, ok in zip(opened, results, strict=True) if ok]

    async def load(self, spec: LoadSpec) -> dict[str, Any]:
        """Send on schedule, then wait a little for acks; answers how many are still owed.
        Receipts and acks keep being recorded until `collect`."""
        report = LoadReport(self.number)
        self._epoch_ns = int(spec.start_at * 1e9)
        self._started = (process_cpu_s(), time.perf_counter())
        self._report = report
        self._pending = {}
        # The receipt lists grow by the hundred thousand; the cyclic GC's full passes over
        # them would pause the worker every few seconds and show up as latency spikes that
        # are the generator's, not the server's. Nothing here makes cycles worth collecting.
        gc.disable()
        await self._send_for(spec, report, self._pending)
        await self._wait_for_acks(self._pending)
        return {"worker": self.number, "unanswered": len(self._pending)}

    async def collect(self, drain_s: float) -> LoadReport:
        """Wait until no delivery has come for `drain_s`, then hand in the report."""
        report = self._report
        if report is None:
            raise RuntimeError("collect without load")
        try:
            await self._wait_for_quiet(drain_s)
        finally:
            self._report = None
            gc.enable()
        cpu_before, wall_before = self._started
        report.unacked = [(cid, room) for cid, (room, _) in self._pending.items()]
        report.cpu_s = process_cpu_s() - cpu_before
        report.wall_s = time.perf_counter() - wall_before
        report.disconnected = sum(1 for _, c in self.clients if c.closed_reason is not None)
        return report

    async def idle(self, seconds: float) -> dict[str, Any]:
        """Hold the connections open and count CPU while nothing is sent."""
        cpu_before = process_cpu_s()
        await asyncio.sleep(seconds)
        alive = sum(1 for _, c in self.clients if c.closed_reason is None)
        return {"worker": self.number, "cpu_s": process_cpu_s() - cpu_before, "alive": alive}

    async def disconnect(self, _argument: None = None) -> dict[str, Any]:
        """Close every client, keeping the worker for the next target."""
        await self.close()
        return {"worker": self.number, "disconnected": True}

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for _, client in self.clients))
        self.clients.clear()

    # ----- storm: tracking, extra senders, everyone reconnecting at once -----

    async def tracked(self, _argument: None = None) -> dict[str, Any]:
        """The message ids each tracked client has seen, and how many of the clients' sockets
        are closed (by the server, when it stops)."""
        closed = sum(1 for _, c in self.clients if c.closed_reason is not None)
        return {"worker": self.number, "seen": self._seen, "closed": closed}

    async def send_messages(self, jobs: Sequence[SendJob]) -> dict[str, Any]:
        """Run each job on a connection of its own, all at once; answers (room id, message id)
        per message stored, (room id, error) per message that was not, and how many sends
        were tried again."""
        sent = SentMessages()
        await asyncio.gather(*(self._send_job(job, sent) for job in jobs))
        return {
            "worker": self.number,
            "stored": sent.stored,
            "failed": sent.failed,
            "tried_again": sent.tried_again,
        }

    async def _send_job(self, job: SendJob, sent: SentMessages) -> None:
        client = LightClient(self._http())
        try:
            await client.connect(job.url, job.auth)
        except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as error:
            sent.failed.extend((room_id, f"connect: {error!r}") for room_id in job.room_ids)
            await client.close()
            return
        try:
            for room_id in job.room_ids:
                for number in range(job.per_room):
                    payload = {
                        "room_id": room_id,
                        "body": ORDINARY_LINES[number % len(ORDINARY_LINES)],
                        "client_id": f"{job.tag}-p{job.index}-r{room_id}-m{number}",
                    }
                    message_id, why_not = await self._send_until_answered(client, payload, sent)
                    if message_id:
                        sent.stored.append((room_id, message_id))
                    else:
                        sent.failed.append((room_id, why_not))
        finally:
            await client.close()

    @staticmethod
    async def _send_until_answered(
        client: LightClient, payload: dict[str, Any], sent: SentMessages
    ) -> tuple[int, str]:
        """Send one message, again with the same client_id while the answer says nothing (or
        maybe something) was done; answers its id, or 0 and why not."""
        deadline = time.monotonic() + GIVE_UP_S
        pause = SEND_AGAIN_DELAY_S
        while True:
            try:
                ack = await client.call("send", payload, timeout=REQUEST_TIMEOUT_S)
            except TimeoutError:
                ack = {"ok": False, "error": {"code": "no answer"}}
            except (aiohttp.ClientError, OSError) as error:
                return 0, f"send: {error!r}"
            if ack.get("ok"):
                return int(ack["message"]["id"]), ""
            error_body = ack.get("error", {})
            code = str(error_body.get("code", "?"))
            if (code not in SEND_AGAIN and code != "no answer") or time.monotonic() > deadline:
                return 0, code
            sent.tried_again += 1
            await asyncio.sleep(max(pause, float(error_body.get("retry_after_s", 0.0))))
            pause = min(pause * 2, JOIN_RETRY_S)

    async def storm(self, spec: StormSpec) -> dict[str, Any]:
        """At `spec.start_at`, reconnect every tracked client at once, each joining its room
        again with `since` = the newest id it saw; then wait for late `message` events. The
        clients stay connected (closed by `disconnect`)."""
        await asyncio.sleep(max(0.0, spec.start_at - time.time()))
        cpu_before, wall_before = process_cpu_s(), time.perf_counter()
        reconnects = await asyncio.gather(
            *(self._reconnect(client, spec) for client in self._tracked)
        )
        # Nothing is sent during the storm, so any `message` now is one given twice or late.
        self._last_receipt_ns = time.time_ns()
        await self._wait_for_quiet(spec.quiet_s)
        return {
            "worker": self.number,
            "reconnects": list(reconnects),
            "cpu_s": process_cpu_s() - cpu_before,
            "wall_s": time.perf_counter() - wall_before,
        }

    async def _reconnect(self, spec: ClientSpec, storm: StormSpec) -> Reconnect:
        seen = self._seen.get(spec.index, [])
        record = Reconnect(spec.index, spec.room_id, since=max(seen, default=0))
        record.start_lag_ms = (time.time() - storm.start_at) * 1000
        started = time.perf_counter()
        give_up_at = started + GIVE_UP_S
        url = storm.moved.get(spec.url, spec.url)
        client = await self._connect_again(spec, url, record, give_up_at)
        if client is None:
            return record
        connected = time.perf_counter()
        record.connect_ms = (connected - started) * 1000
        self.clients.append((spec, client))
        if await self._catch_up(client, spec.room_id, record, give_up_at):
            record.join_ms = (time.perf_counter() - connected) * 1000
        return record

    async def _connect_again(
        self, spec: ClientSpec, url: str, record: Reconnect, give_up_at: float
    ) -> LightClient | None:
        """Connect, trying again after a growing delay while it fails (until `give_up_at`,
        perf_counter time)."""
        delay = RECONNECT_DELAY_S
        while True:
            client = LightClient(self._http(), partial(self._storm_received, record))
            try:
                await client.connect(url, spec.auth)
            except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as error:
                record.connect_failures += 1
                record.error = f"connect: {error!r}"
                await client.close()
                if time.perf_counter() > give_up_at:
                    return None
                spread = random.uniform(-RECONNECT_RANDOMISATION, RECONNECT_RANDOMISATION)  # noqa: S311
                await asyncio.sleep(delay * (1 + spread))
                delay = min(delay * 2, RECONNECT_DELAY_MAX_S)
                continue
            record.error = ""
            return client

    async def _catch_up(
        self, client: LightClient, room_id: int, record: Reconnect, give_up_at: float
    ) -> bool:
        """Join with `since`, then again from the last id received while the answer says more
        were missed; answers whether it got in."""
        since = record.since
        for _round in range(MAX_CATCH_UP_ROUNDS):
            ack = await self._join_with_retries(client, room_id, since, record, give_up_at)
            if ack is None:
                return False
            page = [int(message["id"]) for message in ack.get("messages", [])]
            record.page_ids.extend(page)
            record.joins += 1
            if not ack.get("has_more") or not page:
                break
            since = page[-1]
        return True

    @staticmethod
    async def _join_with_retries(
        client: LightClient, room_id: int, since: int, record: Reconnect, give_up_at: float
    ) -> dict[str, Any] | None:
        """One join, tried again JOIN_RETRY_S later when answered `unavailable` or not at all
        (as the web client does, until `give_up_at`); None, with the reason in
        `record.error`, if it never got in."""
        while True:
            try:
                ack = await client.call(
                    "join", {"room_id": room_id, "since": since}, timeout=REQUEST_TIMEOUT_S
                )
            except TimeoutError:
                ack = {"ok": False, "error": {"code": "no answer"}}
            except (aiohttp.ClientError, OSError) as error:
                record.error = f"join: {error!r}"
                return None
            if ack.get("ok"):
                record.error = ""
                return ack
            code = str(ack.get("error", {}).get("code", "?"))
            record.error = f"join: {code}"
            if code not in ("unavailable", "no answer") or time.perf_counter() > give_up_at:
                return None
            record.join_retries += 1
            await asyncio.sleep(JOIN_RETRY_S)

    def _track(self, receiver: int, raw: str, _received_ns: int) -> None:
        self._seen[receiver].append(message_id_of(raw))

    def _track_page(self, receiver: int, ack: dict[str, Any]) -> None:
        self._seen[receiver].extend(int(message["id"]) for message in ack.get("messages", []))

    def _storm_received(self, record: Reconnect, raw: str, received_ns: int) -> None:
        record.live_ids.append(message_id_of(raw))
        self._last_receipt_ns = received_ns

    # ----- sending -----

    async def _send_for(
        self, spec: LoadSpec, report: LoadReport, pending: dict[str, tuple[int, int]]
    ) -> None:
        """Open-loop sending at a fixed rate: a slow server does not slow the offered load.
        Clients take turns, so each sends at `per_client_rate` with even spacing."""
        if not self.clients:
            await asyncio.sleep(max(0.0, spec.start_at + spec.duration_s - time.time()))
            return
        count = len(self.clients)
        interval = 1.0 / (spec.per_client_rate * count)
        total = int(spec.duration_s / interval)
        # Each worker starts its round at a different offset so workers do not send in bursts.
        phase = random.random() * interval  # noqa: S311 - not cryptographic
        lag = 0.0
        for seq in range(total):
            due = spec.start_at + phase + seq * interval
            ahead = due - time.time()
            if ahead > 0.001:
                await asyncio.sleep(ahead)
            else:
                lag = max(lag, -ahead)
            client_spec, client = self.clients[seq % count]
            await self._send_one(client_spec, client, seq, report, pending)
        report.max_schedule_lag_ms = lag * 1000

    async def _send_one(
        self,
        spec: ClientSpec,
        client: LightClient,
        seq: int,
        report: LoadReport,
        pending: dict[str, tuple[int, int]],
    ) -> None:
        sent_ns = time.time_ns()
        client_id = f"w{self.number}c{spec.index}s{seq}t{sent_ns}"
        pending[client_id] = (spec.room_id, sent_ns)
        payload = {
            "room_id": spec.room_id,
            "body": ORDINARY_LINES[seq % len(ORDINARY_LINES)],
            "client_id": client_id,
        }
        attempts = 1

        def acked(answer: dict[str, Any]) -> None:
            nonlocal attempts
            ok = bool(answer.get("ok"))
            code = "" if ok else str(answer.get("error", {}).get("code", "?"))
            # `unavailable`: not answered in time, "may or may not have been done". A client
            # sends again with the same client_id (stored once, broadcast once), as the web
            # client's outbox does; the ack latency counts from the first try.
            if code == "unavailable" and attempts < SEND_ATTEMPTS:
                attempts += 1
                report.retried += 1
                asyncio.ensure_future(self._emit(client, payload, acked))
                return
            room_id, at_ns = pending.pop(client_id, (spec.room_id, sent_ns))
            latency = (time.time_ns() - at_ns) / 1e6
            report.sent.append((client_id, room_id, ok, code, latency))

        await self._emit(client, payload, acked)

    @staticmethod
    async def _emit(
        client: LightClient, payload: dict[str, Any], acked: Callable[[dict[str, Any]], None]
    ) -> None:
        try:
            await client.emit("send", payload, acked)
        except (aiohttp.ClientConnectionResetError, ConnectionError):
            # The server closed this connection (overloaded past its ping timeout): the send
            # stays unanswered, which fails the step; the worker goes on with the others.
            pass

    async def _wait_for_quiet(self, quiet_s: float) -> None:
        """Deliveries to other members can trail the last ack: wait until none has arrived
        for `quiet_s` (at most DRAIN_MAX_S), so a busy machine does not look like loss."""
        deadline = time.monotonic() + DRAIN_MAX_S
        while time.monotonic() < deadline:
            since = (time.time_ns() - self._last_receipt_ns) / 1e9
            if since >= quiet_s:
                return
            await asyncio.sleep(min(quiet_s - since, 0.05))

    async def _wait_for_acks(self, pending: dict[str, tuple[int, int]]) -> None:
        deadline = time.time() + ACK_WAIT_S
        while pending and time.time() < deadline:
            await asyncio.sleep(0.05)

    # ----- receiving (the hot path) -----

    def _received(self, receiver: int, raw: str, received_ns: int) -> None:
        report = self._report
        if report is None:
            return
        client_id = client_id_of(raw)
        sent_ns = int(client_id[client_id.rindex("t") + 1 :])
        self._last_receipt_ns = received_ns
        report.receipts.append((client_id, receiver))
        report.latency_ms.append((received_ns - sent_ns) / 1e6)
        report.sent_at_s.append((sent_ns - self._epoch_ns) / 1e9)

    # ----- overload: busy rooms whose members stop reading -----

    # Made by `connect_busy` (a worker given no busy room has an empty one).
    _busy_rooms: BusyRooms | None = None

    async def connect_busy(self, rooms: Sequence[BusyRoom]) -> dict[str, Any]:
        """Connect the members and posters of these busy rooms, apart from the load's
        clients: a `load` run neither sends from them nor counts what they receive."""
        self._busy_rooms = BusyRooms(self.number, self._http())
        return await self._busy_rooms.connect(rooms)

    async def busy_start(self, spec: BusySpec) -> dict[str, Any]:
        """Start the busy rooms' run in the background, so that a `load` run can go on
        meanwhile; answers at once."""
        self._busy().start(spec)
        return {"worker": self.number}

    async def busy_report(self, _argument: None = None) -> list[BusyRoomReport]:
        """Wait for the busy rooms' run to end; answers what each room saw, and closes their
        clients."""
        busy = self._busy()
        try:
            return await busy.report()
        finally:
            await busy.close()
            self._busy_rooms = None

    def _busy(self) -> BusyRooms:
        if self._busy_rooms is None:
            raise RuntimeError("busy rooms used before connect_busy")
        return self._busy_rooms


# ----- overload: busy rooms whose members stop reading -----

# How often a stalled member's connection is looked at, and poked (LightClient.poke).
POKE_INTERVAL_S = 0.25
# How long closing a stalled member's connection may take (one the server never let go of
# waits for a close answer it will not read).
STALLED_CLOSE_S = 2.0
# Long posts fill a stalled member's backlog by bytes in seconds; ordinary chat lines would
# take minutes. Just under the longest body a message may have (MAX_BODY_CHARS, 4,000).
LONG_POST_CHARS = 3900
# Lines of bench/corpus.py that the crisis detector leaves alone however often they repeat.
# Most do not: its model takes a long run of ORDINARY_LINES for a crisis, and such a post
# would pass admission as urgent and raise an alert. The overload scenario checks LONG_POST
# with the shipped detector before it runs.
LONG_POST_LINES = (
    "lol my cat just walked across the keyboard",
    "made soup for the week, feeling very adult",
    "what are you reading?",
    "going to a meeting at 6 then home",
)


def long_post(chars: int = LONG_POST_CHARS) -> str:
    """LONG_POST_LINES one after another, `chars` long."""
    lines: list[str] = []
    while sum(len(line) + 2 for line in lines) < chars:
        lines.append(LONG_POST_LINES[len(lines) % len(LONG_POST_LINES)])
    return ". ".join(lines)[:chars].rstrip()


LONG_POST = long_post()


@dataclass(frozen=True)
class BusyRoom:
    """A room with a stream of long posts. `stalled` members will stop reading, `readers`
    keep reading (neither sends); `posters` send to it without joining (they receive
    nothing)."""

    room_id: int
    stalled: tuple[ClientSpec, ...]
    readers: tuple[ClientSpec, ...]
    posters: tuple[ClientSpec, ...]


@dataclass(frozen=True)
class BusySpec:
    """From `start_at` the posters of each busy room send it `rate_per_room` long posts/s in
    turns, open loop, and never send a refused post again; at `stop_reading_at` its stalled
    members stop reading. Posting ends at `post_until`, or later while a stalled member of
    the room is still connected, but at `give_up_at` whatever happened."""

    start_at: float
    stop_reading_at: float
    post_until: float
    give_up_at: float
    rate_per_room: float


@dataclass
class StalledMember:
    index: int
    # From stopping reading to its connection seen closed (to POKE_INTERVAL_S); None: never.
    cut_off_after_s: float | None = None


@dataclass
class BusyRoomReport:
    """What one busy room's run came to."""

    room_id: int
    stalled: list[StalledMember] = field(default_factory=list)
    posts_sent: int = 0
    posts_ok: int = 0
    # Posts answered other than `ok`, by error code (`unavailable` included).
    posts_failed: dict[str, int] = field(default_factory=dict)
    posts_unanswered: int = 0
    readers: int = 0
    # Readers whose connection was closed, and per reader the posts acked `ok` it never got.
    readers_cut_off: int = 0
    readers_missing: list[int] = field(default_factory=list)
    # Bytes of the `message` packets a reader got after the stalled members stopped reading:
    # what each stalled member's queue would hold by the end if nothing bounded it.
    bytes_after_stall: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Reader:
    client: LightClient | None = None
    seen: set[str] = field(default_factory=set)
    bytes_after_stall: int = 0


@dataclass
class _BusyRoomRun:
    room: BusyRoom
    report: BusyRoomReport
    stalled: list[tuple[StalledMember, LightClient]] = field(default_factory=list)
    readers: list[_Reader] = field(default_factory=list)
    posters: list[LightClient] = field(default_factory=list)
    acked_ok: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    stop_reading_ns: int = 0

    def still_stalled(self) -> bool:
        """Is a stalled member of this room still connected?"""
        return any(member.cut_off_after_s is None for member, _ in self.stalled)


class BusyRooms:
    """One worker's busy rooms: their clients, the posting and the stalled members."""

    def __init__(self, worker: int, http: aiohttp.ClientSession) -> None:
        self._worker = worker
        self._http = http
        # Stalled members connect with small buffers (client.stalling_socket).
        connector = aiohttp.TCPConnector(limit=0, socket_factory=stalling_socket)
        self._stalling = aiohttp.ClientSession(connector=connector)
        self._rooms: list[_BusyRoomRun] = []
        self._task: asyncio.Future[list[None]] | None = None
        self._last_receipt_ns = 0

    async def connect(self, rooms: Sequence[BusyRoom]) -> dict[str, Any]:
        for room in rooms:
            run = _BusyRoomRun(room, BusyRoomReport(room.room_id))
            self._rooms.append(run)
            await self._connect_room(run)
        errors = [error for run in self._rooms for error in run.report.errors]
        return {"worker": self._worker, "rooms": len(rooms), "errors": errors}

    async def _connect_room(self, run: _BusyRoomRun) -> None:
        room = run.room
        for spec in room.stalled:
            client = await self._open(spec, self._stalling, None, run, join=True)
            if client is not None:
                member = StalledMember(spec.index)
                run.report.stalled.append(member)
                run.stalled.append((member, client))
        for spec in room.readers:
            reader = _Reader()
            hook = partial(self._read, run, reader)
            reader.client = await self._open(spec, self._http, hook, run, join=True)
            if reader.client is not None:
                run.readers.append(reader)
        for spec in room.posters:
            client = await self._open(spec, self._http, None, run, join=False)
            if client is not None:
                run.posters.append(client)
        run.report.readers = len(run.readers)

    @staticmethod
    async def _open(
        spec: ClientSpec,
        session: aiohttp.ClientSession,
        hook: Callable[[str, int], None] | None,
        run: _BusyRoomRun,
        *,
        join: bool,
    ) -> LightClient | None:
        client = LightClient(session, hook)
        try:
            await client.connect(spec.url, spec.auth)
            if join:
                ack = await client.call(
                    "join", {"room_id": spec.room_id}, timeout=REQUEST_TIMEOUT_S
                )
                if not ack.get("ok"):
                    raise RuntimeError(f"join: {ack}")
        except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as error:
            run.report.errors.append(f"{spec.index}: {error!r}")
            await client.close()
            return None
        return client

    def start(self, spec: BusySpec) -> None:
        for run in self._rooms:
            run.stop_reading_ns = int(spec.stop_reading_at * 1e9)
        self._task = asyncio.ensure_future(
            asyncio.gather(
                *(self._post(run, spec) for run in self._rooms),
                *(self._stall(run, spec) for run in self._rooms),
            )
        )

    async def _post(self, run: _BusyRoomRun, spec: BusySpec) -> None:
        """Open-loop posting, the room's posters taking turns."""
        if not run.posters:
            return
        interval = 1.0 / spec.rate_per_room
        seq = 0
        while True:
            due = spec.start_at + seq * interval
            if due >= spec.give_up_at or (due >= spec.post_until and not run.still_stalled()):
                break
            await asyncio.sleep(max(0.0, due - time.time()))
            await self._send_post(run, run.posters[seq % len(run.posters)], seq)
            seq += 1
        deadline = time.time() + ACK_WAIT_S
        while run.pending and time.time() < deadline:
            await asyncio.sleep(0.05)
        run.report.posts_unanswered = len(run.pending)

    async def _send_post(self, run: _BusyRoomRun, poster: LightClient, seq: int) -> None:
        client_id = f"busy-w{self._worker}r{run.room.room_id}s{seq}"
        report = run.report
        run.pending.add(client_id)
        report.posts_sent += 1

        def acked(answer: dict[str, Any]) -> None:
            run.pending.discard(client_id)
            if answer.get("ok"):
                run.acked_ok.add(client_id)
                report.posts_ok += 1
                return
            code = str(answer.get("error", {}).get("code", "?"))
            report.posts_failed[code] = report.posts_failed.get(code, 0) + 1

        payload = {"room_id": run.room.room_id, "body": LONG_POST, "client_id": client_id}
        await Worker._emit(poster, payload, acked)

    @staticmethod
    async def _stall(run: _BusyRoomRun, spec: BusySpec) -> None:
        """Stop the stalled members reading, then watch for the server letting each go."""
        await asyncio.sleep(max(0.0, spec.stop_reading_at - time.time()))
        for _member, client in run.stalled:
            client.stop_reading()
        stopped = time.perf_counter()
        while run.still_stalled() and time.time() < spec.give_up_at:
            await asyncio.sleep(POKE_INTERVAL_S)
            for member, client in run.stalled:
                if member.cut_off_after_s is not None:
                    continue
                if client.connection_open():
                    await client.poke()
                else:
                    member.cut_off_after_s = round(time.perf_counter() - stopped, 2)

    def _read(self, run: _BusyRoomRun, reader: _Reader, raw: str, received_ns: int) -> None:
        reader.seen.add(client_id_of(raw))
        if received_ns >= run.stop_reading_ns:
            reader.bytes_after_stall += len(raw)
        self._last_receipt_ns = received_ns

    async def report(self) -> list[BusyRoomReport]:
        """Once the run is over and the readers' last deliveries are in: what each room saw."""
        if self._task is not None:
            await self._task
        deadline = time.monotonic() + DRAIN_MAX_S
        while time.time_ns() - self._last_receipt_ns < 0.5e9 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for run in self._rooms:
            clients = [reader.client for reader in run.readers if reader.client is not None]
            run.report.readers_cut_off = sum(
                1 for c in clients if c.closed_reason is not None or not c.connection_open()
            )
            run.report.readers_missing = [len(run.acked_ok - r.seen) for r in run.readers]
            run.report.bytes_after_stall = max(
                (reader.bytes_after_stall for reader in run.readers), default=0
            )
        return [run.report for run in self._rooms]

    async def close(self) -> None:
        clients = [client for run in self._rooms for _, client in run.stalled]
        clients += [r.client for run in self._rooms for r in run.readers if r.client is not None]
        clients += [client for run in self._rooms for client in run.posters]
        await asyncio.gather(*(self._close_one(client) for client in clients))
        await self._stalling.close()

    @staticmethod
    async def _close_one(client: LightClient) -> None:
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
            await asyncio.wait_for(client.close(), STALLED_CLOSE_S)


def worker_main(conn: Connection, number: int) -> None:
    """Entry point of a worker process (spawned, so it imports nothing of the parent)."""
    asyncio.run(Worker(number).serve(conn))


class LoadGenerator:
    """Worker processes seen from the main process."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._broken = False
        self._pipes: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for number in range(workers):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=worker_main, args=(child_end, number), daemon=True)
            process.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._processes.append(process)

    @property
    def size(self) -> int:
        return len(self._pipes)

    async def _ask_all(self, command: str, arguments: Sequence[Any]) -> list[Any]:
        """Send each worker its command and wait for every answer. Interrupted (Ctrl-C, an
        error elsewhere), the pipes are out of step: the workers are then only terminated."""
        if self._broken:
            raise RuntimeError("the load generator was interrupted")
        loop = asyncio.get_running_loop()
        self._broken = True
        for pipe, argument in zip(self._pipes, arguments, strict=True):
            pipe.send((command, argument))
        answers = await asyncio.gather(*(loop.run_in_executor(None, p.recv) for p in self._pipes))
        self._broken = False
        return list(answers)

    async def connect(self, specs: Sequence[ClientSpec]) -> list[dict[str, Any]]:
        """Spread clients over the workers round-robin, so a room's members sit on several."""
        shares = [list(specs[number :: self.size]) for number in range(self.size)]
        per_worker = max(1, JOIN_CONCURRENCY // self.size)
        return await self._ask_all("connect", [(share, per_worker) for share in shares])

    async def load(self, spec: LoadSpec) -> int:
        """Run the sending part of a step; answers the sends still unanswered."""
        answers = await self._ask_all("load", [spec] * self.size)
        return sum(answer["unanswered"] for answer in answers)

    async def collect(self, drain_s: float) -> list[LoadReport]:
        return await self._ask_all("collect", [drain_s] * self.size)

    async def idle(self, seconds: float) -> list[dict[str, Any]]:
        return await self._ask_all("idle", [seconds] * self.size)

    async def connect_tracking(self, specs: Sequence[ClientSpec]) -> list[dict[str, Any]]:
        """As `connect`, with clients that remember the message ids they see (storm)."""
        shares = [list(specs[number :: self.size]) for number in range(self.size)]
        per_worker = max(1, JOIN_CONCURRENCY // self.size)
        return await self._ask_all("connect_tracking", [(share, per_worker) for share in shares])

    async def tracked(self) -> list[dict[str, Any]]:
        return await self._ask_all("tracked", [None] * self.size)

    async def send_messages(self, jobs: Sequence[SendJob]) -> list[dict[str, Any]]:
        """Spread the senders over the workers round-robin and run them all at once."""
        shares = [list(jobs[number :: self.size]) for number in range(self.size)]
        return await self._ask_all("send_messages", shares)

    async def storm(self, spec: StormSpec) -> list[dict[str, Any]]:
        return await self._ask_all("storm", [spec] * self.size)

    async def disconnect(self) -> None:
        """Close every client; the workers stay for the next target."""
        if not self._broken:
            await self._ask_all("disconnect", [None] * self.size)

    async def close(self) -> None:
        if not self._broken:
            with contextlib.suppress(TimeoutError, EOFError, OSError, RuntimeError):
                await asyncio.wait_for(self._ask_all("close", [None] * self.size), 30)
        for process in self._processes:
            if self._broken:
                process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        for pipe in self._pipes:
            pipe.close()

    # ----- overload: busy rooms whose members stop reading -----

    async def connect_busy(self, rooms: Sequence[BusyRoom]) -> list[dict[str, Any]]:
        """Each busy room's clients all on one worker (room r on worker r % workers), so a
        room's posts, their acks and its readers' receipts are counted in one place."""
        shares = [list(rooms[number :: self.size]) for number in range(self.size)]
        return await self._ask_all("connect_busy", shares)

    async def busy_start(self, spec: BusySpec) -> None:
        await self._ask_all("busy_start", [spec] * self.size)

    async def busy_report(self) -> list[BusyRoomReport]:
        answers = await self._ask_all("busy_report", [None] * self.size)
        return [report for answer in answers for report in answer]
