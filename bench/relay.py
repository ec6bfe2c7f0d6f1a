"""The bare relay: python-socketio on aiohttp with nothing of peerrooms.

No accounts, no database, no checks: `join` enters the socket room, `send` emits a
message-shaped dict to the room and acks it. It runs on the same event loop and the same JSON
codec as `peerrooms serve` (uvloop, orjson), so the ratio measures what peerrooms adds, not a
faster loop. It answers with the same shapes as peerrooms, so
the load generator's code is identical for both, and the difference between the two is the
cost of everything peerrooms does on top of the transport.

    python -m bench.relay --port 9000 [--redis-url redis://... --redis-channel NAME]
"""

from __future__ import annotations

import argparse
import itertools
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web

from server.cli import new_event_loop
from server.realtime.codec import FastJson

AUTHOR = {"id": 0, "display_name": "relay", "role": "patient"}


def build_app(redis_url: str | None, channel: str) -> web.Application:
    """An aiohttp app serving the relay; with Redis, several relays act as one."""
    manager = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        logger=False,
        engineio_logger=False,
        json=FastJson,
    )
    app = web.Application()
    sio.attach(app)
    ids = itertools.count(1)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, f"room:{data['room_id']}")
        return {"ok": True}

    async def send(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        message = {
            "id": next(ids),
            "room_id": data["room_id"],
            "author": AUTHOR,
            "body": data["body"],
            "client_id": data["client_id"],
            "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "edited_at": None,
            "deleted": False,
            "reactions": {},
        }
        await sio.emit("message", message, room=f"room:{data['room_id']}")
        return {"ok": True, "message": message}

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    sio.on("connect", connect)
    sio.on("join", join)
    sio.on("send", send)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--redis-channel", default="bench-relay:socketio")
    args = parser.parse_args()
    web.run_app(
        build_app(args.redis_url, args.redis_channel),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        loop=new_event_loop("auto"),
    )


if __name__ == "__main__":
    main()
