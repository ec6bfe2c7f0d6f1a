// Attendance over a date range (staff, in the moderator console): a cohort's sessions that
// started between two days of the browser's calendar, per person how many they came to, their
// minutes, late arrivals and check-in moods over time with the low ones flagged, and the same
// range as CSV (GET /api/attendance, docs/meetings.md).
import { get, request } from "../api";
import { describeAny } from "../errors";
import { pluralize } from "../format";
import { h, replaceChildren, type Child } from "../h";
import type { Attendee, Cohort, PublicUser } from "../types";
import { downloadLink, errorBox, field, localMidnightUtc, slug, statusBox, table } from "./common";

/** One check-in's mood in a person's run of sessions; `low` is the server's flag (2 or less). */
export interface RangeMood {
  starts_at: string;
  mood: number;
  low: boolean;
}

/** One person over the range: the sessions they were expected at or came to. */
export interface RangePerson {
  user: PublicUser;
  sessions: number;
  attended: number;
  minutes: number;
  late: number;
  moods: RangeMood[];
  low_moods: number;
}

/** One session that started in the range, on its meeting's own clock. */
export interface RangeSession {
  meeting_id: number;
  title: string;
  starts_at: string;
  local_start: string;
  timezone: string;
  attendees: Attendee[];
}

export interface RangeReport {
  sessions: RangeSession[];
  people: RangePerson[];
}

/** GET /api/cohorts lists archived cohorts too (with the flag): their past is still reported. */
interface ReportCohort extends Cohort {
  archived?: boolean;
}

// The server's longest range (server/meetings/attendance.py MAX_RANGE), refused here first so
// the reason names the field.
export const MAX_RANGE_DAYS = 92;
// What "the last two weeks" means when the form opens: today and the 13 days before it.
export const DEFAULT_RANGE_DAYS = 14;
const DAY_MS = 24 * 60 * 60 * 1000;

const MOOD_LEAST = 1;
const MOOD_MOST = 5;
// Halfway between the highest low mood (2) and the lowest that is not (3).
const LOW_BAND_TOP = 2.5;
// The sparkline's box, in CSS pixels; the inset keeps the markers whole at the edges.
const CHART_WIDTH = 120;
const CHART_HEIGHT = 40;
const DOT_RADIUS = 3;
const LOW_MARK_RADIUS = 5.5;
const CHART_INSET = LOW_MARK_RADIUS;

const SVG_NS = "http://www.w3.org/2000/svg";

export interface MoodPoint {
  x: number;
  y: number;
  mood: number;
  low: boolean;
}

function inTimeOrder(moods: readonly RangeMood[]): RangeMood[] {
  return [...moods].sort((a, b) => (Date.parse(a.starts_at) || 0) - (Date.parse(b.starts_at) || 0));
}

/** How far down a `height` chart, `inset` from its top and bottom, a mood sits: 5 at the top,
 * 1 at the bottom (a value between two moods between their heights). */
export function moodY(mood: number, height: number, inset = 0): number {
  const clamped = Math.min(MOOD_MOST, Math.max(MOOD_LEAST, mood));
  return inset + (Math.max(0, height - 2 * inset) * (MOOD_MOST - clamped)) / (MOOD_MOST - MOOD_LEAST);
}

/** Where each mood sits in a `width` × `height` chart, `inset` in from every edge: one step
 * along per check-in in time order (a sparkline shows the run, not the calendar, so a missed
 * week leaves no gap), mood 5 at the top and 1 at the bottom; a lone mood sits in the middle. */
export function moodPoints(moods: readonly RangeMood[], width: number, height: number, inset = 0): MoodPoint[] {
  const ordered = inTimeOrder(moods);
  const span = Math.max(0, width - 2 * inset);
  const steps = ordered.length - 1;
  return ordered.map((entry, index) => ({
    x: steps > 0 ? inset + (span * index) / steps : inset + span / 2,
    y: moodY(entry.mood, height, inset),
    mood: entry.mood,
    low: entry.low,
  }));
}

/** What the chart says to a screen reader: "Moods: 4, 3, 2 (low), 4". */
export function moodsLabel(moods: readonly RangeMood[]): string {
  if (moods.length === 0) return "No check-ins";
  const ordered = inTimeOrder(moods);
  return `Moods: ${ordered.map((entry) => (entry.low ? `${entry.mood} (low)` : String(entry.mood))).join(", ")}`;
}

/** A day of the browser's calendar as a date field writes it ("2026-11-02"). */
export function localDateText(day: Date): string {
  const year = String(day.getFullYear()).padStart(4, "0");
  const month = String(day.getMonth() + 1).padStart(2, "0");
  const date = String(day.getDate()).padStart(2, "0");
  return `${year}-${month}-${date}`;
}

/** The form's first look: the last two weeks, today included. */
export function defaultDates(today: Date): { from: string; to: string } {
  const first = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (DEFAULT_RANGE_DAYS - 1));
  return { from: localDateText(first), to: localDateText(today) };
}

export type RangeField = "From" | "To";

/** The UTC [since, until) of two days picked in the browser's time zone, both included: from
 * the first's midnight to the midnight after the last. A refusal names its field. */
export function utcRange(
  from: string,
  to: string,
): { since: string; until: string } | { field: RangeField; message: string } {
  const since = localMidnightUtc(from);
  if (since === null) return { field: "From", message: "From: enter the first day as a date." };
  const until = localMidnightUtc(to, 1);
  if (until === null) return { field: "To", message: "To: enter the last day as a date." };
  if (from > to) return { field: "To", message: "To: the last day cannot come before the first (From)." };
  if (Date.parse(until) - Date.parse(since) > MAX_RANGE_DAYS * DAY_MS) {
    return { field: "To", message: `To: a report covers at most ${MAX_RANGE_DAYS} days; choose a later From or an earlier To.` };
  }
  return { since, until };
}

/** "5 of 6": sessions come to, of those the person was expected at or came to. */
export function attendedText(person: RangePerson): string {
  return `${person.attended} of ${person.sessions}`;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const minutesFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** "2 sessions from Nov 2, 2026 to Nov 15, 2026", the days as they were picked. */
export function summaryText(count: number, from: string, to: string): string {
  const day = (text: string): string => {
    const midnight = localMidnightUtc(text);
    return midnight === null ? text : dayFormat.format(new Date(midnight));
  };
  return `${pluralize(count, "session")} from ${day(from)} to ${day(to)}`;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  // h() makes HTML elements only; an inline chart needs the SVG namespace.
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

/** A person's moods as a sparkline, named in words; low moods are diamonds, not just red dots. */
function moodChart(moods: readonly RangeMood[]): Child {
  if (moods.length === 0) return h("span", { class: "note" }, "No check-ins");
  const points = moodPoints(moods, CHART_WIDTH, CHART_HEIGHT, CHART_INSET);
  const chart = svg("svg", {
    class: "mood-chart",
    role: "img",
    "aria-label": moodsLabel(moods),
    viewBox: `0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
  });
  // The band of low moods (2 and under), so a point in it reads as low at a glance.
  const lowTop = moodY(LOW_BAND_TOP, CHART_HEIGHT, CHART_INSET);
  chart.appendChild(svg("rect", { class: "mood-low-zone", x: 0, y: lowTop, width: CHART_WIDTH, height: CHART_HEIGHT - lowTop }));
  if (points.length > 1) {
    chart.appendChild(svg("polyline", { class: "mood-line", points: points.map((p) => `${p.x},${p.y}`).join(" ") }));
  }
  for (const point of points) {
    if (point.low) {
      const r = LOW_MARK_RADIUS;
      chart.appendChild(
        svg("path", {
          class: "mood-point low",
          d: `M${point.x} ${point.y - r}L${point.x + r} ${point.y}L${point.x} ${point.y + r}L${point.x - r} ${point.y}Z`,
        }),
      );
    } else {
      chart.appendChild(svg("circle", { class: "mood-point", cx: point.x, cy: point.y, r: DOT_RADIUS }));
    }
  }
  return chart;
}

function lowMoodsCell(person: RangePerson): Child {
  if (person.low_moods === 0) return "None";
  return h("strong", { class: "attendance-low" }, `${person.low_moods} low`);
}

/** The form and what it shows; the console puts it in a region of its own. */
export function attendanceRangeReport(): { node: HTMLElement; cleanup: () => void } {
  let stopped = false;
  const cohortSelect = h("select", { required: true }, h("option", { value: "" }, "Loading…"));
  const fromInput = h("input", { type: "date" });
  const toInput = h("input", { type: "date" });
  const dates = defaultDates(new Date());
  fromInput.value = dates.from;
  toInput.value = dates.to;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const showButton = h("button", { type: "submit", class: "primary" }, "Show report");
  const { node: csvLink, set: setCsv } = downloadLink("Download CSV");
  const errors = errorBox();
  const summary = statusBox();
  const body = h("div", { class: "attendance-range-body" });
  const form = h(
    "form",
    { class: "form attendance-form attendance-range-form", novalidate: true },
    field("Cohort", cohortSelect),
    field("From", fromInput, zone ? `The first day, in your time zone (${zone}).` : "The first day, in your time zone."),
    field("To", toInput, "The last day, included."),
    errors.node,
    h("div", { class: "row-actions" }, showButton, csvLink),
  );
  const cohortNames = new Map<number, string>();

  const result = (report: RangeReport): Child => {
    if (report.sessions.length === 0) return h("p", { class: "note" }, "No sessions started in this range.");
    if (report.people.length === 0) return h("p", { class: "note" }, "Nobody was expected at these sessions or came to them.");
    return table(
      "Attendance by person table",
      "Attendance by person",
      ["Person", "Attended", "Minutes", "Late arrivals", "Low moods", "Moods"],
      report.people.map((person) => [
        person.user.display_name,
        attendedText(person),
        minutesFormat.format(person.minutes),
        String(person.late),
        lowMoodsCell(person),
        moodChart(person.moods),
      ]),
    );
  };

  const fields: Record<RangeField, HTMLInputElement> = { From: fromInput, To: toInput };
  let load = 0;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const cohortId = Number(cohortSelect.value);
    if (!cohortId) {
      errors.show("Cohort: choose the cohort to report on.");
      cohortSelect.focus();
      return;
    }
    const from = fromInput.value;
    const to = toInput.value;
    const range = utcRange(from, to);
    if ("field" in range) {
      errors.show(range.message);
      fields[range.field].focus();
      return;
    }
    const mine = ++load;
    showButton.disabled = true;
    // What is shown is always the last range asked for: nothing of the one before stays.
    setCsv(null, "");
    replaceChildren(body);
    summary.show("Loading…");
    const path = `/api/attendance?cohort_id=${cohortId}&since=${encodeURIComponent(range.since)}&until=${encodeURIComponent(range.until)}`;
    try {
      const [report, csv] = await Promise.all([
        get<RangeReport>(path),
        request("GET", `${path}&format=csv`).then((response) => response.blob()),
      ]);
      // Leaving the console, or asking again meanwhile: this answer is no longer wanted.
      if (stopped || mine !== load) return;
      const name = cohortNames.get(cohortId) ?? `cohort-${cohortId}`;
      setCsv(URL.createObjectURL(csv), `attendance-${slug(name, "cohort")}-${from}-to-${to}.csv`);
      summary.show(summaryText(report.sessions.length, from, to));
      replaceChildren(body, result(report));
    } catch (err) {
      if (stopped || mine !== load) return;
      summary.clear();
      errors.show(describeAny(err));
    } finally {
      if (mine === load) showButton.disabled = false;
    }
  });

  const loadCohorts = async (): Promise<void> => {
    try {
      const data = await get<{ cohorts: ReportCohort[] }>("/api/cohorts");
      if (stopped) return;
      cohortNames.clear();
      for (const cohort of data.cohorts) cohortNames.set(cohort.id, cohort.name);
      replaceChildren(
        cohortSelect,
        h("option", { value: "" }, data.cohorts.length ? "Choose a cohort…" : "No cohorts"),
        ...data.cohorts.map((cohort) =>
          h("option", { value: String(cohort.id) }, cohort.archived ? `${cohort.name} (archived)` : cohort.name),
        ),
      );
    } catch (err) {
      if (stopped) return;
      replaceChildren(cohortSelect, h("option", { value: "" }, "Cohorts could not be loaded"));
      errors.show(describeAny(err));
    }
  };
  void loadCohorts();

  return {
    node: h("div", { class: "attendance-range" }, form, summary.node, body),
    cleanup: () => {
      stopped = true;
      setCsv(null, "");
    },
  };
}
