"""Test helpers: a real server on a free port, an HTTP caller, Socket.IO peers and barriers
on them, a fake clock and a small community of named people."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import socketio
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from server.accounts.http import ACCOUNTS
from server.app import CORE, create_app
from server.kernel.actors import Role
from server.kernel.clock import ManualClock
from server.notify.http import NOTIFICATIONS
from server.settings import Settings

T = TypeVar("T")

# How long a wait for something the server will do may take. Only a failure waits this long:
# on CI's two cores the other workers' tests (browsers, server processes) share the machine.
WAIT_S = 10.0


# The server's manual clock (server/kernel/clock.py), under the name the tests know it by:
# `await clock.advance(minutes=5)` moves time and runs the timed work that came due.
FakeClock = ManualClock


LENIENT_DEADLINES = {"event_deadline_s": 30.0, "send_deadline_s": 30.0}
# One secret for servers in the test process and in processes of their own, so the sign-in
# tokens of a database copied from a template (tests/templates.py) hold in both.
TEST_SECRET = "test-secret-" + "x" * 32


def server_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "secret_key_file": data_dir / "secret.key",
        "vapid_private_key_file": data_dir / "vapid.pem",
        "host": "127.0.0.1",
        "port": 0,
        "redis_url": None,
        "database_migrate_on_start": True,
        # Real argon2id at a cost that keeps the suite quick; production uses the defaults.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8192,
        "password_hash_parallelism": 1,
        # The fake clock stands still, so no bucket would ever refill; tests of flooding
        # pass their own limits.
        "rate_limit_per_minute": 600_000,
        "rate_limit_burst": 10_000,
        "action_rate_per_minute": 600_000,
        "action_burst": 10_000,
        # Deadlines meant for a hung database, not for a test machine running many servers
        # at once; tests of hangs pass their own.
        **LENIENT_DEADLINES,
        **overrides,
    }
    return Settings(**values)


@dataclass
class RunningServer:
    app: web.Application
    runner: web.AppRunner
    url: str
    clock: ManualClock
    settings: Settings

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_server(settings: Settings, clock: ManualClock) -> RunningServer:
    app = create_app(settings, clock=clock)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return RunningServer(app, runner, f"http://127.0.0.1:{port}", clock, settings)


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"]["code"])
        return None


def refused_with(reply: Reply, status: int, code: str, field: str | None = None) -> None:
    """The reply is a refusal with this status and error code (and, when given, a message that
    names the input `field` that was wrong)."""
    assert (reply.status, reply.error_code) == (status, code), reply.body
    if field is not None:
        assert reply.body["error"]["message"].startswith(f"{field}:"), reply.body


class Api:
    """Plain HTTP calls against the server, answering status and decoded JSON."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: str | bytes | None = None,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.base_url + path, json=json, data=data, headers=headers
        ) as response:
            text = await response.text()
            body: Any = None
            if text:
                body = await response.json(content_type=None)
            return Reply(response.status, body)

    async def get(self, path: str, token: str | None = None) -> Reply:
        return await self.call("GET", path, token=token)

    async def post(self, path: str, json: Any = None, token: str | None = None) -> Reply:
        return await self.call("POST", path, token=token, json=json)

    async def put(self, path: str, json: Any = None, token: str | None = None) -> Reply:
        return await self.call("PUT", path, token=token, json=json)

    async def patch(self, path: str, json: Any = None, token: str | None = None) -> Reply:
        return await self.call("PATCH", path, token=token, json=json)

    async def delete(self, path: str, token: str | None = None) -> Reply:
        return await self.call("DELETE", path, token=token)


@dataclass
class Person:
    id: int
    username: str
    display_name: str
    role: str
    token: str


@dataclass
class Community:
    """Named people and rooms: two cohorts (A, B), their group rooms, an alumni lounge and a
    commons open to everyone."""

    admin: Person
    mod_lee: Person
    pat_ana: Person  # cohort A
    pat_avi: Person  # cohort A
    pat_bo: Person  # cohort B
    alum_dee: Person
    cohort_a: int
    cohort_b: int
    group_a: int
    group_b: int
    lounge: int
    commons: int
    people: dict[str, Person] = field(default_factory=dict)


PASSWORD = "correct horse battery"


async def consent_version(api: Api) -> str:
    """The version of the consent notice in force, which registering accepts."""
    notice = await api.get("/api/consent")
    assert notice.status == 200, notice.body
    return str(notice.body["version"])


async def accept_consent_if_asked(api: Api, answer: dict[str, Any]) -> None:
    """After a sign-in: accept the consent notice if the answer says one is due (accounts made
    by the operator, or before the notice changed), as the person would on the screen."""
    due = answer.get("consent_required")
    if due is not None:
        accepted = await api.post("/api/me/consent", due, token=answer["token"])
        assert accepted.status == 200, accepted.body


async def invite_code(api: Api, staff: Person, role: str = "patient", **fields: Any) -> str:
    """The code of a new invite of `staff`'s for `role` (with the invite's other `fields`)."""
    reply = await api.post("/api/invites", {"role": role, **fields}, token=staff.token)
    assert reply.status == 201, reply.body
    return str(reply.body["invite"]["code"])


async def register(
    api: Api, inviter: Person, username: str, role: str, cohort_id: int | None = None
) -> Person:
    reply = await api.post(
        "/api/auth/register",
        {
            "invite_code": await invite_code(api, inviter, role, cohort_id=cohort_id),
            "username": username,
            "display_name": username.split("_")[-1].title(),
            "password": PASSWORD,
            "consent_version": await consent_version(api),
        },
    )
    assert reply.status == 201, reply.body
    user = reply.body["user"]
    return Person(user["id"], username, user["display_name"], user["role"], reply.body["token"])


async def create_room(api: Api, staff: Person, **fields: Any) -> int:
    reply = await api.post("/api/rooms", fields, token=staff.token)
    assert reply.status == 201, reply.body
    return int(reply.body["room"]["id"])


async def daily_series(
    api: Api, c: Community, first: datetime, title: str = "Evening group"
) -> tuple[int, int]:
    """A daily three-hour session of Cohort A's in a meeting room of its own (lobby 15
    minutes), the first starting at `first` (UTC, to the second): the room's id and the
    meeting's."""
    room = await create_room(
        api, c.mod_lee, name="Evening", kind="meeting", audience="cohort", cohort_id=c.cohort_a
    )
    created = await api.post(
        "/api/meetings",
        {"title": title, "room_id": room, "rrule": "FREQ=DAILY",
         "starts_at": first.strftime("%Y-%m-%dT%H:%M:%S"), "timezone": "UTC",
         "duration_minutes": 180, "lobby_minutes": 15},
        c.mod_lee.token,
    )  # fmt: skip
    assert created.status == 201, created.body
    return room, int(created.body["meeting"]["id"])


async def daily_meeting(
    api: Api, c: Community, clock: ManualClock, starts_in: timedelta, title: str = "Evening group"
) -> int:
    """`daily_series`, today's session starting `starts_in` from the clock's now, to the
    minute: the meeting's id."""
    first = (clock.now() + starts_in).replace(second=0, microsecond=0)
    _, meeting = await daily_series(api, c, first, title)
    return meeting


async def build_community(server: RunningServer, api: Api) -> Community:
    await server.app[ACCOUNTS].ensure_user(
        username="admin", password=PASSWORD, role=Role.ADMIN, display_name="Admin"
    )
    return await build_community_as(api, await sign_in(api, "admin"))


async def community_at(url: str) -> Community:
    """The community, built over HTTP on a server (a process of its own) whose admin exists."""
    async with aiohttp.ClientSession() as session:
        api = Api(url, session)
        return await build_community_as(api, await sign_in(api, "admin"))


async def disconnected(peer: Peer) -> bool:
    return not peer.client.connected


async def sign_in(api: Api, username: str, password: str = PASSWORD) -> Person:
    login = await api.post("/api/auth/login", {"username": username, "password": password})
    assert login.status == 200, login.body
    await accept_consent_if_asked(api, login.body)
    user = login.body["user"]
    return Person(user["id"], username, user["display_name"], user["role"], login.body["token"])


async def build_community_as(api: Api, admin: Person) -> Community:
    """The community, built over HTTP by an admin who already exists."""
    cohort_a = (await api.post("/api/cohorts", {"name": "Cohort A"}, token=admin.token)).body
    cohort_b = (await api.post("/api/cohorts", {"name": "Cohort B"}, token=admin.token)).body
    a, b = cohort_a["cohort"]["id"], cohort_b["cohort"]["id"]
    mod_lee = await register(api, admin, "mod_lee", "moderator")
    people = {
        "pat_ana": await register(api, mod_lee, "pat_ana", "patient", a),
        "pat_avi": await register(api, mod_lee, "pat_avi", "patient", a),
        "pat_bo": await register(api, mod_lee, "pat_bo", "patient", b),
        "alum_dee": await register(api, mod_lee, "alum_dee", "alumni"),
    }
    return Community(
        admin=admin,
        mod_lee=mod_lee,
        cohort_a=a,
        cohort_b=b,
        group_a=await create_room(
            api, mod_lee, name="Group A", kind="group", audience="cohort", cohort_id=a
        ),
        group_b=await create_room(
            api, mod_lee, name="Group B", kind="group", audience="cohort", cohort_id=b
        ),
        lounge=await create_room(
            api, mod_lee, name="Alumni Lounge", kind="peer", audience="alumni"
        ),
        commons=await create_room(api, mod_lee, name="Commons", kind="peer", audience="everyone"),
        people={"admin": admin, "mod_lee": mod_lee, **people},
        **people,
    )


# The barrier's probe: an event every socket may send, with a payload the server refuses
# before doing anything, so the answer costs one round trip and changes nothing.
PROBE_EVENT = "history"


class Peer:
    """A real python-socketio client that records every event it receives."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.connect_error: Any = None
        self._arrived = asyncio.Event()
        self.client.on("*", self._record)
        self.client.on("connect_error", self._refused)

    def _record(self, event: str, data: Any = None) -> None:
        # A plain function, so an event is recorded in the first step of the task the client
        # runs it in: that is what makes `barrier` prove anything.
        self.events[event].append(data)
        self._arrived.set()
        self._arrived = asyncio.Event()

    def _refused(self, data: Any = None) -> None:
        self.connect_error = data

    async def connect(self) -> Peer:
        auth = {"token": self.token} if self.token is not None else None
        await self.client.connect(
            self.url, auth=auth, transports=["websocket"], wait_timeout=WAIT_S
        )
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, timeout=WAIT_S)

    async def wait_for(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = WAIT_S
    ) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                for data in self.events[event]:
                    if match(data):
                        return data
                await self._arrived.wait()

    async def barrier(self) -> None:
        """Answer once this peer has recorded every event the server sent it before the
        server read this call: after an action has been answered (its ack, its HTTP reply, a
        clock advance), whatever it was going to send this peer has arrived, so a test may
        assert that something did not.

        Why it orders: the server writes a socket's packets in the order it queued them, so
        the probe's answer comes after them; the client starts a task per packet in the order
        they arrive, and `_record` runs whole in its task's first step, so every earlier event
        is recorded before the answer can wake this call."""
        refused(await self.call(PROBE_EVENT, None), "invalid")

    def received(self, event: str) -> list[Any]:
        return list(self.events[event])

    async def disconnect(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


async def close(server: RunningServer, peer: Peer) -> None:
    """Disconnect `peer` and answer once its server has run its disconnect handler to the end,
    so a `barrier` on others afterwards proves what the closing sent them. A disconnect has no
    answer to wait for; python-socketio forgets the socket's rooms (its own among them) only
    after the handler has returned, and that is what this waits for."""
    sid = peer.client.get_sid("/")
    await peer.disconnect()
    rooms = server.app[CORE].sio.manager.rooms

    async def forgotten() -> bool:
        return not rooms.get("/", {}).get(sid)

    await eventually(forgotten, "the server to have handled the disconnect")


async def barrier(*peers: Peer) -> None:
    """`Peer.barrier` on each of these peers (at once: each orders only its own socket)."""
    await asyncio.gather(*(peer.barrier() for peer in peers))


async def barrier_through_redis(redis_url: str, prefix: str, *peers: Peer) -> None:
    """`barrier` for servers that share Redis, where an emit of one server reaches the sockets
    of the others through the Socket.IO channel. A probe event published on that channel after
    an action was answered comes after every emit the action published (Redis hands a
    subscriber its messages in the order they were published, and each server hands them to
    its sockets in that order); so once each peer has its probe, everything before has arrived."""
    probes = {secrets.token_hex(8): peer for peer in peers}
    client = Redis.from_url(redis_url)
    try:
        for token, peer in probes.items():
            await client.publish(f"{prefix}:socketio", json.dumps(probe_emit(peer, token)))
    finally:
        await client.aclose()
    await asyncio.gather(
        *(peer.wait_for(BARRIER_EVENT, is_equal_to(token)) for token, peer in probes.items())
    )


BARRIER_EVENT = "test_barrier"


def probe_emit(peer: Peer, token: str) -> dict[str, Any]:
    """A Socket.IO manager message, as servers publish them, emitting `token` to this peer's
    socket alone (every socket is a room of its own)."""
    sid = peer.client.get_sid("/")
    return {
        "method": "emit",
        "event": BARRIER_EVENT,
        "data": [token],
        "binary": False,
        "namespace": "/",
        "room": sid,
        "skip_sid": None,
        "callback": None,
        "host_id": "tests",
    }


def is_equal_to(wanted: object) -> Callable[[Any], bool]:
    return lambda data: data == wanted


def message_ids(peer: Peer) -> list[int]:
    """The ids of the `message` events a peer has received, in order."""
    return [message["id"] for message in peer.received("message")]


def with_id(wanted: object) -> Callable[[Any], bool]:
    """A `Peer.wait_for` match for the payload whose "id" is `wanted`. Taking the id as an
    argument binds it per call, where a lambda in a loop would see only the last one."""
    return lambda payload: payload["id"] == wanted


def new_client_id() -> str:
    return secrets.token_hex(8)


# ----- acks and calls most tests make -----


def public(person: Person) -> dict[str, Any]:
    """A person as others see them."""
    return {"id": person.id, "display_name": person.display_name, "role": person.role}


def ok(ack: Any) -> dict[str, Any]:
    assert isinstance(ack, dict), ack
    assert ack.get("ok") is True, ack
    return ack


def refused(ack: Any, code: str) -> dict[str, Any]:
    """The error of an ack that must be a refusal with this code and a message."""
    assert isinstance(ack, dict), ack
    assert ack.get("ok") is False, ack
    assert ack["error"]["code"] == code, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], ack
    return dict(ack["error"])


async def ban(api: Api, c: Community, room_id: int, user_id: int) -> None:
    """Lee bans the person from the room until lifted."""
    reply = await api.post(
        f"/api/rooms/{room_id}/bans", {"user_id": user_id, "reason": "testing"}, c.mod_lee.token
    )
    assert reply.status == 201, reply.body


async def joined(peer: Peer, room_id: int, **extra: Any) -> dict[str, Any]:
    return ok(await peer.call("join", {"room_id": room_id, **extra}))


async def try_send(peer: Peer, room_id: int, body: str, client_id: str | None = None) -> Any:
    payload = {"room_id": room_id, "body": body, "client_id": client_id or new_client_id()}
    return await peer.call("send", payload)


async def send(peer: Peer, room_id: int, body: str, client_id: str | None = None) -> dict[str, Any]:
    return dict(ok(await try_send(peer, room_id, body, client_id))["message"])


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = WAIT_S
) -> T:
    """Poll until the probe answers something truthy (the server has caught up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def notification_settings(api: Api, person: Person) -> dict[str, Any]:
    """The person's notification settings, as their settings screen reads them."""
    reply = await api.get("/api/me/notifications", token=person.token)
    assert reply.status == 200, reply.body
    settings: dict[str, Any] = reply.body["notifications"]
    return settings


async def settle(server: RunningServer) -> None:
    """Every notification queued so far (a push, a mail) has been tried."""
    await server.app[NOTIFICATIONS].drain()


async def patch_room(api: Api, staff: Person, room_id: int, **fields: Any) -> dict[str, Any]:
    reply = await api.call("PATCH", f"/api/rooms/{room_id}", token=staff.token, json=fields)
    assert reply.status == 200, reply.body
    return dict(reply.body["room"])


async def stored_messages(
    api: Api, token: str, room_id: int, *, latest_only: bool = False
) -> list[dict[str, Any]]:
    """A room's stored messages, oldest first: all of them (page by page), or the latest 100."""
    messages: list[dict[str, Any]] = []
    query = ""
    while True:
        reply = await api.get(f"/api/rooms/{room_id}/messages?limit=100{query}", token)
        assert reply.status == 200, reply
        messages[:0] = reply.body["messages"]
        if latest_only or not reply.body["has_more"]:
            return messages
        query = f"&before={messages[0]['id']}"


async def stored_bodies(api: Api, staff: Person, room_id: int) -> list[str]:
    reply = await api.get(f"/api/rooms/{room_id}/messages?limit=100", token=staff.token)
    assert reply.status == 200, reply.body
    return [message["body"] for message in reply.body["messages"]]


async def audit(api: Api, staff: Person, room_id: int | None = None) -> list[dict[str, Any]]:
    query = f"?room_id={room_id}&limit=1000" if room_id is not None else "?limit=1000"
    reply = await api.get(f"/api/audit{query}", token=staff.token)
    assert reply.status == 200, reply.body
    return list(reply.body["entries"])


def parse_utc(value: str) -> datetime:
    """A contract time: ISO 8601 in UTC with a Z suffix."""
    assert isinstance(value, str) and value.endswith("Z"), value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0), value
    return moment


def with_settings(**overrides: Any) -> pytest.MarkDecorator:
    """Run a test against a server built with these settings (see conftest's `server`)."""
    return pytest.mark.parametrize(
        "server_overrides", [overrides], ids=[",".join(f"{k}={v}" for k, v in overrides.items())]
    )


async def scrape_metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A server's /metrics, each sample by its name and labels."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = await reply.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
