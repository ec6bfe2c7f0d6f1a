// The moderator console: open alerts, the report queue, room settings, the audit log and
// meeting attendance.
import { ApiError, get, patch, post, put, request } from "../api";
import { connection } from "../connection";
import { describeAny } from "../errors";
import { fullTime, shortTime } from "../format";
import { h, replaceChildren, uid, type Child } from "../h";
import { alerts, loadRooms, roomName, rooms } from "../state";
import type { Alert, Attendee, AuditEntry, Duty, Meeting, Occurrence, Report, Room } from "../types";
import { button, errorBox, field, heading, loading, statusBox, type View } from "./common";

// How far back the attendance picker looks, and how far ahead.
const ATTENDANCE_PAST_DAYS = 60;
const ATTENDANCE_AHEAD_DAYS = 1;
const AUDIT_LIMIT = 100;

function region(title: string, kind: string, ...content: Child[]): HTMLElement {
  const id = uid("region");
  return h("section", { class: `card console-section console-${kind}`, "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

/** A table in a box that scrolls sideways when the screen is narrower than the table; the box
 * is a named region a keyboard can reach (and scroll with the arrow keys). */
function table(label: string, caption: string, headers: string[], rows: Child[][]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    h(
      "table",
      null,
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, h("tr", null, ...headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", null, ...rows.map((cells) => h("tr", null, ...cells.map((cell) => h("td", null, cell))))),
    ),
  );
}

const ACTION_TEXT: Record<string, string> = {
  mute: "Muted",
  unmute: "Unmuted",
  kick: "Removed from room",
  ban: "Banned",
  unban: "Ban lifted",
  message_deleted: "Message deleted",
  room_locked: "Room locked",
  room_unlocked: "Room unlocked",
  room_slow_mode_s_changed: "Slow mode changed",
  room_topic_changed: "Topic changed",
  room_contact_policy_changed: "Contact policy changed",
  report_dismissed: "Report dismissed",
  report_actioned: "Report actioned",
  alert_acknowledged: "Alert acknowledged",
  filter_crisis: "Crisis language flagged",
  filter_blocked_term: "Blocked term refused",
  filter_contact_masked: "Contact details masked",
  filter_contact_blocked: "Contact details refused",
  account_deactivated: "Account deactivated",
  account_reactivated: "Account reactivated",
  support_opened: "Private conversation opened",
  duty_started: "Went on duty",
  duty_ended: "Went off duty",
};

// What staff did about an alert (the API's `outcome`), asked for when acknowledging.
const OUTCOMES: [string, string][] = [
  ["reached_out", "Reached out to them"],
  ["emergency_services", "Called emergency services"],
  ["not_a_crisis", "Not a crisis"],
  ["other", "Other (say in the note)"],
];
const CATEGORIES: Record<string, string> = {
  suicide: "Suicide",
  self_harm: "Self-harm",
  overdose: "Overdose or poisoning",
  medical: "Medical emergency",
  relapse: "Relapse risk",
};

/** Who the alert reached when it was raised, as its writer was told. */
function reachedText(alert: Alert): string {
  switch (alert.reached) {
    case "on_duty":
      return "Staff on duty were online.";
    case "staff_online":
      return "Staff were online; nobody on duty.";
    case "on_call":
      return `No staff were online: paging the on-call list (${alert.paged ?? 0} paged so far).`;
    case "nobody":
      return "No staff were online and nobody could be paged: the writer was told staff will see it when next here.";
    default:
      return "";
  }
}

/** Crisis alerts before reports; within a kind, the one waiting longest first. */
function alertOrder(a: Alert, b: Alert): number {
  const rank = (alert: Alert): number => (alert.kind === "crisis" ? 0 : 1);
  return rank(a) - rank(b) || (Date.parse(a.created_at) || 0) - (Date.parse(b.created_at) || 0) || a.id - b.id;
}

export function consoleView(): View {
  const cleanups: (() => void)[] = [];
  let stopped = false;

  // ----- alerts -----
  const alertErrors = errorBox();
  const alertList = h("ul", { class: "alert-list", "aria-label": "Open alerts" });
  const alertBody = h("div", null, loading());
  const renderAlerts = (list: Alert[]): void => {
    if (list.length === 0) {
      replaceChildren(alertBody, h("p", { class: "note" }, "No open alerts."));
      return;
    }
    replaceChildren(alertList, ...[...list].sort(alertOrder).map(alertItem));
    replaceChildren(alertBody, alertList);
  };
  const alertItem = (alert: Alert): HTMLElement => {
    const outcome = h(
      "select",
      { required: true },
      h("option", { value: "" }, "Choose…"),
      ...OUTCOMES.map(([value, text]) => h("option", { value }, text)),
    );
    const note = h("input", { type: "text", maxlength: "1000", autocomplete: "off" });
    const ack = button("Acknowledge", { class: "primary" });
    ack.addEventListener("click", async () => {
      alertErrors.clear();
      if (!outcome.value) {
        alertErrors.show("Choose what was done before acknowledging the alert.");
        outcome.focus();
        return;
      }
      ack.disabled = true;
      try {
        await post(`/api/alerts/${alert.id}/ack`, { outcome: outcome.value, note: note.value.trim() });
        alerts.remove(alert.id);
      } catch (err) {
        if (err instanceof ApiError && err.error.code === "conflict") alerts.remove(alert.id);
        else {
          alertErrors.show(describeAny(err));
          ack.disabled = false;
        }
      }
    });
    const talk = button("Talk privately");
    talk.addEventListener("click", async () => {
      talk.disabled = true;
      alertErrors.clear();
      try {
        const opened = await post<{ room: Room }>(`/api/alerts/${alert.id}/support`, {});
        await loadRooms();
        window.location.hash = `#/rooms/${opened.room.id}`;
      } catch (err) {
        alertErrors.show(describeAny(err));
        talk.disabled = false;
      }
    });
    const who = alert.user?.display_name ?? "Someone";
    const where = roomName(alert.room_id);
    return h(
      "li",
      { class: `alert-item ${alert.kind}` },
      h(
        "p",
        { class: "alert-head" },
        h("strong", null, alert.kind === "crisis" ? "Crisis language" : "Reported message"),
        ` from ${who}`,
        where ? ` in ${where}` : "",
        ", ",
        h("time", { datetime: alert.created_at, title: fullTime(alert.created_at) }, shortTime(alert.created_at)),
        (alert.raise_count ?? 1) > 1 ? ` (raised ${alert.raise_count} times)` : "",
      ),
      alert.category
        ? h(
            "p",
            { class: `alert-detection ${alert.severity ?? ""}` },
            h("strong", null, alert.severity === "emergency" ? "Emergency" : "Urgent"),
            `: ${CATEGORIES[alert.category] ?? alert.category}`,
          )
        : null,
      h("blockquote", { class: "quote" }, alert.excerpt),
      alert.reached ? h("p", { class: "note" }, reachedText(alert)) : null,
      h("div", { class: "alert-ack" }, field("What was done", outcome), field("Note", note)),
      h(
        "div",
        { class: "row-actions" },
        ack,
        alert.kind === "crisis" && !alert.support_room_id ? talk : null,
        alert.support_room_id
          ? h("a", { href: `#/rooms/${alert.support_room_id}`, class: "button" }, "Open private conversation")
          : null,
        alert.room_id ? h("a", { href: `#/rooms/${alert.room_id}`, class: "button" }, "Open room") : null,
      ),
    );
  };
  cleanups.push(alerts.subscribe((list) => renderAlerts(list)));

  // ----- on duty -----
  const dutySwitch = h("input", { type: "checkbox" });
  const dutyStatus = statusBox("Staff on duty");
  const showDuty = (duty: Duty): void => {
    dutySwitch.checked = duty.on_duty;
    const names = duty.roster.map((entry) => `${entry.user?.display_name ?? "Someone"}${entry.online ? "" : " (offline)"}`);
    dutyStatus.show(names.length ? `On duty: ${names.join(", ")}.` : "Nobody is on duty: crisis alerts go to whoever is online, else the on-call list.");
  };
  const loadDuty = async (): Promise<void> => {
    try {
      const data = await get<{ duty: Duty }>("/api/duty");
      if (!stopped) showDuty(data.duty);
    } catch (err) {
      if (!stopped) alertErrors.show(describeAny(err));
    }
  };
  dutySwitch.addEventListener("change", async () => {
    dutySwitch.disabled = true;
    try {
      const data = await put<{ duty: Duty }>("/api/duty", { on_duty: dutySwitch.checked });
      if (!stopped) showDuty(data.duty);
    } catch (err) {
      dutySwitch.checked = !dutySwitch.checked;
      alertErrors.show(describeAny(err));
    } finally {
      dutySwitch.disabled = false;
    }
  });
  const dutyRow = h("div", { class: "duty" }, h("label", null, dutySwitch, " I am on duty"), dutyStatus.node);
  const loadAlerts = async (): Promise<void> => {
    try {
      const since = alerts.mark();
      const data = await get<{ alerts: Alert[] }>("/api/alerts?status=open");
      if (stopped) return;
      alerts.replaceAll(data.alerts, since);
      alertErrors.clear();
    } catch (err) {
      if (!stopped) alertErrors.show(describeAny(err));
    }
  };

  // ----- reports -----
  const reportErrors = errorBox();
  const reportBody = h("div", null, loading());
  const loadReports = async (): Promise<void> => {
    try {
      const data = await get<{ reports: Report[] }>("/api/reports?status=open");
      if (stopped) return;
      reportErrors.clear();
      if (data.reports.length === 0) {
        replaceChildren(reportBody, h("p", { class: "note" }, "No open reports."));
        return;
      }
      replaceChildren(reportBody, h("ul", { class: "report-list", "aria-label": "Open reports" }, ...data.reports.map(reportItem)));
    } catch (err) {
      if (!stopped) reportErrors.show(describeAny(err));
    }
  };
  const reportItem = (report: Report): HTMLElement => {
    const dismiss = button("Dismiss");
    const actioned = button("Action taken", { class: "primary" });
    const resolve = async (resolution: "dismissed" | "actioned"): Promise<void> => {
      dismiss.disabled = true;
      actioned.disabled = true;
      reportErrors.clear();
      try {
        await post(`/api/reports/${report.id}/resolve`, { resolution });
        await loadReports();
      } catch (err) {
        reportErrors.show(describeAny(err));
        dismiss.disabled = false;
        actioned.disabled = false;
        if (err instanceof ApiError && err.error.code === "conflict") await loadReports();
      }
    };
    dismiss.addEventListener("click", () => void resolve("dismissed"));
    actioned.addEventListener("click", () => void resolve("actioned"));
    const message = report.message;
    const where = roomName(report.room_id);
    return h(
      "li",
      { class: "report-item" },
      h(
        "p",
        { class: "alert-head" },
        h("strong", null, `${report.reporter?.display_name ?? "Someone"} reported ${report.author?.display_name ?? "a member"}`),
        where ? ` in ${where}` : "",
        ", ",
        h("time", { datetime: report.created_at, title: fullTime(report.created_at) }, shortTime(report.created_at)),
      ),
      h("blockquote", { class: "quote" }, message ? (message.deleted ? "Message deleted" : message.body) : "Message not available"),
      h("p", null, h("span", { class: "label" }, "Reason: "), report.reason),
      h(
        "div",
        { class: "row-actions" },
        dismiss,
        actioned,
        h("a", { href: `#/rooms/${report.room_id}`, class: "button" }, "Open room"),
      ),
    );
  };

  // ----- room settings -----
  const roomSelect = h("select", null);
  const locked = h("input", { type: "checkbox" });
  const lockedId = uid("locked");
  locked.id = lockedId;
  const slow = h("input", { type: "number", min: "0", max: "3600", step: "1", inputmode: "numeric" });
  const topic = h("input", { type: "text", maxlength: "500" });
  const saveRoom = h("button", { type: "submit", class: "primary" }, "Save room settings");
  const roomErrors = errorBox();
  const roomSaved = statusBox();
  const fillRoom = (): void => {
    const room = rooms.get(Number(roomSelect.value));
    locked.checked = Boolean(room?.locked);
    slow.value = String(room?.slow_mode_s ?? 0);
    topic.value = room?.topic ?? "";
    roomSaved.clear();
    roomErrors.clear();
  };
  roomSelect.addEventListener("change", fillRoom);
  const roomForm = h(
    "form",
    { class: "form", novalidate: true },
    field("Room", roomSelect),
    h("div", { class: "field check" }, locked, h("label", { for: lockedId }, "Locked")),
    field("Slow mode (seconds)", slow, "0 turns slow mode off. Moderators are never slowed."),
    field("Topic", topic),
    roomErrors.node,
    roomSaved.node,
    saveRoom,
  );
  roomForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    roomErrors.clear();
    roomSaved.clear();
    const id = Number(roomSelect.value);
    const seconds = Number(slow.value || "0");
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) {
      roomErrors.show("Slow mode (seconds): a whole number from 0 to 3600.");
      slow.focus();
      return;
    }
    saveRoom.disabled = true;
    try {
      const data = await patch<{ room: Room }>(`/api/rooms/${id}`, {
        locked: locked.checked,
        slow_mode_s: seconds,
        topic: topic.value.trim(),
      });
      rooms.set(data.room.id, { ...rooms.get(data.room.id), ...data.room });
      roomSaved.show(`Saved ${data.room.name}.`);
    } catch (err) {
      roomErrors.show(describeAny(err));
    } finally {
      saveRoom.disabled = false;
    }
  });
  const loadRoomSettings = async (): Promise<void> => {
    try {
      const list = await loadRooms();
      if (stopped) return;
      const keep = roomSelect.value;
      replaceChildren(roomSelect, ...list.map((room) => h("option", { value: String(room.id) }, room.name)));
      if (keep && rooms.has(Number(keep))) roomSelect.value = keep;
      fillRoom();
    } catch (err) {
      if (!stopped) roomErrors.show(describeAny(err));
    }
  };
  cleanups.push(
    connection.on("room_updated", (room: Room) => {
      rooms.set(room.id, { ...rooms.get(room.id), ...room });
      if (Number(roomSelect.value) === room.id && !roomForm.contains(document.activeElement)) fillRoom();
    }),
  );

  // ----- audit log -----
  const auditErrors = errorBox();
  const auditBody = h("div", null, loading());
  const refreshAudit = button("Refresh audit log");
  const loadAudit = async (): Promise<void> => {
    try {
      const data = await get<{ entries: AuditEntry[] }>(`/api/audit?limit=${AUDIT_LIMIT}`);
      if (stopped) return;
      auditErrors.clear();
      if (data.entries.length === 0) {
        replaceChildren(auditBody, h("p", { class: "note" }, "Nothing in the audit log yet."));
        return;
      }
      replaceChildren(
        auditBody,
        table(
          "Audit log table",
          `Audit log, the latest ${AUDIT_LIMIT} entries`,
          ["When", "Action", "By", "Member", "Room", "Reason"],
          data.entries.map((entry) => [
            h("time", { datetime: entry.created_at }, fullTime(entry.created_at)),
            ACTION_TEXT[entry.action] ?? entry.action.replace(/_/g, " "),
            entry.actor?.display_name ?? "Automatic filter",
            entry.target_user?.display_name ?? "",
            roomName(entry.room_id) ?? (entry.room_id ? `Room ${entry.room_id}` : ""),
            entry.reason,
          ]),
        ),
      );
    } catch (err) {
      if (!stopped) auditErrors.show(describeAny(err));
    }
  };
  refreshAudit.addEventListener("click", () => void loadAudit());

  // ----- attendance -----
  const meetingSelect = h("select", null);
  const occurrenceSelect = h("select", null);
  const show = h("button", { type: "submit", class: "primary" }, "Show attendance");
  const attendanceErrors = errorBox();
  const attendanceBody = h("div");
  const csvLink = h("a", { role: "link", "aria-disabled": "true", class: "button disabled" }, "Download CSV");
  let csvUrl: string | null = null;
  const meetings = new Map<number, Meeting>();
  const setCsv = (url: string | null, filename: string): void => {
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = url;
    if (url) {
      csvLink.href = url;
      csvLink.download = filename;
      csvLink.removeAttribute("aria-disabled");
      csvLink.removeAttribute("role");
      csvLink.className = "button";
    } else {
      csvLink.removeAttribute("href");
      csvLink.removeAttribute("download");
      csvLink.setAttribute("role", "link");
      csvLink.setAttribute("aria-disabled", "true");
      csvLink.className = "button disabled";
    }
  };
  cleanups.push(() => setCsv(null, ""));
  const attendanceForm = h(
    "form",
    { class: "form attendance-form", novalidate: true },
    field("Meeting", meetingSelect),
    field("Occurrence", occurrenceSelect),
    attendanceErrors.node,
    h("div", { class: "row-actions" }, show, csvLink),
  );
  let occurrenceLoad = 0;
  const loadOccurrences = async (): Promise<void> => {
    const id = Number(meetingSelect.value);
    const load = ++occurrenceLoad;
    replaceChildren(occurrenceSelect, h("option", { value: "" }, "Loading…"));
    setCsv(null, "");
    replaceChildren(attendanceBody);
    attendanceErrors.clear();
    if (!id) return;
    let list: Occurrence[];
    try {
      list = (
        await get<{ occurrences: Occurrence[] }>(
          `/api/meetings/${id}/occurrences?past_days=${ATTENDANCE_PAST_DAYS}&days=${ATTENDANCE_AHEAD_DAYS}`,
        )
      ).occurrences;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        if (load === occurrenceLoad) attendanceErrors.show(describeAny(err));
        return;
      }
      // A server without the occurrences endpoint: what is live or upcoming at least.
      const upcoming = await get<{ occurrences: Occurrence[] }>("/api/meetings/upcoming?days=7").catch(() => ({ occurrences: [] }));
      list = upcoming.occurrences.filter((occ) => occ.meeting_id === id);
    }
    // Another meeting was chosen meanwhile: its list wins.
    if (stopped || load !== occurrenceLoad) return;
    // Most recent first: the session that just ended (or is on) is the one staff want.
    const started = list
      .filter((occ) => Date.parse(occ.starts_at) <= Date.now() && occ.status !== "cancelled")
      .sort((a, b) => Date.parse(b.starts_at) - Date.parse(a.starts_at));
    if (started.length === 0) {
      replaceChildren(occurrenceSelect, h("option", { value: "" }, "No sessions yet"));
      return;
    }
    replaceChildren(
      occurrenceSelect,
      ...started.map((occ) =>
        h("option", { value: occ.starts_at }, `${fullTime(occ.starts_at)} (${occ.status === "live" ? "live now" : occ.status})`),
      ),
    );
  };
  meetingSelect.addEventListener("change", () => void loadOccurrences());
  occurrenceSelect.addEventListener("change", () => {
    setCsv(null, "");
    replaceChildren(attendanceBody);
  });
  attendanceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    attendanceErrors.clear();
    const id = Number(meetingSelect.value);
    const occurrence = occurrenceSelect.value;
    if (!id || !occurrence) {
      attendanceErrors.show("Occurrence: choose a session that has started.");
      return;
    }
    show.disabled = true;
    const path = `/api/meetings/${id}/attendance?occurrence=${encodeURIComponent(occurrence)}`;
    try {
      const [data, csv] = await Promise.all([
        get<{ attendees: Attendee[] }>(path),
        request("GET", `${path}&format=csv`).then((response) => response.blob()),
      ]);
      if (stopped) return;
      const title = meetings.get(id)?.title ?? "meeting";
      setCsv(URL.createObjectURL(csv), `attendance-${slug(title)}-${occurrence.slice(0, 10)}.csv`);
      replaceChildren(
        attendanceBody,
        data.attendees.length === 0
          ? h("p", { class: "note" }, "Nobody is listed for this session.")
          : table(
              "Attendance table",
              "Attendance",
              ["Member", "Minutes present", "Late (minutes)", "First joined", "Last left", "Mood", "Check-in note"],
              data.attendees.map((row) => [
                row.user.display_name,
                String(row.minutes_present),
                row.late_minutes === null ? "Absent" : String(Math.round(row.late_minutes)),
                fullTime(row.first_joined_at),
                fullTime(row.last_left_at),
                row.checkin ? String(row.checkin.mood) : "",
                row.checkin?.note ?? "",
              ]),
            ),
      );
    } catch (err) {
      attendanceErrors.show(describeAny(err));
    } finally {
      show.disabled = false;
    }
  });
  const loadMeetings = async (): Promise<void> => {
    try {
      const data = await get<{ meetings: Meeting[] }>("/api/meetings");
      if (stopped) return;
      meetings.clear();
      for (const meeting of data.meetings) meetings.set(meeting.id, meeting);
      if (data.meetings.length === 0) {
        replaceChildren(meetingSelect, h("option", { value: "" }, "No meetings"));
        return;
      }
      replaceChildren(meetingSelect, ...data.meetings.map((meeting) => h("option", { value: String(meeting.id) }, meeting.title)));
      await loadOccurrences();
    } catch (err) {
      if (!stopped) attendanceErrors.show(describeAny(err));
    }
  };

  // ----- live -----
  cleanups.push(
    connection.on("alert", (alert: Alert) => {
      if (alert.kind === "report") void loadReports();
    }),
    connection.on("usable", () => {
      void loadAlerts();
      void loadReports();
    }),
  );

  const node = h(
    "div",
    { class: "console" },
    heading("Moderator console"),
    h(
      "div",
      { class: "console-grid" },
      region("Alerts", "alerts", dutyRow, alertErrors.node, alertBody),
      region("Reports", "reports", reportErrors.node, reportBody),
      region("Room settings", "settings", roomForm),
      // Tables get the whole width.
      region("Attendance", "wide", attendanceForm, attendanceBody),
      region("Audit log", "wide", h("div", { class: "row-actions" }, refreshAudit), auditErrors.node, auditBody),
    ),
  );

  renderAlerts(alerts.list());
  // Rooms first: alerts, reports and the audit log name rooms.
  void loadRoomSettings().then(() => {
    void loadAlerts();
    void loadDuty();
    void loadReports();
    void loadAudit();
  });
  void loadMeetings();

  return {
    title: "Moderator console",
    node,
    cleanup: () => {
      stopped = true;
      for (const cleanup of cleanups) cleanup();
    },
  };
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "meeting";
}
