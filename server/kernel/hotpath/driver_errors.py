"""The drivers' errors as SQLAlchemy raises them: one mapping for the whole hot path.

Through a session SQLAlchemy wraps every driver error (an `IntegrityError` for a repeated
unique key, an `OperationalError` for a lost connection or a locked database). The hot path
runs on the drivers themselves, so it wraps their errors here, the same way, keeping the
driver's error as `orig` (and as `__cause__`) for whoever must look closer."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

# First match wins, so the narrower classes come first.
TRANSLATIONS: tuple[tuple[type[Exception], type[DBAPIError]], ...] = (
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.DatabaseError, DatabaseError),
    (asyncpg.IntegrityConstraintViolationError, IntegrityError),
    (asyncpg.PostgresConnectionError, OperationalError),
    # The server shutting down or starting up (admin shutdown, cannot connect now).
    (asyncpg.OperatorInterventionError, OperationalError),
    (asyncpg.InterfaceError, InterfaceError),
    (asyncpg.SyntaxOrAccessError, ProgrammingError),
    (asyncpg.PostgresError, DatabaseError),
)

# A connection that raised one of these is not trusted again (pg_connections.py).
CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)


def translated(error: Exception, sql: str, arguments: Sequence[Any]) -> Exception:
    """`error` as SQLAlchemy would raise it, or `error` itself when it is no driver error."""
    for driver_error, wrapper in TRANSLATIONS:
        if isinstance(error, driver_error):
            return wrapper(sql, list(arguments), error)
    return error


def original(error: BaseException) -> BaseException:
    """The driver's own error behind a translated one."""
    if isinstance(error, DBAPIError) and isinstance(error.orig, BaseException):
        return error.orig
    return error


def is_connection_lost(error: BaseException) -> bool:
    return isinstance(original(error), CONNECTION_LOST)


def is_sqlite_locked(error: BaseException) -> bool:
    """SQLITE_BUSY in any of its forms: another connection holds the lock."""
    found = original(error)
    return (
        isinstance(found, sqlite3.OperationalError)
        and (getattr(found, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
    )
