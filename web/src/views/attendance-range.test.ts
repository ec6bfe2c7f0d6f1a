import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attendedText,
  defaultDates,
  moodPoints,
  moodsLabel,
  moodY,
  summaryText,
  utcRange,
  type RangeMood,
  type RangePerson,
} from "./attendance-range";

const mood = (starts_at: string, value: number): RangeMood => ({ starts_at, mood: value, low: value <= 2 });

describe("moodPoints", () => {
  const run = [mood("2026-11-03T00:00:00.000Z", 4), mood("2026-11-05T00:00:00.000Z", 1), mood("2026-11-10T00:00:00.000Z", 5)];

  it("spreads the check-ins from the left edge to the right edge in time order", () => {
    const points = moodPoints([run[2]!, run[0]!, run[1]!], 120, 40);
    expect(points.map((p) => p.x)).toEqual([0, 60, 120]);
    expect(points.map((p) => p.mood)).toEqual([4, 1, 5]);
  });

  it("puts mood 5 at the top and mood 1 at the bottom", () => {
    const points = moodPoints(run, 120, 40);
    expect(points[2]!.y).toBe(0);
    expect(points[1]!.y).toBe(40);
    expect(points[0]!.y).toBe(10);
  });

  it("keeps the points inside the inset", () => {
    const points = moodPoints(run, 120, 40, 4);
    expect(points.map((p) => p.x)).toEqual([4, 60, 116]);
    expect(points[2]!.y).toBe(4);
    expect(points[1]!.y).toBe(36);
  });

  it("centres a lone check-in across the width", () => {
    const [only, ...rest] = moodPoints([mood("2026-11-03T00:00:00.000Z", 3)], 120, 40, 4);
    expect(rest).toEqual([]);
    expect(only).toEqual({ x: 60, y: 20, mood: 3, low: false });
  });

  it("carries the server's low flag to each point", () => {
    expect(moodPoints(run, 120, 40).map((p) => p.low)).toEqual([false, true, false]);
    // The flag is the server's, not recomputed here.
    expect(moodPoints([{ starts_at: "2026-11-03T00:00:00.000Z", mood: 3, low: true }], 10, 10)[0]!.low).toBe(true);
  });

  it("has no points without check-ins, and keeps a mood out of range inside the chart", () => {
    expect(moodPoints([], 120, 40)).toEqual([]);
    expect(moodY(9, 40)).toBe(0);
    expect(moodY(0, 40)).toBe(40);
  });
});

describe("moodsLabel", () => {
  it("says the moods in time order, the low ones marked", () => {
    const moods = [
      mood("2026-11-10T00:00:00.000Z", 2),
      mood("2026-11-03T00:00:00.000Z", 4),
      mood("2026-11-12T00:00:00.000Z", 4),
      mood("2026-11-05T00:00:00.000Z", 3),
    ];
    expect(moodsLabel(moods)).toBe("Moods: 4, 3, 2 (low), 4");
  });

  it("says when there are none", () => {
    expect(moodsLabel([])).toBe("No check-ins");
  });
});

describe("utcRange", () => {
  // The days are the browser's: run these in a zone with daylight saving time.
  const zone = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = "America/Chicago";
  });
  afterAll(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  it("runs from the first day's local midnight to the midnight after the last", () => {
    expect(utcRange("2026-11-16", "2026-11-29")).toEqual({
      since: "2026-11-16T06:00:00Z",
      until: "2026-11-30T06:00:00Z",
    });
  });

  it("follows the clock change inside the range", () => {
    // Summer time ends on 1 November 2026 in Chicago.
    expect(utcRange("2026-10-31", "2026-11-01")).toEqual({
      since: "2026-10-31T05:00:00Z",
      until: "2026-11-02T06:00:00Z",
    });
  });

  it("takes one day as a whole day", () => {
    expect(utcRange("2026-07-04", "2026-07-04")).toEqual({
      since: "2026-07-04T05:00:00Z",
      until: "2026-07-05T05:00:00Z",
    });
  });

  it("refuses a range that ends before it starts, naming To", () => {
    expect(utcRange("2026-11-20", "2026-11-19")).toEqual({
      field: "To",
      message: "To: the last day cannot come before the first (From).",
    });
  });

  it("refuses missing days, naming the field", () => {
    expect(utcRange("", "2026-11-19")).toMatchObject({ field: "From" });
    expect(utcRange("2026-11-19", "")).toMatchObject({ field: "To" });
  });

  it("allows 92 days and refuses 93", () => {
    expect(utcRange("2026-01-01", "2026-04-02")).toMatchObject({ since: "2026-01-01T06:00:00Z" });
    expect(utcRange("2026-01-01", "2026-04-03")).toMatchObject({ field: "To", message: expect.stringContaining("92 days") });
  });

  it("opens on the last two weeks, today included", () => {
    expect(defaultDates(new Date(2026, 10, 29, 15, 30))).toEqual({ from: "2026-11-16", to: "2026-11-29" });
    expect(defaultDates(new Date(2026, 0, 5))).toEqual({ from: "2025-12-23", to: "2026-01-05" });
  });
});

describe("the words around the table", () => {
  it("says how many sessions came to of how many", () => {
    const person: RangePerson = {
      user: { id: 7, display_name: "Ana", role: "patient" },
      sessions: 6,
      attended: 5,
      minutes: 300,
      late: 1,
      moods: [],
      low_moods: 0,
    };
    expect(attendedText(person)).toBe("5 of 6");
  });

  it("counts the sessions in the summary", () => {
    expect(summaryText(2, "2026-11-16", "2026-11-29")).toMatch(/^2 sessions from .*2026 to .*2026$/);
    expect(summaryText(1, "2026-11-16", "2026-11-16")).toMatch(/^1 session from /);
  });
});
