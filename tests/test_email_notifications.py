"""Notifications by email against a real SMTP server on 127.0.0.1 (tests/smtp_inbox.py): an
address takes nothing but its confirmation mail until confirmed; reminders at the person's
lead time, once, with a signed link that turns them off; crisis alerts to the on-call list
without who or what (docs/notifications.md)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PeerFactory
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
    RunningServer,
    daily_meeting,
    joined,
    settle,
    try_send,
)
from tests.test_push import CRISIS

ON_CALL = "on-call@clinic.example"


@pytest.fixture
def server_overrides(smtp_port: int) -> dict[str, Any]:
    return {**mail_settings(smtp_port), "on_call_emails": [ON_CALL]}


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str) -> str:
    """The link to `path` in the mail's text, as the test server's path and query."""
    [link] = [word for word in text_of(message).split() if word.startswith(PUBLIC_URL + path)]
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def test_an_address_gets_nothing_but_its_confirmation_until_confirmed(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, inbox: Inbox
) -> None:
    c = community
    before = await api.get("/api/me/notifications", c.pat_ana.token)
    # This server sends email (an SMTP server is set), so the client offers it.
    assert before.body["notifications"]["email_available"] is True, before.body
    changed = await api.patch(
        "/api/me/notifications", {"email": "ana@example.org"}, c.pat_ana.token
    )
    assert changed.status == 200, changed.body
    assert changed.body["notifications"]["email_confirmed"] is False
    await settle(server)
    confirmation = inbox.only()
    assert confirmation.rcpt_tos == ["ana@example.org"]
    assert confirmation.message["Subject"] == "Confirm your address for peerrooms"
    # It says what the address is for: session reminders and the daily summary.
    asked = " ".join(text_of(confirmation.message).split())
    assert "session reminders" in asked and "daily summary of what you missed" in asked, asked
    # Staff see that mail does not reach her yet (an address, unconfirmed), never the address.
    seen = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert seen.body["user"]["notification_channels"] == {"push_devices": 0, "email": False}
    assert "ana@example.org" not in str(seen.body)

    # A session within her fifteen minutes, before she confirms: no reminder mail.
    await daily_meeting(api, c, clock, timedelta(minutes=20))
    clock.current = clock.now() + timedelta(minutes=6)
    await clock.advance(seconds=30)
    await settle(server)
    assert len(inbox.received) == 1

    link = link_in(confirmation.message, "/api/notifications/confirm")
    forged = link.rsplit("t=", 1)[0] + "t=" + "A" * 43
    page = await api.session.get(api.base_url + forged)
    assert "not valid" in await page.text()
    page = await api.session.get(api.base_url + link)
    assert page.status == 200 and "confirmed" in await page.text()
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["email_confirmed"] is True, mine.body
    seen = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert seen.body["user"]["notification_channels"] == {"push_devices": 0, "email": True}
    assert "ana@example.org" not in str(seen.body)
    # Confirmed, but taking no mail at all: not a channel.
    await api.patch(
        "/api/me/notifications",
        {"email_reminders": False, "email_digest": False},
        c.pat_ana.token,
    )
    seen = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert seen.body["user"]["notification_channels"]["email"] is False, seen.body
    # The digest alone is enough.
    await api.patch("/api/me/notifications", {"email_digest": True}, c.pat_ana.token)
    seen = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert seen.body["user"]["notification_channels"]["email"] is True, seen.body

    # A new address must be confirmed again.
    again = await api.patch("/api/me/notifications", {"email": "ana@new.example"}, c.pat_ana.token)
    assert again.body["notifications"]["email_confirmed"] is False, again.body
    seen = await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)
    assert seen.body["user"]["notification_channels"]["email"] is False, seen.body
    assert (
        await api.patch("/api/me/notifications", {"email": "not an address"}, c.pat_ana.token)
    ).status == 422


async def test_reminders_by_email_once_and_a_link_turns_them_off(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, inbox: Inbox
) -> None:
    c = community
    await api.patch("/api/me/notifications", {"email": "ana@example.org"}, c.pat_ana.token)
    await settle(server)
    confirm = link_in(inbox.only().message, "/api/notifications/confirm")
    assert (await api.session.get(api.base_url + confirm)).status == 200
    inbox.received.clear()

    meeting = await daily_meeting(api, c, clock, timedelta(minutes=30))
    start = (clock.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    clock.current = start - timedelta(minutes=14)
    await clock.advance(seconds=30)
    await settle(server)
    await clock.advance(seconds=30)
    await settle(server)
    reminder = inbox.only()
    assert reminder.rcpt_tos == ["ana@example.org"]
    assert reminder.message["Subject"].startswith("Your session Evening group starts at")
    assert f"{PUBLIC_URL}/#/meetings/{meeting}" in text_of(reminder.message)
    assert reminder.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    off = link_in(reminder.message, "/api/notifications/unsubscribe")
    # Opening the link (as a mail scanner does) changes nothing; its page's button posts.
    page = await api.session.get(api.base_url + off)
    assert page.status == 200 and 'method="post"' in await page.text()
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["email_reminders"] is True, mine.body
    page = await api.session.post(api.base_url + off)  # the button, or the one click
    assert page.status == 200 and "off" in await page.text()
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["email_reminders"] is False, mine.body
    clock.current = start + timedelta(days=1) - timedelta(minutes=14)
    await clock.advance(seconds=30)
    await settle(server)
    assert len(inbox.received) == 1


async def test_a_crisis_alert_is_mailed_to_the_on_call_list_without_who_or_what(
    api: Api, server: RunningServer, community: Community, peer: PeerFactory, inbox: Inbox
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)
    await settle(server)
    mail = inbox.only()
    assert mail.rcpt_tos == [ON_CALL]
    text = text_of(mail.message)
    assert "Group A" in text and f"{PUBLIC_URL}/#/console" in text, text
    assert "Ana" not in text and "kill" not in text and "Ana" not in str(mail.message)


async def test_a_moved_session_is_mailed_to_a_confirmed_address(
    api: Api, server: RunningServer, community: Community, clock: FakeClock, inbox: Inbox
) -> None:
    c = community
    await api.patch(
        "/api/me/notifications",
        {"email": "ana@example.org", "timezone": "America/Chicago"},
        c.pat_ana.token,
    )
    await settle(server)
    confirm = link_in(inbox.only().message, "/api/notifications/confirm")
    assert (await api.session.get(api.base_url + confirm)).status == 200
    inbox.received.clear()
    meeting = await daily_meeting(api, c, clock, timedelta(days=2))
    start = (clock.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    later = start + timedelta(hours=1)
    moved = await api.post(
        f"/api/meetings/{meeting}/move",
        {"occurrence": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "starts_at": later.strftime("%Y-%m-%dT%H:%M:%S"), "reason": "Room change"},
        c.mod_lee.token,
    )  # fmt: skip
    assert moved.status == 200, moved.body
    await settle(server)
    mail = inbox.only()
    assert mail.rcpt_tos == ["ana@example.org"], mail.rcpt_tos
    text = text_of(mail.message)
    local = later.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M")
    assert "Evening group" in text and "Room change" in text and local in text, text
