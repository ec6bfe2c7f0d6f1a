"""The content filters of the send pipeline, and what follows a crisis post.

Gate order (wired in server/app.py): crisis first, so every later refusal knows to let a
crisis post through; then mute, lock, slow mode, rate limit, blocked terms, contact details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.kernel.actors import Actor
from server.kernel.audit import AuditSink
from server.kernel.clock import Clock
from server.kernel.errors import AppError, rate_limited
from server.kernel.ratelimit import RateLimiter
from server.kernel.throttle import Throttle
from server.moderation import store
from server.moderation.alerts import AlertService
from server.moderation.crisis.detector import Classifier, Detection
from server.moderation.matching import TermBlocker, find_contacts, mask_contacts
from server.moderation.models import EXCERPT_CHARS
from server.realtime.notices import Notifier
from server.rooms import store as room_store
from server.rooms.gates import Draft, StoredWithPost
from server.settings import CrisisNoticeTexts, CrisisResource

CRISIS = "crisis"
# A crisis told in the past tense (a recovery story): noted for staff, no dialog, no alert.
DISCLOSURE = "crisis_disclosure"
CONTACT_MASKED = "contact_masked"
# Names a post's stored row that is an audit entry (after the entry's action).
AUDITED = "_audit"
# Refusals that mean the writer is not in the room's audience (or it does not exist).
OUTSIDE_THE_ROOM = ("not_found", "forbidden")


@dataclass
class CrisisGate:
    """Marks a post that speaks of a crisis now (severity urgent or emergency): every later
    gate lets it through. A disclosure (a crisis told in the past) is noted, not marked. It
    refuses nothing."""

    classifier: Classifier

    async def check(self, draft: Draft) -> None:
        detection = self.classifier.detect(draft.body)
        if detection is None:
            return
        if detection.alarm:
            draft.crisis = True
            draft.findings[CRISIS] = detection
            draft.stored_with.append(alert_stored_with(draft, detection))
            draft.stored_with.append(audit_stored_with(draft, "filter_crisis", detection))
        else:
            draft.findings[DISCLOSURE] = detection
            draft.stored_with.append(audit_stored_with(draft, DISCLOSURE, detection))


def alert_stored_with(draft: Draft, detection: Detection) -> StoredWithPost:
    """The crisis alert, stored in the post's own transaction: if the post is stored, so is
    its alert, whatever fails after the commit (and staff get it on connect and again until
    someone acknowledges it). The excerpt is the words as written, before any masking."""
    room_id, user_id, excerpt, now = draft.room.id, draft.actor.id, draft.body, draft.now

    def params(message_id: int) -> dict[str, Any]:
        return {
            "kind": CRISIS,
            "room_id": room_id,
            "message_id": message_id,
            "user_id": user_id,
            "excerpt": excerpt[:EXCERPT_CHARS],
            "term": described(detection)[:200],
            "category": detection.category,
            "severity": detection.severity,
            "reached": "",
            "page_step": 0,
            "paged_at": None,
            "support_room_id": None,
            "report_id": None,
            "status": "open",
            "created_at": now,
            "raised_at": now,
            "raise_count": 1,
            "acked_by": None,
            "acked_at": None,
            "outcome": None,
            "note": "",
        }

    return StoredWithPost(CRISIS, store.INSERT_ALERT, params)


def audit_stored_with(draft: Draft, action: str, detection: Detection) -> StoredWithPost:
    """The filter's audit entry, stored in the post's own transaction: written with the
    message, it costs no session of its own (on a busy server that was most of an alert's
    cost) and cannot be lost after the commit. It names the gates the post went through
    despite them, which are known by the time it is written."""
    room_id, user_id, now = draft.room.id, draft.actor.id, draft.now

    def params(message_id: int) -> dict[str, Any]:
        went_through = ", ".join(draft.overridden)
        note = f"passed despite: {went_through}" if went_through else ""
        return {
            "actor_id": None,
            "action": action,
            "target_user_id": user_id,
            "room_id": room_id,
            "message_id": message_id,
            "reason": described(detection, note)[:1000],
            "created_at": now,
        }

    return StoredWithPost(f"{action}{AUDITED}", store.INSERT_AUDIT, params)


class SlowModeGate:
    """In slow mode a member waits `slow_mode_s` between posts; moderators do not."""

    async def check(self, draft: Draft) -> None:
        room = draft.room
        if draft.action != "send" or room.slow_mode_s <= 0 or draft.actor.is_staff or not room.id:
            return
        await draft.hold_turn()  # a send through another process meanwhile would be missed
        last = await room_store.last_post_at(draft.reads, room_id=room.id, author_id=draft.actor.id)
        if last is None:
            return
        wait_s = room.slow_mode_s - (draft.now - last).total_seconds()
        if wait_s > 0:
            draft.refuse(
                rate_limited(f"Slow mode is on: one message every {room.slow_mode_s} s.", wait_s)
            )


@dataclass
class RateLimitGate:
    """A per-user token bucket on sends: `per_minute` sustained, `burst` at once."""

    limiter: RateLimiter
    per_minute: float
    burst: int

    async def check(self, draft: Draft) -> None:
        if draft.action != "send" or draft.crisis:
            return  # crisis posts neither wait nor use up the allowance
        wait_s = await self.limiter.take(
            f"send:{draft.actor.id}", self.per_minute / 60.0, self.burst, draft.now
        )
        if wait_s > 0:
            draft.refuse(rate_limited("You are sending messages too fast; wait a moment.", wait_s))


@dataclass
class BlockedTermsGate:
    blocker: TermBlocker
    audit: AuditSink

    async def check(self, draft: Draft) -> None:
        term = self.blocker.find(draft.body)
        if term is None:
            return
        await self.audit.record(
            actor_id=None,
            action="filter_blocked_term",
            room_id=draft.room.id,
            target_user_id=draft.actor.id,
            reason=f"term: {term}",
        )
        draft.refuse(
            AppError("blocked", "body: this message contains a word that is not allowed here.")
        )


@dataclass
class ContactGate:
    """Phone numbers and e-mail addresses, by the room's policy: allow, mask or block. A
    masking is recorded once the post is stored (a repeated send, answered with the message
    stored the first time, records nothing twice)."""

    audit: AuditSink

    async def check(self, draft: Draft) -> None:
        policy = draft.room.contact_policy
        if policy == "allow" or not find_contacts(draft.body):
            return
        if policy == "block" and not draft.crisis:
            await self._record(draft, "filter_contact_blocked")
            draft.refuse(
                AppError(
                    "blocked",
                    "body: phone numbers and e-mail addresses are not allowed in this room.",
                )
            )
            return
        # Masked rather than refused when in crisis: the words get through, the number not.
        draft.body = mask_contacts(draft.body)
        draft.findings[CONTACT_MASKED] = True

    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None:
        if draft.findings.get(CONTACT_MASKED):
            await self._record(draft, "filter_contact_masked", message_id=message["id"])

    async def post_refused(self, actor: Actor, room_id: int, body: str, error: AppError) -> None:
        return None

    async def post_repeated(self, actor: Actor, message: dict[str, Any]) -> None:
        return None

    async def _record(self, draft: Draft, action: str, message_id: int | None = None) -> None:
        await self.audit.record(
            actor_id=None,
            action=action,
            room_id=draft.room.id,
            target_user_id=draft.actor.id,
            message_id=message_id,
        )


def resources_for(
    detection: Detection,
    by_category: dict[str, list[CrisisResource]],
    general: list[CrisisResource],
) -> list[CrisisResource]:
    """The resources for this kind of crisis; when it is happening now, emergency services
    first (the order is otherwise as configured)."""
    chosen = by_category.get(detection.category) or general
    if detection.severity == "emergency":
        return sorted(chosen, key=lambda resource: not resource.emergency)
    return list(chosen)


def described(detection: Detection, note: str = "") -> str:
    """What the audit log and the alert keep of a detection (never the message itself), in
    words a coordinator reads: "crisis: self harm, urgent (found by: model, rule:self_harm)"."""
    category = detection.category.replace("_", " ")
    parts = [
        f"crisis: {category}, {detection.severity} (found by: {', '.join(detection.evidence)})",
        note,
    ]
    return "; ".join(part for part in parts if part)


@dataclass
class CrisisResponder:
    """After a crisis post: resources for the writer, an alert for staff, an audit entry.
    After a disclosure: an audit note for staff, nothing for the writer.

    Runs for posts that were stored and for posts refused before storage (a banned user, a
    room they cannot enter), so staff find out either way."""

    classifier: Classifier
    alerts: AlertService
    notifier: Notifier
    audit: AuditSink
    resources: list[CrisisResource]
    resources_by_category: dict[str, list[CrisisResource]]
    notice_texts: CrisisNoticeTexts
    # Crisis text sent to a room the writer may not enter raises at most one alert per
    # person per interval (anyone could otherwise page every moderator at will); the writer
    # gets the resources every time.
    outside_alerts: Throttle
    clock: Clock
    outside_alert_interval_s: float = 3600.0

    async def post_stored(self, draft: Draft, message: dict[str, Any]) -> None:
        """A crisis post: its alert and audit entry were stored with it; staff and the writer
        are told now. A disclosure's audit entry was stored with it: nothing more to do."""
        for row in draft.stored_with:
            if row.name.endswith(AUDITED):
                self.audit.written_with_post(row.name.removesuffix(AUDITED))
        detection = draft.findings.get(CRISIS)
        if isinstance(detection, Detection):
            [(alert_id,)] = draft.stored[CRISIS]
            await self._respond(
                draft.actor,
                draft.room.id,
                detection,
                draft.body,
                message_id=message["id"],
                stored_alert_id=int(alert_id),
            )

    async def post_refused(self, actor: Actor, room_id: int, body: str, error: AppError) -> None:
        detection = self.classifier.detect(body)
        if detection is None or not detection.alarm:
            return
        known_room = room_id if error.code != "not_found" else None
        if error.code in OUTSIDE_THE_ROOM and not await self.outside_alerts.allow(
            f"crisis-outside:{actor.id}", self.outside_alert_interval_s, self.clock.now()
        ):
            await self._tell_writer(actor, known_room, detection, reached="already_alerted")
            return
        await self._respond(actor, known_room, detection, body, note=f"not posted: {error.code}")

    async def post_repeated(self, actor: Actor, message: dict[str, Any]) -> None:
        """The first send stored its alert but failed before staff and the writer were told:
        tell them now (once, whoever repeats it)."""
        alert_id = await self.alerts.unannounced_alert_of(message["id"])
        detection = self.classifier.detect(message["body"]) if alert_id else None
        if alert_id is None or detection is None:
            return
        await self._respond(
            actor,
            message["room_id"],
            detection,
            message["body"],
            message_id=message["id"],
            stored_alert_id=alert_id,
        )

    async def _respond(
        self,
        actor: Actor,
        room_id: int | None,
        detection: Detection,
        body: str,
        *,
        message_id: int | None = None,
        stored_alert_id: int | None = None,
        note: str = "",
    ) -> None:
        # Staff first: the writer is told only once the alert is stored and on its way, and
        # only what is true of who it reached.
        if stored_alert_id is not None:
            # Stored with its message, and so was its audit entry. None: a repeated send of
            # the same message told them already.
            announced = await self.alerts.announce(stored_alert_id)
            if announced is not None:
                await self._tell_writer(actor, room_id, detection, announced["reached"])
            return
        alert = await self.alerts.raise_alert(
            kind=CRISIS,
            room_id=room_id,
            user_id=actor.id,
            excerpt=body,
            message_id=message_id,
            term=described(detection)[:200],
            category=detection.category,
            severity=detection.severity,
        )
        await self._tell_writer(actor, room_id, detection, alert["reached"])
        await self._audit("filter_crisis", actor, room_id, detection, message_id, note)

    async def _tell_writer(
        self, actor: Actor, room_id: int | None, detection: Detection, reached: str
    ) -> None:
        """The resources for this kind of crisis, and the truth about who was reached."""
        chosen = resources_for(detection, self.resources_by_category, self.resources)
        await self.notifier.tell(
            actor.id,
            "crisis_resources",
            self.notice_texts.for_reach(reached),
            room_id=room_id,
            category=detection.category,
            severity=detection.severity,
            reached=reached,
            resources=[resource.model_dump() for resource in chosen],
        )

    async def _audit(
        self,
        action: str,
        actor: Actor,
        room_id: int | None,
        detection: Detection,
        message_id: int | None,
        note: str = "",
    ) -> None:
        await self.audit.record(
            actor_id=None,
            action=action,
            room_id=room_id,
            target_user_id=actor.id,
            message_id=message_id,
            reason=described(detection, note),
        )
