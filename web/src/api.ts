// HTTP calls to /api with the bearer token; every failure becomes an ApiError in the
// contract's shape, so screens can say what went wrong in plain words.
import { setConsentDue, type ConsentRequired } from "./consent";
import { keptOnDevice, setKeptOnDevice, signIn, token } from "./session";
import type { Me, WireError } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly error: WireError;

  constructor(status: number, error: WireError) {
    super(error.message);
    this.status = status;
    this.error = error;
  }
}

/** Called when the server says the sign-in is no longer valid. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** Called when the server refuses for want of the consent notice's `version` accepted. */
let onConsentRequired: (version: string) => void = () => {};
export function setConsentRequiredHandler(handler: (version: string) => void): void {
  onConsentRequired = handler;
}

const READ_RETRY_MS = 300;

function networkError(): ApiError {
  return new ApiError(0, {
    code: "network",
    message: "The server could not be reached. Check your connection and try again.",
  });
}

const AUTH_PATHS = "/api/auth/";
const RENEW_PATH = "/api/auth/renew";

let renewing: Promise<boolean> | null = null;

/** A new token from this device's renewal cookie ("keep me signed in"); false when there is
 * none or it is no longer good. Tabs and calls that ask at once share one renewal. */
export function renewSignIn(): Promise<boolean> {
  if (!keptOnDevice()) return Promise.resolve(false);
  renewing ??= (async () => {
    try {
      const response = await fetch(RENEW_PATH, {
        method: "POST",
        headers: { Accept: "application/json", "X-Peerrooms-Renew": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) {
        // Refused: the cookie is gone (the answer deleted it). Unreachable: try again later.
        if (response.status === 401 || response.status === 403) setKeptOnDevice(false);
        return false;
      }
      const data = (await response.json()) as { token: string; user: Me; consent_required?: ConsentRequired | null };
      signIn(data.token, data.user);
      setConsentDue(data.consent_required);
      return true;
    } catch {
      return false;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const current = token();
  const response = await requestWith(current, method, path, body);
  if (response.ok || response.status !== 401 || !current || path.startsWith(AUTH_PATHS)) {
    return answerOrThrow(response, current, path);
  }
  // The token has run out (tokens of a kept sign-in are short-lived): renewed, asked again.
  if (await renewSignIn()) return answerOrThrow(await requestWith(token(), method, path, body), token(), path);
  return answerOrThrow(response, current, path);
}

async function requestWith(bearer: string | null, method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const send = (): Promise<Response> =>
    fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Cookies go only where the renewal cookie is read, set and deleted.
      credentials: path.startsWith(AUTH_PATHS) ? "same-origin" : "omit",
      cache: "no-store",
    });
  let response: Response;
  try {
    response = await send();
  } catch {
    // A read that met a dropped connection is asked once more (it changes nothing); a write
    // is not, as it may have been done: its screen says so and offers to try again.
    if (method !== "GET") throw networkError();
    await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
    try {
      response = await send();
    } catch {
      throw networkError();
    }
  }
  return response;
}

async function answerOrThrow(response: Response, current: string | null, path: string): Promise<Response> {
  if (response.ok) return response;
  let error: WireError = {
    code: "internal",
    message: `The server answered ${response.status}. Try again in a moment.`,
  };
  try {
    const data = (await response.json()) as { error?: WireError };
    if (data && data.error && typeof data.error.code === "string") error = data.error;
  } catch {
    /* not JSON: keep the generic sentence */
  }
  if (error.code === "unauthorized" && current && !path.startsWith(AUTH_PATHS)) {
    onUnauthorized();
  }
  if (error.code === "consent_required" && typeof error.version === "string") {
    onConsentRequired(error.version);
  }
  throw new ApiError(response.status, error);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await request(method, path, body);
  if (response.status === 204) return {} as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string): Promise<T> => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => api<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown): Promise<T> => api<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown): Promise<T> => api<T>("PUT", path, body);
export const del = <T>(path: string): Promise<T> => api<T>("DELETE", path);
