"""Backing the database up into one file, and putting such a file back (docs/privacy.md,
"Backups"): SQLite through its online backup API, PostgreSQL through pg_dump's custom format
and pg_restore. A backup holds every conversation, so its file is readable by its owner
alone, and it takes the place of an older file of the same name only once it is whole and
checked."""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

from sqlalchemy import Connection, func, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.accounts.models import User
from server.kernel.db import BUSY_TIMEOUT_MS, DEFAULT_DEADLINES, Deadlines, create_engine
from server.kernel.migrate import head_revision, knows_revision, revision_of
from server.rooms.models import Message

PRIVATE = 0o600


class BackupError(Exception):
    """A backup or restore that could not be done; its message is the one line the operator
    reads."""


@dataclass(frozen=True)
class Contents:
    """What a database holds, in the few numbers an operator checks a backup by."""

    revision: str
    messages: int
    people: int

    def describe(self) -> str:
        return f"schema revision {self.revision}: {self.messages} messages, {self.people} people"


def _contents(connection: Connection) -> Contents | None:
    """None when the database has no peerrooms schema in it."""
    revision = revision_of(connection)
    if revision is None:
        return None
    messages = connection.execute(select(func.count()).select_from(Message)).scalar_one()
    people = connection.execute(select(func.count()).select_from(User)).scalar_one()
    return Contents(revision, messages, people)


def _schema_in(contents: Contents | None, complaint: str) -> Contents:
    if contents is None:
        raise BackupError(complaint)
    return contents


def _revision_advice(revision: str) -> str:
    head = head_revision()
    if revision == head:
        return "the schema is the one this peerrooms uses"
    if knows_revision(revision):
        return f"this peerrooms is at {head}: run `peerrooms db upgrade` before starting it"
    return (
        f"this peerrooms (at {head}) does not know revision {revision}, which a newer version"
        " wrote: run that version or a later one on this database"
    )


async def make_backup(database_url: str, to: Path, deadlines: Deadlines = DEFAULT_DEADLINES) -> str:
    """Copy the database (servers may go on using it) into the file `to`, check the copy, and
    answer what to tell the operator."""
    url = make_url(database_url)
    with _private_file_replacing(to) as (file, partial):
        if _is_sqlite(url):
            check, contents = _backup_sqlite(_sqlite_path(url), partial)
        else:
            check, contents = await _backup_postgres(url, file, partial, deadlines)
        size = os.fstat(file.fileno()).st_size
    return "\n".join(
        [
            f"backup written to {to} ({_size(size)}, readable by its owner only)",
            check,
            f"{contents.describe()} (this peerrooms: {head_revision()})",
        ]
    )


async def restore_backup(
    database_url: str,
    source: Path,
    *,
    replace: bool,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> str:
    """Put the backup `source` into the database, refusing one that has tables unless
    `replace`; answer what to tell the operator."""
    url = make_url(database_url)
    _check_readable(source)
    if _is_sqlite(url):
        contents = _restore_sqlite(source, _sqlite_path(url), replace=replace)
    else:
        contents = await _restore_postgres(url, source, replace=replace, deadlines=deadlines)
    return "\n".join(
        [
            f"restored {source} into {url.render_as_string(hide_password=True)}",
            contents.describe(),
            _revision_advice(contents.revision),
        ]
    )


# ----- files -----


@contextmanager
def _private_file_replacing(path: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A new file only its owner may read, beside `path`, that takes `path`'s place when the
    block ends without error and is removed when it does not: a failed backup neither leaves
    half a file nor destroys the last good one."""
    if path.is_dir():
        raise BackupError(f"{path} is a folder: give the path of the backup file to write")
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {path}: there is no folder {path.parent}")
    try:
        # mkstemp makes the file with mode 0600 whatever the umask.
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as error:
        raise BackupError(f"cannot write in {path.parent}: {error.strerror}") from error
    partial = Path(name)
    try:
        with os.fdopen(handle, "r+b") as file:
            os.fchmod(file.fileno(), PRIVATE)
            yield file, partial
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise BackupError(f"cannot read the backup {path}: {error.strerror}") from error
    if not path.is_file():
        raise BackupError(f"cannot read the backup {path}: it is not a file")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


# ----- SQLite -----


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing on disk to back up")
    return Path(url.database)


def _open_sqlite(path: Path, mode: str) -> sqlite3.Connection:
    """A connection that opens an existing file only (`mode` ro or rw), never makes one."""
    uri = f"file:{quote(str(path.resolve()))}?mode={mode}"
    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return connection


def _backup_sqlite(database: Path, partial: Path) -> tuple[str, Contents]:
    if not database.is_file():
        raise BackupError(f"there is no SQLite database at {database}: check DATABASE_URL")
    try:
        with (
            closing(_open_sqlite(database, "ro")) as live,
            closing(_open_sqlite(partial, "rw")) as copy,
        ):
            # All pages in one step: one read transaction, so one consistent moment of the
            # database; in WAL mode it holds up none of the server's writes.
            live.backup(copy)
            # The copy stands alone: rollback-journal mode, no -wal file beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(copy, f"the copy of {database}")
        contents = _sqlite_contents(partial)
    except (sqlite3.Error, SQLAlchemyError) as error:
        raise BackupError(f"could not copy {database}: {_reason(error)}") from error
    found = _schema_in(contents, f"{database} has no peerrooms schema in it: check DATABASE_URL")
    return "checked: SQLite's integrity check finds no fault in the copy", found


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    faults = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if faults != ["ok"]:
        raise BackupError(f"{what} fails SQLite's integrity check: {faults[0]}")


def _sqlite_contents(path: Path) -> Contents | None:
    engine = create_sync_engine("sqlite://", creator=lambda: _open_sqlite(path, "ro"))
    try:
        with engine.connect() as connection:
            return _contents(connection)
    finally:
        engine.dispose()


def _restore_sqlite(backup: Path, database: Path, *, replace: bool) -> Contents:
    _check_sqlite_backup(backup)
    try:
        with (
            closing(_open_sqlite(backup, "ro")) as source,
            closing(_open_sqlite(_private_file(database), "rw")) as target,
        ):
            if not replace:
                _refuse_tables(_sqlite_tables(target), database)
            _hold_alone(target, database)
            source.backup(target)  # one transaction: all of the backup, or nothing
    except sqlite3.Error as error:
        raise BackupError(f"could not restore {backup} into {database}: {error}") from error
    return _schema_in(_sqlite_contents(database), f"{database} shows no schema once restored")


def _check_sqlite_backup(backup: Path) -> None:
    try:
        with closing(_open_sqlite(backup, "ro")) as connection:
            _check_integrity(connection, f"the backup {backup}")
        contents = _sqlite_contents(backup)
    except (sqlite3.Error, SQLAlchemyError) as error:
        raise BackupError(f"cannot read the backup {backup}: {_reason(error)}") from error
    _schema_in(contents, f"{backup} is not a peerrooms backup: it has no schema revision")


def _private_file(path: Path) -> Path:
    """`path`, made (empty, readable by its owner only) if it was not there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        pass
    return path


def _hold_alone(connection: sqlite3.Connection, path: Path) -> None:
    """Take the database file for this connection alone until it closes, or refuse: a server
    keeps a lock on the file for as long as it has it open in WAL mode, and leaving WAL mode
    needs every other connection gone. Nothing can open the file after this (a server that
    starts meanwhile waits, then fails), and no -wal file is left to be replayed over what is
    restored."""
    connection.execute("PRAGMA busy_timeout=0")
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    try:
        mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("COMMIT")
    except sqlite3.OperationalError:
        mode = "busy"
    if mode != "delete":
        raise BackupError(
            f"{path} is in use (is a peerrooms server running on it?): stop it, then restore"
        )


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return [row[0] for row in rows]


def _refuse_tables(tables: list[str], where: object) -> None:
    if tables:
        raise BackupError(
            f"{where} already has {len(tables)} tables: restore into an empty database,"
            " or pass --yes to replace what it holds with the backup"
        )


# ----- PostgreSQL -----


async def _backup_postgres(
    url: URL, file: IO[bytes], partial: Path, deadlines: Deadlines
) -> tuple[str, Contents]:
    env = _libpq_env(url, deadlines)
    engine = create_engine(url.render_as_string(hide_password=False), deadlines=deadlines)
    try:
        async with _reaching(url), engine.connect() as connection:
            await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                # pg_dump reads the very snapshot this transaction counts in, so the summary
                # is that of the file, however busy the servers are meanwhile.
                snapshot = (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar()
                contents = _schema_in(
                    await connection.run_sync(_contents),
                    f"{_where(url)} has no peerrooms schema in it: check DATABASE_URL",
                )
                await _run_tool(
                    "pg_dump",
                    ["--format=custom", f"--snapshot={snapshot}"],
                    env,
                    failing=f"pg_dump could not back up {_where(url)}",
                    stdout=file,
                )
    finally:
        await engine.dispose()
    listing = await _read_listing(partial, env)
    return f"checked: pg_restore reads the file ({len(listing)} entries)", contents


async def _restore_postgres(
    url: URL, backup: Path, *, replace: bool, deadlines: Deadlines
) -> Contents:
    env = _libpq_env(url, deadlines)
    listed = _tables_listed(await _read_listing(backup, env))
    if ("public", "alembic_version") not in listed:
        raise BackupError(f"{backup} is not a peerrooms backup: it has no schema revision")
    engine = create_engine(url.render_as_string(hide_password=False), deadlines=deadlines)
    try:
        async with _reaching(url):
            await _check_restorable(engine, url, listed, replace=replace)
        # One transaction: a backup that breaks off halfway changes nothing.
        await _run_tool(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", f"--dbname={url.database}", str(backup)],
            env,
            failing=f"could not restore {backup} into {_where(url)}",
        )  # fmt: skip
        async with _reaching(url), engine.connect() as connection:
            contents = await connection.run_sync(_contents)
    finally:
        await engine.dispose()
    return _schema_in(contents, f"{_where(url)} shows no schema once restored")


async def _check_restorable(
    engine: AsyncEngine, url: URL, listed: set[tuple[str, str]], *, replace: bool
) -> None:
    async with engine.connect() as connection:
        others = (await connection.execute(OTHER_SESSIONS)).scalar_one()
        present = {(row[0], row[1]) for row in await connection.execute(TABLES)}
    if others:
        raise BackupError(
            f"{_where(url)} has {others} other connections (is a peerrooms server running on"
            " it?): stop them, then restore"
        )
    if not replace:
        _refuse_tables(sorted(name for _, name in present), _where(url))
    # pg_restore --clean replaces only what the backup has; a table it lacks (a later
    # version's) would stay behind, beside a schema revision that says it is not there.
    extra = sorted(f"{schema}.{name}" for schema, name in present - listed)
    if extra:
        raise BackupError(
            f"{_where(url)} has tables the backup does not ({', '.join(extra[:5])}): restore"
            " into an empty database (createdb) and point DATABASE_URL at it"
        )


OTHER_SESSIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)
TABLES = text(
    "SELECT table_schema, table_name FROM information_schema.tables"
    " WHERE table_type = 'BASE TABLE'"
    " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
)


async def _read_listing(backup: Path, env: dict[str, str]) -> list[str]:
    """The entries of a pg_dump file's table of contents; refuses a file pg_restore cannot
    read."""
    listing = await _run_tool(
        "pg_restore", ["--list", str(backup)], env, failing=f"cannot read the backup {backup}"
    )
    return [line for line in listing.splitlines() if line and not line.startswith(";")]


# "217; 1259 16399 TABLE public message postgres": a table's own entry, not its TABLE DATA.
LISTED_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) ")


def _tables_listed(listing: list[str]) -> set[tuple[str, str]]:
    found = (LISTED_TABLE.match(line) for line in listing)
    return {(match[1], match[2]) for match in found if match}


def _where(url: URL) -> str:
    return f"the database {url.render_as_string(hide_password=True)}"


LIBPQ_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


def _libpq_env(url: URL, deadlines: Deadlines) -> dict[str, str]:
    """The environment of pg_dump or pg_restore: this process's, with the database the URL
    names. The password goes in PGPASSWORD, never on a command line that `ps` shows."""
    query = {key: value for key, value in url.query.items() if isinstance(value, str)}
    sslmode = query.get("sslmode") or query.get("ssl")
    values = {
        "PGHOST": url.host or query.get("host"),
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": sslmode if sslmode in LIBPQ_SSLMODES else None,
        "PGCONNECT_TIMEOUT": max(2, math.ceil(deadlines.connect_s)),
    }
    env = dict(os.environ)
    env.update({name: str(value) for name, value in values.items() if value is not None})
    return env


async def _run_tool(
    tool: str,
    arguments: list[str],
    env: dict[str, str],
    *,
    failing: str,
    stdout: IO[bytes] | int = asyncio.subprocess.PIPE,
) -> str:
    """Run one of PostgreSQL's client programs; its output, or a BackupError that starts
    with `failing` and gives the program's first error line."""
    program = shutil.which(tool, path=env.get("PATH"))
    if program is None:
        raise BackupError(
            f"{tool} is not installed: install PostgreSQL's client programs, of the server's"
            " major version or newer (Debian: apt-get install postgresql-client)"
        )
    process = await asyncio.create_subprocess_exec(
        program,
        *arguments,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"{failing}: {_first_error(errors.decode(errors='replace'), tool)}")
    return output.decode(errors="replace") if output else ""


def _first_error(output: str, tool: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    chosen = next((line for line in lines if "error:" in line), lines[0] if lines else "")
    return chosen.removeprefix(f"{tool}: ").removeprefix("error: ") or f"{tool} failed"


@asynccontextmanager
async def _reaching(url: URL) -> AsyncIterator[None]:
    """Database errors, as the one line the operator reads (no password in it)."""
    try:
        yield
    except DBAPIError as error:
        raise BackupError(f"cannot use {_where(url)}: {_reason(error)}") from error
    except (OSError, SQLAlchemyError) as error:
        raise BackupError(f"cannot reach {_where(url)}: {_reason(error)}") from error


def _reason(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    lines = str(error).strip().splitlines()
    # asyncpg's errors reach here as "<class 'asyncpg....Error'>: what happened".
    return re.sub(r"^<class '[\w.]+'>: ", "", lines[0]) if lines else type(error).__name__
