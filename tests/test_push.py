"""Web Push end to end (docs/notifications.md): the server's pushes reach a push service
stand-in on 127.0.0.1 that checks their VAPID signature and decrypts them with the keys the
test made for each browser (tests/push_service.py): who gets which push, what the lock screen
shows, quiet hours, reminders at each person's lead time, crisis alerts to staff, expired
subscriptions dropped, and subscriptions only to push services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.push_service import PUSH_HOSTS, PushService, subscribed
from tests.support import (
    Api,
    Community,
    FakeClock,
    RunningServer,
    daily_meeting,
    joined,
    send,
    settle,
    try_send,
)

CRISIS = "I want to kill myself tonight"


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return {**PUSH_HOSTS, "reminder_tick_s": 30}


async def test_a_followed_rooms_news_reaches_a_member_who_is_away_without_its_words(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-phone")
    followed = await api.put(f"/api/rooms/{c.group_a}/follow", {}, c.pat_ana.token)
    assert followed.body["notifications"]["followed_room_ids"] == [c.group_a], followed.body
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, "is anyone up? rough night")
    await settle(server)
    [push] = push_service.received["ana-phone"]
    assert push.payload == {
        "title": "Group A",
        "body": "New message in Group A",
        "url": f"#/rooms/{c.group_a}",
        "tag": f"room-{c.group_a}",
        "kind": "message",
    }, push.payload
    assert push.vapid_claims["sub"] == "mailto:admin@localhost", push.vapid_claims
    assert push.headers["urgency"] == "normal"

    # A conversation is one notification for a while, not a buzz per message.
    await send(avi, c.group_a, "still here")
    await settle(server)
    assert len(push_service.received["ana-phone"]) == 1

    # Previews, when she asks for them; nothing while she is in the room herself.
    changed = await api.patch("/api/me/notifications", {"previews": True}, c.pat_ana.token)
    assert changed.status == 200 and changed.body["notifications"]["previews"] is True
    await server.clock.advance(minutes=3)
    await send(avi, c.group_a, "made tea, feeling calmer")
    await settle(server)
    assert push_service.pushes("ana-phone")[-1]["body"] == "Avi: made tea, feeling calmer"
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await server.clock.advance(minutes=3)
    await send(avi, c.group_a, "thanks for reading")
    await settle(server)
    assert len(push_service.received["ana-phone"]) == 2


async def test_no_push_for_a_room_not_followed_by_the_author_or_in_quiet_hours(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-phone")
    await subscribed(api, push_service, c.pat_avi, "avi-phone")
    for person in (c.pat_ana, c.pat_avi):
        assert (await api.put(f"/api/rooms/{c.group_a}/follow", {}, person.token)).status == 200
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    # The whole day is quiet for Ana.
    quiet = {"quiet_start": "00:00", "quiet_end": "23:59", "timezone": "America/Chicago"}
    assert (await api.patch("/api/me/notifications", quiet, c.pat_ana.token)).status == 200
    await send(avi, c.group_a, "hello all")
    await settle(server)
    assert push_service.received["ana-phone"] == [] and push_service.received["avi-phone"] == []

    # Unfollowed (a room muted), nothing either, quiet hours over or not.
    assert (
        await api.patch(
            "/api/me/notifications", {"quiet_start": None, "quiet_end": None}, c.pat_ana.token
        )
    ).status == 200
    assert (await api.delete(f"/api/rooms/{c.group_a}/follow", c.pat_ana.token)).status == 200
    await server.clock.advance(minutes=3)
    await send(avi, c.group_a, "hello again")
    await settle(server)
    assert push_service.received["ana-phone"] == []


async def test_a_crisis_alert_reaches_staff_through_quiet_hours_without_who_or_what(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.mod_lee, "lee-phone")
    await subscribed(api, push_service, c.pat_avi, "avi-phone")
    quiet = {"quiet_start": "00:00", "quiet_end": "23:59"}
    assert (await api.patch("/api/me/notifications", quiet, c.mod_lee.token)).status == 200
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)
    await settle(server)
    [push] = push_service.received["lee-phone"]
    assert push.payload["kind"] == "crisis_alert" and push.payload["url"] == "#/console"
    assert push.payload["body"] == "Open the moderator console: in Group A.", push.payload
    assert "Ana" not in str(push.payload) and "kill" not in str(push.payload)
    assert push.headers["urgency"] == "high"
    # Patients get no staff pushes.
    assert push_service.received["avi-phone"] == []


async def test_reminders_come_at_each_persons_lead_time_once(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-phone")
    await subscribed(api, push_service, c.pat_avi, "avi-phone")
    await subscribed(api, push_service, c.mod_lee, "lee-phone")
    assert (
        await api.patch("/api/me/notifications", {"reminder_minutes": 60}, c.pat_avi.token)
    ).status == 200
    meeting = await daily_meeting(api, c, clock, timedelta(minutes=90))
    first = (clock.now() + timedelta(minutes=90)).replace(second=0, microsecond=0)

    async def at(minutes_before: int) -> None:
        clock.current = first - timedelta(minutes=minutes_before)
        await clock.advance(seconds=30)
        await settle(server)

    await at(61)
    assert push_service.received["avi-phone"] == []
    await at(59)  # Avi's hour
    [avi] = push_service.pushes("avi-phone")
    assert (
        avi["title"] == "Evening group starts in 59 minutes"
        and avi["url"] == f"#/meetings/{meeting}"
    )
    assert push_service.received["ana-phone"] == []
    await at(14)  # everyone else's fifteen minutes
    assert [p["kind"] for p in push_service.pushes("ana-phone")] == ["reminder"]
    await at(10)
    assert (
        len(push_service.received["ana-phone"]) == 1
        and len(push_service.received["avi-phone"]) == 1
    )
    assert push_service.received["lee-phone"] == []  # staff run the session


async def test_an_expired_subscription_is_dropped(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-old-phone")
    await api.put(f"/api/rooms/{c.group_a}/follow", {}, c.pat_ana.token)
    push_service.gone.add("ana-old-phone")
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, "hello")
    await settle(server)
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["push_devices"] == 0, mine.body


async def test_subscriptions_only_to_push_services_and_checked_input(
    api: Api, server: RunningServer, community: Community, push_service: PushService
) -> None:
    c = community
    good = push_service.browser("ana-phone").subscription()
    elsewhere = {**good, "endpoint": "https://attacker.example/collect"}
    refused = await api.post("/api/me/push-subscriptions", elsewhere, c.pat_ana.token)
    assert refused.status == 422 and refused.error_code == "invalid", refused.body
    bad = [
        {"endpoint": good["endpoint"]},
        {**good, "keys": {"p256dh": "short", "auth": good["keys"]["auth"]}},
        {**good, "endpoint": 5},
        {**good, "endpoint": "ftp://127.0.0.1/x"},
    ]
    for body in bad:
        reply = await api.post("/api/me/push-subscriptions", body, c.pat_ana.token)
        assert reply.status == 422, (body, reply.body)
    for change in (
        {"previews": None},
        {"reminder_minutes": None},
        {"timezone": None},
        {"quiet_start": "25:00"},
        {"reminder_minutes": -1},
        {"timezone": "Mars/Base"},
        {"previews": "yes"},
    ):
        reply = await api.patch("/api/me/notifications", change, c.pat_ana.token)
        assert reply.status == 422, (change, reply.body)
    other_cohort = await api.put(f"/api/rooms/{c.group_b}/follow", {}, c.pat_ana.token)
    assert other_cohort.status == 403, other_cohort.body
    assert (await api.post("/api/me/push-subscriptions", good, None)).status == 401

    # The answer counts the device. Staff see whether a member can be reached, never the
    # details; members see nothing.
    made = await api.post("/api/me/push-subscriptions", good, c.pat_ana.token)
    assert made.status == 201 and made.body["notifications"]["push_devices"] == 1, made.body
    page = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    # No SMTP server here: mail reaches nobody, and the client is told it has none to offer.
    assert page.body["user"]["notification_channels"] == {
        "push_devices": 1,
        "email": False,
    }, page.body
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["email_available"] is False, mine.body
    assert (await api.get(f"/api/users/{c.pat_ana.id}", c.pat_avi.token)).status == 403
    gone = await api.call(
        "DELETE",
        "/api/me/push-subscriptions",
        token=c.pat_ana.token,
        json={"endpoint": good["endpoint"]},
    )
    assert gone.status == 200 and gone.body["notifications"]["push_devices"] == 0, gone.body


async def test_a_cancelled_session_reaches_its_members_away_from_the_app(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-phone")
    await subscribed(api, push_service, c.mod_lee, "lee-phone")
    meeting = await daily_meeting(api, c, clock, timedelta(days=1))
    start = (clock.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    occurrence = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    cancelled = await api.post(
        f"/api/meetings/{meeting}/cancel",
        {"occurrence": occurrence, "reason": "The clinic is closed for the holiday."},
        c.mod_lee.token,
    )
    assert cancelled.status == 200, cancelled.body
    await settle(server)
    [push] = push_service.pushes("ana-phone")
    assert push["kind"] == "meeting_change" and push["url"] == f"#/meetings/{meeting}", push
    assert push["title"] == "Evening group" and "cancelled" in push["body"], push
    assert "closed for the holiday" in push["body"], push
    assert push_service.received["lee-phone"] == []  # staff cancelled it
