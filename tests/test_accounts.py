"""Identity: registration by invite, sign-in, tokens over HTTP and Socket.IO, cohorts, invites,
and the rule that a username is never sent to anyone else (docs/api/, Identity)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import socketio

from server.accounts.http import ACCOUNTS
from server.accounts.models import CohortMembership, User
from server.accounts.store import PUBLIC_USERS_AT_ONCE, public_user_rows
from server.accounts.tokens import code_for_people
from server.app import CORE
from server.kernel.actors import Role
from server.kernel.errors import AppError
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    Reply,
    RunningServer,
    consent_version,
    new_client_id,
    sign_in,
)

pytestmark = pytest.mark.persistence

PUBLIC_USER_KEYS = {"id", "display_name", "role"}
OWN_USER_KEYS = {"id", "username", "display_name", "role", "cohort_ids"}


# ----- helpers -----


@pytest.fixture
async def admin(server: RunningServer, api: Api) -> Person:
    """Just the admin: a much cheaper start than the whole community (fewer password hashes)."""
    await server.app[ACCOUNTS].ensure_user(
        username="admin", password=PASSWORD, role=Role.ADMIN, display_name="Admin"
    )
    return await sign_in(api, "admin")


async def make_invite(api: Api, token: str, role: str = "patient", **fields: Any) -> str:
    reply = await api.post("/api/invites", {"role": role, **fields}, token=token)
    assert reply.status == 201, reply.body
    return str(reply.body["invite"]["code"])


async def register(
    api: Api,
    code: str,
    username: str = "robin_k",
    *,
    password: str = PASSWORD,
    display_name: str = "Robin",
) -> Reply:
    return await api.post(
        "/api/auth/register",
        {
            "invite_code": code,
            "username": username,
            "display_name": display_name,
            "password": password,
            "consent_version": await consent_version(api),
        },
    )


async def me_with_headers(api: Api, headers: dict[str, str]) -> Reply:
    async with api.session.get(api.base_url + "/api/me", headers=headers) as response:
        return Reply(response.status, await response.json(content_type=None))


def assert_error(reply: Reply, status: int, code: str, field: str | None = None) -> None:
    assert reply.status == status, reply.body
    assert reply.error_code == code, reply.body
    if field is not None:
        assert field in reply.body["error"]["message"], reply.body


def parse_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.removesuffix("Z") + "+00:00")


def forge_token(kind: str, community: Community, clock: FakeClock) -> str:
    """A token the server never issued, naming the admin."""
    now = clock.now()
    claims = {
        "sub": str(community.admin.id),
        "aud": "peerrooms",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    if kind == "garbage":
        return "not-a-token-at-all"
    if kind == "other_secret":
        return jwt.encode(claims, "another-installation-" + "y" * 32, algorithm="HS256")
    if kind == "alg_none":
        return jwt.encode(claims, "", algorithm="none")  # the "none" algorithm takes no key
    if kind == "tampered":
        # pat_ana's genuine token with its subject switched to the admin, signature kept.
        header, payload, signature = community.pat_ana.token.split(".")
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        decoded["sub"] = str(community.admin.id)
        raw = json.dumps(decoded, separators=(",", ":")).encode()
        forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"
    raise AssertionError(kind)


FORGERIES = ["garbage", "other_secret", "alg_none", "tampered"]


# ----- registration -----


async def test_a_valid_invite_registers_a_user(admin: Person, api: Api) -> None:
    cohort = await api.post("/api/cohorts", {"name": "Cohort R"}, token=admin.token)
    assert cohort.status == 201, cohort.body
    cohort_id = cohort.body["cohort"]["id"]
    code = await make_invite(api, admin.token, "patient", cohort_id=cohort_id)
    reply = await register(api, code)
    assert reply.status == 201, reply.body
    assert set(reply.body) == {"token", "user", "consent_required"}
    # Registering accepted the notice: nothing is due.
    assert reply.body["consent_required"] is None
    user = reply.body["user"]
    assert set(user) == OWN_USER_KEYS
    assert isinstance(user["id"], int)
    assert user["username"] == "robin_k"
    assert user["display_name"] == "Robin"
    assert user["role"] == "patient"
    assert user["cohort_ids"] == [cohort_id]
    assert isinstance(reply.body["token"], str) and reply.body["token"]
    me = await api.get("/api/me", token=reply.body["token"])
    assert me.status == 200, me.body
    assert me.body == {"user": user, "consent_required": None}


async def test_an_expired_invite_is_refused(admin: Person, api: Api, server: RunningServer) -> None:
    code = await make_invite(api, admin.token, "alumni", max_uses=2, expires_in_hours=2)
    await server.clock.advance(hours=1)
    first = await register(api, code, "robin_k")
    assert first.status == 201, first.body
    await server.clock.advance(hours=1, minutes=1)
    late = await register(api, code, "sam_t")
    assert_error(late, 403, "forbidden", "invite_code")


async def test_a_single_use_invite_cannot_be_used_twice(admin: Person, api: Api) -> None:
    code = await make_invite(api, admin.token, "alumni")
    first = await register(api, code, "robin_k")
    assert first.status == 201, first.body
    second = await register(api, code, "sam_t")
    assert_error(second, 403, "forbidden", "invite_code")


async def test_an_invite_for_two_works_twice_then_refuses(admin: Person, api: Api) -> None:
    code = await make_invite(api, admin.token, "alumni", max_uses=2)
    for username in ("robin_k", "sam_t"):
        reply = await register(api, code, username, display_name=username.title())
        assert reply.status == 201, (username, reply.body)
        assert reply.body["user"]["username"] == username
    third = await register(api, code, "kim_j")
    assert_error(third, 403, "forbidden", "invite_code")


async def test_an_unknown_invite_code_is_not_found(admin: Person, api: Api) -> None:
    reply = await register(api, "no-such-invite-code")
    assert_error(reply, 404, "not_found", "invite_code")


@pytest.mark.parametrize("username", ["pat_ana", "Pat_Ana", "PAT_ANA"])
async def test_a_taken_username_is_a_conflict_and_does_not_use_up_the_invite(
    community: Community, api: Api, username: str
) -> None:
    code = await make_invite(api, community.mod_lee.token, "alumni")
    taken = await register(api, code, username)
    assert_error(taken, 409, "conflict", "username")
    # The single use of the invite is still there for a free name.
    free = await register(api, code, "robin_k")
    assert free.status == 201, free.body


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("Sh0rt!x", id="too_short"),
        pytest.param("abababababababab", id="two_distinct_characters"),
        pytest.param("aaaaaaaaaaaaaaaa", id="one_distinct_character"),
        pytest.param(" " * 16, id="only_spaces"),
        pytest.param("my robin_k secret", id="contains_username"),
        pytest.param("My ROBIN_K Secret", id="contains_username_other_case"),
    ],
)
async def test_a_weak_password_is_invalid(admin: Person, api: Api, password: str) -> None:
    code = await make_invite(api, admin.token, "alumni")
    weak = await register(api, code, "robin_k", password=password)
    assert_error(weak, 422, "invalid", "password")
    # A refused registration leaves the invite unused.
    strong = await register(api, code, "robin_k")
    assert strong.status == 201, strong.body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("invite_code", ..., id="invite_code_missing"),
        pytest.param("username", ..., id="username_missing"),
        pytest.param("display_name", ..., id="display_name_missing"),
        pytest.param("password", ..., id="password_missing"),
        pytest.param("consent_version", ..., id="consent_version_missing"),
        pytest.param("consent_version", 3, id="consent_version_number"),
        pytest.param("consent_version", "", id="consent_version_empty"),
        pytest.param("invite_code", 12345, id="invite_code_number"),
        pytest.param("username", 42, id="username_number"),
        pytest.param("username", True, id="username_bool"),
        pytest.param("display_name", None, id="display_name_null"),
        pytest.param("password", ["correct", "horse"], id="password_list"),
        pytest.param("username", "ab", id="username_too_short"),
        pytest.param("username", "bad name", id="username_with_space"),
        pytest.param("display_name", "", id="display_name_empty"),
        pytest.param("display_name", "x" * 41, id="display_name_too_long"),
    ],
)
async def test_a_missing_or_mistyped_field_is_invalid_and_named(
    admin: Person, api: Api, field: str, value: Any
) -> None:
    code = await make_invite(api, admin.token, "alumni")
    body: dict[str, Any] = {
        "invite_code": code,
        "username": "robin_k",
        "display_name": "Robin",
        "password": PASSWORD,
        "consent_version": await consent_version(api),
    }
    if value is ...:
        del body[field]
    else:
        body[field] = value
    reply = await api.post("/api/auth/register", body)
    assert_error(reply, 422, "invalid", field)


# ----- sign-in and tokens -----


@pytest.mark.parametrize("username", ["pat_ana", "Pat_Ana"])
async def test_login_with_the_right_password(community: Community, api: Api, username: str) -> None:
    reply = await api.post("/api/auth/login", {"username": username, "password": PASSWORD})
    assert reply.status == 200, reply.body
    assert reply.body["user"] == {
        "id": community.pat_ana.id,
        "username": "pat_ana",
        "display_name": "Ana",
        "role": "patient",
        "cohort_ids": [community.cohort_a],
    }
    me = await api.get("/api/me", token=reply.body["token"])
    assert me.status == 200, me.body
    assert me.body["user"]["id"] == community.pat_ana.id


async def test_login_with_a_wrong_password_is_unauthorized(community: Community, api: Api) -> None:
    reply = await api.post("/api/auth/login", {"username": "pat_ana", "password": PASSWORD + "!"})
    assert_error(reply, 401, "unauthorized")
    assert "token" not in reply.body


async def test_login_for_an_unknown_user_is_unauthorized(community: Community, api: Api) -> None:
    reply = await api.post("/api/auth/login", {"username": "nobody_here", "password": PASSWORD})
    assert_error(reply, 401, "unauthorized")
    assert "token" not in reply.body


async def test_me_with_a_token_is_my_own_user(community: Community, api: Api) -> None:
    reply = await api.get("/api/me", token=community.pat_bo.token)
    assert reply.status == 200, reply.body
    assert reply.body == {
        "user": {
            "id": community.pat_bo.id,
            "username": "pat_bo",
            "display_name": "Bo",
            "role": "patient",
            "cohort_ids": [community.cohort_b],
        },
        "consent_required": None,
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no_header"),
        pytest.param({"Authorization": "Bearer "}, id="empty_bearer"),
        pytest.param({"Authorization": "Basic cGF0X2FuYTpjb3JyZWN0"}, id="basic_scheme"),
    ],
)
async def test_me_without_a_token_is_unauthorized(
    community: Community, api: Api, headers: dict[str, str]
) -> None:
    reply = await me_with_headers(api, headers)
    assert_error(reply, 401, "unauthorized")


@pytest.mark.parametrize("kind", FORGERIES)
async def test_me_with_a_forged_token_is_unauthorized(
    community: Community, api: Api, clock: FakeClock, kind: str
) -> None:
    reply = await api.get("/api/me", token=forge_token(kind, community, clock))
    assert_error(reply, 401, "unauthorized")


async def test_me_with_an_expired_token_is_unauthorized(
    community: Community, api: Api, server: RunningServer
) -> None:
    ttl = server.settings.token_ttl_hours
    await server.clock.advance(hours=ttl - 0.1)
    still_valid = await api.get("/api/me", token=community.pat_ana.token)
    assert still_valid.status == 200, still_valid.body
    await server.clock.advance(hours=0.2)
    expired = await api.get("/api/me", token=community.pat_ana.token)
    assert_error(expired, 401, "unauthorized")


async def test_signing_in_again_after_expiry_gives_a_working_token(
    community: Community, api: Api, server: RunningServer
) -> None:
    await server.clock.advance(hours=server.settings.token_ttl_hours + 1)
    login = await api.post("/api/auth/login", {"username": "pat_ana", "password": PASSWORD})
    assert login.status == 200, login.body
    me = await api.get("/api/me", token=login.body["token"])
    assert me.status == 200, me.body
    assert me.body["user"]["id"] == community.pat_ana.id


async def test_a_socket_with_a_valid_token_connects(
    community: Community, peer: PeerFactory
) -> None:
    connected = await peer(community.pat_ana.token)
    assert connected.client.connected
    assert connected.connect_error is None


@pytest.mark.parametrize("kind", ["missing", "empty", *FORGERIES, "expired"])
async def test_a_socket_without_a_valid_token_is_refused(
    community: Community, server: RunningServer, kind: str
) -> None:
    if kind == "missing":
        token: str | None = None
    elif kind == "empty":
        token = ""
    elif kind == "expired":
        token = community.pat_ana.token
        await server.clock.advance(hours=server.settings.token_ttl_hours + 0.1)
    else:
        token = forge_token(kind, community, server.clock)
    refused = Peer(server.url, token)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect()
        assert not refused.client.connected
        assert isinstance(refused.connect_error, dict), refused.connect_error
        assert refused.connect_error.get("code") == "unauthorized", refused.connect_error
    finally:
        await refused.disconnect()


# ----- cohorts -----


async def test_a_moderator_creates_and_lists_cohorts(community: Community, api: Api) -> None:
    created = await api.post("/api/cohorts", {"name": "Cohort C"}, token=community.mod_lee.token)
    assert created.status == 201, created.body
    cohort = created.body["cohort"]
    assert set(cohort) == {"id", "name", "archived"} and cohort["archived"] is False
    assert cohort["name"] == "Cohort C"
    listed = await api.get("/api/cohorts", token=community.mod_lee.token)
    assert listed.status == 200, listed.body
    assert {(c["id"], c["name"]) for c in listed.body["cohorts"]} == {
        (community.cohort_a, "Cohort A"),
        (community.cohort_b, "Cohort B"),
        (cohort["id"], "Cohort C"),
    }


@pytest.mark.parametrize("who", ["pat_ana", "alum_dee"])
async def test_non_staff_cannot_create_or_list_cohorts(
    community: Community, api: Api, who: str
) -> None:
    token = community.people[who].token
    created = await api.post("/api/cohorts", {"name": "Cohort Z"}, token=token)
    assert_error(created, 403, "forbidden")
    listed = await api.get("/api/cohorts", token=token)
    assert_error(listed, 403, "forbidden")
    names = await api.get("/api/cohorts", token=community.mod_lee.token)
    assert "Cohort Z" not in {c["name"] for c in names.body["cohorts"]}


async def test_cohorts_need_a_token(community: Community, api: Api) -> None:
    assert_error(await api.post("/api/cohorts", {"name": "Cohort Z"}), 401, "unauthorized")
    assert_error(await api.get("/api/cohorts"), 401, "unauthorized")


async def test_a_duplicate_cohort_name_is_a_conflict(community: Community, api: Api) -> None:
    reply = await api.post("/api/cohorts", {"name": "Cohort A"}, token=community.mod_lee.token)
    assert_error(reply, 409, "conflict", "name")


# ----- invites -----


@pytest.mark.parametrize(
    ("inviter", "role", "status"),
    [
        ("mod_lee", "patient", 201),
        ("mod_lee", "alumni", 201),
        ("mod_lee", "moderator", 403),
        ("mod_lee", "admin", 403),
        ("admin", "patient", 201),
        ("admin", "moderator", 201),
        ("admin", "admin", 201),
    ],
)
async def test_who_may_invite_whom(
    community: Community,
    api: Api,
    clock: FakeClock,
    inviter: str,
    role: str,
    status: int,
) -> None:
    cohort_id = community.cohort_b if role == "patient" else None
    reply = await api.post(
        "/api/invites",
        {"role": role, "cohort_id": cohort_id},
        token=community.people[inviter].token,
    )
    if status == 403:
        assert_error(reply, 403, "forbidden")
        return
    assert reply.status == 201, reply.body
    invite = reply.body["invite"]
    assert {"code", "role", "cohort_id", "max_uses", "expires_at"} <= set(invite)
    assert invite["role"] == role
    assert invite["cohort_id"] == cohort_id
    assert invite["max_uses"] == 1
    expected_expiry = clock.now() + timedelta(hours=72)
    assert abs(parse_utc(invite["expires_at"]) - expected_expiry) < timedelta(seconds=1)
    registered = await register(api, invite["code"], "robin_k")
    assert registered.status == 201, registered.body
    assert registered.body["user"]["role"] == role
    assert registered.body["user"]["cohort_ids"] == ([cohort_id] if cohort_id else [])


async def test_an_invite_to_an_unknown_cohort_is_not_found(community: Community, api: Api) -> None:
    reply = await api.post(
        "/api/invites",
        {"role": "patient", "cohort_id": community.cohort_b + 1000},
        token=community.mod_lee.token,
    )
    assert_error(reply, 404, "not_found", "cohort")


@pytest.mark.parametrize(("who", "role"), [("pat_ana", "patient"), ("alum_dee", "alumni")])
async def test_non_staff_cannot_create_invites(
    community: Community, api: Api, who: str, role: str
) -> None:
    reply = await api.post(
        "/api/invites",
        {"role": role, "cohort_id": community.cohort_a if role == "patient" else None},
        token=community.people[who].token,
    )
    assert_error(reply, 403, "forbidden")


# ----- usernames stay private -----


async def test_a_username_never_reaches_other_users(
    community: Community, api: Api, peer: PeerFactory
) -> None:
    secret_name = community.pat_ana.username
    lee = await peer(community.mod_lee.token)
    assert (await lee.call("join", {"room_id": community.group_a}))["ok"]
    ana = await peer(community.pat_ana.token)
    assert (await ana.call("join", {"room_id": community.group_a}))["ok"]
    avi = await peer(community.pat_avi.token)
    joined = await avi.call("join", {"room_id": community.group_a})
    assert joined["ok"], joined

    ana_public = {"id": community.pat_ana.id, "display_name": "Ana", "role": "patient"}
    assert ana_public in joined["online"]
    for user in joined["online"]:
        assert set(user) == PUBLIC_USER_KEYS, user

    arrived = await lee.wait_for(
        "presence", lambda p: p["user"]["id"] == community.pat_ana.id and p["status"] == "online"
    )
    assert arrived["user"] == ana_public

    sent = await ana.call(
        "send", {"room_id": community.group_a, "body": "hi all", "client_id": new_client_id()}
    )
    assert sent["ok"], sent
    message = await avi.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert message["author"] == ana_public

    presence = await api.get(
        f"/api/rooms/{community.group_a}/presence", token=community.pat_avi.token
    )
    assert presence.status == 200, presence.body
    assert ana_public in presence.body["online"]
    for user in presence.body["online"]:
        assert set(user) == PUBLIC_USER_KEYS, user

    history = await api.get(
        f"/api/rooms/{community.group_a}/messages", token=community.pat_avi.token
    )
    assert history.status == 200, history.body
    assert [m["author"] for m in history.body["messages"]] == [ana_public]

    seen_by_others = json.dumps(
        [joined, presence.body, history.body, dict(avi.events), dict(lee.events)]
    )
    assert secret_name not in seen_by_others
    assert '"username"' not in seen_by_others


async def test_a_graduation_reply_does_not_reveal_the_username(
    community: Community, api: Api
) -> None:
    reply = await api.post(
        f"/api/users/{community.pat_ana.id}/graduate", token=community.mod_lee.token
    )
    assert reply.status == 200, reply.body
    assert reply.body["user"]["id"] == community.pat_ana.id
    assert reply.body["user"]["role"] == "alumni"
    # The moderator is another user: the reply must not carry pat_ana's login name.
    assert "username" not in reply.body["user"], reply.body
    assert community.pat_ana.username not in json.dumps(reply.body)


async def test_public_fields_are_read_for_any_number_of_people_with_unwritten_changes(
    server: RunningServer, community: Community
) -> None:
    """`public_user_rows` reads a fixed number of people a statement (accounts/store.py):
    more than that take several, ids of nobody are left out, and what the session changed
    but has not written yet is read as an ORM read would (written first)."""
    c = community
    async with server.app[CORE].sessions() as session:
        extra = [
            User(
                username=f"more{n}",
                display_name=f"More {n}",
                role="patient",
                password_hash="-",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            for n in range(2 * PUBLIC_USERS_AT_ONCE)
        ]
        session.add_all(extra)
        await session.commit()
        ana = await session.get(User, c.pat_ana.id)
        assert ana is not None
        ana.display_name = "Ana R"
        wanted = [c.pat_ana.id, *(user.id or 0 for user in extra), 1_000_000]
        rows = await public_user_rows(session, wanted)

    expected = {(c.pat_ana.id, "Ana R", "patient")}
    expected |= {(user.id or 0, user.display_name, "patient") for user in extra}
    assert len(rows) == len(expected) and set(rows) == expected


async def test_a_token_is_read_as_its_person_with_every_cohort_while_its_sign_in_lasts(
    server: RunningServer, api: Api, community: Community
) -> None:
    """What a token stands for is read in one statement (accounts/store.py): the person with
    every cohort of theirs, none for someone in none, and nobody once the sign-in has ended
    or the account has been deactivated."""
    c, accounts = community, server.app[ACCOUNTS]
    async with server.app[CORE].sessions() as session:
        session.add(CohortMembership(user_id=c.pat_ana.id, cohort_id=c.cohort_b))
        await session.commit()
    ana = await accounts.actor_for_token(c.pat_ana.token)
    assert (ana.id, ana.display_name, ana.role) == (c.pat_ana.id, "Ana", "patient")
    assert ana.cohort_ids == {c.cohort_a, c.cohort_b}
    assert ana.session_id is not None
    assert (await accounts.actor_for_token(c.mod_lee.token)).cohort_ids == frozenset()

    signed_out = await api.post("/api/auth/logout", {}, c.pat_ana.token)
    assert signed_out.status in (200, 204), signed_out.body
    with pytest.raises(AppError) as ended:
        await accounts.actor_for_token(c.pat_ana.token)
    assert ended.value.code == "unauthorized"
    # Without a sign-in to check, the account is still hers.
    assert (await accounts.load_actor(c.pat_ana.id)) == replace(ana, session_id=None)

    gone = await api.post(f"/api/users/{c.pat_avi.id}/deactivate", {}, c.mod_lee.token)
    assert gone.status == 200, gone.body
    assert await accounts.load_actor(c.pat_avi.id) is None
    with pytest.raises(AppError):
        await accounts.actor_for_token(c.pat_avi.token)


def test_a_code_for_people_never_begins_with_a_hyphen() -> None:
    # A shell's argparse reads `--code -x…` as a missing value (a CI run met one in 64 codes).
    drawn = iter(["-first", "--second", "third-"])
    assert code_for_people(12, lambda nbytes: next(drawn)) == "third-"
    assert all(not code_for_people(1).startswith("-") for _ in range(2000))
