"""A subscription the browser replaced (`pushsubscriptionchange`, docs/notifications.md): the
service worker, which holds no sign-in, proves with the old subscription's auth secret that the
new one takes its place. Through a real server and the push service stand-in
(tests/push_service.py): later pushes reach the new subscription, for the same person; a wrong
secret or an unknown endpoint changes nothing; bad input and foreign hosts are refused; an
address that keeps failing is held up."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.push_service import (
    PUSH_HOSTS,
    PushService,
    endpoints_of,
    message_in_followed_room,
    subscribed,
)
from tests.support import Api, Community, RunningServer, with_settings

REPLACE = "/api/push-subscriptions/replace"


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return dict(PUSH_HOSTS)


def replacing(old: dict[str, Any], new: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the service worker posts: the old subscription's endpoint and secret, the new one."""
    body = {"old_endpoint": old["endpoint"], "old_auth": old["keys"]["auth"], "subscription": new}
    return {**body, **changes}


async def test_the_new_subscription_takes_the_old_ones_place_for_the_same_person(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-old")
    await subscribed(api, push_service, c.pat_avi, "avi-phone")
    new = push_service.browser("ana-new").subscription()

    # No sign-in: the old subscription's secret is the proof.
    reply = await api.post(REPLACE, replacing(old, {**new, "expirationTime": None}))
    assert reply.status == 204, reply.body
    assert await endpoints_of(server, c.pat_ana) == [new["endpoint"]]
    assert await endpoints_of(server, c.pat_avi) == [push_service.browsers["avi-phone"].endpoint]
    mine = await api.get("/api/me/notifications", c.pat_ana.token)
    assert mine.body["notifications"]["push_devices"] == 1, mine.body

    await message_in_followed_room(api, server, c, peer, "anyone around?")
    assert push_service.received["ana-old"] == []
    [push] = push_service.pushes("ana-new")
    assert push["url"] == f"#/rooms/{c.group_a}" and push["body"] == "New message in Group A"

    # Used once: the old subscription is gone, so the same proof proves nothing now.
    again = await api.post(REPLACE, replacing(old, push_service.browser("ana-3").subscription()))
    assert again.status == 404 and again.error_code == "not_found", again.body
    assert await endpoints_of(server, c.pat_ana) == [new["endpoint"]]


async def test_keys_rotated_on_the_same_endpoint(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-phone")
    # The same endpoint with new keys: the stand-in decrypts only with these from now on.
    rotated = push_service.browser("ana-phone").subscription()
    assert rotated["endpoint"] == old["endpoint"] and rotated["keys"] != old["keys"]
    reply = await api.post(REPLACE, replacing(old, rotated))
    assert reply.status == 204, reply.body
    assert await endpoints_of(server, c.pat_ana) == [old["endpoint"]]

    await message_in_followed_room(api, server, c, peer, "hello")
    assert [p["kind"] for p in push_service.pushes("ana-phone")] == ["message"]


async def test_a_wrong_secret_or_an_unknown_endpoint_changes_nothing(
    api: Api,
    server: RunningServer,
    community: Community,
    peer: PeerFactory,
    push_service: PushService,
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-phone")
    theirs = push_service.browser("someone").subscription()
    wrong_secret = replacing(old, theirs, old_auth=theirs["keys"]["auth"])
    unknown = replacing(theirs, push_service.browser("another").subscription())
    prefix = replacing(old, theirs, old_auth=old["keys"]["auth"][:-1])
    answers = [await api.post(REPLACE, body) for body in (wrong_secret, unknown, prefix)]
    assert [(a.status, a.error_code) for a in answers] == [(404, "not_found")] * 3, answers
    # The same words either way: which endpoints are held is not told.
    assert len({a.body["error"]["message"] for a in answers}) == 1
    assert await endpoints_of(server, c.pat_ana) == [old["endpoint"]]

    await message_in_followed_room(api, server, c, peer, "still here")
    assert len(push_service.received["ana-phone"]) == 1
    assert push_service.received["someone"] == []


async def test_bad_input_and_foreign_hosts_are_refused(
    api: Api, server: RunningServer, community: Community, push_service: PushService
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-phone")
    new = push_service.browser("ana-new").subscription()
    body = replacing(old, new)
    bad: list[Any] = [
        {},
        [],
        {"old_endpoint": old["endpoint"], "old_auth": old["keys"]["auth"]},
        {**body, "old_auth": None},
        {**body, "old_auth": "short"},
        {**body, "old_endpoint": 5},
        {**body, "old_endpoint": ""},
        {**body, "subscription": {"endpoint": new["endpoint"]}},
        {**body, "subscription": {**new, "keys": {"p256dh": "short", "auth": "x" * 16}}},
        {**body, "subscription": {**new, "endpoint": "ftp://127.0.0.1/push/x"}},
        # The old secret is right, but the server posts only to push services.
        {**body, "subscription": {**new, "endpoint": "https://attacker.example/collect"}},
        {**body, "subscription": {**new, "endpoint": "http://10.0.0.1/push/x"}},
    ]
    for payload in bad:
        reply = await api.post(REPLACE, payload)
        assert reply.status == 422 and reply.error_code == "invalid", (payload, reply.body)
    not_json = await api.call("POST", REPLACE, data=b"{not json")
    assert not_json.status == 422 and not_json.error_code == "invalid", not_json.body
    assert await endpoints_of(server, c.pat_ana) == [old["endpoint"]]


async def test_a_new_endpoint_someone_else_holds_is_not_taken(
    api: Api, server: RunningServer, community: Community, push_service: PushService
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-phone")
    avis = await subscribed(api, push_service, c.pat_avi, "avi-phone")
    reply = await api.post(REPLACE, replacing(old, avis))
    assert reply.status == 409 and reply.error_code == "conflict", reply.body
    assert await endpoints_of(server, c.pat_ana) == [old["endpoint"]]
    assert await endpoints_of(server, c.pat_avi) == [avis["endpoint"]]


@with_settings(**PUSH_HOSTS, signin_failures_per_address=3)
async def test_an_address_that_keeps_failing_is_held_up(
    api: Api, server: RunningServer, community: Community, push_service: PushService
) -> None:
    c = community
    old = await subscribed(api, push_service, c.pat_ana, "ana-phone")
    new = push_service.browser("ana-new").subscription()
    guess = replacing(old, new, old_auth="A" * 22)
    for _ in range(3):
        assert (await api.post(REPLACE, guess)).status == 404
    held = await api.post(REPLACE, guess)
    assert held.status == 429 and held.error_code == "rate_limited", held.body
    assert held.body["error"]["retry_after_s"] >= 1
    # Even the right secret waits, as a right password does after failed sign-ins.
    right = await api.post(REPLACE, replacing(old, new))
    assert right.status == 429, right.body
    await server.clock.advance(seconds=server.settings.signin_address_refill_s)
    assert (await api.post(REPLACE, replacing(old, new))).status == 204
    assert await endpoints_of(server, c.pat_ana) == [new["endpoint"]]
