"""Passes into a meeting's video room (POST /api/meetings/{id}/video) against Debian's Janus in
a network namespace of the test's own (tests/janus.py): only for people who may enter the
meeting room, only in the lobby and live windows, each opening that occurrence's room only,
and ended with the occurrence (docs/video.md)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from server.media.service import room_number
from tests.conftest import PeerFactory
from tests.janus import JanusServer
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    ban,
    create_room,
    parse_utc,
    sign_in,
    with_settings,
)

LOBBY = timedelta(minutes=15)
TICK_S = 5.0


@pytest.fixture
def server_overrides(janus: JanusServer) -> dict[str, Any]:
    return {
        "janus_url": janus.http_url,
        "janus_admin_url": janus.admin_url,
        "janus_api_secret": janus.api_secret,
        "janus_admin_secret": janus.admin_secret,
        "janus_admin_key": janus.admin_key,
        "janus_ws_url": janus.ws_url,
        "meeting_tick_s": TICK_S,
    }


async def daily_meeting(api: Api, c: Community, clock: FakeClock, starts_in: timedelta) -> int:
    """A daily three-hour session of Cohort A's, today's starting `starts_in` from now."""
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    first = (clock.now() + starts_in).replace(second=0, microsecond=0)
    created = await api.post(
        "/api/meetings",
        {"title": "Evening group", "room_id": room, "rrule": "FREQ=DAILY",
         "starts_at": first.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC",
         "duration_minutes": 180, "lobby_minutes": 15},
        c.mod_lee.token,
    )  # fmt: skip
    assert created.status == 201, created.body
    return int(created.body["meeting"]["id"])


async def video_pass(api: Api, who: Person, meeting: int) -> Any:
    return await api.post(f"/api/meetings/{meeting}/video", {}, who.token)


async def janus_says(janus: JanusServer, token: str) -> Any:
    """What a browser holding `token` gets when it opens a Janus session."""
    request = {"janus": "create", "transaction": uuid.uuid4().hex, "token": token}
    async with aiohttp.ClientSession() as http, http.post(janus.http_url, json=request) as reply:
        return await reply.json(content_type=None)


async def test_a_member_in_the_window_gets_a_pass_to_this_occurrences_room_only(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=timedelta(minutes=30))

    # Before the lobby opens: closed, and no room yet.
    early = await video_pass(api, c.pat_ana, meeting)
    assert early.status == 403 and early.error_code == "meeting_closed", early.body

    clock.current = clock.now() + timedelta(minutes=20)  # in the lobby
    granted = await video_pass(api, c.pat_ana, meeting)
    assert granted.status == 201, granted.body
    video = granted.body["video"]
    start = parse_utc(video["starts_at"])
    assert video["room"] == room_number(meeting, start)
    assert video["server"] == janus.ws_url and video["recorded"] is False
    assert video["display"] == "Ana" and video["ice_servers"] == []
    assert (await janus_says(janus, video["token"]))["janus"] == "success"
    lee = await video_pass(api, c.mod_lee, meeting)  # staff too
    assert lee.status == 201 and lee.body["video"]["room"] == video["room"], lee.body
    assert lee.body["video"]["token"] != video["token"]

    # Tomorrow's occurrence is another room; today's pass is not in its list.
    clock.current = start + timedelta(days=1) - LOBBY + timedelta(minutes=1)
    ana_tomorrow = await sign_in(api, "pat_ana")  # yesterday's sign-in has expired
    tomorrow = await video_pass(api, ana_tomorrow, meeting)
    assert tomorrow.status == 201, tomorrow.body
    next_room = tomorrow.body["video"]["room"]
    assert next_room == room_number(meeting, start + timedelta(days=1))
    async with aiohttp.ClientSession() as http:
        allowed = await janus.client(http).allowed(next_room)
    assert allowed == [tomorrow.body["video"]["token"]], allowed


async def test_people_kept_out_of_the_room_get_no_pass(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))  # live
    other_cohort = await video_pass(api, c.pat_bo, meeting)
    assert other_cohort.status == 403 and other_cohort.error_code == "forbidden", other_cohort.body
    room = (await api.get("/api/meetings", c.mod_lee.token)).body["meetings"][0]["room_id"]
    await ban(api, c, room, c.pat_avi.id)
    banned = await video_pass(api, c.pat_avi, meeting)
    assert banned.status == 403 and banned.error_code == "banned", banned.body
    unknown = await video_pass(api, c.pat_ana, 999_999)
    assert unknown.status == 404 and unknown.error_code == "not_found", unknown.body
    nobody = await api.post(f"/api/meetings/{meeting}/video", {})
    assert nobody.status == 401, nobody.body


async def test_the_occurrences_end_ends_its_room_and_every_pass(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    granted = await video_pass(api, c.pat_ana, meeting)
    assert granted.status == 201, granted.body
    token = granted.body["video"]["token"]
    assert (await janus_says(janus, token))["janus"] == "success"

    # Three hours on, the meeting clock announces the end: the pass opens nothing any more.
    clock.current = parse_utc(granted.body["video"]["ends_at"]) + timedelta(minutes=1)
    await clock.advance(seconds=TICK_S)
    refused = await janus_says(janus, token)
    assert refused["janus"] == "error" and refused["error"]["code"] == 403, refused
    async with aiohttp.ClientSession() as http:
        assert not await janus.client(http).room_exists(granted.body["video"]["room"])


# Nothing listens on the discard port: a media server that does not answer.
SILENT = "127.0.0.1:9"


@with_settings(
    janus_url=f"http://{SILENT}/janus",
    janus_admin_url=f"http://{SILENT}/admin",
    janus_api_secret="s",
    janus_admin_secret="s",
    janus_admin_key="k",
    janus_ws_url=f"ws://{SILENT}",
    meeting_tick_s=TICK_S,
)
async def test_a_silent_media_server_is_unavailable_and_holds_up_no_meeting_notice(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    refused = await video_pass(api, c.pat_ana, meeting)
    assert refused.status == 503 and refused.error_code == "unavailable", refused.body

    # The occurrence's end still reaches its members, though its room cannot be ended.
    ana = await peer(c.pat_ana.token)
    clock.current = clock.now() + timedelta(minutes=171)
    await clock.advance(seconds=TICK_S)
    ended = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_ended")
    assert ended["meeting_id"] == meeting, ended
    # And the meeting clock goes on: tomorrow's lobby opens.
    clock.current = parse_utc(ended["starts_at"]) + timedelta(days=1) - LOBBY
    await clock.advance(seconds=TICK_S)
    lobby = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_lobby_open")
    assert parse_utc(lobby["starts_at"]) == parse_utc(ended["starts_at"]) + timedelta(days=1)
