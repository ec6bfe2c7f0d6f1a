"""The people directory of the console (docs/api/, people): the list and its filters, a
person's page, role and cohort changes, password-reset codes, and the same on the command
line. Each refusal by role is checked on the server, whatever a client shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.processes import run_cli, server_env
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
    consent_version,
    create_room,
    joined,
    register,
    send,
    sign_in,
)

NEW_PASSWORD = "a brand new passphrase"


def refused_with(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.error_code == code, reply.body
    assert reply.body["error"]["message"], reply.body


async def people(api: Api, who: Person, query: str = "") -> Reply:
    return await api.get(f"/api/users{query}", token=who.token)


async def names(api: Api, who: Person, query: str = "") -> list[str]:
    reply = await people(api, who, query)
    assert reply.status == 200, reply.body
    return [person["display_name"] for person in reply.body["users"]]


async def change(api: Api, who: Person, user_id: int, **fields: Any) -> Reply:
    return await api.call("PATCH", f"/api/users/{user_id}", token=who.token, json=fields)


async def reset_code(api: Api, who: Person, user_id: int) -> str:
    reply = await api.post(f"/api/users/{user_id}/password-reset", token=who.token)
    assert reply.status == 201, reply.body
    assert reply.body["path"] == f"/#/reset?code={reply.body['code']}"
    return str(reply.body["code"])


async def redeem(api: Api, code: str, password: str = NEW_PASSWORD) -> Reply:
    return await api.post("/api/auth/reset", {"code": code, "new_password": password})


# ----- the list -----


async def test_staff_list_people_with_filters_and_only_admins_see_login_names(
    api: Api, community: Community
) -> None:
    c = community
    everyone = ["Admin", "Lee", "Ana", "Avi", "Bo", "Dee"]
    assert await names(api, c.mod_lee) == everyone
    assert await names(api, c.mod_lee, "?role=patient") == ["Ana", "Avi", "Bo"]
    assert await names(api, c.mod_lee, f"?cohort_id={c.cohort_a}") == ["Ana", "Avi"]
    assert await names(api, c.mod_lee, "?q=AV") == ["Avi"]
    assert await names(api, c.mod_lee, "?q=%25") == []  # a wildcard is only a character

    as_moderator = (await people(api, c.mod_lee, "?role=patient")).body["users"][0]
    assert "username" not in as_moderator
    assert as_moderator["cohort_ids"] == [c.cohort_a]
    assert as_moderator["status"] == "active" and as_moderator["last_sign_in_at"]
    # Login names: only admins see them, and only admins find people by them.
    assert await names(api, c.mod_lee, "?q=pat_") == []
    as_admin = (await people(api, c.admin, "?q=pat_")).body["users"]
    assert [p["username"] for p in as_admin] == ["pat_ana", "pat_avi", "pat_bo"]

    deactivated = await api.post(f"/api/users/{c.pat_bo.id}/deactivate", token=c.mod_lee.token)
    assert deactivated.status == 200, deactivated.body
    assert await names(api, c.mod_lee, "?status=deactivated") == ["Bo"]
    assert "Bo" not in await names(api, c.mod_lee, "?status=active")


async def test_the_list_pages_by_id(api: Api, community: Community) -> None:
    c = community
    first = await people(api, c.mod_lee, "?limit=4")
    assert [p["display_name"] for p in first.body["users"]] == ["Admin", "Lee", "Ana", "Avi"]
    after = first.body["next_after"]
    assert after == c.pat_avi.id
    second = await people(api, c.mod_lee, f"?limit=4&after={after}")
    assert [p["display_name"] for p in second.body["users"]] == ["Bo", "Dee"]
    assert second.body["next_after"] is None
    # A cursor past every id the database could hold is the end of the list, not a fault.
    beyond = await people(api, c.mod_lee, f"?after={10**30}")
    assert beyond.status == 200 and beyond.body == {"users": [], "next_after": None}


@pytest.mark.parametrize(
    "query",
    ["?limit=0", "?limit=201", "?limit=ten", "?role=boss", "?status=gone", "?cohort_id=-1",
     f"?q={'x' * 65}", "?after=-5"],
)  # fmt: skip
async def test_bad_filters_are_invalid(api: Api, community: Community, query: str) -> None:
    refused_with(await people(api, community.mod_lee, query), 422, "invalid")


async def test_people_are_for_staff_only(api: Api, community: Community) -> None:
    c = community
    for person in (c.pat_ana, c.alum_dee):
        refused_with(await people(api, person), 403, "forbidden")
        refused_with(await api.get(f"/api/users/{c.pat_avi.id}", person.token), 403, "forbidden")
        refused_with(
            await change(api, person, c.pat_avi.id, cohort_id=c.cohort_b), 403, "forbidden"
        )
        reply = await api.post(f"/api/users/{c.pat_avi.id}/password-reset", token=person.token)
        refused_with(reply, 403, "forbidden")
    refused_with(await api.get("/api/users"), 401, "unauthorized")


# ----- a person's page -----


async def test_a_persons_page_shows_restrictions_in_force_and_meetings_attended(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    mute = {"user_id": c.pat_ana.id, "minutes": 30, "reason": "cooling off"}
    muted = await api.post(f"/api/rooms/{c.group_a}/mutes", mute, c.mod_lee.token)
    assert muted.status == 201, muted.body
    ban = {"user_id": c.pat_ana.id, "reason": "threats"}
    banned = await api.post(f"/api/rooms/{c.commons}/bans", ban, c.mod_lee.token)
    assert banned.status == 201, banned.body
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    start = clock.now() - timedelta(minutes=10)
    series = await api.post(
        "/api/meetings",
        {
            "title": "Evening group",
            "room_id": room,
            "rrule": "FREQ=DAILY",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "timezone": "UTC",
            "duration_minutes": 180,
            "lobby_minutes": 15,
        },
        c.mod_lee.token,
    )
    assert series.status == 201, series.body
    checked_in = await api.post(
        f"/api/meetings/{series.body['meeting']['id']}/checkins", {"mood": 4}, c.pat_ana.token
    )
    assert checked_in.status in (200, 201), checked_in.body

    page = (await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)).body["user"]
    assert page["display_name"] == "Ana" and page["role"] == "patient"
    assert page["meetings_attended"] == 1
    mute_until = (clock.now() + timedelta(minutes=30)).isoformat(timespec="milliseconds")
    assert page["restrictions"] == [
        {"kind": "mute", "room_id": c.group_a, "room_name": "Group A",
         "until": mute_until.replace("+00:00", "Z")},
        {"kind": "ban", "room_id": c.commons, "room_name": "Commons", "until": None},
    ]  # fmt: skip

    lifted = await api.call(
        "DELETE", f"/api/rooms/{c.commons}/bans/{c.pat_ana.id}", token=c.mod_lee.token
    )
    assert lifted.status == 204, lifted.body
    await clock.advance(minutes=31)
    page = (await api.get(f"/api/users/{c.pat_ana.id}", c.mod_lee.token)).body["user"]
    assert page["restrictions"] == []
    refused_with(await api.get("/api/users/999999", c.mod_lee.token), 404, "not_found")


# ----- role and cohort -----


async def test_moving_a_patient_to_another_cohort_takes_her_out_of_her_group_at_once(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi = await peer(c.pat_ana.token), await peer(c.pat_avi.token)
    for who in (ana, avi):
        await joined(who, c.group_a)
    moved = await change(api, c.mod_lee, c.pat_ana.id, cohort_id=c.cohort_b)
    assert moved.status == 200, moved.body
    assert moved.body["user"]["cohort_ids"] == [c.cohort_b]

    notice = await ana.wait_for("notice", lambda n: n.get("kind") == "cohort_changed")
    assert notice["cohort_id"] == c.cohort_b and notice["text"]
    await avi.wait_for(
        "presence",
        lambda p: p["room_id"] == c.group_a and p["user"]["id"] == c.pat_ana.id
        and p["status"] == "offline",
    )  # fmt: skip
    refused = await ana.call("join", {"room_id": c.group_a})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused
    await joined(ana, c.group_b)
    await send(ana, c.group_b, "hello cohort B")
    # Moving her to the cohort she is in changes nothing and tells her nothing.
    again = await change(api, c.mod_lee, c.pat_ana.id, cohort_id=c.cohort_b)
    assert again.status == 200, again.body
    await barrier(ana)
    assert len([n for n in ana.events["notice"] if n.get("kind") == "cohort_changed"]) == 1

    entries = await audit(api, c.mod_lee)
    assert any(
        e["action"] == "person_changed" and e["target_user"]["id"] == c.pat_ana.id
        and "Cohort B" in e["reason"]
        for e in entries
    ), entries  # fmt: skip


async def test_only_admins_change_roles_and_the_person_signs_in_again(
    api: Api, community: Community
) -> None:
    c = community
    refused_with(await change(api, c.mod_lee, c.pat_avi.id, role="moderator"), 403, "forbidden")
    refused_with(await change(api, c.admin, c.admin.id, role="patient"), 403, "forbidden")
    refused_with(await change(api, c.mod_lee, c.mod_lee.id, cohort_id=c.cohort_a), 403, "forbidden")
    refused_with(await change(api, c.admin, c.mod_lee.id, cohort_id=c.cohort_a), 409, "conflict")
    refused_with(await change(api, c.admin, c.pat_avi.id, cohort_id=999), 404, "not_found")
    refused_with(await change(api, c.admin, c.pat_avi.id, role="boss"), 422, "invalid")

    promoted = await change(api, c.admin, c.pat_avi.id, role="moderator")
    assert promoted.status == 200, promoted.body
    assert promoted.body["user"]["role"] == "moderator"
    # The old token carried the old role's sign-in: it has ended.
    refused_with(await api.get("/api/me", c.pat_avi.token), 401, "unauthorized")
    again = await sign_in(api, "pat_avi")
    assert again.role == "moderator"
    assert (await people(api, again)).status == 200

    graduated = await change(api, c.admin, c.pat_ana.id, role="alumni")
    assert graduated.body["user"]["graduated_at"] is not None, graduated.body


async def test_only_staff_reactivate_and_only_admins_reactivate_staff(
    api: Api, community: Community
) -> None:
    c = community
    mod_kim = await register(api, c.admin, "mod_kim", "moderator")
    for person in (c.pat_avi, mod_kim):
        reply = await api.post(f"/api/users/{person.id}/deactivate", token=c.admin.token)
        assert reply.status == 200, reply.body

    for who, whom in ((c.pat_ana, c.pat_avi), (c.alum_dee, c.pat_avi), (c.mod_lee, mod_kim)):
        reply = await api.post(f"/api/users/{whom.id}/reactivate", token=who.token)
        refused_with(reply, 403, "forbidden")
    # Nothing changed: both accounts are still closed, and no reactivation was recorded.
    for person in (c.pat_avi, mod_kim):
        page = await api.get(f"/api/users/{person.id}", c.admin.token)
        assert page.body["user"]["status"] == "deactivated", page.body
        login = {"username": person.username, "password": PASSWORD}
        refused_with(await api.post("/api/auth/login", login), 403, "forbidden")
    assert "account_reactivated" not in [e["action"] for e in await audit(api, c.admin)]

    reply = await api.post(f"/api/users/{mod_kim.id}/reactivate", token=c.admin.token)
    assert reply.status == 200 and reply.body["user"]["deactivated"] is False, reply.body
    assert (await sign_in(api, "mod_kim")).role == "moderator"


# ----- password reset -----


async def test_a_reset_code_sets_a_new_password_once_and_ends_every_other_sign_in(
    api: Api, community: Community
) -> None:
    c = community
    code = await reset_code(api, c.mod_lee, c.pat_ana.id)
    # Until it is used, nothing changes for the person.
    assert (await api.get("/api/me", c.pat_ana.token)).status == 200
    refused_with(await redeem(api, code, "short"), 422, "invalid")
    refused_with(await redeem(api, "not-a-code"), 401, "unauthorized")

    reply = await redeem(api, code)
    assert reply.status == 200, reply.body
    assert reply.body["user"]["username"] == "pat_ana"
    assert (await api.get("/api/me", reply.body["token"])).status == 200
    refused_with(await api.get("/api/me", c.pat_ana.token), 401, "unauthorized")
    refused_with(await redeem(api, code, "another new passphrase"), 401, "unauthorized")
    assert (await sign_in(api, "pat_ana", NEW_PASSWORD)).id == c.pat_ana.id
    refused_with(
        await api.post("/api/auth/login", {"username": "pat_ana", "password": PASSWORD}),
        401,
        "unauthorized",
    )
    actions = [e["action"] for e in await audit(api, c.admin)]
    assert "password_reset_issued" in actions and "password_reset_used" in actions


async def test_a_reset_code_expires_after_a_day_and_a_newer_one_replaces_it(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    first = await reset_code(api, c.mod_lee, c.pat_ana.id)
    second = await reset_code(api, c.mod_lee, c.pat_ana.id)
    refused_with(await redeem(api, first), 401, "unauthorized")
    clock.current += timedelta(hours=24, minutes=1)
    refused_with(await redeem(api, second), 401, "unauthorized")


async def test_staff_passwords_are_reset_by_admins_only(api: Api, community: Community) -> None:
    c = community
    reply = await api.post(f"/api/users/{c.admin.id}/password-reset", token=c.mod_lee.token)
    refused_with(reply, 403, "forbidden")
    code = await reset_code(api, c.admin, c.mod_lee.id)
    assert (await redeem(api, code)).status == 200


async def test_a_deactivated_account_cannot_use_a_reset_code(
    api: Api, community: Community
) -> None:
    c = community
    code = await reset_code(api, c.mod_lee, c.pat_bo.id)
    await api.post(f"/api/users/{c.pat_bo.id}/deactivate", token=c.mod_lee.token)
    refused_with(await redeem(api, code), 403, "forbidden")


# ----- the command line -----


async def test_the_command_line_lists_people_moves_them_and_issues_reset_codes(
    api: Api, community: Community, server: RunningServer, tmp_path: Path
) -> None:
    """The command line, on the same database as the running server."""
    env = server_env(server.settings.database_url, tmp_path)
    listing = await run_cli(env, "people", "--role", "patient", "--cohort", "Cohort A")
    rows = [line.split("\t") for line in listing.strip().splitlines()]
    assert rows[0][:4] == ["id", "username", "alias", "role"]
    assert [row[1] for row in rows[1:]] == ["pat_ana", "pat_avi"]
    assert rows[1][4] == "Cohort A" and rows[1][5] == "active"

    moved = await run_cli(env, "person", "--username", "pat_avi", "--cohort", "Cohort B")
    assert "pat_avi: patient" in moved
    page = (await api.get(f"/api/users/{community.pat_avi.id}", community.mod_lee.token)).body
    assert page["user"]["cohort_ids"] == [community.cohort_b]

    output = await run_cli(env, "reset-code", "--username", "pat_avi")
    code = output.strip().splitlines()[0]
    assert f"/#/reset?code={code}" in output
    assert (await redeem(api, code)).status == 200


# ----- invites -----


async def new_invite(api: Api, who: Person, role: str, cohort_id: int | None = None) -> Reply:
    return await api.post("/api/invites", {"role": role, "cohort_id": cohort_id}, who.token)


async def test_invites_are_listed_by_role_and_a_revoked_one_registers_nobody(
    api: Api, community: Community
) -> None:
    c = community
    patient = (await new_invite(api, c.mod_lee, "patient", c.cohort_a)).body["invite"]
    staff = (await new_invite(api, c.admin, "moderator")).body["invite"]
    assert patient["path"] == f"/#/register?code={patient['code']}" and not patient["revoked"]

    def codes(reply: Reply) -> list[str]:
        assert reply.status == 200, reply.body
        return [invite["code"] for invite in reply.body["invites"]]

    # Moderators see (and revoke) patients' and alumni's invites; admins every invite.
    assert patient["code"] in codes(await api.get("/api/invites", c.mod_lee.token))
    assert staff["code"] not in codes(await api.get("/api/invites", c.mod_lee.token))
    assert staff["code"] in codes(await api.get("/api/invites", c.admin.token))
    staff_revoke = await api.call("DELETE", f"/api/invites/{staff['id']}", token=c.mod_lee.token)
    refused_with(staff_revoke, 404, "not_found")

    revoked = await api.call("DELETE", f"/api/invites/{patient['id']}", token=c.mod_lee.token)
    assert revoked.status == 204, revoked.body
    again = await api.call("DELETE", f"/api/invites/{patient['id']}", token=c.mod_lee.token)
    refused_with(again, 409, "conflict")
    assert patient["code"] not in codes(await api.get("/api/invites", c.mod_lee.token))
    listed = await api.get("/api/invites?status=all", c.mod_lee.token)
    [shown] = [i for i in listed.body["invites"] if i["code"] == patient["code"]]
    assert shown["revoked"] is True

    register = await api.post(
        "/api/auth/register",
        {"invite_code": patient["code"], "username": "pat_new", "display_name": "Newcomer",
         "password": PASSWORD, "consent_version": await consent_version(api)},
    )  # fmt: skip
    refused_with(register, 403, "forbidden")
    assert "revoked" in register.body["error"]["message"]
    assert "invite_revoked" in [e["action"] for e in await audit(api, c.admin)]


async def test_invites_are_for_staff_and_bad_filters_are_invalid(
    api: Api, community: Community
) -> None:
    c = community
    refused_with(await api.get("/api/invites", c.pat_ana.token), 403, "forbidden")
    refused_with(
        await api.call("DELETE", "/api/invites/1", token=c.pat_ana.token), 403, "forbidden"
    )
    refused_with(await api.get("/api/invites?status=old", c.mod_lee.token), 422, "invalid")
    refused_with(await api.call("DELETE", "/api/invites/x", token=c.mod_lee.token), 422, "invalid")
    refused_with(
        await api.call("DELETE", "/api/invites/999", token=c.mod_lee.token), 404, "not_found"
    )
