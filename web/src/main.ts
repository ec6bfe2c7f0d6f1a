// The shell: header (navigation and connection status), notices, and the screen for the hash
// route. Screens live in views/; each returns its node and a cleanup.
import "./styles.css";
import { get, post, renewSignIn, setConsentRequiredHandler, setUnauthorizedHandler } from "./api";
import { alertAttention, announcement, APP_NAME, pendingAfter, screenTitle, tabTitle, TITLE_SEPARATOR, type PendingAlerts } from "./attention";
import { connection, STATE_TEXT } from "./connection";
import { consentDue, setConsentDue, type ConsentRequired } from "./consent";
import { h, replaceChildren } from "./h";
import { menuButton } from "./menu";
import {
  banner,
  clearBanners,
  noticeSentence,
  playAlertTone,
  setNoticeArea,
  showCrisisResources,
  showDesktopAlert,
  unlockAudioOnFirstGesture,
} from "./notices";
import { outbox } from "./outbox";
import { pushSupported, registerServiceWorker, unsubscribeThisBrowser } from "./push";
import { clearSession, currentUser, forgetSignIn, isStaff, setUser, signIn, store, token } from "./session";
import { alerts, keepRoomsFresh, loadRooms, roomName, rooms, unread } from "./state";
import { chooseTheme, startTheme, storedChoice, themeItems } from "./theme";
import type { Alert, Me, Notice } from "./types";
import { resetView, signInView, registerView } from "./views/auth";
import { heading, type View } from "./views/common";
import { consentView } from "./views/consent";
import { consoleView } from "./views/console";
import { invitesView } from "./views/invites";
import { meetingRoomView } from "./views/meeting-room";
import { meetingsView } from "./views/meetings";
import { myDataView } from "./views/my-data";
import { notificationsView } from "./views/notifications";
import { peopleView, personView } from "./views/people";
import { profileView } from "./views/profile";
import { programView } from "./views/program";
import { currentRoomId, forgetRooms, rememberMute, roomView } from "./views/room";
import { roomsView } from "./views/rooms";
import { searchView } from "./views/search";

// ----- the shell -----
// Light or dark before anything is drawn (index.html's script blocks rendering until here).
startTheme();
const status = h("div", { role: "status", "aria-label": "Connection", class: "connection" }, STATE_TEXT.offline);
const consoleBadge = h("span", { class: "nav-badge", "aria-hidden": "true", hidden: true });
const navLinks = {
  rooms: h("a", { href: "#/rooms" }, "Rooms"),
  search: h("a", { href: "#/search" }, "Search"),
  meetings: h("a", { href: "#/meetings" }, "Meetings"),
  notifications: h("a", { href: "#/notifications" }, "Notifications"),
  "my-data": h("a", { href: "#/my-data" }, "My data"),
  profile: h("a", { href: "#/profile" }, "Profile"),
  console: h("a", { href: "#/console" }, "Moderator console", consoleBadge),
  people: h("a", { href: "#/people" }, "People"),
  invites: h("a", { href: "#/invites" }, "Invites"),
  program: h("a", { href: "#/program" }, "Cohorts and rooms"),
};
const signOutButton = h("button", { type: "button", class: "link-button" }, "Sign out");
const consoleItem = h("li", null, navLinks.console);
const peopleItem = h("li", null, navLinks.people);
const invitesItem = h("li", null, navLinks.invites);
const programItem = h("li", null, navLinks.program);
const nav = h(
  "nav",
  { "aria-label": "Main", class: "nav" },
  h(
    "ul",
    null,
    h("li", null, navLinks.rooms),
    h("li", null, navLinks.search),
    h("li", null, navLinks.meetings),
    h("li", null, navLinks.notifications),
    h("li", null, navLinks["my-data"]),
    h("li", null, navLinks.profile),
    consoleItem,
    peopleItem,
    invitesItem,
    programItem,
    h("li", null, signOutButton),
  ),
);
const skip = h("a", { href: "#main", class: "skip-link" }, "Skip to content");
// System, Light or Dark: on every screen, signed in or not.
const themeSwitch = menuButton({
  label: "Theme",
  visible: h("span", { class: "theme-icon", "aria-hidden": "true" }, "◐"),
  className: "theme-switch",
  menuLabel: () => "Theme",
  items: () => themeItems(storedChoice(), chooseTheme),
});
const header = h("header", { class: "topbar" }, h("span", { class: "brand" }, "peerrooms"), nav, themeSwitch.node, status);
const noticeArea = h("div", { class: "notices" });
const screen = h("div", { class: "screen" });
const main = h("main", { id: "main", tabindex: "-1" }, noticeArea, screen);
setNoticeArea(noticeArea);

skip.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

const app = document.getElementById("app") ?? document.body;
replaceChildren(app, skip, header, main);

function renderStatus(): void {
  const state = currentUser() ? connection.state() : "offline";
  status.textContent = STATE_TEXT[state];
  status.className = `connection ${state}`;
}
connection.on("state", renderStatus);

function renderNav(): void {
  const user = currentUser();
  // Until the consent notice is accepted, its screen offers only Accept and Sign out.
  nav.hidden = user === null || consentDue() !== null;
  consoleItem.hidden = !isStaff(user);
  peopleItem.hidden = !isStaff(user);
  invitesItem.hidden = !isStaff(user);
  programItem.hidden = !isStaff(user);
  const route = location.hash;
  for (const [name, link] of Object.entries(navLinks)) {
    const active = route.startsWith(`#/${name}`);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    if (active) showInRow(link);
  }
}

/** On a phone the links are one row that scrolls sideways: the current page's link is
 * scrolled into sight, so the row says where one is. */
function showInRow(link: HTMLElement): void {
  const row = link.closest("ul");
  if (!row || row.scrollWidth <= row.clientWidth) return;
  const rowBox = row.getBoundingClientRect();
  const linkBox = link.getBoundingClientRect();
  if (linkBox.left < rowBox.left || linkBox.right > rowBox.right) {
    row.scrollLeft += linkBox.left - rowBox.left - (rowBox.width - linkBox.width) / 2;
  }
}

// ----- the tab title: the screen's own, after the unread count and (staff) an alert not seen -----
// Screens set document.title themselves ("Group A – peerrooms", once the room is known); what
// they set is taken as the screen's title and the count and alert put before it again.
let screenTitleText = APP_NAME;
let writtenTitle = "";
// Alerts that arrived and were not seen on the console, for the title.
let pendingAlerts: PendingAlerts = new Map();
// Alerts that arrived since the last announcement, for the tone and the notification.
let arrivedAlerts: Alert[] = [];

function renderTitle(): void {
  const signedIn = currentUser() !== null;
  const next = tabTitle(
    screenTitleText,
    signedIn ? unread.total() : 0,
    signedIn ? alertAttention(pendingAlerts) : null,
    signedIn ? unread.totalMentions() : 0,
  );
  writtenTitle = next;
  if (document.title !== next) document.title = next;
}

new MutationObserver(() => {
  if (document.title === writtenTitle) return;
  screenTitleText = screenTitle(document.title);
  renderTitle();
}).observe(document.head, { childList: true, subtree: true, characterData: true });
unread.subscribe(renderTitle);

function renderConsoleBadge(list: Alert[]): void {
  consoleBadge.textContent = String(list.length);
  consoleBadge.hidden = list.length === 0;
}

// ----- signing in and out -----
let stopRoomsFresh: (() => void) | null = null;

function startSession(): void {
  setUnauthorizedHandler(() => sessionEnded());
  connection.onUnauthorized = () => void renewOrEnd();
  connection.start();
  outbox.load();
  renderStatus();
  renderNav();
  void loadRooms().catch(() => {});
  stopRoomsFresh?.();
  stopRoomsFresh = keepRoomsFresh();
  // The worker that shows pushes on this device (asks nothing: the permission is asked only
  // from the Notifications screen).
  void registerServiceWorker();
}

function onSignedIn(newToken: string, user: Me, consent: ConsentRequired | null): void {
  // Messages still waiting from a previous sign-in in this tab are sent only as the same person.
  if (store.get<number | null>("owner", null) !== user.id) {
    store.remove("outbox");
    store.remove("mutes");
  }
  store.set("owner", user.id);
  signIn(newToken, user);
  // A notice to accept first: its screen, and nothing else (no socket, no rooms) until then.
  setConsentDue(consent);
  if (!consent) startSession();
  const back = store.get<string | null>("return_to", null);
  store.remove("return_to");
  navigate(back && back.startsWith("#/") && !back.startsWith("#/signin") ? back : "#/rooms");
}

/** The notice was accepted: the session starts, on the screen the address names. */
function onConsentAccepted(): void {
  setConsentDue(null);
  startSession();
  const hash = location.hash;
  navigate(!hash || hash.startsWith("#/signin") || hash.startsWith("#/register") ? "#/rooms" : hash);
}

/** The server says a notice waits (a new version since this tab signed in): its screen. */
function consentAsked(version: string): void {
  if (!token()) return;
  setConsentDue({ version });
  if (current?.node.classList.contains("consent")) return;
  connection.stop();
  stopRoomsFresh?.();
  stopRoomsFresh = null;
  route();
}
setConsentRequiredHandler(consentAsked);

/** The socket was refused its token: renewed when this device keeps the sign-in (its tokens
 * are short-lived), otherwise the sign-in has ended. */
async function renewOrEnd(): Promise<void> {
  if (await renewSignIn()) connection.reconnect();
  else sessionEnded();
}

/** The server no longer accepts the token (expired, revoked): back to sign in, keeping the
 * messages still waiting to be sent, which go out if the same person signs in again. */
function sessionEnded(): void {
  if (!token()) return;
  connection.stop();
  forgetSignIn();
  store.set("return_to", location.hash);
  resetAppState();
  route("Your sign-in has ended. Please sign in again.");
}

async function signOut(): Promise<void> {
  signOutButton.disabled = true;
  // A shared clinic computer: the next person must not get this person's notifications.
  if (pushSupported()) await unsubscribeThisBrowser().catch(() => null);
  await endSession();
  signOutButton.disabled = false;
  navigate("#/signin");
}
signOutButton.addEventListener("click", () => void signOut());

/** Sign out of this tab (as `Sign out` does) without going anywhere. */
async function endSession(): Promise<void> {
  // Give messages still on their way a moment to get out.
  const deadline = Date.now() + 3_000;
  while (outbox.pending() > 0 && connection.usable() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  connection.stop();
  // End the sign-in on the server too, so the token is worth nothing if it was copied; if the
  // server cannot be reached, the token is forgotten here all the same.
  await post("/api/auth/logout").catch(() => {});
  clearSession();
  outbox.clear();
  resetAppState();
}

/** A new password chosen with a reset code signs its owner in; to the room list, not to where
 * an earlier sign-in was sent back from. Someone signed in in this tab is signed out first. */
function onPasswordReset(newToken: string, user: Me, consent: ConsentRequired | null): void {
  void (async () => {
    if (token()) await endSession();
    store.remove("return_to");
    onSignedIn(newToken, user, consent);
  })();
}

function resetAppState(): void {
  stopRoomsFresh?.();
  stopRoomsFresh = null;
  forgetRooms();
  rooms.clear();
  unread.clear();
  alerts.clear();
  pendingAlerts = new Map();
  arrivedAlerts = [];
  clearBanners();
  renderStatus();
  renderNav();
  renderTitle();
}

// ----- notices and alerts -----
connection.on("notice", (notice: Notice) => {
  if (notice.kind === "crisis_resources") {
    showCrisisResources(notice);
    return;
  }
  const name = roomName(notice.room_id);
  if (notice.kind === "muted" || notice.kind === "unmuted") {
    if (notice.room_id !== undefined) rememberMute(notice.room_id, notice.kind === "muted" ? notice.until : null);
    // The room itself says so while it is open.
    if (notice.room_id !== undefined && notice.room_id === currentRoomId()) return;
  }
  const content = [h("p", null, noticeSentence(notice, name))];
  if ((notice.kind === "meeting_lobby_open" || notice.kind === "meeting_started") && notice.meeting_id !== undefined) {
    // The meeting's page: its call beside the chat of its room.
    content.push(h("p", null, h("a", { href: `#/meetings/${notice.meeting_id}` }, "Go to the meeting room")));
  }
  if (notice.kind === "support_opened" && notice.room_id !== undefined) {
    // A room that was not in the list a moment ago.
    void loadRooms().catch(() => {});
    content.push(h("p", null, h("a", { href: `#/rooms/${notice.room_id}` }, "Go to the private conversation")));
  }
  // One banner per meeting (lobby → started → ended replace each other) and per room notice kind.
  const key = notice.kind.startsWith("meeting_") ? `meeting:${notice.meeting_id ?? notice.room_id ?? ""}` : `${notice.kind}:${notice.room_id ?? ""}`;
  banner(content, { key, tone: notice.kind === "kicked" || notice.kind === "banned" ? "warn" : "info" });
  // What the person may enter changed: their account and room list are read again, and a
  // room of their old cohort, if open, closes.
  // A room archived by staff leaves the list, and the screen if it is open there.
  if (notice.kind === "room_archived") {
    void loadRooms().catch(() => {});
    if (notice.room_id !== undefined && notice.room_id === currentRoomId()) navigate("#/rooms");
  }
  if (notice.kind === "graduated" || notice.kind === "cohort_changed") {
    void get<{ user: Me }>("/api/me")
      .then((data) => {
        setUser(data.user);
        renderNav();
      })
      .catch(() => {});
    void loadRooms().catch(() => {});
    const open = currentRoomId();
    if (open !== null && rooms.get(open)?.audience === "cohort") navigate("#/rooms");
  }
});

// For staff, wherever they are: one banner (outside the console) about the newest alert and how
// many are open; the tab title starts with the alert until the console is on screen or the
// alert is acknowledged; a crisis alert also sounds a tone and shows a system notification.
let hideAlertBanner: (() => void) | null = null;
let alertBannerTimer: number | undefined;
let newestAlert: Alert | null = null;
// Open alerts arrive one by one on connect: say it once, for the newest, after they settle.
const ALERT_BANNER_SETTLE_MS = 300;

function onConsole(): boolean {
  return location.hash.startsWith("#/console");
}

/** The console is on screen: whatever alert it lists has been seen. */
function seeingConsole(): boolean {
  return onConsole() && document.visibilityState === "visible" && currentUser() !== null && isStaff();
}

function consoleSeen(): void {
  if (!seeingConsole() || pendingAlerts.size === 0) return;
  pendingAlerts = new Map();
  renderTitle();
}
document.addEventListener("visibilitychange", consoleSeen);

alerts.subscribe((list, added) => {
  renderConsoleBadge(list);
  pendingAlerts = pendingAfter(pendingAlerts, list, added, seeingConsole());
  renderTitle();
  if (list.length === 0) {
    window.clearTimeout(alertBannerTimer);
    newestAlert = null;
    arrivedAlerts = [];
    hideAlertBanner?.();
    hideAlertBanner = null;
    return;
  }
  if (!added) return;
  newestAlert = added;
  arrivedAlerts.push(added);
  window.clearTimeout(alertBannerTimer);
  alertBannerTimer = window.setTimeout(() => {
    announceAlerts();
    showAlertBanner();
  }, ALERT_BANNER_SETTLE_MS);
});

/** The tone and the system notification for the crisis alerts that just arrived (and are
 * still open); a report gets neither. */
function announceAlerts(): void {
  const open = new Set(alerts.list().map((alert) => alert.id));
  const arrived = arrivedAlerts.filter((alert) => open.has(alert.id));
  arrivedAlerts = [];
  const { tone, notify } = announcement(arrived);
  if (tone) playAlertTone();
  if (notify) showDesktopAlert(notify, () => navigate("#/console"));
}

// The tone may sound only after a click or key press in the page (staff, or before signing in).
unlockAudioOnFirstGesture(() => currentUser() === null || isStaff());

function showAlertBanner(): void {
  const latest = newestAlert;
  const open = alerts.list();
  if (!latest || open.length === 0 || location.hash.startsWith("#/console")) return;
  const where = roomName(latest.room_id);
  const who = latest.user?.display_name ?? "someone";
  const what = latest.kind === "crisis" ? `Crisis alert: ${who}` : `Reported message from ${who}`;
  const others = open.length - 1;
  hideAlertBanner = banner(
    [
      h(
        "p",
        null,
        h("strong", null, `${what}${where ? ` in ${where}` : ""}.`),
        others > 0 ? ` ${others} more open.` : "",
        " ",
        h("a", { href: "#/console" }, "Review alerts"),
      ),
    ],
    { key: "alerts", tone: "warn" },
  );
}

// ----- routing -----
let current: View | null = null;
let firstRender = true;

export function navigate(hash: string): void {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function notFoundView(): View {
  const node = h(
    "div",
    { class: "not-found" },
    heading("Page not found"),
    h("p", null, "There is no page at this address in peerrooms."),
    h("p", null, h("a", { href: "#/rooms" }, "Go to Rooms")),
  );
  return { title: "Page not found", node };
}

function route(message?: string): void {
  current?.cleanup?.();
  current = null;
  const hash = location.hash || "#/";
  const [path = "", query = ""] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const user = currentUser();
  const id = parts[1] !== undefined && /^\d+$/.test(parts[1]) ? Number(parts[1]) : null;
  let screenName = parts[0] ?? "home";
  let view: View;
  if (parts[0] === "reset" && parts.length === 1) {
    // Signed in or not: a person who forgot their password, with a code from staff.
    const signedIn = user !== null && token() !== null;
    view = resetView(onPasswordReset, new URLSearchParams(query).get("code") ?? "", signedIn ? user.display_name : undefined);
  } else if (!user || !token()) {
    if (parts[0] === "register") {
      view = registerView(onSignedIn, new URLSearchParams(query).get("code") ?? "");
    } else {
      if (parts[0] && parts[0] !== "signin") store.set("return_to", hash);
      if (parts[0] !== "signin") history.replaceState(null, "", "#/signin");
      view = signInView(onSignedIn, message);
    }
  } else if (consentDue() !== null) {
    screenName = "consent";
    view = consentView(onConsentAccepted, () => void signOut());
  } else if (parts[0] === "rooms" && id !== null && parts.length === 2) {
    // `?message=`: opened at that message (a search result).
    const openAt = new URLSearchParams(query).get("message") ?? "";
    view = roomView(id, () => navigate("#/rooms"), false, /^\d+$/.test(openAt) ? Number(openAt) : null);
  } else if (parts[0] === "search" && parts.length === 1) {
    view = searchView(query);
  } else if (parts[0] === "meetings" && parts.length === 1) {
    view = meetingsView();
  } else if (parts[0] === "meetings" && id !== null && parts.length === 2) {
    screenName = "meeting-room";
    view = meetingRoomView(id, () => navigate("#/meetings"));
  } else if (parts[0] === "notifications" && parts.length === 1) {
    view = notificationsView();
  } else if (parts[0] === "my-data" && parts.length === 1) {
    view = myDataView();
  } else if (parts[0] === "profile" && parts.length === 1) {
    view = profileView();
  } else if (parts[0] === "console" && parts.length === 1 && isStaff(user)) {
    hideAlertBanner?.();
    hideAlertBanner = null;
    view = consoleView();
    consoleSeen();
  } else if (parts[0] === "people" && parts.length === 1 && isStaff(user)) {
    view = peopleView(query);
  } else if (parts[0] === "people" && id !== null && parts.length === 2 && isStaff(user)) {
    view = personView(id);
  } else if (parts[0] === "invites" && parts.length === 1 && isStaff(user)) {
    view = invitesView();
  } else if (parts[0] === "program" && parts.length === 1 && isStaff(user)) {
    view = programView();
  } else if (parts.length === 0 || parts[0] === "signin" || parts[0] === "register" || (parts[0] === "rooms" && parts.length === 1)) {
    // Home, and the signed-out screens once signed in: the room list.
    if (parts[0] !== "rooms") history.replaceState(null, "", "#/rooms");
    screenName = "rooms";
    view = roomsView();
  } else {
    // Anything else (a mistyped address, a staff screen for a member): said, not papered over.
    screenName = "not-found";
    view = notFoundView();
  }
  current = view;
  screen.className = `screen screen-${screenName}${view.node.classList.contains("room-view") ? " screen-fill" : ""}`;
  replaceChildren(screen, view.node);
  screenTitleText = `${view.title}${TITLE_SEPARATOR}${APP_NAME}`;
  renderTitle();
  renderNav();
  renderStatus();
  if (!firstRender) {
    (screen.querySelector("h1") as HTMLElement | null)?.focus();
  }
  firstRender = false;
}

window.addEventListener("hashchange", () => route());

// ----- start -----
async function boot(): Promise<void> {
  // A new tab on a device that keeps the sign-in: renewed from its cookie, no sign-in asked.
  if (!token() && (await renewSignIn())) store.set("owner", currentUser()?.id ?? null);
  if (token() && currentUser()) {
    if (consentDue() === null) startSession();
    route();
    // Refresh who I am (a graduation or role change since the last page load), and whether a
    // new notice waits.
    try {
      const data = await get<{ user: Me; consent_required?: ConsentRequired | null }>("/api/me");
      setUser(data.user);
      if (data.consent_required) consentAsked(data.consent_required.version);
      renderNav();
    } catch {
      /* an expired token is handled by the unauthorized handler */
    }
  } else {
    forgetSignIn();
    route();
  }
}

void boot();
