"""Erasure (docs/privacy.md: "Erasure"): asked for by the person or by staff, approved or
declined by an admin, nothing erased before; approved, the person is signed out everywhere
under a pseudonym, their messages are removed live on every process, their alias and login
name are free, what reaches them is gone, and the program's records stay. A legal hold
refuses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from server.app import CORE
from server.meetings.models import CalendarToken
from server.notify.models import NotificationSettings, RoomFollow
from tests.cluster import Cluster, close_before_stopping, eventually, in_room, send
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    Person,
    RunningServer,
    audit,
    daily_series,
    joined,
    register,
    stored_messages,
    with_id,
    with_settings,
)
from tests.support import send as send_here

pytestmark = pytest.mark.persistence

ERASED_TEXT = "Removed at the member's request."
CRISIS = "i want to kill myself"


async def asked(api: Api, person: Person, reason: str = "I am leaving the program") -> int:
    reply = await api.post("/api/me/erasure-request", {"reason": reason}, person.token)
    assert reply.status == 201, reply.body
    request: dict[str, Any] = reply.body["request"]
    assert (request["status"], request["user"]["id"], request["reason"]) == (
        "pending", person.id, reason
    )  # fmt: skip
    return int(request["id"])


async def approved(api: Api, admin: Person, request_id: int) -> dict[str, Any]:
    reply = await api.post(f"/api/erasure-requests/{request_id}/approve", {}, admin.token)
    assert reply.status == 200, reply.body
    request: dict[str, Any] = reply.body["request"]
    assert request["status"] == "erased"
    return request


async def meeting_now(api: Api, c: Community, start: datetime) -> tuple[int, int, str]:
    """Cohort A's meeting room, a daily series whose first session began at `start` (to the
    minute), and that occurrence's start as the API names it."""
    start = start.replace(second=0, microsecond=0)
    room, meeting = await daily_series(api, c, start)
    return room, meeting, start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.slow
async def test_an_erasure_through_one_process_is_felt_at_once_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    c, api_a, api_b = cluster.community, cluster.api_a, cluster.api_b
    ana, avi = await in_room(peer, c.group_a, (c.pat_ana, cluster.a), (c.pat_avi, cluster.b))
    words = [await send(ana, c.group_a, f"Ana's own words {n}") for n in range(3)]
    theirs = await send(avi, c.group_a, "Avi stays")
    for message in words:
        await avi.wait_for("message", with_id(message["id"]))
    # What the program keeps: a check-in and time in the meeting room, a moderator's mute.
    room, meeting, occurrence = await meeting_now(
        api_a, c, datetime.now(UTC) - timedelta(minutes=10)
    )
    checkin = await api_a.post(f"/api/meetings/{meeting}/checkins", {"mood": 3}, c.pat_ana.token)
    assert checkin.status == 201, checkin.body
    await joined(ana, room)
    mute = {"user_id": c.pat_ana.id, "minutes": 5, "reason": "cool down"}
    assert (await api_a.post(f"/api/rooms/{c.commons}/mutes", mute, c.mod_lee.token)).status == 201

    request_id = await asked(api_a, c.pat_ana)
    erased = await approved(api_b, c.admin, request_id)
    pseudonym = erased["user"]["display_name"]
    assert pseudonym.startswith("Former member ") and erased["reason"] == ""

    # Avi, on the other process, sees each of Ana's messages removed, at once.
    for message in words:
        await avi.wait_for("message_deleted", with_id(message["id"]))

    async def signed_out() -> bool:
        return not ana.client.connected

    await eventually(signed_out, True)
    for api in (api_a, api_b):
        assert (await api.get("/api/me", c.pat_ana.token)).status == 401
        login = {"username": "pat_ana", "password": PASSWORD}
        assert (await api.post("/api/auth/login", login)).error_code == "unauthorized"
    history = await stored_messages(api_b, c.pat_avi.token, c.group_a)
    shown = {message["id"]: message for message in history}
    for message in words:
        erased_message = shown[message["id"]]
        assert erased_message["deleted"] and erased_message["body"] == ""
        assert erased_message["author"]["display_name"] == pseudonym
    assert shown[theirs["id"]]["body"] == "Avi stays"

    # Her alias and login name are anyone's again.
    again = await register(api_b, c.mod_lee, "pat_ana", "patient", c.cohort_a)
    assert (again.display_name, again.id != c.pat_ana.id) == ("Ana", True)

    # The program's records stay, under the pseudonym.
    page = (await api_a.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)).body["user"]
    assert (page["display_name"], page["status"], page["meetings_attended"]) == (
        pseudonym, "deactivated", 1
    )  # fmt: skip
    report = await api_b.get(
        f"/api/meetings/{meeting}/attendance?occurrence={occurrence}", c.mod_lee.token
    )
    assert report.status == 200, report.body
    attended = {row["user"]["id"]: row for row in report.body["attendees"]}
    assert attended[c.pat_ana.id]["user"]["display_name"] == pseudonym
    assert attended[c.pat_ana.id]["checkin"]["mood"] == 3
    entries = (await api_a.get(f"/api/audit?user_id={c.pat_ana.id}", c.admin.token)).body
    actions = [entry["action"] for entry in entries["entries"]]
    for kept in ("mute", "erasure_requested", "erasure_approved", "erasure_done"):
        assert kept in actions, actions
    for entry in entries["entries"]:
        assert "Ana" not in entry["reason"], entry
        if entry["target_user"]:
            assert entry["target_user"]["display_name"] == pseudonym
    await close_before_stopping(avi)


async def test_nothing_is_erased_until_an_admin_approves(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    said = await send_here(ana, c.group_a, "still here")
    request_id = await asked(api, c.pat_ana)
    again = await api.post("/api/me/erasure-request", {}, c.pat_ana.token)
    assert (again.status, again.error_code) == (409, "conflict")

    # A moderator may ask on someone's behalf but not decide, nor list the requests.
    for path in ("approve", "decline"):
        refused = await api.post(f"/api/erasure-requests/{request_id}/{path}", {}, c.mod_lee.token)
        assert (refused.status, refused.error_code) == (403, "forbidden")
    assert (await api.get("/api/erasure-requests", c.mod_lee.token)).error_code == "forbidden"
    assert (await api.get("/api/erasure-requests", c.pat_ana.token)).error_code == "forbidden"
    listed = await api.get("/api/erasure-requests", c.admin.token)
    assert [r["id"] for r in listed.body["requests"]] == [request_id]
    mine = await api.get("/api/me/erasure-requests", c.pat_ana.token)
    assert [r["status"] for r in mine.body["requests"]] == ["pending"]

    declined = await api.post(
        f"/api/erasure-requests/{request_id}/decline", {"note": "Talk to me first"}, c.admin.token
    )
    assert declined.status == 200, declined.body
    assert (declined.body["request"]["status"], declined.body["request"]["note"]) == (
        "declined", "Talk to me first"
    )  # fmt: skip
    late = await api.post(f"/api/erasure-requests/{request_id}/approve", {}, c.admin.token)
    assert (late.status, late.error_code) == (409, "conflict")
    # Nothing changed.
    me = await api.get("/api/me", c.pat_ana.token)
    assert me.body["user"]["display_name"] == "Ana"
    assert [m["body"] for m in await stored_messages(api, c.pat_ana.token, c.group_a)] == [
        said["body"]
    ]
    actions = [e["action"] for e in await audit(api, c.admin) if e["action"].startswith("erasure")]
    assert actions == ["erasure_declined", "erasure_requested"]


async def test_a_person_under_a_legal_hold_cannot_be_erased(api: Api, community: Community) -> None:
    c = community
    hold = await api.post(
        "/api/legal-holds", {"user_id": c.pat_ana.id, "reason": "Subpoena 2026-114"}, c.admin.token
    )
    assert hold.status == 201, hold.body
    request = await api.post(
        f"/api/users/{c.pat_ana.id}/erasure-request", {"reason": "By phone"}, c.mod_lee.token
    )
    assert request.status == 201, request.body
    assert request.body["request"]["requested_by"]["id"] == c.mod_lee.id
    request_id = request.body["request"]["id"]

    refused = await api.post(f"/api/erasure-requests/{request_id}/approve", {}, c.admin.token)
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert "Subpoena 2026-114" in refused.body["error"]["message"]
    assert refused.body["error"]["hold_id"] == hold.body["hold"]["id"]
    assert (await api.get("/api/me", c.pat_ana.token)).body["user"]["display_name"] == "Ana"
    still = await api.get("/api/erasure-requests", c.admin.token)
    assert [r["status"] for r in still.body["requests"]] == ["pending"]

    lifted = await api.post(f"/api/legal-holds/{hold.body['hold']['id']}/lift", {}, c.admin.token)
    assert lifted.status == 200, lifted.body
    await approved(api, c.admin, request_id)


async def test_erasure_removes_what_reaches_the_person_and_replaces_their_words(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    crisis = await send_here(ana, c.group_a, CRISIS)
    [alert] = (await api.get("/api/alerts", c.mod_lee.token)).body["alerts"]
    opened = await api.post(f"/api/alerts/{alert['id']}/support", {}, c.mod_lee.token)
    assert opened.status == 200, opened.body
    support = opened.body["room"]["id"]
    assert opened.body["room"]["name"] == "Private support: Ana"
    settings = {"previews": True, "email": "ana@example.org"}
    assert (await api.patch("/api/me/notifications", settings, c.pat_ana.token)).status == 200
    assert (await api.put(f"/api/rooms/{c.commons}/follow", {}, c.pat_ana.token)).status == 200
    assert (await api.get("/api/me/calendar-token", c.pat_ana.token)).status == 200
    export = await api.post("/api/me/exports", token=c.pat_ana.token)
    assert export.status == 202, export.body

    # Not while her crisis alert is open: staff must read it and reach her first.
    request_id = await asked(api, c.pat_ana)
    refused = await api.post(f"/api/erasure-requests/{request_id}/approve", {}, c.admin.token)
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert refused.body["error"]["alert_id"] == alert["id"]
    assert (await api.get("/api/me", c.pat_ana.token)).body["user"]["display_name"] == "Ana"
    acked = await api.post(
        f"/api/alerts/{alert['id']}/ack",
        {"outcome": "reached_out", "note": "Spoke with her."},
        token=c.mod_lee.token,
    )
    assert acked.status == 200, acked.body
    await approved(api, c.admin, request_id)

    alerts = (await api.get("/api/alerts?status=all", c.mod_lee.token)).body["alerts"]
    assert [a["excerpt"] for a in alerts if a["id"] == alert["id"]] == [ERASED_TEXT]
    listed = (await api.get("/api/rooms", c.mod_lee.token)).body["rooms"]
    rooms = {room["id"]: room for room in listed}
    assert rooms[support]["name"].startswith("Private support: Former member ")
    async with server.app[CORE].sessions() as session:
        for model in (NotificationSettings, RoomFollow, CalendarToken):
            found = await session.execute(select(model).where(model.user_id == c.pat_ana.id))
            assert found.first() is None, model
    exports = await api.get(f"/api/users/{c.pat_ana.id}/exports", c.admin.token)
    assert [e["status"] for e in exports.body["exports"]] == ["expired"]
    [message] = await stored_messages(api, c.mod_lee.token, c.group_a)
    assert (message["id"], message["deleted"], message["body"]) == (crisis["id"], True, "")
    # An erased account stays closed.
    reopened = await api.post(f"/api/users/{c.pat_ana.id}/reactivate", token=c.admin.token)
    assert (reopened.status, reopened.error_code) == (409, "conflict")
    again = await api.post(f"/api/users/{c.pat_ana.id}/erasure-request", {}, c.admin.token)
    assert (again.status, again.error_code) == (409, "conflict")


@with_settings(erasure_messages="keep")
async def test_a_program_that_keeps_records_keeps_the_messages_under_the_pseudonym(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    said = await send_here(ana, c.group_a, "for the record")
    erased = await approved(api, c.admin, await asked(api, c.pat_ana))
    [message] = await stored_messages(api, c.mod_lee.token, c.group_a)
    assert (message["id"], message["body"], message["deleted"]) == (said["id"], said["body"], False)
    assert message["author"]["display_name"] == erased["user"]["display_name"]
    done = [e for e in await audit(api, c.admin) if e["action"] == "erasure_done"]
    assert done[0]["reason"] == f"request {erased['id']}: messages kept (erasure_messages = keep)"


async def test_messages_in_a_room_under_a_hold_stay_as_they_are(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await joined(ana, c.commons)
    held = await send_here(ana, c.group_a, "said in a held room")
    free = await send_here(ana, c.commons, "said elsewhere")
    hold = {"room_id": c.group_a, "reason": "Records request"}
    assert (await api.post("/api/legal-holds", hold, c.admin.token)).status == 201
    erased = await approved(api, c.admin, await asked(api, c.pat_ana))
    [kept] = await stored_messages(api, c.mod_lee.token, c.group_a)
    assert (kept["id"], kept["body"], kept["deleted"]) == (held["id"], held["body"], False)
    [gone] = await stored_messages(api, c.mod_lee.token, c.commons)
    assert (gone["id"], gone["deleted"]) == (free["id"], True)
    done = [e for e in await audit(api, c.admin) if e["action"] == "erasure_done"]
    assert done[0]["reason"] == (
        f"request {erased['id']}: 1 messages replaced, 1 kept under legal holds on rooms"
    )


async def test_erasure_payloads_and_ids_are_checked(api: Api, community: Community) -> None:
    c = community
    bodies: list[Any] = [{"reason": "x" * 501}, {"reason": 12}, [], "text"]
    for body in bodies:
        reply = await api.post("/api/me/erasure-request", body, c.pat_ana.token)
        assert (reply.status, reply.error_code) == (422, "invalid"), body
    unknown = await api.post("/api/users/999999/erasure-request", {}, c.mod_lee.token)
    assert (unknown.status, unknown.error_code) == (404, "not_found")
    staff = await api.post(f"/api/users/{c.admin.id}/erasure-request", {}, c.mod_lee.token)
    assert (staff.status, staff.error_code) == (403, "forbidden")
    others = await api.post(f"/api/users/{c.pat_avi.id}/erasure-request", {}, c.pat_ana.token)
    assert (others.status, others.error_code) == (403, "forbidden")
    for action in ("approve", "decline"):
        missing = await api.post(f"/api/erasure-requests/999999/{action}", {}, c.admin.token)
        assert (missing.status, missing.error_code) == (404, "not_found")
        shaped = await api.post(f"/api/erasure-requests/abc/{action}", {}, c.admin.token)
        assert (shaped.status, shaped.error_code) == (422, "invalid")
    request_id = await asked(api, c.pat_ana)
    long_note = await api.post(
        f"/api/erasure-requests/{request_id}/decline", {"note": "n" * 501}, c.admin.token
    )
    assert (long_note.status, long_note.error_code) == (422, "invalid")
    for query in ("?status=bogus", "?user_id=abc", "?user_id=0"):
        listed = await api.get(f"/api/erasure-requests{query}", c.admin.token)
        assert (listed.status, listed.error_code) == (422, "invalid"), query
    # An admin does not approve their own erasure.
    own = await asked(api, c.admin)
    refused = await api.post(f"/api/erasure-requests/{own}/approve", {}, c.admin.token)
    assert (refused.status, refused.error_code) == (403, "forbidden")
