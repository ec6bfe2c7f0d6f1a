// The access log, for admins in the console: which member of staff read alerts, reports, a
// person's page, attendance or an export, and when (GET /api/access-log; docs/privacy.md).
import { get, request } from "../api";
import { describeAny } from "../errors";
import { fullTime } from "../format";
import { h, replaceChildren, type Child } from "../h";
import type { PeoplePage, Person, PublicUser } from "../types";
import { button, downloadLink, errorBox, field, loading, localMidnightUtc, statusBox, table, tableRow } from "./common";

/** One entry of GET /api/access-log. */
export interface AccessLogEntry {
  id: number;
  at: string;
  actor: PublicUser | null;
  kind: string;
  target_type: "user" | "meeting" | "cohort" | null;
  target_id: number | null;
  target_user: PublicUser | null;
  detail: string;
  request_id: string;
}

interface AccessLogPage {
  entries: AccessLogEntry[];
  next_before: number | null;
}

const PAGE = 100;

export const ACCESS_KIND_TEXT: Record<string, string> = {
  alerts: "Alert list",
  reports: "Report queue",
  person: "A person's page",
  attendance: "Attendance",
  export: "Data export",
};

function aboutText(entry: AccessLogEntry): string {
  if (entry.target_user) return entry.target_user.display_name;
  if (entry.target_type === "meeting") return `Meeting ${entry.target_id ?? ""}`;
  if (entry.target_type === "cohort") return `Cohort ${entry.target_id ?? ""}`;
  return "";
}

function cells(entry: AccessLogEntry): Child[] {
  return [
    h("time", { datetime: entry.at }, fullTime(entry.at)),
    entry.actor?.display_name ?? "",
    ACCESS_KIND_TEXT[entry.kind] ?? entry.kind,
    aboutText(entry),
    entry.detail,
  ];
}

/** The access log's part of the console: filters, a table paged back, and its CSV. */
export function accessLogSection(): { node: HTMLElement; cleanup: () => void } {
  const reader = h("select", null, h("option", { value: "" }, "Any member of staff"));
  const kind = h(
    "select",
    null,
    h("option", { value: "" }, "Anything"),
    ...Object.entries(ACCESS_KIND_TEXT).map(([value, text]) => h("option", { value }, text)),
  );
  const from = h("input", { type: "date" });
  const to = h("input", { type: "date" });
  const showButton = h("button", { type: "submit", class: "primary" }, "Show entries");
  const { node: csvLink, set: setCsv } = downloadLink("Download CSV");
  const errors = errorBox();
  const status = statusBox();
  const body = h("div", null, loading());
  const older = button("Older entries");
  older.hidden = true;
  const form = h(
    "form",
    { class: "form audit-filters", novalidate: true },
    field("Read by", reader),
    field("What", kind),
    field("From", from, "The first day, in your time zone."),
    field("To", to, "The last day, included."),
    errors.node,
    h("div", { class: "row-actions" }, showButton, csvLink),
  );
  let stopped = false;
  let query = "";
  let before: number | null = null;
  let rows: HTMLTableSectionElement | null = null;
  let count = 0;

  /** The filters as query parameters, or null (and the reason shown) if the dates are wrong. */
  const readFilters = (): string | null => {
    const since = from.value ? localMidnightUtc(from.value) : "";
    const until = to.value ? localMidnightUtc(to.value, 1) : "";
    if (since === null || until === null || (from.value && to.value && from.value > to.value)) {
      errors.show(since === null ? "From: enter a date, or leave it empty." : "To: enter a date on or after From, or leave it empty.");
      return null;
    }
    const params = new URLSearchParams();
    const chosen: Record<string, string> = { actor_id: reader.value, kind: kind.value, since, until };
    for (const [name, value] of Object.entries(chosen)) if (value) params.set(name, value);
    return params.toString();
  };

  const load = async (olderPage = false): Promise<void> => {
    const page = olderPage && before !== null ? `&before=${before}` : "";
    older.disabled = true;
    try {
      const data = await get<AccessLogPage>(`/api/access-log?limit=${PAGE}${query ? `&${query}` : ""}${page}`);
      if (stopped) return;
      before = data.next_before;
      if (olderPage && rows) {
        for (const entry of data.entries) rows.appendChild(tableRow(cells(entry)));
        count += data.entries.length;
      } else if (data.entries.length === 0) {
        rows = null;
        count = 0;
        replaceChildren(body, h("p", { class: "note" }, query ? "No reads match these filters." : "No reads recorded yet."));
      } else {
        const wrap = table("Access log table", "Access log, newest first", ["When", "Read by", "What", "About", "Details"], data.entries.map(cells));
        rows = wrap.querySelector("tbody");
        count = data.entries.length;
        replaceChildren(body, wrap);
      }
      older.hidden = before === null;
      status.show(count === 0 ? "" : `Showing ${count} ${count === 1 ? "entry" : "entries"}${before === null ? "." : "; older entries follow."}`);
      if (!olderPage) await loadCsv();
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    } finally {
      older.disabled = false;
    }
  };

  /** The CSV needs the sign-in (a header, not a cookie): fetched, then offered as a file. */
  const loadCsv = async (): Promise<void> => {
    setCsv(null, "");
    const response = await request("GET", `/api/access-log?format=csv${query ? `&${query}` : ""}`);
    const blob = await response.blob();
    if (stopped) return;
    setCsv(URL.createObjectURL(blob), `peerrooms-access-log-${new Date().toISOString().slice(0, 10)}.csv`);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clear();
    const filters = readFilters();
    if (filters === null) return;
    query = filters;
    void load();
  });
  older.addEventListener("click", () => void load(true));

  const loadStaff = async (): Promise<void> => {
    try {
      const pages = await Promise.all(
        ["moderator", "admin"].map((role) => get<PeoplePage>(`/api/users?role=${role}&limit=200`)),
      );
      if (stopped) return;
      const staff: Person[] = pages.flatMap((page) => page.users).sort((a, b) => a.display_name.localeCompare(b.display_name));
      replaceChildren(
        reader,
        h("option", { value: "" }, "Any member of staff"),
        ...staff.map((person) => h("option", { value: String(person.id) }, `${person.display_name} (${person.role})`)),
      );
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  };
  void loadStaff();
  void load();

  const node = h(
    "div",
    { class: "access-log" },
    h(
      "p",
      { class: "note" },
      "Each time a moderator or admin opens the alert list, the report queue, a person's page, attendance or a data export, it is recorded here. Alerts arriving live are not.",
    ),
    form,
    status.node,
    body,
    h("div", { class: "row-actions audit-more" }, older),
  );
  return {
    node,
    cleanup: () => {
      stopped = true;
      setCsv(null, "");
    },
  };
}
