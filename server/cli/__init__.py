"""The `peerrooms` command (main.py): the server and the operator's tasks, and the console's
commands (docs/console.md), a module per group: people and invites, cohorts and rooms,
sessions, moderation and records."""

from server.cli.main import main, new_event_loop

__all__ = ["main", "new_event_loop"]
