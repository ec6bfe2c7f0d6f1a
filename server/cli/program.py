"""Console commands for cohorts and rooms: the same services and inputs as the cohort and
room routes (server/accounts/http.py, server/rooms/http.py)."""

from __future__ import annotations

import argparse
from typing import Any, get_args

from server.accounts.models import CohortIn, CohortPatch, CohortsQuery
from server.cli.task import Task, add_command, cohort_id, print_rows, room_of
from server.kernel.validation import parse_input
from server.rooms.http import ROOMS
from server.rooms.models import ContactPolicy, HistoryVisibility, RoomIn, RoomPatch

# The choices the API's inputs allow, as they declare them.
KINDS = get_args(RoomIn.model_fields["kind"].annotation)
AUDIENCES = get_args(RoomIn.model_fields["audience"].annotation)
CONTACT_POLICIES = get_args(ContactPolicy)
HISTORY = get_args(HistoryVisibility)


def add_commands(commands: Any) -> None:
    cohorts = add_command(commands, "cohorts", list_cohorts, "list cohorts (tab-separated)")
    cohorts.add_argument("--active", action="store_true", help="leave archived cohorts out")

    create = add_command(commands, "create-cohort", create_cohort, "create a cohort")
    create.add_argument("--name", required=True)

    rename = add_command(commands, "rename-cohort", rename_cohort, "rename a cohort")
    rename.add_argument("--cohort", required=True, help="its name now")
    rename.add_argument("--name", required=True, help="its new name")

    archive = add_command(
        commands,
        "archive-cohort",
        archive_cohort,
        "archive a cohort (its people and rooms stay; no new invites), or bring it back",
    )
    archive.add_argument("--cohort", required=True)
    archive.add_argument("--bring-back", action="store_true", help="undo an archiving")

    rooms = add_command(commands, "rooms", list_rooms, "list rooms (tab-separated)")
    rooms.add_argument("--all", action="store_true", help="archived rooms too")

    room = add_command(commands, "create-room", create_room, "create a room")
    room.add_argument("--name", required=True)
    room.add_argument("--kind", required=True, choices=KINDS)
    room.add_argument("--audience", required=True, choices=AUDIENCES)
    room.add_argument("--cohort", help="cohort name, for (and only for) audience cohort")
    room.add_argument("--topic", default="")
    room.add_argument("--contact-policy", choices=CONTACT_POLICIES, default="mask")
    room.add_argument("--history", choices=HISTORY, help="earlier messages members can read")

    change = add_command(
        commands,
        "room",
        change_room,
        "change a room: rename it, its topic, lock, slow mode, contact policy, history;"
        " archive it or bring it back",
    )
    change.add_argument("--room", required=True, help="its name now")
    change.add_argument("--name", help="its new name")
    change.add_argument("--topic")
    change.add_argument("--lock", action=argparse.BooleanOptionalAction, help="lock or unlock")
    change.add_argument("--slow-mode", type=int, metavar="SECONDS", help="0 turns it off")
    change.add_argument("--contact-policy", choices=CONTACT_POLICIES)
    change.add_argument("--history", choices=HISTORY)
    archiving = change.add_mutually_exclusive_group()
    archiving.add_argument(
        "--archive",
        dest="archived",
        action="store_const",
        const=True,
        help="close the room: its audience is told, only staff still read it",
    )
    archiving.add_argument(
        "--bring-back",
        dest="archived",
        action="store_const",
        const=False,
        help="open an archived room again",
    )

    members = add_command(
        commands,
        "room-people",
        room_people,
        "who a room is for (tab-separated): whether each may enter it now, is in it now",
    )
    members.add_argument("--room", required=True)


# ----- cohorts -----


async def list_cohorts(task: Task) -> int:
    query = parse_input(CohortsQuery, {"status": "active" if task.args.active else "all"})
    print_rows(
        ("id", "name", "archived"),
        (
            (each["id"], each["name"], each["archived"])
            for each in await task.accounts.list_cohorts(task.staff, query)
        ),
    )
    return 0


async def create_cohort(task: Task) -> int:
    data = parse_input(CohortIn, {"name": task.args.name})
    cohort = await task.accounts.create_cohort(task.staff, data)
    print(f"cohort {cohort['name']} created (id {cohort['id']})")
    return 0


async def rename_cohort(task: Task) -> int:
    return await _change_cohort(task, {"name": task.args.name})


async def archive_cohort(task: Task) -> int:
    return await _change_cohort(task, {"archived": not task.args.bring_back})


async def _change_cohort(task: Task, change: dict[str, Any]) -> int:
    data = parse_input(CohortPatch, change)
    the_cohort = await cohort_id(task, task.args.cohort)
    assert the_cohort is not None  # noqa: S101 - the option is required
    cohort = await task.accounts.update_cohort(task.staff, the_cohort, data)
    state = "archived" if cohort["archived"] else "active"
    print(f"cohort {cohort['name']} (id {cohort['id']}): {state}")
    return 0


# ----- rooms -----


async def list_rooms(task: Task) -> int:
    cohorts = {cohort.id: cohort.name for cohort in await task.accounts.all_cohorts()}
    print_rows(
        (
            "id",
            "name",
            "kind",
            "audience",
            "cohort",
            "topic",
            "locked",
            "slow mode (s)",
            "archived",
        ),
        (
            (
                room["id"],
                room["name"],
                room["kind"],
                room["audience"],
                cohorts.get(room["cohort_id"]) if room["cohort_id"] else None,
                room["topic"],
                room["locked"],
                room["slow_mode_s"],
                room["archived"],
            )
            for room in await task.app[ROOMS].list_rooms(task.staff, archived=task.args.all)
        ),
    )
    return 0


async def create_room(task: Task) -> int:
    args = task.args
    fields = {
        "name": args.name,
        "kind": args.kind,
        "audience": args.audience,
        "cohort_id": await cohort_id(task, args.cohort),
        "topic": args.topic,
        "contact_policy": args.contact_policy,
        "history_visibility": args.history,
    }
    room = await task.app[ROOMS].create_room(task.staff, parse_input(RoomIn, fields))
    print(f"room {room['name']} created (id {room['id']})")
    return 0


async def change_room(task: Task) -> int:
    args = task.args
    given = {
        "name": args.name,
        "topic": args.topic,
        "locked": args.lock,
        "slow_mode_s": args.slow_mode,
        "contact_policy": args.contact_policy,
        "history_visibility": args.history,
        "archived": args.archived,
    }
    data = parse_input(
        RoomPatch, {name: value for name, value in given.items() if value is not None}
    )
    # The room brought back is an archived one, whatever active room has its name since.
    room_id = (await room_of(task, args.room, archived_first=args.archived is False))["id"]
    room = await task.app[ROOMS].update_room(task.staff, room_id, data)
    state = "archived" if room["archived"] else "locked" if room["locked"] else "open"
    print(
        f"room {room['name']} (id {room['id']}): {state},"
        f" slow mode {room['slow_mode_s']} s, contact {room['contact_policy']},"
        f" history {room['history_visibility']}"
    )
    return 0


async def room_people(task: Task) -> int:
    room_id = (await room_of(task, task.args.room))["id"]
    print_rows(
        ("id", "alias", "role", "may enter", "in the room now"),
        (
            (each["id"], each["display_name"], each["role"], each["may_enter"], each["online"])
            for each in await task.app[ROOMS].members(task.staff, room_id)
        ),
    )
    return 0
