import { describe, expect, it } from "vitest";
import {
  emailChange,
  emailChoicesHint,
  emailRefusal,
  emailRemovedSentence,
  emailSavedSentence,
  emailState,
  emailStateText,
  NO_EMAIL_SENTENCE,
  savedSentence,
  settingsChange,
  type EmailForm,
  type EmailSettings,
  type SettingsForm,
} from "./notification-settings";

const form: SettingsForm = {
  previews: false,
  reminderMinutes: "15",
  noQuietHours: false,
  quietStart: "22:00",
  quietEnd: "07:00",
  timezone: "America/Chicago",
};

describe("settingsChange", () => {
  it("sends every field, the quiet hours with the browser's time zone", () => {
    expect(settingsChange({ ...form, previews: true })).toEqual({
      change: {
        previews: true,
        reminder_minutes: 15,
        quiet_start: "22:00",
        quiet_end: "07:00",
        timezone: "America/Chicago",
      },
    });
  });

  it("sends no quiet hours when they are ticked off, whatever the time fields hold", () => {
    const result = settingsChange({ ...form, noQuietHours: true, quietStart: "", quietEnd: "nonsense" });
    expect(result).toEqual({
      change: expect.objectContaining({ quiet_start: null, quiet_end: null, timezone: "America/Chicago" }),
    });
  });

  it("drops the seconds a time field may carry", () => {
    const result = settingsChange({ ...form, quietStart: "21:30:00", quietEnd: "06:45:00.000" });
    expect(result).toEqual({ change: expect.objectContaining({ quiet_start: "21:30", quiet_end: "06:45" }) });
  });

  it("takes 0 minutes (never) up to a day", () => {
    expect(settingsChange({ ...form, reminderMinutes: " 0 " })).toEqual({ change: expect.objectContaining({ reminder_minutes: 0 }) });
    expect(settingsChange({ ...form, reminderMinutes: "1440" })).toEqual({ change: expect.objectContaining({ reminder_minutes: 1440 }) });
  });

  it("refuses what the server would, naming the field", () => {
    for (const minutes of ["", "-5", "2.5", "1441", "soon"]) {
      expect(settingsChange({ ...form, reminderMinutes: minutes })).toEqual({ error: expect.stringMatching(/^Remind me before sessions/) });
    }
    expect(settingsChange({ ...form, quietEnd: "" })).toEqual({ error: expect.stringMatching(/^Quiet hours: choose both/) });
    expect(settingsChange({ ...form, quietStart: "24:00" })).toEqual({ error: expect.stringMatching(/^Quiet hours/) });
    expect(settingsChange({ ...form, quietEnd: "22:00" })).toEqual({ error: expect.stringMatching(/same time/) });
  });
});

describe("savedSentence", () => {
  it("says what now holds", () => {
    expect(savedSentence({ reminder_minutes: 15, quiet_start: "22:00", quiet_end: "07:00", timezone: "America/Chicago" })).toBe(
      "Saved. Reminders 15 minutes before sessions. Quiet from 22:00 to 07:00 (America/Chicago).",
    );
    expect(savedSentence({ reminder_minutes: 0, quiet_start: null, quiet_end: null, timezone: "UTC" })).toBe(
      "Saved. No session reminders. No quiet hours.",
    );
    expect(savedSentence({ reminder_minutes: 1, quiet_start: null, quiet_end: null, timezone: "UTC" })).toMatch(/1 minute before/);
  });
});

const noAddress: EmailSettings = {
  email: null,
  email_confirmed: false,
  email_reminders: true,
  email_digest: false,
  email_available: true,
};
const waiting: EmailSettings = { ...noAddress, email: "ana@example.org" };
const confirmed: EmailSettings = { ...waiting, email_confirmed: true };
const emailForm: EmailForm = { address: "ana@example.org", reminders: true, digest: false };

describe("emailState and its words", () => {
  it("says where the address stands", () => {
    expect(emailState(noAddress)).toBe("none");
    expect(emailStateText(noAddress)).toBe("No address: nothing is mailed to you.");
    expect(emailState(waiting)).toBe("waiting");
    expect(emailStateText(waiting)).toBe("Waiting for you to open the link we sent to ana@example.org.");
    expect(emailState(confirmed)).toBe("confirmed");
    expect(emailStateText(confirmed)).toBe("Confirmed. Mail from peerrooms goes to ana@example.org.");
  });

  it("says only that this server sends no email when it has none, whatever is stored", () => {
    for (const settings of [noAddress, waiting, confirmed]) {
      expect(emailState({ ...settings, email_available: false })).toBe("unavailable");
      expect(emailStateText({ ...settings, email_available: false })).toBe(NO_EMAIL_SENTENCE);
    }
    expect(NO_EMAIL_SENTENCE).toMatch(/^This server does not send email/);
  });

  it("explains the closed choices until the address is confirmed", () => {
    expect(emailChoicesHint(noAddress)).toMatch(/given an address above and opened the link/);
    expect(emailChoicesHint(waiting)).toMatch(/opened the link we sent/);
    expect(emailChoicesHint(confirmed)).toBeNull();
  });
});

describe("emailChange", () => {
  it("sends a new address alone while none is confirmed (the choices are closed)", () => {
    expect(emailChange({ ...emailForm, address: " ana@example.org ", digest: true }, noAddress)).toEqual({
      change: { email: "ana@example.org" },
    });
    expect(emailChange({ ...emailForm, address: "ana@new.example" }, waiting)).toEqual({ change: { email: "ana@new.example" } });
  });

  it("sends the choices that changed once the address is confirmed", () => {
    expect(emailChange({ ...emailForm, digest: true }, confirmed)).toEqual({ change: { email_digest: true } });
    expect(emailChange({ ...emailForm, reminders: false, digest: true }, confirmed)).toEqual({
      change: { email_reminders: false, email_digest: true },
    });
    expect(emailChange({ address: "ana@new.example", reminders: true, digest: true }, confirmed)).toEqual({
      change: { email: "ana@new.example", email_digest: true },
    });
  });

  it("sends nothing when nothing changed", () => {
    expect(emailChange(emailForm, waiting)).toEqual({ change: {} });
    expect(emailChange(emailForm, confirmed)).toEqual({ change: {} });
  });

  it("refuses what the server would, naming the field", () => {
    for (const address of ["ana", "ana@example", "ana at example.org", "@example.org", "ana@@example.org", "a b@example.org"]) {
      expect(emailChange({ ...emailForm, address }, noAddress)).toEqual({ error: expect.stringMatching(/^Email address: this is not an email address/) });
    }
    expect(emailChange({ ...emailForm, address: `${"a".repeat(250)}@example.org` }, noAddress)).toEqual({
      error: "Email address: at most 254 characters.",
    });
    expect(emailChange({ ...emailForm, address: "  " }, noAddress)).toEqual({ error: "Email address: type the address to send mail to." });
    expect(emailChange({ ...emailForm, address: "" }, confirmed)).toEqual({ error: expect.stringMatching(/Remove this address/) });
  });
});

describe("emailSavedSentence", () => {
  it("says a confirmation link was sent to a new address, and to open it", () => {
    expect(emailSavedSentence(noAddress, waiting)).toBe(
      "Saved. We sent a confirmation link to ana@example.org: open it to start getting mail there.",
    );
    expect(emailSavedSentence(confirmed, { ...waiting, email: "ana@new.example" })).toMatch(/link to ana@new.example: open it/);
  });

  it("says what is mailed once saved", () => {
    expect(emailSavedSentence(confirmed, { ...confirmed, email_digest: true })).toBe(
      "Saved. Session reminders by email: on. Daily summary: on.",
    );
    expect(emailSavedSentence(confirmed, confirmed)).toBe("Nothing changed. Session reminders by email: on. Daily summary: off.");
  });

  it("points at the mailbox when the address waits for its link", () => {
    expect(emailSavedSentence(waiting, waiting)).toMatch(/^Nothing changed\. The link to confirm ana@example\.org/);
  });

  it("says a removal", () => {
    expect(emailRemovedSentence("ana@example.org")).toBe("Removed. Nothing more is mailed to ana@example.org.");
  });
});

describe("emailRefusal", () => {
  it("names the server's fields by the form's labels", () => {
    expect(emailRefusal("Email: not an email address.")).toBe("Email address: not an email address.");
    expect(emailRefusal("Email digest: Input should be a valid boolean.")).toBe(
      "Email me a daily summary of what I missed: Input should be a valid boolean.",
    );
    expect(emailRefusal("Email reminders: cannot be null.")).toMatch(/^Email me before my sessions:/);
    expect(emailRefusal("The server could not be reached.")).toBe("The server could not be reached.");
  });
});
