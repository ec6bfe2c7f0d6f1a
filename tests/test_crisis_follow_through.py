"""Follow-through on a crisis alert: the writer is told the truth about who was reached (staff
on duty, staff online, the on-call list, or nobody yet), the on-call list is paged through the
webhook one after the other until someone acknowledges, and an acknowledgement keeps what was
done (the outcome) and a note, in the alert and the audit log (docs/api/events/notices.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    audit,
    barrier,
    eventually,
    joined,
    public,
    refused,
    send,
    try_send,
    with_settings,
)
from tests.webhooks import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.persistence

CRISIS = "I want to kill myself tonight"
ON_CALL = ["dr-ortiz", "dr-chen", "dr-park"]


@pytest.fixture
async def pager() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as found:
        yield found


@pytest.fixture
def server_overrides(pager: WebhookReceiver) -> dict[str, Any]:
    return {
        "alert_webhook_url": pager.url,
        "alert_webhook_backoff_s": 0.05,
        "on_call": ON_CALL,
        "on_call_page_next_minutes": 10,
        "alert_check_interval_s": 60,
        "alert_reraise_minutes": 60,
    }


async def resources_notice(writer: Peer, nth: int = 1) -> dict[str, Any]:
    """The writer's `nth` crisis notice (each crisis message is answered with one)."""

    def notices() -> list[dict[str, Any]]:
        return [n for n in writer.received("notice") if n["kind"] == "crisis_resources"]

    await writer.wait_for("notice", lambda _: len(notices()) >= nth)
    return notices()[nth - 1]


async def ana_writes_in_crisis(c: Community, peer: PeerFactory) -> tuple[Peer, dict[str, Any]]:
    """Ana, connected, and the crisis message she wrote in Group A."""
    ana = await peer(c.pat_ana.token)
    return ana, await send(ana, c.group_a, CRISIS)


async def the_alert(api: Api, staff: Person, message_id: int) -> dict[str, Any]:
    reply = await api.get("/api/alerts?status=all", token=staff.token)
    assert reply.status == 200, reply.body
    [alert] = [
        a for a in reply.body["alerts"] if a["message_id"] == message_id and a["status"] != "merged"
    ]
    return dict(alert)


async def set_duty(api: Api, staff: Person, on_duty: bool) -> dict[str, Any]:
    reply = await api.call("PUT", "/api/duty", token=staff.token, json={"on_duty": on_duty})
    assert reply.status == 200, reply.body
    return dict(reply.body["duty"])


@with_settings()
async def test_with_no_staff_online_and_nobody_to_page_the_writer_is_told_so(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana, message = await ana_writes_in_crisis(c, peer)

    notice = await resources_notice(ana)
    assert notice["reached"] == "nobody"
    assert "No staff are online" in notice["text"], notice
    assert "has been alerted" not in notice["text"] and "988" in notice["text"], notice
    alert = await the_alert(api, c.mod_lee, message["id"])
    assert (alert["reached"], alert["paged"]) == ("nobody", 0)
    assert (alert["category"], alert["severity"]) == ("suicide", "emergency"), alert

    # A moderator who connects later still gets it (and the writer was told they would).
    lee = await peer(c.mod_lee.token)
    arrived = await lee.wait_for("alert", lambda a: a["message_id"] == message["id"])
    assert arrived["reached"] == "nobody"


@with_settings()
async def test_staff_online_and_staff_on_duty_are_told_apart(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    lee = await peer(c.mod_lee.token)
    ana = await peer(c.pat_ana.token)
    await barrier(lee)

    first = await send(ana, c.group_a, CRISIS)
    notice = await resources_notice(ana)
    assert notice["reached"] == "staff_online"
    assert "Staff who are online now have been alerted" in notice["text"], notice
    await lee.wait_for("alert", lambda a: a["message_id"] == first["id"])

    duty = await set_duty(api, c.mod_lee, True)
    assert duty["on_duty"] is True and duty["staff_online"] == 1
    assert [(e["user"]["id"], e["online"]) for e in duty["roster"]] == [(c.mod_lee.id, True)]
    second = await send(ana, c.group_a, "i took all my pills and i feel really strange")
    notice = await resources_notice(ana, 2)
    assert notice["reached"] == "on_duty"
    assert "A member of staff on duty has been alerted" in notice["text"], notice
    # Ana's alert was still open: the second raised it again, with her newest words.
    again = await the_alert(api, c.mod_lee, second["id"])
    assert (again["reached"], again["raise_count"]) == ("on_duty", 2), again

    # Off duty, and gone: nobody is reached, and the roster says who is on duty now.
    assert (await set_duty(api, c.mod_lee, False))["roster"] == []
    await lee.disconnect()
    admin = await api.get("/api/duty", token=c.admin.token)
    assert admin.body["duty"]["staff_online"] == 0, admin.body
    await send(ana, c.group_a, CRISIS)
    assert (await resources_notice(ana, 3))["reached"] == "nobody"
    actions = [e["action"] for e in await audit(api, c.admin)]
    assert {"duty_started", "duty_ended"} <= set(actions)


async def test_the_on_call_list_is_paged_one_after_another_until_someone_acknowledges(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock, pager: WebhookReceiver
) -> None:
    c = community
    ana, message = await ana_writes_in_crisis(c, peer)

    notice = await resources_notice(ana)
    assert notice["reached"] == "on_call"
    assert "contacting the clinician on call" in notice["text"], notice
    # Emergency resources first: an attempt is under way now.
    assert notice["resources"][0]["emergency"] is True, notice["resources"]
    await eventually(lambda: _pages(pager, 1), "the first page")
    assert pager.pages() == [("dr-ortiz", 1)]
    page = next(b for b in pager.bodies if b["event"] == "page")
    assert page["alert"]["message_id"] == message["id"] and page["alert"]["reached"] == "on_call"

    # Not acknowledged in time: the next on the list; not before.
    await clock.advance(minutes=9)
    await clock.advance(minutes=1)
    await eventually(lambda: _pages(pager, 2), "the second page")
    assert pager.pages() == [("dr-ortiz", 1), ("dr-chen", 2)]

    # Acknowledged: nobody else is paged, however long it stays quiet.
    alert = await the_alert(api, c.mod_lee, message["id"])
    assert alert["paged"] == 2
    reply = await api.post(
        f"/api/alerts/{alert['id']}/ack",
        {"outcome": "reached_out", "note": "Called Ana; she is safe with her sister."},
        token=c.mod_lee.token,
    )
    assert reply.status == 200, reply.body
    await clock.advance(minutes=30)
    lee = await peer(c.mod_lee.token)
    await barrier(lee)
    assert pager.pages() == [("dr-ortiz", 1), ("dr-chen", 2)]


async def test_the_list_ends_with_its_last_name(
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock, pager: WebhookReceiver
) -> None:
    c = community
    await ana_writes_in_crisis(c, peer)
    await eventually(lambda: _pages(pager, 1), "the first page")
    for _ in range(5):
        await clock.advance(minutes=10)
    await eventually(lambda: _pages(pager, 3), "the third page")
    lee = await peer(c.mod_lee.token)
    await barrier(lee)
    assert pager.pages() == [(name, step) for step, name in enumerate(ON_CALL, start=1)]


async def _pages(pager: WebhookReceiver, count: int) -> bool:
    return len(pager.pages()) >= count


@with_settings()
async def test_an_acknowledgement_keeps_its_outcome_and_note_in_the_alert_and_the_audit_csv(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana, message = await ana_writes_in_crisis(c, peer)
    alert = await the_alert(api, c.mod_lee, message["id"])

    for bad in ({"outcome": "fixed it"}, {"outcome": 3}, {"outcome": "reached_out", "note": 5}):
        refused = await api.post(f"/api/alerts/{alert['id']}/ack", bad, token=c.mod_lee.token)
        assert refused.status == 422 and refused.error_code == "invalid", refused.body
    assert (await the_alert(api, c.mod_lee, message["id"]))["status"] == "open"

    note = "Called 911 with Ana on the line; EMS on the way."
    reply = await api.post(
        f"/api/alerts/{alert['id']}/ack",
        {"outcome": "emergency_services", "note": note},
        token=c.mod_lee.token,
    )
    assert reply.status == 200, reply.body
    acked = reply.body["alert"]
    assert (acked["status"], acked["outcome"], acked["note"]) == (
        "acknowledged",
        "emergency_services",
        note,
    )
    assert acked["acked_by"]["id"] == c.mod_lee.id

    async with api.session.get(
        f"{api.base_url}/api/audit?limit=1000&format=csv",
        headers={"Authorization": f"Bearer {c.mod_lee.token}"},
    ) as response:
        assert response.status == 200
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    [row] = [r for r in rows if r["action"] == "alert_acknowledged"]
    assert row["reason"] == f"outcome: emergency_services; {note}", row
    assert row["message_id"] == str(message["id"])


@with_settings()
async def test_a_private_support_conversation_is_the_writers_and_staffs_alone(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana, message = await ana_writes_in_crisis(c, peer)
    alert = await the_alert(api, c.mod_lee, message["id"])
    path = f"/api/alerts/{alert['id']}/support"

    refused_patient = await api.post(path, {}, token=c.pat_avi.token)
    assert (refused_patient.status, refused_patient.error_code) == (403, "forbidden")
    unknown = await api.post("/api/alerts/99999/support", {}, token=c.mod_lee.token)
    assert (unknown.status, unknown.error_code) == (404, "not_found")

    opened = await api.post(path, {}, token=c.mod_lee.token)
    assert opened.status == 200, opened.body
    room = opened.body["room"]
    assert (room["kind"], room["audience"], room["member_id"]) == (
        "support",
        "person",
        c.pat_ana.id,
    )
    assert opened.body["alert"]["support_room_id"] == room["id"]
    # Ana is told who is there, and where.
    notice = await ana.wait_for("notice", lambda n: n["kind"] == "support_opened")
    assert notice["room_id"] == room["id"] and notice["by"] == public(c.mod_lee), notice
    assert "Lee" in notice["text"] and "Only you and staff" in notice["text"], notice

    # Ana and staff have it; the rest of her group does not, by any way in.
    async def listed(person: Person) -> bool:
        reply = await api.get("/api/rooms", token=person.token)
        return room["id"] in [r["id"] for r in reply.body["rooms"]]

    assert await listed(c.pat_ana) and await listed(c.mod_lee) and await listed(c.admin)
    assert not await listed(c.pat_avi) and not await listed(c.pat_bo)
    avi = await peer(c.pat_avi.token)
    refused(await avi.call("join", {"room_id": room["id"]}), "forbidden")
    refused(await try_send(avi, room["id"], "hello?"), "forbidden")
    history = await api.get(f"/api/rooms/{room['id']}/messages", token=c.pat_avi.token)
    assert history.error_code == "forbidden", history.body

    lee = await peer(c.mod_lee.token)
    await joined(lee, room["id"])
    await joined(ana, room["id"])
    said = await send(lee, room["id"], "Ana, I'm here. Are you somewhere safe right now?")
    await ana.wait_for("message", lambda m: m["id"] == said["id"])
    reply = await send(ana, room["id"], "I'm at home. My sister is here.")
    await lee.wait_for("message", lambda m: m["id"] == reply["id"])
    await barrier(avi)
    assert [m["id"] for m in avi.received("message")] == []

    # Opened again (from this alert or a later one), it is the same conversation; audited.
    again = await api.post(path, {}, token=c.admin.token)
    assert again.body["room"]["id"] == room["id"]
    opened_entries = [e for e in await audit(api, c.admin) if e["action"] == "support_opened"]
    assert [(e["room_id"], e["target_user"]["id"]) for e in opened_entries] == [
        (room["id"], c.pat_ana.id),
        (room["id"], c.pat_ana.id),
    ]


async def test_a_crisis_after_staff_left_pages_on_call_for_the_open_alert(
    community: Community, peer: PeerFactory, api: Api, pager: WebhookReceiver
) -> None:
    """Ana's first message reached Lee online; Lee leaves; her next (folded into the same open
    alert) reaches nobody online, so the on-call list is paged then, and she is told so."""
    c = community
    lee = await peer(c.mod_lee.token)
    await barrier(lee)
    ana, _ = await ana_writes_in_crisis(c, peer)
    assert (await resources_notice(ana))["reached"] == "staff_online"
    await lee.disconnect()

    async def lee_gone() -> bool:
        duty = await api.get("/api/duty", token=c.admin.token)
        return bool(duty.body["duty"]["staff_online"] == 0)

    await eventually(lee_gone, "Lee to be offline")
    await send(ana, c.group_a, "i have the pills in my hand")
    notice = await resources_notice(ana, 2)
    assert notice["reached"] == "on_call", notice
    await eventually(lambda: _pages(pager, 1), "the first page")
    assert pager.pages() == [("dr-ortiz", 1)]
