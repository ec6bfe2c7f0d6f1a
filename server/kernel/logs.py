"""Logging set-up: peerrooms' own loggers at the configured level, libraries at WARNING.

Some libraries log what they send at DEBUG (aiosqlite logs SQL with its parameters: message
bodies, tokens, password hashes), so raising our level must never raise theirs.
"""

from __future__ import annotations

import logging

OWN_LOGGERS = ("server", "aiohttp.access")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
