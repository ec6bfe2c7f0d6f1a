"""The server's Janus client (server/media/janus.py) against Debian's Janus, run in a network
namespace of the test's own (tests/janus.py): token-only video rooms made and ended with the
plugin's admin key, per-person tokens that let a browser in until they are removed, the
secrets Janus demands, and no way for a participant to have a call recorded. The first part of
video sessions (issue #20; docs/video.md)."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.media.janus import UNAUTHORIZED, JanusError
from tests.janus import JanusServer, janus_or_skip, pids_inside, running_janus
from tests.janus_participant import Participant

ROOM = 4242
# The video room plugin's "unauthorized" (a room's secret or the admin key wrong or missing).
ROOM_UNAUTHORIZED = 433
MISSING_ELEMENT = 429


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def as_a_browser(janus: JanusServer, http: aiohttp.ClientSession, token: str) -> Any:
    """What a browser holding `token` (and no secret) gets when it opens a Janus session."""
    request = {"janus": "create", "transaction": uuid.uuid4().hex, "token": token}
    async with http.post(janus.http_url, json=request) as reply:
        return await reply.json(content_type=None)


async def test_the_server_makes_token_only_rooms_and_ends_them(
    janus: JanusServer, http: aiohttp.ClientSession
) -> None:
    client = janus.client(http)
    info = await client.info()
    assert "janus.plugin.videoroom" in info["plugins"], info

    await client.create_room(ROOM, "Evening group", allowed=["ana-token"], publishers=15)
    await client.create_room(ROOM, "Evening group", allowed=["ana-token"], publishers=15)
    assert await client.room_exists(ROOM)
    assert await client.allowed(ROOM) == ["ana-token"]
    await client.allow(ROOM, ["avi-token"])
    assert sorted(await client.allowed(ROOM)) == ["ana-token", "avi-token"]
    await client.disallow(ROOM, ["ana-token"])
    assert await client.allowed(ROOM) == ["avi-token"]
    assert await client.participants(ROOM) == []

    await client.kick(ROOM + 1, 7)  # no such room: nobody to kick, nothing to do
    await client.kick(ROOM, 7)  # nobody of that id in the room: the same
    await client.destroy_room(ROOM)
    await client.destroy_room(ROOM)  # already gone: nothing to do
    assert not await client.room_exists(ROOM)

    # Only the server, with the plugin's admin key, makes rooms.
    keyless = janus.client(http, admin_key="guessed")
    with pytest.raises(JanusError) as refused:
        await keyless.create_room(ROOM, "Mine", allowed=[], publishers=15)
    assert refused.value.code == ROOM_UNAUTHORIZED, refused.value
    assert not await client.room_exists(ROOM)


async def test_a_persons_token_lets_a_browser_in_until_it_is_removed(
    janus: JanusServer, http: aiohttp.ClientSession
) -> None:
    client = janus.client(http)
    token = uuid.uuid4().hex
    refused = await as_a_browser(janus, http, token)
    assert refused["janus"] == "error" and refused["error"]["code"] == UNAUTHORIZED, refused

    await client.add_token(token)
    assert token in await client.tokens()
    admitted = await as_a_browser(janus, http, token)
    assert admitted["janus"] == "success", admitted

    await client.remove_token(token)
    await client.remove_token(token)  # already gone: nothing to do
    assert token not in await client.tokens()
    again = await as_a_browser(janus, http, token)
    assert again["janus"] == "error" and again["error"]["code"] == UNAUTHORIZED, again

    # Without the secrets Janus answers nothing but its description.
    with pytest.raises(JanusError) as wrong_secret:
        await janus.client(http, api_secret="guessed").open()
    assert wrong_secret.value.code == UNAUTHORIZED
    with pytest.raises(JanusError) as wrong_admin:
        await janus.client(http, admin_secret="guessed").tokens()
    assert wrong_admin.value.code == UNAUTHORIZED


async def test_a_participant_cannot_change_the_room_only_the_server_can(
    janus: JanusServer, http: aiohttp.ClientSession
) -> None:
    """Rooms have a secret only the server knows: a person let in with a token can neither
    destroy the room, add tokens to its list, kick nor mute anyone."""
    client = janus.client(http)
    token = uuid.uuid4().hex
    await client.add_token(token)
    await client.create_room(ROOM, "Evening group", allowed=[token], publishers=15)
    attempts = [
        {"request": "destroy", "room": ROOM},
        {"request": "allowed", "room": ROOM, "action": "add", "allowed": ["mine"]},
        {"request": "kick", "room": ROOM, "id": 7},
        {"request": "moderate", "room": ROOM, "id": 7, "mid": "0", "mute": True},
        {"request": "destroy", "room": ROOM, "secret": "guessed"},
    ]
    browser = Participant(http, janus.http_url, token)
    await browser.open()
    for body in attempts:
        answer = await browser.ask(body)
        # Without a secret "missing element (secret)"; with a wrong one "unauthorized".
        expected = ROOM_UNAUTHORIZED if "secret" in body else MISSING_ELEMENT
        assert answer["error_code"] == expected, (body, answer)
    assert await client.room_exists(ROOM)
    assert await client.allowed(ROOM) == [token]
    await client.destroy_room(ROOM)


async def test_no_participant_can_have_the_call_recorded(
    janus: JanusServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Calls are never recorded. Each way the video room plugin offers a participant to record
    their own feed is tried on a room as the server makes it, each with a camera and a
    microphone offered, which is when Janus opens its recording files: nothing is written,
    neither where Janus would put it by default nor at a path of the participant's choice.
    (Janus 1.1.2 checks lock_record on `configure` only, not on `joinandconfigure`.)"""
    client = janus.client(http)
    token = uuid.uuid4().hex
    await client.add_token(token)
    await client.create_room(ROOM, "Evening group", allowed=[token], publishers=15)
    janus_folder = Path(os.readlink(f"/proc/{pids_inside(janus.namespace)[0]}/cwd"))
    chosen = tmp_path / "recordings"
    joining = {"request": "join", "ptype": "publisher", "room": ROOM, "display": "Ana",
               "token": token}  # fmt: skip
    recording = {"record": True}
    attempts: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {"request": "configure", **recording}),  # then an offer: publish
        ({}, {"request": "publish", **recording}),
        ({"request": "joinandconfigure", **recording}, {"request": "publish"}),
        ({"request": "joinandconfigure", **recording, "filename": f"{chosen}/ana"},
         {"request": "publish"}),
        ({}, {"request": "configure", **recording, "filename": f"{chosen}/ana"}),
    ]  # fmt: skip
    try:
        for feed, (join, configure) in enumerate(attempts, start=1):
            browser = Publisher(http, janus.http_url, token)
            await browser.open()
            joined = await browser.event({**joining, "id": feed, **join})
            assert joined["videoroom"] == "joined", (join, joined)
            if configure["request"] == "configure":
                configured = await browser.event(configure)
                assert configured.get("configured") == "ok", (configure, configured)
                configure = {"request": "publish"}
            published = await browser.event(configure, offer())
            # Janus took the offer: the streams it would record are set up.
            assert [stream["type"] for stream in published["streams"]] == ["audio", "video"]
            await browser.close()

        # Turning recording on for the whole room, or moving its folder, needs its secret.
        browser = Publisher(http, janus.http_url, token)
        await browser.open()
        for body in (
            {"request": "enable_recording", "room": ROOM, "record": True},
            {"request": "edit", "room": ROOM, "new_lock_record": False, "new_rec_dir": str(chosen)},
        ):
            answer = await browser.ask(body)
            assert answer["error_code"] == MISSING_ELEMENT, (body, answer)
            guessed = await browser.ask({**body, "secret": "guessed"})
            assert guessed["error_code"] == ROOM_UNAUTHORIZED, (body, guessed)
        await browser.close()
    finally:
        written = [*chosen.parent.rglob("*.mjr"), *janus_folder.glob(f"videoroom-{ROOM}-*.mjr")]
        for file in written:  # a failing run leaves none behind
            file.unlink()
    assert written == []


class Publisher(Participant):
    """A participant that sends a browser's SDP offer with a request, as publishing does."""

    async def event(self, body: dict[str, Any], jsep: dict[str, str] | None = None) -> Any:
        """The plugin's answer to a request it answers later (join, configure, publish)."""
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        sent = await self._call(f"{self._session_url}/{self.handle}", message)
        return await self.next_event(sent["transaction"])


def offer() -> dict[str, str]:
    """A microphone and a camera offered as a browser offers them. No media ever flows, but
    Janus sets the streams up, and opens any recording of them, when it answers."""
    fingerprint = ":".join(f"{byte:02X}" for byte in secrets.token_bytes(32))
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1"]
    for mid, (kind, payload, codec) in enumerate(
        [("audio", 111, "opus/48000/2"), ("video", 96, "VP8/90000")]
    ):
        lines += [
            f"m={kind} 9 UDP/TLS/RTP/SAVPF {payload}", "c=IN IP4 0.0.0.0",
            f"a=ice-ufrag:{secrets.token_hex(4)}", f"a=ice-pwd:{secrets.token_hex(12)}",
            f"a=fingerprint:sha-256 {fingerprint}", "a=setup:actpass", f"a=mid:{mid}",
            "a=sendonly", "a=rtcp-mux", f"a=rtpmap:{payload} {codec}",
            f"a=ssrc:{1000 + mid} cname:peerrooms",
        ]  # fmt: skip
    return {"type": "offer", "sdp": "\r\n".join(lines) + "\r\n"}


async def test_the_namespace_and_its_link_are_gone_afterwards(tmp_path: Path) -> None:
    janus_or_skip()
    async with running_janus(tmp_path) as server:
        assert server.namespace in namespaces()
    assert server.namespace not in namespaces()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)  # noqa: S607
    assert f"prh{server.namespace.removeprefix('prj-')}" not in links.stdout


def namespaces() -> str:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)  # noqa: S607
    return listed.stdout
