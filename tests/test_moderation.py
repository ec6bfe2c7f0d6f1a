"""Moderation: mutes, kicks and bans, room lock and slow mode, the rate limit, moderator
deletes, reports, who may moderate, the audit log and its CSV, and the content filters for
contact details and blocked terms (docs/api/, Moderation)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    Person,
    RunningServer,
    audit,
    barrier,
    consent_version,
    joined,
    message_ids,
    new_client_id,
    ok,
    parse_utc,
    patch_room,
    public,
    refused,
    send,
    stored_bodies,
    try_send,
    with_id,
    with_settings,
)

pytestmark = pytest.mark.persistence

UNKNOWN_ID = 987_654_321
PHONE = "555-123-4567"


# ----- a server with this test's own settings -----


# ----- helpers -----


def of_action(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["action"] == action]


def about(value: str, expected: datetime) -> bool:
    """A contract time within a second of `expected` (the wire keeps milliseconds)."""
    return abs(parse_utc(value) - expected) < timedelta(seconds=1)


async def restricted(api: Api, staff: Person, room_id: int, kind: str) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/rooms/{room_id}/{kind}", token=staff.token)
    assert reply.status == 200, reply.body
    return list(reply.body[kind])


def retry_after(error: dict[str, Any]) -> int:
    value = error.get("retry_after_s")
    assert isinstance(value, int) and not isinstance(value, bool), error
    return value


# ----- mute -----


async def test_mute_refuses_sends_until_it_ends_or_is_lifted(
    community: Community, peer: PeerFactory, api: Api, server: RunningServer
) -> None:
    room = community.group_a
    ana, lee = community.pat_ana, community.mod_lee
    ana_peer = await peer(ana.token)
    avi_peer = await peer(community.pat_avi.token)
    await joined(ana_peer, room)
    await joined(avi_peer, room)
    muted_at = server.clock.now()

    reply = await api.post(
        f"/api/rooms/{room}/mutes",
        {"user_id": ana.id, "minutes": 10, "reason": "cooling off"},
        token=lee.token,
    )
    assert reply.status == 201, reply.body
    until = reply.body["mute"]["until"]
    assert about(until, muted_at + timedelta(minutes=10)), reply.body

    notice = await ana_peer.wait_for("notice", lambda n: n["kind"] == "muted")
    assert notice["room_id"] == room, notice
    assert notice["until"] == until, notice
    assert notice["text"], notice

    error = refused(await try_send(ana_peer, room, "am I still here?"), "muted")
    assert error["until"] == until, error
    await barrier(avi_peer, ana_peer)
    assert avi_peer.received("message") == []
    assert ana_peer.received("message") == []
    assert await stored_bodies(api, lee, room) == []
    # Only she is muted.
    from_avi = await send(avi_peer, room, "I'm still here")

    mutes = await restricted(api, lee, room, "mutes")
    assert [(m["user"], m["reason"], m["until"]) for m in mutes] == [
        (public(ana), "cooling off", until)
    ]
    assert mutes[0]["created_by"] == public(lee)

    # The mute runs out on its own.
    await server.clock.advance(minutes=11)
    assert await restricted(api, lee, room, "mutes") == []
    back = await send(ana_peer, room, "back again")
    await avi_peer.wait_for("message", lambda m: m["id"] == back["id"])

    # A second mute, lifted early.
    reply = await api.post(
        f"/api/rooms/{room}/mutes",
        {"user_id": ana.id, "minutes": 60, "reason": "second time"},
        token=lee.token,
    )
    assert reply.status == 201, reply.body
    refused(await try_send(ana_peer, room, "and now?"), "muted")
    reply = await api.call("DELETE", f"/api/rooms/{room}/mutes/{ana.id}", token=lee.token)
    assert reply.status == 204, reply.body
    assert await restricted(api, lee, room, "mutes") == []
    lifted = await ana_peer.wait_for("notice", lambda n: n["kind"] == "unmuted")
    assert lifted["room_id"] == room and lifted["text"], lifted
    again = await send(ana_peer, room, "thank you")
    await avi_peer.wait_for("message", lambda m: m["id"] == again["id"])
    assert await stored_bodies(api, lee, room) == [from_avi["body"], "back again", "thank you"]

    reply = await api.call("DELETE", f"/api/rooms/{room}/mutes/{ana.id}", token=lee.token)
    assert reply.status == 404, reply.body
    assert reply.error_code == "not_found"

    entries = await audit(api, lee, room)
    mutes_logged = of_action(entries, "mute")
    assert sorted(e["reason"] for e in mutes_logged) == ["cooling off", "second time"]
    unmutes_logged = of_action(entries, "unmute")
    assert len(unmutes_logged) == 1, entries
    for entry in mutes_logged + unmutes_logged:
        assert entry["actor"] == public(lee), entry
        assert entry["target_user"] == public(ana), entry
        assert entry["room_id"] == room, entry


# ----- kick -----


async def test_kick_removes_every_socket_of_the_user_until_she_rejoins(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana, lee = community.pat_ana, community.mod_lee
    ana_tab_1 = await peer(ana.token)
    ana_tab_2 = await peer(ana.token)
    avi = await peer(community.pat_avi.token)
    lee_peer = await peer(lee.token)
    for each in (ana_tab_1, ana_tab_2, avi, lee_peer):
        await joined(each, room)

    reply = await api.post(
        f"/api/rooms/{room}/kicks", {"user_id": ana.id, "reason": "needs a break"}, token=lee.token
    )
    assert reply.status == 201, reply.body

    for tab in (ana_tab_1, ana_tab_2):
        notice = await tab.wait_for("notice", lambda n: n["kind"] == "kicked")
        assert notice["room_id"] == room, notice
        assert notice["text"], notice
    for other in (avi, lee_peer):
        offline = await other.wait_for(
            "presence", lambda p: p["status"] == "offline" and p["user"]["id"] == ana.id
        )
        assert offline == {"room_id": room, "user": public(ana), "status": "offline"}

    after = await send(avi, room, "after the kick")
    await lee_peer.wait_for("message", lambda m: m["id"] == after["id"])
    await barrier(ana_tab_1, ana_tab_2)
    for tab in (ana_tab_1, ana_tab_2):
        assert after["id"] not in message_ids(tab)
    presence = await api.get(f"/api/rooms/{room}/presence", token=lee.token)
    assert presence.status == 200, presence.body
    assert ana.id not in [user["id"] for user in presence.body["online"]]

    # A kick is not a ban: she may come back.
    rejoin = await joined(ana_tab_1, room)
    assert after["id"] in [message["id"] for message in rejoin["messages"]]
    welcome = await send(avi, room, "welcome back")
    await ana_tab_1.wait_for("message", lambda m: m["id"] == welcome["id"])
    mine = await send(ana_tab_1, room, "thanks")
    await avi.wait_for("message", lambda m: m["id"] == mine["id"])

    kicks = of_action(await audit(api, lee, room), "kick")
    assert len(kicks) == 1, kicks
    assert kicks[0]["actor"] == public(lee)
    assert kicks[0]["target_user"] == public(ana)
    assert kicks[0]["room_id"] == room
    assert kicks[0]["reason"] == "needs a break"


# ----- ban -----


async def test_ban_removes_and_keeps_out_until_lifted_or_over(
    community: Community, peer: PeerFactory, api: Api, server: RunningServer
) -> None:
    room = community.group_a
    ana, lee = community.pat_ana, community.mod_lee
    ana_tab_1 = await peer(ana.token)
    ana_tab_2 = await peer(ana.token)
    avi = await peer(community.pat_avi.token)
    lee_peer = await peer(lee.token)
    for each in (ana_tab_1, ana_tab_2, avi, lee_peer):
        await joined(each, room)

    reply = await api.post(
        f"/api/rooms/{room}/bans", {"user_id": ana.id, "reason": "harassment"}, token=lee.token
    )
    assert reply.status == 201, reply.body
    assert reply.body["ban"]["user"] == public(ana)
    assert reply.body["ban"]["until"] is None

    for tab in (ana_tab_1, ana_tab_2):
        notice = await tab.wait_for("notice", lambda n: n["kind"] == "banned")
        assert notice["room_id"] == room, notice
    for other in (avi, lee_peer):
        offline = await other.wait_for(
            "presence", lambda p: p["status"] == "offline" and p["user"]["id"] == ana.id
        )
        assert offline == {"room_id": room, "user": public(ana), "status": "offline"}
    after = await send(avi, room, "after the ban")
    await lee_peer.wait_for("message", lambda m: m["id"] == after["id"])
    await barrier(ana_tab_1, ana_tab_2)
    for tab in (ana_tab_1, ana_tab_2):
        assert after["id"] not in message_ids(tab)

    refused(await ana_tab_1.call("join", {"room_id": room}), "banned")
    refused(await ana_tab_2.call("history", {"room_id": room}), "banned")
    refused(await try_send(ana_tab_1, room, "let me back in"), "banned")
    reply = await api.get(f"/api/rooms/{room}/messages", token=ana.token)
    assert reply.status == 403, reply.body
    assert reply.error_code == "banned"
    assert await stored_bodies(api, lee, room) == ["after the ban"]
    # Her other rooms are untouched.
    ok(await ana_tab_1.call("join", {"room_id": community.commons}))

    bans = await restricted(api, lee, room, "bans")
    assert [(b["user"], b["reason"], b["until"]) for b in bans] == [
        (public(ana), "harassment", None)
    ]

    reply = await api.call("DELETE", f"/api/rooms/{room}/bans/{ana.id}", token=lee.token)
    assert reply.status == 204, reply.body
    assert await restricted(api, lee, room, "bans") == []
    for tab in (ana_tab_1, ana_tab_2):
        lifted = await tab.wait_for("notice", lambda n: n["kind"] == "unbanned")
        assert lifted["room_id"] == room and lifted["text"], lifted
    await joined(ana_tab_1, room)
    mine = await send(ana_tab_1, room, "I'm sorry")
    await avi.wait_for("message", lambda m: m["id"] == mine["id"])
    reply = await api.call("DELETE", f"/api/rooms/{room}/bans/{ana.id}", token=lee.token)
    assert reply.status == 404, reply.body
    assert reply.error_code == "not_found"

    # A ban for a while ends on its own.
    reply = await api.post(
        f"/api/rooms/{room}/bans",
        {"user_id": ana.id, "reason": "a day off", "minutes": 30},
        token=lee.token,
    )
    assert reply.status == 201, reply.body
    assert about(reply.body["ban"]["until"], server.clock.now() + timedelta(minutes=30))
    refused(await ana_tab_2.call("join", {"room_id": room}), "banned")
    await server.clock.advance(minutes=31)
    assert await restricted(api, lee, room, "bans") == []
    await joined(ana_tab_2, room)
    reply = await api.get(f"/api/rooms/{room}/messages", token=ana.token)
    assert reply.status == 200, reply.body

    # Staff cannot be banned.
    for actor, target in ((lee, lee), (community.admin, lee), (lee, community.admin)):
        reply = await api.post(
            f"/api/rooms/{room}/bans", {"user_id": target.id, "reason": "no"}, token=actor.token
        )
        assert reply.status == 403, reply.body
        assert reply.error_code == "forbidden"
    assert await restricted(api, lee, room, "bans") == []

    entries = await audit(api, lee, room)
    bans_logged = of_action(entries, "ban")
    assert sorted(e["reason"] for e in bans_logged) == ["a day off", "harassment"]
    unbans_logged = of_action(entries, "unban")
    assert len(unbans_logged) == 1, entries
    for entry in bans_logged + unbans_logged:
        assert entry["actor"] == public(lee), entry
        assert entry["target_user"] == public(ana), entry
        assert entry["room_id"] == room, entry


async def test_every_mute_ban_and_lift_is_told_to_staff_and_to_nobody_else(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    """Consoles show the mutes and bans in force without a reload: staff's sockets (every
    moderator and admin, in the room or not) hear of each made or lifted; members, the person
    restricted among them, never do."""
    room = community.group_a
    ana, lee = community.pat_ana, community.mod_lee
    staff = [await peer(lee.token), await peer(community.admin.token)]
    members = [await peer(ana.token), await peer(community.pat_avi.token)]
    for each in members:
        await joined(each, room)
    told: list[dict[str, Any]] = []

    async def everyone_on_staff_is_told(expected: dict[str, Any]) -> None:
        told.append(expected)
        for each in staff:
            await each.wait_for("restriction_changed", lambda e: e == expected)

    reply = await api.post(
        f"/api/rooms/{room}/mutes", {"user_id": ana.id, "minutes": 10, "reason": "x"}, lee.token
    )
    assert reply.status == 201, reply.body
    await everyone_on_staff_is_told(
        {"user_id": ana.id, "room_id": room, "kind": "mute",
         "until": reply.body["mute"]["until"], "lifted": False}
    )  # fmt: skip
    reply = await api.post(f"/api/rooms/{room}/bans", {"user_id": ana.id, "reason": "x"}, lee.token)
    assert reply.status == 201, reply.body
    await everyone_on_staff_is_told(
        {"user_id": ana.id, "room_id": room, "kind": "ban", "until": None, "lifted": False}
    )
    for kind in ("mutes", "bans"):
        reply = await api.call("DELETE", f"/api/rooms/{room}/{kind}/{ana.id}", token=lee.token)
        assert reply.status == 204, reply.body
        await everyone_on_staff_is_told(
            {"user_id": ana.id, "room_id": room, "kind": kind[:-1], "until": None, "lifted": True}
        )
    # Nothing lifted, nothing told.
    reply = await api.call("DELETE", f"/api/rooms/{room}/bans/{ana.id}", token=lee.token)
    assert reply.status == 404, reply.body

    await barrier(*staff, *members)
    for each in staff:
        assert each.received("restriction_changed") == told
    for each in members:
        assert each.received("restriction_changed") == []
    # Ana was told of her own mute and ban, as a notice.
    assert [n["kind"] for n in members[0].received("notice")] == [
        "muted", "banned", "unmuted", "unbanned"
    ]  # fmt: skip


# ----- room lock and slow mode -----


async def test_slow_mode_holds_for_two_devices_sending_at_the_same_moment(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    """Sends to one room are stored one at a time (PostgreSQL's row lock, a lock per room on
    SQLite), so the second device's slow-mode check sees the first device's message."""
    room = community.group_a
    await patch_room(api, community.mod_lee, room, slow_mode_s=30)
    phone, laptop = await peer(community.pat_ana.token), await peer(community.pat_ana.token)
    for device in (phone, laptop):
        await joined(device, room)
    for attempt in range(5):
        acks = await asyncio.gather(
            try_send(phone, room, f"from the phone {attempt}"),
            try_send(laptop, room, f"from the laptop {attempt}"),
        )
        stored = [ack for ack in acks if ack["ok"]]
        assert len(stored) <= 1, acks
        for ack in acks:
            if not ack["ok"]:
                refused(ack, "rate_limited")
    bodies = await stored_bodies(api, community.mod_lee, room)
    assert len([body for body in bodies if body.startswith("from the")]) == 1, bodies


async def test_slow_mode_and_lock_are_broadcast_enforced_and_audited(
    community: Community, peer: PeerFactory, api: Api, server: RunningServer
) -> None:
    room = community.group_a
    lee = community.mod_lee
    ana = await peer(community.pat_ana.token)
    avi = await peer(community.pat_avi.token)
    lee_peer = await peer(lee.token)
    for each in (ana, avi, lee_peer):
        await joined(each, room)

    assert (await patch_room(api, lee, room, slow_mode_s=30))["slow_mode_s"] == 30
    for each in (ana, avi, lee_peer):
        update = await each.wait_for("room_updated", lambda r: r["slow_mode_s"] == 30)
        assert update["id"] == room

    first = await send(ana, room, "first")
    first_wait = retry_after(refused(await try_send(ana, room, "second"), "rate_limited"))
    assert 0 < first_wait <= 30
    await server.clock.advance(seconds=10)
    later_wait = retry_after(refused(await try_send(ana, room, "second"), "rate_limited"))
    assert 0 < later_wait <= 20
    # Slow mode counts per member, and moderators are exempt.
    await send(avi, room, "me too")
    for text in ("one", "two", "three"):
        await send(lee_peer, room, text)
    await server.clock.advance(seconds=21)
    second = await send(ana, room, "second")
    await lee_peer.wait_for("message", lambda m: m["id"] == second["id"])
    assert (await stored_bodies(api, lee, room)).count("second") == 1
    assert first["id"] < second["id"]

    assert (await patch_room(api, lee, room, slow_mode_s=0))["slow_mode_s"] == 0
    assert (await patch_room(api, lee, room, locked=True))["locked"] is True
    refused(await try_send(ana, room, "locked?"), "room_locked")
    assert (await patch_room(api, lee, room, locked=False))["locked"] is False
    await send(ana, room, "unlocked")

    entries = await audit(api, lee, room)
    assert len(of_action(entries, "room_slow_mode_s_changed")) == 2, entries
    assert len(of_action(entries, "room_locked")) == 1, entries
    assert len(of_action(entries, "room_unlocked")) == 1, entries
    for action in ("room_slow_mode_s_changed", "room_locked", "room_unlocked"):
        for entry in of_action(entries, action):
            assert entry["actor"] == public(lee), entry
            assert entry["room_id"] == room, entry


# ----- rate limit -----


@with_settings(rate_limit_per_minute=6, rate_limit_burst=3)
async def test_rate_limit_allows_a_burst_then_the_sustained_rate(
    community: Community, peer: PeerFactory, api: Api, server: RunningServer
) -> None:
    room = community.group_a
    ana = await peer(community.pat_ana.token)
    for text in ("one", "two", "three"):
        await send(ana, room, text)
    wait_s = retry_after(refused(await try_send(ana, room, "four"), "rate_limited"))
    assert 0 < wait_s <= 10  # 6 a minute: one token every 10 s
    assert await stored_bodies(api, community.mod_lee, room) == ["one", "two", "three"]

    await server.clock.advance(seconds=11)
    await send(ana, room, "four")
    wait_s = retry_after(refused(await try_send(ana, room, "five"), "rate_limited"))
    assert 0 < wait_s <= 10
    assert await stored_bodies(api, community.mod_lee, room) == ["one", "two", "three", "four"]


# ----- moderator deletes -----


async def test_a_moderators_delete_is_audited_an_authors_own_is_not(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    lee = community.mod_lee
    ana = await peer(community.pat_ana.token)
    lee_peer = await peer(lee.token)
    await joined(ana, room)
    await joined(lee_peer, room)
    theirs = await send(ana, room, "something unkind")
    own = await send(ana, room, "never mind")

    reply = await api.call("DELETE", f"/api/messages/{theirs['id']}", token=lee.token)
    assert reply.status == 204, reply.body
    ok(await ana.call("delete", {"message_id": own["id"]}))
    for message_id in (theirs["id"], own["id"]):
        await lee_peer.wait_for("message_deleted", with_id(message_id))
    assert await stored_bodies(api, lee, room) == ["", ""]

    deletes = of_action(await audit(api, lee, room), "message_deleted")
    assert [(e["message_id"], e["actor"], e["target_user"]) for e in deletes] == [
        (theirs["id"], public(lee), public(community.pat_ana))
    ]
    assert deletes[0]["room_id"] == room


# ----- reports -----


def without_login_names(payload: Any, community: Community) -> None:
    text = json.dumps(payload)
    assert '"username"' not in text, text
    for person in community.people.values():
        assert person.username not in text or person.username == "admin", text


async def test_report_alerts_moderators_queues_and_resolves(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    ana, avi, lee = community.pat_ana, community.pat_avi, community.mod_lee
    ana_peer = await peer(ana.token)
    avi_peer = await peer(avi.token)
    lee_peer = await peer(lee.token)
    message = await send(ana_peer, room, "you are all pathetic")

    reply = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "insulting"}, token=avi.token
    )
    assert reply.status == 201, reply.body
    report = reply.body["report"]
    assert report["message_id"] == message["id"]
    assert report["status"] == "open"
    without_login_names(reply.body, community)

    alert = await lee_peer.wait_for("alert", lambda a: a["kind"] == "report")
    assert alert["room_id"] == room
    assert alert["message_id"] == message["id"]
    assert alert["user"] == public(ana)
    assert "you are all pathetic" in alert["excerpt"]
    parse_utc(alert["created_at"])
    without_login_names(alert, community)
    await barrier(avi_peer, ana_peer)
    assert avi_peer.received("alert") == [] and ana_peer.received("alert") == []

    reply = await api.get("/api/reports?status=open", token=lee.token)
    assert reply.status == 200, reply.body
    assert [r["id"] for r in reply.body["reports"]] == [report["id"]]
    queued = reply.body["reports"][0]
    assert queued["message"]["id"] == message["id"]
    assert queued["message"]["body"] == "you are all pathetic"
    assert queued["author"] == public(ana)
    assert queued["reporter"] == public(avi)
    assert queued["reason"] == "insulting"
    without_login_names(reply.body, community)

    again = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "still insulting"}, token=avi.token
    )
    assert again.status == 409, again.body
    assert again.error_code == "conflict"
    outsider = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "saw it"}, token=community.pat_bo.token
    )
    assert outsider.status == 403, outsider.body
    assert outsider.error_code == "forbidden"
    unknown = await api.post(
        f"/api/messages/{UNKNOWN_ID}/reports", {"reason": "?"}, token=avi.token
    )
    assert unknown.status == 404, unknown.body
    assert unknown.error_code == "not_found"
    reply = await api.get("/api/reports?status=open", token=lee.token)
    assert [r["id"] for r in reply.body["reports"]] == [report["id"]]

    reply = await api.post(
        f"/api/reports/{report['id']}/resolve",
        {"resolution": "actioned", "note": "spoke with her"},
        token=lee.token,
    )
    assert reply.status == 200, reply.body
    resolved = reply.body["report"]
    assert resolved["id"] == report["id"]
    assert resolved["status"] == "actioned"
    assert resolved["resolved_by"] == public(lee)
    assert resolved["note"] == "spoke with her"
    reply = await api.post(
        f"/api/reports/{report['id']}/resolve", {"resolution": "dismissed"}, token=lee.token
    )
    assert reply.status == 409, reply.body
    assert reply.error_code == "conflict"

    reply = await api.get("/api/reports?status=open", token=lee.token)
    assert reply.body["reports"] == []
    reply = await api.get("/api/alerts?status=open", token=lee.token)
    assert reply.status == 200, reply.body
    assert alert["id"] not in [a["id"] for a in reply.body["alerts"]]
    reply = await api.get("/api/alerts?status=acknowledged", token=lee.token)
    assert [a["id"] for a in reply.body["alerts"]] == [alert["id"]]

    actioned = of_action(await audit(api, lee, room), "report_actioned")
    assert len(actioned) == 1, actioned
    assert actioned[0]["actor"] == public(lee)
    assert actioned[0]["message_id"] == message["id"]
    assert actioned[0]["room_id"] == room
    assert actioned[0]["reason"] == "spoke with her"


# ----- who may moderate -----


def moderation_calls(
    room: int, target: int, report: int, alert: int
) -> dict[str, tuple[str, str, Any]]:
    return {
        "mute": (
            "POST",
            f"/api/rooms/{room}/mutes",
            {"user_id": target, "minutes": 5, "reason": "x"},
        ),
        "list mutes": ("GET", f"/api/rooms/{room}/mutes", None),
        "unmute": ("DELETE", f"/api/rooms/{room}/mutes/{target}", None),
        "kick": ("POST", f"/api/rooms/{room}/kicks", {"user_id": target, "reason": "x"}),
        "ban": ("POST", f"/api/rooms/{room}/bans", {"user_id": target, "reason": "x"}),
        "list bans": ("GET", f"/api/rooms/{room}/bans", None),
        "unban": ("DELETE", f"/api/rooms/{room}/bans/{target}", None),
        "list reports": ("GET", "/api/reports?status=open", None),
        "resolve": ("POST", f"/api/reports/{report}/resolve", {"resolution": "dismissed"}),
        "list alerts": ("GET", "/api/alerts?status=open", None),
        "ack": ("POST", f"/api/alerts/{alert}/ack", {"note": "x"}),
        "audit": ("GET", f"/api/audit?room_id={room}", None),
    }


@pytest.mark.parametrize("who", ["pat_ana", "alum_dee"])
async def test_every_moderation_endpoint_refuses_non_staff(
    community: Community, peer: PeerFactory, api: Api, who: str
) -> None:
    room = community.commons  # a room both may enter: the refusal is about role
    lee, avi = community.mod_lee, community.pat_avi
    caller = community.people[who]
    avi_peer = await peer(avi.token)
    await joined(avi_peer, room)
    message = await send(avi_peer, room, "hello all")
    reply = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "test"}, token=caller.token
    )
    assert reply.status == 201, reply.body
    report_id = reply.body["report"]["id"]
    alerts = (await api.get("/api/alerts?status=open", token=lee.token)).body["alerts"]
    assert len(alerts) == 1, alerts
    # Something in force for an unmute or an unban to lift.
    for kind in ("mutes", "bans"):
        reply = await api.post(
            f"/api/rooms/{room}/{kind}",
            {"user_id": avi.id, "reason": "setup", "minutes": 5},
            token=lee.token,
        )
        assert reply.status == 201, reply.body
    entries_before = await audit(api, lee)

    calls = moderation_calls(room, avi.id, report_id, alerts[0]["id"])
    outcomes = {}
    for name, (method, path, body) in calls.items():
        reply = await api.call(method, path, token=caller.token, json=body)
        outcomes[name] = (reply.status, reply.error_code)
    assert outcomes == dict.fromkeys(calls, (403, "forbidden"))

    # Nothing changed.
    await barrier(avi_peer)
    assert [n["kind"] for n in avi_peer.received("notice")] == ["muted", "banned"]
    reply = await api.get("/api/reports?status=open", token=lee.token)
    assert [r["id"] for r in reply.body["reports"]] == [report_id]
    reply = await api.get("/api/alerts?status=open", token=lee.token)
    assert [a["id"] for a in reply.body["alerts"]] == [alerts[0]["id"]]
    for kind in ("mutes", "bans"):
        assert [r["reason"] for r in await restricted(api, lee, room, kind)] == ["setup"]
    assert await audit(api, lee) == entries_before


def made_since(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A room's audit entries but its `room_created` row: what was done in it once made."""
    return [entry for entry in entries if entry["action"] != "room_created"]


async def test_staff_moderate_every_room(community: Community, peer: PeerFactory, api: Api) -> None:
    lee, admin, dee, bo = community.mod_lee, community.admin, community.alum_dee, community.pat_bo
    dee_peer = await peer(dee.token)
    await joined(dee_peer, community.lounge)
    reply = await api.post(
        f"/api/rooms/{community.lounge}/mutes",
        {"user_id": dee.id, "minutes": 15, "reason": "heated"},
        token=lee.token,
    )
    assert reply.status == 201, reply.body
    await dee_peer.wait_for("notice", lambda n: n["kind"] == "muted")
    refused(await try_send(dee_peer, community.lounge, "hey"), "muted")
    assert [m["user"] for m in await restricted(api, lee, community.lounge, "mutes")] == [
        public(dee)
    ]

    bo_peer = await peer(bo.token)
    await joined(bo_peer, community.group_b)
    reply = await api.post(
        f"/api/rooms/{community.group_b}/bans",
        {"user_id": bo.id, "reason": "threats"},
        token=admin.token,
    )
    assert reply.status == 201, reply.body
    await bo_peer.wait_for("notice", lambda n: n["kind"] == "banned")
    refused(await bo_peer.call("join", {"room_id": community.group_b}), "banned")
    assert [b["user"] for b in await restricted(api, admin, community.group_b, "bans")] == [
        public(bo)
    ]
    reply = await api.post(
        f"/api/rooms/{community.group_b}/kicks",
        {"user_id": bo.id, "reason": "again"},
        token=admin.token,
    )
    assert reply.status == 201, reply.body

    lounge_log = made_since(await audit(api, admin, community.lounge))
    assert [(e["action"], e["actor"]) for e in lounge_log] == [("mute", public(lee))]
    group_b_log = made_since(await audit(api, lee, community.group_b))
    assert [(e["action"], e["actor"], e["target_user"]) for e in group_b_log] == [
        ("kick", public(admin), public(bo)),
        ("ban", public(admin), public(bo)),
    ]


# ----- audit CSV -----


async def register_named(
    api: Api, inviter: Person, username: str, display_name: str, cohort_id: int
) -> Person:
    invite = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": cohort_id}, token=inviter.token
    )
    assert invite.status == 201, invite.body
    reply = await api.post(
        "/api/auth/register",
        {
            "invite_code": invite.body["invite"]["code"],
            "username": username,
            "display_name": display_name,
            "password": PASSWORD,
            "consent_version": await consent_version(api),
        },
    )
    assert reply.status == 201, reply.body
    user = reply.body["user"]
    return Person(user["id"], username, user["display_name"], user["role"], reply.body["token"])


async def test_audit_csv_matches_the_json_and_is_spreadsheet_safe(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    lee = community.mod_lee
    formula = '=HYPERLINK("http://x.example","hi")'
    sneaky = await register_named(api, lee, "pat_eve", formula, community.cohort_a)
    assert sneaky.display_name == formula
    reply = await api.post(
        f"/api/rooms/{room}/mutes",
        {"user_id": sneaky.id, "minutes": 5, "reason": "testing the export"},
        token=lee.token,
    )
    assert reply.status == 201, reply.body
    reply = await api.post(
        f"/api/rooms/{room}/kicks",
        {"user_id": community.pat_ana.id, "reason": "x"},
        token=community.admin.token,
    )
    assert reply.status == 201, reply.body
    ana = await peer(community.pat_ana.token)
    await send(ana, room, f"text me at {PHONE}")  # a filter hit: no actor
    await patch_room(api, lee, room, locked=True)

    entries = await audit(api, lee, room)
    # The room's creation (the community is made through the API), the mute, the kick, the
    # filter hit and the lock.
    assert len(entries) == 5, entries
    headers = {"Authorization": f"Bearer {lee.token}"}
    async with api.session.get(
        f"{api.base_url}/api/audit?room_id={room}&limit=1000&format=csv", headers=headers
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))

    def name(user: dict[str, Any] | None) -> str:
        if user is None:
            return ""
        display = str(user["display_name"])
        return "'" + display if display.startswith("=") else display

    assert [(r["id"], r["action"], r["actor"], r["target_user"]) for r in rows] == [
        (str(e["id"]), e["action"], name(e["actor"]), name(e["target_user"])) for e in entries
    ]
    muted = next(r for r in rows if r["action"] == "mute")
    assert muted["target_user"] == "'" + formula
    assert muted["actor"] == lee.display_name
    assert muted["reason"] == "testing the export"
    assert {r["room_id"] for r in rows} == {str(room)}

    async with api.session.get(
        f"{api.base_url}/api/audit?format=csv", headers={"Authorization": "Bearer nope"}
    ) as response:
        assert response.status == 401


# ----- content filters -----


async def test_contact_details_follow_the_room_policy(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    lee, ana = community.mod_lee, community.pat_ana
    rooms = {}
    for policy in ("block", None, "allow"):
        fields: dict[str, Any] = {
            "name": f"Drop-in {policy}",
            "kind": "peer",
            "audience": "everyone",
        }
        if policy is not None:
            fields["contact_policy"] = policy
        reply = await api.post("/api/rooms", fields, token=lee.token)
        assert reply.status == 201, reply.body
        rooms[policy or "mask"] = reply.body["room"]["id"]
    ana_peer = await peer(ana.token)
    avi_peer = await peer(community.pat_avi.token)
    for room_id in rooms.values():
        await joined(avi_peer, room_id)
    body = f"call me {PHONE}"

    refused(await try_send(ana_peer, rooms["block"], body), "blocked")
    await barrier(avi_peer)
    assert avi_peer.received("message") == []
    assert await stored_bodies(api, lee, rooms["block"]) == []

    client_id = new_client_id()
    masked = await send(ana_peer, rooms["mask"], body, client_id)
    assert PHONE not in masked["body"] and "123" not in masked["body"], masked
    # Sent again (its answer lost): the same message, masked and recorded once.
    assert await send(ana_peer, rooms["mask"], body, client_id) == masked
    assert masked["body"].startswith("call me"), masked
    delivered = await avi_peer.wait_for("message", lambda m: m["id"] == masked["id"])
    assert delivered["body"] == masked["body"]
    assert await stored_bodies(api, lee, rooms["mask"]) == [masked["body"]]
    hits = of_action(await audit(api, lee, rooms["mask"]), "filter_contact_masked")
    assert len(hits) == 1, hits
    assert hits[0]["target_user"] == public(ana)
    assert hits[0]["message_id"] == masked["id"]

    allowed = await send(ana_peer, rooms["allow"], body)
    assert allowed["body"] == body
    assert await stored_bodies(api, lee, rooms["allow"]) == [body]
    assert [e["action"] for e in made_since(await audit(api, lee, rooms["allow"]))] == []


@with_settings(blocked_terms=["badword"])
async def test_blocked_terms_are_refused_and_audited(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    room = community.group_a
    lee, ana = community.mod_lee, community.pat_ana
    ana_peer = await peer(ana.token)
    avi_peer = await peer(community.pat_avi.token)
    await joined(avi_peer, room)

    error = refused(await try_send(ana_peer, room, "you badword"), "blocked")
    assert "body" in error["message"], error
    await barrier(avi_peer)
    assert avi_peer.received("message") == []
    assert await stored_bodies(api, lee, room) == []
    fine = await send(ana_peer, room, "you are doing great")
    await avi_peer.wait_for("message", lambda m: m["id"] == fine["id"])

    hits = of_action(await audit(api, lee, room), "filter_blocked_term")
    assert len(hits) == 1, hits
    assert hits[0]["target_user"] == public(ana)
    assert hits[0]["room_id"] == room
