"""Video rooms of meeting occurrences on Janus: who gets a pass into which room, and when.

Each occurrence has its own Janus room, named by a number worked out from the series and the
occurrence's start, so every process names it alike without asking anyone. The room is made
when the first person joins (in the lobby or live window) and ended with the occurrence. A
pass is a fresh token, known to Janus (admin API) and listed in that room's `allowed` list
only: it opens that occurrence's room and no other, and ends with it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from server.kernel.actors import Actor
from server.kernel.clock import iso_utc
from server.kernel.errors import AppError
from server.media.janus import JanusClient, JanusConfig, JanusError
from server.meetings.models import MeetingSeries
from server.meetings.occurrences import Occurrence
from server.meetings.service import MeetingService

log = logging.getLogger(__name__)

# Room numbers stay below 2**53, which browsers' JavaScript numbers hold exactly: a series
# id, then the occurrence's start in minutes since 1970 (under 10**8 until the year 2160).
MINUTES_PER_SERIES = 10**8


def room_number(series_id: int, start: datetime) -> int:
    return series_id * MINUTES_PER_SERIES + int(start.timestamp()) // 60


def unavailable(reason: str) -> AppError:
    return AppError("unavailable", f"Video is not available: {reason}")


@dataclass
class VideoSessions:
    meetings: MeetingService
    config: JanusConfig
    ws_url: str
    ice_servers: list[dict[str, Any]]
    max_participants: int
    _http: aiohttp.ClientSession | None = field(default=None, init=False)
    _janus: JanusClient | None = field(default=None, init=False)
    # Passes handed out by this process, per room, so the room's end can revoke them.
    _passes: dict[int, set[str]] = field(default_factory=dict, init=False)

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._janus = JanusClient(self.config, self._http)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def join(self, actor: Actor, series_id: int) -> dict[str, Any]:
        """A pass into the video room of the series' occurrence open now, for someone who may
        enter its meeting room: refused outside the lobby and live windows."""
        series, occurrence = await self.meetings.open_now(actor, series_id)
        room = room_number(series_id, occurrence.start)
        token = secrets.token_urlsafe(24)
        try:
            await self._client.create_room(
                room, series.title, allowed=[], publishers=self.max_participants
            )
            await self._client.add_token(token)
            await self._client.allow(room, [token])
        except (JanusError, aiohttp.ClientError, TimeoutError) as error:
            raise unavailable("the media server did not answer; try again.") from error
        self._passes.setdefault(room, set()).add(token)
        return self._pass_json(series, occurrence, actor, room, token)

    async def transition(self, series: MeetingSeries, occurrence: Occurrence, kind: str) -> None:
        """The meeting clock's news: an occurrence that ended loses its room and its passes."""
        if kind != "ended" or series.id is None:
            return
        room = room_number(series.id, occurrence.start)
        try:
            for token in self._passes.pop(room, set()):
                await self._client.remove_token(token)
            await self._client.destroy_room(room)
        except (JanusError, aiohttp.ClientError, TimeoutError):
            # A media server that is down must not stop the meeting clock's other news; its
            # rooms end with it, and its tokens stay unused.
            log.exception("video room %s of meeting %s was not ended", room, series.id)

    @property
    def _client(self) -> JanusClient:
        if self._janus is None:
            raise unavailable("the media server is not connected.")
        return self._janus

    def _pass_json(
        self, series: MeetingSeries, occurrence: Occurrence, actor: Actor, room: int, token: str
    ) -> dict[str, Any]:
        return {
            "meeting_id": series.id,
            "starts_at": iso_utc(occurrence.start),
            "ends_at": iso_utc(occurrence.end),
            "room": room,
            "token": token,
            "server": self.ws_url,
            "ice_servers": self.ice_servers,
            "display": actor.display_name,
            "recorded": False,
        }
