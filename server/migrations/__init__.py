"""Alembic migrations of the whole schema (server/kernel/migrate.py runs them)."""
