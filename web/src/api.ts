// HTTP calls to /api with the bearer token; every failure becomes an ApiError in the
// contract's shape, so screens can say what went wrong in plain words.
import { token } from "./session";
import type { WireError } from "./types";

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

const READ_RETRY_MS = 300;

function networkError(): ApiError {
  return new ApiError(0, {
    code: "network",
    message: "The server could not be reached. Check your connection and try again.",
  });
}

export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const send = (): Promise<Response> =>
    fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
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
  if (error.code === "unauthorized" && current && !path.startsWith("/api/auth/")) {
    onUnauthorized();
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
