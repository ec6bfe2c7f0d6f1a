"""The API reference (docs/api/) held against the code.

REST: the generated OpenAPI document is valid, lists exactly the routes the app serves, is what
the server serves and what is committed, and real answers fit its schemas. Socket.IO: every
event the server handles or emits has its section in docs/api/events/, every section names a
real event, payload tables list the input models' fields, and every error code named exists.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import validate as validate_schema
from openapi_spec_validator import validate as validate_spec

from server.app import EVENTS
from server.kernel.errors import STATUS_BY_CODE
from server.media.service import MUTE_NOTICES
from server.meetings.lifecycle import NOTICES
from server.meetings.service import CHANGE_NOTICES
from server.moderation.restrictions import LIFTED
from server.reference.http import openapi_document
from server.reference.openapi import render
from tests.conftest import PeerFactory
from tests.support import Api, Community, RunningServer, joined, send

REPO = Path(__file__).resolve().parent.parent
API_DOCS = REPO / "docs" / "api"
COMMITTED = API_DOCS / "openapi.json"
REGENERATE = ".venv/bin/python scripts/openapi > docs/api/openapi.json"
# Served by the app, but not the API: the web client (docs/web-client.md: its page, assets,
# service worker, manifest and icons) and Socket.IO's
# transport (docs/api/events/).
NOT_API_PATHS = (
    "/", "/assets", "/socket.io/", "/sw.js", "/manifest.webmanifest", "/icons",
)  # fmt: skip
CLIENT_TO_SERVER = "client → server"
SERVER_TO_CLIENT = "server → client"
# Hub methods that emit to sockets, and the position of the event name in their arguments.
EMITTERS = {
    "to_room": 1,
    "to_user": 1,
    "to_staff": 0,
    "to_connection": 1,
    "to_channels": 1,
    "deliver_here": 1,
}
# Socket.IO's own events, which have no payload model.
LIFECYCLE_EVENTS = {"connect", "disconnect"}


# ----- the OpenAPI document -----


async def test_the_document_is_valid_openapi_3_1(server: RunningServer) -> None:
    document = openapi_document(server.app)
    assert document["openapi"].startswith("3.1")
    validate_spec(document)


def served_routes(server: RunningServer) -> set[tuple[str, str]]:
    routes = set()
    for route in server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or is_not_api(path):
            continue
        routes.add((route.method, path))
    return routes


def is_not_api(path: str) -> bool:
    return path == "/" or any(
        path == prefix or path.startswith(prefix.rstrip("/") + "/")
        for prefix in NOT_API_PATHS
        if prefix != "/"
    )


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


async def test_the_document_lists_exactly_the_routes_the_app_serves(
    server: RunningServer,
) -> None:
    served, documented = served_routes(server), documented_routes(openapi_document(server.app))
    assert served - documented == set(), "served but not documented: add them to a route table"
    assert documented - served == set(), "documented but not served"


async def test_the_served_document_is_the_committed_one(server: RunningServer, api: Api) -> None:
    reply = await api.get("/api/openapi.json")
    assert reply.status == 200, reply.body
    committed = COMMITTED.read_text(encoding="utf-8")
    assert reply.body == json.loads(committed), f"docs/api/openapi.json is stale: {REGENERATE}"
    assert committed == render(openapi_document(server.app)), f"regenerate it: {REGENERATE}"


# ----- real answers against the document's schemas -----


def fits(document: dict[str, Any], value: Any, schema: dict[str, Any]) -> None:
    """`value` is valid against `schema`, whose $refs name the document's components."""
    validate_schema(
        value,
        {**schema, "components": document["components"]},
        cls=OAS31Validator,
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


def fits_shape(document: dict[str, Any], value: Any, shape: str) -> None:
    fits(document, value, {"$ref": f"#/components/schemas/{shape}"})


@dataclass
class DocumentedApi:
    """Calls a documented operation and checks the answer against the document: the status
    expected (by default the documented success), and a body that fits its schema."""

    api: Api
    document: dict[str, Any]

    async def __call__(
        self,
        method: str,
        template: str,
        token: str | None = None,
        json: Any = None,
        query: str = "",
        status: int | None = None,
        **ids: int,
    ) -> Any:
        reply = await self.api.call(method, template.format(**ids) + query, token=token, json=json)
        responses = self.document["paths"][template][method.lower()]["responses"]
        success = next(code for code in responses if code.startswith("2"))
        assert str(reply.status) == str(status or success), (method, template, reply.body)
        documented = responses[str(reply.status)]
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            fits(self.document, reply.body, schema)
        return reply.body


async def test_answers_fit_the_documented_schemas(
    server: RunningServer, api: Api, community: Community, peer: PeerFactory
) -> None:
    document = openapi_document(server.app)
    call = DocumentedApi(api, document)
    c = community
    admin, mod, ana, avi = c.admin.token, c.mod_lee.token, c.pat_ana.token, c.pat_avi.token
    # Refusals, in the error shape.
    await call("GET", "/api/me", status=401)
    wrong = {"username": "pat_ana", "password": "x" * 12}
    await call("POST", "/api/auth/login", json=wrong, status=401)
    await call("GET", "/api/me", ana)
    await call("GET", "/api/cohorts", admin)
    await call("POST", "/api/invites", mod, json={"role": "patient", "cohort_id": c.cohort_a})
    await call("PATCH", "/api/rooms/{id}", mod, json={"topic": "Check-in"}, id=c.group_a)

    ana_socket = await peer(ana)
    join = await joined(ana_socket, c.group_a)
    fits_shape(document, join["room"], "Room")
    message = await send(ana_socket, c.group_a, "Made it through the weekend.")
    fits_shape(document, message, "Message")
    await call("GET", "/api/rooms", ana)
    await call("GET", "/api/rooms/{id}/messages", ana, id=c.group_a)
    await call("GET", "/api/rooms/{id}/presence", ana, id=c.group_a)
    await call(
        "POST", "/api/rooms/{id}/read", ana, json={"message_id": message["id"]}, id=c.group_a
    )

    report = {"reason": "Not kind."}
    await call("POST", "/api/messages/{id}/reports", avi, json=report, id=message["id"])
    await call("GET", "/api/reports", mod)
    alerts = await call("GET", "/api/alerts", mod)
    await call("POST", "/api/alerts/{id}/ack", mod, json={}, id=alerts["alerts"][0]["id"])
    await call("PUT", "/api/duty", mod, json={"on_duty": True})
    await call("GET", "/api/duty", mod)
    mute = {"user_id": c.pat_ana.id, "minutes": 10, "reason": "cool down"}
    await call("POST", "/api/rooms/{id}/mutes", mod, json=mute, id=c.group_a)
    await call("GET", "/api/rooms/{id}/mutes", mod, id=c.group_a)
    await call("POST", "/api/rooms/{id}/kicks", mod, json=mute, id=c.group_a)
    await call("POST", "/api/rooms/{id}/bans", mod, json=mute, id=c.group_a)
    await call("GET", "/api/rooms/{id}/bans", mod, id=c.group_a)
    await call("GET", "/api/audit", mod)

    room = {"name": "Evening session", "kind": "meeting", "audience": "cohort"}
    created = await call("POST", "/api/rooms", mod, json={**room, "cohort_id": c.cohort_a})
    series = {
        "title": "Evening Group",
        "room_id": created["room"]["id"],
        "rrule": "FREQ=DAILY",
        "starts_at": "2026-01-05T18:00:00",
        "timezone": "America/Chicago",
        "duration_minutes": 180,
    }
    meeting = (await call("POST", "/api/meetings", mod, json=series))["meeting"]
    await call("GET", "/api/meetings", ana)
    await call("GET", "/api/meetings/upcoming", ana)
    listed = await call("GET", "/api/meetings/{id}/occurrences", mod, id=meeting["id"])
    first = listed["occurrences"][0]["starts_at"]
    attendance = "/api/meetings/{id}/attendance"
    await call("GET", attendance, mod, query=f"?occurrence={first}", id=meeting["id"])
    await call("GET", "/api/me/calendar-token", ana)
    await call("GET", "/healthz")
    await call("GET", "/readyz")


# ----- the Socket.IO pages -----


@dataclass(frozen=True)
class Section:
    """One event's section of docs/api/events/*.md."""

    name: str
    direction: str
    page: str
    text: str

    def marked(self, marker: str) -> list[str]:
        """The lines after a bold marker (`**Payload**`), up to the next bold marker."""
        lines = self.text.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip() == marker), None)
        if start is None:
            return []
        rest = lines[start + 1 :]
        end = next((i for i, line in enumerate(rest) if line.startswith("**")), len(rest))
        return rest[:end]

    def table_rows(self, marker: str) -> list[list[str]]:
        rows = [line for line in self.marked(marker) if line.startswith("|")]
        return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]

    def error_codes(self) -> list[str]:
        """The codes of the `**Errors:**` paragraph; what is in parentheses explains them."""
        match = re.search(r"^\*\*Errors:\*\*(.*?)(?:\n\n|\Z)", self.text, re.M | re.S)
        if match is None:
            return []
        return re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", match.group(1)))


def event_sections() -> list[Section]:
    sections = []
    for page in sorted((API_DOCS / "events").glob("*.md")):
        parts = re.split(r"^## `(\w+)`\n", page.read_text(encoding="utf-8"), flags=re.M)
        for name, text in zip(parts[1::2], parts[2::2], strict=True):
            direction = re.search(r"^\*\*Direction:\*\* (\w+ → \w+)", text, re.M)
            assert direction, f"{page.name}: `{name}` says nothing of its direction"
            sections.append(Section(name, direction.group(1), page.name, text))
    return sections


def sections_going(direction: str) -> dict[str, Section]:
    going = [section for section in event_sections() if section.direction == direction]
    names = [section.name for section in going]
    assert len(names) == len(set(names)), f"an event documented twice: {sorted(names)}"
    return {section.name: section for section in going}


def handled_events(server: RunningServer) -> dict[str, Any]:
    handlers: dict[str, Any] = server.app[EVENTS].sio.handlers["/"]
    return handlers


async def test_every_handled_event_has_its_section_and_every_section_is_handled(
    server: RunningServer,
) -> None:
    documented = set(sections_going(CLIENT_TO_SERVER))
    handled = set(handled_events(server))
    assert handled - documented == set(), "handled but not documented"
    assert documented - handled == set(), "documented but not handled"


async def test_each_events_payload_table_lists_its_models_fields(server: RunningServer) -> None:
    sections = sections_going(CLIENT_TO_SERVER)
    models = server.app[EVENTS].models
    for name in handled_events(server):
        if name in LIFECYCLE_EVENTS:
            continue
        model = models[name]
        rows = sections[name].table_rows("**Payload**")
        documented = {row[0].strip("`"): row[2] for row in rows}
        fields = {
            field: "yes" if info.is_required() else "no"
            for field, info in model.model_fields.items()
        }
        assert documented == fields, f"`{name}` ({model.__name__}): field, required"


def emitted_events() -> set[str]:
    """Every event name the server's code emits to sockets."""
    events = set()
    for call in calls_in_server():
        position = EMITTERS.get(call_name(call), -1)
        if 0 <= position < len(call.args):
            argument = call.args[position]
            assert isinstance(argument, ast.Constant), ast.unparse(call)
            events.add(str(argument.value))
    # The Notifier emits this one for every `tell`.
    return events | {"notice"}


def notice_kinds() -> set[str]:
    """Every `notice` kind: the literal ones told, and the tables of the others."""
    tables = (LIFTED, NOTICES, CHANGE_NOTICES, MUTE_NOTICES)
    kinds = {kind for table in tables for kind, _ in table.values()}
    for call in calls_in_server():
        if call_name(call) == "tell" and isinstance(call.args[1], ast.Constant):
            kinds.add(str(call.args[1].value))
    return kinds


def calls_in_server() -> Iterator[ast.Call]:
    for source in sorted((REPO / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                yield node


def call_name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def test_every_emitted_event_has_its_section_and_every_section_is_emitted() -> None:
    documented, emitted = set(sections_going(SERVER_TO_CLIENT)), emitted_events()
    assert emitted - documented == set(), "emitted but not documented"
    assert documented - emitted == set(), "documented but never emitted"


def test_every_notice_kind_is_documented_and_every_documented_kind_is_told() -> None:
    rows = sections_going(SERVER_TO_CLIENT)["notice"].table_rows("**Kinds**")
    assert {row[0].strip("`") for row in rows} == notice_kinds()


def test_error_codes_named_in_the_events_pages_exist() -> None:
    for section in event_sections():
        codes = section.error_codes()
        if section.direction == CLIENT_TO_SERVER:
            assert codes or section.name == "disconnect", f"`{section.name}` names no errors"
        unknown = set(codes) - STATUS_BY_CODE.keys()
        assert not unknown, f"{section.page}, `{section.name}`: no such error codes {unknown}"


def test_the_error_table_lists_exactly_the_codes_and_their_statuses() -> None:
    index = (API_DOCS / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(\w+)` \| (\d{3}) \|", index, flags=re.M)
    assert {code: int(status) for code, status in table} == STATUS_BY_CODE
