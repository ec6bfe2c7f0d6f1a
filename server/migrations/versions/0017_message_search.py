"""message search: a full-text index over message bodies

PostgreSQL: a generated column holding each body's words (`to_tsvector('simple', body)`,
computed once, as the row is written), and a GIN index over it. SQLite: an FTS5 table whose
content is `message` (no second copy of the text), kept in step by triggers, so every way a
body changes (a send, an edit, a delete, retention, erasure) changes the index in the same
transaction. The messages already stored are indexed here.

Neither is in the models (server/migrations/schema.py leaves them out of the comparison). A
later migration that rebuilds `message` on SQLite (`batch_alter_table` copies it into a new
table and drops the old one, triggers and all) must create the triggers again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The 'simple' configuration: lower case, no stemming, no stop words. Stored, not an
# expression index: a search that walks the newest messages tests each row's words
# (rooms/search_store.py), and parsing each body again cost twenty times more.
POSTGRES_COLUMN = (
    "ALTER TABLE message ADD COLUMN body_search tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED"
)
POSTGRES_INDEX = "CREATE INDEX ix_message_search ON message USING gin (body_search)"

# Accents folded as `simple` does not (a search for "cafe" finds "café"); which messages
# hold a word, not where in them, nor how long each is (`detail=none`, `columnsize=0`: the
# search asks no more, and a send writes less); a prefix index for three-letter prefixes,
# the shortest the search expands (rooms/search.py).
SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE message_search USING fts5(body, content='message',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2', detail=none,"
    " columnsize=0, prefix='3')"
)
# An external-content table must be told the old text to take it out of the index.
SQLITE_TRIGGERS = (
    "CREATE TRIGGER message_search_insert AFTER INSERT ON message BEGIN"
    " INSERT INTO message_search (rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER message_search_delete AFTER DELETE ON message BEGIN"
    " INSERT INTO message_search (message_search, rowid, body)"
    " VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON message BEGIN"
    " INSERT INTO message_search (message_search, rowid, body)"
    " VALUES ('delete', old.id, old.body);"
    " INSERT INTO message_search (rowid, body) VALUES (new.id, new.body); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_COLUMN)
        op.execute(POSTGRES_INDEX)
        return
    op.execute(SQLITE_TABLE)
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute("INSERT INTO message_search (message_search) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN body_search")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER message_search_{name}")
    op.execute("DROP TABLE message_search")
