"""Every console action leaves an audit row that the console's audit log finds by its Action
filter (GET /api/audit?action=...), naming who acted, on whom or where, and what was done,
never a secret such as an invite's code; and that filter offers exactly the actions the
server records (server/kernel/audit.py AUDIT_ACTIONS, web/src/views/console.ts ACTION_TEXT)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from server.kernel.audit import AUDIT_ACTIONS
from tests.processes import run_cli_outcome, server_env
from tests.support import (
    Api,
    Community,
    FakeClock,
    Person,
    RunningServer,
    create_room,
)

REPO = Path(__file__).resolve().parent.parent
CONSOLE = REPO / "web" / "src" / "views" / "console.ts"
# The calls that record an audit row, wherever a feature makes them.
RECORDING_CALLS = {"record", "_record", "_audit"}
ACTION_NAME = re.compile(r"[a-z]+(_[a-z]+)*")


async def audited(
    api: Api,
    staff: Person,
    action: str,
    *,
    actor: Person | None,
    target: Person | None = None,
    room_id: int | None = None,
    words: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The newest row of `action`, as the console's Action filter asks for it, checked."""
    reply = await api.get(f"/api/audit?action={action}", staff.token)
    assert reply.status == 200, reply.body
    assert reply.body["entries"], f"no {action} row"
    row: dict[str, Any] = reply.body["entries"][0]
    assert row["action"] == action, row
    assert (row["actor"] or {}).get("id") == (actor.id if actor else None), row
    assert (row["target_user"] or {}).get("id") == (target.id if target else None), row
    assert row["room_id"] == room_id, row
    for word in words:
        assert word in row["reason"], (word, row)
    return row


async def created(api: Api, staff: Person, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post(path, body, staff.token)
    assert reply.status == 201, reply.body
    return dict(reply.body)


async def test_each_console_action_is_found_in_the_audit_log_by_its_action(
    api: Api, community: Community, clock: FakeClock, server: RunningServer, tmp_path: Path
) -> None:
    c, lee = community, community.mod_lee

    # Cohorts and rooms.
    cohort = (await created(api, lee, "/api/cohorts", {"name": "Cohort C"}))["cohort"]["id"]
    await audited(api, c.admin, "cohort_created", actor=lee, words=(f"cohort {cohort}", "Cohort C"))
    room = await create_room(
        api, lee, name="Tuesday group", kind="meeting", audience="cohort", cohort_id=cohort
    )
    await audited(
        api, c.admin, "room_created", actor=lee, room_id=room,
        words=("Tuesday group", "meeting room", f"cohort {cohort}"),
    )  # fmt: skip

    # Invites, from the console and from the command line: the same row, never the code.
    body = {"role": "patient", "cohort_id": cohort, "max_uses": 2}
    invite = (await created(api, lee, "/api/invites", body))["invite"]
    row = await audited(
        api, c.admin, "invite_created", actor=lee,
        words=(f"invite {invite['id']}", "patient", f"cohort {cohort}", "2 uses"),
    )  # fmt: skip
    assert invite["code"] not in row["reason"], row
    env = server_env(server.settings.database_url, tmp_path)
    typed = await run_cli_outcome(env, "invite", "--role", "alumni", "--uses", "3")
    assert typed.returncode == 0, typed.stderr + typed.stdout
    code = typed.stdout.splitlines()[0]
    row = await audited(api, c.admin, "invite_created", actor=None, words=("alumni", "3 uses"))
    assert code not in row["reason"], row

    # People: graduating (the console's Graduate button), deactivating, reactivating.
    graduated = await api.post(f"/api/users/{c.pat_ana.id}/graduate", token=lee.token)
    assert graduated.status == 200, graduated.body
    await audited(
        api, c.admin, "person_changed", actor=lee, target=c.pat_ana,
        words=("patient -> alumni", "graduated"),
    )  # fmt: skip
    for change, action in (
        ("deactivate", "account_deactivated"),
        ("reactivate", "account_reactivated"),
    ):
        reply = await api.post(f"/api/users/{c.pat_avi.id}/{change}", token=lee.token)
        assert reply.status == 200, reply.body
        await audited(api, c.admin, action, actor=lee, target=c.pat_avi)

    # Sessions: a series, a one-off session, a change, a cancelled and a moved occurrence.
    tomorrow = (clock.now() + timedelta(days=1)).date()
    series = {
        "title": "Tuesday group", "room_id": room, "rrule": "FREQ=DAILY",
        "starts_at": f"{tomorrow}T18:00:00", "timezone": "UTC", "duration_minutes": 120,
    }  # fmt: skip
    meeting = (await created(api, lee, "/api/meetings", series))["meeting"]["id"]
    await audited(
        api, c.admin, "meeting_scheduled", actor=lee, room_id=room,
        words=("Tuesday group", "FREQ=DAILY", f"{tomorrow}T18:00:00 UTC"),
    )  # fmt: skip
    one_off = {**series, "title": "Family session", "rrule": "FREQ=DAILY;COUNT=1"}
    await created(api, lee, "/api/meetings", one_off)
    await audited(
        api, c.admin, "meeting_scheduled", actor=lee, room_id=room,
        words=("Family session", "one session", f"{tomorrow}T18:00:00"),
    )  # fmt: skip
    patched = await api.patch(f"/api/meetings/{meeting}", {"duration_minutes": 90}, lee.token)
    assert patched.status == 200, patched.body
    await audited(
        api, c.admin, "meeting_changed", actor=lee, room_id=room, words=("duration_minutes",)
    )
    first, second = f"{tomorrow}T18:00:00", f"{tomorrow + timedelta(days=1)}T18:00:00"
    cancel = {"occurrence": f"{first}Z", "reason": "Staff training"}
    assert (await api.post(f"/api/meetings/{meeting}/cancel", cancel, lee.token)).status == 200
    await audited(
        api, c.admin, "meeting_cancelled", actor=lee, room_id=room,
        words=(first, "Staff training"),
    )  # fmt: skip
    move = {"occurrence": f"{second}Z", "starts_at": f"{tomorrow + timedelta(days=1)}T19:00:00"}
    assert (await api.post(f"/api/meetings/{meeting}/move", move, lee.token)).status == 200
    await audited(api, c.admin, "meeting_moved", actor=lee, room_id=room, words=(second,))

    # Everything above is recorded under an action the console offers.
    everything = await api.get("/api/audit?limit=1000", c.admin.token)
    assert {row["action"] for row in everything.body["entries"]} <= set(AUDIT_ACTIONS)


# ----- the console's Action filter and the server's list -----


def console_actions() -> list[str]:
    """The keys of ACTION_TEXT in web/src/views/console.ts, which builds the Action filter."""
    source = CONSOLE.read_text(encoding="utf-8")
    block = re.search(r"export const ACTION_TEXT[^{]*\{(.*?)\n\};", source, re.S)
    assert block, "ACTION_TEXT not found in console.ts"
    return re.findall(r"^\s+(\w+):", block.group(1), re.M)


def test_the_consoles_action_filter_offers_every_action_the_server_records() -> None:
    offered = console_actions()
    assert len(offered) == len(set(offered)), "an action offered twice"
    assert len(AUDIT_ACTIONS) == len(set(AUDIT_ACTIONS)), "an action listed twice"
    assert set(offered) - set(AUDIT_ACTIONS) == set(), "offered, but the server never records it"
    assert set(AUDIT_ACTIONS) - set(offered) == set(), "recorded, but the console cannot filter it"


def named_actions(tree: ast.Module) -> Iterator[str]:
    """Action names a module writes out where it records a row: those given to a recording
    call, or returned by a function naming one (`room_change_action`). Names built at run
    time (f"un{kind}") are not seen here."""
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in RECORDING_CALLS:
                values = [*node.args, *(k.value for k in node.keywords if k.arg == "action")]
        elif isinstance(node, ast.FunctionDef) and node.name.endswith("_action"):
            values = [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value]
        for value in values:
            for text in spelled(value, constants):
                if ACTION_NAME.fullmatch(text):
                    yield text


def spelled(value: ast.expr, constants: dict[str, str]) -> Iterator[str]:
    """The texts an expression is written as: a literal, a module constant, either branch of
    `a if c else b`."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value.value
    elif isinstance(value, ast.Name) and value.id in constants:
        yield constants[value.id]
    elif isinstance(value, ast.IfExp):
        yield from spelled(value.body, constants)
        yield from spelled(value.orelse, constants)


def test_every_action_the_code_names_is_listed() -> None:
    found: dict[str, str] = {}
    for path in sorted((REPO / "server").rglob("*.py")):
        if "migrations" not in path.parts:
            for action in named_actions(ast.parse(path.read_text(encoding="utf-8"))):
                found.setdefault(action, str(path.relative_to(REPO)))
    assert {"kick", "cohort_created", "retention_run", "room_locked"} <= found.keys(), found
    unlisted = {action: path for action, path in found.items() if action not in AUDIT_ACTIONS}
    assert unlisted == {}, "add these to AUDIT_ACTIONS (server/kernel/audit.py)"
