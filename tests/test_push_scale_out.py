"""Notifications with two server processes on one database and one Redis: each goes out once,
though both look for due reminders and digests and both hear of alerts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.cluster import Cluster
from tests.conftest import PeerFactory
from tests.push_service import PushService
from tests.smtp_inbox import (
    Inbox,
    Received,
    inbox_fixture,  # noqa: F401 - the fixtures
    mail_settings,
    smtp_port_fixture,  # noqa: F401
)
from tests.support import FakeClock, daily_meeting, eventually, joined, send, try_send
from tests.test_email_digest import DIGEST_HOUR, DIGEST_LINK, zone_at_hour
from tests.test_email_notifications import link_in
from tests.test_push import CRISIS

# Once the first went out: long enough for both processes' loops to have looked again several
# times.
SEVERAL_TICKS_S = 2.0


@pytest.fixture
def cluster_overrides(smtp_port: int) -> dict[str, str]:
    return {
        "push_service_hosts": json.dumps(["127.0.0.1"]),
        "push_allow_http": "true",
        "reminder_tick_s": "0.2",
        **{name: str(value) for name, value in mail_settings(smtp_port).items()},
        "digest_hour": str(DIGEST_HOUR),
    }


async def test_a_reminder_and_an_alert_are_pushed_once_by_two_processes(
    cluster: Cluster, push_service: PushService, peer: PeerFactory
) -> None:
    c = cluster.community
    for person, name, api in ((c.pat_ana, "ana", cluster.api_a), (c.mod_lee, "lee", cluster.api_b)):
        reply = await api.post(
            "/api/me/push-subscriptions", push_service.browser(name).subscription(), person.token
        )
        assert reply.status == 201, reply.body
    # Eleven minutes from now, to the minute (the processes keep real time): inside Ana's 15.
    await daily_meeting(cluster.api_a, c, FakeClock(), timedelta(minutes=11))
    ana = await peer(c.pat_ana.token, cluster.a.url)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)

    async def both_pushed() -> bool:
        return bool(push_service.pushes("ana")) and bool(push_service.pushes("lee"))

    await eventually(both_pushed, "the reminder and the alert")
    # Then both processes' loops look several times more: nothing goes out again.
    await asyncio.sleep(SEVERAL_TICKS_S)
    assert [p["kind"] for p in push_service.pushes("ana")] == ["reminder"], push_service.received
    assert [p["kind"] for p in push_service.pushes("lee")] == ["crisis_alert"], (
        push_service.received
    )


async def test_a_digest_is_mailed_once_by_two_processes(
    cluster: Cluster, inbox: Inbox, peer: PeerFactory
) -> None:
    c = cluster.community
    address = {"email": "ana@example.org"}
    assert (
        await cluster.api_a.patch("/api/me/notifications", address, c.pat_ana.token)
    ).status == 200

    async def confirmation() -> str | None:
        sent = [m for m in inbox.received if m.rcpt_tos == ["ana@example.org"]]
        return link_in(sent[0].message, "/api/notifications/confirm") if sent else None

    confirm = await eventually(confirmation, "the confirmation mail")
    assert (await cluster.api_b.session.get(cluster.api_b.base_url + confirm)).status == 200
    avi = await peer(c.pat_avi.token, cluster.a.url)
    await joined(avi, c.group_a)
    for words in ("up early", "coffee first"):
        await send(avi, c.group_a, words)
    # The processes keep real time: a zone whose clock is past the digest hour now (and far
    # from midnight) makes her digest due at both processes' next tick.
    due = {"timezone": zone_at_hour(datetime.now(UTC), DIGEST_HOUR), "email_digest": True}
    assert (await cluster.api_b.patch("/api/me/notifications", due, c.pat_ana.token)).status == 200

    def digests_sent() -> list[Received]:
        return [m for m in inbox.received if DIGEST_LINK in (m.message["List-Unsubscribe"] or "")]

    async def digest_sent() -> bool:
        return bool(digests_sent())

    await eventually(digest_sent, "the digest")
    await asyncio.sleep(SEVERAL_TICKS_S)
    digests = digests_sent()
    assert len(digests) == 1, [m.message["Subject"] for m in inbox.received]
    assert digests[0].message["Subject"] == "What you missed: 2 new messages"
