"""Keeping rooms safe: mutes, kicks, bans, reports, alerts, the audit log and content filters."""
