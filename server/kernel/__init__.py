"""Shared foundations (errors, clock, database, validation); imports no feature package."""
