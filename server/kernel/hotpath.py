"""Statements on the hottest path, run on SQLite in one trip to its driver thread.

Each statement SQLAlchemy runs on aiosqlite crosses to the driver's thread several times
(cursor, execute, fetch, close) and passes through the async adapter's greenlets; measured on
a `send`, that layer cost about a millisecond of CPU, against well under 0.1 ms for the same
statements issued straight to aiosqlite. A `HotStatement` is written once as an ordinary
SQLAlchemy statement; on SQLite it is compiled once and run with aiosqlite's
`execute_fetchall` on the session's own connection (so it stays in the session's
transaction) or with `rows_on` on a plain sqlite3 connection (kernel/sqlite_writer.py), with
SQLAlchemy's own bind and result processing for every column type. On PostgreSQL it runs
through the session, or with `rows_on_asyncpg` on a plain asyncpg connection (the same
compiled statement, bound and read the same way).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
# A parameter the caller must name (a bindparam without a value).
REQUIRED = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    bind_names: tuple[str, ...]
    # What the statement binds where `params` name nothing (SQLite renders a LIMIT with an
    # OFFSET parameter of its own, for one).
    bind_defaults: tuple[Any, ...]
    bind_processors: tuple[Processor, ...]
    result_processors: tuple[Processor, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = [
            params[name] if name in params or default is REQUIRED else default
            for name, default in zip(self.bind_names, self.bind_defaults, strict=True)
        ]
        return [
            process(value) if process else value
            for value, process in zip(values, self.bind_processors, strict=True)
        ]

    def results(self, fetched: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        return [
            tuple(
                process(value) if process else value
                for process, value in zip(self.result_processors, row, strict=True)
            )
            for row in fetched
        ]

    def integrity_error(self, arguments: list[Any], error: Exception) -> IntegrityError:
        """Callers handle constraint races (a repeated client_id) as SQLAlchemy raises them."""
        return IntegrityError(self.sql, arguments, error)


class HotStatement:
    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        # An INSERT without .values() names its columns when compiled.
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: _Compiled | None = None

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        connection = await session.connection()
        if connection.dialect.name != "sqlite":
            result = await session.execute(self.statement, params)
            return [tuple(row) for row in result.all()]
        compiled = self._compile(connection.dialect)
        arguments = compiled.arguments(params)
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # an aiosqlite.Connection
        try:
            fetched = await driver.execute_fetchall(compiled.sql, arguments)
        except sqlite3.IntegrityError as error:
            raise compiled.integrity_error(arguments, error) from error
        return compiled.results(fetched)

    def rows_on(
        self, connection: sqlite3.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The same, on a plain sqlite3 connection (called on the thread that owns it)."""
        compiled = self._compile(dialect)
        arguments = compiled.arguments(params)
        try:
            fetched = connection.execute(compiled.sql, arguments).fetchall()
        except sqlite3.IntegrityError as error:
            raise compiled.integrity_error(arguments, error) from error
        return compiled.results(fetched)

    async def rows_on_asyncpg(
        self, connection: asyncpg.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The same, on a plain asyncpg connection (PostgreSQL's driver)."""
        compiled = self._compile(dialect)
        arguments = compiled.arguments(params)
        try:
            fetched = await connection.fetch(compiled.sql, *arguments)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise compiled.integrity_error(arguments, error) from error
        return compiled.results(fetched)

    def _compile(self, dialect: Dialect) -> _Compiled:
        if self._compiled is None:
            compiled: SQLCompiler = self.statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=self.column_keys
            )
            names = tuple(compiled.positiontup or ())
            binds = compiled.binds
            columns = self.statement.exported_columns  # type: ignore[attr-defined]
            self._compiled = _Compiled(
                sql=compiled.string,
                bind_names=names,
                bind_defaults=tuple(
                    REQUIRED if binds[name].required else binds[name].value for name in names
                ),
                bind_processors=tuple(
                    binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
                ),
                result_processors=tuple(
                    column.type.dialect_impl(dialect).result_processor(dialect, None)
                    for column in columns
                ),
            )
        return self._compiled
