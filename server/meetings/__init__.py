"""Scheduled meetings: recurring series, their lobby and live windows, attendance, check-ins
and calendar feeds."""
