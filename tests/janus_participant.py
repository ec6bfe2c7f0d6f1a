"""Janus as a browser holding a pass meets it, over Janus's HTTP API and without media: enough
to join a video room as a participant, leave it, and try what a participant may not do."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from server.media.janus import JanusError

VIDEOROOM = "janus.plugin.videoroom"
# A long poll answers within 30 s (a keepalive if nothing happened); an answer is awaited
# over a few of them on a loaded machine.
EVENT_WAIT_S = 60


@dataclass
class Participant:
    http: aiohttp.ClientSession
    http_url: str  # Janus's HTTP API, as JanusServer.http_url
    token: str
    session: int | None = None
    handle: int | None = None

    async def open(self) -> None:
        """A session of this token's and a video room handle in it; JanusError when refused."""
        self.session = int((await self._call(self.http_url, {"janus": "create"}))["data"]["id"])
        attached = await self._call(self._session_url, {"janus": "attach", "plugin": VIDEOROOM})
        self.handle = int(attached["data"]["id"])

    async def ask(self, body: dict[str, Any]) -> dict[str, Any]:
        """The video room plugin's answer to a request it answers at once."""
        answer = await self._call(
            f"{self._session_url}/{self.handle}", {"janus": "message", "body": body}
        )
        data: dict[str, Any] = answer["plugindata"]["data"]
        return data

    async def join(self, room: int, feed: int, display: str) -> dict[str, Any]:
        """Join as a publisher (publishing nothing yet); answers the plugin's event: `joined`,
        or the error of a refusal."""
        # The room's `allowed` list is checked against the token in the request itself.
        body = {"request": "join", "ptype": "publisher", "room": room, "id": feed,
                "display": display, "token": self.token}  # fmt: skip
        sent = await self._call(
            f"{self._session_url}/{self.handle}", {"janus": "message", "body": body}
        )
        return await self.next_event(sent["transaction"])

    async def next_event(self, transaction: str) -> dict[str, Any]:
        """The video room plugin's answer to the request sent as `transaction`, from this
        session's events (Janus's long poll). What else the session hears meanwhile (a
        keepalive, a hangup when ICE with nobody fails) is passed over."""
        url = f"{self._session_url}?maxev=1&token={self.token}"
        async with asyncio.timeout(EVENT_WAIT_S):
            while True:
                async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=35)) as reply:
                    event = await reply.json(content_type=None)
                if isinstance(event, list):
                    event = event[0]
                if event.get("transaction") == transaction and "plugindata" in event:
                    data: dict[str, Any] = event["plugindata"]["data"]
                    return data

    async def close(self) -> None:
        if self.session is not None:
            try:
                await self._call(self._session_url, {"janus": "destroy"})
            except JanusError:
                pass  # gone already (its token removed, or Janus ended it)

    @property
    def _session_url(self) -> str:
        return f"{self.http_url}/{self.session}"

    async def _call(self, url: str, message: dict[str, Any]) -> dict[str, Any]:
        request = {**message, "transaction": uuid.uuid4().hex, "token": self.token}
        async with self.http.post(url, json=request) as reply:
            answer: dict[str, Any] = await reply.json(content_type=None)
        if answer["janus"] == "error":
            raise JanusError(int(answer["error"]["code"]), str(answer["error"]["reason"]))
        return answer
