"""The `peerrooms` command: serve, create-admin, demo, retention, db, backup, restore, and
the console's commands (docs/console.md), a module of them per group."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from server.accounts.http import ACCOUNTS
from server.accounts.service import AccountService
from server.app import create_app, database_deadlines
from server.cli import people, program, records, sessions
from server.cli.task import run_console_command
from server.demo import seed_demo
from server.kernel.access_log import AccessLogger
from server.kernel.actors import Role
from server.kernel.db import Deadlines, create_engine
from server.kernel.errors import AppError
from server.kernel.logs import configure_logging
from server.kernel.migrate import current_revision, head_revision, upgrade_to_head
from server.meetings.http import MEETINGS
from server.privacy.backup import BackupError, make_backup, restore_backup
from server.privacy.retention import Retention, summary
from server.privacy.retention_http import RETENTION
from server.rooms.http import MESSAGES, ROOMS
from server.settings import Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peerrooms", description=__doc__)
    parser.add_argument("--config", type=Path, help="settings file (default config/peerrooms.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and Socket.IO server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    admin = commands.add_parser("create-admin", help="create an admin account (idempotent)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--display-name", default="Program admin")

    for group in (people, program, sessions, records):
        group.add_commands(commands)

    commands.add_parser("demo", help="seed a demo community and print how to sign in")

    retention = commands.add_parser(
        "retention", help="delete records past their retention period, or say what would go"
    )
    retention_mode = retention.add_mutually_exclusive_group(required=True)
    retention_mode.add_argument(
        "--dry-run", action="store_true", help="print what a run would delete now; delete nothing"
    )
    retention_mode.add_argument("--apply", action="store_true", help="run retention once, now")

    database = commands.add_parser("db", help="database schema")
    database.add_argument("action", choices=["upgrade", "current"])

    backup = commands.add_parser(
        "backup", help="copy the database into a file, checked (servers may keep running)"
    )
    backup.add_argument("--to", required=True, type=Path, help="the backup file to write")
    restore = commands.add_parser(
        "restore", help="put a backup into the configured database (stop the servers first)"
    )
    restore.add_argument("--from", dest="source", required=True, type=Path, help="backup file")
    restore.add_argument(
        "--yes", action="store_true", help="replace what a database that has tables holds"
    )
    return parser


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (its sockets and scheduling are C, which counts when one
    message becomes a dozen deliveries), unless the settings ask for the standard loop."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if value is not None
    }
    settings = load_settings(args.config, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "db":
        return asyncio.run(_database(args.action, settings))
    if args.command in ("backup", "restore"):
        return asyncio.run(_backup_or_restore(args, settings))
    if args.command == "serve":
        loop = new_event_loop(settings.event_loop)
        app = create_app(settings, owns_process=True)
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log_class=AccessLogger,
            loop=loop,
            # What is left after the shutdown hook's grace (app.py: _close_sockets): HTTP
            # requests still running get this long; then every connection is closed.
            shutdown_timeout=HTTP_SHUTDOWN_S,
        )
        return 0
    try:
        return asyncio.run(_run_task(args, settings))
    except AppError as error:
        print(f"peerrooms: {error.message}", file=sys.stderr)
        return BAD_INPUT if error.code == "invalid" else REFUSED


# Exit codes: a refusal (by role, or for what the database holds: not found, a conflict);
# input that could never be right (argparse exits with the same code for its own).
REFUSED = 1
BAD_INPUT = 2


HTTP_SHUTDOWN_S = 0.5


def _unhurried(settings: Settings) -> Deadlines:
    """No statement timeout: a migration may rewrite a large table, a backup read all of it."""
    return replace(database_deadlines(settings), statement_s=None)


async def _database(action: str, settings: Settings) -> int:
    engine = create_engine(settings.database_url, deadlines=_unhurried(settings))
    try:
        if action == "upgrade":
            await upgrade_to_head(engine)
        current = await current_revision(engine)
        print(f"schema revision {current} (this peerrooms: {head_revision()})")
        return 0 if current == head_revision() or action == "current" else 1
    finally:
        await engine.dispose()


async def _backup_or_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "backup":
            report = await make_backup(settings.database_url, args.to, _unhurried(settings))
        else:
            report = await restore_backup(
                settings.database_url, args.source, replace=args.yes, deadlines=_unhurried(settings)
            )
    except BackupError as error:
        print(f"peerrooms: {error}", file=sys.stderr)
        return 2
    print(report)
    return 0


@asynccontextmanager
async def _started(settings: Settings) -> AsyncIterator[web.Application]:
    """The fully wired application with its database open, but no listening socket."""
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()


async def _run_task(args: argparse.Namespace, settings: Settings) -> int:
    async with _started(settings) as app:
        accounts = app[ACCOUNTS]
        if args.command == "create-admin":
            return await _create_admin(accounts, args)
        if args.command == "retention":
            return await _retention(app[RETENTION], apply=args.apply)
        if args.command == "demo":
            print(await seed_demo(accounts, app[ROOMS], app[MESSAGES], app[MEETINGS]))
            return 0
        return await run_console_command(app, settings, args)


async def _create_admin(accounts: AccountService, args: argparse.Namespace) -> int:
    user, created = await accounts.ensure_user(
        username=args.username.strip().lower(),
        password=args.password,
        role=Role.ADMIN,
        display_name=args.display_name,
    )
    if user.role != Role.ADMIN:
        print(
            f"peerrooms: {user.username} exists and is a {user.role}, not an admin.",
            file=sys.stderr,
        )
        return 2
    print(f"admin {user.username} {'created' if created else 'already exists'}")
    return 0


async def _retention(retention: Retention, *, apply: bool) -> int:
    """`--dry-run`: the report, a line per class; `--apply`: one run, and what it deleted."""
    if apply:
        deleted = await retention.run_now()
        if not deleted:
            print("Every class is kept for ever (no RETENTION_*_DAYS is set): nothing to delete.")
        else:
            print(summary(deleted))
        return 0
    report = await retention.report(None)
    print("class\tperiod\tdue\theld\tkept open")
    for each in report["classes"]:
        days = each["period_days"]
        period = f"{days} days" if days else "for ever"
        print(f"{each['name']}\t{period}\t{each['due']}\t{each['held']}\t{each['kept_open']}")
    print(
        f"legal holds in force: {report['holds_in_force']}; runs every"
        f" {report['interval_hours']:g} h; last run: {report['last_run_at'] or 'never'}"
    )
    return 0
