"""My profile and my password: the alias (unique as at registration, few changes, audited),
pronouns and a short line, each change said at once to the rooms I may enter and to nobody
else; a password change that ends every other sign-in of mine, wherever it is."""

from __future__ import annotations

from typing import Any

import pytest

from server.accounts import store
from server.accounts.http import ACCOUNTS
from tests.cluster import Cluster, in_room
from tests.cluster import eventually as eventually_equal
from tests.cluster import send as send_there
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Person,
    Reply,
    RunningServer,
    audit,
    barrier,
    disconnected,
    eventually,
    joined,
    refused_with,
    send,
    sign_in,
    stored_messages,
)
from tests.test_erasure import approved, asked
from tests.test_kept_sign_in import kept_login, renew

pytestmark = pytest.mark.persistence

PROFILE = "/api/me/profile"
NEW_PASSWORD = "a brand new passphrase"


async def change(api: Api, person: Person, **fields: Any) -> Reply:
    return await api.patch(PROFILE, fields, token=person.token)


async def changed(api: Api, person: Person, **fields: Any) -> dict[str, Any]:
    reply = await change(api, person, **fields)
    assert reply.status == 200, reply.body
    profile: dict[str, Any] = reply.body["profile"]
    return profile


async def change_password(api: Api, person: Person, current: str, new: str) -> Reply:
    body = {"current_password": current, "new_password": new}
    return await api.post("/api/me/password", body, token=person.token)


# ----- the profile -----


async def test_a_profile_changes_field_by_field(api: Api, community: Community) -> None:
    ana = community.pat_ana
    shown = await api.get(PROFILE, token=ana.token)
    assert shown.status == 200, shown.body
    assert shown.body["profile"] == {
        "id": ana.id,
        "display_name": "Ana",
        "pronouns": None,
        "line": None,
    }

    assert await changed(api, ana, pronouns="  she/her ") == {
        **shown.body["profile"],
        "pronouns": "she/her",
    }
    # What is left out stays; an emoji sequence (joined with U+200D) is a line's right.
    line = "Back after a week away 🏳️\u200d🌈"
    after_line = await changed(api, ana, line=line)
    assert (after_line["pronouns"], after_line["line"]) == ("she/her", line)
    renamed = await changed(api, ana, display_name="  Ana R. ")
    assert (renamed["display_name"], renamed["pronouns"], renamed["line"]) == (
        "Ana R.", "she/her", line
    )  # fmt: skip
    me = await api.get("/api/me", token=ana.token)
    assert me.body["user"]["display_name"] == "Ana R."

    # Taken away with an empty text or null.
    assert (await changed(api, ana, pronouns=""))["pronouns"] is None
    assert (await changed(api, ana, line=None))["line"] is None
    assert (await api.get(PROFILE, token=ana.token)).body["profile"] == {
        "id": ana.id,
        "display_name": "Ana R.",
        "pronouns": None,
        "line": None,
    }
    assert (await api.get(PROFILE)).status == 401


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": None}, "display_name"),
        ({"display_name": 7}, "display_name"),
        ({"display_name": "x" * 41}, "display_name"),
        ({"display_name": "An\u0007a"}, "display_name"),
        ({"display_name": "An\u0000a"}, "display_name"),
        ({"display_name": "An\u202ea"}, "display_name"),
        ({"display_name": "--"}, "display_name"),
        ({"display_name": "Ana the moderator"}, "display_name"),
        ({"pronouns": "x" * 31}, "pronouns"),
        ({"pronouns": "she\nher"}, "pronouns"),
        ({"pronouns": "admin"}, "pronouns"),
        ({"line": "x" * 81}, "line"),
        ({"line": "two\nlines"}, "line"),
        ({"line": "hidden \u202etxet"}, "line"),
        ({"line": "nul \u0000 here"}, "line"),
        ({"line": ["not", "text"]}, "line"),
    ],
)
async def test_bad_profile_input_is_invalid_and_changes_nothing(
    api: Api, community: Community, fields: dict[str, Any], field: str
) -> None:
    refused_with(await change(api, community.pat_ana, **fields), 422, "invalid", field)
    profile = (await api.get(PROFILE, token=community.pat_ana.token)).body["profile"]
    assert (profile["display_name"], profile["pronouns"], profile["line"]) == ("Ana", None, None)


async def test_staff_may_say_they_are_staff(api: Api, community: Community) -> None:
    lee = await changed(api, community.mod_lee, display_name="Lee (moderator)", pronouns="he/him")
    assert lee["display_name"] == "Lee (moderator)"


@pytest.mark.parametrize("name", ["Avi", "AVI", "A v i", "Ávi", "\u0410vi", "Lee", "lee"])
async def test_a_name_that_looks_like_anothers_is_a_conflict(
    api: Api, community: Community, name: str
) -> None:
    refused_with(await change(api, community.pat_ana, display_name=name), 409, "conflict")
    assert (await api.get("/api/me", token=community.pat_ana.token)).body["user"][
        "display_name"
    ] == "Ana"


async def test_ones_own_alias_may_be_written_another_way(api: Api, community: Community) -> None:
    assert (await changed(api, community.pat_ana, display_name="ANA"))["display_name"] == "ANA"
    # And a name given up is free for others.
    await changed(api, community.pat_ana, display_name="Rosa")
    assert (await changed(api, community.pat_avi, display_name="Ana"))["display_name"] == "Ana"


async def test_alias_changes_are_limited_and_the_allowance_comes_back(
    api: Api, community: Community, clock: FakeClock
) -> None:
    ana = community.pat_ana
    for name in ("Ana B", "Ana C", "Ana D"):
        await changed(api, ana, display_name=name)
    # The same name again is no change, and costs nothing.
    await changed(api, ana, display_name="Ana D")
    held = await change(api, ana, display_name="Ana E")
    refused_with(held, 429, "rate_limited", "display_name")
    assert 0 < held.body["error"]["retry_after_s"] <= 8 * 3600
    # Pronouns and a line are not limited.
    await changed(api, ana, pronouns="they/them", line="Still here")
    assert (await api.get(PROFILE, token=ana.token)).body["profile"]["display_name"] == "Ana D"

    await clock.advance(hours=8)
    assert (await changed(api, ana, display_name="Ana E"))["display_name"] == "Ana E"
    refused_with(await change(api, ana, display_name="Ana F"), 429, "rate_limited")


async def test_refused_names_are_throttled_as_at_registration(
    api: Api, community: Community, clock: FakeClock
) -> None:
    ana = community.pat_ana
    for taken in ("Avi", "Bo", "Dee", "Lee", "A.v.i"):
        refused_with(await change(api, ana, display_name=taken), 409, "conflict")
    # Each refusal told her that someone goes by that name: guessing slows down.
    refused_with(await change(api, ana, display_name="Ana R."), 429, "rate_limited")
    await clock.advance(minutes=1)
    assert (await changed(api, ana, display_name="Ana R."))["display_name"] == "Ana R."


async def test_alias_changes_are_audited_with_both_names(api: Api, community: Community) -> None:
    c = community
    await changed(api, c.pat_ana, display_name="Ana R.")
    await changed(api, c.pat_ana, pronouns="she/her", line="hello")
    await changed(api, c.pat_ana, display_name="Rosa")
    entries = [e for e in await audit(api, c.mod_lee) if e["action"] == "display_name_changed"]
    assert [(e["reason"], e["actor"]["id"], e["target_user"]["id"]) for e in entries] == [
        ("Ana R. -> Rosa", c.pat_ana.id, c.pat_ana.id),
        ("Ana -> Ana R.", c.pat_ana.id, c.pat_ana.id),
    ]


async def test_a_change_is_said_at_once_to_the_rooms_i_may_enter_and_nowhere_else(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, ana_elsewhere = await peer(c.pat_ana.token), await peer(c.pat_ana.token)
    avi, lee, bo, dee = [
        await peer(person.token) for person in (c.pat_avi, c.mod_lee, c.pat_bo, c.alum_dee)
    ]
    for socket in (ana, avi, lee):
        await joined(socket, c.group_a)
    await joined(bo, c.group_b)
    await joined(dee, c.lounge)
    before = await send(ana, c.group_a, "Said before the change.")

    await changed(api, c.pat_ana, display_name="Ana R.", pronouns="she/her", line="Back again")
    said = {
        "user_id": c.pat_ana.id,
        "display_name": "Ana R.",
        "pronouns": "she/her",
        "line": "Back again",
    }
    for socket in (avi, lee, ana, ana_elsewhere):
        assert await socket.wait_for("member_changed") == said
    await barrier(avi, lee, ana, ana_elsewhere, bo, dee)
    for socket in (avi, lee, ana, ana_elsewhere):
        assert socket.received("member_changed") == [said]
    # Bo's cohort's room and the alumni lounge are not rooms Ana may enter.
    assert bo.received("member_changed") == dee.received("member_changed") == []

    # Her open sockets speak with the new name, and who is here shows her pronouns and line.
    after = await send(ana, c.group_a, "Said after it.")
    assert after["author"]["display_name"] == "Ana R."
    avi_sees = await avi.wait_for("message", lambda m: m["id"] == after["id"])
    assert avi_sees["author"] == {"id": c.pat_ana.id, "display_name": "Ana R.", "role": "patient"}
    ana_here = {"id": c.pat_ana.id, "display_name": "Ana R.", "role": "patient"}
    member = {**ana_here, "pronouns": "she/her", "line": "Back again"}
    await joined(ana, c.commons)
    dee_joins = await joined(dee, c.commons)
    assert member in dee_joins["online"]
    presence = await api.get(f"/api/rooms/{c.commons}/presence", token=c.alum_dee.token)
    assert member in presence.body["online"]
    bo_commons = await joined(bo, c.commons)
    assert member in bo_commons["online"]
    # Old messages are read with the name she goes by now.
    first = (await stored_messages(api, c.pat_avi.token, c.group_a))[0]
    assert (first["id"], first["author"]["display_name"]) == (before["id"], "Ana R.")


async def test_someone_arriving_is_shown_with_their_pronouns(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    await changed(api, c.pat_ana, pronouns="she/her")
    avi = await peer(c.pat_avi.token)
    await joined(avi, c.group_a)
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    arrived = await avi.wait_for("presence", lambda p: p["user"]["id"] == c.pat_ana.id)
    assert arrived["user"] == {
        "id": c.pat_ana.id,
        "display_name": "Ana",
        "role": "patient",
        "pronouns": "she/her",
    }


async def test_an_erasure_takes_the_pronouns_and_line_too(
    server: RunningServer, api: Api, community: Community
) -> None:
    c = community
    await changed(api, c.pat_ana, pronouns="she/her", line="I am Ana from the bakery")
    await approved(api, c.admin, await asked(api, c.pat_ana))
    async with server.app[ACCOUNTS].sessions() as session:
        user = await store.get_user(session, c.pat_ana.id)
    assert user is not None and (user.pronouns, user.line) == (None, None)


# ----- the password -----


async def test_a_password_change_ends_every_other_sign_in_at_once(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    other = await sign_in(api, c.pat_ana.username)
    kept = await kept_login(api, c.pat_ana.username)
    here, there = await peer(c.pat_ana.token), await peer(other.token)
    await joined(there, c.group_a)
    # A change of alias first: the sockets take up the new name and keep their sign-ins.
    await changed(api, c.pat_ana, display_name="Ana R.")
    await there.wait_for("member_changed")

    done = await change_password(api, c.pat_ana, PASSWORD, NEW_PASSWORD)
    assert done.status == 204, done.body
    await eventually(lambda: disconnected(there), "the other sign-in's socket to close")
    assert (await api.get("/api/me", token=other.token)).status == 401
    assert (await renew(api, kept.cookie.value)).reply.status == 401
    # This sign-in goes on, and only the new password signs in.
    assert (await api.get("/api/me", token=c.pat_ana.token)).status == 200
    await barrier(here)
    assert here.client.connected
    old = await api.post("/api/auth/login", {"username": c.pat_ana.username, "password": PASSWORD})
    assert old.status == 401, old.body
    await sign_in(api, c.pat_ana.username, NEW_PASSWORD)
    [entry] = [e for e in await audit(api, c.mod_lee) if e["action"] == "password_changed"]
    assert (entry["actor"]["id"], entry["target_user"]["id"]) == (c.pat_ana.id, c.pat_ana.id)


@pytest.mark.parametrize(
    ("current", "new", "status", "code"),
    [
        ("not my password", NEW_PASSWORD, 403, "forbidden"),
        (PASSWORD, "short", 422, "invalid"),
        (PASSWORD, "aaaaabbbbbaaaaa", 422, "invalid"),
        (PASSWORD, "my pat_ana password", 422, "invalid"),
    ],
)
async def test_a_wrong_current_or_weak_new_password_changes_nothing(
    api: Api,
    community: Community,
    peer: PeerFactory,
    current: str,
    new: str,
    status: int,
    code: str,
) -> None:
    c = community
    other = await sign_in(api, c.pat_ana.username)
    there = await peer(other.token)
    refused_with(await change_password(api, c.pat_ana, current, new), status, code)
    await barrier(there)
    assert there.client.connected
    assert (await api.get("/api/me", token=other.token)).status == 200
    await sign_in(api, c.pat_ana.username, PASSWORD)
    assert "password_changed" not in [e["action"] for e in await audit(api, c.mod_lee)]


# ----- across processes -----


@pytest.mark.slow
async def test_through_one_process_a_new_alias_and_password_are_felt_on_the_other(
    cluster: Cluster, peer: PeerFactory
) -> None:
    people, room = cluster.community, cluster.community.group_a
    other = await sign_in(cluster.api_a, people.pat_ana.username)
    ana, elsewhere, avi = await in_room(
        peer,
        room,
        (people.pat_ana, cluster.b),
        (other, cluster.b),
        (people.pat_avi, cluster.b),
    )
    [bo] = await in_room(peer, people.group_b, (people.pat_bo, cluster.a))

    reply = await cluster.api_a.patch(
        PROFILE, {"display_name": "Ana R.", "pronouns": "she/her"}, token=people.pat_ana.token
    )
    assert reply.status == 200, reply.body
    said = await avi.wait_for("member_changed")
    assert (said["user_id"], said["display_name"], said["pronouns"]) == (
        people.pat_ana.id, "Ana R.", "she/her"
    )  # fmt: skip
    await cluster.barrier(bo)
    assert bo.received("member_changed") == []

    async def speaks_as() -> str:
        return str((await send_there(ana, room, "Who am I now?"))["author"]["display_name"])

    await eventually_equal(speaks_as, "Ana R.")

    changed_password = await change_password(cluster.api_a, people.pat_ana, PASSWORD, NEW_PASSWORD)
    assert changed_password.status == 204, changed_password.body
    await eventually(lambda: disconnected(elsewhere), "her other sign-in's socket to close")
    await cluster.barrier(ana)
    assert ana.client.connected
