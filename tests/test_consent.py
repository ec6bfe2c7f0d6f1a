"""The program's consent notice (docs/privacy.md, "Consent"): registering accepts the version
shown, a new version is asked for at the next sign-in, and until it is accepted the routes and
events that use the person's data answer `consent_required`; acceptances are kept and shown to
admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event

from server.accounts.http import ACCOUNTS
from server.app import CORE, create_app
from server.kernel.actors import Role
from server.privacy.consent import notice_version, shipped_notice_text
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Person,
    Reply,
    RunningServer,
    consent_version,
    invite_code,
    joined,
    new_client_id,
    refused,
    refused_with,
    send,
    server_settings,
    start_server,
)

pytestmark = pytest.mark.persistence

NEW_NOTICE = "# Our notice, version 2\n\nStaff are alerted to crisis language.\n"
CRISIS = "i want to kill myself tonight"


def registration(code: str, version: object = ..., username: str = "pat_new") -> dict[str, Any]:
    body = {
        "invite_code": code,
        "username": username,
        "display_name": "Newcomer",
        "password": PASSWORD,
    }
    return body if version is ... else {**body, "consent_version": version}


async def acceptances(api: Api, admin: Person, user_id: int) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/consent/acceptances?user_id={user_id}", admin.token)
    assert reply.status == 200, reply.body
    return list(reply.body["acceptances"])


async def login(api: Api, username: str) -> Reply:
    reply = await api.post("/api/auth/login", {"username": username, "password": PASSWORD})
    assert reply.status == 200, reply.body
    return reply


# ----- the notice -----


async def test_the_notice_is_public_and_its_version_is_its_content(
    server: RunningServer, api: Api
) -> None:
    reply = await api.get("/api/consent")
    assert reply.status == 200, reply.body
    text = shipped_notice_text()
    assert reply.body == {"version": notice_version(text), "text": text}
    # The default notice names what peerrooms keeps, who reads it, and confidentiality's limits.
    for words in ("What is kept", "Who can read it", "42 CFR Part 2", "alerted to crisis language"):
        assert words in text


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing"),
        pytest.param(b"  \n", id="empty"),
        pytest.param(b"\xff\xfe not utf-8", id="not_utf8"),
    ],
)
async def test_a_notice_that_cannot_be_shown_stops_the_server_from_starting(
    tmp_path: Path, content: bytes | None
) -> None:
    notice = tmp_path / "consent.md"
    if content is not None:
        notice.write_bytes(content)
    settings = server_settings("sqlite+aiosqlite:///unused.db", tmp_path, consent_file=notice)
    with pytest.raises(ValueError, match="consent_file"):
        create_app(settings)


# ----- registration -----


async def test_registration_needs_the_current_version_and_records_its_acceptance(
    community: Community, api: Api
) -> None:
    c = community
    code = await invite_code(api, c.mod_lee, cohort_id=c.cohort_a)
    current = await consent_version(api)

    missing = await api.post("/api/auth/register", registration(code))
    refused_with(missing, 422, "invalid", "consent_version")
    stale = await api.post("/api/auth/register", registration(code, "0123456789abcdef"))
    refused_with(stale, 409, "conflict", "consent_version")
    for wrong in (3, None, "", "v" * 65):
        reply = await api.post("/api/auth/register", registration(code, wrong))
        refused_with(reply, 422, "invalid", "consent_version")
    # Nothing was created: the one-use invite is unspent and the username is free.
    invites = await api.get("/api/invites", c.mod_lee.token)
    [invite] = [each for each in invites.body["invites"] if each["code"] == code]
    assert invite["uses"] == 0
    nobody = await api.post("/api/auth/login", {"username": "pat_new", "password": PASSWORD})
    refused_with(nobody, 401, "unauthorized")

    accepted = await api.post("/api/auth/register", registration(code, current))
    assert accepted.status == 201, accepted.body
    assert accepted.body["consent_required"] is None
    user_id = accepted.body["user"]["id"]
    [acceptance] = await acceptances(api, c.admin, user_id)
    assert acceptance == {
        "id": acceptance["id"],
        "user": {"id": user_id, "display_name": "Newcomer", "role": "patient"},
        "version": current,
        "accepted_at": acceptance["accepted_at"],
        "source": "registration",
        "current": True,
    }
    # And the newcomer goes straight on.
    rooms = await api.get("/api/rooms", accepted.body["token"])
    assert rooms.status == 200, rooms.body


async def test_accounts_made_by_the_operator_are_asked_at_their_first_sign_in(
    server: RunningServer, api: Api
) -> None:
    await server.app[ACCOUNTS].ensure_user(
        username="boss", password=PASSWORD, role=Role.ADMIN, display_name="Boss"
    )
    first = await login(api, "boss")
    current = await consent_version(api)
    assert first.body["consent_required"] == {"version": current}
    refused_with(await api.get("/api/cohorts", first.body["token"]), 403, "consent_required")


# ----- a new notice -----


@pytest.fixture
async def renoticed(
    community: Community, database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[tuple[RunningServer, Api]]:
    """The community's server restarted with a new notice (CONSENT_FILE changed): everyone
    accepted the old one when they registered."""
    notice = tmp_path / "consent-v2.md"
    notice.write_text(NEW_NOTICE, encoding="utf-8")
    settings = server_settings(database_url, tmp_path, consent_file=notice)
    restarted = await start_server(settings, clock)
    try:
        async with aiohttp.ClientSession() as session:
            yield restarted, Api(restarted.url, session)
    finally:
        await restarted.stop()


async def test_a_new_notice_is_asked_for_and_nothing_works_until_it_is_accepted(
    community: Community,
    renoticed: tuple[RunningServer, Api],
    peer: PeerFactory,
) -> None:
    c = community
    server, api = renoticed
    notice = await api.get("/api/consent")
    assert notice.body == {"version": notice_version(NEW_NOTICE), "text": NEW_NOTICE}
    version = notice.body["version"]
    due = {"version": version}

    # Signing in works, and says what is due; so does /api/me with a token from before.
    signed_in = await login(api, "pat_ana")
    assert signed_in.body["consent_required"] == due
    token = signed_in.body["token"]
    me = await api.get("/api/me", c.pat_ana.token)
    assert me.status == 200 and me.body["consent_required"] == due, me.body
    assert (await api.get("/api/me/sessions", token)).status == 200

    # What uses her data is refused, over HTTP and over the socket...
    rooms = await api.get("/api/rooms", token)
    refused_with(rooms, 403, "consent_required")
    assert rooms.body["error"]["version"] == version
    socket = await peer(token, server.url)
    join = refused(await socket.call("join", {"room_id": c.group_a}), "consent_required")
    assert join["version"] == version
    message = {"room_id": c.group_a, "body": "Hello", "client_id": new_client_id()}
    refused(await socket.call("send", message), "consent_required")
    refused(await socket.call("typing", {"room_id": c.group_a}), "consent_required")
    # ...staff included.
    staff = await login(api, "mod_lee")
    assert staff.body["consent_required"] == due
    refused_with(await api.get("/api/alerts", staff.body["token"]), 403, "consent_required")

    # An old version is not accepted; the current one is, once.
    stale = await api.post("/api/me/consent", {"version": await old_version()}, token)
    refused_with(stale, 409, "conflict", "version")
    accepted = await api.post("/api/me/consent", due, token)
    assert accepted.status == 200, accepted.body
    acceptance = accepted.body["acceptance"]
    assert (acceptance["version"], acceptance["source"], acceptance["current"]) == (
        version,
        "sign-in",
        True,
    )
    again = await api.post("/api/me/consent", due, token)
    assert again.body["acceptance"] == acceptance

    # Then all works: the same socket, her other sign-in, the next sign-in.
    await joined(socket, c.group_a)
    await send(socket, c.group_a, "Back again.")
    assert (await api.get("/api/rooms", c.pat_ana.token)).status == 200
    assert (await api.get("/api/me", token)).body["consent_required"] is None
    assert (await login(api, "pat_ana")).body["consent_required"] is None
    # The others are still asked.
    refused_with(await api.get("/api/rooms", c.pat_avi.token), 403, "consent_required")

    # Admins see both of her acceptances, newest first.
    admin = await login(api, "admin")
    accepted_admin = await api.post("/api/me/consent", due, admin.body["token"])
    assert accepted_admin.status == 200, accepted_admin.body
    admin_person = Person(c.admin.id, "admin", "Admin", "admin", admin.body["token"])
    history = await acceptances(api, admin_person, c.pat_ana.id)
    assert [(each["version"], each["source"], each["current"]) for each in history] == [
        (version, "sign-in", True),
        (await old_version(), "registration", False),
    ]


async def old_version() -> str:
    return notice_version(shipped_notice_text())


# ----- the routes refuse what they should -----


async def test_crisis_words_are_never_held_at_a_notice(
    community: Community,
    renoticed: tuple[RunningServer, Api],
    peer: PeerFactory,
) -> None:
    """Someone who has not accepted the new notice and writes in crisis is heard: the message
    is stored, staff are alerted, the writer gets resources. Anything else waits."""
    c = community
    server, api = renoticed
    token = (await login(api, "pat_ana")).body["token"]
    socket = await peer(token, server.url)
    ordinary = {"room_id": c.group_a, "body": "Hello", "client_id": new_client_id()}
    refused(await socket.call("send", ordinary), "consent_required")

    crisis = {"room_id": c.group_a, "body": CRISIS, "client_id": new_client_id()}
    said = await socket.call("send", crisis)
    assert said["ok"], said
    assert said["message"]["body"] == CRISIS
    staff = (await login(api, "mod_lee")).body["token"]
    assert (
        await api.post("/api/me/consent", {"version": notice_version(NEW_NOTICE)}, staff)
    ).status == 200
    alerts = await api.get("/api/alerts", staff)
    assert [a["message_id"] for a in alerts.body["alerts"]] == [said["message"]["id"]]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"version": 5}, id="number"),
        pytest.param({"version": None}, id="null"),
        pytest.param({"version": ""}, id="empty"),
        pytest.param({"version": "v" * 65}, id="too_long"),
        pytest.param({"version": ["a"]}, id="list"),
    ],
)
async def test_accepting_with_a_bad_payload_is_invalid(
    community: Community, api: Api, body: dict[str, Any]
) -> None:
    reply = await api.post("/api/me/consent", body, community.pat_ana.token)
    refused_with(reply, 422, "invalid", "version")


async def test_accepting_needs_a_sign_in(community: Community, api: Api) -> None:
    reply = await api.post("/api/me/consent", {"version": await consent_version(api)})
    refused_with(reply, 401, "unauthorized")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("user_id=abc", "user_id"),
        ("user_id=0", "user_id"),
        ("user_id=99999999999", "user_id"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("before=0", "before"),
    ],
)
async def test_listing_acceptances_with_a_bad_query_is_invalid(
    community: Community, api: Api, query: str, field: str
) -> None:
    reply = await api.get(f"/api/consent/acceptances?{query}", community.admin.token)
    refused_with(reply, 422, "invalid", field)


async def test_only_admins_list_acceptances_and_pages_follow(
    community: Community, api: Api
) -> None:
    c = community
    for person in (c.mod_lee, c.pat_ana):
        reply = await api.get("/api/consent/acceptances", person.token)
        refused_with(reply, 403, "forbidden")
    first = await api.get("/api/consent/acceptances?limit=2", c.admin.token)
    assert first.status == 200, first.body
    assert len(first.body["acceptances"]) == 2 and first.body["next_before"] is not None
    rest = await api.get(
        f"/api/consent/acceptances?limit=1000&before={first.body['next_before']}", c.admin.token
    )
    everyone = first.body["acceptances"] + rest.body["acceptances"]
    assert rest.body["next_before"] is None
    # The community's six people, each once: five registered, the admin accepted at sign-in.
    assert sorted(each["user"]["id"] for each in everyone) == sorted(
        person.id for person in c.people.values()
    )
    ids = [each["id"] for each in everyone]
    assert ids == sorted(ids, reverse=True)


async def test_a_restarted_server_knows_who_accepted_without_asking_per_connect(
    community: Community, database_url: str, tmp_path: Path, clock: FakeClock, peer: PeerFactory
) -> None:
    """Everyone accepted the notice as they registered. A server started again reads who has
    accepted once, as it starts: their reconnects (a storm of them after a restart) ask the
    database nothing more about it, and they are let in."""
    restarted = await start_server(server_settings(database_url, tmp_path), clock)
    asked: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "consent_acceptance" in statement:
            asked.append(statement)

    engine = restarted.app[CORE].engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for person in (community.pat_ana, community.pat_avi, community.mod_lee):
            socket = await peer(person.token, restarted.url)
            await joined(socket, community.group_a)
            await send(socket, community.group_a, f"{person.username} is back")
        assert asked == []
    finally:
        event.remove(engine, "before_cursor_execute", record)
        await restarted.stop()
