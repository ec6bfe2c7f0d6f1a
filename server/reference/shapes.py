"""JSON Schemas of what the API answers: the error object, and the objects the routes and the
Socket.IO events carry.

The server builds its answers as plain dicts (the `*_json` functions of each feature), so
these are written out here; tests/test_api_reference.py checks real answers against them.
Every listed field is always present; clients should ignore fields they do not know.
"""

from __future__ import annotations

from typing import Any

from server.kernel.audit import AUDIT_ACTIONS
from server.kernel.errors import STATUS_BY_CODE

Schema = dict[str, Any]

ROLES = ["patient", "alumni", "moderator", "admin"]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    if "enum" in schema:
        return {**schema, "type": [schema["type"], "null"], "enum": [*schema["enum"], None]}
    return {**schema, "type": [schema["type"], "null"]}


def obj(description: str, **fields: Schema) -> Schema:
    """An object whose fields are all always present."""
    return {
        "type": "object",
        "description": description,
        "required": list(fields),
        "properties": fields,
    }


INTEGER: Schema = {"type": "integer"}
ID: Schema = {"type": "integer", "minimum": 1}
TEXT: Schema = {"type": "string"}
FLAG: Schema = {"type": "boolean"}
# The contract's times: ISO 8601, UTC, milliseconds, Z suffix (2026-11-22T18:00:00.000Z).
TIME: Schema = {"type": "string", "format": "date-time"}
USER = ref("User")


def choice(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


ERROR = obj(
    "Every refusal, over HTTP and in Socket.IO acks.",
    error={
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": choice(*STATUS_BY_CODE),
            "message": {"type": "string", "description": "A sentence for people."},
            "retry_after_s": {
                "type": "integer",
                "minimum": 1,
                "description": "`rate_limited` only: whole seconds to wait.",
            },
            "until": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "`muted` and `banned` only: when it ends (null: until lifted).",
            },
            "failing": {
                **array(TEXT),
                "description": "`unavailable` from /readyz only: the parts that did not answer.",
            },
            "version": {
                "type": "string",
                "description": "`consent_required` only: the consent notice's version to accept.",
            },
        },
    },
)

ROOM = obj(
    "A room. `GET /api/rooms` adds `last_message_id` and `unread_count`.",
    id=ID,
    name=TEXT,
    kind=choice("group", "peer", "meeting", "support"),
    audience=choice("cohort", "alumni", "everyone", "person"),
    cohort_id=nullable(ID),
    member_id={
        **nullable(ID),
        "description": "Audience `person` (a private support conversation): the one member"
        " besides staff.",
    },
    topic=TEXT,
    locked=FLAG,
    slow_mode_s=INTEGER,
    contact_policy=choice("allow", "mask", "block"),
    history_visibility={
        **choice("since_joined", "all", "since_session"),
        "description": "From when members (not staff) may read the room's history: since"
        " they joined its audience, all of it, or since its current meeting session opened."
        " Defaults: `since_joined` for group rooms, `since_session` for meeting rooms, `all`"
        " otherwise.",
    },
    archived={
        **FLAG,
        "description": "Archived by staff: closed to members and to every post; staff still"
        " read it. Only staff see archived rooms.",
    },
    online_count=INTEGER,
)
# Only the room list carries these, so they are described but not required.
ROOM["properties"] |= {
    "last_message_id": {**nullable(ID), "description": "`GET /api/rooms` only."},
    "unread_count": {"type": "integer", "maximum": 100, "description": "`GET /api/rooms` only."},
    "mention_count": {
        "type": "integer",
        "maximum": 100,
        "description": "`GET /api/rooms` only: of the unread messages, those that mention me"
        " or reply to a message of mine.",
    },
}

PERSON_FIELDS: dict[str, Schema] = {
    "id": ID,
    "display_name": TEXT,
    "role": choice(*ROLES),
    "cohort_ids": array(ID),
    "status": choice("active", "deactivated"),
    "joined_at": TIME,
    "graduated_at": nullable(TIME),
    "last_sign_in_at": nullable(TIME),
    "last_seen_at": {
        **nullable(TIME),
        "description": "The last time the person was connected, posted or signed in, to the"
        " minute (null: never).",
    },
}
ADMINS_SEE_USERNAME = {"username": {**TEXT, "description": "The login name: admins only."}}
PERSON = obj("A person as staff see them in the console.", **PERSON_FIELDS)
PERSON["properties"] |= ADMINS_SEE_USERNAME
PERSON_PAGE = obj(
    "A person's page in the console: the person, with what other features know of them"
    " (`meetings_attended`: the meeting occurrences they checked in to).",
    **PERSON_FIELDS,
    restrictions=array(ref("PersonRestriction")),
    meetings_attended=INTEGER,
    notification_channels=obj(
        "Whether the person can be reached away from the app, never where.",
        push_devices={**INTEGER, "description": "Browsers subscribed to Web Push."},
        email={
            **FLAG,
            "description": "A confirmed address that takes session mail or the digest, on a"
            " server that sends email (never the address).",
        },
    ),
)
PERSON_PAGE["properties"] |= ADMINS_SEE_USERNAME

SHAPES: dict[str, Schema] = {
    "Error": ERROR,
    "User": obj(
        "A person as others see them: the alias, never the login name.",
        id=ID,
        display_name=TEXT,
        role=choice(*ROLES),
    ),
    "RoomMember": obj(
        "Someone a room is for, as staff see them.",
        id=ID,
        display_name=TEXT,
        role=choice(*ROLES),
        may_enter={**FLAG, "description": "False while a ban keeps them out of the room."},
        online={**FLAG, "description": "In the room now."},
    ),
    "OwnUser": obj(
        "The signed-in person's own account.",
        id=ID,
        username=TEXT,
        display_name=TEXT,
        role=choice(*ROLES),
        cohort_ids=array(ID),
    ),
    "Profile": obj(
        "How others see the signed-in person. Where a room lists who is there (`join`'s"
        " `online`, `presence`, `GET /api/rooms/{id}/presence`), each User also carries"
        " `pronouns` and `line` once that person has set them.",
        id=ID,
        display_name=TEXT,
        pronouns={**nullable(TEXT), "maxLength": 30},
        line={**nullable(TEXT), "maxLength": 80},
    ),
    "Person": PERSON,
    "PersonPage": PERSON_PAGE,
    "PersonRestriction": obj(
        "A mute or ban in force on the person.",
        kind=choice("mute", "ban"),
        room_id=ID,
        room_name=TEXT,
        until=nullable(TIME),
    ),
    "PasswordResetCode": obj(
        "A one-time code for choosing a new password, for staff to hand over.",
        code=TEXT,
        expires_at=TIME,
        path=TEXT,
    ),
    "Cohort": obj("A treatment group.", id=ID, name=TEXT, archived=FLAG),
    "Invite": obj(
        "An invite code (`path`: the registration page with it filled in, on this server).",
        id=ID,
        code=TEXT,
        role=choice(*ROLES),
        cohort_id=nullable(ID),
        max_uses=INTEGER,
        uses=INTEGER,
        expires_at=TIME,
        created_at=TIME,
        revoked=FLAG,
        path=TEXT,
    ),
    "Room": ROOM,
    "Message": obj(
        'A message. A deleted one keeps its id with `body` "", no reactions, no `reply_to`'
        " and no `mentions`.",
        id=ID,
        room_id=ID,
        author=USER,
        body=TEXT,
        client_id=TEXT,
        created_at=TIME,
        edited_at=nullable(TIME),
        deleted=FLAG,
        reactions={
            "type": "object",
            "description": "How many people reacted with each emoji (only those above 0).",
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        reply_to={
            **nullable(ref("ReplyTo")),
            "description": "The message this one replies to (null: none).",
        },
        mentions={
            **array(USER),
            "description": "Who the message mentions (`@display name` in `body`), by alias.",
        },
    ),
    "ReplyTo": obj(
        "What a reply shows of the message it replies to, as its reader may see it.",
        id=ID,
        author={**nullable(USER), "description": "Null when `hidden`, or the original is gone."},
        excerpt={
            **TEXT,
            "description": "The first 120 characters of its current text on one line (`…` where"
            ' cut); "" when deleted or hidden.',
        },
        deleted={**FLAG, "description": "Deleted (or removed by retention): no text."},
        hidden={
            **FLAG,
            "description": "From before what the reader may read of the room's history"
            " (`history_visibility`): nothing of it is shown.",
        },
    ),
    "SearchHit": obj(
        "A message found by a search (GET /api/search).",
        message_id=ID,
        room_id=ID,
        room_name=TEXT,
        author=USER,
        created_at=TIME,
        snippet={
            **array(
                obj(
                    "A run of the snippet's text.",
                    text=TEXT,
                    match={**FLAG, "description": "A word the search found."},
                )
            ),
            "description": "About 160 characters of the text, on one line, from a little before"
            " the first word found; `…` where cut. Runs of plain text in order: show them as"
            " text, marking those that `match`.",
        },
    ),
    "Restriction": obj(
        "A mute or ban in force.",
        id=ID,
        kind=choice("mute", "ban"),
        room_id=ID,
        user=USER,
        reason=TEXT,
        created_by=USER,
        created_at=TIME,
        until=nullable(TIME),
    ),
    "Kick": obj("A kick done.", room_id=ID, user_id=ID),
    "Report": obj(
        "A report of a message.",
        id=ID,
        room_id=ID,
        message_id={
            **nullable(ID),
            "description": "Null once retention has deleted the message (its alert keeps an"
            " excerpt).",
        },
        message=nullable(ref("Message")),
        author=nullable(USER),
        reporter=USER,
        reason=TEXT,
        status=choice("open", "dismissed", "actioned"),
        created_at=TIME,
        resolved_by=nullable(USER),
        resolved_at=nullable(TIME),
        note=TEXT,
    ),
    "Alert": obj(
        "A crisis or report alert for moderators.",
        id=ID,
        kind=choice("crisis", "report"),
        room_id=nullable(ID),
        message_id=nullable(ID),
        user=USER,
        excerpt=TEXT,
        category=nullable(choice("suicide", "self_harm", "overdose", "medical", "relapse")),
        severity=nullable(choice("urgent", "emergency")),
        reached={
            "type": "string",
            "enum": ["on_duty", "staff_online", "on_call", "nobody", ""],
            "description": "Who it reached when raised ('' for an alert raised before this"
            " was kept).",
        },
        paged={"type": "integer", "description": "How many on the on-call list were paged."},
        support_room_id={
            **nullable(ID),
            "description": "The private support conversation opened from it, if any.",
        },
        created_at=TIME,
        status=choice("open", "acknowledged", "merged"),
        report_id=nullable(ID),
        raise_count=INTEGER,
        raised_at=TIME,
        acked_by=nullable(USER),
        acked_at=nullable(TIME),
        outcome=nullable(choice("reached_out", "emergency_services", "not_a_crisis", "other")),
        note=TEXT,
    ),
    "Session": obj(
        "One of my sign-ins.",
        id=TEXT,
        created_at=TIME,
        user_agent=TEXT,
        address=TEXT,
        current=FLAG,
        remembered=FLAG,
    ),
    "Duty": obj(
        "Whether the asker is on duty, and every member of staff who is.",
        on_duty=FLAG,
        since=nullable(TIME),
        roster=array(
            obj("A member of staff on duty.", user=USER, since=TIME, online=FLAG),
        ),
        staff_online=INTEGER,
    ),
    "AuditEntry": obj(
        "One staff action, filter hit or system run (those have no actor).",
        id=ID,
        actor=nullable(USER),
        action={
            **choice(*AUDIT_ACTIONS),
            "description": "What was done; the console's Action filter offers each of these.",
        },
        target_user=nullable(USER),
        room_id=nullable(ID),
        message_id=nullable(ID),
        reason=TEXT,
        created_at=TIME,
    ),
    "AttendanceSession": obj(
        "One occurrence in an attendance range report.",
        meeting_id=ID,
        title=TEXT,
        starts_at=TIME,
        local_start=TEXT,
        timezone=TEXT,
        attendees=array(ref("Attendee")),
    ),
    "AttendanceSummary": obj(
        "One person over an attendance range report.",
        user=USER,
        sessions=INTEGER,
        attended=INTEGER,
        minutes={"type": "number"},
        late=INTEGER,
        moods=array(obj("A check-in's mood.", starts_at=TIME, mood=INTEGER, low=FLAG)),
        low_moods=INTEGER,
    ),
    "Meeting": obj(
        "A recurring meeting series.",
        id=ID,
        title=TEXT,
        room_id=ID,
        rrule=TEXT,
        starts_at={"type": "string", "description": "Local wall clock, no offset."},
        timezone=TEXT,
        duration_minutes=INTEGER,
        lobby_minutes=INTEGER,
        video_url=nullable(TEXT),
        cancelled={**array(TIME), "description": "UTC starts of cancelled occurrences."},
        moved={
            **array(
                obj(
                    "A moved occurrence: the rule's start and the new one.",
                    **{"from": TIME, "to": TIME},
                )
            ),
            "description": "Occurrences held at another time than the rule gives.",
        },
    ),
    "Occurrence": obj(
        "One occurrence of a meeting series.",
        meeting_id=ID,
        title=TEXT,
        room_id=ID,
        starts_at=TIME,
        ends_at=TIME,
        lobby_opens_at=TIME,
        status=choice("scheduled", "lobby", "live", "ended", "cancelled"),
        video_url=nullable(TEXT),
        moved_from={**nullable(TIME), "description": "The rule's start, when it was moved."},
    ),
    "VideoPass": obj(
        "A pass into the video room of one occurrence (Janus's video room plugin).",
        meeting_id=ID,
        starts_at=TIME,
        ends_at=TIME,
        room={**INTEGER, "description": "The Janus room number of this occurrence."},
        token={**TEXT, "description": "Opens this room only; ends with the call."},
        feed_id={**ID, "description": "The participant id to join the room with."},
        server={**TEXT, "description": "The media server's WebSocket address."},
        ice_servers=array({"type": "object"}),
        display={**TEXT, "description": "The alias to show the others."},
        recorded={**FLAG, "description": "Always false: sessions are never recorded."},
    ),
    "VideoCall": obj(
        "The open call of an occurrence: who holds a pass, who is in it now.",
        meeting_id=ID,
        starts_at=TIME,
        room=INTEGER,
        participants=array(
            obj(
                "A pass holder.",
                feed_id=ID,
                user_id=ID,
                display_name=TEXT,
                in_call=FLAG,
                hand_raised_at=nullable(TIME),
            )
        ),
        recorded=FLAG,
    ),
    "RaisedHand": obj(
        "A hand raised or lowered in a call (also the `video_hand` event).",
        meeting_id=ID,
        feed_id=ID,
        user_id=ID,
        display_name=TEXT,
        raised=FLAG,
        at=TIME,
    ),
    "CallMute": obj("A participant's microphone muted or unmuted.", feed_id=ID, muted=FLAG),
    "CallRemoval": obj("A participant taken out of a call.", feed_id=ID, removed=FLAG),
    "CallEnded": obj("A call ended by a moderator.", meeting_id=ID, ended=FLAG),
    "NotificationSettings": obj(
        "What a person wants to be told away from the app.",
        previews={**FLAG, "description": "Message text on the lock screen (off by default)."},
        reminder_minutes={**INTEGER, "description": "Minutes before a session; 0: none."},
        quiet_start=nullable(TEXT),
        quiet_end=nullable(TEXT),
        timezone=TEXT,
        email=nullable(TEXT),
        email_confirmed={**FLAG, "description": "Mail goes to `email` only once confirmed."},
        email_reminders=FLAG,
        email_digest={
            **FLAG,
            "description": "A daily mail of what I missed (counts per room, never text); off"
            " by default.",
        },
        email_available={
            **FLAG,
            "description": "Whether this server sends email at all (an SMTP server is set);"
            " false: the email fields are kept but nothing is mailed.",
        },
        push_devices={**INTEGER, "description": "Browsers subscribed to Web Push."},
        followed_room_ids=array(ID),
    ),
    "CheckIn": obj(
        "A check-in to a live occurrence.",
        meeting_id=ID,
        occurrence=TIME,
        mood={"type": "integer", "minimum": 1, "maximum": 5},
        note=TEXT,
        created_at=TIME,
    ),
    "Attendee": obj(
        "One person's attendance of one occurrence.",
        user=USER,
        first_joined_at=nullable(TIME),
        last_left_at=nullable(TIME),
        minutes_present={"type": "number"},
        minutes_in_call={
            "type": "number",
            "description": "Of minutes_present, those in the video call.",
        },
        late_minutes=nullable({"type": "number"}),
        checkin=nullable(
            obj("Their check-in.", mood={"type": "integer"}, note=TEXT),
        ),
    ),
    # Retention and legal holds (docs/privacy.md).
    "RetentionReport": obj(
        "What a retention run would delete now (a dry run), class by class.",
        classes=array(ref("RetentionClass")),
        holds_in_force=INTEGER,
        interval_hours={"type": "number", "description": "How often a run is due."},
        last_run_at={**nullable(TIME), "description": "When the last run ended (any process)."},
    ),
    "RetentionClass": obj(
        "One class of record: its period, and its records past it.",
        name=choice(
            "group_messages",
            "peer_messages",
            "meeting_messages",
            "support_messages",
            "alerts",
            "reports",
            "audit_entries",
        ),
        period_days={**INTEGER, "description": "0: kept for ever (the counts are then 0)."},
        due={**INTEGER, "description": "Past the period: a run now deletes them."},
        held={**INTEGER, "description": "Past the period, kept by legal holds."},
        kept_open={**INTEGER, "description": "Past the period, kept while a case is open."},
    ),
    "LegalHold": obj(
        "A legal hold on a room or on a person: while `active`, nothing it covers is deleted.",
        id=ID,
        room_id=nullable(ID),
        user_id=nullable(ID),
        user=nullable(USER),
        reason=TEXT,
        placed_by=nullable(USER),
        placed_at=TIME,
        lifted_by=nullable(USER),
        lifted_at=nullable(TIME),
        active=FLAG,
    ),
    # Consent and the access audit (docs/privacy.md).
    "ConsentRequired": obj(
        "The consent notice the person must accept before going on.",
        version={**TEXT, "description": "As `GET /api/consent` answers it."},
    ),
    "ConsentAcceptance": obj(
        "A person's acceptance of one version of the consent notice.",
        id=ID,
        user=nullable(USER),
        version=TEXT,
        accepted_at=TIME,
        source=choice("registration", "sign-in"),
        current={**FLAG, "description": "The version in force now."},
    ),
    "AccessLogEntry": obj(
        "One read by staff of people's records.",
        id=ID,
        at=TIME,
        actor=nullable(USER),
        kind=choice("alerts", "reports", "person", "attendance", "export"),
        target_type={
            **nullable(choice("user", "meeting", "cohort")),
            "description": "What the read was about, when one thing; null for a list.",
        },
        target_id=nullable(ID),
        target_user={**nullable(USER), "description": "The person, when `target_type` is user."},
        detail={**TEXT, "description": "What the read asked beyond its target (its query)."},
        request_id={**TEXT, "description": "The request's X-Request-Id, as in the server log."},
    ),
    # A person's export and erasure (docs/privacy.md).
    "PersonalExport": obj(
        "An export of everything peerrooms holds about one person.",
        id=ID,
        user=USER,
        requested_by={**nullable(USER), "description": "The person, or staff on their behalf."},
        status={
            **choice("pending", "ready", "failed", "expired"),
            "description": "`pending` while it is made (minutes at most); `ready` to download;"
            " `failed`: ask again; `expired`: deleted.",
        },
        created_at=TIME,
        ready_at=nullable(TIME),
        expires_at={**nullable(TIME), "description": "When a ready export is deleted."},
    ),
    "ErasureRequest": obj(
        "A request to erase a person, and an admin's decision.",
        id=ID,
        user={**USER, "description": "The person; after erasure, under their pseudonym."},
        requested_by={**nullable(USER), "description": "The person, or staff on their behalf."},
        reason={**TEXT, "description": "The requester's words; emptied by the erasure."},
        status=choice("pending", "declined", "erased"),
        created_at=TIME,
        decided_by=nullable(USER),
        decided_at=nullable(TIME),
        note={**TEXT, "description": "The admin's note with the decision."},
    ),
}
