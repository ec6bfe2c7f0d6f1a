"""Keep me signed in on this device: the renewal cookie's attributes, renewal with a fresh secret
each time, short-lived tokens, the grace for a second tab, a copied cookie ending the sign-in,
and every way a sign-in ends also ending its cookie. The cookie is handled by hand: a test
client's jar would not keep a Secure cookie from http://127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Reply,
    audit,
    disconnected,
    eventually,
)

RENEW = "/api/auth/renew"
COOKIE = "peerrooms_refresh"
HEADER = {"X-Peerrooms-Renew": "1"}


@dataclass
class Renewal:
    reply: Reply
    # The Set-Cookie of the renewal cookie, if the answer had one.
    cookie: Any


async def kept_login(api: Api, username: str, remember: bool = True) -> Renewal:
    return await _post(
        api, "/api/auth/login", {"username": username, "password": PASSWORD, "remember": remember}
    )


async def renew(api: Api, cookie: str | None, headers: dict[str, str] = HEADER) -> Renewal:
    sent = dict(headers)
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE}={cookie}"
    return await _post(api, RENEW, None, sent)


async def _post(api: Api, path: str, body: Any, headers: dict[str, str] | None = None) -> Renewal:
    async with api.session.post(api.base_url + path, json=body, headers=headers or {}) as response:
        parsed: SimpleCookie = SimpleCookie()
        for value in response.headers.getall("Set-Cookie", []):
            parsed.load(value)
        return Renewal(Reply(response.status, await response.json()), parsed.get(COOKIE))


async def test_a_kept_sign_in_sets_a_cookie_no_script_or_other_site_can_use(
    community: Community, api: Api
) -> None:
    kept = await kept_login(api, community.pat_ana.username)
    assert kept.reply.status == 200, kept.reply.body
    cookie = kept.cookie
    assert cookie is not None
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth"
    assert int(cookie["max-age"]) == 30 * 24 * 3600
    # The secret is the cookie's alone: the answer's body does not carry it.
    assert cookie.value.split(".")[1] not in str(kept.reply.body)

    # Without "keep me signed in": no cookie at all.
    plain = await kept_login(api, community.pat_avi.username, remember=False)
    assert plain.reply.status == 200 and plain.cookie is None

    async def current_is_remembered(token: str) -> bool:
        listed = await api.get("/api/me/sessions", token=token)
        [current] = [s for s in listed.body["sessions"] if s["current"]]
        return bool(current["remembered"])

    assert await current_is_remembered(kept.reply.body["token"])
    assert not await current_is_remembered(plain.reply.body["token"])


async def test_renewing_gives_a_short_lived_token_and_replaces_the_secret(
    community: Community, api: Api, clock: FakeClock
) -> None:
    kept = await kept_login(api, community.pat_ana.username)
    first = kept.cookie.value

    await clock.advance(minutes=61)
    # The kept sign-in's token lasts an hour (a tab-only one lasts a day).
    expired = await api.get("/api/me", token=kept.reply.body["token"])
    assert (expired.status, expired.error_code) == (401, "unauthorized")

    renewed = await renew(api, first)
    assert renewed.reply.status == 200, renewed.reply.body
    assert renewed.reply.body["user"]["id"] == community.pat_ana.id
    me = await api.get("/api/me", token=renewed.reply.body["token"])
    assert me.status == 200 and me.body["user"]["username"] == community.pat_ana.username
    second = renewed.cookie.value
    assert second != first and second.split(".")[0] == first.split(".")[0]

    # Each renewal moves the end of the 30 days along: 40 days on, it still renews.
    await clock.advance(days=20)
    third = (await renew(api, second)).cookie.value
    await clock.advance(days=20)
    fourth = await renew(api, third)
    assert fourth.reply.status == 200
    # Unused for longer than 30 days, it ends.
    await clock.advance(days=30, seconds=1)
    late = await renew(api, fourth.cookie.value)
    assert (late.reply.status, late.reply.error_code) == (401, "unauthorized")


async def test_a_second_tab_renewing_at_once_is_served_and_a_copied_cookie_ends_it_all(
    community: Community, api: Api, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    kept = await kept_login(api, c.pat_ana.username)
    old = kept.cookie.value
    renewed = await renew(api, old)
    newest = renewed.cookie.value

    # Another tab presents the secret just replaced: a token, and no cookie over the new one.
    other_tab = await renew(api, old)
    assert other_tab.reply.status == 200 and other_tab.cookie is None
    socket = await peer(renewed.reply.body["token"])

    # Past the grace, the replaced secret again: someone holds a copy. The sign-in ends, for
    # the copy and the device alike, and staff can see why.
    await clock.advance(seconds=31)
    copied = await renew(api, old)
    assert (copied.reply.status, copied.reply.error_code) == (401, "unauthorized")
    assert copied.cookie is not None and copied.cookie.value == ""
    assert (await renew(api, newest)).reply.status == 401
    assert (await api.get("/api/me", token=renewed.reply.body["token"])).status == 401
    await eventually(lambda: disconnected(socket), "the sign-in's socket to close")
    actions = [e["action"] for e in await audit(api, c.admin)]
    assert "kept_sign_in_reused" in actions


async def test_signing_out_and_every_other_end_of_a_sign_in_end_its_cookie(
    community: Community, api: Api
) -> None:
    c = community
    kept = await kept_login(api, c.pat_ana.username)
    out = await api.session.post(
        api.base_url + "/api/auth/logout",
        headers={"Authorization": f"Bearer {kept.reply.body['token']}"},
    )
    assert out.status == 204
    deleted: SimpleCookie = SimpleCookie()
    deleted.load(out.headers["Set-Cookie"])
    assert deleted[COOKIE].value == "" and deleted[COOKIE]["path"] == "/api/auth"
    assert (await renew(api, kept.cookie.value)).reply.status == 401

    # Ended from another device.
    kept = await kept_login(api, c.pat_ana.username)
    other = await kept_login(api, c.pat_ana.username, remember=False)
    sessions = await api.get("/api/me/sessions", token=other.reply.body["token"])
    [theirs] = [s for s in sessions.body["sessions"] if s["remembered"]]
    ended = await api.delete(f"/api/me/sessions/{theirs['id']}", token=other.reply.body["token"])
    assert ended.status == 204
    assert (await renew(api, kept.cookie.value)).reply.status == 401

    # A password changed elsewhere.
    kept = await kept_login(api, c.pat_ana.username)
    changed = await api.post(
        "/api/me/password",
        {"current_password": PASSWORD, "new_password": PASSWORD + "-new"},
        token=other.reply.body["token"],
    )
    assert changed.status == 204, changed.body
    assert (await renew(api, kept.cookie.value)).reply.status == 401

    # The account deactivated by staff.
    kept = await kept_login(api, c.pat_avi.username)
    off = await api.post(f"/api/users/{c.pat_avi.id}/deactivate", token=c.admin.token)
    assert off.status == 200, off.body
    assert (await renew(api, kept.cookie.value)).reply.status == 401


@pytest.mark.parametrize(
    "cookie",
    [None, "", "no-dot", ".secret", "session.", "x" * 300, "unknown-session.some-secret"],
)
async def test_a_missing_or_made_up_cookie_is_refused_in_the_contracts_shape(
    community: Community, api: Api, cookie: str | None
) -> None:
    refused = await renew(api, cookie)
    assert refused.reply.status == 401
    assert refused.reply.error_code == "unauthorized"
    assert "sign in again" in refused.reply.body["error"]["message"]


async def test_another_site_cannot_renew_without_the_header(community: Community, api: Api) -> None:
    kept = await kept_login(api, community.pat_ana.username)
    refused = await renew(api, kept.cookie.value, headers={})
    assert (refused.reply.status, refused.reply.error_code) == (403, "forbidden")
    # Nothing was spent: the cookie still renews.
    assert (await renew(api, kept.cookie.value)).reply.status == 200


async def test_remember_must_be_a_boolean(community: Community, api: Api) -> None:
    bad = await _post(
        api,
        "/api/auth/login",
        {"username": community.pat_ana.username, "password": PASSWORD, "remember": "yes"},
    )
    assert (bad.reply.status, bad.reply.error_code) == (422, "invalid")
    assert bad.cookie is None
