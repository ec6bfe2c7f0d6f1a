// Upcoming meetings in the browser's local time: join (the meeting page, views/meeting-room.ts),
// video link, check in (views/checkin.ts), calendar feed.
import { get } from "../api";
import { connection } from "../connection";
import { describeAny } from "../errors";
import { meetingWhen, movedFrom } from "../format";
import { h, replaceChildren, uid } from "../h";
import type { Notice, Occurrence } from "../types";
import { cancelSessionButton, moveSessionButton, staffSeries } from "../meetings-admin";
import { isStaff } from "../session";
import { checkInForm } from "./checkin";
import { errorBox, heading, loading, type View } from "./common";

const DAYS = 14;
// Statuses change on the clock; refresh this often while the list is on screen.
const REFRESH_MS = 30_000;

const STATUS_TEXT: Record<Occurrence["status"], string> = {
  scheduled: "Status: scheduled",
  lobby: "Status: lobby open, the meeting starts soon",
  live: "Status: live now",
  ended: "Status: ended",
  cancelled: "Status: cancelled",
};

/** Only web addresses become links: never javascript: or data: from a series' video_url. */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function meetingsView(): View {
  const errors = errorBox();
  const body = h("div", null, loading());
  const calendar = h("div", { class: "calendar card" });
  const forms = new Map<string, HTMLElement>();
  let stopped = false;
  // Staff only: schedule and edit series, cancel sessions (web/src/meetings-admin.ts).
  const staff = isStaff();
  const admin = staff ? staffSeries(() => void refresh()) : null;

  // One form per session, kept across refreshes so what is typed in it stays.
  const checkIn = (occ: Occurrence): HTMLElement => {
    const key = `${occ.meeting_id}@${occ.starts_at}`;
    const existing = forms.get(key);
    if (existing) return existing;
    const form = checkInForm(occ);
    forms.set(key, form);
    return form;
  };

  const item = (occ: Occurrence): HTMLElement => {
    const when = meetingWhen(occ.starts_at, occ.ends_at);
    const open = occ.status === "lobby" || occ.status === "live";
    const join = open
      ? h("a", { href: `#/meetings/${occ.meeting_id}`, class: "button primary" }, "Join")
      : h("a", { role: "link", "aria-disabled": "true", class: "button disabled" }, "Join");
    const video = safeHttpUrl(occ.video_url);
    const titleId = uid("meeting");
    return h(
      "li",
      { class: `meeting status-${occ.status}`, "aria-labelledby": titleId },
      h("h2", { id: titleId, class: "meeting-title" }, occ.title),
      h("p", { class: "meeting-when" }, h("time", { datetime: occ.starts_at }, `${when.date}, ${when.time}`)),
      h("p", { class: `meeting-status ${occ.status}` }, STATUS_TEXT[occ.status] ?? `Status: ${occ.status}`),
      occ.moved_from ? h("p", { class: "meeting-moved" }, `Moved from ${movedFrom(occ.moved_from)}.`) : null,
      h(
        "div",
        { class: "meeting-actions" },
        join,
        video ? h("a", { href: video, target: "_blank", rel: "noopener noreferrer", class: "button" }, "Video link") : null,
        staff && occ.status === "scheduled"
          ? moveSessionButton(occ, `${when.date}, ${when.time}`, () => void refresh())
          : null,
        staff && (occ.status === "scheduled" || occ.status === "lobby")
          ? cancelSessionButton(occ, `${when.date}, ${when.time}`, () => void refresh())
          : null,
      ),
      open ? null : h("p", { class: "hint" }, "Join opens with the lobby, shortly before the start."),
      occ.status === "live" ? checkIn(occ) : null,
    );
  };

  const refresh = async (): Promise<void> => {
    try {
      const data = await get<{ occurrences: Occurrence[] }>(`/api/meetings/upcoming?days=${DAYS}`);
      if (stopped) return;
      errors.clear();
      if (data.occurrences.length === 0) {
        replaceChildren(body, h("p", { class: "note" }, `No meetings in the next ${DAYS} days.`));
        return;
      }
      const hadFocus = body.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
      const list = h("ul", { class: "meeting-list", "aria-label": "Upcoming meetings" }, ...data.occurrences.map(item));
      replaceChildren(body, list);
      if (hadFocus && hadFocus.isConnected) hadFocus.focus();
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  };

  const loadCalendar = async (): Promise<void> => {
    try {
      const data = await get<{ token: string }>("/api/me/calendar-token");
      if (stopped) return;
      const path = `/api/calendar.ics?token=${encodeURIComponent(data.token)}`;
      const https = `${window.location.origin}${path}`;
      const webcal = https.replace(/^https?:/, "webcal:");
      replaceChildren(
        calendar,
        h("h2", null, "Your calendar"),
        h("p", null, "Put your meetings in your phone or computer calendar. It stays up to date, in your own time zone."),
        h(
          "p",
          { class: "meeting-actions" },
          h("a", { href: https, class: "button" }, "Add to calendar"),
          h("a", { href: webcal, class: "button" }, "Subscribe in a calendar app"),
        ),
        h("p", { class: "hint" }, "These links are private to you: anyone who has them can see your meeting times."),
      );
    } catch (err) {
      if (!stopped) replaceChildren(calendar, h("p", { role: "alert", class: "error" }, describeAny(err)));
    }
  };

  void refresh();
  void admin?.refresh();
  void loadCalendar();
  const timer = window.setInterval(() => {
    if (document.visibilityState === "visible") void refresh();
  }, REFRESH_MS);
  const offNotice = connection.on("notice", (notice: Notice) => {
    if (!notice.kind.startsWith("meeting_")) return;
    void refresh();
    void admin?.refresh();
  });

  const node = h(
    "div",
    { class: "meetings" },
    heading("Meetings"),
    h("p", { class: "lede" }, `Your group's sessions in the next ${DAYS} days, in your local time.`),
    errors.node,
    body,
    admin?.node,
    calendar,
  );
  return {
    title: "Meetings",
    node,
    cleanup: () => {
      stopped = true;
      window.clearInterval(timer);
      offNotice();
    },
  };
}
