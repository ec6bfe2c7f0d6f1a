"""Statements on the hottest path, compiled once per dialect and run on the driver.

Each statement SQLAlchemy runs on aiosqlite crosses to the driver's thread several times
(cursor, execute, fetch, close) and passes through the async adapter's greenlets; measured on
a `send`, that layer cost about a millisecond of CPU, against well under 0.1 ms for the same
statements issued straight to aiosqlite. A `HotStatement` is written once as an ordinary
SQLAlchemy statement; it is compiled once for each dialect it meets and run with aiosqlite's
`execute_fetchall` on a session's own connection (so it stays in the session's transaction),
with `rows_on` on a plain sqlite3 connection (sqlite_writer.py) or with `rows_on_asyncpg` on a
plain asyncpg one (pg_connections.py), with SQLAlchemy's own bind and result processing for
every column type. Through a PostgreSQL session it runs as any statement does. Driver errors
come out as SQLAlchemy's (driver_errors.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel

from server.kernel.hotpath.driver_errors import translated

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


class HotStatement:
    def __init__(
        self,
        statement: Executable,
        *,
        column_keys: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.statement = statement
        # An INSERT without .values() names its columns when compiled.
        self.column_keys = list(column_keys) if column_keys is not None else None
        if labels is not None:
            check_labels(statement, tuple(labels))
        # Per dialect and driver: their SQL and parameter style differ.
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        connection = await session.connection()
        if connection.dialect.name != "sqlite":
            result = await session.execute(self.statement, params)
            return [tuple(row) for row in result.all()]
        compiled = self.compiled_for(connection.dialect)
        arguments = compiled.arguments(params)
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # an aiosqlite.Connection
        try:
            fetched = await driver.execute_fetchall(compiled.sql, arguments)
        except Exception as error:
            raise translated(error, compiled.sql, arguments) from error
        return compiled.results(fetched)

    def rows_on(
        self, connection: sqlite3.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The same, on a plain sqlite3 connection (called on the thread that owns it)."""
        compiled = self.compiled_for(dialect)
        arguments = compiled.arguments(params)
        try:
            fetched = connection.execute(compiled.sql, arguments).fetchall()
        except Exception as error:
            raise translated(error, compiled.sql, arguments) from error
        return compiled.results(fetched)

    async def rows_on_asyncpg(
        self, connection: asyncpg.Connection, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The same, on a plain asyncpg connection (PostgreSQL's driver)."""
        compiled = self.compiled_for(dialect)
        arguments = compiled.arguments(params)
        try:
            fetched = await connection.fetch(compiled.sql, *arguments)
        except Exception as error:
            raise translated(error, compiled.sql, arguments) from error
        return compiled.results(fetched)

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: SQLCompiler = self.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=self.column_keys
        )
        names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        columns = self.statement.exported_columns  # type: ignore[attr-defined]
        return _Compiled(
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


def insert_returning_id(model: type[SQLModel], columns: Sequence[str]) -> HotStatement:
    """An INSERT of these columns into the model's table, answering the new row's id."""
    table = model.__table__  # type: ignore[attr-defined]
    return HotStatement(insert(table).returning(table.c.id), column_keys=columns)


def check_labels(statement: Executable, labels: tuple[str, ...]) -> None:
    """Rows are read by position (a named tuple's fields, say); this makes sure each position
    holds the column of that name (label each column so), so a reordered select fails when
    it is built, not by putting one column's value under another's name."""
    found = tuple(column.key for column in statement.exported_columns)  # type: ignore[attr-defined]
    if found != labels:
        raise ValueError(f"the statement's columns are {found}, not {labels}")
