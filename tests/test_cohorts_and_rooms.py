"""Staff rename and archive cohorts and rename rooms from the console (docs/api/): archived
cohorts keep their people and rooms, take no new invites, and drop out of active lists."""

from __future__ import annotations

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, Reply, audit, joined


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
