// Web Push in this browser (docs/notifications.md): the service worker that shows pushes
// (web/public/sw.js, served at /sw.js) and this browser's subscription, which the server keeps
// for the person who turned it on. The browser's permission is asked only from a click.
import { api, get, post } from "./api";
import type { NotificationSettings } from "./types";

const WORKER_URL = "/sw.js";
// How long to wait for the worker to be ready before saying it did not start.
const READY_MS = 10_000;

/** Why turning notifications on did not work. */
export type PushFailure = "unsupported" | "denied" | "dismissed" | "no-worker" | "failed";

export class PushError extends Error {
  readonly reason: PushFailure;

  constructor(reason: PushFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** This browser can take pushes here: a service worker, the Push API and notifications, on a
 * secure page (https, or this computer). */
export function pushSupported(): boolean {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

// ----- the service worker -----

let registering: Promise<ServiceWorkerRegistration | null> | null = null;

/** Register the service worker (once per tab; done after signing in). It shows pushes and
 * handles their clicks, nothing else: it never answers a request from a cache. */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return Promise.resolve(null);
  registering ??= navigator.serviceWorker.register(WORKER_URL, { scope: "/" }).catch(() => {
    // Not here (a private window that forbids workers, a network cut): tried again next time.
    registering = null;
    return null;
  });
  return registering;
}

async function readyRegistration(): Promise<ServiceWorkerRegistration> {
  const registered = await registerServiceWorker();
  let timer: number | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = window.setTimeout(() => resolve(null), READY_MS);
  });
  const ready = registered ? await Promise.race([navigator.serviceWorker.ready, timeout]) : null;
  window.clearTimeout(timer);
  if (!ready) {
    throw new PushError("no-worker", "Notifications could not start in this browser. Reload the page and try again.");
  }
  return ready;
}

async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration("/");
  return registration ? registration.pushManager.getSubscription() : null;
}

/** This browser holds a push subscription (whoever turned it on). */
export async function thisBrowserSubscribed(): Promise<boolean> {
  try {
    return (await currentSubscription()) !== null;
  } catch {
    return false;
  }
}

// ----- turning pushes on and off -----

/** Ask for the permission (call this from a click, never on page load), subscribe with the
 * server's key and hand the subscription to the server, which answers my settings. A
 * subscription the server cannot take is dropped again, so the browser and server agree. */
export async function subscribeThisBrowser(): Promise<NotificationSettings> {
  if (!pushSupported()) throw new PushError("unsupported", "This browser cannot show notifications from peerrooms.");
  // Asked first, before anything is awaited: some browsers allow the question only straight
  // from the click.
  const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
  if (permission === "denied") {
    throw new PushError("denied", "Notifications are blocked for peerrooms in this browser's settings.");
  }
  if (permission !== "granted") {
    throw new PushError("dismissed", "Notifications were not allowed. Press the button again to be asked again.");
  }
  const registration = await readyRegistration();
  const { public_key } = await get<{ public_key: string }>("/api/push/key");
  const key = base64UrlToBytes(public_key);
  // One held already (the server dropped it as expired, someone else in this browser turned it
  // on since, the server's key changed): ended, and a fresh one made.
  const held = await registration.pushManager.getSubscription();
  if (held) await forget(held);
  let subscription: PushSubscription;
  try {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  } catch {
    throw new PushError(
      "failed",
      "This browser could not turn on notifications: it may be a private window, or its push service cannot be reached right now. Try again later.",
    );
  }
  try {
    const data = await post<{ notifications: NotificationSettings }>("/api/me/push-subscriptions", subscription.toJSON());
    return data.notifications;
  } catch (err) {
    await subscription.unsubscribe().catch(() => false);
    throw err;
  }
}

/** Stop pushes to this browser: its subscription ends here (so nothing more shows) and the
 * server forgets it. Answers my settings, or null when the server could not be told (it drops
 * the dead subscription at the next push all the same). */
export async function unsubscribeThisBrowser(): Promise<NotificationSettings | null> {
  const subscription = await currentSubscription();
  return subscription ? forget(subscription) : null;
}

async function forget(subscription: PushSubscription): Promise<NotificationSettings | null> {
  const endpoint = subscription.endpoint;
  await subscription.unsubscribe().catch(() => false);
  try {
    // The server forgets it only if it is mine.
    const data = await api<{ notifications: NotificationSettings }>("DELETE", "/api/me/push-subscriptions", { endpoint });
    return data.notifications;
  } catch {
    return null;
  }
}

// ----- where this browser stands, for the Notifications screen -----

/** `on`/`off` for this browser; `denied`: blocked in the browser's settings; `home-screen`: an
 * iPhone or iPad, where pushes reach only an app added to the Home Screen; `unsupported`. */
export type DeviceState = "on" | "off" | "denied" | "home-screen" | "unsupported";

export interface DeviceFacts {
  supported: boolean;
  permission: NotificationPermission;
  subscribed: boolean;
  /** The server's count of my browsers: 0 means it dropped this one (expired, or someone else
   * turned notifications on in this browser since). */
  serverDevices: number;
  appleMobile: boolean;
  standalone: boolean;
}

export function deviceState(facts: DeviceFacts): DeviceState {
  if (!facts.supported) return facts.appleMobile && !facts.standalone ? "home-screen" : "unsupported";
  if (facts.permission === "denied") return "denied";
  return facts.permission === "granted" && facts.subscribed && facts.serverDevices > 0 ? "on" : "off";
}

/** An iPhone or iPad (iPadOS calls itself a Mac, with a touch screen). */
export function isAppleMobile(userAgent: string, platform: string, maxTouchPoints: number): boolean {
  return /iPhone|iPad|iPod/.test(userAgent) || (platform === "MacIntel" && maxTouchPoints > 1);
}

/** Opened as an installed app (from the Home Screen), not in a browser tab. */
function standalone(): boolean {
  const apple = (navigator as Navigator & { standalone?: boolean }).standalone === true;
  return apple || (typeof matchMedia === "function" && matchMedia("(display-mode: standalone)").matches);
}

export async function thisDevice(serverDevices: number): Promise<DeviceState> {
  const supported = pushSupported();
  return deviceState({
    supported,
    permission: supported ? Notification.permission : "default",
    subscribed: supported && (await thisBrowserSubscribed()),
    serverDevices,
    appleMobile: isAppleMobile(navigator.userAgent, navigator.platform ?? "", navigator.maxTouchPoints ?? 0),
    standalone: standalone(),
  });
}

// ----- keys -----

/** base64url (with or without padding) to bytes: the server's key for `applicationServerKey`. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
