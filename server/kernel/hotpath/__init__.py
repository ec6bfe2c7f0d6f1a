"""The hot path: what runs on every message, straight on the database drivers.

Everything else reads and writes through SQLAlchemy's async sessions. A `send` does not: each
step of a session's transaction passes through greenlets (and on SQLite through aiosqlite's
thread) several times, and measured, that machinery cost more CPU than the statements. So the
send's statements are ordinary SQLAlchemy statements compiled once and run on the driver:

- `statements.py`: `HotStatement`, a statement compiled once per dialect and run on a session's
  connection, a plain sqlite3 connection or a plain asyncpg one, bound and read as SQLAlchemy
  would; rows can be checked against a named tuple by label.
- `driver_errors.py`: the one mapping from the drivers' errors to SQLAlchemy's, so a caller
  catches `IntegrityError` (or any other) whichever path ran the statement.
- `writer.py`: the writer contract. A write takes a turn on a key (a room), runs its statements
  in one transaction and commits, with the same semantics on PostgreSQL and on an SQLite file.
- `sqlite_writer.py` and `pg_connections.py`: the connections `writer.py` runs on.
"""
