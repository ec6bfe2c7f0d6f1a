// The moderator console: one queue of what needs attention (crisis alerts, then reports, each
// report with its alert as one item), the mutes and bans in force, room settings, meeting
// attendance and the audit log (filtered, paged back, downloadable as CSV).
import "../console.css";
import { ApiError, del, get, patch, post, put, request } from "../api";
import { connection } from "../connection";
import type { AuditFilters, AuditPage, RoomRestriction } from "../console-types";
import { describeAny } from "../errors";
import { fullTime, shortTime, untilPhrase } from "../format";
import { h, replaceChildren, uid, type Child } from "../h";
import { desktopAlertsState, turnOnDesktopAlerts, type DesktopAlertsState } from "../notices";
import { alerts, loadRooms, roomName, rooms } from "../state";
import type { Alert, Attendee, AuditEntry, Duty, Meeting, Occurrence, PeoplePage, Person, Report, Room } from "../types";
import { currentUser } from "../session";
import { accessLogSection } from "./access-log";
import { attendanceRangeReport } from "./attendance-range";
import { HISTORY_HINT, HISTORY_LABEL, HISTORY_TEXT, HISTORY_VISIBILITIES, historyVisibilityOf } from "./history-visibility";
import {
  button,
  downloadLink,
  errorBox,
  field,
  heading,
  loading,
  localMidnightUtc,
  slug,
  statusBox,
  table,
  tableRow,
  type View,
} from "./common";
import { openModerateDialog } from "./moderate";

// How far back the attendance picker looks, and how far ahead.
const ATTENDANCE_PAST_DAYS = 60;
const ATTENDANCE_AHEAD_DAYS = 1;
const AUDIT_LIMIT = 100;
// The person filter lists everyone, a page of this many at a time (the API's most).
const PEOPLE_PAGE = 200;
const PEOPLE_PAGES_AT_MOST = 25;

function region(title: string, kind: string, ...content: Child[]): HTMLElement {
  const id = uid("region");
  return h("section", { class: `card console-section console-${kind}`, "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

/** A part of a region, under an h3 that takes focus when what was focused inside is gone. */
function part(title: string, kind: string, ...content: Child[]): { node: HTMLElement; title: HTMLHeadingElement } {
  const id = uid("part");
  const titleNode = h("h3", { id, tabindex: "-1" }, title);
  return {
    node: h("section", { class: `console-part console-${kind}`, "aria-labelledby": id }, titleNode, ...content),
    title: titleNode,
  };
}

/** Make `parent`'s children exactly `nodes`, in order, moving only what is out of place (so a
 * control someone is using in an item that stays keeps its focus and what was typed). */
function syncChildren(parent: Element, nodes: Element[]): void {
  nodes.forEach((node, index) => {
    const at = parent.children[index];
    if (at !== node) parent.insertBefore(node, at ?? null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild?.remove();
}

/** Every action the audit log records, in words: exactly the server's AUDIT_ACTIONS
 * (server/kernel/audit.py; tests/test_console_audit.py holds the two together). */
export const ACTION_TEXT: Record<string, string> = {
  mute: "Muted",
  unmute: "Mute lifted",
  kick: "Removed from room",
  ban: "Banned",
  unban: "Ban lifted",
  message_deleted: "Message deleted",
  message_pinned: "Message pinned",
  message_unpinned: "Message unpinned",
  room_created: "Room created",
  room_name_changed: "Room renamed",
  room_kind_changed: "Room kind changed",
  room_audience_changed: "Who a room is for changed",
  room_archived: "Room archived",
  room_unarchived: "Room brought back from the archive",
  room_locked: "Room locked",
  room_unlocked: "Room unlocked",
  room_slow_mode_s_changed: "Slow mode changed",
  room_topic_changed: "Topic changed",
  room_contact_policy_changed: "Contact policy changed",
  room_history_visibility_changed: "Earlier messages members can read changed",
  report_dismissed: "Report dismissed",
  report_actioned: "Report actioned",
  alert_acknowledged: "Alert acknowledged",
  filter_crisis: "Crisis language flagged",
  crisis_disclosure: "Crisis disclosure noted",
  filter_blocked_term: "Blocked term refused",
  filter_contact_masked: "Contact details masked",
  filter_contact_blocked: "Contact details refused",
  cohort_created: "Cohort created",
  cohort_changed: "Cohort renamed or archived",
  person_changed: "Person changed (role, cohort or graduation)",
  password_reset_issued: "Password reset code issued",
  password_reset_used: "Password reset code used",
  kept_sign_in_reused: "Copied sign-in cookie refused; that sign-in ended",
  display_name_changed: "Display name changed (from, to)",
  password_changed: "Password changed; other sign-ins ended",
  invite_created: "Invite created",
  invite_revoked: "Invite revoked",
  account_deactivated: "Account deactivated",
  account_reactivated: "Account reactivated",
  support_opened: "Private conversation opened",
  meeting_scheduled: "Sessions scheduled (a series or one session)",
  meeting_changed: "Session series changed",
  meeting_cancelled: "Session cancelled",
  meeting_moved: "Session moved",
  video_muted: "Microphone muted in a call",
  video_unmuted: "Microphone unmuted in a call",
  video_removed: "Removed from a call",
  video_ended: "Call ended for everyone",
  duty_started: "Went on duty",
  duty_ended: "Went off duty",
  export_requested: "Data export asked for",
  export_downloaded: "Data export downloaded",
  export_failed: "Data export could not be made",
  erasure_requested: "Erasure asked for",
  erasure_approved: "Erasure approved",
  erasure_declined: "Erasure declined",
  erasure_done: "Erased at the member's request",
  retention_run: "Retention run: old records deleted",
  legal_hold_placed: "Legal hold placed",
  legal_hold_lifted: "Legal hold lifted",
};

function actionText(action: string): string {
  return ACTION_TEXT[action] ?? action.replace(/_/g, " ");
}

/** Who did it, when no member of staff did. */
function actorText(entry: AuditEntry): string {
  if (entry.actor) return entry.actor.display_name;
  if (entry.action.startsWith("filter_") || entry.action.startsWith("crisis_")) return "Automatic filter";
  if (entry.action === "password_reset_used") return "The person, with a reset code";
  return "The system";
}

const ROLE_TEXT: Record<string, string> = {
  patient: "patient",
  alumni: "alumni",
  moderator: "moderator",
  admin: "admin",
};

function auditQuery(filters: AuditFilters, extra: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...filters, ...extra })) if (value) params.set(name, value);
  return `/api/audit?${params.toString()}`;
}

function sameFilters(a: AuditFilters, b: AuditFilters): boolean {
  return a.user_id === b.user_id && a.room_id === b.room_id && a.action === b.action && a.since === b.since && a.until === b.until;
}

const NO_FILTERS: AuditFilters = { user_id: "", room_id: "", action: "", since: "", until: "" };

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

/** Whether this browser shows a system notification for each crisis alert. */
const DESKTOP_ALERTS_TEXT: Record<DesktopAlertsState, string> = {
  default: "Desktop alerts are off in this browser.",
  granted: "Desktop alerts are on in this browser: each crisis alert shows a system notification.",
  denied: "Desktop alerts are blocked for peerrooms in this browser's site settings.",
  unsupported: "This browser cannot show desktop alerts.",
};

function byAge(a: { created_at: string; id: number }, b: { created_at: string; id: number }): number {
  return (Date.parse(a.created_at) || 0) - (Date.parse(b.created_at) || 0) || a.id - b.id;
}

/** " (raised 3 times)" when an alert was raised again; empty for the first time. */
function raisedText(times: number | undefined): string {
  return (times ?? 1) > 1 ? ` (raised ${times} times)` : "";
}

/** One report in the queue: the report (once fetched) and its alerts (once they arrived). */
interface QueueReport {
  key: string;
  report: Report | null;
  alerts: Alert[];
}

function queueAge(item: QueueReport): { created_at: string; id: number } {
  return item.report ?? item.alerts[0] ?? { created_at: "", id: 0 };
}

export function consoleView(): View {
  const cleanups: (() => void)[] = [];
  let stopped = false;

  // ----- the queue: crisis alerts, then reports -----
  const alertErrors = errorBox();

  // Crisis alerts, each item kept while its alert is open so a half-written note survives
  // the list changing around it.
  const crisisList = h("ul", { class: "alert-list", "aria-label": "Open crisis alerts" });
  const crisisBody = h("div", null, loading());
  const crisisPart = part("Crisis language", "crisis", crisisBody);
  interface CrisisItem {
    sig: string;
    node: HTMLElement;
    outcome: HTMLSelectElement;
    note: HTMLInputElement;
    /** What changes while it waits (raised again, more paged), changed in place. */
    update(alert: Alert): void;
  }
  const crisisItems = new Map<number, CrisisItem>();
  const crisisItem = (alert: Alert): HTMLElement => {
    const sig = JSON.stringify([alert.support_room_id, alert.excerpt, alert.category, alert.severity, alert.room_id]);
    const kept = crisisItems.get(alert.id);
    if (kept && kept.sig === sig) {
      kept.update(alert);
      return kept.node;
    }
    const outcome =
      kept?.outcome ??
      h(
        "select",
        { required: true },
        h("option", { value: "" }, "Choose…"),
        ...OUTCOMES.map(([value, text]) => h("option", { value }, text)),
      );
    const note = kept?.note ?? h("input", { type: "text", maxlength: "1000", autocomplete: "off" });
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
        crisisPart.title.focus();
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
    const raised = h("span", null, raisedText(alert.raise_count));
    const reached = h("p", { class: "note", hidden: !alert.reached }, reachedText(alert));
    const update = (fresh: Alert): void => {
      raised.textContent = raisedText(fresh.raise_count);
      reached.textContent = reachedText(fresh);
      reached.hidden = !fresh.reached;
    };
    const node = h(
      "li",
      { class: "alert-item crisis" },
      h(
        "p",
        { class: "alert-head" },
        h("strong", null, "Crisis language"),
        ` from ${who}`,
        where ? ` in ${where}` : "",
        ", ",
        h("time", { datetime: alert.created_at, title: fullTime(alert.created_at) }, shortTime(alert.created_at)),
        raised,
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
      reached,
      h("div", { class: "alert-ack" }, field("What was done", outcome), field("Note", note)),
      h(
        "div",
        { class: "row-actions" },
        ack,
        !alert.support_room_id ? talk : null,
        alert.support_room_id
          ? h("a", { href: `#/rooms/${alert.support_room_id}`, class: "button" }, "Open private conversation")
          : null,
        alert.room_id ? h("a", { href: `#/rooms/${alert.room_id}`, class: "button" }, "Open room") : null,
      ),
    );
    crisisItems.set(alert.id, { sig, node, outcome, note, update });
    return node;
  };
  const renderCrisis = (list: Alert[]): void => {
    const open = list.filter((alert) => alert.kind !== "report").sort(byAge);
    const ids = new Set(open.map((alert) => alert.id));
    for (const id of [...crisisItems.keys()]) if (!ids.has(id)) crisisItems.delete(id);
    if (open.length === 0) {
      replaceChildren(crisisBody, h("p", { class: "note" }, "No open crisis alerts."));
      return;
    }
    const nodes = open.map(crisisItem);
    if (crisisList.parentElement !== crisisBody) replaceChildren(crisisBody, crisisList);
    syncChildren(crisisList, nodes);
  };

  // Reports: each open report with its alert, as one item closed one way (its alert is
  // acknowledged with it on the server).
  const reportErrors = errorBox();
  const reportStatus = statusBox();
  const reportList = h("ul", { class: "report-list", "aria-label": "Open reports" });
  const reportBody = h("div", null, loading());
  const reportPart = part("Reports", "reports", reportErrors.node, reportStatus.node, reportBody);
  let openReports: Report[] = [];
  let reportsLoaded = false;
  const reportItems = new Map<string, { sig: string; node: HTMLElement; comment: HTMLInputElement; raised: HTMLElement }>();
  const queueReports = (list: Alert[]): QueueReport[] => {
    const items = new Map<string, QueueReport>();
    for (const report of openReports) items.set(`report-${report.id}`, { key: `report-${report.id}`, report, alerts: [] });
    for (const alert of list) {
      if (alert.kind !== "report") continue;
      const key = alert.report_id != null ? `report-${alert.report_id}` : `alert-${alert.id}`;
      const item = items.get(key);
      if (item) item.alerts.push(alert);
      else items.set(key, { key, report: null, alerts: [alert] });
    }
    return [...items.values()].sort((a, b) => byAge(queueAge(a), queueAge(b)));
  };
  const closeReport = async (item: QueueReport, resolution: "dismissed" | "actioned", note: string): Promise<void> => {
    const reportId = item.report?.id ?? item.alerts.find((alert) => alert.report_id != null)?.report_id ?? null;
    try {
      if (reportId !== null) await post(`/api/reports/${reportId}/resolve`, { resolution, note });
      else {
        // An alert that names no report: acknowledging it is all there is.
        for (const alert of item.alerts) {
          await post(`/api/alerts/${alert.id}/ack`, { outcome: resolution === "dismissed" ? "not_a_crisis" : "other", note });
        }
      }
    } catch (err) {
      // Closed meanwhile (by someone else): it goes from the queue all the same.
      if (!(err instanceof ApiError && err.error.code === "conflict")) throw err;
    }
    openReports = openReports.filter((report) => report.id !== reportId);
    for (const alert of item.alerts) alerts.remove(alert.id);
    renderReports(alerts.list());
  };
  const reportItem = (item: QueueReport): HTMLElement => {
    const { report } = item;
    const alert = item.alerts[0] ?? null;
    const times = Math.max(1, ...item.alerts.map((a) => a.raise_count ?? 1));
    const sig = JSON.stringify([report?.id ?? null, report?.message?.deleted ?? null, item.alerts.map((a) => a.id)]);
    const kept = reportItems.get(item.key);
    if (kept && kept.sig === sig) {
      kept.raised.textContent = raisedText(times);
      return kept.node;
    }
    const raised = h("span", null, raisedText(times));
    const comment = kept?.comment ?? h("input", { type: "text", maxlength: "1000", autocomplete: "off" });
    const author = report?.author ?? alert?.user ?? null;
    const roomId = report?.room_id ?? alert?.room_id ?? null;
    const created = report?.created_at ?? alert?.created_at ?? "";
    const headId = uid("report-head");
    const dismiss = button("Dismiss", { "aria-describedby": headId });
    const actioned = button("Action taken", { class: "primary", "aria-describedby": headId });
    const resolve = async (resolution: "dismissed" | "actioned"): Promise<void> => {
      dismiss.disabled = true;
      actioned.disabled = true;
      reportErrors.clear();
      reportStatus.clear();
      try {
        await closeReport(item, resolution, comment.value.trim());
        reportStatus.show(
          resolution === "dismissed"
            ? `Report about ${author?.display_name ?? "a member"} dismissed.`
            : `Report about ${author?.display_name ?? "a member"} closed: action taken.`,
        );
        reportPart.title.focus();
        void loadReports();
      } catch (err) {
        reportErrors.show(describeAny(err));
        dismiss.disabled = false;
        actioned.disabled = false;
      }
    };
    dismiss.addEventListener("click", () => void resolve("dismissed"));
    actioned.addEventListener("click", () => void resolve("actioned"));
    const moderate =
      author && roomId !== null && author.role !== "moderator" && author.role !== "admin"
        ? button(`Moderate ${author.display_name}`, { "aria-haspopup": "dialog" })
        : null;
    moderate?.addEventListener("click", () => {
      if (!author || roomId === null) return;
      openModerateDialog(roomId, author, (text) => {
        reportStatus.show(text);
        void loadRestrictions();
      });
    });
    const message = report?.message;
    const quoted = report ? (message ? (message.deleted ? "Message deleted" : message.body) : "Message not available") : (alert?.excerpt ?? "");
    const where = roomName(roomId);
    const node = h(
      "li",
      { class: "report-item" },
      h(
        "p",
        { class: "alert-head", id: headId },
        h("strong", null, "Reported message"),
        ` from ${author?.display_name ?? "a member"}`,
        where ? ` in ${where}` : "",
        created ? [", ", h("time", { datetime: created, title: fullTime(created) }, shortTime(created))] : "",
        raised,
      ),
      h("blockquote", { class: "quote" }, quoted),
      report
        ? h("p", null, h("span", { class: "label" }, `Reported by ${report.reporter?.display_name ?? "someone"}: `), report.reason)
        : h("p", { class: "note" }, "Loading the report…"),
      h("div", { class: "report-close" }, field("Comment for the audit log (optional)", comment)),
      h(
        "div",
        { class: "row-actions" },
        actioned,
        dismiss,
        moderate,
        roomId !== null ? h("a", { href: `#/rooms/${roomId}`, class: "button" }, "Open room") : null,
      ),
    );
    reportItems.set(item.key, { sig, node, comment, raised });
    return node;
  };
  const renderReports = (list: Alert[]): void => {
    const queue = queueReports(list);
    const keys = new Set(queue.map((item) => item.key));
    for (const key of [...reportItems.keys()]) if (!keys.has(key)) reportItems.delete(key);
    if (queue.length === 0) {
      replaceChildren(reportBody, reportsLoaded ? h("p", { class: "note" }, "No open reports.") : loading());
      return;
    }
    const nodes = queue.map(reportItem);
    if (reportList.parentElement !== reportBody) replaceChildren(reportBody, reportList);
    syncChildren(reportList, nodes);
  };
  let reportLoad = 0;
  const loadReports = async (): Promise<void> => {
    const load = ++reportLoad;
    try {
      const data = await get<{ reports: Report[] }>("/api/reports?status=open");
      // A later load (a report raised or closed meanwhile) wins.
      if (stopped || load !== reportLoad) return;
      openReports = data.reports;
      reportsLoaded = true;
      reportErrors.clear();
      renderReports(alerts.list());
    } catch (err) {
      if (!stopped) reportErrors.show(describeAny(err));
    }
  };
  cleanups.push(
    alerts.subscribe((list) => {
      renderCrisis(list);
      renderReports(list);
    }),
  );

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

  // ----- desktop alerts: a system notification per crisis alert, asked for only from here -----
  const desktopButton = button("Turn on desktop alerts");
  const desktopStatus = statusBox("Desktop alerts");
  desktopStatus.node.setAttribute("tabindex", "-1");
  const showDesktopAlerts = (): void => {
    const state = desktopAlertsState();
    desktopButton.hidden = state !== "default";
    desktopStatus.show(DESKTOP_ALERTS_TEXT[state]);
  };
  desktopButton.addEventListener("click", async () => {
    desktopButton.disabled = true;
    await turnOnDesktopAlerts();
    desktopButton.disabled = false;
    if (stopped) return;
    showDesktopAlerts();
    // The button goes once answered; what was decided has the focus.
    if (desktopButton.hidden) desktopStatus.node.focus();
  });
  // Changed in the browser's settings meanwhile: said again on coming back.
  const onVisible = (): void => {
    if (document.visibilityState === "visible") showDesktopAlerts();
  };
  document.addEventListener("visibilitychange", onVisible);
  cleanups.push(() => document.removeEventListener("visibilitychange", onVisible));
  showDesktopAlerts();
  const desktopRow = h(
    "div",
    { class: "duty desktop-alerts" },
    desktopStatus.node,
    desktopButton,
    h("p", { class: "hint" }, "Crisis alerts also sound a short tone once you have clicked or typed anywhere in peerrooms."),
  );
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

  // ----- mutes and bans in force -----
  const restrictionRoom = h("select", null, h("option", { value: "" }, "All rooms"));
  const refreshRestrictions = button("Refresh");
  const restrictionErrors = errorBox();
  const restrictionStatus = statusBox();
  const restrictionBody = h("div", null, loading());
  const restrictionList = h("ul", { class: "console-restrictions-list", "aria-label": "Mutes and bans in force" });
  let restrictionsTitle: HTMLHeadingElement | null = null;
  // Each item kept while its restriction is unchanged: the list is read again whenever any
  // moderator mutes, bans or lifts, and a Lift someone is about to press keeps its focus.
  const restrictionItems = new Map<string, { sig: string; node: HTMLElement }>();
  const restrictionKey = (r: RoomRestriction): string => `${r.kind}-${r.room_id}-${r.user?.id ?? r.id}`;
  const restrictionItem = (restriction: RoomRestriction): HTMLElement => {
    const key = restrictionKey(restriction);
    const sig = JSON.stringify([
      restriction.id,
      restriction.until,
      restriction.reason,
      restriction.user?.display_name,
      restriction.created_by?.display_name,
      roomName(restriction.room_id),
    ]);
    const kept = restrictionItems.get(key);
    if (kept && kept.sig === sig) return kept.node;
    const who = restriction.user?.display_name ?? "Someone";
    const where = roomName(restriction.room_id) ?? `Room ${restriction.room_id}`;
    const muted = restriction.kind === "mute";
    const lift = button("Lift", {
      class: "small",
      "aria-label": muted ? `Lift mute on ${who} in ${where}` : `Lift ban on ${who} from ${where}`,
    });
    lift.addEventListener("click", async () => {
      if (!restriction.user) return;
      lift.disabled = true;
      restrictionErrors.clear();
      restrictionStatus.clear();
      try {
        await del(`/api/rooms/${restriction.room_id}/${muted ? "mutes" : "bans"}/${restriction.user.id}`);
        restrictionStatus.show(muted ? `Mute on ${who} in ${where} lifted.` : `Ban on ${who} from ${where} lifted.`);
      } catch (err) {
        // Over already (it ended, or someone else lifted it): the reload shows it gone.
        if (!(err instanceof ApiError && err.error.code === "not_found")) {
          restrictionErrors.show(describeAny(err));
          lift.disabled = false;
          return;
        }
        restrictionStatus.show(`That ${restriction.kind} had already ended.`);
      }
      await loadRestrictions();
      restrictionsTitle?.focus();
    });
    const by = restriction.created_by?.display_name;
    const node = h(
      "li",
      { class: `restriction ${restriction.kind}` },
      h(
        "div",
        { class: "console-restriction-text" },
        h("p", null, h("strong", null, who), muted ? ` muted in ${where} ` : ` banned from ${where} `, untilPhrase(restriction.until)),
        by || restriction.reason
          ? h("p", { class: "note" }, by ? `By ${by}` : "", by && restriction.reason ? ": " : "", restriction.reason)
          : null,
      ),
      lift,
    );
    restrictionItems.set(key, { sig, node });
    return node;
  };
  let restrictionLoad = 0;
  let stopExpiryTimer = (): void => undefined;
  cleanups.push(() => stopExpiryTimer());
  const loadRestrictions = async (): Promise<void> => {
    const load = ++restrictionLoad;
    const chosen = Number(restrictionRoom.value);
    const roomIds = chosen ? [chosen] : [...rooms.keys()];
    try {
      const found = await Promise.all(
        roomIds.flatMap((roomId) =>
          (["mutes", "bans"] as const).map(async (kind) => {
            try {
              const data = await get<Record<string, RoomRestriction[]>>(`/api/rooms/${roomId}/${kind}`);
              return data[kind] ?? [];
            } catch (err) {
              // A room gone (or closed to staff) since the list was read has nothing to show.
              if (!chosen && err instanceof ApiError && (err.error.code === "not_found" || err.error.code === "forbidden")) return [];
              throw err;
            }
          }),
        ),
      );
      if (stopped || load !== restrictionLoad) return;
      restrictionErrors.clear();
      const now = Date.now();
      const list = found
        .flat()
        .filter((r) => r.until === null || Date.parse(r.until) > now)
        .sort(
          (a, b) =>
            (roomName(a.room_id) ?? "").localeCompare(roomName(b.room_id) ?? "") ||
            a.kind.localeCompare(b.kind) ||
            (a.user?.display_name ?? "").localeCompare(b.user?.display_name ?? ""),
        );
      stopExpiryTimer();
      stopExpiryTimer = whenFirstEnds(list, () => void loadRestrictions());
      const keys = new Set(list.map(restrictionKey));
      for (const key of [...restrictionItems.keys()]) if (!keys.has(key)) restrictionItems.delete(key);
      if (list.length === 0) {
        const where = chosen ? roomName(chosen) : undefined;
        const hadFocus = restrictionBody.contains(document.activeElement);
        replaceChildren(restrictionBody, h("p", { class: "note" }, where ? `No mutes or bans in force in ${where}.` : "No mutes or bans in force."));
        if (hadFocus) restrictionsTitle?.focus();
        return;
      }
      const hadFocus = restrictionList.contains(document.activeElement);
      syncChildren(restrictionList, list.map(restrictionItem));
      if (restrictionList.parentElement !== restrictionBody) replaceChildren(restrictionBody, restrictionList);
      // The item a Lift had focus in is gone (lifted elsewhere): the region's title has it.
      if (hadFocus && !restrictionList.contains(document.activeElement)) restrictionsTitle?.focus();
    } catch (err) {
      if (!stopped && load === restrictionLoad) restrictionErrors.show(describeAny(err));
    }
  };
  restrictionRoom.addEventListener("change", () => {
    restrictionStatus.clear();
    void loadRestrictions();
  });
  refreshRestrictions.addEventListener("click", () => {
    restrictionStatus.clear();
    void loadRestrictions();
  });
  const restrictionFilter = h(
    "div",
    { class: "console-filter-row" },
    field("Room", restrictionRoom),
    h("div", { class: "row-actions" }, refreshRestrictions),
  );

  // ----- room settings -----
  const roomSelect = h("select", null);
  const locked = h("input", { type: "checkbox" });
  const lockedId = uid("locked");
  locked.id = lockedId;
  const slow = h("input", { type: "number", min: "0", max: "3600", step: "1", inputmode: "numeric" });
  const topic = h("input", { type: "text", maxlength: "500" });
  const readable = h(
    "select",
    null,
    ...HISTORY_VISIBILITIES.map((value) => h("option", { value }, HISTORY_TEXT[value])),
  );
  const saveRoom = h("button", { type: "submit", class: "primary" }, "Save room settings");
  const roomErrors = errorBox();
  const roomSaved = statusBox();
  const fillRoom = (): void => {
    const room = rooms.get(Number(roomSelect.value));
    locked.checked = Boolean(room?.locked);
    slow.value = String(room?.slow_mode_s ?? 0);
    topic.value = room?.topic ?? "";
    readable.value = historyVisibilityOf(room);
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
    field(HISTORY_LABEL, readable, HISTORY_HINT),
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
        history_visibility: readable.value,
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
      // The other room pickers: mutes and bans, and the audit log's filter.
      const options = (): HTMLOptionElement[] => list.map((room) => h("option", { value: String(room.id) }, room.name));
      const keepRestriction = restrictionRoom.value;
      replaceChildren(restrictionRoom, h("option", { value: "" }, "All rooms"), ...options());
      choose(restrictionRoom, keepRestriction);
      const keepAudit = auditRoom.value;
      replaceChildren(auditRoom, h("option", { value: "" }, "Any room"), ...options());
      choose(auditRoom, keepAudit);
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
  const auditPerson = h("select", null, h("option", { value: "" }, "Anyone"));
  const auditRoom = h("select", null, h("option", { value: "" }, "Any room"));
  const auditAction = h(
    "select",
    null,
    h("option", { value: "" }, "Any action"),
    ...Object.entries(ACTION_TEXT)
      .sort(([, a], [, b]) => a.localeCompare(b))
      .map(([value, text]) => h("option", { value }, text)),
  );
  const auditFrom = h("input", { type: "date" });
  const auditTo = h("input", { type: "date" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const showAudit = h("button", { type: "submit", class: "primary" }, "Show entries");
  const clearAudit = button("Clear filters");
  const downloadAudit = button("Download CSV");
  const auditErrors = errorBox();
  const auditStatus = statusBox();
  const auditBody = h("div", null, loading());
  const olderAudit = button("Older entries");
  olderAudit.hidden = true;
  const auditForm = h(
    "form",
    { class: "form audit-filters", novalidate: true },
    field("Person", auditPerson, "Who acted, or who it was done to."),
    field("Room", auditRoom),
    field("Action", auditAction),
    field("From", auditFrom, zone ? `The first day, in your time zone (${zone}).` : "The first day, in your time zone."),
    field("To", auditTo, "The last day, included."),
    auditErrors.node,
    h("div", { class: "row-actions" }, showAudit, clearAudit, downloadAudit),
  );
  let shownFilters: AuditFilters = NO_FILTERS;
  let auditBefore: number | null = null;
  let auditRows: HTMLTableSectionElement | null = null;
  let auditCount = 0;
  let auditLoad = 0;

  /** The filters as the form has them, or null (and the reason shown) if the dates are wrong. */
  const readFilters = (): AuditFilters | null => {
    const from = auditFrom.value;
    const to = auditTo.value;
    const since = from ? localMidnightUtc(from) : "";
    const until = to ? localMidnightUtc(to, 1) : "";
    if (since === null) {
      auditErrors.show("From: enter a date, or leave it empty.");
      auditFrom.focus();
      return null;
    }
    if (until === null) {
      auditErrors.show("To: enter a date, or leave it empty.");
      auditTo.focus();
      return null;
    }
    if (from && to && from > to) {
      auditErrors.show("To: the last day cannot come before the first (From).");
      auditTo.focus();
      return null;
    }
    return { user_id: auditPerson.value, room_id: auditRoom.value, action: auditAction.value, since, until };
  };
  const filtered = (filters: AuditFilters): boolean => !sameFilters(filters, NO_FILTERS);
  const auditCaption = (filters: AuditFilters): string => {
    const parts: string[] = [];
    if (filters.user_id) parts.push(`person: ${auditPerson.selectedOptions[0]?.textContent ?? filters.user_id}`);
    if (filters.room_id) parts.push(`room: ${roomName(Number(filters.room_id)) ?? filters.room_id}`);
    if (filters.action) parts.push(`action: ${actionText(filters.action)}`);
    if (auditFrom.value) parts.push(`from ${auditFrom.value}`);
    if (auditTo.value) parts.push(`to ${auditTo.value}`);
    return parts.length ? `Audit log, newest first (${parts.join("; ")})` : "Audit log, newest first";
  };
  const auditCells = (entry: AuditEntry): Child[] => [
    h("time", { datetime: entry.created_at }, fullTime(entry.created_at)),
    actionText(entry.action),
    actorText(entry),
    entry.target_user?.display_name ?? "",
    roomName(entry.room_id) ?? (entry.room_id ? `Room ${entry.room_id}` : ""),
    entry.reason,
  ];
  const showMoreState = (): void => {
    olderAudit.hidden = auditBefore === null;
    auditStatus.show(
      auditCount === 0
        ? ""
        : `Showing ${auditCount} ${auditCount === 1 ? "entry" : "entries"}${auditBefore === null ? "." : "; older entries follow."}`,
    );
  };
  /** The first page for these filters (replacing what is shown), or the next older page. */
  const loadAudit = async (filters: AuditFilters, older = false): Promise<void> => {
    const load = ++auditLoad;
    const extra: Record<string, string> = { limit: String(AUDIT_LIMIT) };
    if (older && auditBefore !== null) extra.before = String(auditBefore);
    olderAudit.disabled = true;
    try {
      const data = await get<AuditPage>(auditQuery(filters, extra));
      if (stopped || load !== auditLoad) return;
      auditErrors.clear();
      shownFilters = filters;
      auditBefore = data.next_before;
      if (older && auditRows) {
        for (const entry of data.entries) auditRows.appendChild(tableRow(auditCells(entry)));
        auditCount += data.entries.length;
      } else if (data.entries.length === 0) {
        auditRows = null;
        auditCount = 0;
        replaceChildren(
          auditBody,
          h("p", { class: "note" }, filtered(filters) ? "No entries match these filters." : "Nothing in the audit log yet."),
        );
      } else {
        const wrap = table(
          "Audit log table",
          auditCaption(filters),
          ["When", "Action", "By", "Member", "Room", "Reason"],
          data.entries.map(auditCells),
        );
        auditRows = wrap.querySelector("tbody");
        auditCount = data.entries.length;
        replaceChildren(auditBody, wrap);
      }
      showMoreState();
    } catch (err) {
      if (!stopped && load === auditLoad) auditErrors.show(describeAny(err));
    } finally {
      olderAudit.disabled = false;
    }
  };
  auditForm.addEventListener("submit", (event) => {
    event.preventDefault();
    auditErrors.clear();
    const filters = readFilters();
    if (filters) void loadAudit(filters);
  });
  clearAudit.addEventListener("click", () => {
    auditErrors.clear();
    auditPerson.value = "";
    auditRoom.value = "";
    auditAction.value = "";
    auditFrom.value = "";
    auditTo.value = "";
    void loadAudit(NO_FILTERS);
  });
  olderAudit.addEventListener("click", async () => {
    await loadAudit(shownFilters, true);
    // The button goes with the last page: the table has the focus then, not the page's top.
    if (olderAudit.hidden) auditBody.querySelector<HTMLElement>(".table-wrap")?.focus();
  });
  // The CSV needs the sign-in (a header, not a cookie): fetched here, then handed over as a file.
  const downloads: string[] = [];
  cleanups.push(() => {
    for (const url of downloads) URL.revokeObjectURL(url);
  });
  downloadAudit.addEventListener("click", async () => {
    auditErrors.clear();
    const filters = readFilters();
    if (!filters) return;
    downloadAudit.disabled = true;
    try {
      const response = await request("GET", auditQuery(filters, { format: "csv" }));
      const blob = await response.blob();
      if (stopped) return;
      const url = URL.createObjectURL(blob);
      downloads.push(url);
      const day = new Date().toISOString().slice(0, 10);
      const link = h("a", { href: url, download: `peerrooms-audit-${day}.csv`, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      auditStatus.show("The CSV file of every matching entry has been downloaded.");
      // What is on screen matches the file.
      if (!sameFilters(filters, shownFilters)) void loadAudit(filters);
    } catch (err) {
      if (!stopped) auditErrors.show(describeAny(err));
    } finally {
      downloadAudit.disabled = false;
    }
  });
  const loadPeople = async (): Promise<void> => {
    const people: Person[] = [];
    let after: number | null = null;
    try {
      for (let page = 0; page < PEOPLE_PAGES_AT_MOST; page++) {
        const data: PeoplePage = await get<PeoplePage>(`/api/users?limit=${PEOPLE_PAGE}${after !== null ? `&after=${after}` : ""}`);
        people.push(...data.users);
        after = data.next_after;
        if (after === null) break;
      }
    } catch (err) {
      if (!stopped) auditErrors.show(describeAny(err));
    }
    if (stopped) return;
    people.sort((a, b) => a.display_name.localeCompare(b.display_name) || a.id - b.id);
    const names = new Map<string, number>();
    for (const person of people) names.set(person.display_name, (names.get(person.display_name) ?? 0) + 1);
    const keep = auditPerson.value;
    replaceChildren(
      auditPerson,
      h("option", { value: "" }, "Anyone"),
      ...people.map((person) => {
        // Two people may share an alias: their role and number tell them apart.
        const twin = (names.get(person.display_name) ?? 0) > 1 ? ` #${person.id}` : "";
        return h("option", { value: String(person.id) }, `${person.display_name} (${ROLE_TEXT[person.role] ?? person.role}${twin})`);
      }),
    );
    choose(auditPerson, keep);
  };

  // ----- attendance -----
  const meetingSelect = h("select", null);
  const occurrenceSelect = h("select", null);
  const show = h("button", { type: "submit", class: "primary" }, "Show attendance");
  const attendanceErrors = errorBox();
  const attendanceBody = h("div");
  const { node: csvLink, set: setCsv } = downloadLink("Download CSV");
  const meetings = new Map<number, Meeting>();
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
              ["Member", "Minutes present", "Of those, in the video call", "Late (minutes)", "First joined", "Last left", "Mood", "Check-in note"],
              data.attendees.map((row) => [
                row.user.display_name,
                String(row.minutes_present),
                String(row.minutes_in_call),
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

  // ----- attendance over a date range -----
  const rangeReport = attendanceRangeReport();
  cleanups.push(rangeReport.cleanup);

  // ----- the access log (admins) -----
  const accessLog = currentUser()?.role === "admin" ? accessLogSection() : null;
  if (accessLog) cleanups.push(accessLog.cleanup);

  // ----- live -----
  cleanups.push(
    // A report raised, or closed elsewhere (its alert acknowledged): the queue reads the
    // reports again.
    connection.on("alert", (alert: Alert) => {
      if (alert.kind === "report") void loadReports();
    }),
    connection.on("alert_acknowledged", (alert: Alert) => {
      if (alert.kind === "report") void loadReports();
    }),
    connection.on("usable", () => {
      void loadAlerts();
      void loadReports();
      // What was muted, banned or lifted while this tab was away.
      void loadRestrictions();
    }),
    // Any moderator's mute, ban or lift, on any server process.
    connection.on("restriction_changed", (change: { room_id: number }) => {
      const chosen = Number(restrictionRoom.value);
      if (!chosen || chosen === change.room_id) void loadRestrictions();
    }),
  );

  const alertsRegion = region("Alerts", "alerts", dutyRow, desktopRow, alertErrors.node, crisisPart.node, reportPart.node);
  const restrictionsRegion = region(
    "Mutes and bans",
    "restrictions",
    restrictionFilter,
    restrictionErrors.node,
    restrictionStatus.node,
    restrictionBody,
  );
  restrictionsTitle = restrictionsRegion.querySelector("h2");
  restrictionsTitle?.setAttribute("tabindex", "-1");
  const node = h(
    "div",
    { class: "console" },
    heading("Moderator console"),
    h(
      "div",
      { class: "console-grid" },
      alertsRegion,
      restrictionsRegion,
      region("Room settings", "settings", roomForm),
      // Tables get the whole width.
      region("Attendance", "wide", attendanceForm, attendanceBody),
      region("Attendance over a date range", "wide", rangeReport.node),
      region("Audit log", "wide", auditForm, auditStatus.node, auditBody, h("div", { class: "row-actions audit-more" }, olderAudit)),
      accessLog ? region("Access log", "wide", accessLog.node) : null,
    ),
  );

  renderCrisis(alerts.list());
  renderReports(alerts.list());
  // Rooms first: alerts, reports, mutes and bans and the audit log name rooms.
  void loadRoomSettings().then(() => {
    void loadAlerts();
    void loadDuty();
    void loadReports();
    void loadRestrictions();
    void loadAudit(NO_FILTERS);
  });
  void loadMeetings();
  void loadPeople();

  return {
    title: "Moderator console",
    node,
    cleanup: () => {
      stopped = true;
      for (const cleanup of cleanups) cleanup();
    },
  };
}

/** A mute or ban that runs out sends nothing: `then` runs a moment after the first of these
 * ends (none: never). Answers what stops the timer. */
export function whenFirstEnds(restrictions: { until: string | null }[], then: () => void): () => void {
  const ends = restrictions.flatMap((r) => (r.until === null ? [] : [Date.parse(r.until)])).filter(Number.isFinite);
  if (ends.length === 0) return () => undefined;
  // setTimeout's longest wait is about 24.8 days; a later end is looked at again then.
  const wait = Math.min(Math.max(Math.min(...ends) - Date.now(), 0) + 1000, 2 ** 31 - 1);
  const timer = setTimeout(then, wait);
  return () => clearTimeout(timer);
}

/** Choose `value` in a select if it is still one of its options, else the first option. */
function choose(select: HTMLSelectElement, value: string): void {
  select.value = [...select.options].some((option) => option.value === value) ? value : (select.options[0]?.value ?? "");
}
