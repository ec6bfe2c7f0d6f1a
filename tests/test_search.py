"""Message search (docs/protocol-additions.md, "Search"): one finds, newest first, only what
one may read now, each room within its history visibility; never across cohorts, never in a
room one is banned from, never a deleted message, an edited one by its new text only. Checked
on both indexes (SQLite's FTS5 here; PostgreSQL's full text when the suite runs on it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from alembic import command
from sqlalchemy import Connection, TableClause, column, insert, table
from sqlalchemy.ext.asyncio import AsyncSession

from bench.scenarios import search as search_bench
from bench.scenarios.common import Options
from server.kernel.db import UTCDateTime, create_engine
from server.kernel.migrate import alembic_config, upgrade_to_head
from server.reference.http import openapi_document
from server.rooms.http import SEARCH
from server.rooms.search import snippet, terms_of
from server.rooms.search_models import MAX_QUERY_CHARS, MAX_QUERY_WORDS
from server.rooms.search_store import PostgresSearch, search_index_for
from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    Reply,
    RunningServer,
    ban,
    joined,
    ok,
    refused_with,
    register,
    send,
    with_settings,
)
from tests.test_api_reference import DocumentedApi
from tests.test_erasure import approved, asked
from tests.test_retention import RUN_EVERY_HOUR, run_retention, sent_days_ago

pytestmark = pytest.mark.persistence


async def search(api: Api, person: Person, q: str, **params: Any) -> Reply:
    return await api.get("/api/search?" + urlencode({"q": q, **params}), person.token)


async def found(api: Api, person: Person, q: str, **params: Any) -> list[str]:
    """The bodies of every result, page after page, newest first (the snippets of short
    messages are the whole text)."""
    bodies: list[str] = []
    while True:
        reply = await search(api, person, q, **params)
        assert reply.status == 200, reply.body
        bodies += ["".join(run["text"] for run in hit["snippet"]) for hit in reply.body["results"]]
        if reply.body["next_before"] is None:
            return bodies
        params["before"] = reply.body["next_before"]


# ----- who finds what -----


async def test_a_member_finds_the_words_of_the_rooms_they_may_read_newest_first(
    api: Api, server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, bo, dee = (
        await peer(c.pat_ana.token),
        await peer(c.pat_bo.token),
        await peer(c.alum_dee.token),
    )
    walk = await send(ana, c.group_a, "I went for a walk by the river after group")
    await send(bo, c.group_b, "the river was calm this morning")
    await send(dee, c.lounge, "alumni walk by the river on Sunday")
    shared = await send(bo, c.commons, "Anyone up for the River walk?")

    assert await found(api, c.pat_ana, "river") == [
        "Anyone up for the River walk?",
        "I went for a walk by the river after group",
    ]
    # Staff read every room they may enter.
    assert len(await found(api, c.mod_lee, "river")) == 4
    assert await found(api, c.pat_ana, "river", room_id=c.group_a) == [walk["body"]]

    reply = await search(api, c.pat_ana, "RIVER walk")
    hit = reply.body["results"][1]
    assert (hit["author"]["id"], hit["author"]["display_name"]) == (c.pat_ana.id, "Ana")
    assert hit | {"author": None} == {
        "message_id": walk["id"],
        "room_id": c.group_a,
        "room_name": "Group A",
        "author": None,
        "created_at": walk["created_at"],
        "snippet": [
            {"text": "I went for a ", "match": False},
            {"text": "walk", "match": True},
            {"text": " by the ", "match": False},
            {"text": "river", "match": True},
            {"text": " after group", "match": False},
        ],
    }
    assert reply.body["results"][0]["message_id"] == shared["id"]
    # The answer is the documented one.
    call = DocumentedApi(api, openapi_document(server.app))
    await call("GET", "/api/search", c.pat_ana.token, query="?q=river&limit=1")


async def test_a_member_of_another_cohort_finds_nothing_of_a_group_not_theirs(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, "my sponsor Marguerite called me")
    assert await found(api, c.pat_avi, "marguerite") == ["my sponsor Marguerite called me"]
    assert await found(api, c.pat_bo, "marguerite") == []
    assert await found(api, c.pat_bo, "margue") == []
    assert await found(api, c.alum_dee, "marguerite") == []
    refused_with(await search(api, c.pat_bo, "marguerite", room_id=c.group_a), 403, "forbidden")
    refused_with(await search(api, c.pat_bo, "marguerite", room_id=999_999), 404, "not_found")


async def test_after_a_ban_nothing_of_that_room_is_found(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    avi = await peer(c.pat_avi.token)
    await send(avi, c.group_a, "cravings were loud on Friday")
    await send(avi, c.commons, "cravings pass, they always do")
    assert len(await found(api, c.pat_ana, "cravings")) == 2
    await ban(api, c, c.group_a, c.pat_ana.id)
    assert await found(api, c.pat_ana, "cravings") == ["cravings pass, they always do"]
    refused_with(await search(api, c.pat_ana, "cravings", room_id=c.group_a), 403, "banned")


async def test_a_late_member_finds_only_what_the_room_lets_them_read(
    api: Api, community: Community, clock: FakeClock, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await send(ana, c.group_a, "before Cy came: a hard week")
    await clock.advance(minutes=5)
    cy = await register(api, c.mod_lee, "pat_cy", "patient", c.cohort_a)
    await clock.advance(minutes=5)
    await send(ana, c.group_a, "welcome Cy, this week is better")
    assert await found(api, cy, "week") == ["welcome Cy, this week is better"]
    assert await found(api, cy, "week", room_id=c.group_a) == ["welcome Cy, this week is better"]
    assert len(await found(api, c.pat_ana, "week")) == 2
    assert len(await found(api, c.mod_lee, "week")) == 2


async def test_deleted_and_erased_messages_are_never_found_and_an_edit_by_its_new_text(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana, avi, lee = (
        await peer(c.pat_ana.token),
        await peer(c.pat_avi.token),
        await peer(c.mod_lee.token),
    )
    mine = await send(ana, c.group_a, "I told my brother about the relapse")
    unkind = await send(avi, c.group_a, "a cruel word about the relapse")
    edited = await send(ana, c.group_a, "relapse plan draft with tulips")
    assert len(await found(api, c.pat_avi, "relapse")) == 3

    assert (await api.delete(f"/api/messages/{mine['id']}", c.pat_ana.token)).status == 204
    # A moderator's deletion: nobody finds it, the moderator neither.
    assert (await api.delete(f"/api/messages/{unkind['id']}", c.mod_lee.token)).status == 204
    ok(await ana.call("edit", {"message_id": edited["id"], "body": "my plan has daffodils now"}))
    assert await found(api, c.pat_avi, "relapse") == []
    assert await found(api, c.mod_lee, "relapse") == []
    assert await found(api, c.pat_avi, "tulips") == []
    assert await found(api, c.pat_avi, "daffodils") == ["my plan has daffodils now"]

    # Erasure replaces a person's words, and they are found no more (nor the replacement).
    await send(avi, c.commons, "Avi's garden of sunflowers")
    await joined(lee, c.commons)
    await approved(api, c.admin, await asked(api, c.pat_avi))
    assert await found(api, c.mod_lee, "sunflowers") == []
    assert await found(api, c.mod_lee, "removed request") == []


@with_settings(retention_group_days=2, **RUN_EVERY_HOUR)
async def test_messages_retention_deleted_leave_the_index(
    api: Api, community: Community, peer: PeerFactory, clock: FakeClock
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    await sent_days_ago(clock, 3, ana, c.group_a, "an old note about the lighthouse")
    await sent_days_ago(clock, 1, ana, c.group_a, "a newer note about the lighthouse")
    await run_retention(clock)
    assert await found(api, c.pat_ana, "lighthouse") == ["a newer note about the lighthouse"]
    # The index still answers after rows went from under it.
    await send(ana, c.group_a, "lighthouse again")
    assert len(await found(api, c.mod_lee, "lighthouse")) == 2


# ----- what a query finds -----


async def test_every_word_is_needed_the_last_also_as_a_prefix_and_pages_go_back(
    api: Api, community: Community, peer: PeerFactory
) -> None:
    c = community
    ana = await peer(c.pat_ana.token)
    for text in ("sleep came late", "sleeping better now", "better days", "Café au lait, calm"):
        await send(ana, c.group_a, text)
    for number in range(5):
        await send(ana, c.group_a, f"check-in {number}: calm")

    assert await found(api, c.pat_ana, "sleep") == ["sleeping better now", "sleep came late"]
    assert await found(api, c.pat_ana, "better sleep") == ["sleeping better now"]
    # Only the last word stands for longer ones too.
    assert await found(api, c.pat_ana, "sleep better") == []
    assert await found(api, c.pat_ana, "days better") == ["better days"]
    assert await found(api, c.pat_ana, "sl") == []
    assert await found(api, c.pat_ana, "café") == ["Café au lait, calm"]
    assert await found(api, c.pat_ana, "nowhere") == []

    first = await search(api, c.pat_ana, "calm", limit=2)
    assert first.status == 200, first.body
    assert [hit["snippet"][0]["text"] for hit in first.body["results"]] == [
        "check-in 4: ",
        "check-in 3: ",
    ]
    assert first.body["next_before"] == first.body["results"][-1]["message_id"]
    everything = await found(api, c.pat_ana, "calm", limit=2)
    assert everything == [f"check-in {n}: calm" for n in (4, 3, 2, 1, 0)] + ["Café au lait, calm"]


async def test_what_the_newest_messages_do_not_fill_the_index_does(
    api: Api, server: RunningServer, community: Community, peer: PeerFactory
) -> None:
    """PostgreSQL walks the newest messages first, then takes the rest from its index
    (rooms/search_store.py): with a window of three messages, both looks are taken."""
    if not isinstance(server.app[SEARCH].index, PostgresSearch):
        pytest.skip("PostgreSQL's two looks; SQLite's index gives every match newest first")
    server.app[SEARCH].index = PostgresSearch(recent_window=3)
    c = community
    ana = await peer(c.pat_ana.token)
    for number in range(8):
        await send(ana, c.group_a, f"note {number}" + (": calm" if number in (0, 1, 6) else ""))
    assert await found(api, c.pat_ana, "calm") == ["note 6: calm", "note 1: calm", "note 0: calm"]
    assert await found(api, c.pat_ana, "calm", limit=1) == [
        "note 6: calm",
        "note 1: calm",
        "note 0: calm",
    ]
    assert await found(api, c.pat_ana, "nowhere") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "?! … --"}, "q"),
        ({"q": "x" * (MAX_QUERY_CHARS + 1)}, "q"),
        ({"q": " ".join(f"w{n}" for n in range(MAX_QUERY_WORDS + 1))}, "q"),
        ({"q": "calm", "limit": "0"}, "limit"),
        ({"q": "calm", "limit": "51"}, "limit"),
        ({"q": "calm", "before": "0"}, "before"),
        ({"q": "calm", "room_id": "one"}, "room_id"),
    ],
)
async def test_a_malformed_query_is_invalid(
    api: Api, community: Community, params: dict[str, str], field: str
) -> None:
    reply = await api.get("/api/search?" + urlencode(params), community.pat_ana.token)
    refused_with(reply, 422, "invalid", field)


async def test_a_search_needs_a_sign_in(api: Api) -> None:
    refused_with(await api.get("/api/search?q=calm"), 401, "unauthorized")


# ----- the migration -----


def upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def older_table(name: str, *names: str) -> TableClause:
    """A table as an older revision has it: these columns, and `created_at` stored as the
    models store times."""
    return table(name, *(column(each) for each in names), column("created_at", UTCDateTime()))


async def test_the_migration_indexes_the_messages_already_stored(database_url: str) -> None:
    """Messages stored before the index (revision 0016) are found after the upgrade."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    person = {"id": 1, "username": "pat_old", "display_name": "Old", "role": "patient"}
    room = {"id": 1, "name": "Commons", "kind": "peer", "audience": "everyone", "topic": ""}
    limits = {"locked": False, "slow_mode_s": 0, "contact_policy": "mask"}
    said = ("the harbour at dawn", "calm water", "harbour lights")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0016")
            users = older_table("user", *person, "password_hash")
            await connection.execute(
                insert(users), [{**person, "password_hash": "-", "created_at": now}]
            )
            rooms = older_table("room", *room, *limits)
            await connection.execute(insert(rooms), [{**room, **limits, "created_at": now}])
            messages = older_table(
                "message", "room_id", "author_id", "body", "client_id", "deleted"
            )
            written = {"room_id": 1, "author_id": 1, "deleted": False, "created_at": now}
            rows = [{**written, "body": body, "client_id": body} for body in said]
            await connection.execute(insert(messages), rows)
        await upgrade_to_head(engine)
        async with AsyncSession(engine) as session:
            index = search_index_for(engine.dialect.name)
            hits = await index.newest_matching(
                session, terms_of("harbour"), {1: 0}, before=None, limit=5
            )
        assert [hit.body for hit in hits] == ["harbour lights", "the harbour at dawn"]
    finally:
        await engine.dispose()


# ----- snippets -----


def runs(text: str, q: str) -> list[tuple[str, bool]]:
    return [(run["text"], run["match"]) for run in snippet(text, terms_of(q))]


def test_a_snippet_is_plain_text_cut_around_the_first_match() -> None:
    assert runs('<b onclick="x()">river</b> & <script>', "river") == [
        ('<b onclick="x()">', False),
        ("river", True),
        ("</b> & <script>", False),
    ]
    long = " ".join(f"word{n}" for n in range(60)) + " the lighthouse " + "tail " * 40
    cut = runs(long, "lighthouse")
    text = "".join(part for part, _ in cut)
    assert text.startswith("…word") and text.endswith("…") and len(text) <= 170
    assert ("lighthouse", True) in cut
    assert runs("Line one\n\nline   two", "two") == [("Line one line ", False), ("two", True)]
    assert runs("Un café, merci", "cafe") == [("Un ", False), ("café", True), (", merci", False)]
    assert runs("sleeping is hard", "slee") == [("sleeping", True), (" is hard", False)]


# ----- the benchmark, at its smallest -----


async def test_the_benchmark_scenario_runs_at_smoke_size(tmp_path: Path) -> None:
    """On SQLite only, which takes seconds (PostgreSQL's seeding and vacuum take longer:
    `python -m bench search --smoke` runs both)."""
    size = replace(search_bench.SMOKE, databases=("sqlite",))
    data = await search_bench.run(Options(smoke=True, out=tmp_path, workers=1), size)
    [result] = data["results"].values()
    assert result["queries"] == size.queries and result["p99"] is not None
    assert set(result["by_kind"]) == {"common", "rare", "two words", "prefix", "absent"}
