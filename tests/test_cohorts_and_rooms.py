"""Staff rename and archive cohorts and rename rooms from the console (docs/api/): archived
cohorts keep their people and rooms, take no new invites, and drop out of active lists."""

from __future__ import annotations

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, Reply, audit, ban, joined


async def patch(api: Api, token: str, path: str, **fields: object) -> Reply:
    return await api.call("PATCH", path, token=token, json=fields)


async def test_a_cohort_is_renamed_and_archived_and_takes_no_new_invites(
    api: Api, community: Community
) -> None:
    c = community
    renamed = await patch(api, c.mod_lee.token, f"/api/cohorts/{c.cohort_a}", name="Tuesday PM")
    assert renamed.status == 200, renamed.body
    assert renamed.body["cohort"] == {"id": c.cohort_a, "name": "Tuesday PM", "archived": False}
    taken = await patch(api, c.mod_lee.token, f"/api/cohorts/{c.cohort_b}", name="Tuesday PM")
    assert taken.status == 409 and taken.error_code == "conflict", taken.body

    archived = await patch(api, c.mod_lee.token, f"/api/cohorts/{c.cohort_a}", archived=True)
    assert archived.body["cohort"]["archived"] is True
    active = await api.get("/api/cohorts?status=active", c.mod_lee.token)
    assert [cohort["id"] for cohort in active.body["cohorts"]] == [c.cohort_b]
    every = await api.get("/api/cohorts", c.mod_lee.token)
    assert [cohort["id"] for cohort in every.body["cohorts"]] == [c.cohort_a, c.cohort_b]
    invite = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": c.cohort_a}, c.mod_lee.token
    )
    assert invite.status == 409 and invite.error_code == "conflict", invite.body
    # Its people keep their cohort and its room.
    me = await api.get("/api/me", c.pat_ana.token)
    assert me.body["user"]["cohort_ids"] == [c.cohort_a]
    rooms = await api.get("/api/rooms", c.pat_ana.token)
    assert c.group_a in [room["id"] for room in rooms.body["rooms"]]

    back = await patch(api, c.mod_lee.token, f"/api/cohorts/{c.cohort_a}", archived=False)
    assert back.body["cohort"]["archived"] is False
    reasons = [e["reason"] for e in await audit(api, c.mod_lee) if e["action"] == "cohort_changed"]
    assert any("renamed" in r for r in reasons) and any("archived" in r for r in reasons)


async def test_a_room_is_renamed_for_everyone_in_it(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    renamed = await patch(api, c.mod_lee.token, f"/api/rooms/{c.group_a}", name="Tuesday group")
    assert renamed.status == 200 and renamed.body["room"]["name"] == "Tuesday group"
    update = await ana.wait_for("room_updated", lambda r: r["name"] == "Tuesday group")
    assert update["id"] == c.group_a
    actions = [e["action"] for e in await audit(api, c.mod_lee, c.group_a)]
    assert "room_name_changed" in actions


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [("/api/cohorts/{a}", {"name": ""}, 422, "invalid"),
     ("/api/cohorts/{a}", {"name": "x" * 81}, 422, "invalid"),
     ("/api/cohorts/{a}", {"archived": "yes"}, 422, "invalid"),
     ("/api/cohorts/999", {"archived": True}, 404, "not_found"),
     ("/api/rooms/{room}", {"name": "   "}, 422, "invalid")],
)  # fmt: skip
async def test_bad_changes_are_refused(
    api: Api, community: Community, path: str, body: dict[str, object], status: int, code: str
) -> None:
    c = community
    reply = await api.call(
        "PATCH", path.format(a=c.cohort_a, room=c.group_a), token=c.mod_lee.token, json=body
    )
    assert reply.status == status and reply.error_code == code, reply.body


async def test_only_staff_change_cohorts(api: Api, community: Community) -> None:
    c = community
    reply = await patch(api, c.pat_ana.token, f"/api/cohorts/{c.cohort_a}", name="Mine")
    assert reply.status == 403 and reply.error_code == "forbidden", reply.body


async def members_of(api: Api, token: str, room_id: int) -> Reply:
    return await api.get(f"/api/rooms/{room_id}/members", token)


async def test_staff_see_who_each_room_is_for_who_is_in_it_and_who_is_kept_out(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    await joined(await peer(c.pat_ana.token), c.group_a)
    await ban(api, c, c.group_a, c.pat_avi.id)

    group = await members_of(api, c.mod_lee.token, c.group_a)
    assert group.status == 200, group.body
    assert [(m["display_name"], m["role"], m["may_enter"], m["online"])
            for m in group.body["members"]] == [
        ("Ana", "patient", True, True),
        ("Avi", "patient", False, False),
    ], group.body  # fmt: skip
    lounge = await members_of(api, c.admin.token, c.lounge)
    assert [m["display_name"] for m in lounge.body["members"]] == ["Dee"], lounge.body
    commons = await members_of(api, c.mod_lee.token, c.commons)
    names = [m["display_name"] for m in commons.body["members"]]
    assert names == ["Ana", "Avi", "Bo", "Dee"], commons.body  # staff are not listed
    assert all("username" not in m for m in commons.body["members"]), commons.body

    # A deactivated account is no longer anyone's.
    gone = await api.post(f"/api/users/{c.pat_bo.id}/deactivate", {}, c.mod_lee.token)
    assert gone.status == 200, gone.body
    commons = await members_of(api, c.mod_lee.token, c.commons)
    assert "Bo" not in [m["display_name"] for m in commons.body["members"]], commons.body


async def test_room_members_are_for_staff_and_a_room_must_exist(
    api: Api, community: Community
) -> None:
    c = community
    for token in (c.pat_ana.token, c.alum_dee.token):
        reply = await members_of(api, token, c.group_a)
        assert reply.status == 403 and reply.error_code == "forbidden", reply.body
    missing = await members_of(api, c.mod_lee.token, 999_999)
    assert missing.status == 404 and missing.error_code == "not_found", missing.body
    bad = await api.get("/api/rooms/x/members", c.mod_lee.token)
    assert bad.status == 422 and bad.error_code == "invalid", bad.body
