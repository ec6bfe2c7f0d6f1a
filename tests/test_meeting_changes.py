"""Changing a meeting: cancelling one occurrence with a reason, changing the series. The
meeting's members and staff are told at once, a member of another cohort is not, and each
change is audited (docs/meetings.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import PeerFactory
from tests.support import Api, Community, FakeClock, audit, barrier, create_room, parse_utc


async def tomorrows_series(
    api: Api, c: Community, clock: FakeClock, rrule: str, **extra: object
) -> tuple[int, int, datetime]:
    """A series of Cohort A's meeting room from 18:00 UTC tomorrow: room, meeting, first start."""
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    first = (clock.now() + timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
    created = await api.post(
        "/api/meetings",
        {"title": "Evening group", "room_id": room, "rrule": rrule,
         "starts_at": first.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC",
         "duration_minutes": 180, "lobby_minutes": 15, **extra},
        c.mod_lee.token,
    )  # fmt: skip
    assert created.status == 201, created.body
    return room, int(created.body["meeting"]["id"]), first


async def test_a_cancelled_session_is_told_to_its_members_with_the_reason(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    room, meeting, first = await tomorrows_series(api, c, clock, "FREQ=DAILY")
    ana, bo, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_bo, c.mod_lee)]

    starts_at = first.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"occurrence": starts_at, "reason": "The clinic is closed for training."}
    cancelled = await api.post(f"/api/meetings/{meeting}/cancel", body, c.mod_lee.token)
    assert cancelled.status == 200, cancelled.body

    for person in (ana, lee):
        notice = await person.wait_for("notice", lambda n: n.get("kind") == "meeting_cancelled")
        assert notice["meeting_id"] == meeting and notice["room_id"] == room, notice
        assert notice["reason"] == "The clinic is closed for training.", notice
        assert "Evening group" in notice["text"] and "closed for training" in notice["text"]
    await barrier(bo)
    assert not [n for n in bo.events["notice"] if n.get("kind") == "meeting_cancelled"]

    # Cancelling it again changes nothing and tells nobody again.
    again = await api.post(f"/api/meetings/{meeting}/cancel", body, c.mod_lee.token)
    assert again.status == 200, again.body
    await barrier(ana)
    assert len([n for n in ana.events["notice"] if n.get("kind") == "meeting_cancelled"]) == 1
    [entry] = [e for e in await audit(api, c.mod_lee) if e["action"] == "meeting_cancelled"]
    assert entry["room_id"] == room and "closed for training" in entry["reason"], entry


async def test_a_reason_longer_than_300_characters_is_invalid(
    api: Api, community: Community
) -> None:
    reply = await api.post(
        "/api/meetings/1/cancel",
        {"occurrence": "2026-12-07T18:00:00Z", "reason": "x" * 301},
        community.mod_lee.token,
    )
    assert reply.status == 422 and reply.error_code == "invalid", reply.body


async def test_a_changed_series_is_checked_told_to_its_members_and_audited(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    _, meeting, _ = await tomorrows_series(
        api, c, clock, "FREQ=WEEKLY;BYDAY=MO", video_url="https://video.example.org/a"
    )
    ana, bo = await peer(c.pat_ana.token), await peer(c.pat_bo.token)

    for bad in ({"rrule": "FREQ=SOMETIMES"}, {"timezone": "Mars/Olympus"},
                {"duration_minutes": 0}, {"title": ""}, {"starts_at": "tomorrow"}):  # fmt: skip
        reply = await api.call("PATCH", f"/api/meetings/{meeting}", token=c.mod_lee.token, json=bad)
        assert reply.status == 422 and reply.error_code == "invalid", (bad, reply.body)
    refused = await api.call(
        "PATCH", f"/api/meetings/{meeting}", token=c.pat_ana.token, json={"title": "Mine"}
    )
    assert refused.status == 403 and refused.error_code == "forbidden", refused.body

    changed = await api.call(
        "PATCH",
        f"/api/meetings/{meeting}",
        token=c.mod_lee.token,
        json={"rrule": "FREQ=WEEKLY;BYDAY=TU,TH", "duration_minutes": 150, "video_url": None},
    )
    assert changed.status == 200, changed.body
    series = changed.body["meeting"]
    assert (series["rrule"], series["duration_minutes"]) == ("FREQ=WEEKLY;BYDAY=TU,TH", 150)
    assert series["video_url"] is None and series["title"] == "Evening group"

    notice = await ana.wait_for("notice", lambda n: n.get("kind") == "meeting_changed")
    assert notice["meeting"] == series, notice
    assert notice["changed"] == ["duration_minutes", "rrule", "video_url"], notice
    await barrier(bo)
    assert not [n for n in bo.events["notice"] if n.get("kind") == "meeting_changed"]
    upcoming = await api.get("/api/meetings/upcoming?days=14", c.pat_ana.token)
    weekdays = {parse_utc(o["starts_at"]).weekday() for o in upcoming.body["occurrences"]}
    assert weekdays == {1, 3}, upcoming.body  # Tuesdays and Thursdays
    entries = [e for e in await audit(api, c.mod_lee) if e["action"] == "meeting_changed"]
    assert len(entries) == 1 and "rrule" in entries[0]["reason"], entries


async def test_a_server_without_a_media_server_gives_no_video_pass(
    api: Api, community: Community, clock: FakeClock
) -> None:
    """make run's default: no Janus is set, so a meeting has its outside link at most."""
    _, meeting, _ = await tomorrows_series(api, community, clock, "FREQ=DAILY")
    reply = await api.post(f"/api/meetings/{meeting}/video", {}, community.pat_ana.token)
    assert reply.status == 404 and reply.error_code == "not_found", reply.body
    assert "media server" in reply.body["error"]["message"], reply.body
