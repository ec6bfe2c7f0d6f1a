"""The audit log as the console reads it (docs/api/, GET /api/audit): filtered by person,
room, action and time range, paged with `next_before`, exported whole as CSV, and crisis rows
in words."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import PeerFactory
from tests.support import Api, Community, FakeClock, Person, joined, send

ISO = "%Y-%m-%dT%H:%M:%SZ"


async def entries(api: Api, staff: Person, query: str) -> dict[str, Any]:
    reply = await api.get(f"/api/audit{query}", token=staff.token)
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def kick(api: Api, c: Community, room_id: int, who: Person) -> None:
    body = {"user_id": who.id, "reason": "test"}
    reply = await api.post(f"/api/rooms/{room_id}/kicks", body, c.mod_lee.token)
    assert reply.status == 201, reply.body


async def test_filters_by_person_room_action_and_time_and_pages_back(
    api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    start = clock.now()
    await kick(api, c, c.group_a, c.pat_ana)
    await kick(api, c, c.commons, c.pat_avi)
    clock.current += timedelta(hours=2)
    middle = clock.now()
    await kick(api, c, c.commons, c.pat_ana)
    await kick(api, c, c.group_b, c.pat_bo)

    def kicked(page: dict[str, Any]) -> list[tuple[int, int]]:
        return [(e["target_user"]["id"], e["room_id"]) for e in page["entries"]]

    by_ana = await entries(api, c.mod_lee, f"?user_id={c.pat_ana.id}&action=kick")
    assert kicked(by_ana) == [(c.pat_ana.id, c.commons), (c.pat_ana.id, c.group_a)]
    in_commons = await entries(api, c.mod_lee, f"?room_id={c.commons}&action=kick")
    assert kicked(in_commons) == [(c.pat_ana.id, c.commons), (c.pat_avi.id, c.commons)]
    # The person who acted is found too.
    by_lee = await entries(api, c.mod_lee, f"?user_id={c.mod_lee.id}&action=kick")
    assert len(by_lee["entries"]) == 4

    early = await entries(
        api, c.mod_lee, f"?action=kick&since={start.strftime(ISO)}&until={middle.strftime(ISO)}"
    )
    assert kicked(early) == [(c.pat_avi.id, c.commons), (c.pat_ana.id, c.group_a)]
    late = await entries(api, c.mod_lee, f"?action=kick&since={middle.strftime(ISO)}")
    assert kicked(late) == [(c.pat_bo.id, c.group_b), (c.pat_ana.id, c.commons)]

    first = await entries(api, c.mod_lee, "?action=kick&limit=3")
    assert len(first["entries"]) == 3 and first["next_before"] == first["entries"][-1]["id"]
    rest = await entries(api, c.mod_lee, f"?action=kick&limit=3&before={first['next_before']}")
    assert kicked(rest) == [(c.pat_ana.id, c.group_a)] and rest["next_before"] is None


async def test_the_csv_holds_every_matching_entry_not_one_page(
    api: Api, community: Community
) -> None:
    c = community
    for _ in range(5):
        await kick(api, c, c.group_a, c.pat_ana)
    await kick(api, c, c.group_a, c.pat_avi)
    headers = {"Authorization": f"Bearer {c.mod_lee.token}"}
    url = f"{api.base_url}/api/audit?format=csv&limit=2&user_id={c.pat_ana.id}"
    async with api.session.get(url, headers=headers) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 5 and {row["target_user_id"] for row in rows} == {str(c.pat_ana.id)}


async def test_crisis_rows_say_what_was_found_in_words(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await joined(ana, c.group_a)
    await send(ana, c.group_a, "i want to kill myself")
    [row] = (await entries(api, c.mod_lee, f"?user_id={c.pat_ana.id}"))["entries"]
    assert row["reason"].startswith("crisis: suicide, "), row
    assert "/" not in row["reason"].split("(")[0], row


@pytest.mark.parametrize(
    "query",
    ["?since=yesterday", "?until=2026-11-23T00:00:00", "?user_id=0", "?user_id=x",
     f"?action={'a' * 41}", "?limit=0"],
)  # fmt: skip
async def test_bad_filters_are_invalid(api: Api, community: Community, query: str) -> None:
    reply = await api.get(f"/api/audit{query}", token=community.mod_lee.token)
    assert reply.status == 422 and reply.error_code == "invalid", reply.body


async def test_the_audit_log_is_for_staff(api: Api, community: Community) -> None:
    reply = await api.get("/api/audit?action=kick", token=community.pat_ana.token)
    assert reply.status == 403 and reply.error_code == "forbidden", reply.body
