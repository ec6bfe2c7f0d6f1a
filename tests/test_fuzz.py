"""Generated input, everywhere: Hypothesis throws payloads at every Socket.IO event, at the
socket as raw frames, and at every HTTP endpoint of a running server, and after each one
checks what must hold whatever arrives:

- no answer is a 5xx (or an `internal` ack), and every refusal has the contract's error shape;
- the caller's connection survives and still sends;
- nothing crosses rooms: a member of another cohort receives nothing (but the ids and counts
  of activity in the rooms open to everyone), a bystander in the caller's group receives only
  that group's events (and that activity), another cohort's stored messages never change;
- nothing acknowledged is lost: every message acknowledged as sent is stored, with the body of
  its last acknowledged edit, until an acknowledged delete.

Each run tries fresh random examples for about 15 seconds; `FUZZ_EXAMPLES=5000 pytest
tests/test_fuzz.py` tries that many per test. A failure prints `@reproduce_failure` to replay it.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from server.app import EVENTS
from server.kernel.errors import STATUS_BY_CODE
from tests.conftest import PeerFactory
from tests.support import (
    PASSWORD,
    Api,
    Community,
    Peer,
    Person,
    Reply,
    RunningServer,
    register,
    send,
    stored_messages,
    with_settings,
)

# The fuzz signs in and out at will, and guesses at passwords: sign-in throttling (tested in
# test_security) would soon answer every sign-in with 429 here.
pytestmark = [
    pytest.mark.persistence,
    with_settings(signin_failures_per_account=10**6, signin_failures_per_address=10**6),
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def budget(examples: int) -> settings:
    """`examples` fresh random examples per run (FUZZ_EXAMPLES: that many instead). Fresh, not
    the same ones every run: a fixed set tried once only ever finds what it found once (a
    planted fault in `react` went unseen by one derandomised set, and was found in each of
    three random runs). A failure prints the seed that reproduces it."""
    return settings(
        max_examples=EXAMPLES or examples,
        database=None,
        print_blob=True,
        deadline=None,
        # One server and one community serve every example of a test: that is the point
        # (state builds up across examples), not a mistake.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ----- values -----

EDGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30]
EDGE_STRINGS = [
    "",
    " ",
    "\x00",
    "\n\r\t",
    "\u202e\u200b\ufeff",
    "\ud800",
    "💀" * 40,
    "x" * 4001,
    "é" * 5000,
    "'; DROP TABLE message; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00%0d%0a",
    "1e309",
    "NaN",
    "null",
    "{}",
    "BEGIN:VEVENT\r\nEND:VCALENDAR",
    "javascript:alert(1)",
    "https://example.org/\nX-Header: 1",
    "want to kill myself",
]

integers = st.one_of(st.integers(-3, 5), st.sampled_from(EDGE_INTS), st.integers())
texts = st.one_of(st.text(max_size=30), st.sampled_from(EDGE_STRINGS))
scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(allow_nan=False), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Field:
    """A payload field: values the server should accept, and values it must refuse."""

    good: st.SearchStrategy[Any]
    junk: st.SearchStrategy[Any] = json_values


def known(values: list[Any]) -> Field:
    return Field(st.sampled_from(values))


def mutated(fields: dict[str, Field]) -> st.SearchStrategy[Any]:
    """A payload that gets past validation often enough to reach the code behind it: every
    field good; every field good but one (junk, or left out); any mix, with stray keys; or
    something that is not an object at all."""
    if not fields:
        return json_values
    good = st.fixed_dictionaries({name: f.good for name, f in fields.items()})

    def one_off(payload: dict[str, Any], name: str, junk: Any, drop: bool) -> dict[str, Any]:
        changed = {k: v for k, v in payload.items() if k != name}
        return changed if drop else {**changed, name: junk}

    one_bad = st.sampled_from(sorted(fields)).flatmap(
        lambda name: st.builds(one_off, good, st.just(name), fields[name].junk, st.booleans())
    )
    mixed = st.fixed_dictionaries(
        {}, optional={name: st.one_of(f.good, f.junk) for name, f in fields.items()}
    )
    stray = st.dictionaries(st.sampled_from(["id", "extra", "__proto__", "room"]), json_values)
    with_stray = st.builds(lambda a, b: {**b, **a}, mixed, stray)
    return st.one_of(good, good, good, one_bad, one_bad, with_stray, json_values)


# ----- the world every test fuzzes -----


class World:
    """pat_ana fuzzes; pat_avi (cohort A, group A) and pat_bo (cohort B, group B) watch.
    (Not a dataclass: Hypothesis prints a dataclass field by field with every failure.)"""

    def __init__(
        self,
        server: RunningServer,
        api: Api,
        community: Community,
        peers: tuple[Peer, Peer, Peer],
        messages: list[dict[str, Any]],
        invite: str,
    ) -> None:
        c = community
        self.server, self.api, self.community = server, api, community
        self.ana, self.avi, self.bo = peers
        self.rooms = [c.group_a, c.group_b, c.lounge, c.commons]
        self.messages: list[int] = [int(m["id"]) for m in messages]
        self.invite = invite
        # What the server acknowledged: message id -> (room, current body); deleted ids.
        self.stored = {
            m["id"]: (m["room_id"], m["body"]) for m in messages if m["room_id"] != c.group_b
        }
        self.deleted: set[int] = set()
        self.group_b: list[Any] = []

    def __repr__(self) -> str:  # Hypothesis prints it with every failing example
        return f"World(stored={len(self.stored)}, deleted={sorted(self.deleted)})"

    def room_ids(self) -> Field:
        return Field(st.sampled_from(self.rooms), st.one_of(integers, json_values))

    def message_ids(self) -> Field:
        # Drawn by position, newest first: the list grows as the run goes on, and Hypothesis
        # needs every example to draw the same way (a sampled_from over it would not).
        latest = st.integers(0, 20).map(self._recent_message)
        return Field(latest, st.one_of(integers, json_values))

    def _recent_message(self, n: int) -> int:
        """The n-th newest message not deleted yet (the fuzz deletes often)."""
        live = [m for m in self.messages if m not in self.deleted] or self.messages
        return live[-1 - n % len(live)]

    def acknowledged(self, event: str, payload: Any, ack: dict[str, Any]) -> None:
        """Remember what an accepted event promised."""
        if not ack.get("ok"):
            return
        message = ack.get("message")
        if event in ("send", "edit") and isinstance(message, dict):
            self.stored[message["id"]] = (message["room_id"], message["body"])
            self.messages.append(message["id"])
        if event == "delete":
            self.deleted.add(payload["message_id"])

    async def history(self, room: int) -> list[dict[str, Any]]:
        return await stored_messages(self.api, self.community.admin.token, room)

    async def check(self) -> None:
        """The invariants, after every example."""
        c = self.community
        assert self.ana.client.connected, "the fuzzing connection was dropped"
        for watcher in (self.avi, self.bo):
            await watcher.barrier()
        leaked = {
            event: data
            for event, data in self.bo.events.items()
            if data and not told_of(event, data, {c.commons})
        }
        assert not leaked, f"a member of cohort B received {leaked}"
        for event, data in self.avi.events.items():
            if told_of(event, data, {c.group_a, c.commons}):
                continue
            rooms = {item.get("room_id", c.group_a) for item in data if isinstance(item, dict)}
            assert rooms <= {c.group_a}, f"pat_avi received {event} of rooms {rooms}"
        assert await self.history(c.group_b) == self.group_b, "group B's messages changed"
        rooms = {room for room, _ in self.stored.values()}
        kept = {m["id"]: m for room in rooms for m in await self.history(room)}
        for message_id, (_, body) in self.stored.items():
            if message_id in self.deleted:
                continue
            assert message_id in kept, f"acknowledged message {message_id} was lost"
            got = kept[message_id]
            assert not got.get("deleted") and got["body"] == body, (
                f"message {message_id} is {got}, acknowledged as {body!r}"
            )


ACTIVITY = {
    "room_activity": {"room_id", "message_id", "count"},
    "room_mention": {"room_id", "message_id"},
}


def told_of(event: str, data: list[Any], readable: set[int]) -> bool:
    """Activity of rooms the watcher may read and is not in (server/rooms/activity.py): their
    ids and a count, nothing more."""
    fields = ACTIVITY.get(event)
    return fields is not None and all(
        isinstance(item, dict) and set(item) == fields and item["room_id"] in readable
        for item in data
    )


@pytest.fixture
async def world(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> AsyncIterator[World]:
    c = community
    ana, avi, bo, lee = [await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.pat_bo, c.mod_lee)]
    for who, room in ((ana, c.group_a), (avi, c.group_a), (bo, c.group_b), (ana, c.commons)):
        assert (await who.call("join", {"room_id": room}))["ok"]
    own = await send(ana, c.group_a, "my own words")
    others = await send(lee, c.group_a, "a moderator's words")
    closed = await send(bo, c.group_b, "group B words")
    invite = await api.post(
        "/api/invites", {"role": "patient", "cohort_id": c.cohort_a}, c.mod_lee.token
    )
    made = World(
        server, api, c, (ana, avi, bo), [own, others, closed], invite.body["invite"]["code"]
    )
    await bo.barrier()
    await avi.barrier()
    bo.events.clear()
    avi.events.clear()
    made.group_b = await made.history(c.group_b)
    yield made


def check_ack(event: str, ack: Any) -> None:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), f"{event}: ack {ack!r}"
    if ack["ok"]:
        return
    error = ack.get("error")
    assert isinstance(error, dict), f"{event}: refusal without an error: {ack!r}"
    assert error.get("code") in STATUS_BY_CODE, f"{event}: unknown code: {ack!r}"
    assert error["code"] != "internal", f"{event}: the server failed: {ack!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"{event}: {ack!r}"


# ----- Socket.IO events -----


FUZZED_EVENTS = (
    "join",
    "leave",
    "send",
    "edit",
    "delete",
    "react",
    "typing",
    "history",
    "pin",
    "unpin",
    "pins",
)


def event_payloads(w: World, event: str) -> st.SearchStrategy[Any]:
    room, message = w.room_ids(), w.message_ids()
    body = Field(st.text(min_size=1, max_size=300).filter(str.strip), st.one_of(texts, json_values))
    client_id = Field(st.text(min_size=1, max_size=64), st.one_of(texts, json_values))
    emoji = Field(st.sampled_from(["👍", "❤️", "🙏", "💪", "🤗"]), st.one_of(texts, json_values))
    cursor = Field(st.integers(1, 2**31 - 1), st.one_of(integers, json_values))
    limit = Field(st.integers(1, 100), st.one_of(integers, json_values))
    fields: dict[str, dict[str, Field]] = {
        "join": {"room_id": room, "since": cursor},
        "leave": {"room_id": room},
        "send": {"room_id": room, "body": body, "client_id": client_id},
        "edit": {"message_id": message, "body": body},
        "delete": {"message_id": message},
        "react": {"message_id": message, "emoji": emoji},
        "typing": {"room_id": room},
        "history": {"room_id": room, "before": cursor, "limit": limit},
        # A patient may not pin: what is fuzzed here is the checking before that refusal.
        "pin": {"room_id": room, "message_id": message},
        "unpin": {"room_id": room, "message_id": message},
        "pins": {"room_id": room},
    }
    assert tuple(fields) == FUZZED_EVENTS
    return mutated(fields[event])


@budget(80)
@given(data=st.data())
async def test_generated_events_keep_every_invariant(world: World, data: st.DataObject) -> None:
    # Every event, in a drawn order, then the checks: each event is tried in every example,
    # and may act on what the one before made (an edit of the message just sent).
    for event in data.draw(st.permutations(FUZZED_EVENTS), label="order"):
        payload = data.draw(event_payloads(world, event), label=event)
        ack = await world.ana.call(event, payload)
        check_ack(event, ack)
        world.acknowledged(event, payload, ack)
    await world.check()


# ----- raw frames -----

# Frames that begin with "0" or "1" are the namespace handshake (CONNECT, DISCONNECT): the
# server refuses a second CONNECT, and the python-socketio client then counts itself gone;
# test_security checks the server side of that. Every other frame must leave the socket be.
frames = st.one_of(
    st.text(max_size=60),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["2", "3", "4", "5", "6", "7", "9", "", "/chat,", "2/", "21"]),
            st.sampled_from(["", "1", "99", "-1", "1e9"]),
            json_values.map(json.dumps),
        ),
    ),
    st.builds(
        lambda name, args: "2" + json.dumps([name, *args]),
        st.sampled_from(["connect", "disconnect", "send", "join", "message", ""]),
        st.lists(json_values, max_size=3),
    ),
)


@budget(100)
@given(frame=frames)
async def test_generated_frames_are_dropped_and_the_socket_goes_on(
    world: World, frame: str
) -> None:
    assume(not frame.startswith(("0", "1")))
    # Straight onto the engine.io transport, as a hostile client would write them.
    await world.ana.client.eio.send(frame)
    ack = await world.ana.call("history", {"room_id": world.community.group_a, "limit": 1})
    check_ack("history", ack)
    assert ack["ok"], f"after {frame!r}: {ack}"
    await world.check()


# ----- HTTP endpoints -----

NON_JSON_BODIES = ["", "{", "[1,", "null", '"text"', "\x00\xff", "{" * 5000, "1" * 100_000]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    query: tuple[str, ...]
    body: dict[str, Any] | None  # the request body's schema


async def endpoints(w: World) -> list[Endpoint]:
    """Every operation the running server documents."""
    reply = await w.api.get("/api/openapi.json")
    document = reply.body
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            query = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json")
            body = resolve_schema(document, schema["schema"]) if schema else None
            found.append(Endpoint(method.upper(), path, query, body))
    return found


def resolve_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def field_for(w: World, name: str, schema: dict[str, Any]) -> Field:
    """Good values of a body field, from what the world holds or from its schema."""
    c = w.community
    people = [p.id for p in c.people.values()]
    by_name: dict[str, list[Any]] = {
        "room_id": w.rooms,
        "cohort_id": [c.cohort_a, c.cohort_b, None],
        "user_id": people,
        "invite_code": [w.invite],
        "rrule": ["FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=DAILY;COUNT=3", "FREQ=SECONDLY", "RRULE:;"],
        "timezone": ["America/Chicago", "UTC", "Mars/Olympus"],
        "video_url": ["https://meet.example.org/a", "http://x", "javascript:alert(1)"],
        "starts_at": ["2026-12-07T15:00:00Z", "2026-13-45T99:00", "2026-12-07T09:00"],
        "occurrence": ["2026-12-07T15:00:00.000Z", "2026-02-30T10:00:00Z"],
        "username": ["pat_ana", "newcomer", "a", "x" * 40],
        "password": ["correct horse battery", "short"],
    }
    if name in by_name:
        return known(by_name[name])
    return Field(from_schema(schema))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a JSON schema of the kinds our models produce allows (enough to pass, often)."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return st.one_of(*[from_schema(option) for option in options])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    if kind == "integer":
        return st.integers(low, schema.get("maximum", 2**31 - 1))
    if kind == "number":
        return st.floats(low, schema.get("maximum", 1e6))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=3)
    if kind == "string":
        longest = min(schema.get("maxLength", 60), 60)
        return st.text(min_size=schema.get("minLength", 0), max_size=longest)
    return json_values


def body_for(w: World, schema: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    properties = (schema or {}).get("properties", {})
    return mutated({name: field_for(w, name, each) for name, each in properties.items()})


def path_with(w: World, path: str, draw: Any) -> str:
    ids = st.sampled_from([*w.rooms, *w.messages, *[p.id for p in w.community.people.values()]])
    weird = st.sampled_from(["abc", "-1", "0", "1.5", "1e3", "%00", "%2F..", "9" * 30, "%20"])
    for name in ("{id}", "{user_id}"):
        if name in path:
            value = draw(st.one_of(ids, ids, ids, weird, json_values))
            text = value if isinstance(value, str) else json.dumps(value)
            safe = "".join(ch for ch in text if ch in SAFE_PATH)[:1000]  # under the line limit
            path = path.replace(name, safe or "x")
    return path


SAFE_PATH = string.ascii_letters + string.digits + "-._~%"


@dataclass
class Caller:
    """Who calls: nobody, a forged token, or a person (signed in again whenever the fuzz has
    signed them out or deactivated them, so that the rest of the run is not all 401s)."""

    name: str
    token: str | None
    person: Person | None = None

    async def renew(self, w: World) -> None:
        if self.person is None:
            return
        login = await sign_in_reply(w.api, self.person.username)
        if login.status != 200:
            admin = w.community.admin.token
            await w.api.post(f"/api/users/{self.person.id}/reactivate", token=admin)
            login = await sign_in_reply(w.api, self.person.username)
        assert login.status == 200, login
        self.token = login.body["token"]


# Hypothesis bounds what one example may draw, and a request to each of a hundred endpoints
# overran it (every example was thrown away): an example takes the first this many of a
# drawn order, and a run's examples still reach every endpoint many times.
ENDPOINTS_PER_EXAMPLE = 60


async def fuzz_http(w: World, data: st.DataObject, callers: list[Caller]) -> None:
    """One request to each of ENDPOINTS_PER_EXAMPLE endpoints, in a drawn order. (Drawing one
    endpoint per example would favour the first few: Hypothesis leans to simple choices.)"""
    operations = await endpoints(w)
    order = data.draw(st.permutations(operations), label="order")
    for endpoint in order[:ENDPOINTS_PER_EXAMPLE]:
        await request_once(w, data, callers, endpoint)


async def request_once(
    w: World, data: st.DataObject, callers: list[Caller], endpoint: Endpoint
) -> None:
    caller = data.draw(st.sampled_from(callers), label="caller")
    path = path_with(w, endpoint.path, data.draw)
    query = data.draw(
        st.dictionaries(
            st.sampled_from([*endpoint.query, "x"]),
            # Shorter than aiohttp's request line limit (8190 bytes): a longer one never
            # reaches the app (test_security: an over-long request line).
            st.one_of(integers, texts, st.sampled_from(["open", "all", "csv"])).map(
                lambda v: str(v)[:1000]
            ),
            max_size=3,
        ),
        label="query",
    )
    headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
    not_json = data.draw(st.integers(0, 7), label="not JSON") == 0
    raw = data.draw(st.sampled_from(NON_JSON_BODIES), label="raw body") if not_json else None
    body = None if raw is not None else data.draw(body_for(w, endpoint.body), label="body")
    request: dict[str, Any] = {"params": query, "headers": headers}
    if endpoint.method in ("POST", "PUT", "PATCH", "DELETE"):
        request["data"] = raw if raw is not None else json.dumps(body)
        headers["Content-Type"] = "application/json"
    url = w.api.base_url + path
    async with w.api.session.request(endpoint.method, url, **request) as reply:
        status, text = reply.status, await reply.text()
    described = f"{endpoint.method} {path} as {caller.name}: {status} {text[:300]}"
    assert status < 500, described
    if status == 401:
        await caller.renew(w)
    if status >= 400:
        error = json.loads(text).get("error")
        assert isinstance(error, dict) and error.get("message"), described
        code = str(error.get("code"))
        assert STATUS_BY_CODE.get(code) == status or BEFORE_THE_APP.get(status) == code, described


# Refusals aiohttp makes before a handler runs, given the nearest contract code.
BEFORE_THE_APP = {400: "invalid", 405: "not_found", 413: "invalid"}


async def sign_in_reply(api: Api, username: str) -> Reply:
    return await api.post("/api/auth/login", {"username": username, "password": PASSWORD})


@pytest.fixture
async def http_callers(world: World) -> list[Caller]:
    """Nobody, a stranger's token, and a patient of cohort A (not pat_ana: the fuzz may
    sign its caller out, and pat_ana's socket must live)."""
    cy = await register(
        world.api, world.community.mod_lee, "pat_cy", "patient", world.community.cohort_a
    )
    return [
        Caller("nobody", None),
        Caller("a forged token", "e30.e30.x"),
        Caller("pat_cy", cy.token),
    ]


@budget(25)
@given(data=st.data())
async def test_generated_requests_never_fail_the_server_or_cross_rooms(
    world: World, http_callers: list[Caller], data: st.DataObject
) -> None:
    await fuzz_http(world, data, http_callers)
    await world.check()


@pytest.fixture
def staff_caller(world: World) -> Caller:
    lee = world.community.mod_lee
    return Caller("mod_lee", lee.token, lee)


@budget(20)
@given(data=st.data())
async def test_generated_staff_requests_never_fail_the_server(
    world: World, staff_caller: Caller, data: st.DataObject
) -> None:
    """Staff reach further (rooms, meetings, people), and a moderator's fuzz may rightly ban,
    lock or delete, so this one checks the answers and that the server goes on serving."""
    await fuzz_http(world, data, [staff_caller])
    health = await world.api.get("/healthz")
    assert health.status == 200, health
    admin = world.community.admin.token
    assert (await world.api.get("/api/rooms", admin)).status == 200


async def test_the_fuzz_covers_every_event(server: RunningServer) -> None:
    # A new event must be added to `event_payloads`, or it goes unfuzzed.
    handlers = server.app[EVENTS].sio.handlers["/"]
    assert set(handlers) - {"connect", "disconnect"} == set(FUZZED_EVENTS)
