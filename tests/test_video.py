"""Passes into a meeting's video room (POST /api/meetings/{id}/video) against Debian's Janus in
a network namespace of the test's own (tests/janus.py): only for people who may enter the
meeting room, only in the lobby and live windows, each opening that occurrence's room only,
and ended with the occurrence (docs/video.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from server.media.service import room_number
from tests.conftest import PeerFactory
from tests.janus import JanusServer
from tests.janus_participant import Participant
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    audit,
    ban,
    daily_meeting,
    joined,
    parse_utc,
    sign_in,
    with_settings,
)

LOBBY = timedelta(minutes=15)
TURN_URL, TURN_SECRET = "turn:turn.example.org:3478?transport=udp", "shared-with-coturn"
TICK_S = 5.0


@pytest.fixture
def server_overrides(janus: JanusServer) -> dict[str, Any]:
    return {
        **janus.settings(),
        "meeting_tick_s": TICK_S,
        "turn_urls": [TURN_URL],
        "turn_secret": TURN_SECRET,
    }


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
    assert video["display"] == "Ana"
    # A TURN credential of Ana's own that expires with the default six hours.
    [turn] = video["ice_servers"]
    expiry = int((clock.now() + timedelta(hours=6)).timestamp())
    assert turn["urls"] == [TURN_URL] and turn["username"] == f"{expiry}:{c.pat_ana.id}", turn
    signed = hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(signed).decode(), turn
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
        # Today's pass, shown at tomorrow's room: refused.
        today = Participant(http, janus.http_url, video["token"])
        await today.open()
        refused = await today.join(next_room, video["feed_id"], "Ana")
        assert refused.get("error_code") == 433, refused


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


async def in_the_call(janus: JanusServer, http: aiohttp.ClientSession, video: Any) -> Participant:
    """The holder of `video` (a pass) joined to its room, as their browser would."""
    participant = Participant(http, janus.http_url, video["token"])
    await participant.open()
    answer = await participant.join(video["room"], video["feed_id"], video["display"])
    assert answer.get("videoroom") == "joined", answer
    return participant


async def feeds_in(janus: JanusServer, http: aiohttp.ClientSession, room: int) -> set[int]:
    return {int(p["id"]) for p in await janus.client(http).participants(room)}


async def opens_a_session(janus: JanusServer, token: str) -> bool:
    return bool((await janus_says(janus, token))["janus"] == "success")


async def meeting_room(api: Api, c: Community) -> int:
    return int((await api.get("/api/meetings", c.mod_lee.token)).body["meetings"][0]["room_id"])


async def test_time_in_the_call_counts_as_attendance_and_strangers_are_put_out(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    ana = (await video_pass(api, c.pat_ana, meeting)).body["video"]
    lee = (await video_pass(api, c.mod_lee, meeting)).body["video"]
    assert ana["feed_id"] != lee["feed_id"]
    async with aiohttp.ClientSession() as http:
        # Ana joins the call only (no chat socket at all); Lee joins under an id of his own.
        ana_browser = await in_the_call(janus, http, ana)
        stranger = Participant(http, janus.http_url, lee["token"])
        await stranger.open()
        assert (await stranger.join(lee["room"], 4_000_000, "Lee"))["videoroom"] == "joined"
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"], 4_000_000}

        # The sweep notes who is in and puts out the participant the server gave no pass.
        await clock.advance(seconds=15)
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"]}
        clock.current = clock.now() + timedelta(minutes=20)
        await clock.advance(seconds=15)
        state = await api.get(f"/api/meetings/{meeting}/video", c.mod_lee.token)
        assert state.status == 200, state.body
        in_call = {p["feed_id"]: p["in_call"] for p in state.body["call"]["participants"]}
        assert in_call == {ana["feed_id"]: True, lee["feed_id"]: False}, state.body

        # Ana's browser leaves; the next sweep closes her time in the call.
        await ana_browser.close()
        await clock.advance(seconds=15)
    reply = await api.get(
        f"/api/meetings/{meeting}/attendance?occurrence={ana['starts_at']}", c.mod_lee.token
    )
    assert reply.status == 200, reply.body
    [row] = [r for r in reply.body["attendees"] if r["user"]["id"] == c.pat_ana.id]
    # In the call for about 20 minutes (the sweep looks every 15 s), and 10-11 minutes late
    # (the session started 10 minutes before the test, its start rounded down to the minute).
    assert 20 <= row["minutes_present"] <= 21, row
    assert row["minutes_in_call"] == row["minutes_present"], row  # she was never in the chat
    assert 10 <= row["late_minutes"] <= 11.5 and row["last_left_at"] is not None, row


async def test_a_kick_or_ban_from_the_room_puts_the_person_out_of_the_call(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    room = await meeting_room(api, c)
    ana = (await video_pass(api, c.pat_ana, meeting)).body["video"]
    avi = (await video_pass(api, c.pat_avi, meeting)).body["video"]
    async with aiohttp.ClientSession() as http:
        await in_the_call(janus, http, ana)
        await in_the_call(janus, http, avi)
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"], avi["feed_id"]}

        kicked = await api.post(
            f"/api/rooms/{room}/kicks", {"user_id": c.pat_avi.id, "reason": "shouting"},
            c.mod_lee.token,
        )  # fmt: skip
        assert kicked.status == 201, kicked.body
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"]}
        assert not await opens_a_session(janus, avi["token"])
        assert avi["token"] not in await janus.client(http).allowed(avi["room"])
        # A kick is not a ban: Avi may come back, with a new pass.
        again = await video_pass(api, c.pat_avi, meeting)
        assert again.status == 201, again.body

        await ban(api, c, room, c.pat_ana.id)
        assert await feeds_in(janus, http, ana["room"]) == set()
        assert not await opens_a_session(janus, ana["token"])
        refused = await video_pass(api, c.pat_ana, meeting)
        assert refused.status == 403 and refused.error_code == "banned", refused.body


async def test_graduating_or_deactivated_people_leave_the_call(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    ana = (await video_pass(api, c.pat_ana, meeting)).body["video"]
    avi = (await video_pass(api, c.pat_avi, meeting)).body["video"]
    async with aiohttp.ClientSession() as http:
        await in_the_call(janus, http, ana)
        await in_the_call(janus, http, avi)

        # A cohort's session is for its patients: Ana graduates mid-call and is out of it.
        graduated = await api.post(f"/api/users/{c.pat_ana.id}/graduate", {}, c.mod_lee.token)
        assert graduated.status == 200, graduated.body
        assert await feeds_in(janus, http, ana["room"]) == {avi["feed_id"]}
        assert not await opens_a_session(janus, ana["token"])

        deactivated = await api.post(f"/api/users/{c.pat_avi.id}/deactivate", {}, c.mod_lee.token)
        assert deactivated.status == 200, deactivated.body
        assert await feeds_in(janus, http, ana["room"]) == set()
        assert not await opens_a_session(janus, avi["token"])


async def test_moderators_mute_remove_and_end_the_call(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer, peer: PeerFactory
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    room = await meeting_room(api, c)
    ana_socket, avi_socket = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(ana_socket, room)
    await joined(avi_socket, room)
    ana = (await video_pass(api, c.pat_ana, meeting)).body["video"]
    avi = (await video_pass(api, c.pat_avi, meeting)).body["video"]
    call = f"/api/meetings/{meeting}/video"
    async with aiohttp.ClientSession() as http:
        await in_the_call(janus, http, ana)
        await in_the_call(janus, http, avi)

        # A hand raised is seen by everyone in the meeting's room.
        raised = await api.post(f"{call}/hand", {"raised": True}, c.pat_ana.token)
        assert raised.status == 200, raised.body
        seen = await avi_socket.wait_for("video_hand", lambda e: e["user_id"] == c.pat_ana.id)
        assert seen["raised"] is True and seen["feed_id"] == ana["feed_id"], seen
        state = (await api.get(call, c.mod_lee.token)).body["call"]
        [ana_row] = [p for p in state["participants"] if p["user_id"] == c.pat_ana.id]
        assert ana_row["hand_raised_at"] is not None and ana_row["display_name"] == "Ana", state

        # Only moderators mute, remove and end; Avi publishes nothing, so there is no
        # microphone to mute (the browser tests mute a real one).
        mute = {"feed_id": avi["feed_id"], "mid": "0", "muted": True, "reason": "noise"}
        by_patient = await api.post(f"{call}/mute", mute, c.pat_ana.token)
        assert by_patient.status == 403 and by_patient.error_code == "forbidden", by_patient.body
        nothing_to_mute = await api.post(f"{call}/mute", mute, c.mod_lee.token)
        assert nothing_to_mute.error_code == "invalid", nothing_to_mute.body

        removal = {"feed_id": avi["feed_id"], "reason": "disruptive"}
        removed = await api.post(f"{call}/remove", removal, c.mod_lee.token)
        assert removed.status == 200, removed.body
        told = await avi_socket.wait_for("notice", lambda n: n.get("kind") == "video_removed")
        assert told["meeting_id"] == meeting, told
        assert await feeds_in(janus, http, ana["room"]) == {ana["feed_id"]}
        assert not await opens_a_session(janus, avi["token"])
        back = await video_pass(api, c.pat_avi, meeting)
        assert back.status == 403 and back.error_code == "forbidden", back.body
        gone = await api.post(f"{call}/remove", removal, c.mod_lee.token)
        assert gone.status == 404 and gone.error_code == "not_found", gone.body
        not_in = await api.post(f"{call}/hand", {"raised": True}, c.pat_avi.token)
        assert not_in.status == 403, not_in.body

        ended = await api.post(f"{call}/end", {"reason": "time to stop"}, c.mod_lee.token)
        assert ended.status == 200, ended.body
        news = await ana_socket.wait_for("video_ended", lambda e: e["meeting_id"] == meeting)
        assert news["reason"] == "time to stop", news
        assert not await janus.client(http).room_exists(ana["room"])
        assert not await opens_a_session(janus, ana["token"])
    closed = await video_pass(api, c.pat_ana, meeting)
    assert closed.status == 403 and closed.error_code == "meeting_closed", closed.body
    actions = [row["action"] for row in await audit(api, c.mod_lee)]
    assert {"video_removed", "video_ended"} <= set(actions), actions


async def test_pages_may_talk_to_the_media_servers_websocket_and_no_other_host(
    api: Api, janus: JanusServer
) -> None:
    async with aiohttp.ClientSession() as http, http.get(api.base_url + "/") as page:
        policy = page.headers["Content-Security-Policy"]
    assert f"connect-src 'self' {janus.ws_url};" in policy, policy


async def test_readiness_checks_the_media_server(api: Api, janus: JanusServer) -> None:
    ready = await api.get("/readyz")
    expected = {"status": "ready", "checked": ["database", "media"], "degraded": {}}
    assert (ready.status, ready.body) == (200, expected)


async def test_call_requests_are_checked(
    api: Api, community: Community, clock: FakeClock, janus: JanusServer
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=-timedelta(minutes=10))
    call = f"/api/meetings/{meeting}/video"
    before = await api.get(call, c.mod_lee.token)
    assert before.status == 404 and before.error_code == "not_found", before.body
    assert (await video_pass(api, c.pat_ana, meeting)).status == 201
    bad = [
        ("hand", {"raised": "yes"}),
        ("hand", {}),
        ("mute", {"feed_id": 1, "muted": True, "reason": "r"}),
        ("mute", {"feed_id": "1", "mid": "0", "muted": True, "reason": "r"}),
        ("mute", {"feed_id": 1, "mid": "0" * 17, "muted": True, "reason": "r"}),
        ("remove", {"feed_id": 0, "reason": "r"}),
        ("remove", {"feed_id": 1}),
        ("end", {"reason": 5}),
    ]
    for path, body in bad:
        reply = await api.post(f"{call}/{path}", body, c.mod_lee.token)
        assert reply.status == 422 and reply.error_code == "invalid", (path, body, reply.body)
    unknown = await api.post(f"{call}/remove", {"feed_id": 999_999, "reason": "r"}, c.mod_lee.token)
    assert unknown.status == 404, unknown.body
    other = await api.get(call, c.pat_bo.token)
    assert other.status == 403 and other.error_code == "forbidden", other.body
    # The call is still there for those in it.
    assert (await api.get(call, c.pat_ana.token)).status == 200


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
    # Readiness tells of it, and the process stays ready: chat and meetings work without it.
    ready = await api.get("/readyz")
    assert ready.status == 200, ready.body
    assert ready.body["degraded"] == {"media": "failed (ClientConnectorError)"}, ready.body
    state = await api.get(f"/api/meetings/{meeting}/video", c.pat_ana.token)
    assert state.status == 503 and state.error_code == "unavailable", state.body

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
