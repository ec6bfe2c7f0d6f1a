import { describe, expect, it } from "vitest";
import { buildRrule, parseRrule, wallClock } from "./meetings-admin";

describe("wallClock", () => {
  it("reads an instant on the series' own clock, across a daylight-saving change", () => {
    expect(wallClock("2026-10-26T23:00:00Z", "America/Chicago")).toEqual({ date: "2026-10-26", time: "18:00" });
    expect(wallClock("2026-11-03T00:00:00Z", "America/Chicago")).toEqual({ date: "2026-11-02", time: "18:00" });
  });

  it("gives midnight as 00, not 24", () => {
    expect(wallClock("2026-12-07T00:00:00Z", "UTC")).toEqual({ date: "2026-12-07", time: "00:00" });
  });
});

describe("rules built in the form", () => {
  it("round-trip through parseRrule", () => {
    const schedule = { days: ["MO", "WE", "TH"], once: false, until: "2027-03-31" };
    expect(parseRrule(buildRrule(schedule))).toEqual(schedule);
    expect(buildRrule({ days: [], once: true, until: "" })).toBe("FREQ=DAILY;COUNT=1");
  });

  it("end on a day of the series' own clock, never a UTC time", () => {
    // A UTC 23:59:59 is 18:59 in Chicago: a 19:00 session on the last day would be lost.
    const rule = buildRrule({ days: ["MO", "WE"], once: false, until: "2027-03-31" });
    expect(rule).toBe("FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331T235959");
    expect(rule).not.toMatch(/Z$/);
    expect(buildRrule({ days: ["TU"], once: false, until: "" })).toBe("FREQ=WEEKLY;BYDAY=TU");
  });

  it("read the end date back from a rule as the server keeps it", () => {
    // The server keeps UNTIL on the series' wall clock, however it was given.
    expect(parseRrule("FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270331T190000").until).toBe("2027-03-31");
    expect(parseRrule("FREQ=DAILY;COUNT=1")).toEqual({ days: [], once: true, until: "" });
  });
});
