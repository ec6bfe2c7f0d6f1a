"""HotStatement's compiled SQL per dialect, its label check, and the one mapping of driver
errors to SQLAlchemy's (server/kernel/hotpath/)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DatabaseError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.sql import Executable
from sqlmodel import col

from server.kernel.hotpath.driver_errors import (
    is_connection_lost,
    is_sqlite_locked,
    translated,
)
from server.kernel.hotpath.statements import HotStatement
from server.rooms import store
from server.rooms.models import Message


def asyncpg_dialect() -> Dialect:
    return PGDialect_asyncpg()  # type: ignore[no-untyped-call]


def test_each_dialect_gets_its_own_compiled_statement() -> None:
    """The first dialect's SQL was once kept for every later one."""
    statement = HotStatement(select(col(Message.id)).where(col(Message.id) == bindparam("key")))
    on_sqlite = statement.compiled_for(sqlite.dialect())
    on_postgresql = statement.compiled_for(asyncpg_dialect())
    assert "?" in on_sqlite.sql
    assert "$1" in on_postgresql.sql
    assert statement.compiled_for(sqlite.dialect()) is on_sqlite


def test_rows_read_into_named_fields_must_come_from_columns_of_those_names() -> None:
    with pytest.raises(ValueError, match=r"\('body', 'id'\), not \('id', 'body'\)"):
        HotStatement(select(col(Message.body), col(Message.id)), labels=("id", "body"))
    labelled: Executable = select(col(Message.id).label("id"), col(Message.body).label("body"))
    assert HotStatement(labelled, labels=("id", "body")).statement is labelled


def test_a_page_statement_is_labelled_as_its_row() -> None:
    """Page rows are read by position into PageRow: each column must carry its field's name."""
    for newest_first in (True, False):
        page = store._page(newest_first=newest_first).statement
        labels = [column.key for column in page.exported_columns]  # type: ignore[attr-defined]
        assert labels == list(store.PageRow._fields)


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        (sqlite3.IntegrityError("UNIQUE constraint failed"), IntegrityError),
        (sqlite3.OperationalError("database is locked"), OperationalError),
        (sqlite3.DatabaseError("file is not a database"), DatabaseError),
        (asyncpg.UniqueViolationError("duplicate key"), IntegrityError),
        (asyncpg.ForeignKeyViolationError("no such room"), IntegrityError),
        (asyncpg.ConnectionDoesNotExistError("closed"), OperationalError),
        (asyncpg.InterfaceError("connection is closed"), InterfaceError),
        (asyncpg.CannotConnectNowError("starting up"), OperationalError),
        (asyncpg.DeadlockDetectedError("deadlock"), DatabaseError),
    ],
)
def test_driver_errors_come_out_as_sqlalchemy_raises_them(
    driver_error: Exception, expected: type[Exception]
) -> None:
    error = translated(driver_error, "INSERT ...", [1])
    assert type(error) is expected
    assert getattr(error, "orig", None) is driver_error


def test_what_is_no_driver_error_passes_through() -> None:
    error = ValueError("not the database's")
    assert translated(error, "SELECT 1", []) is error


def test_a_lost_connection_and_a_locked_file_are_told_through_a_translation() -> None:
    lost = translated(asyncpg.ConnectionDoesNotExistError("closed"), "SELECT 1", [])
    assert is_connection_lost(lost) and is_connection_lost(ConnectionResetError())
    assert not is_connection_lost(translated(asyncpg.UniqueViolationError("dup"), "", []))

    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
    assert is_sqlite_locked(busy) and is_sqlite_locked(translated(busy, "BEGIN", []))
    assert not is_sqlite_locked(sqlite3.OperationalError("no such table"))
