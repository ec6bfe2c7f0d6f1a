"""Bad input, everywhere: every Socket.IO event and every HTTP endpoint answers malformed,
mistyped, out-of-range and unknown values with the contract's error shape, stores and
broadcasts nothing, and leaves the caller's connection (and everyone else's) working.

Each test runs a table of bad cases against one server and reports every case that went wrong,
by name, so one run shows the whole picture. Placeholders (`ROOM`, `OWN_MESSAGE`, ...) stand for
ids that exist only once the test's community is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import socketio

from tests.conftest import PeerFactory
from tests.support import (
    Api,
    Community,
    Peer,
    Reply,
    RunningServer,
    barrier,
    consent_version,
    new_client_id,
    stored_messages,
)

pytestmark = pytest.mark.persistence

# The contract's status of each error code these tests expect.
STATUS = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 422}
# An id beyond the database's integer columns names nothing: either answer will do, a crash not.
UNKNOWN_OR_INVALID = ("not_found", "invalid")
Codes = str | tuple[str, ...]


# ----- placeholders and checks -----


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, repr=False)
class Ref:
    """An id of the test's community, optionally converted (to a string, a float) so that the
    value is right and only its type is wrong."""

    name: str
    convert: Callable[[Any], Any] = _same

    def __repr__(self) -> str:
        kind = "" if self.convert is _same else f" as {self.convert.__name__}"
        return f"<{self.name}{kind}>"


ROOM = Ref("room")  # group A: pat_ana and pat_avi have joined it
CLOSED_ROOM = Ref("closed_room")  # group B: outside pat_ana's audience
UNJOINED_ROOM = Ref("unjoined_room")  # the commons: open to pat_ana, joined by nobody
OWN_MESSAGE = Ref("own_message")  # pat_ana's, in group A
OTHERS_MESSAGE = Ref("others_message")  # mod_lee's, in group A
CLOSED_MESSAGE = Ref("closed_message")  # pat_bo's, in group B
DELETED_MESSAGE = Ref("deleted_message")  # pat_ana's, deleted
FRESH_CLIENT_ID = Ref("client_id")  # a new client_id wherever it is used
INVITE = Ref("invite")  # an unused one-use patient invite to cohort A
CONSENT = Ref("consent")  # the version of the consent notice in force
COHORT = Ref("cohort")  # cohort A
MISSING = Ref("missing")  # the field is left out
NO_BODY = Ref("no body")  # the request has no body at all


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return value.convert(new_client_id() if value is FRESH_CLIENT_ID else refs[value.name])
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items() if v is not MISSING}
    if isinstance(value, list | tuple):
        return type(value)(resolve(v, refs) for v in value)
    return value


def describe(value: Any) -> str:
    if isinstance(value, str) and len(value) > 12:
        return f"of {len(value)} characters"
    if isinstance(value, int) and value >= 2**31:
        return f"2**{value.bit_length() - 1}"
    return repr(value)


def short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_error(error: Any, code: Codes, field: str | None) -> None:
    """`error` is the contract's {"code", "message"}, with an expected code; an `invalid` one
    names the offending field."""
    codes = (code,) if isinstance(code, str) else code
    assert isinstance(error, dict), f"no error object: {short(error)}"
    assert error.get("code") in codes, f"expected code {' or '.join(codes)}, got {short(error)}"
    message = error.get("message")
    assert isinstance(message, str) and message.strip(), f"no message: {short(error)}"
    if field is not None and error["code"] == "invalid":
        assert field in message, f"the message does not name {field!r}: {short(error)}"


def first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def report(failures: list[str], what: str) -> None:
    if failures:
        pytest.fail(f"{len(failures)} {what} went wrong:\n  " + "\n  ".join(failures), False)


# ----- Socket.IO cases -----


@dataclass(frozen=True)
class Case:
    name: str
    payload: Any
    code: Codes = "invalid"
    field: str | None = None  # named in the message of an `invalid`


def bad(base: dict[str, Any], name: str, *values: Any, code: Codes = "invalid") -> list[Case]:
    """`base` with field `name` set to each value (MISSING: left out)."""
    return [Case(f"{name} {describe(v)}", {**base, name: v}, code, name) for v in values]


# python-socketio sends a tuple as the argument list, and None as no argument at all.
NOT_AN_OBJECT = [
    Case(f"payload {label}", payload)
    for label, payload in [
        ("a string", "room 1"),
        ("a list", [1, 2]),
        ("null", (None,)),
        ("a number", 7),
        ("a boolean", True),
        ("absent", None),
    ]
]


def id_cases(base: dict[str, Any], name: str) -> list[Case]:
    """Wrong types, non-positive, unknown and out-of-range values of the id field `name`."""
    good = base[name]
    as_str, as_float = Ref(good.name, str), Ref(good.name, float)
    return [
        *bad(base, name, MISSING, as_str, as_float, 1.5, True, None, {"id": good}, [good], 0, -1),
        *bad(base, name, 999999, code="not_found"),
        *bad(base, name, 2**31, 2**63, code=UNKNOWN_OR_INVALID),
    ]


def body_cases(base: dict[str, Any]) -> list[Case]:
    return bad(
        base, "body", MISSING, "", " ", " \n\t \r\n", "x" * 4001, "  " + "x" * 4001 + "  ",
        42, {"text": "hi"}, ["hi"], None, True, "\x00", "hi\x00there",
    )  # fmt: skip


SEND = {"room_id": ROOM, "body": "hello", "client_id": FRESH_CLIENT_ID}
EDIT = {"message_id": OWN_MESSAGE, "body": "better words"}
REACT = {"message_id": OWN_MESSAGE, "emoji": "👍"}
JOIN = {"room_id": ROOM}

EVENT_CASES: dict[str, list[Case]] = {
    "join": [
        *NOT_AN_OBJECT,
        *id_cases(JOIN, "room_id"),
        *bad(JOIN, "room_id", CLOSED_ROOM, code="forbidden"),
        *bad(JOIN, "since", -1, "0", True, 1.5, {}),
    ],
    "leave": [*NOT_AN_OBJECT, *id_cases(JOIN, "room_id")],
    "send": [
        *NOT_AN_OBJECT,
        *id_cases(SEND, "room_id"),
        *bad(SEND, "room_id", CLOSED_ROOM, code="forbidden"),
        *body_cases(SEND),
        *bad(SEND, "client_id", MISSING, "", "c" * 65, "c" * 10_240, 42, None, {"id": "abc"}),
    ],
    "edit": [
        *NOT_AN_OBJECT,
        *id_cases(EDIT, "message_id"),
        *bad(EDIT, "message_id", OTHERS_MESSAGE, CLOSED_MESSAGE, code="forbidden"),
        *bad(EDIT, "message_id", DELETED_MESSAGE, code="not_found"),
        *body_cases(EDIT),
    ],
    "delete": [
        *NOT_AN_OBJECT,
        *id_cases({"message_id": OWN_MESSAGE}, "message_id"),
        *bad({}, "message_id", OTHERS_MESSAGE, CLOSED_MESSAGE, code="forbidden"),
    ],
    "react": [
        *NOT_AN_OBJECT,
        *id_cases(REACT, "message_id"),
        *bad(REACT, "message_id", CLOSED_MESSAGE, code="forbidden"),
        *bad(REACT, "message_id", DELETED_MESSAGE, code="not_found"),
        *bad(REACT, "emoji", MISSING, "", "🦄", "x" * 33, 1, None, ["👍"]),
    ],
    "typing": [
        *NOT_AN_OBJECT,
        *id_cases(JOIN, "room_id"),
        *bad(JOIN, "room_id", CLOSED_ROOM, UNJOINED_ROOM, code="forbidden"),
    ],
    "history": [
        *NOT_AN_OBJECT,
        *id_cases(JOIN, "room_id"),
        *bad(JOIN, "room_id", CLOSED_ROOM, code="forbidden"),
        *bad(JOIN, "before", 0, -1, "5", True, 1.5),
        *bad(JOIN, "limit", 0, -1, 101, "ten", "10", True, 1.5, None),
    ],
}

# What each event must still accept at the edges, after the bad cases.
EVENT_GOOD: dict[str, list[dict[str, Any]]] = {
    "join": [{**JOIN, "since": 0}, JOIN],
    "leave": [JOIN, {"room_id": UNJOINED_ROOM}],
    "send": [
        {**SEND, "body": "y" * 4000},
        {**SEND, "body": "  " + "z" * 4000 + "\n "},
        {**SEND, "body": "k"},
        {**SEND, "client_id": "c" * 64},
    ],
    "edit": [{**EDIT, "body": "e" * 4000}],
    "delete": [{"message_id": OWN_MESSAGE}],
    "react": [REACT],
    "typing": [JOIN],
    "history": [{**JOIN, "limit": 1}, {**JOIN, "limit": 100}, {**JOIN, "before": 2**31}],
}


# ----- the community and its live connections -----


@dataclass
class World:
    """The community, live connections and a few messages: pat_ana (the caller of every bad
    case) and pat_avi (a bystander) have joined group A, pat_bo has joined group B."""

    server: RunningServer
    api: Api
    community: Community
    ana: Peer
    avi: Peer
    bo: Peer
    refs: dict[str, Any]
    # What the checks after each case expect; resynchronised after every case so that one
    # failure does not drag every later case down with it.
    message_ids: list[int]
    history_a: list[Any]
    history_b: list[Any]
    counts: dict[str, dict[str, int]]
    # How many times `still_works` has sent its check message.
    checks: int = 0

    @classmethod
    async def build(cls, server: RunningServer, api: Api, c: Community, peer: PeerFactory) -> World:
        ana, avi, bo, lee = [
            await peer(p.token) for p in (c.pat_ana, c.pat_avi, c.pat_bo, c.mod_lee)
        ]
        for who, room in ((ana, c.group_a), (avi, c.group_a), (bo, c.group_b)):
            assert (await who.call("join", {"room_id": room}))["ok"]

        async def send(who: Peer, room: int, body: str) -> int:
            ack = await who.call(
                "send", {"room_id": room, "body": body, "client_id": new_client_id()}
            )
            assert ack["ok"], ack
            return int(ack["message"]["id"])

        own = await send(ana, c.group_a, "my own words")
        deleted = await send(ana, c.group_a, "words taken back")
        assert (await ana.call("delete", {"message_id": deleted}))["ok"]
        others = await send(lee, c.group_a, "a moderator's words")
        closed = await send(bo, c.group_b, "group B words")
        for who in (ana, avi):
            await who.wait_for("message", lambda m: m["id"] == others)
            await who.wait_for("message_deleted", lambda d: d["id"] == deleted)
        await bo.wait_for("message", lambda m: m["id"] == closed)
        invite = await api.post(
            "/api/invites", {"role": "patient", "cohort_id": c.cohort_a}, c.mod_lee.token
        )
        assert invite.status == 201, invite.body
        refs = {
            "room": c.group_a,
            "closed_room": c.group_b,
            "unjoined_room": c.commons,
            "own_message": own,
            "others_message": others,
            "closed_message": closed,
            "deleted_message": deleted,
            "invite": invite.body["invite"]["code"],
            "consent": await consent_version(api),
            "cohort": c.cohort_a,
            **{name: person.id for name, person in c.people.items()},
        }
        world = cls(server, api, c, ana, avi, bo, refs, [], [], [], {})
        world.message_ids = [m["id"] for m in avi.received("message")]
        world.history_a = await world.history(c.group_a)
        world.history_b = await world.history(c.group_b)
        world.counts = world.event_counts()
        return world

    async def history(self, room: int, *, latest_only: bool = False) -> list[Any]:
        """A room's stored messages, all of them or only the latest 100."""
        token = self.community.admin.token
        return await stored_messages(self.api, token, room, latest_only=latest_only)

    def peers(self) -> dict[str, Peer]:
        return {"pat_ana": self.ana, "pat_avi": self.avi, "pat_bo": self.bo}

    def event_counts(self) -> dict[str, dict[str, int]]:
        """How many events of each kind but `message` each connection has received."""
        return {
            name: {event: len(data) for event, data in who.events.items() if event != "message"}
            for name, who in self.peers().items()
        }

    async def still_works(self, label: str) -> None:
        """The caller's connection sends and the bystander receives it; nothing else was
        stored, changed or broadcast since the last check."""
        problems = [
            f"{n}'s connection dropped" for n, p in self.peers().items() if not p.client.connected
        ]
        self.checks += 1
        body = {
            "room_id": self.refs["room"],
            # Plain words: the label's tokens ("<own_message as float>") read to the crisis
            # detector like nothing it was trained on, and it alarmed on a few.
            "body": f"still fine, check {self.checks}",
            "client_id": new_client_id(),
        }
        ack = await self.ana.call("send", body)
        assert isinstance(ack, dict) and ack.get("ok") is True, (
            f"a valid send then failed: {short(ack)}"
        )
        sent = int(ack["message"]["id"])
        for who in (self.ana, self.avi):
            await who.wait_for("message", lambda m: m["id"] == sent)
        self.message_ids.append(sent)
        for name, who in (("pat_ana", self.ana), ("pat_avi", self.avi)):
            seen = [m["id"] for m in who.received("message")]
            if seen != self.message_ids:
                problems.append(f"{name} saw stray `message` events: {seen} != {self.message_ids}")
        self.message_ids = [m["id"] for m in self.avi.received("message")]
        counts = self.event_counts()
        if counts != self.counts:
            problems.append(f"stray events: {self.counts} -> {counts}")
        self.counts = counts
        latest = await self.history(self.refs["room"], latest_only=True)
        tail = self.history_a[max(0, len(self.history_a) - len(latest) + 1) :]
        if latest[-1]["id"] != sent or latest[:-1] != tail:
            problems.append(f"group A's stored messages changed: {short(latest[-3:])}")
            self.history_a = await self.history(self.refs["room"])
        else:
            self.history_a.append(latest[-1])
        history_b = await self.history(self.refs["closed_room"])
        if history_b != self.history_b:
            problems.append(f"group B's stored messages changed: {short(history_b)}")
        self.history_b = history_b
        assert not problems, "; ".join(problems)


# One server per group; each group's good cases run in this order, after all its bad ones.
EVENT_GROUPS = {
    "room events": ("join", "typing", "history", "leave"),
    "message events": ("send", "edit", "react", "delete"),
}


@pytest.mark.parametrize("events", list(EVENT_GROUPS.values()), ids=list(EVENT_GROUPS))
async def test_every_event_refuses_bad_input_and_the_connection_goes_on(
    events: tuple[str, ...],
    server: RunningServer,
    api: Api,
    community: Community,
    peer: PeerFactory,
) -> None:
    world = await World.build(server, api, community, peer)
    failures: list[str] = []
    cases = [(event, case) for event in events for case in EVENT_CASES[event]]
    for event, case in cases:
        try:
            ack = await world.ana.call(event, resolve(case.payload, world.refs))
            assert isinstance(ack, dict) and ack.get("ok") is False, f"not refused: {short(ack)}"
            check_error(ack.get("error"), case.code, case.field)
        except (AssertionError, socketio.exceptions.SocketIOError) as error:
            failures.append(f"{event} with {case.name}: {first_line(error)}")
        try:
            await world.still_works(f"{event} with {case.name}")
        except (AssertionError, TimeoutError, socketio.exceptions.SocketIOError) as error:
            failures.append(f"after {event} with {case.name}: {first_line(error)}")
            if not world.ana.client.connected:
                failures.append("pat_ana's connection is gone: the remaining cases were skipped")
                break
    await barrier(world.bo)
    if [m["id"] for m in world.bo.received("message")] != [world.refs["closed_message"]]:
        failures.append(f"pat_bo saw stray `message` events: {world.bo.received('message')}")
    if await world.history(world.refs["room"]) != world.history_a:
        failures.append("group A's older stored messages changed")

    for event in events:
        for good in EVENT_GOOD[event]:
            sent = resolve(good, world.refs)
            ack = await world.ana.call(event, sent)
            if not (isinstance(ack, dict) and ack.get("ok") is True):
                failures.append(f"{event} with {short(good, 80)} was refused: {short(ack)}")
            elif event in ("send", "edit"):
                stored = {m["id"]: m["body"] for m in await world.history(world.refs["room"])}
                message = ack["message"]
                if not message["body"] == stored.get(message["id"]) == sent["body"].strip():
                    failures.append(f"{event} with {short(good, 80)} stored {short(message)}")
    report(failures, "case(s) of " + ", ".join(events))


# ----- connecting -----


def signed_token(server: RunningServer, sub: str, expires_in: timedelta) -> str:
    """A token signed as the server signs them (with the test settings' secret)."""
    assert server.settings.secret_key is not None
    now = server.clock.now()
    claims = {"sub": sub, "aud": "peerrooms", "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, server.settings.secret_key.get_secret_value(), algorithm="HS256")


def forged_token(_server: RunningServer) -> str:
    now = datetime.now(UTC)
    claims = {"sub": "1", "aud": "peerrooms", "iat": now, "exp": now + timedelta(hours=1)}
    return jwt.encode(claims, "not-the-secret-" + "y" * 32, algorithm="HS256")


HOUR = timedelta(hours=1)
# Each makes the token that a Socket.IO `auth.token` or an HTTP bearer header carries.
BAD_TOKENS: dict[str, Callable[[RunningServer], Any]] = {
    "absent": lambda _s: None,
    "empty": lambda _s: "",
    "garbage": lambda _s: "not-a-token",
    "a number": lambda _s: 12345,
    "forged": forged_token,
    "expired": lambda s: signed_token(s, "1", -HOUR),
    "of a user who does not exist": lambda s: signed_token(s, "999999", HOUR),
    "naming no user id": lambda s: signed_token(s, "admin", HOUR),
}


async def test_connecting_with_a_bad_token_is_refused_as_unauthorized(
    server: RunningServer,
) -> None:
    failures: list[str] = []
    for kind, make in BAD_TOKENS.items():
        refused = Peer(server.url, make(server))
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await refused.connect()
            check_error(refused.connect_error, "unauthorized", None)
        except AssertionError as error:
            failures.append(f"a token {kind}: {first_line(error)}")
        finally:
            await refused.disconnect()
    report(failures, "connection(s)")


# ----- HTTP cases -----


@dataclass(frozen=True)
class Http:
    name: str
    method: str
    path: str  # may name {room}, {own_message}, {pat_ana}, ... (see World.refs)
    body: Any = NO_BODY  # a JSON value, or bytes sent as they are
    code: Codes = "invalid"
    field: str | None = None
    who: str | None = "admin"  # whose token: a name in Community.people, a BAD_TOKENS kind


# An endpoint as a caller reaches it: method, path, whose token.
Target = tuple[str, str, str | None]
REGISTER_T: Target = ("POST", "/api/auth/register", None)
LOGIN_T: Target = ("POST", "/api/auth/login", None)
COHORTS_T: Target = ("POST", "/api/cohorts", "admin")
INVITES_T: Target = ("POST", "/api/invites", "mod_lee")
ROOMS_T: Target = ("POST", "/api/rooms", "mod_lee")
PATCH_T: Target = ("PATCH", "/api/rooms/{room}", "mod_lee")
READ_T: Target = ("POST", "/api/rooms/{room}/read", "pat_ana")


def one(name: str, target: Target, body: Any = NO_BODY, code: Codes = "invalid", **kw: Any) -> Http:
    method, path, who = target
    return Http(name, method, path, body, code, **{"who": who, **kw})


def bad_http(target: Target, base: dict[str, Any], name: str, *values: Any) -> list[Http]:
    """`base` with field `name` set to each value (MISSING: left out), all `invalid`."""
    return [one(f"{name} {describe(v)}", target, {**base, name: v}, field=name) for v in values]


def bad_path_ids(method: str, template: str, who: str, body: Any = NO_BODY) -> list[Http]:
    """Non-integer, non-positive, unknown and out-of-range ids in `template`'s "{id}"."""
    cases: list[tuple[str, Codes]] = [
        (raw, "invalid") for raw in ("abc", "0", "-1", "1.5", "1e3", "%201", "%C2%B2")
    ]
    cases += [("999999", "not_found")]
    cases += [(str(n), UNKNOWN_OR_INVALID) for n in (2**31, 2**63, 2**99)]
    return [
        one(
            f"id {describe(int(raw)) if raw.isdecimal() else raw}",
            (method, template.format(id=raw), who),
            body,
            code,
            field="id",
        )
        for raw, code in cases
    ]


AUTHED_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/me", NO_BODY),
    ("POST", "/api/cohorts", {"name": "Cohort Z"}),
    ("GET", "/api/cohorts", NO_BODY),
    ("POST", "/api/invites", {"role": "patient"}),
    ("POST", "/api/users/{pat_ana}/graduate", NO_BODY),
    ("GET", "/api/rooms", NO_BODY),
    ("POST", "/api/rooms", {"name": "Z", "kind": "peer", "audience": "everyone"}),
    ("PATCH", "/api/rooms/{room}", {"topic": "changed"}),
    ("GET", "/api/rooms/{room}/messages", NO_BODY),
    ("GET", "/api/rooms/{room}/presence", NO_BODY),
    ("DELETE", "/api/messages/{own_message}", NO_BODY),
]
TOKEN_CASES = [
    Http(f"a token {kind}", method, path, body, "unauthorized", who=kind)
    for method, path, body in AUTHED_ENDPOINTS
    for kind in [*(k for k in BAD_TOKENS if k != "a number"), "in the wrong scheme"]
]

REGISTER = {
    "invite_code": INVITE,
    "username": "new_pat",
    "display_name": "Newbie",
    "password": "calm waters 2026",
    "consent_version": CONSENT,
}
LOGIN = {"username": "pat_ana", "password": "correct horse battery"}
ACCOUNT_CASES = [
    *bad_http(REGISTER_T, REGISTER, "invite_code", MISSING, 42, "", "   ", None, "i" * 65),
    one("an unknown invite_code", REGISTER_T, {**REGISTER, "invite_code": "nope"}, "not_found"),
    *bad_http(
        REGISTER_T, REGISTER, "username",
        MISSING, "ab", "u" * 33, "new pat", "-newpat", "", 42, None,
    ),
    one("a username taken", REGISTER_T, {**REGISTER, "username": "mod_lee"}, "conflict"),
    *bad_http(
        REGISTER_T, REGISTER, "display_name",
        MISSING, "", "   ", "d" * 41, {"name": "x"}, "New\x00bie",
    ),
    *bad_http(
        REGISTER_T, REGISTER, "password",
        MISSING, 1234567890123, "short", "p" * 128 + "q" * 129, "aaaaaaaaaaaa", "xx-new_pat-1",
        None,
    ),
    *bad_http(LOGIN_T, LOGIN, "username", MISSING, 42, None, "u" * 65, ["pat_ana"]),
    *bad_http(LOGIN_T, LOGIN, "password", MISSING, 42, None, "p" * 257, True),
    one("a wrong password", LOGIN_T, {**LOGIN, "password": "wrong horse battery"}, "unauthorized"),
    one("an unknown user", LOGIN_T, {**LOGIN, "username": "nobody_here"}, "unauthorized"),
    one("an empty username", LOGIN_T, {**LOGIN, "username": ""}, "unauthorized"),
]  # fmt: skip

INVITE_TO_A = {"role": "patient", "cohort_id": COHORT}
AS_PATIENT: dict[str, Any] = {"who": "pat_ana"}
STAFF_CASES = [
    *bad_http(COHORTS_T, {}, "name", MISSING, "", "  \t", "n" * 81, 42, None, {"n": 1}),
    one("a cohort name taken", COHORTS_T, {"name": "Cohort A"}, "conflict"),
    one("a patient creating a cohort", COHORTS_T, {"name": "C"}, "forbidden", **AS_PATIENT),
    one("a patient listing cohorts", ("GET", "/api/cohorts", "pat_ana"), code="forbidden"),
    one("an alumna listing cohorts", ("GET", "/api/cohorts", "alum_dee"), code="forbidden"),
    *bad_http(INVITES_T, {}, "role", MISSING, "superuser", "Patient", 1, None),
    *bad_http(
        INVITES_T, INVITE_TO_A, "cohort_id",
        Ref("cohort", str), Ref("cohort", float), True, 0, -1, {"id": COHORT},
    ),
    one("cohort 999999", INVITES_T, {**INVITE_TO_A, "cohort_id": 999999}, "not_found"),
    *(
        one(f"cohort {describe(n)}", INVITES_T, {**INVITE_TO_A, "cohort_id": n},
            UNKNOWN_OR_INVALID, field="cohort_id")
        for n in (2**31, 2**63)
    ),
    *bad_http(INVITES_T, INVITE_TO_A, "max_uses", 0, -1, 501, "2", True, 1.5, None),
    *bad_http(INVITES_T, INVITE_TO_A, "expires_in_hours", 0, -1, 2161, "24", True, {"h": 1}),
    *(
        one(f"expires_in_hours {raw}", INVITES_T,
            b'{"role": "patient", "expires_in_hours": %s}' % raw.encode(), field="expires_in_hours")
        for raw in ("NaN", "Infinity", "-Infinity")
    ),
    one("a moderator inviting a moderator", INVITES_T, {"role": "moderator"}, "forbidden"),
    one("a patient inviting", INVITES_T, {"role": "patient"}, "forbidden", **AS_PATIENT),
    *bad_path_ids("POST", "/api/users/{id}/graduate", "admin"),
    one("staff", ("POST", "/api/users/{mod_lee}/graduate", "admin"), code="conflict"),
    one("an alumna", ("POST", "/api/users/{alum_dee}/graduate", "admin"), code="conflict"),
    one("by a patient", ("POST", "/api/users/{pat_avi}/graduate", "pat_ana"), code="forbidden"),
]  # fmt: skip

NEW_ROOM = {"name": "New room", "kind": "peer", "audience": "everyone"}
COHORT_ROOM = {"name": "New group", "kind": "group", "audience": "cohort", "cohort_id": COHORT}
ROOM_CASES = [
    *bad_http(ROOMS_T, NEW_ROOM, "name", MISSING, "", "   ", "r" * 81, 42, None),
    *bad_http(ROOMS_T, NEW_ROOM, "kind", MISSING, "lobby", "PEER", 1, None),
    *bad_http(ROOMS_T, NEW_ROOM, "audience", MISSING, "public", ["everyone"]),
    *bad_http(ROOMS_T, NEW_ROOM, "topic", "t" * 501, 42, {"t": "x"}),
    *bad_http(
        ROOMS_T, COHORT_ROOM, "cohort_id",
        Ref("cohort", str), Ref("cohort", float), True, 0, -1, MISSING,
    ),
    one("everyone and a cohort_id", ROOMS_T, {**NEW_ROOM, "cohort_id": COHORT}, field="cohort_id"),
    one("a group room for everyone", ROOMS_T, {**NEW_ROOM, "kind": "group"}, field="audience"),
    one("cohort 999999", ROOMS_T, {**COHORT_ROOM, "cohort_id": 999999}, "not_found"),
    one("cohort 2**63", ROOMS_T, {**COHORT_ROOM, "cohort_id": 2**63}, UNKNOWN_OR_INVALID,
        field="cohort_id"),
    one("a patient creating a room", ROOMS_T, NEW_ROOM, "forbidden", **AS_PATIENT),
    *bad_path_ids("PATCH", "/api/rooms/{id}", "mod_lee", {"topic": "changed"}),
    *bad_http(PATCH_T, {}, "locked", "true", 1, 0, {}),
    *bad_http(PATCH_T, {}, "slow_mode_s", -1, 3601, "5", True, 1.5),
    *bad_http(PATCH_T, {}, "topic", "t" * 501, 42, ["x"]),
    *bad_http(PATCH_T, {"topic": "half done"}, "slow_mode_s", -5),
    one("a patient patching a room", PATCH_T, {"topic": "mine"}, "forbidden", **AS_PATIENT),
]  # fmt: skip

MESSAGE_CASES = [
    *bad_path_ids("GET", "/api/rooms/{id}/messages", "pat_ana"),
    *(
        one(f"?{query}", ("GET", f"/api/rooms/{{room}}/messages?{query}", "pat_ana"),
            field=query.partition("=")[0])
        for query in (
            "limit=ten", "limit=-1", "limit=0", "limit=101", "limit=1.5", "limit=%C2%B2",
            "limit=true", "before=abc", "before=0", "before=-1", "before=1.5",
        )
    ),
    one("outside the audience", ("GET", "/api/rooms/{closed_room}/messages", "pat_ana"),
        code="forbidden"),
    *bad_path_ids("GET", "/api/rooms/{id}/presence", "pat_ana"),
    one("outside the audience", ("GET", "/api/rooms/{closed_room}/presence", "pat_ana"),
        code="forbidden"),
    *bad_path_ids("DELETE", "/api/messages/{id}", "pat_ana"),
    one("another's message", ("DELETE", "/api/messages/{others_message}", "pat_ana"),
        code="forbidden"),
    one("outside the audience", ("DELETE", "/api/messages/{closed_message}", "pat_ana"),
        code="forbidden"),
    one("an alumna's", ("DELETE", "/api/messages/{closed_message}", "alum_dee"), code="forbidden"),
    *bad_path_ids("POST", "/api/rooms/{id}/read", "pat_ana", {"message_id": OWN_MESSAGE}),
    *bad_http(
        READ_T, {}, "message_id",
        MISSING, Ref("own_message", str), Ref("own_message", float), 0, -1, True, None, 2**63,
    ),
    one("outside the audience", ("POST", "/api/rooms/{closed_room}/read", "pat_ana"),
        {"message_id": CLOSED_MESSAGE}, "forbidden"),
]  # fmt: skip

# Every endpoint that reads a body, whose token it takes, and its first required field.
BODY_ENDPOINTS: list[tuple[Target, str | None]] = [
    (REGISTER_T, "invite_code"),
    (LOGIN_T, "username"),
    (COHORTS_T, "name"),
    (INVITES_T, "role"),
    (ROOMS_T, "name"),
    (PATCH_T, None),  # every field is optional
    (READ_T, "message_id"),
]
NOT_JSON_OBJECTS: list[tuple[str, bytes]] = [
    ("a JSON string", b'"hello"'),
    ("a JSON list", b'[{"name": "x"}]'),
    ("JSON null", b"null"),
    ("a JSON number", b"7"),
    ("JSON true", b"true"),
    ("no JSON at all", b"{oops"),
    ("bytes that are not UTF-8", b"\xff\xfe\xfa"),
    ("JSON nested 50,000 deep", b"[" * 50_000),
    ("more than 64 KB", b'{"name": "' + b"x" * 70_000 + b'"}'),
]
BODY_CASES = [
    *(one(label, target, raw) for target, _ in BODY_ENDPOINTS for label, raw in NOT_JSON_OBJECTS),
    *(
        one(label, target, body, field=required)
        for target, required in BODY_ENDPOINTS
        if required
        for label, body in [("no body at all", NO_BODY), ("an empty object", {})]
    ),
]

HTTP_TABLES: dict[str, list[Http]] = {
    "bad tokens and bodies": TOKEN_CASES + BODY_CASES,
    "accounts, cohorts and invites": ACCOUNT_CASES + STAFF_CASES,
    "rooms and messages": ROOM_CASES + MESSAGE_CASES,
}

# What each table's endpoints must still accept afterwards, with the expected status.
NEW_LOGIN = {"username": "new_pat", "password": "calm waters 2026"}
HTTP_GOOD: dict[str, list[tuple[Http, int]]] = {
    "bad tokens and bodies": [
        (one("me", ("GET", "/api/me", "pat_ana")), 200),
        (one("cohort", COHORTS_T, {"name": "Cohort Ü"}), 201),
    ],
    "accounts, cohorts and invites": [
        (one("the unused invite", REGISTER_T, REGISTER), 201),
        (one("login", LOGIN_T, NEW_LOGIN), 200),
        (one("cohort", COHORTS_T, {"name": "Cohort C"}), 201),
        (one("invite", INVITES_T, {**INVITE_TO_A, "max_uses": 500, "expires_in_hours": 1.5}), 201),
    ],
    "rooms and messages": [
        (one("room", ROOMS_T, {**NEW_ROOM, "topic": "t" * 500}), 201),
        (one("patch", PATCH_T, {"slow_mode_s": 3600, "locked": False, "topic": ""}), 200),
        (one("limit 100", ("GET", "/api/rooms/{room}/messages?limit=100", "pat_ana")), 200),
        (one("empty limit", ("GET", "/api/rooms/{room}/messages?limit=", "pat_ana")), 200),
        (one("before 2**31", ("GET", "/api/rooms/{room}/messages?before=2147483648", "pat_ana")),
         200),
        (one("presence", ("GET", "/api/rooms/{room}/presence", "pat_ana")), 200),
        (one("mark read", READ_T, {"message_id": OWN_MESSAGE}), 200),
        (one("delete my own", ("DELETE", "/api/messages/{own_message}", "pat_ana")), 204),
    ],
}  # fmt: skip


def auth_header(who: str | None, world: World) -> dict[str, str]:
    if who is None or who == "absent":
        return {}
    if who in BAD_TOKENS:
        return {"Authorization": f"Bearer {BAD_TOKENS[who](world.server)}"}
    if who == "in the wrong scheme":
        return {"Authorization": f"Basic {world.community.admin.token}"}
    return {"Authorization": f"Bearer {world.community.people[who].token}"}


async def request(world: World, case: Http) -> Reply:
    headers = auth_header(case.who, world)
    data = case.body if isinstance(case.body, bytes) else None
    if case.body is not NO_BODY and data is None:
        data = json.dumps(resolve(case.body, world.refs)).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    url = world.api.base_url + case.path.format(**world.refs)
    async with world.api.session.request(case.method, url, data=data, headers=headers) as response:
        text = await response.text()
        try:
            return Reply(response.status, json.loads(text) if text else None)
        except ValueError:
            return Reply(response.status, text)


def check_reply(reply: Reply, case: Http) -> None:
    codes = (case.code,) if isinstance(case.code, str) else case.code
    statuses = sorted({STATUS[code] for code in codes})
    assert reply.status in statuses, (
        f"expected status {statuses}, got {reply.status} {short(reply.body)}"
    )
    assert isinstance(reply.body, dict) and list(reply.body) == ["error"], (
        f"not an error: {short(reply.body)}"
    )
    check_error(reply.body["error"], case.code, case.field)
    assert STATUS[reply.body["error"]["code"]] == reply.status, f"code and status differ: {reply}"


async def snapshot(world: World) -> dict[str, Any]:
    """Everything the API shows that a bad request could have changed."""
    c, api, admin = world.community, world.api, world.community.admin.token
    rooms = (c.group_a, c.group_b, c.lounge, c.commons)
    return {
        "rooms": (await api.get("/api/rooms", admin)).body,
        "pat_ana's rooms": (await api.get("/api/rooms", c.people["pat_ana"].token)).body,
        "cohorts": (await api.get("/api/cohorts", admin)).body,
        "people": {name: (await api.get("/api/me", p.token)).body for name, p in c.people.items()},
        "messages": [
            (await api.get(f"/api/rooms/{r}/messages?limit=100", admin)).body for r in rooms
        ],
        "presence": [(await api.get(f"/api/rooms/{r}/presence", admin)).body for r in rooms],
    }


@pytest.mark.parametrize("table", list(HTTP_TABLES))
async def test_every_endpoint_refuses_bad_input_and_changes_nothing(
    table: str, server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    world = await World.build(server, api, community, peer)
    before = await snapshot(world)
    failures: list[str] = []
    for case in HTTP_TABLES[table]:
        try:
            check_reply(await request(world, case), case)
        except AssertionError as error:
            failures.append(f"{case.name} [{case.method} {case.path}]: {first_line(error)}")
    await barrier(world.avi)
    after = await snapshot(world)
    for part in before:
        if after[part] != before[part]:
            failures.append(f"{part} changed: {short(before[part])} -> {short(after[part])}")
    if world.event_counts() != world.counts:
        failures.append(f"stray events: {world.counts} -> {world.event_counts()}")
    if [m["id"] for m in world.avi.received("message")] != world.message_ids:
        failures.append(f"stray `message` events: {world.avi.received('message')}")
    failures += [
        f"{n}'s connection dropped" for n, p in world.peers().items() if not p.client.connected
    ]

    for good, status in HTTP_GOOD[table]:
        reply = await request(world, good)
        if reply.status != status:
            failures.append(
                f"{good.name} [{good.method} {good.path}] afterwards: {reply.status} {reply.body}"
            )
    report(failures, f"case(s) of {table}")
