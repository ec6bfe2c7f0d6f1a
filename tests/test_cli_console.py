"""The console's tasks on the command line (docs/console.md, "command line"): each command run
as `peerrooms` in a process of its own on the database of a running server, its effect read
back through the API, and bad input or a refusal giving its error and changing nothing."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.cli.main import build_parser
from tests.conftest import PeerFactory
from tests.processes import CliOutcome, run_cli_outcome, server_env
from tests.support import (
    PASSWORD,
    Api,
    Community,
    FakeClock,
    Person,
    RunningServer,
    audit,
    ban,
    consent_version,
    create_room,
    daily_series,
)
from tests.test_alert_escalation import crisis_in_group_a
from tests.test_push import CRISIS
from tests.test_report_queue import reported

ADMIN = ("--as", "admin")
SITE = "https://rooms.example.org"
CHICAGO = ZoneInfo("America/Chicago")
CONSOLE_PAGE = Path(__file__).parents[1] / "docs" / "console.md"


@pytest.fixture
def env(server: RunningServer, tmp_path: Path) -> dict[str, str]:
    """A `peerrooms` process's settings, on the running server's database."""
    return server_env(server.settings.database_url, tmp_path, public_url=SITE)


async def said(env: dict[str, str], *args: str) -> str:
    """What a command that must succeed printed on stdout."""
    outcome = await run_cli_outcome(env, *args)
    assert outcome.returncode == 0, outcome
    return outcome.stdout


async def listed(env: dict[str, str], *args: str) -> list[list[str]]:
    """A listing command's tab-separated lines, its header first."""
    return [line.split("\t") for line in (await said(env, *args)).splitlines()]


def refused(outcome: CliOutcome, exit_code: int, message: str) -> None:
    assert outcome.returncode == exit_code, outcome
    assert outcome.stdout == "" and message in outcome.stderr, outcome


# (arguments, exit code, what stderr says): 2 for input that could never be right, 1 for a
# refusal or a name nothing has.
Refusal = tuple[tuple[str, ...], int, str]


async def all_refused(env: dict[str, str], refusals: list[Refusal]) -> None:
    """Each command run, a few at a time (each is a process of its own), and refused so."""
    at_once = asyncio.Semaphore(4)

    async def run(args: tuple[str, ...]) -> CliOutcome:
        async with at_once:
            return await run_cli_outcome(env, *args)

    outcomes = await asyncio.gather(*(run(args) for args, _, _ in refusals))
    for outcome, (args, exit_code, message) in zip(outcomes, refusals, strict=True):
        assert outcome.returncode == exit_code, (args, outcome)
        refused(outcome, exit_code, message)


async def api_csv(api: Api, who: Person, path: str) -> str:
    async with api.session.get(
        f"{api.base_url}{path}", headers={"Authorization": f"Bearer {who.token}"}
    ) as response:
        assert response.status == 200 and response.content_type == "text/csv", response
        return await response.text()


async def got(api: Api, who: Person, path: str) -> Any:
    reply = await api.get(path, who.token)
    assert reply.status == 200, reply.body
    return reply.body


async def signs_in(api: Api, username: str) -> int:
    reply = await api.post("/api/auth/login", {"username": username, "password": PASSWORD})
    return reply.status


def cli_rows(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["action"] == action]


# ----- people and invites -----


async def test_a_person_is_read_graduated_deactivated_and_reactivated(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    page = await listed(env, "person-page", "--username", "pat_ana", *ADMIN)
    facts = {row[0]: row[1] for row in page[1:]}
    assert (facts["username"], facts["alias"], facts["role"], facts["cohorts"]) == (
        "pat_ana", "Ana", "patient", "Cohort A",
    )  # fmt: skip
    # A read of a person's page, as the API's is, in the access log: by the admin, from here.
    reads = await got(api, c.admin, f"/api/access-log?kind=person&target_id={c.pat_ana.id}")
    assert [(e["actor"]["id"], e["request_id"]) for e in reads["entries"]] == [(c.admin.id, "cli")]

    assert "pat_ana (Ana) graduated" in await said(env, "graduate", "--username", "pat_ana", *ADMIN)
    person = await got(api, c.admin, f"/api/users/{c.pat_ana.id}")
    assert person["user"]["role"] == "alumni" and person["user"]["graduated_at"]

    await said(env, "deactivate", "--username", "pat_avi", *ADMIN)
    assert await signs_in(api, "pat_avi") == 403
    [row] = cli_rows(await audit(api, c.admin), "account_deactivated")
    assert (row["actor"]["id"], row["target_user"]["id"], row["reason"]) == (
        c.admin.id, c.pat_avi.id, "cli",
    )  # fmt: skip
    await said(env, "reactivate", "--username", "pat_avi", "--as", "mod_lee")
    assert await signs_in(api, "pat_avi") == 200


async def test_an_invite_prints_its_link_and_is_listed_and_revoked(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    made = await said(env, "invite", "--role", "patient", "--cohort", "Cohort A", "--uses", "2")
    code, link = made.splitlines()
    assert link.startswith(f"link: {SITE}/#/register?code={code} (2 uses, until "), link

    usable = await listed(env, "invites", "--as", "mod_lee")
    assert usable[0] == ["id", "code", "role", "cohort", "uses", "expires", "revoked", "link"]
    [row] = [row for row in usable if row[1] == code]
    assert row[2:5] + row[6:] == [
        "patient", "Cohort A", "0/2", "no", f"{SITE}/#/register?code={code}",
    ]  # fmt: skip

    said_revoked = await said(env, "revoke-invite", "--code", code, "--as", "mod_lee")
    assert f"invite {row[0]} revoked" in said_revoked
    registering = await api.post(
        "/api/auth/register",
        {"invite_code": code, "username": "pat_new", "display_name": "Newcomer",
         "password": PASSWORD, "consent_version": await consent_version(api)},
    )  # fmt: skip
    assert (registering.status, registering.error_code) == (403, "forbidden"), registering.body
    assert code not in [row[1] for row in await listed(env, "invites", *ADMIN)]
    every = await listed(env, "invites", "--all", *ADMIN)
    assert [row[6] for row in every if row[1] == code] == ["yes"]
    [revoked] = cli_rows(await audit(api, c.admin), "invite_revoked")
    assert revoked["actor"]["id"] == c.mod_lee.id and revoked["reason"].startswith("cli: ")


# ----- cohorts and rooms -----


async def test_cohorts_and_rooms_are_made_renamed_archived_and_listed(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    await said(env, "create-cohort", "--name", "Cohort C", *ADMIN)
    await said(env, "rename-cohort", "--cohort", "Cohort C", "--name", "Spring", *ADMIN)
    assert "Spring" in await said(env, "archive-cohort", "--cohort", "Spring", *ADMIN)
    cohorts = {each["name"]: each for each in (await got(api, c.admin, "/api/cohorts"))["cohorts"]}
    assert cohorts["Spring"]["archived"] is True and "Cohort C" not in cohorts
    assert [row[1] for row in await listed(env, "cohorts", "--active", *ADMIN)][1:] == [
        "Cohort A", "Cohort B",
    ]  # fmt: skip
    archived, renamed = cli_rows(await audit(api, c.admin), "cohort_changed")  # newest first
    assert archived["reason"].startswith("cli: ") and "archived" in archived["reason"]
    assert renamed["reason"].startswith("cli: ") and "Cohort C -> Spring" in renamed["reason"]

    await said(env, "create-room", "--name", "Group C", "--kind", "group", "--audience",
               "cohort", "--cohort", "Cohort A", *ADMIN)  # fmt: skip
    await said(env, "room", "--room", "Group C", "--name", "Group A too", "--topic", "Tuesdays",
               "--slow-mode", "30", *ADMIN)  # fmt: skip
    rooms = {room["name"]: room for room in (await got(api, c.admin, "/api/rooms"))["rooms"]}
    made = rooms["Group A too"]
    assert (made["kind"], made["cohort_id"], made["topic"], made["slow_mode_s"]) == (
        "group", c.cohort_a, "Tuesdays", 30,
    )  # fmt: skip
    [row] = [row for row in await listed(env, "rooms", *ADMIN) if row[1] == "Group A too"]
    assert row[2:] == ["group", "cohort", "Cohort A", "Tuesdays", "no", "30", "no"]

    people = await listed(env, "room-people", "--room", "Group A", *ADMIN)
    assert people == [
        ["id", "alias", "role", "may enter", "in the room now"],
        [str(c.pat_ana.id), "Ana", "patient", "yes", "no"],
        [str(c.pat_avi.id), "Avi", "patient", "yes", "no"],
    ]


async def test_a_room_is_archived_still_found_by_its_name_and_brought_back(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    archived = await said(env, "room", "--room", "Group B", "--archive", *ADMIN)
    assert archived.startswith(f"room Group B (id {c.group_b}): archived,"), archived
    rooms = await got(api, c.admin, "/api/rooms")
    assert "Group B" not in [room["name"] for room in rooms["rooms"]]
    # Its audit log, by the name it had when archived.
    kept = await said(env, "audit", "--room", "Group B", *ADMIN)
    assert [(row["action"], row["room_id"]) for row in csv.DictReader(io.StringIO(kept))][0] == (
        "room_archived", str(c.group_b),
    )  # fmt: skip

    # A new room takes the name; bringing "Group B" back means the archived one.
    newer = await create_room(
        api, c.mod_lee, name="Group B", kind="group", audience="cohort", cohort_id=c.cohort_b
    )
    every = await listed(env, "rooms", "--all", *ADMIN)
    assert every[0][-1] == "archived"
    assert [(row[0], row[-1]) for row in every if row[1] == "Group B"] == [
        (str(c.group_b), "yes"), (str(newer), "no"),
    ]  # fmt: skip
    await said(env, "room", "--room", "Group B", "--bring-back", *ADMIN)
    after = {room["id"]: room for room in (await got(api, c.admin, "/api/rooms"))["rooms"]}
    assert after[c.group_b]["archived"] is False and after[newer]["archived"] is False
    entries = await audit(api, c.admin, c.group_b)
    assert [(e["action"], e["actor"]["id"], e["reason"][:3]) for e in entries][:2] == [
        ("room_unarchived", c.admin.id, "cli"), ("room_archived", c.admin.id, "cli"),
    ]  # fmt: skip


# ----- sessions -----


def utc_start(day: date, at: time) -> str:
    moment = datetime.combine(day, at, tzinfo=CHICAGO).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_a_series_and_a_one_off_are_scheduled_and_a_session_cancelled_and_moved(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    await said(env, "create-room", "--name", "Evening", "--kind", "meeting", "--audience",
               "cohort", "--cohort", "Cohort A", *ADMIN)  # fmt: skip
    today = datetime.now(CHICAGO).date()
    monday = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    last = monday + timedelta(days=13)  # a Sunday: two weeks of Mondays and Wednesdays
    scheduled = await said(
        env, "schedule", "--title", "Evening group", "--room", "Evening", "--weekdays",
        "Mon,we", "--time", "18:00", "--timezone", "America/Chicago", "--duration", "90",
        "--lobby", "10", "--start", monday.isoformat(), "--end", last.isoformat(), *ADMIN,
    )  # fmt: skip
    series = int(scheduled.split()[1])
    await said(env, "add-session", "--title", "Extra", "--room", "Evening", "--date",
               (monday + timedelta(days=3)).isoformat(), "--time", "10:00", "--timezone",
               "America/Chicago", "--duration", "60", *ADMIN)  # fmt: skip

    meetings = {m["title"]: m for m in (await got(api, c.admin, "/api/meetings"))["meetings"]}
    evening, extra = meetings["Evening group"], meetings["Extra"]
    assert evening["id"] == series and evening["rrule"].startswith("FREQ=WEEKLY;BYDAY=MO,WE;")
    assert (evening["starts_at"], evening["duration_minutes"], evening["lobby_minutes"]) == (
        f"{monday}T18:00:00", 90, 10,
    )  # fmt: skip
    wanted = [utc_start(monday + timedelta(days=n), time(18)) for n in (0, 2, 7, 9)]

    async def starts(meeting: int) -> list[str]:
        path = f"/api/meetings/{meeting}/occurrences?past_days=0&days=60"
        return [each["starts_at"] for each in (await got(api, c.admin, path))["occurrences"]]

    assert await starts(series) == wanted  # the end date is the last day's sessions' end
    assert await starts(extra["id"]) == [utc_start(monday + timedelta(days=3), time(10))]
    sessions = await listed(env, "sessions", "--meeting", str(series), "--days", "60", *ADMIN)
    assert [row[0] for row in sessions[1:]] == wanted
    assert sessions[1][1:3] == [f"Mon {monday} 18:00", "scheduled"]

    await said(env, "cancel-session", "--meeting", str(series), "--occurrence", wanted[1],
               "--reason", "Staff training day", "--as", "mod_lee")  # fmt: skip
    moved_to = f"{monday + timedelta(days=8)}T19:00"
    await said(env, "move-session", "--meeting", str(series), "--occurrence", wanted[2],
               "--to", moved_to, "--reason", "The room is booked", *ADMIN)  # fmt: skip
    after = {m["id"]: m for m in (await got(api, c.admin, "/api/meetings"))["meetings"]}[series]
    assert after["cancelled"] == [wanted[1]]
    assert after["moved"] == [
        {"from": wanted[2], "to": utc_start(monday + timedelta(days=8), time(19))}
    ]
    entries = await audit(api, c.admin)
    for action in ("meeting_cancelled", "meeting_moved"):
        [row] = cli_rows(entries, action)
        assert row["reason"].startswith("cli: "), row


async def test_a_series_is_edited_as_the_consoles_form_edits_it(
    api: Api, community: Community, env: dict[str, str], clock: FakeClock
) -> None:
    c = community
    first = (clock.now() + timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
    _, series = await daily_series(api, c, first)
    last = first.date() + timedelta(days=20)

    async def meeting() -> dict[str, Any]:
        every = (await got(api, c.admin, "/api/meetings"))["meetings"]
        return next(each for each in every if each["id"] == series)

    before = await meeting()
    edit = ("edit-series", "--meeting", str(series))
    await all_refused(env, [
        ((*edit, "--weekdays", "Funday", *ADMIN), 2, "--weekdays: 'Funday' is not a day"),
        ((*edit, "--weekdays", "MO", "--end", str(first.date() - timedelta(days=1)), *ADMIN),
         2, f"--end: give a day on or after --start ({first.date()})."),
        ((*edit, "--end", str(last), *ADMIN), 2, "this series meets on no weekdays"),
        ((*edit, "--duration", "0", *ADMIN), 2, "duration_minutes:"),
        ((*edit, "--time", "19:70", *ADMIN), 2, "--time: use a time of day"),
        ((*edit, "--title", "Mine", "--as", "pat_ana"), 1, "--as: pat_ana is not staff"),
    ])  # fmt: skip
    assert await meeting() == before

    edited = await said(env, *edit, "--title", "Evenings", "--weekdays", "tu,th", "--time",
                        "19:30", "--timezone", "America/Chicago", "--duration", "60", "--lobby",
                        "5", "--end", str(last), "--video-url", "https://video.example.org/a",
                        *ADMIN)  # fmt: skip
    assert edited.startswith(f"meeting {series} changed (title, rrule, starts_at, timezone,")
    rule = f"FREQ=WEEKLY;BYDAY=TU,TH;UNTIL={last:%Y%m%d}T235959"
    changed = await meeting()
    assert {name: changed[name] for name in ("title", "rrule", "starts_at", "timezone")} == {
        "title": "Evenings", "rrule": rule, "starts_at": f"{first.date()}T19:30:00",
        "timezone": "America/Chicago",
    }  # fmt: skip
    assert (changed["duration_minutes"], changed["lobby_minutes"], changed["video_url"]) == (
        60, 5, "https://video.example.org/a",
    )  # fmt: skip
    # Audited by the service call that tells its members, as the API's is.
    [row] = cli_rows(await audit(api, c.admin), "meeting_changed")
    assert row["actor"]["id"] == c.admin.id and row["reason"].startswith("cli: Evenings: "), row

    # A last day alone keeps the days; taking it away keeps them too, and the link goes.
    await said(env, *edit, "--end", str(last + timedelta(days=7)), "--as", "mod_lee")
    later = f"FREQ=WEEKLY;BYDAY=TU,TH;UNTIL={last + timedelta(days=7):%Y%m%d}T235959"
    assert (await meeting())["rrule"] == later
    await said(env, *edit, "--no-end", "--video-url", "", *ADMIN)
    ended = await meeting()
    assert (ended["rrule"], ended["video_url"]) == ("FREQ=WEEKLY;BYDAY=TU,TH", None)


# ----- moderation -----


async def test_the_queue_is_listed_and_each_item_closed_with_what_was_done(
    api: Api, server: RunningServer, community: Community, env: dict[str, str], peer: PeerFactory
) -> None:
    c = community
    crisis = await crisis_in_group_a(api, server, c, peer)
    dismissed, dismissed_alert = await reported(api, c, peer)
    actioned, actioned_alert = await reported(api, c, peer)

    queue = await listed(env, "queue", *ADMIN)
    why = ", ".join(part for part in (crisis["category"], crisis["severity"]) if part)
    reports = await got(api, c.admin, "/api/reports")
    raised = {report["id"]: report["created_at"] for report in reports["reports"]}
    assert queue == [
        ["item", "alert", "report", "raised (UTC)", "room", "writer", "words", "why"],
        ["crisis", str(crisis["id"]), "-", crisis["created_at"], "Group A", "Ana", CRISIS, why],
        ["report", str(dismissed_alert), str(dismissed), raised[dismissed], "Group A", "Avi",
         "you are all pathetic", "Ana: rude"],
        ["report", str(actioned_alert), str(actioned), raised[actioned], "Group A", "Avi",
         "you are all pathetic", "Ana: rude"],
    ]  # fmt: skip
    # Read as through the API: in the access log, by the admin, from here.
    for kind in ("alerts", "reports"):
        reads = (await got(api, c.admin, f"/api/access-log?kind={kind}"))["entries"]
        assert [e["actor"]["id"] for e in reads if e["request_id"] == "cli"] == [c.admin.id]

    # What closes one kind of item does not close the other: refused, and nothing closed.
    await all_refused(env, [
        (("acknowledge", "--alert", str(crisis["id"]), "--outcome", "dismissed", *ADMIN), 2,
         "--outcome: for an alert, use one of reached_out, emergency_services, not_a_crisis,"
         " other."),
        (("acknowledge", "--report", str(dismissed), "--outcome", "not_a_crisis", *ADMIN), 2,
         "--outcome: for a report, use one of dismissed, actioned."),
    ])  # fmt: skip
    assert len((await got(api, c.admin, "/api/alerts"))["alerts"]) == 3

    await said(env, "acknowledge", "--alert", str(crisis["id"]), "--outcome", "reached_out",
               "--note", "called her", "--as", "mod_lee")  # fmt: skip
    closed = await said(env, "acknowledge", "--report", str(dismissed), "--outcome", "dismissed",
                        "--note", "banter", *ADMIN)  # fmt: skip
    assert closed == f"report {dismissed} dismissed; its alert acknowledged with it\n"
    closed = await said(env, "acknowledge", "--alert", str(actioned_alert), "--outcome",
                        "emergency_services", *ADMIN)  # fmt: skip
    assert closed == (
        f"alert {actioned_alert} acknowledged: emergency_services; report {actioned} closed"
        " with it\n"
    )

    assert (await got(api, c.admin, "/api/alerts"))["alerts"] == []
    assert (await got(api, c.admin, "/api/reports"))["reports"] == []
    alerts = {a["id"]: a for a in (await got(api, c.admin, "/api/alerts?status=all"))["alerts"]}
    assert (alerts[crisis["id"]]["outcome"], alerts[crisis["id"]]["note"]) == (
        "reached_out", "called her",
    )  # fmt: skip
    assert alerts[crisis["id"]]["acked_by"]["id"] == c.mod_lee.id
    assert alerts[dismissed_alert]["status"] == "acknowledged"
    every = {r["id"]: r for r in (await got(api, c.admin, "/api/reports?status=all"))["reports"]}
    assert (every[dismissed]["status"], every[dismissed]["note"]) == ("dismissed", "banter")
    assert every[actioned]["status"] == "actioned"
    entries = await audit(api, c.admin)
    assert [row["reason"] for row in cli_rows(entries, "report_dismissed")] == ["cli: banter"]
    assert "cli: outcome: reached_out; called her" in [
        row["reason"] for row in cli_rows(entries, "alert_acknowledged")
    ]


async def test_mutes_and_bans_in_force_are_listed_and_one_is_lifted(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community
    muted = await api.post(
        f"/api/rooms/{c.group_a}/mutes",
        {"user_id": c.pat_ana.id, "minutes": 60, "reason": "cool off"},
        c.mod_lee.token,
    )
    assert muted.status == 201, muted.body
    await ban(api, c, c.commons, c.pat_bo.id)

    rows = await listed(env, "restrictions", *ADMIN)
    assert rows[0] == ["kind", "room", "user id", "alias", "until", "by", "reason"]
    seen = sorted((r[0], r[1], r[2], r[3], r[4] == "until lifted", r[5], r[6]) for r in rows[1:])
    assert seen == [
        ("ban", "Commons", str(c.pat_bo.id), "Bo", True, "Lee", "testing"),
        ("mute", "Group A", str(c.pat_ana.id), "Ana", False, "Lee", "cool off"),
    ]  # fmt: skip
    assert [row[0] for row in await listed(env, "restrictions", "--room", "Group A", *ADMIN)] == [
        "kind", "mute",
    ]  # fmt: skip

    lifted = await said(env, "lift", "--kind", "mute", "--room", "Group A", "--username",
                        "pat_ana", *ADMIN)  # fmt: skip
    assert "mute of pat_ana in Group A lifted" in lifted
    assert (await got(api, c.admin, f"/api/rooms/{c.group_a}/mutes"))["mutes"] == []
    assert len((await got(api, c.admin, f"/api/rooms/{c.commons}/bans"))["bans"]) == 1
    [row] = cli_rows(await audit(api, c.admin), "unmute")
    assert (row["actor"]["id"], row["room_id"], row["reason"]) == (c.admin.id, c.group_a, "cli")


# ----- records -----


async def test_the_audit_log_and_attendance_come_out_as_the_apis_csv(
    api: Api, community: Community, env: dict[str, str], clock: FakeClock, tmp_path: Path
) -> None:
    c = community
    for who in (c.pat_ana, c.pat_avi):
        kicked = await api.post(
            f"/api/rooms/{c.group_a}/kicks", {"user_id": who.id, "reason": "x"}, c.mod_lee.token
        )
        assert kicked.status == 201, kicked.body
    deactivated = await api.post(f"/api/users/{c.pat_avi.id}/deactivate", token=c.mod_lee.token)
    assert deactivated.status == 200, deactivated.body
    today = clock.now().date()
    cli = await said(env, "audit", "--username", "pat_avi", *ADMIN)
    assert cli == await api_csv(api, c.admin, f"/api/audit?user_id={c.pat_avi.id}&format=csv")
    assert [row["action"] for row in csv.DictReader(io.StringIO(cli))] == [
        "account_deactivated", "kick",
    ]  # fmt: skip
    out = tmp_path / "kicks.csv"
    wrote = await said(env, "audit", "--room", "Group A", "--action", "kick", "--from",
                       str(today), "--to", str(today), "--out", str(out), *ADMIN)  # fmt: skip
    assert wrote == f"wrote 2 rows to {out}\n"
    day = f"since={today}T00:00:00Z&until={today + timedelta(days=1)}T00:00:00Z"
    path = f"/api/audit?room_id={c.group_a}&action=kick&{day}&format=csv"
    assert out.read_bytes().decode() == await api_csv(api, c.admin, path)

    # Three daily sessions of Cohort A so far, today's live, where Ana checks in low.
    first = (clock.now() - timedelta(days=2)).replace(second=0, microsecond=0)
    _, meeting = await daily_series(api, c, first)
    checked_in = await api.post(f"/api/meetings/{meeting}/checkins", {"mood": 2}, c.pat_ana.token)
    assert checked_in.status == 201, checked_in.body
    cli = await said(env, "attendance", "--cohort", "Cohort A", "--from", str(first.date()),
                     "--to", str(today), *ADMIN)  # fmt: skip
    since, until = f"{first.date()}T00:00:00Z", f"{today + timedelta(days=1)}T00:00:00Z"
    path = f"/api/attendance?cohort_id={c.cohort_a}&since={since}&until={until}&format=csv"
    assert cli == await api_csv(api, c.admin, path)
    rows = list(csv.DictReader(io.StringIO(cli)))
    assert len(rows) == 6 and {row["meeting"] for row in rows} == {"Evening group"}
    assert [(r["date"], r["mood"], r["low_mood"]) for r in rows if r["display_name"] == "Ana"][
        -1
    ] == (str(today), "2", "yes")
    reads = await got(api, c.admin, "/api/access-log?kind=attendance")
    assert [(e["target_type"], e["target_id"], e["request_id"]) for e in reads["entries"]
            if e["actor"]["id"] == c.admin.id][-1] == ("cohort", c.cohort_a, "cli")  # fmt: skip


# ----- bad input and refusals -----

SCHEDULE = (
    "schedule", "--title", "Evening group", "--room", "Group A", "--weekdays", "MO",
    "--time", "18:00", "--timezone", "America/Chicago", "--duration", "90",
    "--start", "2027-03-01", *ADMIN,
)  # fmt: skip
ONE_OFF = (
    "add-session", "--title", "Extra", "--room", "Group A", "--date", "2027-03-04",
    "--timezone", "America/Chicago", "--duration", "60", *ADMIN,
)  # fmt: skip
RANGE = ("--from", "2026-11-01", "--to", "2026-11-14")

REFUSALS: list[Refusal] = [
    (("graduate", "--username", "nobody", *ADMIN), 1, "No such user named 'nobody'."),
    (("person-page", "--username", "nobody", *ADMIN), 1, "No such user named 'nobody'."),
    (("attendance", "--cohort", "Nobody's", *RANGE, *ADMIN), 1, "No such cohort named"),
    (("invite", "--role", "patient", "--cohort", "Nobody's"), 1, "No such cohort named"),
    (("room", "--room", "Nowhere", "--topic", "x", *ADMIN), 1, "No such room named 'Nowhere'."),
    (("lift", "--kind", "ban", "--room", "Commons", "--username", "pat_ana", *ADMIN), 1,
     "No such ban of that user in this room."),
    (("graduate", "--username", "alum_dee", *ADMIN), 1, "already graduated"),
    (("deactivate", "--username", "admin", *ADMIN), 1, "You cannot deactivate your own"),
    (("deactivate", "--username", "admin", "--as", "mod_lee"), 1, "Only an admin can"),
    (("graduate", "--username", "pat_ana", "--as", "pat_bo"), 1, "--as: pat_bo is not staff"),
    (("graduate", "--username", "pat_ana"), 2, "the following arguments are required: --as"),
    (("audit", "--from", "2026-02-30", *ADMIN), 2, "--from: use a date such as 2027-03-01."),
    (("attendance", "--cohort", "Cohort A", "--from", "2026-11-14", "--to", "2026-11-01",
      *ADMIN), 2, "--to: give a day on or after --from."),
    (("audit", *RANGE, "--timezone", "Mars/Olympus", *ADMIN), 2, "--timezone: use an IANA"),
    (("invite", "--role", "patient", "--uses", "0"), 2, "max_uses:"),
    (("revoke-invite", "--id", "0", *ADMIN), 2, "use a whole number from 1"),
    (("create-room", "--name", "X", "--kind", "group", "--audience", "cohort", *ADMIN), 2,
     "cohort_id is required when audience is 'cohort'"),
    ((*SCHEDULE, "--weekdays", "Funday"), 2, "--weekdays: 'Funday' is not a day"),
    ((*SCHEDULE, "--end", "2027-02-28"), 2, "--end: give a day on or after --start"),
    ((*ONE_OFF, "--time", "25:00"), 2, "--time: use a time of day such as 18:00."),
    ((*ONE_OFF, "--time", "10:00"), 2, "room_id: choose a room of kind 'meeting'."),
    (("edit-series", "--meeting", "999", "--title", "x", *ADMIN), 1, "No such meeting."),
    (("edit-series", "--meeting", "1", *ADMIN), 2, "edit-series: give what to change"),
    (("acknowledge", "--alert", "999", "--outcome", "other", *ADMIN), 1, "No such alert."),
    (("acknowledge", "--report", "999", "--outcome", "actioned", *ADMIN), 1,
     "No such report."),
    (("acknowledge", "--alert", "1", "--report", "1", "--outcome", "other", *ADMIN), 2,
     "argument --report: not allowed with argument --alert"),
    (("acknowledge", "--alert", "1", *ADMIN), 2, "the following arguments are required:"
     " --outcome"),
    (("room", "--room", "Group A", "--archive", "--bring-back", *ADMIN), 2,
     "argument --bring-back: not allowed with argument --archive"),
]  # fmt: skip


async def test_bad_input_and_refusals_say_why_and_change_nothing(
    api: Api, community: Community, env: dict[str, str]
) -> None:
    c = community

    async def state() -> list[Any]:
        paths = ("/api/audit?limit=1000", "/api/meetings", "/api/rooms?status=all",
                 "/api/cohorts", "/api/invites?status=all", "/api/users?limit=200")  # fmt: skip
        return [await got(api, c.admin, path) for path in paths]

    before = await state()
    await all_refused(env, REFUSALS)
    assert await state() == before


def test_the_console_page_names_only_commands_that_exist() -> None:
    """docs/console.md's command-line column, against the parser: a renamed command or a
    documented one that was never written fails here."""
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    table = [line for line in CONSOLE_PAGE.read_text().splitlines() if line.startswith("| ")]
    named = {
        found
        for row in table[1:]
        for found in re.findall(r"`(?:peerrooms )?([a-z][a-z-]+)", row.rsplit(" | ", 1)[-1])
    }
    assert len(named) > 20 and named <= set(commands.choices), named - set(commands.choices)
