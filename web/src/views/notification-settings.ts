// The Notifications screen's form as data: what it sends (PATCH /api/me/notifications) or what
// is wrong with it, and the sentence said after saving. No DOM, no I/O (notification-settings.test.ts).
import type { NotificationSettings } from "../types";

// The server's bound (server/notify/models.py MAX_REMINDER_MINUTES).
export const MAX_REMINDER_MINUTES = 24 * 60;

type Settings = NotificationSettings;

/** This browser's time zone, as the server names zones ("America/Chicago"). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export interface SettingsForm {
  previews: boolean;
  reminderMinutes: string;
  noQuietHours: boolean;
  quietStart: string;
  quietEnd: string;
  timezone: string;
}

export type SettingsChange = Pick<Settings, "previews" | "reminder_minutes" | "quiet_start" | "quiet_end" | "timezone">;

/** The form as the PATCH it makes, or what is wrong with it in a sentence naming the field. */
export function settingsChange(form: SettingsForm): { change: SettingsChange } | { error: string } {
  const minutes = form.reminderMinutes.trim();
  if (!/^\d+$/.test(minutes) || Number(minutes) > MAX_REMINDER_MINUTES) {
    return { error: `Remind me before sessions: a whole number of minutes from 0 to ${MAX_REMINDER_MINUTES}.` };
  }
  let quietStart: string | null = null;
  let quietEnd: string | null = null;
  if (!form.noQuietHours) {
    // A time field gives "22:00" (or "22:00:00" where seconds are shown).
    quietStart = wallClock(form.quietStart);
    quietEnd = wallClock(form.quietEnd);
    if (quietStart === null || quietEnd === null) {
      return { error: "Quiet hours: choose both times, or tick No quiet hours." };
    }
    if (quietStart === quietEnd) return { error: "Quiet hours: the start and the end are the same time." };
  }
  return {
    change: {
      previews: form.previews,
      reminder_minutes: Number(minutes),
      quiet_start: quietStart,
      quiet_end: quietEnd,
      timezone: form.timezone,
    },
  };
}

function wallClock(value: string): string | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)(:\d{2}(\.\d+)?)?$/.exec(value.trim());
  return match ? `${match[1]}:${match[2]}` : null;
}

/** "Nothing between 22:00 and 07:00 (America/Chicago)." and the like, after saving. */
export function savedSentence(settings: Pick<Settings, "quiet_start" | "quiet_end" | "timezone" | "reminder_minutes">): string {
  const reminders =
    settings.reminder_minutes === 0
      ? "No session reminders."
      : `Reminders ${settings.reminder_minutes} ${settings.reminder_minutes === 1 ? "minute" : "minutes"} before sessions.`;
  const quiet =
    settings.quiet_start && settings.quiet_end
      ? ` Quiet from ${settings.quiet_start} to ${settings.quiet_end} (${settings.timezone}).`
      : " No quiet hours.";
  return `Saved. ${reminders}${quiet}`;
}
