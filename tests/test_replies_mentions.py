"""Replies and mentions (server/rooms/replies.py, docs/protocol-additions.md): a reply is
stored and quotes its original live, on joining and in history, as each reader may read it;
a reply the sender may not make is `not_found` with nothing stored; mentions count only
people who may be in the room and are named in the text, and tell nothing of anyone else;
the one replied to or mentioned gets one push when away (docs/notifications.md)."""

from __future__ import annotations

from typing import Any

import pytest

from server.reference.http import openapi_document
from tests.conftest import PeerFactory
from tests.push_service import PUSH_HOSTS, PushService, subscribed
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    RunningServer,
    ban,
    joined,
    new_client_id,
    ok,
    public,
    refused,
    register,
    send,
    settle,
    stored_messages,
    with_settings,
)
from tests.test_api_reference import fits_shape
from tests.test_retention import run_retention, sent_days_ago

pytestmark = pytest.mark.persistence

LONG = (
    "Today was the first day in a long while that I did not think about using at all, and I"
    " wanted to tell someone who would understand what that means."
)


async def send_with(peer: Peer, room_id: int, body: str, **extra: Any) -> Any:
    return await peer.call(
        "send", {"room_id": room_id, "body": body, "client_id": new_client_id(), **extra}
    )


async def reply(peer: Peer, room_id: int, body: str, to: dict[str, Any]) -> dict[str, Any]:
    return dict(ok(await send_with(peer, room_id, body, reply_to=to["id"]))["message"])


def quote(original: dict[str, Any], excerpt: str | None = None) -> dict[str, Any]:
    """A reply's `reply_to` for a reader who may read its original."""
    return {
        "id": original["id"],
        "author": original["author"],
        "excerpt": original["body"] if excerpt is None else excerpt,
        "deleted": False,
        "hidden": False,
    }


def hidden(original: dict[str, Any]) -> dict[str, Any]:
    return {"id": original["id"], "author": None, "excerpt": "", "deleted": False, "hidden": True}


def by_id(messages: list[dict[str, Any]], message_id: int) -> dict[str, Any]:
    [found] = [message for message in messages if message["id"] == message_id]
    return found


async def page_of(peer: Peer, room_id: int) -> list[dict[str, Any]]:
    return list((await joined(peer, room_id))["messages"])


# ----- replies -----


async def test_a_reply_quotes_its_original_live_on_joining_and_in_history(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(ana, c.group_a)
    original = await send(ana, c.group_a, LONG)
    assert original["reply_to"] is None and original["mentions"] == []

    answer = await reply(avi, c.group_a, "That means a lot. Proud of you.", original)
    cut = LONG[:120].rstrip() + "…"
    assert answer["reply_to"] == quote(original, cut)
    live = await ana.wait_for("message", lambda m: m["id"] == answer["id"])
    assert live["reply_to"] == quote(original, cut)
    assert by_id(await page_of(avi, c.group_a), answer["id"])["reply_to"] == quote(original, cut)
    over_http = await stored_messages(api, c.pat_avi.token, c.group_a)
    assert by_id(over_http, answer["id"])["reply_to"] == quote(original, cut)
    history = ok(await avi.call("history", {"room_id": c.group_a, "before": answer["id"] + 1}))
    assert by_id(history["messages"], answer["id"])["reply_to"] == quote(original, cut)

    # The quote is the original's text now: an edit shows at the next read, on one line.
    edited = ok(
        await ana.call("edit", {"message_id": original["id"], "body": "first\n day  clean"})
    )
    assert edited["message"]["reply_to"] is None
    read_again = by_id(await page_of(avi, c.group_a), answer["id"])
    assert read_again["reply_to"]["excerpt"] == "first day clean"
    # Editing the reply keeps what it replies to.
    changed = ok(await avi.call("edit", {"message_id": answer["id"], "body": "So proud of you."}))
    assert changed["message"]["reply_to"] == quote(original, "first day clean")

    # A deleted original shows deleted, without its words; a reply to it may still be sent.
    assert ok(await ana.call("delete", {"message_id": original["id"]}))
    gone = {**quote(original, ""), "deleted": True}
    assert by_id(await page_of(avi, c.group_a), answer["id"])["reply_to"] == gone
    late = await reply(avi, c.group_a, "(replying anyway)", original)
    assert late["reply_to"] == gone
    # A deleted reply keeps nothing of what it said, its quote included.
    assert ok(await avi.call("delete", {"message_id": answer["id"]}))
    deleted = by_id(await page_of(ana, c.group_a), answer["id"])
    assert deleted["reply_to"] is None and deleted["body"] == ""


async def test_a_reply_the_sender_may_not_make_is_not_found_and_nothing_is_stored(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana, avi, dee = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.alum_dee)]
    elsewhere = await send(dee, c.commons, "said in the commons")
    early = await send(ana, c.group_a, "said before Cy came")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy = await peer(cy_person.token)
    before = await stored_messages(api, c.mod_lee.token, c.group_a)

    # Another room's message, an unknown one, and one from before Cy may read: all the same.
    for who, to in ((avi, elsewhere["id"]), (avi, 2_000_000), (cy, early["id"])):
        refused(await send_with(who, c.group_a, "a reply", reply_to=to), "not_found")
    assert await stored_messages(api, c.mod_lee.token, c.group_a) == before
    # Avi, who was there, may reply to it; so may staff.
    await reply(avi, c.group_a, "I remember", early)
    lee = await peer(c.mod_lee.token)
    await reply(lee, c.group_a, "noted", early)

    # Nobody in crisis is silenced: the post goes through without the reply it cannot make.
    crisis = ok(await send_with(cy, c.group_a, "i want to kill myself", reply_to=early["id"]))
    assert crisis["message"]["reply_to"] is None
    stored = await stored_messages(api, c.mod_lee.token, c.group_a)
    assert stored[-1]["body"] == "i want to kill myself" and stored[-1]["reply_to"] is None


async def test_a_reply_quotes_only_what_each_reader_may_read(
    api: Api, server: RunningServer, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    early = await send(ana, c.group_a, "I relapsed last month")
    await clock.advance(minutes=5)
    cy_person = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    cy, avi, lee = [await peer(p.token) for p in (cy_person, c.pat_avi, c.mod_lee)]
    for socket in (ana, cy, lee):
        await joined(socket, c.group_a)

    answer = await reply(avi, c.group_a, "you are not alone in that", early)
    assert answer["reply_to"] == quote(early)  # the sender's own answer
    # Live, the room gets it as Cy may read it: Cy may be in the room.
    for socket in (cy, ana, lee):
        live = await socket.wait_for("message", lambda m: m["id"] == answer["id"])
        assert live["reply_to"] == hidden(early)
        assert "relapsed" not in str(live)
    document = openapi_document(server.app)
    fits_shape(document, answer, "Message")
    fits_shape(document, live, "Message")
    # So does an edit of the reply.
    ok(await avi.call("edit", {"message_id": answer["id"], "body": "you are not alone"}))
    updated = await cy.wait_for("message_updated", lambda m: m["id"] == answer["id"])
    assert updated["reply_to"] == hidden(early) and updated["body"] == "you are not alone"
    # Each reader's page quotes it as they may read it.
    assert by_id(await page_of(cy, c.group_a), answer["id"])["reply_to"] == hidden(early)
    assert by_id(await page_of(ana, c.group_a), answer["id"])["reply_to"] == quote(early)
    assert by_id(await page_of(lee, c.group_a), answer["id"])["reply_to"] == quote(early)
    over_http = await stored_messages(api, cy_person.token, c.group_a)
    assert by_id(over_http, answer["id"])["reply_to"] == hidden(early)

    # Said after Cy came, it is quoted to everyone live.
    recent = await send(ana, c.group_a, "thank you")
    thanks = await reply(avi, c.group_a, "any time", recent)
    live = await cy.wait_for("message", lambda m: m["id"] == thanks["id"])
    assert live["reply_to"] == quote(recent)


@with_settings(retention_group_days=2, retention_interval_hours=1)
async def test_an_original_retention_deleted_shows_as_deleted(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(ana, c.group_a)
    old_id = await sent_days_ago(clock, 3, ana, c.group_a, "an old note to @Avi")
    answer = await reply(avi, c.group_a, "replying to an old note", {"id": old_id})
    await run_retention(clock)
    [kept] = await stored_messages(api, c.pat_avi.token, c.group_a)
    assert kept["id"] == answer["id"]
    assert kept["reply_to"] == {
        "id": old_id,
        "author": None,
        "excerpt": "",
        "deleted": True,
        "hidden": False,
    }


# ----- mentions -----


async def test_mentions_count_only_people_of_the_room_named_in_the_text(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    outside = [c.pat_bo.id, c.alum_dee.id, 2_000_000]  # another cohort, an alumna, nobody
    body = "@avi and @Lee, are you around? @Bo @Dee @Ana"
    mentioned = [c.pat_avi.id, c.mod_lee.id, c.pat_ana.id, *outside, c.pat_avi.id]
    sent = ok(await send_with(ana, c.group_a, body, mentions=mentioned))["message"]
    assert sent["body"] == body
    assert sent["mentions"] == [public(c.pat_avi), public(c.mod_lee)]
    live = await avi.wait_for("message", lambda m: m["id"] == sent["id"])
    assert live["mentions"] == [public(c.pat_avi), public(c.mod_lee)]
    assert by_id(await page_of(ana, c.group_a), sent["id"])["mentions"] == sent["mentions"]

    # Someone outside the room and nobody at all answer alike: nothing is told of either.
    for one in outside:
        alone = ok(await send_with(ana, c.group_a, "@Bo @Dee hello", mentions=[one]))["message"]
        assert alone["mentions"] == []
    # A name the text does not hold (or holds inside another word) is no mention.
    for text in ("hello everyone", "@Avia hi", "mail avi@example.org", "@Lee hi"):
        sent = ok(await send_with(ana, c.group_a, text, mentions=[c.pat_avi.id]))["message"]
        assert sent["mentions"] == [], text
    # Nor is someone banned from the room.
    await ban(api, c, c.group_a, c.pat_avi.id)
    sent = ok(await send_with(ana, c.group_a, "@Avi?", mentions=[c.pat_avi.id]))["message"]
    assert sent["mentions"] == []


async def test_the_room_list_counts_unread_mentions_and_replies(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    mine = await send(ana, c.group_a, "how was everyone's week?")
    await send(avi, c.group_a, "fine thanks")
    await reply(avi, c.group_a, "better than last", mine)
    await send_with(avi, c.group_a, "@Ana you there?", mentions=[c.pat_ana.id])

    async def listed(person: Person) -> dict[str, Any]:
        rooms = (await api.get("/api/rooms", person.token)).body["rooms"]
        return dict(next(room for room in rooms if room["id"] == c.group_a))

    room = await listed(c.pat_ana)
    assert (room["unread_count"], room["mention_count"]) == (3, 2)
    read = await api.post(
        f"/api/rooms/{c.group_a}/read", {"message_id": room["last_message_id"]}, c.pat_ana.token
    )
    assert read.status == 200, read.body
    room = await listed(c.pat_ana)
    assert (room["unread_count"], room["mention_count"]) == (0, 0)
    assert (await listed(c.pat_avi))["mention_count"] == 0


async def test_bad_reply_and_mention_payloads_are_invalid_and_store_nothing(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    original = await send(ana, c.group_a, "hello")
    for extra in (
        {"reply_to": str(original["id"])},
        {"reply_to": 0},
        {"reply_to": -1},
        {"reply_to": 2**31},
        {"reply_to": 1.5},
        {"reply_to": True},
        {"reply_to": [original["id"]]},
        {"mentions": c.pat_avi.id},
        {"mentions": str(c.pat_avi.id)},
        {"mentions": [str(c.pat_avi.id)]},
        {"mentions": [0]},
        {"mentions": [-3]},
        {"mentions": [2**31]},
        {"mentions": [True]},
        {"mentions": [None]},
        {"mentions": {"id": c.pat_avi.id}},
        {"mentions": [c.pat_avi.id] * 21},
    ):
        error = refused(await send_with(ana, c.group_a, "@Avi hi", **extra), "invalid")
        assert next(iter(extra)) in error["message"], (extra, error)
    assert [m["body"] for m in await stored_messages(api, c.mod_lee.token, c.group_a)] == ["hello"]
    # Null is the same as leaving it out; twenty mentions are allowed.
    sent = ok(
        await send_with(ana, c.group_a, "@Avi hi", reply_to=None, mentions=[c.pat_avi.id] * 20)
    )
    assert sent["message"]["mentions"] == [public(c.pat_avi)]


# ----- pushes -----


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return dict(PUSH_HOSTS)


async def test_a_reply_or_a_mention_reaches_the_person_away_once(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
    clock: FakeClock,
) -> None:
    c = community
    for person, name in ((c.pat_ana, "ana-phone"), (c.pat_avi, "avi-phone"), (c.pat_bo, "bo")):
        await subscribed(api, push_service, person, name)
    # Ana follows the room too: still one push for a message addressed to her.
    assert (await api.put(f"/api/rooms/{c.group_a}/follow", {}, c.pat_ana.token)).status == 200
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    mine = await send(ana, c.group_a, "rough day at work")

    # A reply that mentions her too: one push, of the reply, without the words.
    sent = ok(
        await send_with(
            avi, c.group_a, "@Ana sorry to hear it", reply_to=mine["id"], mentions=[c.pat_ana.id]
        )
    )["message"]
    await settle(server)
    assert push_service.pushes("ana-phone") == [
        {
            "title": "Group A",
            "body": "Avi replied to you in Group A",
            "url": f"#/rooms/{c.group_a}",
            "tag": f"for-you-{c.group_a}",
            "kind": "reply",
        }
    ]
    assert "sorry" not in str(push_service.pushes("ana-phone"))
    # Not to the author, nor to anyone outside the room who was named.
    assert push_service.pushes("avi-phone") == [] and push_service.pushes("bo") == []
    assert sent["mentions"] == [public(c.pat_ana)]

    # A mention, with previews on: the start of the text.
    await api.patch("/api/me/notifications", {"previews": True}, c.pat_ana.token)
    await send_with(avi, c.group_a, "@Ana did the walk help?", mentions=[c.pat_ana.id])
    await settle(server)
    assert push_service.pushes("ana-phone")[-1] == {
        "title": "Group A",
        "body": "Avi mentioned you: @Ana did the walk help?",
        "url": f"#/rooms/{c.group_a}",
        "tag": f"for-you-{c.group_a}",
        "kind": "mention",
    }
    # Her own reply to her own message, mentioning herself: nothing.
    await send_with(
        ana, c.group_a, "@Ana note to self", reply_to=mine["id"], mentions=[c.pat_ana.id]
    )
    await settle(server)
    assert len(push_service.pushes("ana-phone")) == 2

    # In the room, she reads it there: no push.
    await joined(ana, c.group_a)
    await send_with(
        avi, c.group_a, "@Ana welcome back", reply_to=mine["id"], mentions=[c.pat_ana.id]
    )
    await settle(server)
    assert len(push_service.pushes("ana-phone")) == 2


async def test_no_push_for_a_mention_in_quiet_hours(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    await subscribed(api, push_service, c.pat_ana, "ana-phone")
    quiet = {"quiet_start": "00:00", "quiet_end": "23:59", "timezone": "America/Chicago"}
    assert (await api.patch("/api/me/notifications", quiet, c.pat_ana.token)).status == 200
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    mine = await send(ana, c.group_a, "anyone up?")
    await send_with(avi, c.group_a, "@Ana yes", reply_to=mine["id"], mentions=[c.pat_ana.id])
    await settle(server)
    assert push_service.pushes("ana-phone") == []
