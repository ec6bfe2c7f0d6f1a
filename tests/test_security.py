"""Rights that hold on live sockets and in every view of a room: what an outside probe found
could be dodged (each test failed on the code before its fix)."""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest

from server.accounts.http import ACCOUNTS
from server.app import EVENTS
from server.realtime.hub import room_channel
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    Reply,
    RunningServer,
    ban,
    barrier,
    consent_version,
    disconnected,
    eventually,
    joined,
    message_ids,
    refused,
    send,
    sign_in,
    try_send,
    with_id,
    with_settings,
)

pytestmark = pytest.mark.persistence


async def raw_event(peer: Peer, event: str, *args: Any) -> Any:
    """An ordinary event frame with this name and arguments (`42["connect",{},{...}]`), as
    any client can write one."""
    return await peer.client.call(event, args, timeout=5)


async def test_a_client_sent_connect_event_is_refused_and_a_ban_still_removes_the_socket(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    avi = await peer(c.pat_avi.token)
    for each in (ana, avi):
        await joined(each, c.group_a)

    # The frame that used to reach the real connect handler and replace the socket's record
    # (losing its rooms), with another person's token for good measure.
    refused(await raw_event(ana, "connect", {}, {"token": c.pat_avi.token}), "invalid")
    refused(await raw_event(ana, "connect", {}, {"token": c.pat_ana.token}), "invalid")
    me = await ana.call("join", {"room_id": c.commons})
    assert me["ok"], me

    await ban(api, c, c.group_a, c.pat_ana.id)
    await ana.wait_for("notice", lambda n: n["kind"] == "banned")
    after = await send(avi, c.group_a, "said after the ban")
    await avi.wait_for("message", lambda m: m["id"] == after["id"])
    await barrier(ana)
    assert after["id"] not in message_ids(ana)


async def test_a_client_sent_disconnect_event_is_refused_and_the_socket_stays_itself(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    lee = await peer(c.mod_lee.token)
    for each in (ana, lee):
        await joined(each, c.group_a)

    refused(await raw_event(ana, "disconnect", "client namespace disconnect"), "invalid")
    # Still registered: her sends are hers, and her presence did not end.
    said = await send(ana, c.group_a, "still here")
    await lee.wait_for("message", lambda m: m["id"] == said["id"])
    await barrier(lee)
    assert not [p for p in lee.received("presence") if p["status"] == "offline"]
    online = await api.get(f"/api/rooms/{c.group_a}/presence", token=c.mod_lee.token)
    assert c.pat_ana.id in [u["id"] for u in online.body["online"]]

    # And when she really goes, she goes.
    await ana.disconnect()
    gone = await lee.wait_for("presence", lambda p: p["status"] == "offline")
    assert gone["user"]["id"] == c.pat_ana.id


async def test_a_second_connect_packet_on_a_live_socket_changes_nothing(
    community: Community, peer: PeerFactory, server: RunningServer
) -> None:
    """The handshake packet itself (`40{"token":…}`), not an event named `connect`: the server
    refuses it (CONNECT_ERROR) and the socket stays who it was, in the rooms it was in."""
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    sid = ana.client.get_sid("/")
    await ana.client.eio.send("0" + json.dumps({"token": c.pat_avi.token}))
    events = server.app[EVENTS]

    async def refused_and_kept() -> bool:
        # The refusal ends the namespace in the python-socketio client, not on the server.
        return not ana.client.connected

    await eventually(refused_and_kept, "the CONNECT_ERROR")
    connection = events.hub.connection(sid)
    assert connection is not None and connection.actor.id == c.pat_ana.id
    assert room_channel(c.group_a) in events.sio.rooms(sid)


# ----- sign-in throttling -----


async def sign_in_as(api: Api, username: str, password: str) -> Reply:
    return await api.post("/api/auth/login", {"username": username, "password": password})


async def test_failed_sign_ins_on_one_account_are_throttled_with_back_off(
    community: Community, api: Api, clock: FakeClock
) -> None:
    c = community
    for _ in range(5):
        wrong = await sign_in_as(api, c.pat_ana.username, "not her password")
        assert wrong.status == 401, wrong.body
    # Spent: even the right password waits, and is told how long.
    held = await sign_in_as(api, c.pat_ana.username, PASSWORD)
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body
    assert 1 <= held.body["error"]["retry_after_s"] <= 60, held.body
    # Another account from the same address is not held up.
    assert (await sign_in_as(api, c.pat_avi.username, PASSWORD)).status == 200

    # One more try a minute.
    await clock.advance(seconds=61)
    assert (await sign_in_as(api, c.pat_ana.username, "still wrong")).status == 401
    assert (await sign_in_as(api, c.pat_ana.username, PASSWORD)).status == 429
    await clock.advance(seconds=61)
    assert (await sign_in_as(api, c.pat_ana.username, PASSWORD)).status == 200


async def test_failed_sign_ins_across_accounts_from_one_address_are_throttled(
    community: Community, api: Api
) -> None:
    for n in range(20):
        assert (await sign_in_as(api, f"nobody{n}", "a guess at it")).status == 401
    held = await sign_in_as(api, community.pat_ana.username, PASSWORD)
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body


def count_password_hashes(server: RunningServer) -> list[str]:
    """The passwords the server hashes from now on (each hash costs 64 MiB and a thread)."""
    passwords = server.app[ACCOUNTS].passwords
    hashed: list[str] = []
    real_hash = passwords.hash

    async def counting_hash(password: str) -> str:
        hashed.append(password)
        return await real_hash(password)

    passwords.hash = counting_hash  # type: ignore[method-assign]
    return hashed


async def test_registration_checks_the_invite_before_hashing_and_throttles_guesses(
    community: Community, api: Api, server: RunningServer
) -> None:
    hashed = count_password_hashes(server)
    body = {
        "username": "newcomer",
        "display_name": "New",
        "password": "a long good passphrase",
        "consent_version": await consent_version(api),
    }
    for n in range(20):
        reply = await api.post("/api/auth/register", {**body, "invite_code": f"guess-{n:04d}"})
        assert (reply.status, reply.error_code) == (404, "not_found"), reply.body
    assert hashed == []
    held = await api.post("/api/auth/register", {**body, "invite_code": "guess-9999"})
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body


async def test_an_invite_holder_cannot_probe_for_usernames_at_speed(
    community: Community, api: Api, server: RunningServer, clock: FakeClock
) -> None:
    c = community
    hashed = count_password_hashes(server)
    invite = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": c.cohort_a}, c.mod_lee.token
    )
    code = invite.body["invite"]["code"]
    version = await consent_version(api)

    async def register_as(username: str, display_name: str) -> Reply:
        body = {
            "username": username,
            "display_name": display_name,
            "invite_code": code,
            "consent_version": version,
        }
        return await api.post("/api/auth/register", {**body, "password": "a long passphrase"})

    # Taken usernames and look-alike display names are refused without hashing a password...
    for taken in ("pat_ana", "pat_avi", "pat_bo", "mod_lee"):
        reply = await register_as(taken, "Someone New")
        assert (reply.status, reply.error_code) == (409, "conflict"), reply.body
    reply = await register_as("newcomer", c.pat_bo.display_name.upper())
    assert (reply.status, reply.error_code) == (409, "conflict"), reply.body
    assert hashed == []
    # ...and each refusal is a guess: after five the invite waits, even for a free name.
    held = await register_as("alum_dee", "Someone New")
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body
    held = await register_as("newcomer", "Someone New")
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body
    assert 1 <= held.body["error"]["retry_after_s"] <= 60, held.body

    # A minute on, a free name is welcome: guessing slowed, the newcomer is not locked out.
    await clock.advance(seconds=61)
    joined = await register_as("newcomer", "Someone New")
    assert joined.status == 201, joined.body
    assert len(hashed) == 1


# ----- smaller: headers, metrics, malformed frames, what a banned room list shows -----


async def test_api_answers_are_never_cached_and_sockets_connect_only_home(
    community: Community, api: Api
) -> None:
    async with api.session.get(
        f"{api.base_url}/api/rooms", headers={"Authorization": f"Bearer {community.pat_ana.token}"}
    ) as reply:
        assert reply.status == 200
        assert reply.headers["Cache-Control"] == "no-store"
    async with api.session.get(f"{api.base_url}/api/nowhere") as reply:
        assert reply.headers["Cache-Control"] == "no-store"
    async with api.session.get(f"{api.base_url}/") as page:
        policy = page.headers["Content-Security-Policy"]
    [connect] = [part.strip() for part in policy.split(";") if "connect-src" in part]
    assert connect == "connect-src 'self'", policy


async def test_metrics_answer_this_machine_only_unless_a_token_is_set(
    server: RunningServer, api: Api
) -> None:
    async with api.session.get(f"{api.base_url}/metrics") as direct:
        assert direct.status == 200
    # Through a proxy on this machine, the asker may be anyone.
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    async with api.session.get(f"{api.base_url}/metrics", headers=proxied) as reply:
        assert reply.status == 403
        assert (await reply.json())["error"]["code"] == "forbidden"


@with_settings(metrics_token="scrape-" + "s" * 24)
async def test_with_a_metrics_token_only_its_bearer_scrapes(api: Api) -> None:
    url = f"{api.base_url}/metrics"
    async with api.session.get(url) as bare:
        assert bare.status == 403
    wrong = {"Authorization": "Bearer scrape-wrong"}
    async with api.session.get(url, headers=wrong) as reply:
        assert reply.status == 403
    right = {"Authorization": "Bearer scrape-" + "s" * 24, "X-Forwarded-For": "203.0.113.9"}
    async with api.session.get(url, headers=right) as reply:
        assert reply.status == 200


# The last two announce binary attachments (events here are JSON): held, they would make the
# connection's next frames (the join below) be taken as the attachments.
MALFORMED = [
    *["42[bad", "4x", '42{"a":1}', "42[]", "42[1,2]", "44", "43999[", "4\x00"],
    *['451-["send",{"_placeholder":true,"num":0}]', '4699-5["x"]'],
]


async def test_malformed_frames_are_dropped_logged_once_and_counted(
    community: Community, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    url = api.base_url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with api.session.ws_connect(url) as ws:
        await ws.receive()  # engine.io open
        await ws.send_str("40" + json.dumps({"token": community.pat_ana.token}))
        assert (await ws.receive()).data.startswith("40")
        for frame in MALFORMED:
            await ws.send_str(frame)
        # The connection goes on: an event with an ack id is answered.
        await ws.send_str("427" + json.dumps(["join", {"room_id": community.group_a}]))
        while True:
            answer = (await ws.receive()).data
            if answer.startswith("437"):
                break
        assert '"ok":true' in answer, answer
    dropped = [r for r in caplog.records if "malformed frame" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].exc_info is None, dropped
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    async with api.session.get(f"{api.base_url}/metrics") as reply:
        text = await reply.text()
    assert f"peerrooms_malformed_frames_total {float(len(MALFORMED))}" in text, text


async def test_a_banned_rooms_listing_tells_nothing_of_what_goes_on_in_it(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await send(avi, c.group_a, "before the ban")
    await ban(api, c, c.group_a, c.pat_ana.id)
    await send(avi, c.group_a, "after the ban")
    listing = await api.get("/api/rooms", token=c.pat_ana.token)
    [group] = [r for r in listing.body["rooms"] if r["id"] == c.group_a]
    assert (group["last_message_id"], group["unread_count"], group["online_count"]) == (None, 0, 0)
    # Avi's listing is as before.
    mine = await api.get("/api/rooms", token=c.pat_avi.token)
    [seen] = [r for r in mine.body["rooms"] if r["id"] == c.group_a]
    assert seen["last_message_id"] is not None


# ----- every action has a limit -----


@with_settings(action_burst=3, action_rate_per_minute=6)
async def test_edits_reactions_history_joins_and_reports_are_limited_per_user(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    # Three joins in all: each further event of a kind is over its own allowance.
    await joined(avi, c.group_a)
    message = await send(avi, c.group_a, "something to react to")
    mine = await send(ana, c.group_a, "a message of mine")

    calls = {
        "edit": {"message_id": mine["id"], "body": "edited"},
        "react": {"message_id": message["id"], "emoji": "❤️"},
        "history": {"room_id": c.group_a},
        "join": {"room_id": c.group_a},
    }
    for event, payload in calls.items():
        for _ in range(3):
            answer = await ana.call(event, payload)
            assert answer["ok"], (event, answer)
        error = refused(await ana.call(event, payload), "rate_limited")
        assert error["retry_after_s"] >= 1, error
    # Avi's allowance is his own.
    assert (await avi.call("history", {"room_id": c.group_a}))["ok"]

    reported = [message] + [await send(avi, c.group_a, f"more {n}") for n in range(3)]
    for each in reported[:3]:
        reply = await api.post(
            f"/api/messages/{each['id']}/reports", {"reason": "test"}, token=c.pat_ana.token
        )
        assert reply.status == 201, reply.body
    held = await api.post(
        f"/api/messages/{reported[3]['id']}/reports", {"reason": "again"}, token=c.pat_ana.token
    )
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body

    # Ten seconds later, one more of each.
    await clock.advance(seconds=10)
    assert (await ana.call("history", {"room_id": c.group_a}))["ok"]


@with_settings(
    action_burst=1, action_rate_per_minute=1, rate_limit_burst=1, rate_limit_per_minute=1
)
async def test_crisis_language_is_never_refused_by_a_limit(
    community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, "first")
    refused(await try_send(ana, c.group_a, "second"), "rate_limited")
    for _ in range(3):
        await send(ana, c.group_a, "i want to kill myself")


async def test_a_flood_of_crisis_text_raises_one_open_alert_and_every_message_gets_through(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana, lee = await peer(c.pat_ana.token), await peer(c.mod_lee.token)
    await joined(lee, c.group_a)
    bodies = [
        "i want to kill myself",
        "i have the pills right here",
        "bye everyone, tonight is the night",
    ]
    sent = [await send(ana, c.group_a, body) for body in bodies]
    for message in sent:
        await lee.wait_for("message", with_id(message["id"]))
    reply = await api.get("/api/alerts?status=open", token=c.mod_lee.token)
    [alert] = reply.body["alerts"]
    assert alert["raise_count"] == 3 and alert["message_id"] == sent[-1]["id"], alert
    assert alert["excerpt"] == bodies[-1] and alert["severity"] == "emergency", alert
    merged = await api.get("/api/alerts?status=all", token=c.mod_lee.token)
    assert sorted(a["status"] for a in merged.body["alerts"]) == ["merged", "merged", "open"]
    # The writer was given the resources every time.
    await barrier(ana)
    told = [n for n in ana.received("notice") if n["kind"] == "crisis_resources"]
    assert len(told) == 3


async def test_crisis_text_to_rooms_one_may_not_enter_raises_one_alert_an_hour(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock
) -> None:
    c = community
    bo = await peer(c.pat_bo.token)  # cohort B: group A is not hers
    for room in (c.group_a, c.group_a, 99_999):
        refused(
            await try_send(bo, room, "i want to kill myself"),
            "forbidden" if room != 99_999 else "not_found",
        )
    reply = await api.get("/api/alerts?status=all", token=c.mod_lee.token)
    assert len([a for a in reply.body["alerts"] if a["user"]["id"] == c.pat_bo.id]) == 1
    await barrier(bo)
    told = [n for n in bo.received("notice") if n["kind"] == "crisis_resources"]
    assert [n["reached"] for n in told] == ["nobody", "already_alerted", "already_alerted"]
    assert "alerted a short while ago" in told[1]["text"]
    # An hour on, the next one alerts again (into her open alert).
    await clock.advance(minutes=61)
    refused(await try_send(bo, c.group_a, "i want to kill myself"), "forbidden")
    reply = await api.get("/api/alerts?status=all", token=c.mod_lee.token)
    statuses = sorted(a["status"] for a in reply.body["alerts"] if a["user"]["id"] == c.pat_bo.id)
    assert statuses == ["merged", "open"], statuses


# ----- sessions a person can end -----


async def second_sign_in(api: Api, person: Person) -> Person:
    again = await sign_in(api, person.username)
    assert again.token != person.token
    return again


async def test_signing_out_ends_the_token_and_its_sockets_only(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    phone, desk = c.pat_ana, await second_sign_in(api, c.pat_ana)
    on_phone, on_desk = await peer(phone.token), await peer(desk.token)

    reply = await api.post("/api/auth/logout", token=phone.token)
    assert reply.status == 204, reply.body
    gone = await api.get("/api/me", token=phone.token)
    assert (gone.status, gone.error_code) == (401, "unauthorized")
    await eventually(lambda: disconnected(on_phone), "the phone's socket to close")
    # The desk goes on.
    assert (await api.get("/api/me", token=desk.token)).status == 200
    said = await send(on_desk, c.group_a, "still here on the desk")
    assert said["id"]
    assert on_desk.client.connected


async def test_a_person_lists_and_ends_their_own_sessions(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    other = await second_sign_in(api, c.pat_ana)
    other_socket = await peer(other.token)
    listed = await api.get("/api/me/sessions", token=c.pat_ana.token)
    sessions = listed.body["sessions"]
    assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1, sessions
    [theirs] = [s for s in sessions if not s["current"]]

    # Nobody else can end it, or even tell it exists.
    avi_try = await api.call("DELETE", f"/api/me/sessions/{theirs['id']}", token=c.pat_avi.token)
    assert avi_try.status == 404, avi_try.body
    ended = await api.call("DELETE", f"/api/me/sessions/{theirs['id']}", token=c.pat_ana.token)
    assert ended.status == 204, ended.body
    assert (await api.get("/api/me", token=other.token)).status == 401
    await eventually(lambda: disconnected(other_socket), "the ended session's socket to close")
    again = await api.call("DELETE", f"/api/me/sessions/{theirs['id']}", token=c.pat_ana.token)
    assert again.status == 404
    assert len((await api.get("/api/me/sessions", token=c.pat_ana.token)).body["sessions"]) == 1


async def test_a_password_change_ends_every_other_session(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    other = await second_sign_in(api, c.pat_ana)
    other_socket = await peer(other.token)
    here = await peer(c.pat_ana.token)
    wrong = await api.post(
        "/api/me/password",
        {"current_password": "not it at all", "new_password": "a brand new passphrase"},
        token=c.pat_ana.token,
    )
    assert (wrong.status, wrong.error_code) == (403, "forbidden"), wrong.body
    changed = await api.post(
        "/api/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        token=c.pat_ana.token,
    )
    assert changed.status == 204, changed.body
    assert (await api.get("/api/me", token=other.token)).status == 401
    await eventually(lambda: disconnected(other_socket), "the other session's socket to close")
    assert (await api.get("/api/me", token=c.pat_ana.token)).status == 200
    assert here.client.connected
    assert (await sign_in_as(api, c.pat_ana.username, PASSWORD)).status == 401
    await sign_in(api, c.pat_ana.username, "a brand new passphrase")


async def test_staff_deactivate_and_reactivate_an_account(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana_socket = await peer(c.pat_ana.token)
    path = f"/api/users/{c.pat_ana.id}"
    refused_patient = await api.post(f"{path}/deactivate", token=c.pat_avi.token)
    assert refused_patient.status == 403
    own = await api.post(f"/api/users/{c.mod_lee.id}/deactivate", token=c.mod_lee.token)
    assert own.status == 403
    admin = await api.post(f"/api/users/{c.admin.id}/deactivate", token=c.mod_lee.token)
    assert (admin.status, admin.error_code) == (403, "forbidden"), admin.body

    done = await api.post(f"{path}/deactivate", token=c.mod_lee.token)
    assert done.status == 200 and done.body["user"]["deactivated"] is True, done.body
    await eventually(lambda: disconnected(ana_socket), "her socket to close")
    assert (await api.get("/api/me", token=c.pat_ana.token)).status == 401
    blocked = await sign_in_as(api, c.pat_ana.username, PASSWORD)
    assert (blocked.status, blocked.error_code) == (403, "forbidden"), blocked.body
    assert "deactivated" in blocked.body["error"]["message"]
    entries = await api.get("/api/audit?limit=1000", token=c.mod_lee.token)
    [entry] = [e for e in entries.body["entries"] if e["action"] == "account_deactivated"]
    assert entry["target_user"]["id"] == c.pat_ana.id and entry["actor"]["id"] == c.mod_lee.id

    back = await api.post(f"{path}/reactivate", token=c.mod_lee.token)
    assert back.status == 200 and back.body["user"]["deactivated"] is False
    await sign_in(api, c.pat_ana.username)


async def test_wrong_current_passwords_count_against_the_accounts_sign_in(
    community: Community, api: Api
) -> None:
    c = community
    for _ in range(5):
        wrong = await api.post(
            "/api/me/password",
            {"current_password": "not my password", "new_password": "another good passphrase"},
            token=c.pat_ana.token,
        )
        assert wrong.status == 403, wrong.body
    held = await sign_in_as(api, c.pat_ana.username, PASSWORD)
    assert (held.status, held.error_code) == (429, "rate_limited"), held.body


# ----- names no one can fake -----


NEWCOMERS = itertools.count(1)


async def register_as(api: Api, inviter: Person, display_name: str, role: str = "alumni") -> Reply:
    invite = await api.post("/api/invites", {"role": role}, token=inviter.token)
    assert invite.status == 201, invite.body
    return await api.post(
        "/api/auth/register",
        {
            "invite_code": invite.body["invite"]["code"],
            "username": f"newcomer_{next(NEWCOMERS)}",
            "display_name": display_name,
            "password": "a long good passphrase",
            "consent_version": await consent_version(api),
        },
    )


@pytest.mark.parametrize(
    "name",
    ["Ana", "ANA", "ana", "A n a", "Ána", "A.n.a", "\u0410na", "\u0410n\u0430", "Lee", "LEE"],
)
async def test_a_name_that_looks_like_someone_elses_is_refused(
    community: Community, api: Api, name: str
) -> None:
    reply = await register_as(api, community.mod_lee, name)
    assert (reply.status, reply.error_code) == (409, "conflict"), reply.body
    assert "display_name" in reply.body["error"]["message"]


@pytest.mark.parametrize("name", ["Staff Robin", "Dr. Robin", "robin the moderator", "Admin R"])
async def test_only_staff_may_call_themselves_staff(
    community: Community, api: Api, name: str
) -> None:
    member = await register_as(api, community.mod_lee, name)
    assert (member.status, member.error_code) == (422, "invalid"), member.body
    staff = await register_as(api, community.admin, name, role="moderator")
    assert staff.status == 201, staff.body


async def test_a_name_of_ones_own_is_taken_and_then_refused_to_others(
    community: Community, api: Api
) -> None:
    first = await register_as(api, community.mod_lee, "Robin")
    assert first.status == 201, first.body
    again = await register_as(api, community.mod_lee, "R\u043ebin")  # Cyrillic o
    assert (again.status, again.error_code) == (409, "conflict"), again.body
