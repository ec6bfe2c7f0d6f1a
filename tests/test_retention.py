"""Retention by class of record, legal holds, the dry-run report and the command line
(docs/privacy.md: "How long records are kept, and legal holds").

Records are written "days ago" by turning the server's wall clock back while they are written
(`back_in_time`); a run comes due when the test advances the clock by the run interval."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.app import CORE
from server.privacy.holds import holds_covering
from server.reference.http import openapi_document
from tests.conftest import PeerFactory
from tests.processes import run_cli, server_env
from tests.support import (
    Api,
    Community,
    FakeClock,
    Peer,
    Person,
    RunningServer,
    audit,
    create_room,
    joined,
    ok,
    send,
    start_server,
    stored_bodies,
    with_settings,
)
from tests.test_api_reference import DocumentedApi

pytestmark = pytest.mark.persistence

CRISIS = "i want to kill myself"
RUN_EVERY_HOUR = {"retention_interval_hours": 1}


@contextmanager
def back_in_time(clock: FakeClock, days: float) -> Iterator[None]:
    """The server's wall clock `days` earlier while the block runs; no timer moves."""
    clock.current -= timedelta(days=days)
    try:
        yield
    finally:
        clock.current += timedelta(days=days)


async def run_retention(clock: FakeClock) -> None:
    """Advance by the run interval: each server's retention loop looks, and one run is due."""
    await clock.advance(hours=1)


async def sent_days_ago(clock: FakeClock, days: float, who: Peer, room_id: int, body: str) -> int:
    with back_in_time(clock, days):
        return int((await send(who, room_id, body))["id"])


async def report_of(api: Api, admin: Person) -> dict[str, dict[str, Any]]:
    reply = await api.get("/api/retention/report", admin.token)
    assert reply.status == 200, reply.body
    return {each["name"]: each for each in reply.body["report"]["classes"]}


def counts(report: dict[str, dict[str, Any]], name: str) -> tuple[int, int, int]:
    """(due, held, kept open) of one class."""
    each = report[name]
    return each["due"], each["held"], each["kept_open"]


async def run_entries(api: Api, admin: Person) -> list[str]:
    """The reasons of the retention runs' audit entries, oldest first."""
    entries = await audit(api, admin)
    return [entry["reason"] for entry in reversed(entries) if entry["action"] == "retention_run"]


async def place_hold(api: Api, admin: Person, **target: int) -> dict[str, Any]:
    reply = await api.post(
        "/api/legal-holds", {**target, "reason": "Subpoena 2026-114"}, admin.token
    )
    assert reply.status == 201, reply.body
    return dict(reply.body["hold"])


async def lift_hold(api: Api, admin: Person, hold_id: int) -> dict[str, Any]:
    reply = await api.post(
        f"/api/legal-holds/{hold_id}/lift", {"reason": "Case closed"}, admin.token
    )
    assert reply.status == 200, reply.body
    return dict(reply.body["hold"])


async def connected(peer: PeerFactory, person: Person, *room_ids: int) -> Peer:
    socket = await peer(person.token)
    for room_id in room_ids:
        await joined(socket, room_id)
    return socket


async def support_room(api: Api, c: Community, ana: Peer) -> int:
    """Ana's private support conversation, opened by Lee from her crisis alert (acknowledged,
    so nothing about it is open)."""
    await send(ana, c.group_a, CRISIS)
    [alert] = (await api.get("/api/alerts", c.mod_lee.token)).body["alerts"]
    opened = await api.post(f"/api/alerts/{alert['id']}/support", {}, c.mod_lee.token)
    assert opened.status == 200, opened.body
    assert (await api.post(f"/api/alerts/{alert['id']}/ack", {}, c.mod_lee.token)).status == 200
    return int(opened.body["room"]["id"])


# ----- messages, class by class -----


@with_settings(
    retention_group_days=2,
    retention_peer_days=3,
    retention_meeting_days=4,
    retention_support_days=5,
    **RUN_EVERY_HOUR,
)
async def test_each_class_loses_what_is_past_its_period_and_keeps_the_rest(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    meeting = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    ana = await connected(peer, c.pat_ana, c.group_a)
    support = await support_room(api, c, ana)
    dee = await connected(peer, c.alum_dee, c.lounge)
    lee = await connected(peer, c.mod_lee, c.group_a, meeting, support)
    # Each room: one message a day past its period, one a day within it.
    for room_id, writer, period, name in (
        (c.group_a, ana, 2, "group"),
        (c.lounge, dee, 3, "lounge"),
        (meeting, lee, 4, "meeting"),
        (support, lee, 5, "support"),
    ):
        old = await sent_days_ago(clock, period + 1, writer, room_id, f"{name} old")
        await sent_days_ago(clock, period - 1, writer, room_id, f"{name} new")
        if room_id == c.group_a:
            ok(await lee.call("react", {"message_id": old, "emoji": "👍"}))

    before = await report_of(api, c.admin)
    for name in ("group_messages", "peer_messages", "meeting_messages", "support_messages"):
        assert counts(before, name) == (1, 0, 0), (name, before[name])
    assert before["alerts"]["period_days"] == 0 and counts(before, "alerts") == (0, 0, 0)
    await run_retention(clock)

    assert await stored_bodies(api, c.mod_lee, c.group_a) == [CRISIS, "group new"]
    assert await stored_bodies(api, c.mod_lee, c.lounge) == ["lounge new"]
    assert await stored_bodies(api, c.mod_lee, meeting) == ["meeting new"]
    assert await stored_bodies(api, c.mod_lee, support) == ["support new"]
    history = ok(await ana.call("history", {"room_id": c.group_a}))
    assert [message["body"] for message in history["messages"]] == [CRISIS, "group new"]
    # Old records leave quietly: nobody in the room is told anything.
    await ana.barrier()
    assert ana.received("message_deleted") == [] and lee.received("message_deleted") == []

    assert await run_entries(api, c.admin) == [
        "deleted group_messages 1, peer_messages 1, meeting_messages 1, support_messages 1;"
        " held by legal holds 0"
    ]
    after = await report_of(api, c.admin)
    assert all(counts(after, name) == (0, 0, 0) for name in after)


@with_settings(retention_group_days=2, retention_batch_size=2, **RUN_EVERY_HOUR)
async def test_a_run_deletes_in_batches_until_nothing_is_due(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a)
    for n in range(5):
        await sent_days_ago(clock, 3, ana, c.group_a, f"old {n}")
    await send(ana, c.group_a, "today")
    assert counts(await report_of(api, c.admin), "group_messages") == (5, 0, 0)
    await run_retention(clock)
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["today"]
    assert await run_entries(api, c.admin) == ["deleted group_messages 5; held by legal holds 0"]


# ----- alerts and reports -----


@with_settings(
    retention_group_days=2, retention_peer_days=2, retention_alert_days=3, **RUN_EVERY_HOUR
)
async def test_closed_cases_go_after_their_period_and_open_ones_keep_their_message(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    lee = c.mod_lee.token
    ana = await connected(peer, c.pat_ana, c.group_a)
    avi = await connected(peer, c.pat_avi, c.group_a)
    dee = await connected(peer, c.alum_dee, c.commons)
    with back_in_time(clock, 5):
        await send(ana, c.group_a, CRISIS)
        dismissed = await send(avi, c.group_a, "dismissed long ago")
        resolved = await send(avi, c.group_a, "resolved yesterday")
        still_open = await send(dee, c.commons, "reported, not yet looked at")
        reports = {
            message["id"]: (
                await api.post(
                    f"/api/messages/{message['id']}/reports",
                    {"reason": "unkind"},
                    (c.pat_bo if message is still_open else c.pat_ana).token,
                )
            ).body["report"]["id"]
            for message in (dismissed, resolved, still_open)
        }
    alerts = {
        alert["message_id"]: alert for alert in (await api.get("/api/alerts", lee)).body["alerts"]
    }
    crisis = next(alert for alert in alerts.values() if alert["kind"] == "crisis")
    with back_in_time(clock, 4):
        resolve = {"resolution": "dismissed"}
        assert (
            await api.post(f"/api/reports/{reports[dismissed['id']]}/resolve", resolve, lee)
        ).status == 200
    with back_in_time(clock, 1):
        assert (await api.post(f"/api/alerts/{crisis['id']}/ack", {}, lee)).status == 200
        actioned = {"resolution": "actioned"}
        assert (
            await api.post(f"/api/reports/{reports[resolved['id']]}/resolve", actioned, lee)
        ).status == 200

    report = await report_of(api, c.admin)
    # Every message is past its period; the open report keeps the one it is about.
    assert counts(report, "group_messages") == (3, 0, 0)
    assert counts(report, "peer_messages") == (0, 0, 1)
    # Closed 4 days ago: due; closed yesterday: not yet; open for 5 days: kept.
    assert counts(report, "alerts") == (1, 0, 1)
    assert counts(report, "reports") == (1, 0, 1)
    await run_retention(clock)

    assert await stored_bodies(api, c.mod_lee, c.group_a) == []
    assert await stored_bodies(api, c.mod_lee, c.commons) == ["reported, not yet looked at"]
    kept_alerts = {
        alert["id"]: alert
        for alert in (await api.get("/api/alerts?status=all", lee)).body["alerts"]
    }
    assert alerts[dismissed["id"]]["id"] not in kept_alerts
    # A case kept after its message went keeps its own excerpt of it.
    assert kept_alerts[crisis["id"]]["message_id"] is None
    assert kept_alerts[crisis["id"]]["excerpt"] == CRISIS
    assert kept_alerts[alerts[resolved["id"]]["id"]]["message_id"] is None
    assert kept_alerts[alerts[still_open["id"]]["id"]]["message_id"] == still_open["id"]
    kept_reports = {
        each["id"]: each for each in (await api.get("/api/reports?status=all", lee)).body["reports"]
    }
    assert set(kept_reports) == {reports[resolved["id"]], reports[still_open["id"]]}
    assert kept_reports[reports[resolved["id"]]]["message_id"] is None
    assert kept_reports[reports[resolved["id"]]]["message"] is None
    assert kept_reports[reports[still_open["id"]]]["message"]["body"] == still_open["body"]
    assert await run_entries(api, c.admin) == [
        "deleted group_messages 3, peer_messages 0, alerts 1, reports 1; held by legal holds 0"
    ]


@with_settings(retention_alert_days=3, **RUN_EVERY_HOUR)
async def test_no_alert_of_a_person_goes_while_one_of_theirs_is_open(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    lee = c.mod_lee.token
    ana = await connected(peer, c.pat_ana, c.group_a)
    with back_in_time(clock, 5):
        await send(ana, c.group_a, CRISIS)
        [first] = (await api.get("/api/alerts", lee)).body["alerts"]
        assert (await api.post(f"/api/alerts/{first['id']}/ack", {}, lee)).status == 200
    await send(ana, c.group_a, "i'm going to kill myself")
    assert counts(await report_of(api, c.admin), "alerts") == (0, 0, 1)
    await run_retention(clock)
    assert len((await api.get("/api/alerts?status=all", lee)).body["alerts"]) == 2

    [second] = (await api.get("/api/alerts", lee)).body["alerts"]
    assert (await api.post(f"/api/alerts/{second['id']}/ack", {}, lee)).status == 200
    assert counts(await report_of(api, c.admin), "alerts") == (1, 0, 0)
    await run_retention(clock)
    [left] = (await api.get("/api/alerts?status=all", lee)).body["alerts"]
    assert left["id"] == second["id"]


# ----- legal holds -----


@with_settings(retention_group_days=2, **RUN_EVERY_HOUR)
async def test_a_hold_on_a_room_keeps_its_messages_until_it_is_lifted(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock, server: RunningServer
) -> None:
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a)
    bo = await connected(peer, c.pat_bo, c.group_b)
    await sent_days_ago(clock, 3, ana, c.group_a, "held")
    await sent_days_ago(clock, 3, bo, c.group_b, "not held")
    hold = await place_hold(api, c.admin, room_id=c.group_a)
    assert hold["active"] and hold["room_id"] == c.group_a and hold["user"] is None
    assert hold["placed_by"]["id"] == c.admin.id and hold["reason"] == "Subpoena 2026-114"
    async with server.app[CORE].sessions() as session:
        assert [each.id for each in await holds_covering(session, room_id=c.group_a)] == [
            hold["id"]
        ]
        assert await holds_covering(session, room_id=c.group_b) == []

    assert counts(await report_of(api, c.admin), "group_messages") == (1, 1, 0)
    await run_retention(clock)
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["held"]
    assert await stored_bodies(api, c.mod_lee, c.group_b) == []

    lifted = await lift_hold(api, c.admin, hold["id"])
    assert not lifted["active"] and lifted["lifted_by"]["id"] == c.admin.id
    assert lifted["lifted_at"] is not None
    assert counts(await report_of(api, c.admin), "group_messages") == (1, 0, 0)
    await run_retention(clock)
    assert await stored_bodies(api, c.mod_lee, c.group_a) == []

    assert await run_entries(api, c.admin) == [
        "deleted group_messages 1; held by legal holds 1",
        "deleted group_messages 1; held by legal holds 0",
    ]
    placed, lift = [
        entry
        for entry in reversed(await audit(api, c.admin, c.group_a))
        if entry["action"].startswith("legal_hold_")
    ]
    assert placed["action"] == "legal_hold_placed" and placed["actor"]["id"] == c.admin.id
    assert placed["reason"] == f"hold {hold['id']}: Subpoena 2026-114"
    assert (
        lift["action"] == "legal_hold_lifted"
        and lift["reason"] == f"hold {hold['id']}: Case closed"
    )
    listed = await api.get("/api/legal-holds?status=lifted", c.admin.token)
    assert [each["id"] for each in listed.body["holds"]] == [hold["id"]]
    assert (await api.get("/api/legal-holds", c.admin.token)).body["holds"] == []


@with_settings(
    retention_group_days=2, retention_peer_days=2, retention_audit_days=2, **RUN_EVERY_HOUR
)
async def test_a_hold_on_a_person_keeps_their_messages_everywhere_and_the_audit_about_them(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock, server: RunningServer
) -> None:
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a, c.commons)
    avi = await connected(peer, c.pat_avi, c.group_a)
    await sent_days_ago(clock, 3, ana, c.group_a, "ana in her group")
    await sent_days_ago(clock, 3, ana, c.commons, "ana in the commons")
    await sent_days_ago(clock, 3, avi, c.group_a, "avi in his group")
    with back_in_time(clock, 3):
        for person in (c.pat_ana, c.pat_avi):
            mute = {"user_id": person.id, "minutes": 5, "reason": f"mute {person.username}"}
            assert (
                await api.post(f"/api/rooms/{c.group_a}/mutes", mute, c.mod_lee.token)
            ).status == 201
    hold = await place_hold(api, c.admin, user_id=c.pat_ana.id)
    assert hold["user"]["id"] == c.pat_ana.id and hold["room_id"] is None
    async with server.app[CORE].sessions() as session:
        covering = await holds_covering(session, user_id=c.pat_ana.id)
        assert [each.id for each in covering] == [hold["id"]]
        assert await holds_covering(session, user_id=c.pat_avi.id) == []

    report = await report_of(api, c.admin)
    assert counts(report, "group_messages") == (1, 1, 0)
    assert counts(report, "peer_messages") == (0, 1, 0)
    assert counts(report, "audit_entries") == (1, 1, 0)
    await run_retention(clock)
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["ana in her group"]
    assert await stored_bodies(api, c.mod_lee, c.commons) == ["ana in the commons"]
    mutes = [entry["reason"] for entry in await audit(api, c.admin) if entry["action"] == "mute"]
    assert mutes == ["mute pat_ana"]

    await lift_hold(api, c.admin, hold["id"])
    await run_retention(clock)
    assert await stored_bodies(api, c.mod_lee, c.group_a) == []
    assert await stored_bodies(api, c.mod_lee, c.commons) == []
    assert [entry for entry in await audit(api, c.admin) if entry["action"] == "mute"] == []
    async with server.app[CORE].sessions() as session:
        assert await holds_covering(session, user_id=c.pat_ana.id) == []


# ----- who may, and what is refused -----


async def test_retention_and_holds_are_for_admins_only(
    api: Api, community: Community, server: RunningServer
) -> None:
    c = community
    hold = await place_hold(api, c.admin, room_id=c.group_a)
    calls = [
        ("GET", "/api/retention/report", None),
        ("GET", "/api/legal-holds", None),
        ("POST", "/api/legal-holds", {"room_id": c.group_a, "reason": "mine"}),
        ("POST", f"/api/legal-holds/{hold['id']}/lift", {}),
    ]
    for method, path, body in calls:
        for person in (c.mod_lee, c.pat_ana):
            reply = await api.call(method, path, token=person.token, json=body)
            assert reply.status == 403 and reply.error_code == "forbidden", (path, reply.body)
        reply = await api.call(method, path, json=body)
        assert reply.status == 401 and reply.error_code == "unauthorized", (path, reply.body)
    # Nothing the refused calls asked for happened.
    [still] = (await api.get("/api/legal-holds", c.admin.token)).body["holds"]
    assert still["id"] == hold["id"] and still["active"]

    # The admin's answers fit the documented shapes.
    call = DocumentedApi(api, openapi_document(server.app))
    await call("GET", "/api/retention/report", c.admin.token)
    await call("GET", "/api/legal-holds", c.admin.token, query="?status=all")
    placed = await call(
        "POST", "/api/legal-holds", c.admin.token, json={"user_id": c.pat_bo.id, "reason": "x"}
    )
    await call(
        "POST", "/api/legal-holds/{id}/lift", c.admin.token, json={}, id=placed["hold"]["id"]
    )


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "no target"},
        {"room_id": 1, "user_id": 1, "reason": "both"},
        {"room_id": 1},
        {"room_id": 1, "reason": ""},
        {"room_id": 1, "reason": "   "},
        {"room_id": 1, "reason": "x" * 501},
        {"room_id": "1", "reason": "a string id"},
        {"room_id": 0, "reason": "zero"},
        {"user_id": -3, "reason": "negative"},
        {"user_id": 1.5, "reason": "a fraction"},
        {"room_id": 1, "reason": ["a list"]},
        [],
        "a string",
    ],
)
async def test_a_malformed_hold_is_invalid(api: Api, community: Community, body: Any) -> None:
    reply = await api.post("/api/legal-holds", body, community.admin.token)
    assert reply.status == 422 and reply.error_code == "invalid", reply.body
    assert (await api.get("/api/legal-holds?status=all", community.admin.token)).body["holds"] == []


async def test_unknown_rooms_people_and_holds_are_not_found_and_a_hold_lifts_once(
    api: Api, community: Community
) -> None:
    admin = community.admin.token
    for target in ({"room_id": 999_999}, {"user_id": 999_999}):
        reply = await api.post("/api/legal-holds", {**target, "reason": "x"}, admin)
        assert reply.status == 404 and reply.error_code == "not_found", reply.body
    reply = await api.post("/api/legal-holds/999999/lift", {}, admin)
    assert reply.status == 404 and reply.error_code == "not_found", reply.body
    for path in ("/api/legal-holds/abc/lift", "/api/legal-holds/0/lift"):
        reply = await api.post(path, {}, admin)
        assert reply.status == 422 and reply.error_code == "invalid", reply.body
    reply = await api.get("/api/legal-holds?status=everything", admin)
    assert reply.status == 422 and reply.error_code == "invalid", reply.body

    hold = await place_hold(api, community.admin, user_id=community.pat_ana.id)
    reply = await api.post(f"/api/legal-holds/{hold['id']}/lift", {"reason": 5}, admin)
    assert reply.status == 422 and reply.error_code == "invalid", reply.body
    await lift_hold(api, community.admin, hold["id"])
    reply = await api.post(f"/api/legal-holds/{hold['id']}/lift", {}, admin)
    assert reply.status == 409 and reply.error_code == "conflict", reply.body
    lifts = [e for e in await audit(api, community.admin) if e["action"] == "legal_hold_lifted"]
    assert len(lifts) == 1


# ----- one run at a time, the defaults, and the command line -----


@with_settings(retention_group_days=2, **RUN_EVERY_HOUR)
async def test_two_processes_on_one_database_run_it_once_an_interval(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock, server: RunningServer
) -> None:
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a)
    await clock.advance(minutes=30)
    # A second process on the same database, looking every hour half an hour after the first.
    other = await start_server(server.settings, clock)
    try:
        await sent_days_ago(clock, 3, ana, c.group_a, "first")
        await clock.advance(minutes=30)  # the first process looks: never run, so it runs
        await sent_days_ago(clock, 3, ana, c.group_a, "second")
        await clock.advance(minutes=30)  # the second looks: the last run ended 30 minutes ago
        assert await stored_bodies(api, c.mod_lee, c.group_a) == ["second"]
        await clock.advance(minutes=30)  # the first looks: an hour since, due again
        await clock.advance(minutes=30)  # the second looks: not due
        assert await stored_bodies(api, c.mod_lee, c.group_a) == []
        assert await run_entries(api, c.admin) == [
            "deleted group_messages 1; held by legal holds 0",
            "deleted group_messages 1; held by legal holds 0",
        ]
    finally:
        await other.stop()


@with_settings(retention_group_days=2, **RUN_EVERY_HOUR)
async def test_two_processes_looking_at_the_same_moment_run_it_once(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock, server: RunningServer
) -> None:
    c = community
    other = await start_server(server.settings, clock)
    try:
        ana = await connected(peer, c.pat_ana, c.group_a)
        await sent_days_ago(clock, 3, ana, c.group_a, "old")
        await run_retention(clock)
        assert await run_entries(api, c.admin) == [
            "deleted group_messages 1; held by legal holds 0"
        ]
    finally:
        await other.stop()


async def test_by_default_everything_is_kept_for_ever(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a)
    await sent_days_ago(clock, 3650, ana, c.group_a, "ten years ago")
    report = await report_of(api, c.admin)
    assert all(each["period_days"] == 0 for each in report.values())
    await clock.advance(hours=23)  # a day of runs, had there been a loop
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["ten years ago"]
    assert await run_entries(api, c.admin) == []


@pytest.mark.slow
async def test_the_command_line_reports_then_applies(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock,
    server: RunningServer, tmp_path: Path,
) -> None:  # fmt: skip
    c = community
    ana = await connected(peer, c.pat_ana, c.group_a)
    # The command runs on the real clock; this server's stands at the same time.
    await sent_days_ago(clock, 3, ana, c.group_a, "old")
    await send(ana, c.group_a, "new")
    env = server_env(server.settings.database_url, tmp_path, retention_group_days="2")

    dry = await run_cli(env, "retention", "--dry-run")
    assert "group_messages\t2 days\t1\t0\t0" in dry, dry
    assert "peer_messages\tfor ever\t0\t0\t0" in dry, dry
    assert "last run: never" in dry, dry
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["old", "new"]

    applied = await run_cli(env, "retention", "--apply")
    assert "deleted group_messages 1" in applied, applied
    assert await stored_bodies(api, c.mod_lee, c.group_a) == ["new"]
    assert await run_entries(api, c.admin) == ["deleted group_messages 1; held by legal holds 0"]
    again = await run_cli(env, "retention", "--dry-run")
    assert "group_messages\t2 days\t0\t0\t0" in again and "last run: never" not in again, again
