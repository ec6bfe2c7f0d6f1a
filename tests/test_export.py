"""A person's export (docs/privacy.md: "A person's export"): everything peerrooms holds about
them and nothing of anyone else's, as JSON and as an escaped, self-contained page; made in the
background; downloaded only by the person and by the member of staff who asked; deleted when
it expires; every request and download audited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from server.app import CORE
from server.privacy.exports_models import PersonalExport
from server.reference.http import openapi_document
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    RunningServer,
    audit,
    daily_series,
    eventually,
    joined,
    send,
    sign_in,
    with_settings,
)
from tests.test_api_reference import DocumentedApi

pytestmark = pytest.mark.persistence

CRISIS = "i want to kill myself"
SCRIPT = "Hello <script>alert('x')</script> & goodbye"
AVI_WORDS = "Avi's private words: I slipped last night"
STAFF_NOTE = "Spoke with Avi about Ana"
MUTE_REASON = "argued with Avi"


@dataclass
class File:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def download(api: Api, person: Person, export_id: int, file_format: str = "json") -> File:
    """The raw answer of a download (an HTML page is not JSON, which `Api.call` expects)."""
    path = f"{api.base_url}/api/exports/{export_id}/download?format={file_format}"
    headers = {"Authorization": f"Bearer {person.token}"}
    async with api.session.get(path, headers=headers) as response:
        return File(response.status, dict(response.headers), await response.text())


async def ready(api: Api, person: Person, export_id: int) -> dict[str, Any]:
    """The export once its background work has made it."""

    async def made() -> dict[str, Any] | None:
        reply = await api.get(f"/api/exports/{export_id}", person.token)
        assert reply.status == 200, reply.body
        export: dict[str, Any] = reply.body["export"]
        assert export["status"] in ("pending", "ready"), export
        return export if export["status"] == "ready" else None

    return await eventually(made, f"export {export_id} to be ready")


async def requested(api: Api, by: Person, path: str = "/api/me/exports") -> dict[str, Any]:
    reply = await api.post(path, token=by.token)
    assert reply.status == 202, reply.body
    export: dict[str, Any] = reply.body["export"]
    assert export["status"] == "pending"
    return export


async def test_an_export_holds_exactly_the_persons_data_and_nothing_of_anyone_elses(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    for who in (ana, avi):
        await joined(who, c.group_a)
    # Avi's words, in a room Ana shares, and an answer of Ana's that quotes none of them.
    theirs = await send(avi, c.group_a, AVI_WORDS)
    mine = await send(ana, c.group_a, SCRIPT)
    taken_back = await send(ana, c.group_a, "I take this back")
    assert (await ana.call("delete", {"message_id": taken_back["id"]}))["ok"]
    edited = await ana.call("edit", {"message_id": mine["id"], "body": SCRIPT + " (edited)"})
    assert edited["ok"], edited
    assert (await ana.call("react", {"message_id": theirs["id"], "emoji": "🙏"}))["ok"]
    # Ana reports Avi's message; Avi reports Ana's (an alert about Ana, naming Avi nowhere).
    for reporter, reported, reason in ((c.pat_ana, theirs, "Too much"), (c.pat_avi, mine, "Rude")):
        made = await api.post(
            f"/api/messages/{reported['id']}/reports", {"reason": reason}, reporter.token
        )
        assert made.status == 201, made.body
    # A crisis post of Ana's, acknowledged with an outcome and a note that names Avi.
    crisis_post = await send(ana, c.group_a, CRISIS)
    alerts = (await api.get("/api/alerts", c.mod_lee.token)).body["alerts"]
    crisis = next(a for a in alerts if a["kind"] == "crisis")
    ack = {"outcome": "reached_out", "note": STAFF_NOTE}
    acked = await api.post(f"/api/alerts/{crisis['id']}/ack", ack, c.mod_lee.token)
    assert acked.status == 200, acked.body
    mute = {"user_id": c.pat_ana.id, "minutes": 10, "reason": MUTE_REASON}
    assert (await api.post(f"/api/rooms/{c.group_a}/mutes", mute, c.mod_lee.token)).status == 201
    # Her settings, a followed room, a check-in and time in the meeting room.
    settings = {"previews": True, "timezone": "America/Chicago"}
    assert (await api.patch("/api/me/notifications", settings, c.pat_ana.token)).status == 200
    assert (await api.put(f"/api/rooms/{c.commons}/follow", {}, c.pat_ana.token)).status == 200
    room, meeting = await daily_series(api, c, clock.now() - timedelta(minutes=10))
    mood = {"mood": 4, "note": "calm"}
    checkin = await api.post(f"/api/meetings/{meeting}/checkins", mood, c.pat_ana.token)
    assert checkin.status == 201, checkin.body
    await joined(ana, room)
    await joined(avi, room)

    export = await requested(api, c.pat_ana)
    assert export["user"]["id"] == c.pat_ana.id
    assert export["requested_by"]["id"] == c.pat_ana.id
    done = await ready(api, c.pat_ana, export["id"])
    assert done["expires_at"] is not None

    file = await download(api, c.pat_ana, export["id"])
    assert file.status == 200, file.text
    assert file.headers["Content-Type"].startswith("application/json")
    disposition = f'attachment; filename="peerrooms-export-{export["id"]}.json"'
    assert file.headers["Content-Disposition"] == disposition
    data = file.json()

    # Nothing of Avi's, nor of staff's notes, anywhere in it.
    for foreign in (AVI_WORDS, "Avi", "pat_avi", STAFF_NOTE, MUTE_REASON, "Rude", "Lee"):
        assert foreign not in file.text, foreign

    assert data["format"] == "peerrooms-personal-export"
    profile = data["profile"]
    assert (profile["id"], profile["username"], profile["display_name"], profile["role"]) == (
        c.pat_ana.id, "pat_ana", "Ana", "patient"
    )  # fmt: skip
    assert [cohort["name"] for cohort in profile["cohorts"]] == ["Cohort A"]
    assert profile["deactivated_at"] is None
    assert [(m["id"], m["room"], m["body"], m["deleted"]) for m in data["messages"]] == [
        (mine["id"], "Group A", SCRIPT + " (edited)", False),
        (taken_back["id"], "Group A", "", True),
        (crisis_post["id"], "Group A", CRISIS, False),
    ]
    assert data["messages"][0]["edited_at"] is not None
    assert data["reactions"] == [{"message_id": theirs["id"], "room": "Group A", "emoji": "🙏"}]
    [report] = data["reports_made"]
    assert (report["message_id"], report["reason"], report["room"]) == (
        theirs["id"], "Too much", "Group A"
    )  # fmt: skip
    kinds = {alert["kind"]: alert for alert in data["alerts"]}
    assert set(kinds) == {"report", "crisis"}
    assert kinds["report"]["excerpt"] == SCRIPT + " (edited)"
    assert (kinds["crisis"]["excerpt"], kinds["crisis"]["outcome"]) == (CRISIS, "reached_out")
    assert kinds["crisis"]["status"] == "acknowledged"
    [restriction] = data["restrictions"]
    assert (restriction["kind"], restriction["room"], restriction["by"]) == (
        "mute", "Group A", "moderator"
    )  # fmt: skip
    log = {entry["action"]: entry for entry in data["moderation_log"]}
    assert log["mute"]["by"] == "moderator" and log["mute"]["detail"] == ""
    assert log["alert_acknowledged"]["detail"] == ""
    assert log["filter_crisis"]["by"] == "peerrooms" and "crisis" in log["filter_crisis"]["detail"]
    assert log["export_requested"]["by"] == "you"
    [check_in] = data["check_ins"]
    assert (check_in["meeting"], check_in["mood"], check_in["note"]) == ("Evening group", 4, "calm")
    assert [span["room"] for span in data["attendance"]] == ["Evening"]
    assert data["notification_settings"]["previews"] is True
    assert data["notification_settings"]["timezone"] == "America/Chicago"
    assert data["followed_rooms"] == ["Commons"]
    assert data["push_devices"] == [] and data["calendar_feed"] is None
    assert len(data["sign_ins"]) >= 1 and data["sign_ins"][0]["ended_at"] is None

    page = await download(api, c.pat_ana, export["id"], "html")
    assert page.status == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    html_name = f'attachment; filename="peerrooms-export-{export["id"]}.html"'
    assert page.headers["Content-Disposition"] == html_name
    assert "Hello &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; goodbye" in page.text
    assert "<script" not in page.text.lower()
    for outside in ("src=", "href=", "http://", "https://", "@import", "url("):
        assert outside not in page.text
    assert "default-src &#x27;none&#x27;" in page.text or "default-src 'none'" in page.text
    for foreign in (AVI_WORDS, "Avi", STAFF_NOTE, MUTE_REASON):
        assert foreign not in page.text, foreign


async def test_only_the_person_and_the_staff_member_who_asked_may_download(
    api: Api, community: Community
) -> None:
    c = community
    export = await requested(api, c.mod_lee, f"/api/users/{c.pat_ana.id}/exports")
    assert export["user"]["id"] == c.pat_ana.id
    assert export["requested_by"]["id"] == c.mod_lee.id
    await ready(api, c.mod_lee, export["id"])

    for allowed in (c.pat_ana, c.mod_lee):
        file = await download(api, allowed, export["id"])
        assert file.status == 200, file.text
        assert file.json()["profile"]["username"] == "pat_ana"
    # Everyone else: no such export, not even another admin.
    for other in (c.pat_avi, c.admin, c.alum_dee):
        file = await download(api, other, export["id"])
        assert file.status == 404 and file.json()["error"]["code"] == "not_found"
        shown = await api.get(f"/api/exports/{export['id']}", other.token)
        assert shown.status == 404 and shown.error_code == "not_found"

    # Staff list a person's exports; Ana lists her own, the one Lee asked for among them.
    listed = await api.get(f"/api/users/{c.pat_ana.id}/exports", c.admin.token)
    assert [e["id"] for e in listed.body["exports"]] == [export["id"]]
    mine = await api.get("/api/me/exports", c.pat_ana.token)
    assert [e["id"] for e in mine.body["exports"]] == [export["id"]]
    assert (await api.get("/api/me/exports", c.pat_avi.token)).body["exports"] == []

    entries = [e for e in await audit(api, c.admin) if e["action"].startswith("export_")]
    assert [(e["action"], e["actor"]["id"], e["target_user"]["id"]) for e in entries] == [
        ("export_downloaded", c.mod_lee.id, c.pat_ana.id),
        ("export_downloaded", c.pat_ana.id, c.pat_ana.id),
        ("export_requested", c.mod_lee.id, c.pat_ana.id),
    ]
    assert entries[0]["reason"] == f"export {export['id']} as json"


async def test_requests_and_downloads_validate_what_they_are_given(
    api: Api, community: Community
) -> None:
    c = community
    # A patient cannot ask for another's export; a moderator not for staff.
    refused = await api.post(f"/api/users/{c.pat_avi.id}/exports", token=c.pat_ana.token)
    assert (refused.status, refused.error_code) == (403, "forbidden")
    refused = await api.post(f"/api/users/{c.admin.id}/exports", token=c.mod_lee.token)
    assert (refused.status, refused.error_code) == (403, "forbidden")
    unknown = await api.post("/api/users/999999/exports", token=c.mod_lee.token)
    assert (unknown.status, unknown.error_code) == (404, "not_found")
    for bad in ("abc", "0", "99999999999"):
        shaped = await api.post(f"/api/users/{bad}/exports", token=c.mod_lee.token)
        assert (shaped.status, shaped.error_code) == (422, "invalid")
    assert (await api.get("/api/exports/999999", c.pat_ana.token)).error_code == "not_found"
    assert (await api.post("/api/me/exports")).error_code == "unauthorized"
    listed = await api.get(f"/api/users/{c.pat_ana.id}/exports", c.pat_avi.token)
    assert (listed.status, listed.error_code) == (403, "forbidden")

    export = await requested(api, c.pat_ana)
    await ready(api, c.pat_ana, export["id"])
    wrong = await download(api, c.pat_ana, export["id"], "pdf")
    assert wrong.status == 422 and wrong.json()["error"]["code"] == "invalid"
    missing = await download(api, c.pat_ana, 999999)
    assert missing.status == 404


async def test_one_export_is_made_at_a_time_and_an_abandoned_one_fails(
    server: RunningServer, api: Api, community: Community, clock: FakeClock
) -> None:
    """An export left pending by a process that stopped while making it."""
    c = community
    sessions = server.app[CORE].sessions
    async with sessions() as session:
        left = PersonalExport(
            user_id=c.pat_ana.id, requested_by=c.pat_ana.id, created_at=clock.now()
        )
        session.add(left)
        await session.commit()
    busy = await api.post("/api/me/exports", token=c.pat_ana.token)
    assert (busy.status, busy.error_code) == (409, "conflict")
    assert (await api.post("/api/me/exports", token=c.pat_avi.token)).status == 202

    await clock.advance(minutes=30)
    shown = await api.get(f"/api/exports/{left.id}", c.pat_ana.token)
    assert shown.body["export"]["status"] == "failed"
    refused = await download(api, c.pat_ana, left.id or 0)
    assert refused.status == 409 and refused.json()["error"]["code"] == "conflict"
    again = await requested(api, c.pat_ana)
    await ready(api, c.pat_ana, again["id"])


@with_settings(export_expiry_days=2)
async def test_an_export_expires_and_its_content_is_deleted(
    server: RunningServer, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    export = await requested(api, c.pat_ana)
    done = await ready(api, c.pat_ana, export["id"])
    assert done["expires_at"] == (clock.now() + timedelta(days=2)).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")

    # The wall clock alone moves on (no timer runs): refused from the moment it expires,
    # before the sweep has deleted it.
    clock.current += timedelta(days=2)
    ana = await sign_in(api, "pat_ana")  # her token of two days ago has run out
    gone = await download(api, ana, export["id"])
    assert gone.status == 404 and gone.json()["error"]["code"] == "not_found"
    shown = await api.get(f"/api/exports/{export['id']}", ana.token)
    assert shown.body["export"]["status"] == "expired"

    await clock.advance(minutes=15)
    async with server.app[CORE].sessions() as session:
        stored = (
            await session.execute(select(PersonalExport).where(PersonalExport.id == export["id"]))
        ).scalar_one()
    assert (stored.status, stored.content) == ("expired", None)


async def test_export_and_erasure_answers_fit_the_documented_shapes(
    server: RunningServer, api: Api, community: Community
) -> None:
    c = community
    call = DocumentedApi(api, openapi_document(server.app))
    mine = await call("POST", "/api/me/exports", c.pat_ana.token)
    await ready(api, c.pat_ana, mine["export"]["id"])
    await call("GET", "/api/me/exports", c.pat_ana.token)
    await call("GET", "/api/exports/{id}", c.pat_ana.token, id=mine["export"]["id"])
    theirs = await call("POST", "/api/users/{id}/exports", c.mod_lee.token, id=c.pat_avi.id)
    await ready(api, c.mod_lee, theirs["export"]["id"])
    await call("GET", "/api/users/{id}/exports", c.mod_lee.token, id=c.pat_avi.id)

    asked = await call("POST", "/api/me/erasure-request", c.pat_ana.token, json={})
    await call("GET", "/api/me/erasure-requests", c.pat_ana.token)
    await call("GET", "/api/erasure-requests", c.admin.token, query="?status=all")
    await call(
        "POST", "/api/erasure-requests/{id}/decline", c.admin.token, json={},
        id=asked["request"]["id"],
    )  # fmt: skip
    behalf = await call(
        "POST", "/api/users/{id}/erasure-request", c.mod_lee.token, json={}, id=c.pat_bo.id
    )
    await call(
        "POST", "/api/erasure-requests/{id}/approve", c.admin.token, json={},
        id=behalf["request"]["id"],
    )  # fmt: skip


async def test_a_staff_members_export_names_no_member_whose_conversation_they_joined(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    """A private support conversation is named after its member: in anyone else's export it
    is only "a member's private support conversation"."""
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await send(ana, c.group_a, CRISIS)
    [alert] = (await api.get("/api/alerts", c.mod_lee.token)).body["alerts"]
    opened = await api.post(f"/api/alerts/{alert['id']}/support", {}, c.mod_lee.token)
    assert opened.status == 200, opened.body
    lee = await peer(c.mod_lee.token)
    await joined(lee, opened.body["room"]["id"])
    await send(lee, opened.body["room"]["id"], "I am here with you")

    export = await requested(api, c.mod_lee)
    await ready(api, c.mod_lee, export["id"])
    file = await download(api, c.mod_lee, export["id"])
    assert "Ana" not in file.text and CRISIS not in file.text
    rooms = [message["room"] for message in file.json()["messages"]]
    assert rooms == ["A member's private support conversation"]

    own = await requested(api, c.pat_ana)
    await ready(api, c.pat_ana, own["id"])
    assert "I am here with you" not in (await download(api, c.pat_ana, own["id"])).text
