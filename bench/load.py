"""The load generator: worker processes, each driving many light clients on one event loop.

The main process never carries client traffic; it tells the workers what to do over a pipe
and merges what they saw. Each worker reports its own CPU time, so a run shows whether the
generator, rather than the server, was the limit.

Latency is wall clock across processes on one machine: a sender writes `time.time_ns()` into
the message's `client_id` (`w<worker>c<client>s<seq>t<ns>`), and every receiver subtracts it
from its own `time.time_ns()` at receipt. Bodies stay ordinary chat text, so the content
filters see what they would see in production (a long number in a body could be taken for a
phone number and masked).
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

from bench.client import LightClient, client_id_of
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
        started = time.perf_counter()
        errors: list[str] = []
        opened = await self._open_all(specs, errors)
        joined = await self._join_all(opened, join_concurrency, errors)
        self.clients.extend(joined)
        self.clients.sort(key=lambda pair: pair[0].index)
        return {
            "worker": self.number,
            "connected": [spec.index for spec, _ in joined],
            "errors": errors[:20],
            "failed": len(errors),
            "seconds": time.perf_counter() - started,
        }

    async def _open_all(
        self, specs: Sequence[ClientSpec], errors: list[str]
    ) -> list[tuple[ClientSpec, LightClient]]:
        session = self._session
        if session is None:
            raise RuntimeError("the worker has no HTTP session")
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(spec: ClientSpec) -> tuple[ClientSpec, LightClient] | None:
            async with limit:
                client = LightClient(session, partial(self._received, spec.index))
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
