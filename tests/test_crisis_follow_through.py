"""Follow-through on a crisis alert: the writer is told the truth about who was reached (staff
on duty, staff online, the on-call list, or nobody yet), the on-call list is paged through the
webhook one after the other until someone acknowledges, and an acknowledgement keeps what was
done (the outcome) and a note, in the alert and the audit log (docs/api/events/notices.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

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
    send,
    with_settings,
)

pytestmark = pytest.mark.persistence

CRISIS = "I want to kill myself tonight"
ON_CALL = ["dr-ortiz", "dr-chen", "dr-park"]


@dataclass
class Pager:
    """A paging system: takes every webhook body and answers 200."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.json_response({"ok": True})

    def pages(self) -> list[tuple[str, int]]:
        return [(b["on_call"], b["step"]) for b in self.bodies if b["event"] == "page"]


@pytest.fixture
async def pager() -> AsyncIterator[Pager]:
    found = Pager()
    app = web.Application()
    app.router.add_post("/page", found.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/page"
    yield found
    await runner.cleanup()


@pytest.fixture
def server_overrides(pager: Pager) -> dict[str, Any]:
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


async def the_alert(api: Api, staff: Person, message_id: int) -> dict[str, Any]:
    reply = await api.get("/api/alerts?status=all", token=staff.token)
    assert reply.status == 200, reply.body
    [alert] = [a for a in reply.body["alerts"] if a["message_id"] == message_id]
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
    ana = await peer(c.pat_ana.token)
    message = await send(ana, c.group_a, CRISIS)

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
    assert (await the_alert(api, c.mod_lee, second["id"]))["reached"] == "on_duty"

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
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock, pager: Pager
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    message = await send(ana, c.group_a, CRISIS)

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
    community: Community, peer: PeerFactory, api: Api, clock: FakeClock, pager: Pager
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, CRISIS)
    await eventually(lambda: _pages(pager, 1), "the first page")
    for _ in range(5):
        await clock.advance(minutes=10)
    await eventually(lambda: _pages(pager, 3), "the third page")
    lee = await peer(c.mod_lee.token)
    await barrier(lee)
    assert pager.pages() == [(name, step) for step, name in enumerate(ON_CALL, start=1)]


async def _pages(pager: Pager, count: int) -> bool:
    return len(pager.pages()) >= count


@with_settings()
async def test_an_acknowledgement_keeps_its_outcome_and_note_in_the_alert_and_the_audit_csv(
    community: Community, peer: PeerFactory, api: Api
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    message = await send(ana, c.group_a, CRISIS)
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
