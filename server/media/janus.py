"""The server's side of Janus (the WebRTC media server for video sessions): its HTTP API for
a session with the video room plugin, and its admin API for the tokens that let one person's
browser in.

Janus answers every request with `{"janus": "success" | "error" | "ack", ...}`; the video room
plugin's own answer sits in `plugindata.data`, and its own errors in `error_code`/`error` there.
Both kinds come out of here as JanusError, with Janus's code and reason.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

VIDEOROOM = "janus.plugin.videoroom"


class JanusError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class JanusConfig:
    http_url: str  # ...:8088/janus
    admin_url: str  # ...:7088/admin
    api_secret: str
    admin_secret: str
    admin_key: str  # the video room plugin's: creating rooms needs it; rooms' secrets come from it
    timeout_s: float = 5.0


@dataclass
class JanusClient:
    """One Janus session with one video room handle, for the server's own requests (room
    creation, access lists, kicks). Browsers have sessions of their own."""

    config: JanusConfig
    http: aiohttp.ClientSession
    _session_id: int | None = field(default=None, init=False)
    _handle_id: int | None = field(default=None, init=False)

    async def info(self) -> dict[str, Any]:
        """The server's description (version, plugins, transports); needs no secret."""
        async with self.http.get(f"{self.config.http_url}/info", timeout=self._timeout) as reply:
            return dict(await reply.json(content_type=None))

    async def open(self) -> None:
        """A session and a video room handle in it (again after Janus lost them)."""
        created = await self._call(self.config.http_url, {"janus": "create"})
        self._session_id = int(created["data"]["id"])
        attached = await self._call(
            f"{self.config.http_url}/{self._session_id}", {"janus": "attach", "plugin": VIDEOROOM}
        )
        self._handle_id = int(attached["data"]["id"])

    async def keepalive(self) -> None:
        """Janus ends a session that says nothing for 60 s."""
        if self._session_id is not None:
            await self._call(f"{self.config.http_url}/{self._session_id}", {"janus": "keepalive"})

    # ----- video rooms -----

    async def create_room(
        self, room: int, description: str, *, allowed: list[str], publishers: int
    ) -> None:
        """A room that only holders of `allowed` tokens may join, whose participants can be
        kicked (require_pvtid), never recorded, and that only the server may change (its
        secret). An existing room of that number is left as it is."""
        try:
            await self._videoroom(
                {"request": "create", "room": room, "description": description,
                 "admin_key": self.config.admin_key, "secret": self.room_secret(room),
                 "is_private": True, "require_pvtid": True,
                 "publishers": publishers, "allowed": allowed,
                 # Recording off, and only the room's secret could turn it on...
                 "record": False, "lock_record": True,
                 # ...but Janus 1.1.2 lets a `joinandconfigure` with `record` (and a
                 # `filename`, any path Janus may write) past lock_record. Recordings of
                 # this room go into a folder that is not one, so none can be opened.
                 "rec_dir": NO_RECORDINGS,
                 # Talking and stopped-talking events, so a phone shows who speaks.
                 "audiolevel_event": True,
                 "permanent": False}
            )  # fmt: skip
        except JanusError as error:
            if error.code != ROOM_EXISTS:
                raise

    async def destroy_room(self, room: int) -> None:
        try:
            await self._videoroom(
                {"request": "destroy", "room": room, "secret": self.room_secret(room)}
            )
        except JanusError as error:
            if error.code != NO_SUCH_ROOM:
                raise

    async def room_exists(self, room: int) -> bool:
        answer = await self._videoroom({"request": "exists", "room": room})
        return bool(answer["exists"])

    async def allowed(self, room: int) -> list[str]:
        answer = await self._videoroom(
            {"request": "allowed", "room": room, "action": "add", "allowed": [],
             "secret": self.room_secret(room)}
        )  # fmt: skip
        return list(answer.get("allowed", []))

    async def allow(self, room: int, tokens: list[str]) -> None:
        await self._set_allowed(room, "add", tokens)

    async def disallow(self, room: int, tokens: list[str]) -> None:
        await self._set_allowed(room, "remove", tokens)

    async def participants(self, room: int) -> list[dict[str, Any]]:
        answer = await self._videoroom({"request": "listparticipants", "room": room})
        return list(answer.get("participants", []))

    async def kick(self, room: int, participant: int) -> None:
        """Out of the room now; one who is not in it (any more) is out already."""
        try:
            await self._videoroom(
                {"request": "kick", "room": room, "id": participant,
                 "secret": self.room_secret(room)}
            )  # fmt: skip
        except JanusError as error:
            if error.code not in (NO_SUCH_ROOM, NO_SUCH_FEED):
                raise

    async def moderate(self, room: int, participant: int, mid: str, *, mute: bool) -> None:
        """Janus drops (or forwards again) one media line of a participant's: a muted
        microphone stays muted whatever their browser sends."""
        await self._videoroom(
            {"request": "moderate", "room": room, "id": participant, "mid": mid,
             "mute": mute, "secret": self.room_secret(room)}
        )  # fmt: skip

    def room_secret(self, room: int) -> str:
        """The room's secret, which every change to it needs: worked out from the admin key,
        so each process knows it and no participant does."""
        key = self.config.admin_key.encode()
        return hmac.new(key, f"room:{room}".encode(), hashlib.sha256).hexdigest()

    # ----- tokens (admin API) -----

    async def add_token(self, token: str) -> None:
        """A token that lets its holder talk to Janus, for the video room plugin only."""
        await self._admin({"janus": "add_token", "token": token, "plugins": [VIDEOROOM]})

    async def remove_token(self, token: str) -> None:
        """The token stops working at once; removing one that is gone already is done."""
        try:
            await self._admin({"janus": "remove_token", "token": token})
        except JanusError:
            # Janus answers a generic error for a token it does not know.
            if token in await self.tokens():
                raise

    async def tokens(self) -> list[str]:
        answer = await self._admin({"janus": "list_tokens"})
        return [str(item["token"]) for item in answer["data"]["tokens"]]

    # ----- plumbing -----

    @property
    def _timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.config.timeout_s)

    async def _set_allowed(self, room: int, action: str, tokens: list[str]) -> None:
        await self._videoroom(
            {"request": "allowed", "room": room, "action": action, "allowed": tokens,
             "secret": self.room_secret(room)}
        )  # fmt: skip

    async def _videoroom(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if self._handle_id is None:
            await self.open()
        url = f"{self.config.http_url}/{self._session_id}/{self._handle_id}"
        try:
            answer = await self._call(url, {"janus": "message", "body": dict(body)})
        except JanusError as error:
            if error.code not in (SESSION_NOT_FOUND, HANDLE_NOT_FOUND):
                raise
            await self.open()  # Janus restarted, or the session timed out
            url = f"{self.config.http_url}/{self._session_id}/{self._handle_id}"
            answer = await self._call(url, {"janus": "message", "body": dict(body)})
        data = dict(answer.get("plugindata", {}).get("data", {}))
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return data

    async def _call(self, url: str, message: dict[str, Any]) -> dict[str, Any]:
        request = {**message, "transaction": secrets.token_hex(8)}
        request["apisecret"] = self.config.api_secret
        return await self._post(url, request)

    async def _admin(self, message: dict[str, Any]) -> dict[str, Any]:
        request = {**message, "transaction": secrets.token_hex(8)}
        request["admin_secret"] = self.config.admin_secret
        return await self._post(self.config.admin_url, request)

    async def _post(self, url: str, request: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(url, json=request, timeout=self._timeout) as reply:
            answer = dict(await reply.json(content_type=None))
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return answer


# Not a folder, on any machine: Janus refuses to open a recording "in" it.
NO_RECORDINGS = "/dev/null"

# Janus's own error codes (janus/apierror.h) and the video room plugin's.
SESSION_NOT_FOUND = 458
HANDLE_NOT_FOUND = 459
UNAUTHORIZED = 403
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
