// The Notifications screen's forms as data: what they send (PATCH /api/me/notifications) or what
// is wrong with them, the sentences said after saving, and which words the Email section shows
// for which state of the address. No DOM, no I/O (notification-settings.test.ts).
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

// ----- email -----

// The server's test of an address and its bound (server/notify/models.py EMAIL, SettingsIn).
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
export const MAX_EMAIL_LENGTH = 254;

export type EmailSettings = Pick<Settings, "email" | "email_confirmed" | "email_reminders" | "email_digest" | "email_available">;

/** Where the address stands: the server sends no email at all; no address; an address whose
 * confirmation link has not been opened yet; a confirmed address. */
export type EmailState = "unavailable" | "none" | "waiting" | "confirmed";

export function emailState(settings: EmailSettings): EmailState {
  if (!settings.email_available) return "unavailable";
  if (!settings.email) return "none";
  return settings.email_confirmed ? "confirmed" : "waiting";
}

/** All the Email section says when this server sends no email. */
export const NO_EMAIL_SENTENCE = "This server does not send email, so peerrooms cannot mail you reminders or a daily summary.";

/** The sentence of the section's status: where the address stands. */
export function emailStateText(settings: EmailSettings): string {
  switch (emailState(settings)) {
    case "unavailable":
      return NO_EMAIL_SENTENCE;
    case "none":
      return "No address: nothing is mailed to you.";
    case "waiting":
      return `Waiting for you to open the link we sent to ${settings.email ?? ""}.`;
    case "confirmed":
      return `Confirmed. Mail from peerrooms goes to ${settings.email ?? ""}.`;
  }
}

/** Why the mail choices cannot be ticked yet (they describe the disabled checkboxes); null
 * once the address is confirmed and they can. */
export function emailChoicesHint(settings: EmailSettings): string | null {
  switch (emailState(settings)) {
    case "confirmed":
      return null;
    case "waiting":
      return "You can choose these once you have opened the link we sent to your address.";
    default:
      return "You can choose these once you have given an address above and opened the link we send to it.";
  }
}

export interface EmailForm {
  address: string;
  reminders: boolean;
  digest: boolean;
}

export type EmailChange = Partial<Pick<Settings, "email" | "email_reminders" | "email_digest">>;

/** The Email form as the PATCH it makes (only what changed; possibly nothing), or what is
 * wrong with the address in a sentence naming the field. The choices are sent only while the
 * address shown is confirmed: until then their checkboxes are closed. */
export function emailChange(form: EmailForm, current: EmailSettings): { change: EmailChange } | { error: string } {
  const address = form.address.trim();
  if (address === "") {
    return {
      error: current.email
        ? "Email address: type the address to use, or press Remove this address."
        : "Email address: type the address to send mail to.",
    };
  }
  if (address.length > MAX_EMAIL_LENGTH) return { error: `Email address: at most ${MAX_EMAIL_LENGTH} characters.` };
  if (!EMAIL.test(address)) return { error: "Email address: this is not an email address. Write it as name@example.org." };
  const change: EmailChange = {};
  if (address !== current.email) change.email = address;
  if (current.email && current.email_confirmed) {
    if (form.reminders !== current.email_reminders) change.email_reminders = form.reminders;
    if (form.digest !== current.email_digest) change.email_digest = form.digest;
  }
  return { change };
}

/** Said after the Email form was sent (`before` and `after` the server's answer), or pressed
 * with nothing changed (`after` the same as `before`). */
export function emailSavedSentence(before: EmailSettings, after: EmailSettings): string {
  if (after.email && after.email !== before.email) {
    return `Saved. We sent a confirmation link to ${after.email}: open it to start getting mail there.`;
  }
  if (!after.email) return "Nothing changed.";
  if (!after.email_confirmed) {
    return `Nothing changed. The link to confirm ${after.email} is in that mailbox: if it has not come, look in the spam folder, or remove the address and give it again.`;
  }
  const onOff = (on: boolean): string => (on ? "on" : "off");
  const what = `Session reminders by email: ${onOff(after.email_reminders)}. Daily summary: ${onOff(after.email_digest)}.`;
  const changed = after.email_reminders !== before.email_reminders || after.email_digest !== before.email_digest;
  return changed ? `Saved. ${what}` : `Nothing changed. ${what}`;
}

/** Said once the address is removed. */
export function emailRemovedSentence(address: string): string {
  return `Removed. Nothing more is mailed to ${address}.`;
}

// The server names the field it refuses by the contract's name ("email: not an email
// address."), which describeAny says as "Email: …": said here with the form's labels.
const EMAIL_FIELD_LABELS: [RegExp, string][] = [
  [/^Email reminders:/i, "Email me before my sessions:"],
  [/^Email digest:/i, "Email me a daily summary of what I missed:"],
  [/^Email:/i, "Email address:"],
];

/** A refusal as describeAny says it, with the Email form's field named by its label. */
export function emailRefusal(text: string): string {
  for (const [pattern, label] of EMAIL_FIELD_LABELS) {
    if (pattern.test(text)) return text.replace(pattern, label);
  }
  return text;
}
