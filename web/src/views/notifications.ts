// Notifications (#/notifications): whether this device gets pushes, what a person gets (message
// text on the lock screen, session reminders, quiet hours on their own clock) and the rooms they
// follow; and the `Follow this room` toggle of the room view. docs/notifications.md.
import "./notifications.css";
import { api, get, put } from "../api";
import { describeAny } from "../errors";
import { h, replaceChildren, uid } from "../h";
import { PushError, subscribeThisBrowser, thisDevice, unsubscribeThisBrowser, type DeviceState } from "../push";
import { loadRooms, roomName, rooms } from "../state";
import type { NotificationSettings } from "../types";
import { button, errorBox, field, heading, input, loading, statusBox, type View } from "./common";
import { browserTimeZone, MAX_REMINDER_MINUTES, savedSentence, settingsChange } from "./notification-settings";

const SETTINGS_PATH = "/api/me/notifications";
// Offered when quiet hours are turned on for the first time.
const QUIET_FROM = "22:00";
const QUIET_TO = "07:00";

const DEVICE_TEXT: Record<DeviceState, string> = {
  on: "Notifications are on for this device.",
  off: "Notifications are off for this device.",
  denied:
    "Notifications are blocked for peerrooms in this browser's settings. To get them, allow notifications for this site in the browser's site settings, then come back here.",
  "home-screen":
    "On an iPhone or iPad, notifications work only once peerrooms is on your Home Screen: in Safari, tap Share, then Add to Home Screen, and open peerrooms from there (iOS 16.4 or later).",
  unsupported: "This browser cannot show notifications from peerrooms. A recent Chrome, Edge, Firefox or Safari can.",
};

type Settings = NotificationSettings;
type SettingsAnswer = { notifications: Settings };

function section(title: string, kind: string, ...content: (Node | null)[]): HTMLElement {
  const id = uid("section");
  return h(
    "section",
    { class: `card notifications-section notifications-${kind}`, "aria-labelledby": id },
    h("h2", { id, tabindex: "-1" }, title),
    ...content,
  );
}

export function notificationsView(): View {
  let stopped = false;
  let settings: Settings | null = null;

  // ----- this device -----
  const deviceStatus = statusBox("Notifications on this device");
  deviceStatus.node.setAttribute("tabindex", "-1");
  const deviceErrors = errorBox();
  const turnOn = button("Turn on notifications on this device", { class: "primary", hidden: true });
  const turnOff = button("Turn off notifications on this device", { hidden: true });
  const showDevice = async (): Promise<void> => {
    const state = await thisDevice(settings?.push_devices ?? 0);
    if (stopped) return;
    deviceStatus.show(DEVICE_TEXT[state]);
    turnOn.hidden = state !== "off";
    turnOff.hidden = state !== "on";
  };
  turnOn.addEventListener("click", async () => {
    deviceErrors.clear();
    turnOn.disabled = true;
    try {
      settings = await subscribeThisBrowser();
    } catch (err) {
      // Blocked: the status says so, with where to allow them.
      const blocked = err instanceof PushError && err.reason === "denied";
      if (!stopped && !blocked) deviceErrors.show(err instanceof PushError ? err.message : describeAny(err));
    }
    turnOn.disabled = false;
    if (stopped) return;
    await showDevice();
    // Whatever was decided has the focus once the button is gone.
    if (turnOn.hidden) deviceStatus.node.focus();
  });
  turnOff.addEventListener("click", async () => {
    deviceErrors.clear();
    turnOff.disabled = true;
    try {
      const answer = await unsubscribeThisBrowser();
      settings = answer ?? (await get<SettingsAnswer>(SETTINGS_PATH)).notifications;
    } catch (err) {
      if (!stopped) deviceErrors.show(describeAny(err));
    }
    turnOff.disabled = false;
    if (stopped) return;
    await showDevice();
    if (turnOff.hidden) deviceStatus.node.focus();
  });
  const deviceSection = section(
    "This device",
    "device",
    h(
      "p",
      { class: "hint" },
      "Notifications reach you while peerrooms is closed: new messages in the rooms you follow, and reminders before your sessions.",
    ),
    deviceStatus.node,
    deviceErrors.node,
    h("div", { class: "notifications-actions" }, turnOn, turnOff),
  );

  // ----- what you get -----
  const previews = input({ type: "checkbox", name: "previews", id: uid("field") });
  const previewsHintId = uid("hint");
  previews.setAttribute("aria-describedby", previewsHintId);
  const reminder = input({ type: "number", name: "reminder_minutes", min: 0, max: MAX_REMINDER_MINUTES, step: 1, inputmode: "numeric" });
  const noQuiet = input({ type: "checkbox", name: "no_quiet_hours", id: uid("field") });
  const quietStart = input({ type: "time", name: "quiet_start" });
  const quietEnd = input({ type: "time", name: "quiet_end" });
  const zone = browserTimeZone();
  const formErrors = errorBox();
  const formStatus = statusBox();
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const syncQuiet = (): void => {
    quietStart.disabled = noQuiet.checked;
    quietEnd.disabled = noQuiet.checked;
  };
  noQuiet.addEventListener("change", syncQuiet);
  const formTitleId = uid("section");
  // Closed until the stored settings arrive: what someone typed is never overwritten by them,
  // and defaults are never saved over settings that were not read.
  const fields = h(
    "fieldset",
    { class: "notifications-fields", disabled: true, "aria-busy": "true" },
    h(
      "div",
      { class: "field check" },
      previews,
      h("label", { for: previews.id }, "Show message text on the lock screen"),
    ),
    h("p", { id: previewsHintId, class: "hint notifications-warning" }, "Anyone who can see your lock screen could read it."),
    field("Remind me before sessions (minutes, 0 for never)", reminder),
    h(
      "div",
      { class: "notifications-quiet" },
      field("Quiet hours from", quietStart),
      field("Quiet hours to", quietEnd),
    ),
    h("div", { class: "field check" }, noQuiet, h("label", { for: noQuiet.id }, "No quiet hours")),
    h("p", { class: "hint" }, `Nothing is sent during quiet hours. Times are on this device's clock: ${zone}.`),
    h("div", { class: "notifications-actions" }, save),
  );
  const form = h(
    "form",
    { class: "card notifications-section notifications-form", "aria-labelledby": formTitleId, novalidate: true },
    h("h2", { id: formTitleId, tabindex: "-1" }, "What you get"),
    fields,
    formErrors.node,
    formStatus.node,
  );
  const fillForm = (s: Settings): void => {
    previews.checked = s.previews;
    reminder.value = String(s.reminder_minutes);
    noQuiet.checked = !s.quiet_start || !s.quiet_end;
    quietStart.value = s.quiet_start ?? QUIET_FROM;
    quietEnd.value = s.quiet_end ?? QUIET_TO;
    syncQuiet();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formErrors.clear();
    formStatus.clear();
    const result = settingsChange({
      previews: previews.checked,
      reminderMinutes: reminder.value,
      noQuietHours: noQuiet.checked,
      quietStart: quietStart.value,
      quietEnd: quietEnd.value,
      timezone: zone,
    });
    if ("error" in result) {
      formErrors.show(result.error);
      return;
    }
    save.disabled = true;
    try {
      const data = await api<SettingsAnswer>("PATCH", SETTINGS_PATH, result.change);
      if (stopped) return;
      settings = data.notifications;
      fillForm(settings);
      formStatus.show(savedSentence(settings));
    } catch (err) {
      if (!stopped) formErrors.show(describeAny(err));
    } finally {
      save.disabled = false;
    }
  });

  // ----- rooms you follow -----
  const followErrors = errorBox();
  const followStatus = statusBox();
  const followList = h("ul", { class: "notifications-rooms", "aria-label": "Rooms you follow" });
  const followBody = h("div", null, loading());
  const followSection = section("Rooms you follow", "followed", followErrors.node, followStatus.node, followBody);
  const followTitle = followSection.querySelector("h2") as HTMLHeadingElement;
  const nameOf = (id: number): string => roomName(id) ?? `Room ${id}`;
  const showFollowed = (ids: number[]): void => {
    if (ids.length === 0) {
      replaceChildren(
        followBody,
        h("p", { class: "note" }, "You follow no rooms. In a room, press Follow this room to hear of its new messages while peerrooms is closed."),
      );
      return;
    }
    const sorted = [...ids].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
    replaceChildren(
      followList,
      ...sorted.map((id) => {
        const stop = button(`Stop following ${nameOf(id)}`, { class: "small" });
        stop.addEventListener("click", () => void unfollow(id, stop));
        return h("li", null, h("a", { href: `#/rooms/${id}`, class: "notifications-room" }, nameOf(id)), stop);
      }),
    );
    if (followList.parentElement !== followBody) replaceChildren(followBody, followList);
  };
  const unfollow = async (id: number, stop: HTMLButtonElement): Promise<void> => {
    followErrors.clear();
    stop.disabled = true;
    try {
      const data = await api<SettingsAnswer>("DELETE", `/api/rooms/${id}/follow`);
      if (stopped) return;
      settings = data.notifications;
      showFollowed(settings.followed_room_ids);
      followStatus.show(`You no longer follow ${nameOf(id)}.`);
      followTitle.focus();
    } catch (err) {
      stop.disabled = false;
      if (!stopped) followErrors.show(describeAny(err));
    }
  };

  // ----- loading -----
  const load = async (): Promise<void> => {
    try {
      const [data] = await Promise.all([
        get<SettingsAnswer>(SETTINGS_PATH),
        rooms.size === 0 ? loadRooms().catch(() => []) : null,
      ]);
      if (stopped) return;
      settings = data.notifications;
      fillForm(settings);
      fields.disabled = false;
      fields.removeAttribute("aria-busy");
      showFollowed(settings.followed_room_ids);
      await showDevice();
    } catch (err) {
      if (stopped) return;
      formErrors.show(describeAny(err));
      followErrors.show(describeAny(err));
    }
  };
  fillForm({ previews: false, reminder_minutes: 15, quiet_start: null, quiet_end: null, timezone: zone, push_devices: 0, followed_room_ids: [] });
  void load();
  // The browser's setting may change while away (site settings): said again on coming back.
  const onVisible = (): void => {
    if (document.visibilityState === "visible" && settings) void showDevice();
  };
  document.addEventListener("visibilitychange", onVisible);

  const node = h("div", { class: "notifications" }, heading("Notifications"), deviceSection, form, followSection);
  return {
    title: "Notifications",
    node,
    cleanup: () => {
      stopped = true;
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}

// ----- the room view's toggle -----

/** `Follow this room` / `Following` (aria-pressed): new messages of the room reach me by push
 * while I am not in it. Hidden until my settings say which it is. */
export function followToggle(roomId: number): HTMLElement {
  const toggle = button("Follow this room", { class: "small follow-toggle", "aria-pressed": "false" });
  const errors = errorBox();
  const node = h("div", { class: "follow", hidden: true }, toggle, errors.node);
  const show = (settings: Settings): void => {
    const following = settings.followed_room_ids.includes(roomId);
    toggle.setAttribute("aria-pressed", String(following));
    toggle.textContent = following ? "Following" : "Follow this room";
    node.hidden = false;
  };
  toggle.addEventListener("click", async () => {
    errors.clear();
    toggle.disabled = true;
    const follow = toggle.getAttribute("aria-pressed") !== "true";
    try {
      const path = `/api/rooms/${roomId}/follow`;
      const data = follow ? await put<SettingsAnswer>(path, {}) : await api<SettingsAnswer>("DELETE", path);
      show(data.notifications);
    } catch (err) {
      errors.show(describeAny(err));
    } finally {
      toggle.disabled = false;
    }
  });
  get<SettingsAnswer>(SETTINGS_PATH)
    .then((data) => show(data.notifications))
    .catch(() => {
      /* no toggle then: following is for later, the room works without it */
    });
  return node;
}
