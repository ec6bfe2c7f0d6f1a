"""Console commands for people and invites: the same services and inputs as the people and
accounts routes (server/accounts/http.py), so the same rules, refusals and audit rows."""

from __future__ import annotations

from typing import Any

from server.accounts.http import PEOPLE
from server.accounts.models import InviteIn, InvitesQuery, PeopleQuery, PersonChangeIn
from server.cli.task import (
    CLI,
    Task,
    add_command,
    cohort_id,
    identifier,
    link,
    login_name,
    print_rows,
    user_id,
)
from server.kernel.actors import Role
from server.kernel.errors import not_found
from server.kernel.validation import parse_input
from server.privacy.access_audit_http import ACCESS_AUDIT

ROLES = [role.value for role in Role]


def add_commands(commands: Any) -> None:
    people = add_command(
        commands, "people", list_people, "list people (tab-separated), filtered", acts=False
    )
    people.add_argument("--role", choices=ROLES)
    people.add_argument("--cohort", help="cohort name")
    people.add_argument("--status", choices=["active", "deactivated", "all"], default="all")
    people.add_argument("--search", default="", help="part of an alias or login name")

    person = add_command(
        commands, "person", change_person, "change a person's role or cohort", acts=False
    )
    person.add_argument("--username", required=True)
    person.add_argument("--role", choices=ROLES)
    person.add_argument("--cohort", help="cohort name: the person's only cohort from now on")

    page = add_command(
        commands,
        "person-page",
        person_page,
        "a person's page: role, cohorts, joined, last sign-in, meetings attended, mutes and"
        " bans in force (a read the access audit records)",
    )
    page.add_argument("--username", required=True)

    for name, run, what in (
        ("graduate", graduate, "graduate a patient: alumni from now on, out of group rooms"),
        ("deactivate", deactivate, "deactivate an account: every sign-in and socket ends"),
        ("reactivate", reactivate, "reactivate an account: it can sign in again"),
    ):
        add_command(commands, name, run, what).add_argument("--username", required=True)

    reset = add_command(
        commands,
        "reset-code",
        reset_code,
        "issue a one-time password-reset code and print it with its link",
        acts=False,
    )
    reset.add_argument("--username", required=True)

    invite = add_command(
        commands,
        "invite",
        create_invite,
        "create an invite and print its code and registration link",
        acts=False,
    )
    invite.add_argument("--role", required=True, choices=ROLES)
    invite.add_argument("--cohort", help="cohort name, for patient invites")
    invite.add_argument("--uses", type=int, default=1)
    invite.add_argument("--hours", type=float, help="hours until the invite expires")

    invites = add_command(
        commands, "invites", list_invites, "list invites (tab-separated): usable ones, or --all"
    )
    invites.add_argument(
        "--all", action="store_true", help="revoked, expired and used-up invites too"
    )

    revoke = add_command(
        commands, "revoke-invite", revoke_invite, "revoke an invite: nobody registers with it"
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=identifier, help="the invite's id, as `invites` lists it")
    which.add_argument(
        "--code", help="the invite's code (write --code=CODE for an older one that begins with -)"
    )


# ----- people -----


async def list_people(task: Task) -> int:
    """Every matching person, one line each: id, login name, alias, role, cohorts, status,
    last sign-in."""
    args = task.args
    cohorts = {cohort.id: cohort.name for cohort in await task.accounts.all_cohorts()}
    query = {
        "role": args.role,
        "cohort_id": await cohort_id(task, args.cohort),
        "status": args.status,
        "q": args.search,
        "limit": 200,
    }
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await task.app[PEOPLE].people(
            task.actor, parse_input(PeopleQuery, query | {"after": after})
        )
        found += page["users"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    print_rows(
        ("id", "username", "alias", "role", "cohorts", "status", "last sign-in"),
        (
            (
                each["id"],
                each.get("username", "-"),
                each["display_name"],
                each["role"],
                ", ".join(cohorts.get(cohort, "?") for cohort in each["cohort_ids"]),
                each["status"],
                each["last_sign_in_at"],
            )
            for each in found
        ),
    )
    return 0


async def change_person(task: Task) -> int:
    args = task.args
    change = parse_input(
        PersonChangeIn, {"role": args.role, "cohort_id": await cohort_id(task, args.cohort)}
    )
    person = await task.app[PEOPLE].change(task.actor, await user_id(task, args.username), change)
    print(f"{login_name(args.username)}: {person['role']}, cohorts {person['cohort_ids']}")
    return 0


async def person_page(task: Task) -> int:
    """The page, a line per fact (`field<TAB>value`), then the mutes and bans in force."""
    args = task.args
    person_id = await user_id(task, args.username)
    page = await task.app[PEOPLE].person(task.staff, person_id)
    await task.app[ACCESS_AUDIT].record_access(
        task.staff, "person", ("user", person_id), request_id=CLI
    )
    cohorts = {cohort.id: cohort.name for cohort in await task.accounts.all_cohorts()}
    print_rows(
        ("field", "value"),
        (
            ("id", page["id"]),
            ("username", page.get("username", "-")),
            ("alias", page["display_name"]),
            ("role", page["role"]),
            ("cohorts", ", ".join(cohorts.get(each, "?") for each in page["cohort_ids"])),
            ("status", page["status"]),
            ("joined", page["joined_at"]),
            ("graduated", page["graduated_at"]),
            ("last sign-in", page["last_sign_in_at"]),
            *([("last seen", page["last_seen_at"])] if "last_seen_at" in page else []),
            ("meetings attended", page.get("meetings_attended")),
        ),
    )
    for restriction in page.get("restrictions", []):
        until = restriction["until"] or "until lifted"
        print(f"{restriction['kind']}\t{restriction['room_name']}\t{until}")
    return 0


async def graduate(task: Task) -> int:
    person = await task.accounts.graduate(task.staff, await user_id(task, task.args.username))
    print(f"{login_name(task.args.username)} ({person['display_name']}) graduated: alumni now")
    return 0


async def deactivate(task: Task) -> int:
    return await _set_active(task, active=False)


async def reactivate(task: Task) -> int:
    return await _set_active(task, active=True)


async def _set_active(task: Task, *, active: bool) -> int:
    person_id = await user_id(task, task.args.username)
    await task.accounts.set_active(task.staff, person_id, active)
    done = "reactivated" if active else "deactivated: every sign-in ended"
    print(f"{login_name(task.args.username)} {done}")
    return 0


async def reset_code(task: Task) -> int:
    """The code alone on the first line, for scripts; then the link to hand over."""
    person_id = await user_id(task, task.args.username)
    reset = await task.app[PEOPLE].issue_password_reset(task.actor, person_id)
    print(reset["code"])
    print(f"link: {link(task.settings, reset['path'])} (works once, until {reset['expires_at']})")
    return 0


# ----- invites -----


async def create_invite(task: Task) -> int:
    """The code alone on the first line, for scripts; then the registration link."""
    args = task.args
    data = parse_input(
        InviteIn,
        {
            "role": args.role,
            "cohort_id": await cohort_id(task, args.cohort),
            "max_uses": args.uses,
            "expires_in_hours": args.hours,
        },
    )
    invite = await task.accounts.create_invite(task.actor, data)
    print(invite["code"])
    uses = f"{invite['max_uses']} use{'' if invite['max_uses'] == 1 else 's'}"
    print(f"link: {link(task.settings, invite['path'])} ({uses}, until {invite['expires_at']})")
    return 0


async def list_invites(task: Task) -> int:
    query = parse_input(InvitesQuery, {"status": "all" if task.args.all else "usable"})
    cohorts = {cohort.id: cohort.name for cohort in await task.accounts.all_cohorts()}
    print_rows(
        ("id", "code", "role", "cohort", "uses", "expires", "revoked", "link"),
        (
            (
                each["id"],
                each["code"],
                each["role"],
                cohorts.get(each["cohort_id"]) if each["cohort_id"] else None,
                f"{each['uses']}/{each['max_uses']}",
                each["expires_at"],
                each["revoked"],
                link(task.settings, each["path"]),
            )
            for each in await task.accounts.list_invites(task.staff, query)
        ),
    )
    return 0


async def revoke_invite(task: Task) -> int:
    args = task.args
    invite_id = args.id
    if args.code is not None:
        every = await task.accounts.list_invites(task.staff, InvitesQuery(status="all"))
        matching = [each["id"] for each in every if each["code"] == args.code.strip()]
        if not matching:
            raise not_found("invite with this code")
        invite_id = matching[0]
    await task.accounts.revoke_invite(task.staff, invite_id)
    print(f"invite {invite_id} revoked: nobody can register with it now")
    return 0
