"""filters: what the content filters cost per message, in process (no network).

Three figures, each the mean over a realistic corpus (ordinary chat lines, the tests'
crisis corpus: everyday lines that must not alert and lines that must, posts with phone
numbers or e-mail addresses, a few long posts):

- text filters: exactly the text work of the gates: the crisis detector, the blocked-terms
  matcher (with a configured list), and contact detection plus masking when found.
- gate pipeline: every gate of the app's real send pipeline (crisis, mute, lock, meeting
  window, slow mode, rate limit, blocked terms, contacts), in a real app on SQLite, with the
  room row loaded once; includes the mute lookup (a query) and audit writes on masking.
- send in process: MessageService.send end to end (room lock, idempotency lookup, gates,
  insert, commit, emit to an empty room, listeners), for scale.

The relay has no filters: bare and ratio are n/a.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.corpus import ORDINARY_LINES
from bench.measure import percentiles
from bench.report import Check, write_result
from bench.scenarios.common import Options, database_for
from bench.targets import seed_people_and_rooms
from server.accounts.http import ACCOUNTS
from server.app import CORE, create_app
from server.kernel.errors import AppError
from server.moderation.crisis.detector import CrisisClassifier
from server.moderation.matching import TermBlocker, find_contacts, mask_contacts
from server.rooms.gates import Draft
from server.rooms.http import MESSAGES
from server.rooms.models import SendIn
from server.settings import Settings
from tests.crisis_corpus import SHOULD_ALERT, SHOULD_NOT_ALERT

TARGET_US = 50.0
BLOCKED_TERMS = [
    "buy followers",
    "free crypto",
    "casino bonus",
    "xanax for sale",
    "cheap pills",
    "dm me for plugs",
    "cashapp me",
    "telegram me",
    "scam link",
    "spamword",
]
CONTACT_LINES = (
    "call me at 555-867-5309 if you want to talk",
    "my email is sam.rivers@example.com, write any time",
    "text me (312) 555 0199 after 6",
    "the clinic number is +1 800 555 0100 i think",
)
LONG_LINES = tuple(" ".join(ORDINARY_LINES[i : i + 12]) for i in range(0, 48, 12))


@dataclass(frozen=True)
class Size:
    passes: int
    send_passes: int


FULL = Size(passes=50, send_passes=3)
SMOKE = Size(passes=2, send_passes=1)


def corpus() -> dict[str, tuple[str, ...]]:
    return {
        "ordinary": ORDINARY_LINES,
        "everyday (must not alert)": SHOULD_NOT_ALERT,
        "crisis (must alert)": SHOULD_ALERT,
        "contact details": CONTACT_LINES,
        "long posts": LONG_LINES,
    }


async def run(options: Options) -> dict[str, Any]:
    size = SMOKE if options.smoke else FULL
    texts = corpus()
    text = measure_text_filters(texts, size.passes)
    gates, send = await measure_app(texts, size)
    checks = [
        Check("text filters, us/message (mean)", text["all"]["mean"], None, None,
              f"<= {TARGET_US:.0f} us", text["all"]["mean"] <= TARGET_US),
        Check("text filters, us/message (p99)", text["all"]["p99"], None, None, "", None),
        Check("gate pipeline, us/message (mean)", gates["all"]["mean"], None, None, "", None),
        Check("send in process, us/message (mean)", send["all"]["mean"], None, None, "", None),
    ]  # fmt: skip
    for category, figures in text.items():
        if category != "all":
            checks.append(
                Check(f"text filters, {category} (mean us)", figures["mean"], None, None, "", None)
            )
    data = {
        "size": size.__dict__,
        "notes": [
            f"Corpus: {sum(map(len, texts.values()))} messages ("
            + ", ".join(f"{k} {len(v)}" for k, v in texts.items())
            + f"); {len(BLOCKED_TERMS)} blocked terms configured; the shipped crisis detector. "
            "In process, one core, no network. The relay has no filters.",
        ],
        "results": {"text_filters_us": text, "gate_pipeline_us": gates, "send_in_process_us": send},
    }
    write_result(options.out, "filters", data, checks)
    return data


def measure_text_filters(texts: dict[str, tuple[str, ...]], passes: int) -> dict[str, Any]:
    classifier = CrisisClassifier()
    blocker = TermBlocker(BLOCKED_TERMS)

    def check(body: str) -> None:
        classifier.detect(body)
        blocker.find(body)
        if find_contacts(body):
            mask_contacts(body)

    return per_category(texts, passes, check)


def per_category(
    texts: dict[str, tuple[str, ...]], passes: int, check: Callable[[str], None]
) -> dict[str, Any]:
    """Microseconds per message: each message timed on its own, over `passes` passes."""
    timings: dict[str, list[float]] = {category: [] for category in texts}
    for _ in range(passes):
        for category, bodies in texts.items():
            for body in bodies:
                started = time.perf_counter_ns()
                check(body)
                timings[category].append((time.perf_counter_ns() - started) / 1000)
    result: dict[str, Any] = {c: percentiles(t) for c, t in timings.items()}
    result["all"] = percentiles([t for ts in timings.values() for t in ts])
    return result


async def measure_app(
    texts: dict[str, tuple[str, ...]], size: Size
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gate pipeline and the whole send, through a real app instance on SQLite."""
    async with database_for("sqlite", "filters") as url:
        seeded = await seed_people_and_rooms(url, 1, 1)
        settings = Settings(
            database_url=url,
            secret_key="bench-filters-" + "x" * 32,
            blocked_terms=BLOCKED_TERMS,
            rate_limit_per_minute=600_000,
            rate_limit_burst=10_000,
            log_level="WARNING",
        )
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            actor = await app[ACCOUNTS].load_actor(seeded.user_ids[0])
            if actor is None:
                raise RuntimeError("the seeded person is missing")
            room_id = seeded.room_ids[0]
            gates = await time_gates(app, actor, room_id, texts, size.passes)
            send = await time_sends(app, actor, room_id, texts, size.send_passes)
        finally:
            await runner.cleanup()
    return gates, send


async def time_gates(
    app: web.Application, actor: Any, room_id: int, texts: dict[str, tuple[str, ...]], passes: int
) -> dict[str, Any]:
    messages, core = app[MESSAGES], app[CORE]
    timings: dict[str, list[float]] = {category: [] for category in texts}
    async with core.sessions() as session:
        room = await messages.access.enter(session, actor, room_id)
        for _ in range(passes):
            for category, bodies in texts.items():
                for body in bodies:
                    started = time.perf_counter_ns()
                    draft = Draft(actor, room, body, "send", core.clock.now(), session)
                    try:
                        for gate in [*messages.gates_before_turn, *messages.gates]:
                            await gate.check(draft)
                    except AppError:
                        pass
                    timings[category].append((time.perf_counter_ns() - started) / 1000)
        await session.rollback()
    result: dict[str, Any] = {c: percentiles(t) for c, t in timings.items()}
    result["all"] = percentiles([t for ts in timings.values() for t in ts])
    return result


async def time_sends(
    app: web.Application, actor: Any, room_id: int, texts: dict[str, tuple[str, ...]], passes: int
) -> dict[str, Any]:
    messages = app[MESSAGES]
    timings: dict[str, list[float]] = {category: [] for category in texts}
    sequence = 0
    for _ in range(passes):
        for category, bodies in texts.items():
            for body in bodies:
                sequence += 1
                data = SendIn(room_id=room_id, body=body, client_id=f"f{sequence}")
                started = time.perf_counter_ns()
                try:
                    await messages.send(actor, data)
                except AppError:
                    pass
                timings[category].append((time.perf_counter_ns() - started) / 1000)
    result: dict[str, Any] = {c: percentiles(t) for c, t in timings.items()}
    result["all"] = percentiles([t for ts in timings.values() for t in ts])
    result["median_all"] = statistics.median(t for ts in timings.values() for t in ts)
    return result
