"""What every console command shares (docs/console.md): the account it acts as, the names a
person types looked up as the ids the API takes, tab-separated lists, CSV to a file or to
stdout, dates as the console's pickers mean them, and audit rows that say "cli"."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from server.accounts.http import ACCOUNTS
from server.accounts.service import AccountService
from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import iso_utc
from server.kernel.errors import AppError, forbidden, invalid, not_found
from server.kernel.validation import MAX_ID
from server.ops.metrics import CountingAudit
from server.rooms.http import ROOMS
from server.settings import Settings

# What the audit rows written by a console command say, before any reason of their own.
CLI = "cli"
# Where a link goes when the settings do not say where people open peerrooms (public_url).
SOME_SERVER = "<this server's address>"


@dataclass(frozen=True)
class Task:
    """One console command about to run: the wired application (no listening socket), its
    arguments, and who it acts as: the staff account named with `--as`, or None for the
    machine's operator, with an admin's rights (the commands whose services allow it)."""

    app: web.Application
    args: argparse.Namespace
    settings: Settings
    actor: Actor | None

    @property
    def accounts(self) -> AccountService:
        return self.app[ACCOUNTS]

    @property
    def staff(self) -> Actor:
        """The account named with `--as`, which the parser requires of this command."""
        if self.actor is None:
            raise invalid("--as: name the staff account this command acts as.")
        return self.actor


Run = Callable[[Task], Awaitable[int]]


def acting(*, required: bool) -> argparse.ArgumentParser:
    """The `--as` option, as a parent parser of the commands that take it."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--as",
        dest="acting_as",
        metavar="USERNAME",
        required=required,
        help="the admin (or moderator) account the command acts as: its rights apply, and"
        " the audit log names it"
        + ("" if required else "; without it, the operator of the machine, as an admin"),
    )
    return parent


def add_command(
    commands: Any, name: str, run: Run, help_text: str, *, acts: bool = True
) -> argparse.ArgumentParser:
    """A console command: `run` is what the parsed arguments call (`args.run`)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=help_text, parents=[acting(required=acts)]
    )
    parser.set_defaults(run=run)
    return parser


async def run_console_command(
    app: web.Application, settings: Settings, args: argparse.Namespace
) -> int:
    mark_audit_rows(app)
    actor = None
    if args.acting_as is not None:
        actor = await acting_as(app[ACCOUNTS], args.acting_as)
    command: Run = args.run
    return await command(Task(app, args, settings, actor))


async def acting_as(accounts: AccountService, username: str) -> Actor:
    actor = await accounts.load_actor(await accounts.user_id_of(login_name(username)))
    if actor is None:
        raise forbidden(f"--as: {username} is deactivated.")
    if not actor.is_staff:
        raise forbidden(f"--as: {username} is not staff; name an admin's account.")
    return actor


@dataclass
class CommandLineAudit:
    """The audit sink of a console command's process: each row says it came from here."""

    inner: AuditSink

    async def record(
        self,
        *,
        actor_id: int | None,
        action: str,
        room_id: int | None = None,
        target_user_id: int | None = None,
        message_id: int | None = None,
        reason: str = "",
    ) -> None:
        await self.inner.record(
            actor_id=actor_id,
            action=action,
            room_id=room_id,
            target_user_id=target_user_id,
            message_id=message_id,
            # First, so that the audit log's length limit never cuts it off.
            reason=f"{CLI}: {reason}" if reason else CLI,
        )

    def written_with_post(self, action: str) -> None:
        self.inner.written_with_post(action)


def mark_audit_rows(app: web.Application) -> None:
    """Every feature of the app records through the one sink accounts holds (app.py)."""
    sink = app[ACCOUNTS].audit
    if not isinstance(sink, CountingAudit):
        raise RuntimeError("the audit sink is not the one app.py wires; cannot mark rows")
    sink.inner = CommandLineAudit(sink.inner)


# ----- names a person types, as the API's ids -----


def identifier(text: str) -> int:
    """An id option (argparse `type`): what the API's paths take."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"use a whole number from 1 to {MAX_ID}")
    return int(text)


def login_name(username: str) -> str:
    return username.strip().lower()


async def user_id(task: Task, username: str) -> int:
    return await task.accounts.user_id_of(login_name(username))


async def cohort_id(task: Task, name: str | None) -> int | None:
    return None if not name else (await task.accounts.cohort_named(name)).id


async def room_of(task: Task, name: str, *, archived_first: bool = False) -> dict[str, Any]:
    """The room of this name among those the acting account may see: an active one, or else
    an archived one (which a name may still be wanted for: its audit log, bringing it back).
    `archived_first` looks the other way round, for a name an archived room shares with one
    made since."""
    every = await task.app[ROOMS].list_rooms(task.staff, archived=True)
    named = [room for room in every if room["name"] == name]
    for archived in (archived_first, not archived_first):
        found = [room for room in named if room["archived"] is archived]
        if len(found) > 1:
            raise AppError("conflict", f"Several rooms are named {name!r}; rename one first.")
        if found:
            return found[0]
    raise not_found(f"room named {name!r}")


# ----- what the commands print -----


def cell(value: object) -> str:
    """A value in a tab-separated line: tabs and line breaks in typed text would split it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def print_rows(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    print("\t".join(header))
    for row in rows:
        print("\t".join(cell(value) for value in row))


def link(settings: Settings, path: str) -> str:
    """A path on this server (`/#/register?code=…`) as people open it."""
    base = settings.public_url.rstrip("/") if settings.public_url else SOME_SERVER
    return base + path


def write_csv(text: str, out: Path | None) -> None:
    """A CSV export to stdout, or to a file (and a line saying so)."""
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8", newline="")
    rows = len(list(csv.reader(io.StringIO(text)))) - 1  # a cell may hold a line break
    print(f"wrote {rows} row{'' if rows == 1 else 's'} to {out}")


# ----- dates and times as the console's pickers mean them -----


def day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise invalid(f"{option}: use a date such as 2027-03-01.") from None


def clock_time(text: str, option: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise invalid(f"{option}: use a time of day such as 18:00.") from None


def zone(name: str, option: str = "--timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"{option}: use an IANA time zone name such as America/Chicago.") from None


def add_day_range(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--from", dest="first_day", required=required, help="first day")
    parser.add_argument("--to", dest="last_day", required=required, help="last day (included)")
    parser.add_argument(
        "--timezone", default="UTC", help="whose midnights bound the days (default UTC)"
    )


def day_range(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """`--from` and `--to`, both days included, as the API's UTC [since, until): midnight to
    midnight on the wall clock of `--timezone`, as the console reads its date pickers."""
    where = zone(args.timezone)

    def midnight(text: str | None, option: str, days_after: int = 0) -> datetime | None:
        if text is None:
            return None
        return datetime.combine(day(text, option) + timedelta(days=days_after), time(), where)

    since = midnight(args.first_day, "--from")
    until = midnight(args.last_day, "--to", days_after=1)
    if since is not None and until is not None and until <= since:
        raise invalid("--to: give a day on or after --from.")
    return iso_utc(since), iso_utc(until)
