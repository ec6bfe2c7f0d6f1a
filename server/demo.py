"""`peerrooms demo`: a small community to try the service with, seeded idempotently."""

from __future__ import annotations

from server.accounts.service import AccountService
from server.kernel.actors import Actor, Role
from server.meetings.models import MeetingIn
from server.meetings.service import MeetingService
from server.rooms.messages import MessageService
from server.rooms.models import RoomIn, SendIn
from server.rooms.service import RoomService

# Shared by every demo account so the printed sign-in table stays short; never use in production.
DEMO_PASSWORD = "peer-support-demo"  # noqa: S105

# (username, display name, role, in the cohort)
DEMO_PEOPLE: list[tuple[str, str, Role, bool]] = [
    ("admin", "Program Admin", Role.ADMIN, False),
    ("mod_lee", "Lee (facilitator)", Role.MODERATOR, False),
    ("pat_ana", "Ana", Role.PATIENT, True),
    ("pat_ben", "Ben", Role.PATIENT, True),
    ("pat_cam", "Cam", Role.PATIENT, True),
    ("alum_dee", "Dee", Role.ALUMNI, False),
    ("alum_eli", "Eli", Role.ALUMNI, False),
]


async def seed_demo(
    accounts: AccountService,
    rooms: RoomService,
    messages: MessageService,
    meetings: MeetingService,
) -> str:
    cohort = await accounts.ensure_cohort("Evening Group")
    actors: dict[str, Actor] = {}
    for username, display_name, role, in_cohort in DEMO_PEOPLE:
        user, _ = await accounts.ensure_user(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=display_name,
            cohort_id=cohort.id if in_cohort else None,
        )
        actor = await accounts.load_actor(user.id or 0)
        assert actor is not None  # noqa: S101 - just created
        actors[username] = actor
    moderator = actors["mod_lee"]
    group = await rooms.ensure_room(
        moderator,
        RoomIn.model_validate(
            {
                "name": "Evening Group",
                "kind": "group",
                "audience": "cohort",
                "cohort_id": cohort.id,
                "topic": "Mon/Wed/Thu 18:00-21:00. Check in, share, support.",
            }
        ),
    )
    lounge = await rooms.ensure_room(
        moderator,
        RoomIn.model_validate(
            {
                "name": "Alumni Lounge",
                "kind": "peer",
                "audience": "alumni",
                "topic": "Drop in any time. Newer alumni welcome.",
            }
        ),
    )
    session_room = await rooms.ensure_room(
        moderator,
        RoomIn.model_validate(
            {
                "name": "Evening Group session",
                "kind": "meeting",
                "audience": "cohort",
                "cohort_id": cohort.id,
                "topic": "The virtual session: opens 15 minutes before 18:00 Chicago time.",
            }
        ),
    )
    await meetings.ensure(
        moderator,
        MeetingIn.model_validate(
            {
                "title": "Evening Group",
                "room_id": session_room["id"],
                "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,TH",
                "starts_at": "2026-01-05T18:00:00",
                "timezone": "America/Chicago",
                "duration_minutes": 180,
                "lobby_minutes": 15,
            }
        ),
    )
    for room, text in (
        (group, "Welcome to the Evening Group room. Say hello and how you are doing today."),
        (lounge, "Welcome to the Alumni Lounge. This room is open to all graduates."),
    ):
        await messages.send(
            moderator,
            SendIn.model_validate(
                {"room_id": room["id"], "body": text, "client_id": "demo-welcome"}
            ),
        )
    return _sign_in_table()


def _sign_in_table() -> str:
    lines = [
        "Demo community ready: cohort 'Evening Group' with its group room and its Mon/Wed/Thu"
        " 18:00 (America/Chicago) virtual session, and the 'Alumni Lounge'.",
        f"Every demo account's password is: {DEMO_PASSWORD}",
        "",
        f"  {'username':<10} {'shown as':<18} role",
    ]
    lines += [f"  {u:<10} {d:<18} {r.value}" for u, d, r, _ in DEMO_PEOPLE]
    lines += [
        "",
        'Sign in: POST /api/auth/login with {"username": ..., "password": ...}',
    ]
    return "\n".join(lines)
