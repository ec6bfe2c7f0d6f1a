// One Socket.IO connection per tab. socket.io-client reconnects by itself after a dropped
// transport; this module also reconnects after a server-side disconnect, treats the browser's
// own "offline" as disconnected (an open websocket may outlive the network in some browsers
// and test tools), and sends people back to sign in when the server refuses the token.
import { io, type Socket } from "socket.io-client";
import { backoffMs } from "./backoff";
import { token } from "./session";
import type { Ack, WireError } from "./types";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

type Listener = (payload: any) => void;

// How long an ack may take before the request counts as lost (and, for `send`, is retried
// with the same client_id).
export const ACK_TIMEOUT_MS = 10_000;
// After the server closed the connection itself, wait this long before connecting again, so a
// refusal loop cannot spin; longer after each refusal in a row (backoff.ts).
const SERVER_DISCONNECT_RETRY_MS = 1_500;
const SERVER_DISCONNECT_RETRY_MOST_MS = 10_000;

class Connection {
  private socket: Socket | null = null;
  private everConnected = false;
  private listeners = new Map<string, Set<Listener>>();
  private retryTimer: number | undefined;
  private refusals = 0;
  onUnauthorized: () => void = () => {};

  constructor() {
    window.addEventListener("online", () => {
      if (this.socket && !this.socket.connected && !this.socket.active) this.socket.connect();
      this.emitLocal("state", this.state());
      if (this.usable()) this.emitLocal("usable", null);
    });
    window.addEventListener("offline", () => this.emitLocal("state", this.state()));
  }

  start(): void {
    if (this.socket) return;
    this.everConnected = false;
    const socket = io({
      path: "/socket.io",
      auth: (cb) => cb({ token: token() ?? "" }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      randomizationFactor: 0.3,
      // Once a websocket has worked in this tab, reconnecting opens one at once instead of
      // long-polling first and upgrading: the handshake, the join and its catch-up then go
      // over the websocket, not as a dozen HTTP requests, each a round trip on a phone's
      // network. A websocket that fails with an error sends the next attempt back to
      // polling first, so a network that blocks websockets still gets in.
      rememberUpgrade: true,
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.everConnected = true;
      this.refusals = 0;
      this.emitLocal("state", this.state());
      this.emitLocal("connect", null);
      if (this.usable()) this.emitLocal("usable", null);
    });
    socket.on("disconnect", (reason) => {
      this.emitLocal("state", this.state());
      if (reason === "io server disconnect") this.scheduleReconnect();
    });
    socket.on("connect_error", (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code;
      if (code === "unauthorized") {
        this.onUnauthorized();
        return;
      }
      // A refusal of another kind (the server draining, say) is not retried by the client.
      if (!socket.active) this.scheduleReconnect();
      this.emitLocal("state", this.state());
    });
    socket.onAny((event: string, payload: unknown) => this.emitLocal(event, payload));
    this.emitLocal("state", this.state());
  }

  stop(): void {
    window.clearTimeout(this.retryTimer);
    if (this.socket) {
      this.socket.offAny();
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
    }
    this.emitLocal("state", this.state());
  }

  /** Connect again now, with the token as it is now (after a renewal). */
  reconnect(): void {
    if (this.socket && !this.socket.connected) this.socket.connect();
  }

  private scheduleReconnect(): void {
    window.clearTimeout(this.retryTimer);
    this.refusals += 1;
    const wait = backoffMs(this.refusals, SERVER_DISCONNECT_RETRY_MS, SERVER_DISCONNECT_RETRY_MOST_MS);
    this.retryTimer = window.setTimeout(() => {
      if (this.socket && !this.socket.connected) this.socket.connect();
    }, wait);
  }

  state(): ConnectionState {
    if (!navigator.onLine) return "offline";
    if (!this.socket) return "offline";
    if (this.socket.connected) return "connected";
    return this.everConnected ? "reconnecting" : "connecting";
  }

  /** Connected and the browser believes it is online: only then do we send. */
  usable(): boolean {
    return navigator.onLine && this.socket !== null && this.socket.connected;
  }

  /** Emit with an ack. Never throws: failures come back as `{ok:false}` with code `network`
   * (not connected) or `timeout` (no answer in time). */
  request<T>(event: string, data: unknown, timeoutMs = ACK_TIMEOUT_MS): Promise<Ack<T>> {
    const socket = this.socket;
    if (!socket || !this.usable()) {
      return Promise.resolve({ ok: false, error: notConnected() });
    }
    return new Promise((resolve) => {
      socket.timeout(timeoutMs).emit(event, data, (err: Error | null, ack: Ack<T>) => {
        if (err) resolve({ ok: false, error: timedOut() });
        else if (!ack || typeof ack !== "object") resolve({ ok: false, error: timedOut() });
        else resolve(ack);
      });
    });
  }

  /** Fire and forget (typing). */
  emit(event: string, data: unknown): void {
    if (this.socket && this.usable()) this.socket.emit(event, data);
  }

  on(event: string, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set?.delete(listener);
  }

  private emitLocal(event: string, payload: unknown): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        console.error(`peerrooms: ${event} handler failed`, error);
      }
    }
  }
}

function notConnected(): WireError {
  return {
    code: "network",
    message: "You are not connected right now. It will be sent when the connection is back.",
  };
}

function timedOut(): WireError {
  return { code: "timeout", message: "The server did not answer in time. Try again." };
}

export const connection = new Connection();
