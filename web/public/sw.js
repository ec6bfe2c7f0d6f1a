// peerrooms' service worker: shows the server's Web Push messages (docs/notifications.md) and
// opens the app where one points when it is clicked. Plain JavaScript, copied as it is to
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

/** Close the notification and show its screen: in a window of the app already open (focused,
 * then taken to the route), else in a new one. */
async function openNotification(notification) {
  notification.close();
  const target = new URL(`/${appRoute(notification.data && notification.data.url)}`, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const mine = windows.filter((client) => new URL(client.url).origin === self.location.origin);
  const client = mine.find((each) => each.focused) ?? mine.find((each) => each.visibilityState === "visible") ?? mine[0];
  if (!client) return self.clients.openWindow(target);
  // Focus first: a browser allows it only while the click is fresh.
  const focused = await client.focus().catch(() => client);
  try {
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
