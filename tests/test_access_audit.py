"""The access audit (docs/privacy.md, "The access audit"): each read by staff of the alert list,
the report queue, a person's page or attendance is one row of the access log, with who, what,
which target, when and the request's id; admins read the log with filters, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.kernel.actors import Actor
from server.privacy.access_audit_http import ACCESS_AUDIT
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    RunningServer,
    daily_meeting,
    joined,
    refused_with,
    send,
)

pytestmark = pytest.mark.persistence


@dataclass
class Fetched:
    status: int
    request_id: str
    content_type: str
    text: str


async def fetch(api: Api, path: str, person: Person, request_id: str = "") -> Fetched:
    """A GET with the person's token (and the caller's X-Request-Id, when given)."""
    headers = {"Authorization": f"Bearer {person.token}"}
    if request_id:
        headers["X-Request-Id"] = request_id
    async with api.session.get(api.base_url + path, headers=headers) as response:
        return Fetched(
            response.status,
            response.headers["X-Request-Id"],
            response.content_type,
            await response.text(),
        )


async def read_log(api: Api, admin: Person, query: str = "") -> list[dict[str, Any]]:
    reply = await api.get(f"/api/access-log?limit=1000{query}", admin.token)
    assert reply.status == 200, reply.body
    assert reply.body["next_before"] is None
    return list(reply.body["entries"])


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["actor"]["id"], entry["kind"], entry["target_type"], entry["target_id"])


async def test_each_staff_read_is_one_entry_and_nothing_else_is(
    server: RunningServer, api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    meeting = await daily_meeting(api, c, clock, starts_in=timedelta(hours=-1))
    occurrence = z((clock.now() - timedelta(hours=1)).replace(second=0, microsecond=0))
    since, until = z(clock.now() - timedelta(days=1)), z(clock.now() + timedelta(days=1))

    # A live alert reaching a staff socket is not a read.
    lee_socket, ana_socket = await peer(c.mod_lee.token), await peer(c.pat_ana.token)
    await joined(ana_socket, c.group_a)
    message = await send(ana_socket, c.group_a, "Not kind words.")
    report = await api.post(
        f"/api/messages/{message['id']}/reports", {"reason": "rude"}, c.pat_avi.token
    )
    assert report.status == 201, report.body
    await lee_socket.wait_for("alert")
    assert await read_log(api, c.admin) == []

    # Members' own reads, refused reads and failed reads are not recorded either.
    for path in ("/api/me", "/api/rooms", f"/api/rooms/{c.group_a}/messages"):
        assert (await fetch(api, path, c.pat_ana)).status == 200
    for path in ("/api/alerts", "/api/reports", f"/api/users/{c.pat_avi.id}"):
        assert (await fetch(api, path, c.pat_ana)).status == 403
    assert (await fetch(api, "/api/users/999999", c.mod_lee)).status == 404
    assert (await fetch(api, "/api/alerts?status=bogus", c.mod_lee)).status == 422
    assert await read_log(api, c.admin) == []

    reads = [
        (c.mod_lee, "/api/alerts", ("alerts", None, None)),
        (c.mod_lee, "/api/reports?status=all", ("reports", None, None)),
        (c.admin, f"/api/users/{c.pat_ana.id}", ("person", "user", c.pat_ana.id)),
        (
            c.mod_lee,
            f"/api/meetings/{meeting}/attendance?occurrence={occurrence}",
            ("attendance", "meeting", meeting),
        ),
        (
            c.mod_lee,
            f"/api/meetings/{meeting}/attendance?occurrence={occurrence}&format=csv",
            ("attendance", "meeting", meeting),
        ),
        (
            c.admin,
            f"/api/attendance?cohort_id={c.cohort_a}&since={since}&until={until}",
            ("attendance", "cohort", c.cohort_a),
        ),
        (
            c.mod_lee,
            f"/api/attendance?meeting_id={meeting}&since={since}&until={until}&format=csv",
            ("attendance", "meeting", meeting),
        ),
    ]
    request_ids = []
    for n, (who, path, _) in enumerate(reads):
        answered = await fetch(api, path, who, request_id=f"read{n}")
        assert answered.status == 200, answered.text
        request_ids.append(answered.request_id)
        await clock.advance(minutes=1)
    assert request_ids == [f"read{n}" for n in range(len(reads))]

    entries = await read_log(api, c.admin)
    # Newest first: exactly one entry per read, in order.
    assert [summary(entry) for entry in reversed(entries)] == [
        (who.id, *what) for who, _, what in reads
    ]
    assert [entry["request_id"] for entry in reversed(entries)] == request_ids
    person_read = entries[-3]
    assert person_read["target_user"] == {
        "id": c.pat_ana.id,
        "display_name": "Ana",
        "role": "patient",
    }
    assert person_read["actor"] == {"id": c.admin.id, "display_name": "Admin", "role": "admin"}
    assert entries[-1]["detail"] == "" and entries[-2]["detail"] == "status=all"
    assert "format=csv" in entries[-5]["detail"]
    times = [datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) for entry in entries]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    # Reading the access log is not itself an entry.
    assert len(await read_log(api, c.admin)) == len(reads)


async def test_the_log_filters_pages_and_exports(
    server: RunningServer, api: Api, community: Community, clock: FakeClock
) -> None:
    c = community
    start = clock.now()
    for who, path in (
        (c.mod_lee, "/api/alerts"),
        (c.mod_lee, f"/api/users/{c.pat_ana.id}"),
        (c.admin, f"/api/users/{c.pat_avi.id}"),
        (c.admin, "/api/reports"),
        (c.mod_lee, f"/api/users/{c.pat_ana.id}"),
    ):
        assert (await fetch(api, path, who)).status == 200
        await clock.advance(minutes=10)

    by_lee = await read_log(api, c.admin, f"&actor_id={c.mod_lee.id}")
    assert [summary(e)[1:] for e in by_lee] == [
        ("person", "user", c.pat_ana.id),
        ("person", "user", c.pat_ana.id),
        ("alerts", None, None),
    ]
    people = await read_log(api, c.admin, "&kind=person")
    assert len(people) == 3
    about_ana = await read_log(api, c.admin, f"&target_type=user&target_id={c.pat_ana.id}")
    assert [e["actor"]["id"] for e in about_ana] == [c.mod_lee.id, c.mod_lee.id]
    window = f"&since={z(start + timedelta(minutes=10))}&until={z(start + timedelta(minutes=30))}"
    assert [summary(e)[1:] for e in await read_log(api, c.admin, window)] == [
        ("person", "user", c.pat_avi.id),
        ("person", "user", c.pat_ana.id),
    ]

    # A page at a time, newest first.
    first = await api.get("/api/access-log?limit=2", c.admin.token)
    assert first.status == 200 and len(first.body["entries"]) == 2, first.body
    rest = await api.get(f"/api/access-log?before={first.body['next_before']}", c.admin.token)
    assert len(rest.body["entries"]) == 3 and rest.body["next_before"] is None
    ids = [e["id"] for e in first.body["entries"] + rest.body["entries"]]
    assert ids == sorted(ids, reverse=True)

    # The CSV: every entry that matches, whatever the page size.
    exported = await fetch(api, "/api/access-log?format=csv&limit=1&kind=person", c.admin)
    assert exported.status == 200 and exported.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["actor"], r["kind"], r["target_type"], r["target_user"]) for r in rows] == [
        ("Lee", "person", "user", "Ana"),
        ("Admin", "person", "user", "Avi"),
        ("Lee", "person", "user", "Ana"),
    ]
    assert set(rows[0]) == {
        "id", "at", "actor_id", "actor", "kind", "target_type", "target_id", "target_user",
        "detail", "request_id",
    }  # fmt: skip


async def test_an_export_is_recorded_by_the_function_exports_call(
    server: RunningServer, api: Api, community: Community
) -> None:
    c = community
    lee = Actor(c.mod_lee.id, "Lee", "moderator", frozenset())
    await server.app[ACCESS_AUDIT].record_access(
        lee, "export", ("user", c.pat_bo.id), detail="zip", request_id="export1"
    )
    [entry] = await read_log(api, c.admin, "&kind=export")
    assert summary(entry) == (c.mod_lee.id, "export", "user", c.pat_bo.id)
    assert (entry["detail"], entry["request_id"]) == ("zip", "export1")


async def test_only_admins_read_the_log(api: Api, community: Community) -> None:
    c = community
    for person in (c.mod_lee, c.pat_ana, c.alum_dee):
        refused_with(await api.get("/api/access-log", person.token), 403, "forbidden")
        csv_reply = await fetch(api, "/api/access-log?format=csv", person)
        assert csv_reply.status == 403
    refused_with(await api.get("/api/access-log"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=bogus", "kind"),
        ("target_type=room", "target_type"),
        ("actor_id=abc", "actor_id"),
        ("actor_id=0", "actor_id"),
        ("target_id=-4", "target_id"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("before=0", "before"),
        ("since=yesterday", "since"),
        ("until=2026-11-02T00:00:00", "until"),
        ("format=xml", "format"),
    ],
)
async def test_a_bad_filter_is_invalid_and_named(
    api: Api, community: Community, query: str, field: str
) -> None:
    reply = await api.get(f"/api/access-log?{query}", community.admin.token)
    refused_with(reply, 422, "invalid", field)
