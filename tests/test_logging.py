"""Nothing that reaches the server's log may carry a password, a token or a message body."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from tests.conftest import PeerFactory
from tests.processes import ServerProcess, create_admin, server_env
from tests.support import PASSWORD, Api, build_community_as, new_client_id, sign_in


async def test_the_log_holds_no_secrets_or_message_bodies(
    database_url: str, tmp_path: Path, peer: PeerFactory
) -> None:
    env = server_env(database_url, tmp_path, log_level="DEBUG")
    await create_admin(env)
    log_path = tmp_path / "server.log"
    process = await ServerProcess.start(env, log_path)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(process.url, session)
            people = await build_community_as(api, await sign_in(api, "admin"))
            token = (await api.get("/api/me/calendar-token", people.pat_ana.token)).body["token"]
            feed = await session.get(f"{process.url}/api/calendar.ics?token={token}")
            assert feed.status == 200
            # A request line too long to parse never reaches the app: aiohttp refuses it and
            # logs it, and that line must not quote the token either.
            async with session.get(
                f"{process.url}/api/calendar.ics?token={token}&{'a' * 9000}"
            ) as long:
                assert long.status == 400
            ana = await peer(people.pat_ana.token, process.url)
            await ana.call("join", {"room_id": people.group_a})
            body = "a private sentence only the group should read"
            ack = await ana.call(
                "send", {"room_id": people.group_a, "body": body, "client_id": new_client_id()}
            )
            assert ack["ok"], ack
            await ana.disconnect()
    finally:
        await process.stop()

    log = log_path.read_text()
    assert "GET /api/calendar.ics" in log  # the request is logged, its query string is not
    assert "refused a request that is not valid HTTP (LineTooLong, status 400)" in log
    assert "Traceback" not in log
    for secret in (token, PASSWORD, people.pat_ana.token, body, env["PEERROOMS_SECRET_KEY"]):
        assert secret not in log


async def test_json_lines_carry_the_request_id(database_url: str, tmp_path: Path) -> None:
    env = server_env(database_url, tmp_path, log_level="INFO", log_format="json")
    log_path = tmp_path / "server.log"
    process = await ServerProcess.start(env, log_path)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(
                f"{process.url}/api/me", headers={"X-Request-Id": "trace42abc"}
            ) as reply:
                assert reply.status == 401
                assert reply.headers["X-Request-Id"] == "trace42abc"
            async with session.get(f"{process.url}/healthz") as reply:
                made_up = reply.headers["X-Request-Id"]
                assert made_up.isalnum() and made_up != "trace42abc"
    finally:
        await process.stop()

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "aiohttp.access"]
    assert {"time", "level", "logger", "request_id", "message"} <= set(access[0])
    assert any(
        line["request_id"] == "trace42abc" and "GET /api/me" in line["message"] for line in access
    )
    assert any(line["request_id"] == made_up for line in access)
