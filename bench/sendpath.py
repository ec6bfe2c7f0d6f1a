"""python -m bench.sendpath [--sends N] [--database sqlite|postgresql] [--body TEXT]

CPU of one `send` inside the server, without sockets: the app is built by `create_app` on a
seeded database of this run's own, and `MessageService.send` is called N times in a row in one
room by its 12 members in turn (every gate runs; the limits are far above the load). Process
CPU counts every thread (the SQLite writer's too). `--body` sends that text every time instead
of an ordinary line: words the crisis detector alarms on measure a crisis send (its alert,
the staff told, the audit). A diagnostic for the send path, to compare two builds
on the same machine minutes apart: `PYTHONPATH=<other checkout> python -m bench.sendpath`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from aiohttp import web

from bench.scenarios.common import Database, database_for
from bench.targets import SECRET_KEY, seed_people_and_rooms
from server.app import create_app
from server.cli import new_event_loop
from server.kernel.actors import Actor
from server.rooms.http import MESSAGES
from server.rooms.models import SendIn
from server.settings import Settings

WARM_UP_SENDS = 200


async def cpu_per_send(database: Database, sends: int, body: str | None = None) -> float:
    """Microseconds of process CPU per send, after a warm-up."""
    async with database_for(database, "sendpath") as url:
        seeded = await seed_people_and_rooms(url, people=12, room_size=12)
        work = Path(tempfile.mkdtemp(prefix="sendpath-"))
        settings = Settings(
            database_url=url,
            secret_key=SECRET_KEY,
            secret_key_file=work / "secret.key",
            vapid_private_key_file=work / "vapid.pem",
            rate_limit_per_minute=10_000_000,
            rate_limit_burst=1_000_000,
            log_level="WARNING",
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()  # runs the app's start-up: schema, bus, caches
        try:
            messages = runner.app[MESSAGES]
            authors = [
                Actor(user_id, "Bench", "patient", frozenset()) for user_id in seeded.user_ids
            ]
            room = seeded.room_ids[0]

            async def send(tag: str, count: int) -> None:
                for n in range(count):
                    text = body or f"checking in {n}"
                    data = SendIn(room_id=room, body=text, client_id=f"{tag}{n}")
                    await messages.send(authors[n % len(authors)], data)

            await send("warm-", WARM_UP_SENDS)
            started = time.process_time()
            await send("timed-", sends)
            return (time.process_time() - started) / sends * 1e6
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sendpath", description=__doc__)
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--body", help="the text of every send (default: an ordinary line)")
    args = parser.parse_args()
    loop = new_event_loop("auto")
    try:
        cost = loop.run_until_complete(cpu_per_send(args.database, args.sends, args.body))
    finally:
        loop.close()
    print(f"{args.database}: {cost:.0f} µs of CPU per send ({args.sends} sends)")


if __name__ == "__main__":
    main()
