// The service worker (web/public/sw.js, plain JavaScript served as it is) run against a
// stand-in of its global scope: where a notification's click leads, and what it does when the
// browser replaces its push subscription. The real browser runs the same code in
// tests/browser/test_push_click.py; here are the cases a browser cannot be made to produce.
import { describe, expect, it } from "vitest";
import source from "../public/sw.js?raw";

const ORIGIN = "https://peerrooms.example";

type Listener = (event: unknown) => void;

interface FakeWindow {
  url: string;
  focused: boolean;
  visibilityState: string;
  navigated: string[];
  controlled: boolean;
  focus(): Promise<FakeWindow>;
  navigate(url: string): Promise<FakeWindow>;
}

interface FakeSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string } | undefined;
  options: { applicationServerKey: ArrayBuffer | null };
  ended: boolean;
  toJSON(): { endpoint: string; keys?: { p256dh: string; auth: string } };
  unsubscribe(): Promise<boolean>;
}

interface Call {
  url: string;
  body: Record<string, unknown>;
  credentials: string | undefined;
}

/** One worker: sw.js evaluated with this scope as its `self`, `fetch` and `setTimeout`. */
function worker(options: { windows?: FakeWindow[]; answers?: (Response | Error)[] } = {}) {
  const listeners = new Map<string, Listener>();
  const opened: string[] = [];
  const fetched: Call[] = [];
  const waits: number[] = [];
  const subscribedWith: unknown[] = [];
  const answers = [...(options.answers ?? [])];
  let nextSubscription: FakeSubscription | null = null;
  const scope = {
    location: { origin: ORIGIN },
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
    skipWaiting: () => undefined,
    clients: {
      claim: async () => undefined,
      matchAll: async () => options.windows ?? [],
      openWindow: async (url: string) => {
        opened.push(url);
        return null;
      },
    },
    registration: {
      showNotification: async () => undefined,
      pushManager: {
        subscribe: async (asked: unknown) => {
          subscribedWith.push(asked);
          if (!nextSubscription) throw new Error("no push service");
          return nextSubscription;
        },
      },
    },
  };
  const fakeFetch = async (url: string, init: RequestInit) => {
    fetched.push({ url, body: JSON.parse(String(init.body)), credentials: init.credentials });
    const answer = answers.shift() ?? new Response(null, { status: 204 });
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const fakeTimeout = (callback: () => void, ms: number) => {
    waits.push(ms);
    callback();
  };
  new Function("self", "fetch", "setTimeout", source)(scope, fakeFetch, fakeTimeout);

  /** Dispatch an event to the worker's listener and wait for what it handed to waitUntil. */
  async function dispatch(type: string, fields: Record<string, unknown>): Promise<void> {
    const work: Promise<unknown>[] = [];
    listeners.get(type)?.({ ...fields, waitUntil: (promise: Promise<unknown>) => work.push(promise) });
    expect(work).toHaveLength(1);
    await work[0];
  }

  return {
    opened,
    fetched,
    waits,
    subscribedWith,
    willSubscribe(subscription: FakeSubscription | null) {
      nextSubscription = subscription;
    },
    click(url: unknown) {
      const notification = { data: { url }, closed: false, close() { this.closed = true; } };
      return dispatch("notificationclick", { notification }).then(() => notification);
    },
    change(oldSubscription: FakeSubscription | null, newSubscription: FakeSubscription | null) {
      return dispatch("pushsubscriptionchange", { oldSubscription, newSubscription });
    },
  };
}

function appWindow(route: string, state: Partial<FakeWindow> = {}): FakeWindow {
  const window: FakeWindow = {
    url: `${ORIGIN}/${route}`,
    focused: false,
    visibilityState: "hidden",
    navigated: [],
    controlled: true,
    async focus() {
      this.focused = true;
      return this;
    },
    async navigate(url: string) {
      if (!this.controlled) throw new TypeError("not controlled by this worker");
      this.navigated.push(url);
      this.url = url;
      return this;
    },
    ...state,
  };
  return window;
}

function subscription(name: string, key: ArrayBuffer | null = new Uint8Array([4, 1, 2]).buffer): FakeSubscription {
  return {
    endpoint: `https://fcm.googleapis.com/fcm/send/${name}`,
    keys: { p256dh: `p256dh-of-${name}`.padEnd(20, "x"), auth: `auth-of-${name}` },
    options: { applicationServerKey: key },
    ended: false,
    toJSON() {
      return this.keys ? { endpoint: this.endpoint, keys: this.keys } : { endpoint: this.endpoint };
    },
    async unsubscribe() {
      this.ended = true;
      return true;
    },
  };
}

function answer(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status });
}

describe("a click on a notification", () => {
  it("takes an open window of the app to the notification's screen, focused first", async () => {
    const other = appWindow("#/rooms", { visibilityState: "visible" });
    const focused = appWindow("#/console", { focused: true });
    const sw = worker({ windows: [other, focused] });
    const notification = await sw.click("#/meetings/5");
    expect(notification.closed).toBe(true);
    expect(focused.navigated).toEqual([`${ORIGIN}/#/meetings/5`]);
    expect(other.navigated).toEqual([]);
    expect(sw.opened).toEqual([]);
  });

  it("prefers a window in sight to one out of sight when none has focus", async () => {
    const hidden = appWindow("#/rooms");
    const visible = appWindow("#/rooms", { visibilityState: "visible" });
    const sw = worker({ windows: [hidden, visible] });
    await sw.click("#/rooms/3");
    expect(visible.navigated).toEqual([`${ORIGIN}/#/rooms/3`]);
    expect(hidden.navigated).toEqual([]);
  });

  it("opens a new window at the screen when none of the app is open", async () => {
    // Another site's window, and a page of this server that is not the app (a mail's link).
    const elsewhere = { ...appWindow("#/rooms"), url: "https://example.org/" };
    const mailPage = { ...appWindow(""), url: `${ORIGIN}/api/notifications/unsubscribe?u=1&t=x` };
    const sw = worker({ windows: [elsewhere, mailPage] });
    await sw.click("#/console");
    expect(sw.opened).toEqual([`${ORIGIN}/#/console`]);
    expect(elsewhere.navigated).toEqual([]);
    expect(mailPage.navigated).toEqual([]);
  });

  it("never leads outside the app: anything but an app route opens the room list", async () => {
    for (const url of [
      "https://example.org/#/rooms/1",
      "//example.org/#/rooms/1",
      "javascript:alert(1)",
      "#/rooms/1\\@example.org",
      "#/rooms/1 onload",
      "/#/rooms/1",
      "",
      null,
      42,
    ]) {
      const sw = worker();
      await sw.click(url);
      expect(sw.opened, String(url)).toEqual([`${ORIGIN}/#/rooms`]);
    }
  });

  it("leaves a window already at the screen as it is (a navigation could reload it)", async () => {
    const there = appWindow("#/meetings/5", { focused: true });
    const sw = worker({ windows: [there] });
    await sw.click("#/meetings/5");
    expect(there.navigated).toEqual([]);
    expect(sw.opened).toEqual([]);
  });

  it("opens a new window when the open one cannot be navigated from the worker", async () => {
    const uncontrolled = appWindow("#/rooms", { controlled: false });
    const sw = worker({ windows: [uncontrolled] });
    await sw.click("#/rooms/7");
    expect(sw.opened).toEqual([`${ORIGIN}/#/rooms/7`]);
  });
});

describe("a subscription the browser replaced", () => {
  it("hands the server the new one with the old one's endpoint and secret, and no sign-in", async () => {
    const sw = worker();
    const fresh = subscription("new");
    await sw.change(subscription("old"), fresh);
    expect(sw.fetched).toEqual([
      {
        url: "/api/push-subscriptions/replace",
        body: {
          old_endpoint: "https://fcm.googleapis.com/fcm/send/old",
          old_auth: "auth-of-old",
          subscription: fresh.toJSON(),
        },
        credentials: "omit",
      },
    ]);
    expect(fresh.ended).toBe(false);
  });

  it("subscribes again with the old one's server key when the browser gave no new one", async () => {
    const sw = worker();
    const old = subscription("old");
    const fresh = subscription("again");
    sw.willSubscribe(fresh);
    await sw.change(old, null);
    expect(sw.subscribedWith).toEqual([{ userVisibleOnly: true, applicationServerKey: old.options.applicationServerKey }]);
    expect(sw.fetched.map((call) => call.body.subscription)).toEqual([fresh.toJSON()]);
  });

  it("can do nothing without the old subscription, its secret, or a new one", async () => {
    const sw = worker();
    await sw.change(null, subscription("new"));
    const keyless = { ...subscription("old"), keys: undefined };
    await sw.change(keyless, subscription("new"));
    await sw.change(subscription("old", null), null); // no server key to subscribe again with
    sw.willSubscribe(null); // and the push service refuses a new one
    await sw.change(subscription("old"), null);
    expect(sw.fetched).toEqual([]);
  });

  it("ends the new subscription when the server will not push to it", async () => {
    for (const status of [404, 422]) {
      const sw = worker({ answers: [answer(status, { error: { code: "x", message: "x" } })] });
      const fresh = subscription("new");
      await sw.change(subscription("old"), fresh);
      expect(fresh.ended, String(status)).toBe(true);
    }
  });

  it("keeps it when someone else's, or when the server could not be reached", async () => {
    const conflict = answer(409, { error: { code: "conflict", message: "x" } });
    for (const reply of [conflict, new TypeError("network"), answer(500)]) {
      const sw = worker({ answers: [reply] });
      const fresh = subscription("new");
      await sw.change(subscription("old"), fresh);
      expect(fresh.ended).toBe(false);
    }
  });

  it("tries once more after a short wait when held up", async () => {
    const held = () => answer(429, { error: { code: "rate_limited", message: "x", retry_after_s: 6 } });
    const sw = worker({ answers: [held(), answer(204)] });
    await sw.change(subscription("old"), subscription("new"));
    expect(sw.fetched).toHaveLength(2);
    expect(sw.waits).toEqual([6000]);

    const twice = worker({ answers: [held(), held(), answer(204)] });
    await twice.change(subscription("old"), subscription("new"));
    expect(twice.fetched).toHaveLength(2);

    const long = answer(429, { error: { code: "rate_limited", message: "x", retry_after_s: 600 } });
    const patient = worker({ answers: [long] });
    await patient.change(subscription("old"), subscription("new"));
    expect(patient.fetched).toHaveLength(1);
    expect(patient.waits).toEqual([]);
  });
});
