import { describe, expect, it } from "vitest";
import { savedSentence, settingsChange, type SettingsForm } from "./notification-settings";

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
