"""The daily email digest (docs/notifications.md) against a real server with a fake clock and a
real SMTP server on 127.0.0.1 (tests/smtp_inbox.py): one mail a day at the digest hour of the
person's own clock, to a confirmed address of someone who asked for it and has something
unread, with counts per room and the sessions of the coming day but never what anyone wrote;
the next one counts only what came after; its link turns digests off and nothing else.

Each person's time zone is a fixed offset chosen so that their clock reads 06:xx when the test
starts: the digest hour (07:00) is then the next full hour of UTC, less than an hour away."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.smtp_inbox import (
    PUBLIC_URL,
    Inbox,
    Received,
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
    create_room,
    daily_meeting,
    joined,
    notification_settings,
    register,
    send,
    settle,
    try_send,
)
from tests.test_email_notifications import link_in, text_of
from tests.test_push import CRISIS

DIGEST_HOUR = 7
DIGEST_LINK = "/api/notifications/unsubscribe-digest"
# What Avi writes: none of it may reach a mailbox.
WORDS = ["rough night again", "called my sponsor", "slept four hours", "thanks all", "me too"]


@pytest.fixture
def server_overrides(smtp_port: int) -> dict[str, Any]:
    return {**mail_settings(smtp_port), "digest_hour": DIGEST_HOUR}


def zone_at_hour(now: datetime, hour: int) -> str:
    """A fixed-offset zone whose clock reads `hour` o'clock (and now's minutes) at `now`.
    (Etc/GMT-3 is three hours ahead of UTC: POSIX signs.)"""
    offset = (hour - now.hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def digest_time(clock: FakeClock) -> datetime:
    """07:00 on the clock of a zone made by `zone_at_hour(now, 6)`: the next full UTC hour."""
    return clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


async def confirmed(
    api: Api, server: RunningServer, inbox: Inbox, person: Person, **settings: Any
) -> None:
    """The person gives an address, confirms it from its mail, and changes these settings."""
    address = f"{person.username}@example.org"
    given = await api.patch("/api/me/notifications", {"email": address}, person.token)
    assert given.status == 200, given.body
    await settle(server)
    [mail] = [m for m in inbox.received if m.rcpt_tos == [address]]
    confirm = link_in(mail.message, "/api/notifications/confirm")
    assert (await api.session.get(api.base_url + confirm)).status == 200
    changed = await api.patch("/api/me/notifications", settings, person.token)
    assert changed.status == 200, changed.body


async def asks_for_digests(
    api: Api, server: RunningServer, inbox: Inbox, clock: FakeClock, person: Person
) -> None:
    """The person, whose clock reads 06:xx (the hour before the digest's), asks for digests
    at an address they confirm."""
    zone = zone_at_hour(clock.now(), DIGEST_HOUR - 1)
    await confirmed(api, server, inbox, person, timezone=zone, email_digest=True)


async def tick_at(server: RunningServer, clock: FakeClock, moment: datetime) -> None:
    """Set the wall clock, then let one reminder tick run and its mail go."""
    clock.current = moment
    await clock.advance(seconds=30)
    await settle(server)


def digests(inbox: Inbox) -> list[Received]:
    return [m for m in inbox.received if DIGEST_LINK in (m.message["List-Unsubscribe"] or "")]


async def test_one_digest_at_the_local_hour_with_counts_and_sessions_never_words(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    inbox: Inbox,
    peer: PeerFactory,
) -> None:
    c = community
    zone = zone_at_hour(clock.now(), DIGEST_HOUR - 1)
    cal = await register(api, c.mod_lee, "pat_cal", "patient", c.cohort_a)
    digest = {"timezone": zone, "email_digest": True}
    await confirmed(api, server, inbox, c.pat_ana, **digest)
    await confirmed(api, server, inbox, c.pat_avi, timezone=zone)  # not asked for
    await confirmed(api, server, inbox, c.pat_bo, **digest)  # cohort B: nothing unread
    # Cal asks without confirming his address: nothing goes to it.
    unconfirmed = {"email": "pat_cal@example.org", **digest}
    assert (await api.patch("/api/me/notifications", unconfirmed, cal.token)).status == 200
    check_ins = await create_room(
        api, c.mod_lee, name="Check-ins", kind="peer", audience="cohort", cohort_id=c.cohort_a
    )
    await daily_meeting(api, c, clock, timedelta(hours=3))

    avi, ana = await peer(c.pat_avi.token), await peer(c.pat_ana.token)
    for connection, room in ((avi, c.group_a), (avi, check_ins), (ana, c.group_a)):
        await joined(connection, room)
    sent = [await send(avi, c.group_a, words) for words in WORDS[:3]]
    for words in WORDS[3:]:
        await send(avi, check_ins, words)
    await send(ana, c.group_a, "my own words")  # not news to her
    # She read Avi's first message in Group A: two are left there.
    read = {"message_id": sent[0]["id"]}
    assert (await api.post(f"/api/rooms/{c.group_a}/read", read, c.pat_ana.token)).status == 200
    inbox.received.clear()

    at_seven = digest_time(clock)
    await tick_at(server, clock, at_seven - timedelta(minutes=1))
    assert inbox.received == []  # 06:59 on their clocks
    await tick_at(server, clock, at_seven)
    [mail] = inbox.received
    assert mail.rcpt_tos == ["pat_ana@example.org"], mail.rcpt_tos
    message = mail.message
    assert message["Subject"] == "What you missed: 4 new messages", message["Subject"]
    text = text_of(message)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    assert "- Group A: 2 new messages" in text and "- Check-ins: 2 new messages" in text, text
    assert "<strong>Group A</strong>" in html and "<strong>Check-ins</strong>" in html, html
    assert "Evening group" in text and f"({zone})" in text, text  # the session in 3 hours
    assert f"{PUBLIC_URL}/#/rooms" in text
    for words in [*WORDS, "my own words"]:
        assert words not in text and words not in html, words
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{PUBLIC_URL}{DIGEST_LINK}?u={c.pat_ana.id}&t="), unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Once a day: not at the next tick, nor later that day.
    await clock.advance(seconds=30)
    await settle(server)
    await tick_at(server, clock, at_seven + timedelta(hours=5))
    assert len(inbox.received) == 1, [m.rcpt_tos for m in inbox.received]


async def test_the_next_digest_counts_only_what_came_after_the_last(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    inbox: Inbox,
    peer: PeerFactory,
) -> None:
    c = community
    await asks_for_digests(api, server, inbox, clock, c.pat_ana)
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    for words in WORDS[:2]:
        await send(avi, c.group_a, words)
    inbox.received.clear()
    at_seven = digest_time(clock)
    await tick_at(server, clock, at_seven)
    assert "- Group A: 2 new messages" in text_of(inbox.only().message)

    # She has not read them since; one more comes. Tomorrow's digest tells of that one.
    await send(avi, c.group_a, WORDS[2])
    inbox.received.clear()
    await tick_at(server, clock, at_seven + timedelta(days=1))
    mail = inbox.only()
    assert mail.message["Subject"] == "What you missed: 1 new message"
    assert "- Group A: 1 new message" in text_of(mail.message)

    # Nothing new the day after: no mail at all.
    inbox.received.clear()
    await tick_at(server, clock, at_seven + timedelta(days=2))
    assert inbox.received == []


async def test_a_staff_digest_names_no_ones_private_conversation(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    inbox: Inbox,
    peer: PeerFactory,
) -> None:
    c = community
    await asks_for_digests(api, server, inbox, clock, c.mod_lee)
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await try_send(ana, c.group_a, CRISIS)
    alerts = await api.get("/api/alerts?status=open", c.mod_lee.token)
    [alert] = alerts.body["alerts"]
    opened = await api.post(f"/api/alerts/{alert['id']}/support", {}, c.mod_lee.token)
    assert opened.status == 200, opened.body
    support = opened.body["room"]
    assert c.pat_ana.display_name in support["name"]  # why the digest does not show it
    await joined(ana, support["id"])
    await send(ana, support["id"], WORDS[0])
    inbox.received.clear()

    await tick_at(server, clock, digest_time(clock))
    text = text_of(inbox.only().message)
    assert "- Group A: 1 new message" in text, text
    assert "- Private support conversations: 1 new message" in text, text
    assert c.pat_ana.display_name not in text and support["name"] not in text, text
    assert "kill" not in text and WORDS[0] not in text


async def test_the_digest_link_turns_digests_off_and_leaves_reminders_on(
    api: Api,
    server: RunningServer,
    community: Community,
    clock: FakeClock,
    inbox: Inbox,
    peer: PeerFactory,
) -> None:
    c = community
    await asks_for_digests(api, server, inbox, clock, c.pat_ana)
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    await send(avi, c.group_a, WORDS[0])
    inbox.received.clear()
    await tick_at(server, clock, digest_time(clock))
    [mail] = digests(inbox)
    off = link_in(mail.message, DIGEST_LINK)

    # A forged token, or the digest's token on the session-mail link, changes nothing.
    forged = off.rsplit("t=", 1)[0] + "t=" + "A" * 43
    assert "not valid" in await (await api.session.post(api.base_url + forged)).text()
    elsewhere = off.replace(DIGEST_LINK, "/api/notifications/unsubscribe")
    assert "not valid" in await (await api.session.post(api.base_url + elsewhere)).text()
    # Opening the link (as a mail scanner does) changes nothing; its page's button posts.
    page = await api.session.get(api.base_url + off)
    assert page.status == 200 and 'method="post"' in await page.text()
    assert (await notification_settings(api, c.pat_ana))["email_digest"] is True
    page = await api.session.post(api.base_url + off)  # the button, or the one click
    assert page.status == 200 and "digest is off" in await page.text()
    mine = await notification_settings(api, c.pat_ana)
    assert (mine["email_digest"], mine["email_reminders"]) == (False, True), mine


async def test_the_digest_setting_is_off_until_asked_for_and_checked(
    api: Api, server: RunningServer, community: Community
) -> None:
    c = community
    assert (await notification_settings(api, c.pat_ana))["email_digest"] is False
    for change in ({"email_digest": None}, {"email_digest": "yes"}, {"email_digest": 1}):
        reply = await api.patch("/api/me/notifications", change, c.pat_ana.token)
        assert reply.status == 422, (change, reply.body)
        assert set(reply.body) == {"error"} and reply.error_code == "invalid", reply.body
        assert isinstance(reply.body["error"]["message"], str) and reply.body["error"]["message"]
    on = await api.patch("/api/me/notifications", {"email_digest": True}, c.pat_ana.token)
    assert on.status == 200 and on.body["notifications"]["email_digest"] is True, on.body
    assert (await notification_settings(api, c.pat_ana))["email_digest"] is True
