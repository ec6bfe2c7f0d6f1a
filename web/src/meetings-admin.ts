// Staff tools on the Meetings screen: schedule a session series, edit one, cancel or move one
// session.
import "./meetings-admin.css";
import { get, patch, post } from "./api";
import { openDialog } from "./dialog";
import { describeAny } from "./errors";
import { h, replaceChildren, uid } from "./h";
import type { Meeting, Occurrence, Room } from "./types";
import { button, errorBox, field, statusBox } from "./views/common";

export interface Series extends Meeting {
  cancelled?: string[];
}

const DAYS: ReadonlyArray<readonly [string, string]> = [
  ["MO", "Mon"],
  ["TU", "Tue"],
  ["WE", "Wed"],
  ["TH", "Thu"],
  ["FR", "Fri"],
  ["SA", "Sat"],
  ["SU", "Sun"],
];
const DAY_NAMES: Record<string, string> = Object.fromEntries(DAYS);
const ZONES = ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles", "UTC"];
const REASON_MAX = 300;

/** The fields of a series as the form has them. */
export interface Schedule {
  days: string[];
  once: boolean;
  until: string; // YYYY-MM-DD or ""
}

/** The rule the form sends. An end date is a day on the series' own clock (no Z): the
 * server runs the series through the last session of that local day (docs/api, POST
 * /api/meetings), whatever the offset between that zone and UTC. */
export function buildRrule(s: Schedule): string {
  if (s.once) return "FREQ=DAILY;COUNT=1";
  let rule = `FREQ=WEEKLY;BYDAY=${s.days.join(",")}`;
  if (s.until) rule += `;UNTIL=${s.until.replace(/-/g, "")}T235959`;
  return rule;
}

export function parseRrule(rule: string): Schedule {
  const parts = new Map(
    rule.split(";").map((part) => {
      const [key = "", value = ""] = part.split("=");
      return [key.trim().toUpperCase(), value.trim()] as const;
    }),
  );
  const once = parts.get("COUNT") === "1";
  const days = (parts.get("BYDAY") ?? "")
    .split(",")
    .map((d) => d.trim().toUpperCase())
    .filter((d) => d in DAY_NAMES);
  const until = /^(\d{4})(\d{2})(\d{2})/.exec(parts.get("UNTIL") ?? "");
  return { days, once, until: until ? `${until[1]}-${until[2]}-${until[3]}` : "" };
}

export function describeRrule(rule: string): string {
  const s = parseRrule(rule);
  if (s.once) return "One session";
  if (s.days.length === 0) return rule;
  const days = s.days.map((d) => DAY_NAMES[d]).join(", ");
  return `Weekly on ${days}${s.until ? `, until ${s.until}` : ""}`;
}

function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Staff's "Series" section: the list of series with "Edit series", and the form. */
export function staffSeries(onChange: () => void): { node: HTMLElement; refresh(): Promise<void> } {
  const errors = errorBox();
  const list = h("div", null);
  const formArea = h("div", null);
  const done = statusBox();
  const titleId = uid("series");
  const newButton = button("Schedule a session series", { class: "primary", "aria-expanded": "false" });
  let rooms: Room[] = [];
  let series: Series[] = [];

  const roomName = (id: number): string => rooms.find((r) => r.id === id)?.name ?? `Room ${id}`;

  const closeForm = (): void => {
    replaceChildren(formArea);
    newButton.hidden = false;
    newButton.setAttribute("aria-expanded", "false");
  };

  const loadRooms = async (): Promise<void> => {
    const data = await get<{ rooms: Room[] }>("/api/rooms");
    rooms = data.rooms.filter((r) => r.kind === "meeting");
  };

  const openForm = async (editing: Series | null, returnFocus: HTMLElement): Promise<void> => {
    done.clear();
    errors.clear();
    // The rooms as they are now: one made since this screen opened is offered too.
    try {
      await loadRooms();
    } catch (err) {
      errors.show(describeAny(err));
      return;
    }
    newButton.hidden = editing === null;
    newButton.setAttribute("aria-expanded", editing === null ? "true" : "false");
    const form = seriesForm(rooms, editing, {
      saved: async (text) => {
        closeForm();
        done.show(text);
        await refresh();
        onChange();
        newButton.focus();
      },
      cancelled: () => {
        closeForm();
        if (returnFocus.isConnected) returnFocus.focus();
        else newButton.focus();
      },
    });
    replaceChildren(formArea, form);
    form.querySelector<HTMLInputElement>("input")?.focus();
  };
  newButton.addEventListener("click", () => void openForm(null, newButton));

  const render = (): void => {
    if (series.length === 0) {
      replaceChildren(list, h("p", { class: "note" }, "No session series yet."));
      return;
    }
    replaceChildren(
      list,
      h(
        "ul",
        { class: "series-list", "aria-label": "Session series" },
        ...series.map((s) => {
          const itemTitle = uid("series-title");
          const edit = button("Edit series", { "aria-describedby": itemTitle });
          edit.addEventListener("click", () => void openForm(s, edit));
          return h(
            "li",
            { class: "series", "aria-labelledby": itemTitle },
            h("h3", { id: itemTitle }, s.title),
            h("p", { class: "series-rule" }, describeRrule(s.rrule)),
            h(
              "p",
              { class: "hint" },
              `${s.starts_at.slice(11, 16)} ${s.timezone}, ${s.duration_minutes} minutes, in ${roomName(s.room_id)}`,
            ),
            edit,
          );
        }),
      ),
    );
  };

  const refresh = async (): Promise<void> => {
    try {
      const [, meetingData] = await Promise.all([loadRooms(), get<{ meetings: Series[] }>("/api/meetings")]);
      series = meetingData.meetings;
      errors.clear();
      render();
    } catch (err) {
      errors.show(describeAny(err));
    }
  };

  const node = h(
    "section",
    { class: "card meetings-admin", "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Session series"),
    errors.node,
    done.node,
    newButton,
    formArea,
    list,
  );
  return { node, refresh };
}

interface FormHooks {
  saved(text: string): Promise<void>;
  cancelled(): void;
}

function seriesForm(rooms: Room[], editing: Series | null, hooks: FormHooks): HTMLFormElement {
  const schedule = editing ? parseRrule(editing.rrule) : { days: [], once: false, until: "" };
  const title = h("input", { type: "text", maxlength: "120", autocomplete: "off", value: editing?.title ?? "" });
  const room = h(
    "select",
    { disabled: editing !== null },
    h("option", { value: "" }, rooms.length ? "Choose a meeting room" : "No meeting rooms"),
    ...rooms.map((r) => h("option", { value: String(r.id) }, r.name)),
  );
  if (editing) {
    if (!rooms.some((r) => r.id === editing.room_id)) {
      room.append(h("option", { value: String(editing.room_id) }, `Room ${editing.room_id}`));
    }
    room.value = String(editing.room_id);
  }
  const dayBoxes = DAYS.map(([code, name]) => {
    const id = uid("day");
    const box = h("input", { type: "checkbox", id, value: code, checked: schedule.days.includes(code) });
    return { code, box, node: h("span", { class: "day-option" }, box, h("label", { for: id }, name)) };
  });
  const daysLegend = uid("days");
  const days = h(
    "fieldset",
    { class: "days", "aria-labelledby": daysLegend },
    h("legend", { id: daysLegend }, "Days of week"),
    h("div", { class: "day-options" }, ...dayBoxes.map((d) => d.node)),
  );
  const onceId = uid("once");
  const once = h("input", { type: "checkbox", id: onceId, checked: schedule.once });
  const syncOnce = (): void => {
    days.disabled = once.checked;
    until.disabled = once.checked;
  };
  once.addEventListener("change", () => syncOnce());
  const today = new Date();
  const pad = (n: number): string => String(n).padStart(2, "0");
  const todayText = `${today.getFullYear()}-${pad(today.getMonth() + 1)}-${pad(today.getDate())}`;
  const startDate = h("input", { type: "date", value: editing ? editing.starts_at.slice(0, 10) : todayText });
  const time = h("input", { type: "time", value: editing ? editing.starts_at.slice(11, 16) : "18:00" });
  const zoneNow = editing?.timezone ?? browserZone();
  const zones = ZONES.includes(zoneNow) ? ZONES : [zoneNow, ...ZONES];
  const zone = h("select", null, ...zones.map((z) => h("option", { value: z }, z)));
  zone.value = zoneNow;
  const duration = h("input", {
    type: "number",
    min: "1",
    max: "1440",
    inputmode: "numeric",
    value: String(editing?.duration_minutes ?? 180),
  });
  const lobby = h("input", {
    type: "number",
    min: "0",
    max: "240",
    inputmode: "numeric",
    value: String(editing?.lobby_minutes ?? 15),
  });
  const until = h("input", { type: "date", value: schedule.until });
  const video = h("input", { type: "url", maxlength: "500", autocomplete: "off", value: editing?.video_url ?? "" });
  syncOnce();

  const errors = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, editing ? "Save changes" : "Schedule");
  const cancel = button("Cancel");
  cancel.addEventListener("click", () => hooks.cancelled());
  const formLabel = editing ? `Edit series ${editing.title}` : "Schedule a session series";
  const form = h(
    "form",
    { class: "series-form", novalidate: true, "aria-label": formLabel },
    h("h3", null, editing ? `Edit series: ${editing.title}` : "Schedule a session series"),
    field("Title", title),
    field("Room", room, editing ? "A series stays in its room." : undefined),
    h("div", { class: "field check" }, once, h("label", { for: onceId }, "One session only")),
    days,
    h("div", { class: "field-row" }, field("Start date", startDate), field("Time", time, "Local wall clock time.")),
    field("Time zone", zone),
    h(
      "div",
      { class: "field-row" },
      field("Duration (minutes)", duration),
      field("Lobby (minutes)", lobby, "Join opens this long before the start."),
    ),
    field("End date (optional)", until, "The series ends with its last session that day, in its time zone."),
    field("Video link (optional)", video),
    errors.node,
    h("div", { class: "form-actions" }, submit, cancel),
  );
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      hooks.cancelled();
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const chosen = dayBoxes.filter((d) => d.box.checked).map((d) => d.code);
    const fail = (text: string, focus: HTMLElement): void => {
      errors.show(text);
      focus.focus();
    };
    if (!title.value.trim()) return fail("Title: give the series a title.", title);
    if (!editing && !room.value) return fail("Room: choose a meeting room.", room);
    if (!once.checked && chosen.length === 0) {
      return fail("Days of week: choose at least one day.", dayBoxes[0]?.box ?? days);
    }
    if (!startDate.value) return fail("Start date: choose a date.", startDate);
    if (!time.value) return fail("Time: choose a time.", time);
    const durationN = Number(duration.value);
    if (!Number.isInteger(durationN) || durationN < 1) return fail("Duration: give whole minutes, at least 1.", duration);
    const lobbyN = Number(lobby.value);
    if (!Number.isInteger(lobbyN) || lobbyN < 0) return fail("Lobby: give whole minutes, 0 or more.", lobby);
    const values = {
      title: title.value.trim(),
      rrule: buildRrule({ days: chosen, once: once.checked, until: once.checked ? "" : until.value }),
      starts_at: `${startDate.value}T${time.value.slice(0, 5)}:00`,
      timezone: zone.value,
      duration_minutes: durationN,
      lobby_minutes: lobbyN,
      video_url: video.value.trim() || null,
    };
    submit.disabled = true;
    try {
      if (editing) {
        const changed: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(values)) {
          const before = (editing as unknown as Record<string, unknown>)[key] ?? null;
          if (value !== before) changed[key] = value;
        }
        if (Object.keys(changed).length === 0) {
          errors.show("Nothing has changed.");
          return;
        }
        await patch(`/api/meetings/${editing.id}`, changed);
        await hooks.saved(`Saved changes to ${values.title}.`);
      } else {
        const body: Record<string, unknown> = { ...values, room_id: Number(room.value) };
        if (body.video_url === null) delete body.video_url;
        await post("/api/meetings", body);
        await hooks.saved(`Scheduled ${values.title}.`);
      }
    } catch (err) {
      errors.show(describeAny(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** "Cancel this session" for one upcoming occurrence: asks for a reason in a dialog. */
/** An instant's date and time on a zone's wall clock, as date and time inputs take them. */
export function wallClock(iso: string, zone: string): { date: string; time: string } {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? "";
  return { date: `${part("year")}-${part("month")}-${part("day")}`, time: `${part("hour")}:${part("minute")}` };
}

interface SessionChange {
  opener: string; // the button's text, e.g. "Cancel this session"
  title: string; // the dialog's
  confirm: string;
  danger: boolean;
  fields: (occ: Occurrence) => Promise<HTMLElement[]>;
  send: (occ: Occurrence, reason: string) => Promise<unknown>;
}

/** A button that opens a dialog to change one session, with a reason members are told. */
function sessionChangeButton(change: SessionChange, occ: Occurrence, when: string, onDone: () => void): HTMLButtonElement {
  const open = button(change.opener, { class: change.danger ? "danger" : "", "aria-haspopup": "dialog" });
  open.setAttribute("aria-label", `${change.opener}: ${occ.title}, ${when}`);
  open.addEventListener("click", async () => {
    const errors = errorBox();
    let fields: HTMLElement[];
    try {
      fields = await change.fields(occ);
    } catch (err) {
      fields = [];
      errors.show(describeAny(err));
    }
    const reason = h("textarea", { maxlength: String(REASON_MAX), rows: "3" });
    const yes = button(change.confirm, { class: change.danger ? "danger" : "primary" });
    const keep = button("Keep it");
    const handle = openDialog({
      title: change.title,
      content: [
        h("p", null, `${occ.title}, ${when}.`),
        ...fields,
        field("Reason", reason, `Told to the members. Up to ${REASON_MAX} characters.`),
        errors.node,
        h("div", { class: "dialog-actions" }, yes, keep),
      ],
    });
    keep.addEventListener("click", () => handle.close());
    yes.addEventListener("click", async () => {
      errors.clear();
      yes.disabled = true;
      keep.disabled = true;
      try {
        await change.send(occ, reason.value.trim());
      } catch (err) {
        errors.show(describeAny(err));
        yes.disabled = false;
        keep.disabled = false;
        return;
      }
      handle.close();
      onDone();
    });
  });
  return open;
}

const CANCEL: SessionChange = {
  opener: "Cancel this session",
  title: "Cancel this session?",
  confirm: "Cancel session",
  danger: true,
  fields: async () => [],
  send: (occ, reason) => post(`/api/meetings/${occ.meeting_id}/cancel`, { occurrence: occ.starts_at, reason }),
};

function moveChange(): SessionChange {
  const date = h("input", { type: "date", required: "" });
  const time = h("input", { type: "time", required: "" });
  return {
    opener: "Move this session",
    title: "Move this session",
    confirm: "Move session",
    danger: false,
    // The new start is on the series' own wall clock, as its schedule is.
    fields: async (occ) => {
      const { meetings } = await get<{ meetings: Series[] }>("/api/meetings");
      const zone = meetings.find((m) => m.id === occ.meeting_id)?.timezone ?? "UTC";
      ({ date: date.value, time: time.value } = wallClock(occ.starts_at, zone));
      return [field("New date", date), field("New start time", time, `Local time in ${zone}.`)];
    },
    send: (occ, reason) =>
      post(`/api/meetings/${occ.meeting_id}/move`, {
        occurrence: occ.starts_at,
        starts_at: `${date.value}T${time.value}:00`,
        reason,
      }),
  };
}

export function cancelSessionButton(occ: Occurrence, when: string, onDone: () => void): HTMLButtonElement {
  return sessionChangeButton(CANCEL, occ, when, onDone);
}

export function moveSessionButton(occ: Occurrence, when: string, onDone: () => void): HTMLButtonElement {
  return sessionChangeButton(moveChange(), occ, when, onDone);
}
