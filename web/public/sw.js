// peerrooms' service worker: shows the server's Web Push messages (docs/notifications.md),
// opens the app where one points when it is clicked, and hands the server the new subscription
// when the browser replaces this one. Plain JavaScript, copied as it is to
// dist/sw.js and served at /sw.js, so its scope is the whole app. It handles no fetches: the
// app is never served from a cache, so nobody reads yesterday's messages.
"use strict";

const APP_NAME = "peerrooms";
const ICON = "/icons/icon-192.png";

self.addEventListener("install", () => {
  // A new version takes over at once: it only shows notifications.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  // Tabs already open come under this worker, so a click can take them to the right screen.
  event.waitUntil(self.clients.claim());
});

/** The app's hash route a push points to (`#/rooms/5`), or the room list for anything else. */
function appRoute(url) {
  return typeof url === "string" && /^#\/[A-Za-z0-9/?=&_.%-]*$/.test(url) ? url : "#/rooms";
}

/** What a push's payload `{title, body, url, tag, kind}` shows. A push always shows something:
 * the browser insists (userVisibleOnly), and a payload that cannot be read says so plainly. */
function notificationOf(payload) {
  const data = payload && typeof payload === "object" ? payload : {};
  const crisis = data.kind === "crisis_alert";
  const tag = typeof data.tag === "string" ? data.tag : "";
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    tag,
    icon: ICON,
    lang: "en",
    data: { url: appRoute(data.url) },
    // A crisis alert sounds again though one with its tag is still shown, and stays until
    // someone acts on it. (renotify needs a tag.)
    renotify: crisis && tag !== "",
    requireInteraction: crisis,
  };
  const title = typeof data.title === "string" && data.title ? data.title : APP_NAME;
  return { title, options };
}

function readPayload(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return { title: APP_NAME, body: "Something new is waiting for you." };
  }
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationOf(readPayload(event));
  event.waitUntil(self.registration.showNotification(title, options));
});

/** The address of the screen a notification opens: always this app's own page, at its route. */
function appAddress(url) {
  return new URL(`/${appRoute(url)}`, self.location.origin).href;
}

/** Of the open windows, the app's own (this origin's page at `/`; not, say, a mail link's
 * page on this server) to reuse: the focused one, else one in sight, else any. */
function appWindow(windows) {
  const app = windows.filter((each) => {
    const address = new URL(each.url);
    return address.origin === self.location.origin && address.pathname === "/";
  });
  return app.find((each) => each.focused) ?? app.find((each) => each.visibilityState === "visible") ?? app[0];
}

/** Close the notification and show its screen: in a window of the app already open (focused,
 * then taken to the route), else in a new one. */
async function openNotification(notification) {
  notification.close();
  const target = appAddress(notification.data && notification.data.url);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const client = appWindow(windows);
  if (!client) return self.clients.openWindow(target);
  // Focus first: a browser allows it only while the click is fresh.
  const focused = await client.focus().catch(() => client);
  // Already there (a reminder of the meeting one is in): nothing to do, and a navigation to
  // the very same address could reload the page, ending a call.
  if (focused.url === target) return focused;
  try {
    // A change of route only (the hash): the page stays, signed in, and its router follows.
    return await focused.navigate(target);
  } catch {
    // A window this worker does not control (opened before it was installed) cannot be
    // navigated from here: a new one is.
    return self.clients.openWindow(target);
  }
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(openNotification(event.notification));
});

// ----- a subscription the browser replaced -----

const REPLACE_URL = "/api/push-subscriptions/replace";
// A refusal for now (`rate_limited`) is tried once more after the wait, when the wait is this
// short: a browser keeps a worker going for a few minutes at most.
const LONGEST_RETRY_S = 60;

/** The push service ended this browser's subscription and the browser has (or can get) a new
 * one. The worker holds no sign-in (tokens live in the page's sessionStorage), so it proves
 * with the old subscription's `auth` secret, which only this browser and the server know, that
 * the new one takes the old one's place (server/notify/resubscribe.py). */
async function renewSubscription(oldSubscription, newSubscription) {
  const old = oldSubscription ? oldSubscription.toJSON() : null;
  // Some browsers give no old subscription: then nothing proves whose this browser is, and the
  // Notifications screen offers to turn notifications on again.
  if (!old || !old.endpoint || !old.keys || !old.keys.auth) return;
  const fresh = newSubscription ?? (await subscribeAgain(oldSubscription));
  if (!fresh) return;
  const body = JSON.stringify({ old_endpoint: old.endpoint, old_auth: old.keys.auth, subscription: fresh.toJSON() });
  const status = await postReplacement(body);
  // The server holds no such subscription (signed out, or expired and dropped) or cannot take
  // this one: a subscription nobody pushes to is ended, so the screen does not call it on.
  if (status === 404 || status === 422) await fresh.unsubscribe().catch(() => false);
}

/** The browser gave no new subscription: one with the same server key. */
async function subscribeAgain(oldSubscription) {
  const key = oldSubscription.options && oldSubscription.options.applicationServerKey;
  if (!key) return null;
  try {
    return await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  } catch {
    return null;
  }
}

/** The server's answer's status (0: not reached; the old subscription stays on the server
 * until a push to it fails, and the page hands over a fresh one when turned on again). */
async function postReplacement(body) {
  let response = await post(REPLACE_URL, body);
  const wait = response && response.status === 429 ? await retryAfter(response) : null;
  if (wait !== null && wait <= LONGEST_RETRY_S) {
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    response = await post(REPLACE_URL, body);
  }
  return response ? response.status : 0;
}

async function post(url, body) {
  try {
    return await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      // Nothing of a sign-in goes with it: the old subscription's secret is the proof.
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    return null;
  }
}

async function retryAfter(response) {
  try {
    const seconds = (await response.json()).error.retry_after_s;
    return typeof seconds === "number" && seconds >= 0 ? seconds : null;
  } catch {
    return null;
  }
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(renewSubscription(event.oldSubscription, event.newSubscription));
});
