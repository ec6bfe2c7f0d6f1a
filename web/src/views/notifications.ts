// Notifications (#/notifications): whether this device gets pushes, what a person gets (message
// text on the lock screen, session reminders, quiet hours on their own clock), email (an address
// confirmed by a mailed link, reminders and the daily summary by email) and the rooms they
// follow; and the `Follow this room` toggle of the room view. docs/notifications.md.
import "./notifications.css";
import { api, get, put } from "../api";
import { describeAny } from "../errors";
import { h, replaceChildren, uid } from "../h";
import { PushError, subscribeThisBrowser, thisDevice, unsubscribeThisBrowser, type DeviceState } from "../push";
import { loadRooms, roomName, rooms } from "../state";
import type { NotificationSettings } from "../types";
import { button, errorBox, field, heading, input, loading, statusBox, type View } from "./common";
import {
  browserTimeZone,
  emailChange,
  emailChoicesHint,
  emailRefusal,
  emailRemovedSentence,
  emailSavedSentence,
  emailState,
  emailStateText,
  MAX_EMAIL_LENGTH,
  MAX_REMINDER_MINUTES,
  NO_EMAIL_SENTENCE,
  savedSentence,
  settingsChange,
} from "./notification-settings";

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
      showEmail(settings);
      formStatus.show(savedSentence(settings));
    } catch (err) {
      if (!stopped) formErrors.show(describeAny(err));
    } finally {
      save.disabled = false;
    }
  });

  // ----- email -----
  const emailStateBox = statusBox("Email address state");
  emailStateBox.node.classList.add("notifications-email-state");
  emailStateBox.node.setAttribute("tabindex", "-1");
  const emailErrors = errorBox();
  const emailStatus = statusBox();
  const address = input({
    type: "email",
    name: "email",
    autocomplete: "email",
    inputmode: "email",
    spellcheck: "false",
    maxlength: MAX_EMAIL_LENGTH,
  });
  const remindersBox = input({ type: "checkbox", name: "email_reminders", id: uid("field") });
  const digestBox = input({ type: "checkbox", name: "email_digest", id: uid("field") });
  const digestHintId = uid("hint");
  const choicesHint = h("p", { id: uid("hint"), class: "hint notifications-choices-hint" });
  const emailSave = h("button", { type: "submit", class: "primary" }, "Save");
  const removeAddress = button("Remove this address", { hidden: true });
  const emailFields = h(
    "fieldset",
    { class: "notifications-fields", disabled: true, "aria-busy": "true" },
    field(
      "Email address",
      address,
      "We mail a link to this address first: nothing else is sent to it until you open that link.",
    ),
    h("div", { class: "field check" }, remindersBox, h("label", { for: remindersBox.id }, "Email me before my sessions")),
    h("div", { class: "field check" }, digestBox, h("label", { for: digestBox.id }, "Email me a daily summary of what I missed")),
    h(
      "p",
      { id: digestHintId, class: "hint notifications-check-hint" },
      "Once a day: how many new messages each room has, and your coming sessions. Never what anyone wrote.",
    ),
    choicesHint,
    h("div", { class: "notifications-actions" }, emailSave, removeAddress),
  );
  const noEmail = h("p", { class: "note", hidden: true }, NO_EMAIL_SENTENCE);
  const emailTitleId = uid("section");
  const emailForm = h(
    "form",
    { class: "card notifications-section notifications-email", "aria-labelledby": emailTitleId, novalidate: true },
    h("h2", { id: emailTitleId, tabindex: "-1" }, "Email"),
    noEmail,
    emailStateBox.node,
    emailFields,
    emailErrors.node,
    emailStatus.node,
  );
  // What the controls were last filled with: a control still showing it is taken to the newer
  // settings; one the person changed since keeps what they typed or ticked.
  let emailShown = { address: address.value, reminders: remindersBox.checked, digest: digestBox.checked };
  // Counts the settings answers applied: a re-read that started before a save is not applied
  // after it.
  let emailVersion = 0;
  const showEmail = (s: Settings): void => {
    emailVersion += 1;
    const state = emailState(s);
    noEmail.hidden = state !== "unavailable";
    emailStateBox.node.hidden = state === "unavailable";
    emailFields.hidden = state === "unavailable";
    if (state === "unavailable") {
      emailStateBox.clear();
      return;
    }
    emailStateBox.show(emailStateText(s));
    const stored = { address: s.email ?? "", reminders: s.email_reminders, digest: s.email_digest };
    if (address.value.trim() === emailShown.address) address.value = stored.address;
    if (remindersBox.checked === emailShown.reminders) remindersBox.checked = stored.reminders;
    if (digestBox.checked === emailShown.digest) digestBox.checked = stored.digest;
    emailShown = stored;
    const why = emailChoicesHint(s);
    remindersBox.disabled = why !== null;
    digestBox.disabled = why !== null;
    choicesHint.textContent = why ?? "";
    choicesHint.hidden = why === null;
    // A hidden hint is still read out when referenced: referenced only while it shows.
    if (why === null) remindersBox.removeAttribute("aria-describedby");
    else remindersBox.setAttribute("aria-describedby", choicesHint.id);
    digestBox.setAttribute("aria-describedby", why === null ? digestHintId : `${digestHintId} ${choicesHint.id}`);
    removeAddress.hidden = !s.email;
  };
  const patchEmail = async (change: Record<string, unknown>): Promise<Settings | null> => {
    const data = await api<SettingsAnswer>("PATCH", SETTINGS_PATH, change);
    if (stopped) return null;
    settings = data.notifications;
    // The answer is what the server holds now: shown as it is, over what was typed.
    emailShown = { address: address.value.trim(), reminders: remindersBox.checked, digest: digestBox.checked };
    showEmail(settings);
    return settings;
  };
  emailForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    emailErrors.clear();
    emailStatus.clear();
    address.removeAttribute("aria-invalid");
    if (!settings) return;
    const before = settings;
    const result = emailChange({ address: address.value, reminders: remindersBox.checked, digest: digestBox.checked }, before);
    if ("error" in result) {
      address.setAttribute("aria-invalid", "true");
      emailErrors.show(result.error);
      address.focus();
      return;
    }
    if (Object.keys(result.change).length === 0) {
      emailStatus.show(emailSavedSentence(before, before));
      return;
    }
    emailSave.disabled = true;
    try {
      const after = await patchEmail(result.change);
      if (after) emailStatus.show(emailSavedSentence(before, after));
    } catch (err) {
      if (!stopped) emailErrors.show(emailRefusal(describeAny(err)));
    } finally {
      emailSave.disabled = false;
    }
  });
  removeAddress.addEventListener("click", async () => {
    emailErrors.clear();
    emailStatus.clear();
    address.removeAttribute("aria-invalid");
    const gone = settings?.email;
    if (!gone) return;
    removeAddress.disabled = true;
    try {
      const after = await patchEmail({ email: "" });
      if (after) {
        emailStatus.show(emailRemovedSentence(gone));
        // The button is gone: the state it changed has the focus.
        emailStateBox.node.focus();
      }
    } catch (err) {
      if (!stopped) emailErrors.show(emailRefusal(describeAny(err)));
    } finally {
      removeAddress.disabled = false;
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
      showEmail(settings);
      emailFields.disabled = false;
      emailFields.removeAttribute("aria-busy");
      showFollowed(settings.followed_room_ids);
      await showDevice();
    } catch (err) {
      if (stopped) return;
      formErrors.show(describeAny(err));
      emailErrors.show(describeAny(err));
      followErrors.show(describeAny(err));
    }
  };
  fillForm({
    previews: false,
    reminder_minutes: 15,
    quiet_start: null,
    quiet_end: null,
    timezone: zone,
    email: null,
    email_confirmed: false,
    email_reminders: true,
    email_digest: false,
    email_available: true,
    push_devices: 0,
    followed_room_ids: [],
  });
  void load();
  // Coming back to the screen: the browser's setting may have changed while away (site
  // settings), and the address may have been confirmed (its link opened in the mail app, or
  // another tab): read again, so `Confirmed` shows without a reload. Only the device and the
  // Email section are shown again; the other forms keep what is being typed in them.
  let rereading = false;
  const reread = async (): Promise<void> => {
    if (!settings || rereading || stopped) return;
    rereading = true;
    const version = emailVersion;
    try {
      const data = await get<SettingsAnswer>(SETTINGS_PATH);
      // Not over the answer of a save made meanwhile, which is newer.
      if (!stopped && version === emailVersion && settings) {
        // What the last save said (such as a link sent) is over once the address moved on.
        if (emailState(data.notifications) !== emailState(settings)) emailStatus.clear();
        settings = data.notifications;
        showEmail(settings);
      }
    } catch {
      /* out of reach for now: what is shown stays, and the next return tries again */
    }
    rereading = false;
    if (!stopped) await showDevice();
  };
  const onVisible = (): void => {
    if (document.visibilityState === "visible") void reread();
  };
  // A mail program in a window of its own leaves this page visible: coming back focuses it.
  const onFocus = (): void => void reread();
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("focus", onFocus);

  const node = h(
    "div",
    { class: "notifications" },
    heading("Notifications"),
    deviceSection,
    form,
    emailForm,
    followSection,
  );
  return {
    title: "Notifications",
    node,
    cleanup: () => {
      stopped = true;
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("focus", onFocus);
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
