"""SIGTERM during a burst of sends: every acked message is stored, every other one is not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import PeerFactory
from tests.processes import ServerProcess, create_admin, server_env
from tests.support import Api, community_at, new_client_id

pytestmark = pytest.mark.persistence

# Sends keep going out every few milliseconds until the server closes the connection.
MAX_SENDS = 3000
SIGTERM_AFTER_ACKS = 100


async def test_sigterm_during_a_burst_loses_no_acked_message_and_stores_no_other(
    database_url: str, tmp_path: Path, peer: PeerFactory
) -> None:
    # What is under way when SIGTERM comes is the point, however much: on a loaded machine
    # the burst outruns the server, and past the shipped bound sends are refused
    # `overloaded` before they start (tests/test_overload.py), which would test nothing here.
    env = server_env(database_url, tmp_path, send_max_in_flight="100000")
    await create_admin(env)
    server = await ServerProcess.start(env, tmp_path / "first.log")
    try:
        people = await community_at(server.url)
        room = people.group_a
        ana = await peer(people.pat_ana.token, server.url)
        await ana.call("join", {"room_id": room})
        client_ids: list[str] = []
        burst: list[asyncio.Task[Any]] = []

        async def send(client_id: str) -> Any:
            payload = {"room_id": room, "body": f"burst {client_id}", "client_id": client_id}
            try:
                return await ana.call("send", payload)
            except Exception as error:  # the connection closed before an ack came
                return error

        async def keep_sending() -> None:
            while ana.client.connected and len(client_ids) < MAX_SENDS:
                client_ids.append(new_client_id())
                burst.append(asyncio.create_task(send(client_ids[-1])))
                await asyncio.sleep(0.002)

        sender = asyncio.create_task(keep_sending())
        while sum(task.done() for task in burst) < SIGTERM_AFTER_ACKS:
            await asyncio.sleep(0.005)
        server.process.terminate()  # SIGTERM
        await sender
        results = await asyncio.gather(*burst)
        assert await asyncio.wait_for(server.process.wait(), 15) == 0, "not a clean exit"
    finally:
        await server.stop()

    acked = {
        cid: result["message"]["id"]
        for cid, result in zip(client_ids, results, strict=True)
        if isinstance(result, dict) and result.get("ok")
    }
    refused = [
        result["error"]["code"]
        for result in results
        if isinstance(result, dict) and not result.get("ok")
    ]
    assert set(refused) <= {"unavailable"}, refused
    assert SIGTERM_AFTER_ACKS <= len(acked) < len(client_ids), "SIGTERM missed the burst"

    server = await ServerProcess.start(env, tmp_path / "second.log")
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(server.url, session)
            stored: dict[str, int] = {}
            before = None
            while True:
                query = "limit=100" + (f"&before={before}" if before else "")
                page = await api.get(f"/api/rooms/{room}/messages?{query}", people.mod_lee.token)
                stored.update({m["client_id"]: m["id"] for m in page.body["messages"]})
                if not page.body["has_more"]:
                    break
                before = page.body["messages"][0]["id"]
    finally:
        await server.stop()

    assert stored == acked


async def test_sigterm_is_not_held_up_by_a_client_that_stopped_polling(
    database_url: str, tmp_path: Path
) -> None:
    """A phone that dropped off mid long-poll never fetches its close packet; the process
    must exit all the same, or it is killed and skips its clean-up."""
    server = await ServerProcess.start(server_env(database_url, tmp_path), tmp_path / "log")
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as handshake,
        ):
            assert handshake.status == 200
            assert '"sid"' in await handshake.text()
        server.process.terminate()
        assert await asyncio.wait_for(server.process.wait(), 10) == 0
    finally:
        await server.stop()
