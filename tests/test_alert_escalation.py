"""Crisis alerts that escalate to staff away from the console (docs/notifications.md): a crisis
alert goes first to staff on duty; raised again because nobody acknowledged it, it is pushed to
every member of staff (through quiet hours, replacing the first on the lock screen and sounding
again) and mailed to the on-call list once more, saying how many times it was raised. An
acknowledged alert and a report are not escalated; a private support conversation, named after
its member, goes unnamed. Against a real server with a fake clock, the push service stand-in
(tests/push_service.py) and a real SMTP server (tests/smtp_inbox.py)."""

from __future__ import annotations

from typing import Any

import pytest

from server.notify.email import crisis_mail
from tests.conftest import PeerFactory
from tests.push_service import PUSH_HOSTS, PushService, subscribed
from tests.smtp_inbox import (
    PUBLIC_URL,
    Inbox,
    inbox_fixture,  # noqa: F401 - the fixtures
    mail_settings,
    smtp_port_fixture,  # noqa: F401
)
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    RunningServer,
    joined,
    register,
    settle,
    try_send,
)
from tests.test_email_notifications import ON_CALL, text_of
from tests.test_push import CRISIS
from tests.test_report_queue import reported

RERAISE_MINUTES = 5
CHECK_S = 15


@pytest.fixture
def server_overrides(smtp_port: int) -> dict[str, Any]:
    return {
        **PUSH_HOSTS,
        **mail_settings(smtp_port),
        "on_call_emails": [ON_CALL],
        "alert_reraise_minutes": RERAISE_MINUTES,
        "alert_check_interval_s": CHECK_S,
    }


async def staff_phones(
    api: Api, community: Community, push_service: PushService
) -> tuple[Person, Person]:
    """Lee on duty and Kim off duty, each with a phone; Kim's whole day is quiet hours."""
    kim = await register(api, community.admin, "mod_kim", "moderator")
    await subscribed(api, push_service, community.mod_lee, "lee-phone")
    await subscribed(api, push_service, kim, "kim-phone")
    duty = await api.put("/api/duty", {"on_duty": True}, community.mod_lee.token)
    assert duty.status == 200, duty.body
    quiet = {"quiet_start": "00:00", "quiet_end": "23:59"}
    assert (await api.patch("/api/me/notifications", quiet, kim.token)).status == 200
    return community.mod_lee, kim


async def crisis_in_group_a(
    api: Api, server: RunningServer, community: Community, peer: PeerFactory
) -> dict[str, Any]:
    """Ana writes in crisis in Group A; answers its alert, once staff were told."""
    ana = await peer(community.pat_ana.token)
    await joined(ana, community.group_a)
    await try_send(ana, community.group_a, CRISIS)
    await settle(server)
    alerts = await api.get("/api/alerts?status=open", community.mod_lee.token)
    [alert] = alerts.body["alerts"]
    return dict(alert)


async def unacknowledged_for(server: RunningServer, clock: FakeClock, minutes: int) -> None:
    """Let the alert checks run, minute by check interval, for this long."""
    for _ in range(minutes * 60 // CHECK_S):
        await clock.advance(seconds=CHECK_S)
    await settle(server)


async def test_a_crisis_alert_nobody_acknowledged_reaches_off_duty_staff_when_raised_again(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    peer: PeerFactory,
    push_service: PushService,
    inbox: Inbox,
) -> None:
    await staff_phones(api, community, push_service)
    alert = await crisis_in_group_a(api, server, community, peer)
    # The first time: staff on duty only, and the on-call list.
    assert [p["kind"] for p in push_service.pushes("lee-phone")] == ["crisis_alert"]
    assert push_service.pushes("kim-phone") == []
    [first_mail] = inbox.received
    assert first_mail.message["Subject"] == "Crisis alert needs attention now: Group A"

    await unacknowledged_for(server, clock, RERAISE_MINUTES)
    [again] = push_service.received["kim-phone"]  # off duty, in quiet hours: still reached
    assert again.payload == {
        "title": "Crisis alert: still not acknowledged",
        "body": "Raised 2 times. Open the moderator console: in Group A.",
        "url": "#/console",
        # The first one's tag, so it takes its place; the worker renotifies for crisis_alert.
        "tag": f"alert-{alert['id']}",
        "kind": "crisis_alert",
    }, again.payload
    assert again.headers["urgency"] == "high"
    assert "Ana" not in str(again.payload) and "kill" not in str(again.payload)
    lee = push_service.pushes("lee-phone")
    assert [p["tag"] for p in lee] == [f"alert-{alert['id']}"] * 2, lee
    assert lee[1]["title"] == "Crisis alert: still not acknowledged"

    # The on-call list hears again, told it is the second raise; who and what still left out.
    assert [m.rcpt_tos for m in inbox.received] == [[ON_CALL], [ON_CALL]]
    second = inbox.received[1].message
    assert second["Subject"] == "Still not acknowledged (2nd time): crisis alert in Group A"
    text = text_of(second)
    assert "still not acknowledged: raised for the 2nd time" in text and "Raised: 2nd time" in text
    assert "Ana" not in str(second) and "kill" not in text

    # Raised a third time, a third push and mail; not at each check in between.
    await unacknowledged_for(server, clock, 1)
    assert len(push_service.received["kim-phone"]) == 1 and len(inbox.received) == 2
    await unacknowledged_for(server, clock, RERAISE_MINUTES - 1)
    assert push_service.pushes("kim-phone")[-1]["body"].startswith("Raised 3 times.")
    assert "(3rd time)" in inbox.received[-1].message["Subject"]


async def test_an_acknowledged_alert_and_a_report_are_not_escalated(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    peer: PeerFactory,
    push_service: PushService,
    inbox: Inbox,
) -> None:
    c = community
    lee, _ = await staff_phones(api, c, push_service)
    alert = await crisis_in_group_a(api, server, c, peer)
    acked = await api.post(f"/api/alerts/{alert['id']}/ack", {"note": "called her"}, lee.token)
    assert acked.status == 200, acked.body
    await reported(api, c, peer)
    await settle(server)
    assert [p["kind"] for p in push_service.pushes("lee-phone")] == ["crisis_alert", "report"]

    # The report is raised again in the console, but pushed no wider; the alert is done.
    await unacknowledged_for(server, clock, 2 * RERAISE_MINUTES)
    assert [p["kind"] for p in push_service.pushes("lee-phone")] == ["crisis_alert", "report"]
    assert push_service.pushes("kim-phone") == []
    assert len(inbox.received) == 1  # the first crisis mail only
    reports = await api.get("/api/alerts?status=open", lee.token)
    assert [a["raise_count"] for a in reports.body["alerts"]] == [3], reports.body


async def test_with_nobody_on_duty_every_member_of_staff_is_told_a_report_only_when_awake(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    lee, _ = await staff_phones(api, c, push_service)
    assert (await api.put("/api/duty", {"on_duty": False}, lee.token)).status == 200
    await subscribed(api, push_service, c.pat_avi, "avi-phone")
    await reported(api, c, peer)
    await settle(server)
    # A report waits for Kim's quiet hours to end; Lee is awake.
    assert [p["kind"] for p in push_service.pushes("lee-phone")] == ["report"]
    assert push_service.pushes("kim-phone") == []

    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)
    await settle(server)
    # A crisis alert, with nobody on duty: all of staff, through quiet hours; no patient.
    assert [p["kind"] for p in push_service.pushes("lee-phone")] == ["report", "crisis_alert"]
    assert [p["kind"] for p in push_service.pushes("kim-phone")] == ["crisis_alert"]
    assert push_service.pushes("avi-phone") == []


async def test_a_crisis_in_a_private_support_conversation_names_no_one(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    peer: PeerFactory,
    push_service: PushService,
    inbox: Inbox,
) -> None:
    c = community
    lee, _ = await staff_phones(api, c, push_service)
    first = await crisis_in_group_a(api, server, c, peer)
    opened = await api.post(f"/api/alerts/{first['id']}/support", {}, lee.token)
    assert opened.status == 200, opened.body
    support = opened.body["room"]  # named after Ana
    assert (await api.post(f"/api/alerts/{first['id']}/ack", {}, lee.token)).status == 200
    ana = await peer(c.pat_ana.token)
    await joined(ana, support["id"])
    await try_send(ana, support["id"], CRISIS)
    await settle(server)
    await unacknowledged_for(server, clock, RERAISE_MINUTES)

    place = "in a private support conversation."
    assert push_service.pushes("lee-phone")[-2]["body"] == f"Open the moderator console: {place}"
    [again] = push_service.pushes("kim-phone")
    assert again["body"] == f"Raised 2 times. Open the moderator console: {place}", again
    subjects = [m.message["Subject"] for m in inbox.received]
    assert subjects[1:] == [
        "Crisis alert needs attention now: a private support conversation",
        "Still not acknowledged (2nd time): crisis alert in a private support conversation",
    ], subjects
    pushed = [str(payload) for payload in push_service.pushes("lee-phone")]
    mailed = [text_of(received.message) for received in inbox.received]
    for said in pushed + mailed:
        assert support["name"] not in said and c.pat_ana.display_name not in said, said


def test_a_crisis_mail_counts_the_raises_in_words() -> None:
    def subject(count: int) -> str:
        mail = crisis_mail(
            ON_CALL,
            severity="urgent",
            category="suicide",
            room_name="Group A",
            console_url=f"{PUBLIC_URL}/#/console",
            raised_at_local="18:02 UTC",
            raise_count=count,
        )
        return mail.subject

    assert subject(1) == "Crisis alert needs attention now: Group A"
    for count, said in ((2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (21, "21st")):
        assert subject(count).startswith(f"Still not acknowledged ({said} time)"), count
