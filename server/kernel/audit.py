"""The audit seam: features record what staff did without knowing where it is kept.

AUDIT_ACTIONS names every action any feature records: the API reference documents it as the
audit entry's `action`, and the console's Action filter offers exactly these (checked by
tests/test_console_audit.py). A feature that records a new action adds it here.
"""

from __future__ import annotations

from typing import Protocol

AUDIT_ACTIONS: tuple[str, ...] = (
    # Moderation: restrictions, messages, reports, alerts, duty, support.
    "mute",
    "unmute",
    "kick",
    "ban",
    "unban",
    "message_deleted",
    "message_pinned",
    "message_unpinned",
    "report_dismissed",
    "report_actioned",
    "alert_acknowledged",
    "duty_started",
    "duty_ended",
    "support_opened",
    # Content filters (no actor: the filter acted).
    "filter_crisis",
    "crisis_disclosure",
    "filter_blocked_term",
    "filter_contact_masked",
    "filter_contact_blocked",
    # Rooms: created, reshaped, archived, and each setting changed (rooms/service.py).
    "room_created",
    "room_name_changed",
    "room_locked",
    "room_unlocked",
    "room_slow_mode_s_changed",
    "room_topic_changed",
    "room_contact_policy_changed",
    "room_history_visibility_changed",
    "room_kind_changed",
    "room_audience_changed",
    "room_archived",
    "room_unarchived",
    # People, cohorts, invites, sign-ins.
    "cohort_created",
    "cohort_changed",
    "invite_created",
    "invite_revoked",
    "person_changed",
    "account_deactivated",
    "account_reactivated",
    "password_reset_issued",
    "password_reset_used",
    "kept_sign_in_reused",
    # A person's own account: their alias changed (the reason says from what to what), their
    # password changed.
    "display_name_changed",
    "password_changed",
    # Meetings and their video calls.
    "meeting_scheduled",
    "meeting_changed",
    "meeting_cancelled",
    "meeting_moved",
    "video_muted",
    "video_unmuted",
    "video_removed",
    "video_ended",
    # Privacy: exports, erasure, retention, legal holds.
    "export_requested",
    "export_downloaded",
    "export_failed",
    "erasure_requested",
    "erasure_approved",
    "erasure_declined",
    "erasure_done",
    "retention_run",
    "legal_hold_placed",
    "legal_hold_lifted",
)


class AuditSink(Protocol):
    async def record(
        self,
        *,
        actor_id: int | None,
        action: str,
        room_id: int | None = None,
        target_user_id: int | None = None,
        message_id: int | None = None,
        reason: str = "",
    ) -> None: ...

    def written_with_post(self, action: str) -> None:
        """An entry a feature wrote itself, in a post's own transaction (a crisis filter's
        hit): a sink that counts what is recorded counts it too."""
        ...
