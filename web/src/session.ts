// The sign-in lives in sessionStorage: closing the tab on a shared clinic computer signs out.
// Someone who chose "Keep me signed in on this device" also has an HttpOnly cookie that renews
// it (the page never sees it); localStorage only remembers that there is one to try.
import type { Me } from "./types";

const KEPT_KEY = "peerrooms.kept";

const TOKEN_KEY = "peerrooms.token";
const USER_KEY = "peerrooms.user";
const PREFIX = "peerrooms.";

let me: Me | null = readUser();

function readUser(): Me | null {
  try {
    const raw = sessionStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as Me) : null;
  } catch {
    return null;
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function currentUser(): Me | null {
  return me;
}

export function isStaff(user: { role: string } | null = me): boolean {
  return user !== null && (user.role === "moderator" || user.role === "admin");
}

export function signIn(newToken: string, user: Me): void {
  sessionStorage.setItem(TOKEN_KEY, newToken);
  setUser(user);
}

export function setUser(user: Me): void {
  me = user;
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

/** Forget the sign-in only; queued messages and drafts stay for the same person's next one. */
export function forgetSignIn(): void {
  me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

/** Whether this device may hold a cookie that renews the sign-in. */
export function keptOnDevice(): boolean {
  try {
    return localStorage.getItem(KEPT_KEY) === "1";
  } catch {
    return false;
  }
}

export function setKeptOnDevice(kept: boolean): void {
  try {
    if (kept) localStorage.setItem(KEPT_KEY, "1");
    else localStorage.removeItem(KEPT_KEY);
  } catch {
    /* unavailable: the next tab asks to sign in, as without the cookie */
  }
}

/** Forget everything this app kept in the tab: token, user, drafts, queued messages; and that
 * this device keeps the sign-in (signing out ends it on the server and deletes the cookie). */
export function clearSession(): void {
  me = null;
  setKeptOnDevice(false);
  const keys: string[] = [];
  for (let i = 0; i < sessionStorage.length; i += 1) {
    const key = sessionStorage.key(i);
    if (key && key.startsWith(PREFIX)) keys.push(key);
  }
  for (const key of keys) sessionStorage.removeItem(key);
}

/** sessionStorage that never throws (private modes, quota). */
export const store = {
  get<T>(key: string, fallback: T): T {
    try {
      const raw = sessionStorage.getItem(PREFIX + key);
      return raw === null ? fallback : (JSON.parse(raw) as T);
    } catch {
      return fallback;
    }
  },
  set(key: string, value: unknown): void {
    try {
      sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch {
      /* storage full or unavailable: the in-memory copy still works for this page */
    }
  },
  remove(key: string): void {
    try {
      sessionStorage.removeItem(PREFIX + key);
    } catch {
      /* ignore */
    }
  },
};
