"""An acked message is stored: it survives the server process being killed (SIGKILL) and a
restart on the same database (docs/api/README.md: an ack with `ok: true` means it is stored)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.processes import ServerProcess, create_admin, server_env
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    RunningServer,
    build_community,
    build_community_as,
    new_client_id,
    server_settings,
    sign_in,
    start_server,
)

pytestmark = pytest.mark.persistence


# ----- helpers -----


async def send(peer: Peer, room_id: int, body: str) -> dict[str, Any]:
    ack = await peer.call("send", {"room_id": room_id, "body": body, "client_id": new_client_id()})
    assert ack["ok"] is True, ack
    return dict(ack["message"])


async def all_messages(api: Api, person: Person, room_id: int) -> list[dict[str, Any]]:
    """Every message of a room, paged backwards over HTTP, oldest first."""
    pages: list[list[dict[str, Any]]] = []
    before: int | None = None
    while True:
        query = "limit=100" + (f"&before={before}" if before is not None else "")
        reply = await api.get(f"/api/rooms/{room_id}/messages?{query}", token=person.token)
        assert reply.status == 200, reply.body
        page = reply.body["messages"]
        pages.append(page)
        if not reply.body["has_more"]:
            break
        assert page, reply.body
        assert len(pages) < 100, "history does not end"
        before = page[0]["id"]
    messages = [message for page in reversed(pages) for message in page]
    assert [m["id"] for m in messages] == sorted({m["id"] for m in messages})
    return messages


def assert_kept(acked: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Every acked message is stored with the same id, body, author and client_id."""
    by_id = {message["id"]: message for message in stored}
    missing = [message for message in acked if message["id"] not in by_id]
    assert not missing, f"{len(missing)} acked messages were lost, first: {missing[0]}"
    for message in acked:
        kept = by_id[message["id"]]
        for key in ("body", "client_id", "author", "room_id", "created_at", "deleted"):
            assert kept[key] == message[key], (key, message, kept)


async def disconnect_all(peers: list[Peer]) -> None:
    for connected in peers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connected.disconnect(), 5)


# ----- tests -----


async def test_acked_messages_survive_sigkill_of_the_server_process(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path)
    await create_admin(env)
    processes: list[ServerProcess] = []
    peers: list[Peer] = []
    try:
        first = await ServerProcess.start(env, tmp_path / "first.log")
        processes.append(first)
        async with aiohttp.ClientSession() as session:
            api = Api(first.url, session)
            community = await build_community_as(api, await sign_in(api, "admin"))
            room = community.group_a
            ana = await Peer(first.url, community.pat_ana.token).connect()
            peers.append(ana)
            avi = await Peer(first.url, community.pat_avi.token).connect()
            peers.append(avi)
            for each in (ana, avi):
                assert (await each.call("join", {"room_id": room}))["ok"]

            acked: list[dict[str, Any]] = []
            # One at a time, from two people.
            for n in range(10):
                acked.append(await send((ana, avi)[n % 2], room, f"one by one {n}"))
            # Pipelined through one connection, not awaiting acks in between.
            burst = await asyncio.gather(
                *(
                    ana.call(
                        "send",
                        {"room_id": room, "body": f"burst {n}", "client_id": f"burst-{n}"},
                    )
                    for n in range(20)
                )
            )
            for ack in burst:
                assert ack["ok"] is True, ack
                acked.append(ack["message"])
            burst_ids = [ack["message"]["id"] for ack in burst]
            assert burst_ids == sorted(burst_ids)

            # Sends still in flight when the process dies: whatever was acked must be kept.
            in_flight = [
                asyncio.create_task(
                    avi.call(
                        "send",
                        {"room_id": room, "body": f"in flight {n}", "client_id": f"flight-{n}"},
                    )
                )
                for n in range(40)
            ]
            done: set[asyncio.Task[Any]] = set()
            pending: set[asyncio.Task[Any]] = set(in_flight)
            while len(done) < 5 and pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                done |= finished
            await first.kill()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            assert first.process.returncode == -signal.SIGKILL
            acked_in_flight = [task.result() for task in in_flight if task in done]
            for ack in acked_in_flight:
                assert ack["ok"] is True, ack
                acked.append(ack["message"])
            assert len(acked) >= 35
            await disconnect_all(peers)

            second = await ServerProcess.start(env, tmp_path / "second.log")
            processes.append(second)
            api = Api(second.url, session)
            stored = await all_messages(api, community.pat_avi, room)
            assert_kept(acked, stored)
            sent_client_ids = {m["client_id"] for m in acked} | {f"flight-{n}" for n in range(40)}
            assert {m["client_id"] for m in stored} <= sent_client_ids
            assert len({(m["author"]["id"], m["client_id"]) for m in stored}) == len(stored)

            # The idempotency key survived too, and new messages continue after the old ones.
            ana_again = await Peer(second.url, community.pat_ana.token).connect()
            peers.append(ana_again)
            assert (await ana_again.call("join", {"room_id": room}))["ok"]
            repeat = await ana_again.call(
                "send", {"room_id": room, "body": "burst 0", "client_id": "burst-0"}
            )
            assert repeat["ok"] is True, repeat
            assert repeat["message"]["id"] == burst_ids[0]
            fresh = await send(ana_again, room, "after the restart")
            assert fresh["id"] > max(m["id"] for m in stored)
    finally:
        await disconnect_all(peers)
        for process in processes:
            await process.kill()


async def test_acked_messages_survive_an_in_process_restart(
    database_url: str, tmp_path: Path
) -> None:
    settings = server_settings(database_url, tmp_path)
    clock = FakeClock()
    peers: list[Peer] = []
    servers: list[RunningServer] = []
    try:
        first = await start_server(settings, clock)
        servers.append(first)
        async with aiohttp.ClientSession() as session:
            community: Community = await build_community(first, Api(first.url, session))
            room = community.group_a
            ana = await Peer(first.url, community.pat_ana.token).connect()
            peers.append(ana)
            assert (await ana.call("join", {"room_id": room}))["ok"]
            acked = [await send(ana, room, f"before restart {n}") for n in range(15)]
            await disconnect_all(peers)
            await servers.pop().stop()

            second = await start_server(settings, clock)
            servers.append(second)
            stored = await all_messages(Api(second.url, session), community.pat_ana, room)
            assert_kept(acked, stored)
            assert [m["id"] for m in stored] == [m["id"] for m in acked]
    finally:
        await disconnect_all(peers)
        for running in servers:
            await running.stop()
