"""Time as one injectable dependency, so mutes, edit windows and meetings test instantly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """The contract's time format: ISO 8601 in UTC with a Z suffix."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
