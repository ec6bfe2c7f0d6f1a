// Messages on their way to the server. Each is kept in sessionStorage with its client_id until
// the server acks it, so neither a dropped connection, a lost ack nor a reload loses it; every
// (re)send uses the same client_id, and the server stores it once.
import { connection } from "./connection";
import { describe } from "./errors";
import { store } from "./session";
import type { Message, WireError } from "./types";

export type OutgoingState = "sending" | "queued" | "waiting" | "failed";

export interface Outgoing {
  client_id: string;
  room_id: number;
  body: string;
  created_at: string;
  state: OutgoingState;
  /** Plain-words reason a failed message was not sent. */
  error?: string;
  /** While slow mode or the rate limit holds it ("waiting"): when to try again (ms since epoch). */
  wait_until?: number;
  /** The message it replies to, and the people it mentions (server/rooms/replies.py). */
  reply_to?: number;
  mentions?: number[];
}

/** What a message refers to besides its text. */
export interface Addressing {
  reply_to?: number;
  mentions?: number[];
}

const KEY = "outbox";
// Codes after which trying the same message again later may work without the person doing
// anything: keep it and retry.
const TRANSIENT = new Set(["network", "timeout", "unavailable", "internal", "unauthorized"]);

type Listener = (event: OutboxEvent) => void;
export type OutboxEvent =
  | { type: "changed"; room_id: number }
  | { type: "sent"; message: Message; client_id: string }
  | { type: "refused"; room_id: number; error: WireError };

class Outbox {
  private items: Outgoing[] = [];
  private listeners = new Set<Listener>();
  private pumping = false;
  private waitTimer: number | undefined;

  constructor() {
    connection.on("usable", () => void this.pump());
  }

  /** Load what this tab still had to send (after a reload or a forced sign-in). */
  load(): void {
    this.items = store.get<Outgoing[]>(KEY, []).map((item) =>
      item.state === "sending" ? { ...item, state: "queued" } : item,
    );
    void this.pump();
  }

  clear(): void {
    this.items = [];
    window.clearTimeout(this.waitTimer);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  forRoom(roomId: number): Outgoing[] {
    return this.items.filter((item) => item.room_id === roomId);
  }

  pending(): number {
    return this.items.filter((item) => item.state !== "failed").length;
  }

  send(roomId: number, body: string, addressing: Addressing = {}): Outgoing {
    const item: Outgoing = {
      client_id: newClientId(),
      room_id: roomId,
      body,
      created_at: new Date().toISOString(),
      state: connection.usable() ? "sending" : "queued",
    };
    if (addressing.reply_to !== undefined) item.reply_to = addressing.reply_to;
    if (addressing.mentions?.length) item.mentions = [...addressing.mentions];
    this.items.push(item);
    this.changed(roomId);
    void this.pump();
    return item;
  }

  retry(clientId: string): void {
    const item = this.find(clientId);
    if (!item) return;
    item.state = connection.usable() ? "sending" : "queued";
    delete item.error;
    delete item.wait_until;
    // To the end of the line: it is sent after anything already waiting.
    this.items = [...this.items.filter((other) => other !== item), item];
    this.changed(item.room_id);
    void this.pump();
  }

  discard(clientId: string): void {
    const item = this.find(clientId);
    if (!item) return;
    this.items = this.items.filter((other) => other !== item);
    this.changed(item.room_id);
  }

  /** Someone else's copy of our message reached us (the live `message` event) first. */
  delivered(message: Message): void {
    if (!message.client_id) return;
    const item = this.find(message.client_id);
    if (item && item.room_id === message.room_id && item.state !== "failed") {
      this.items = this.items.filter((other) => other !== item);
      this.changed(item.room_id);
    }
  }

  private find(clientId: string): Outgoing | undefined {
    return this.items.find((item) => item.client_id === clientId);
  }

  /**
   * Send messages one at a time, in the order they were written. A message that slow mode or
   * the rate limit holds back waits on its own: the ones written after it are still sent at
   * once, because the server lets crisis language through every limit, and someone in crisis
   * must not wait an hour behind a message that slow mode holds.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const unsent = this.items.filter((candidate) => candidate.state !== "failed");
        if (unsent.length === 0) return;
        if (!connection.usable()) {
          this.markAll("queued");
          return;
        }
        const now = Date.now();
        const item = unsent.find((candidate) => (candidate.wait_until ?? 0) <= now);
        if (!item) {
          const soonest = Math.min(...unsent.map((candidate) => candidate.wait_until ?? now));
          window.clearTimeout(this.waitTimer);
          this.waitTimer = window.setTimeout(() => void this.pump(), soonest - now);
          return;
        }
        if (item.state !== "sending") {
          item.state = "sending";
          this.changed(item.room_id);
        }
        const ack = await connection.request<{ message: Message }>("send", {
          room_id: item.room_id,
          body: item.body,
          client_id: item.client_id,
          ...(item.reply_to !== undefined ? { reply_to: item.reply_to } : {}),
          ...(item.mentions?.length ? { mentions: item.mentions } : {}),
        });
        if (!this.items.includes(item)) continue; // discarded or delivered meanwhile
        if (ack.ok) {
          this.items = this.items.filter((other) => other !== item);
          this.changed(item.room_id);
          this.notify({ type: "sent", message: ack.message, client_id: item.client_id });
          continue;
        }
        const error = ack.error;
        if (error.code === "rate_limited" || error.code === "overloaded") {
          // Slow mode, the flood limit or a server at capacity: this one waits and is sent
          // then (the same client_id); the rest go on.
          item.state = "waiting";
          item.wait_until = Date.now() + Math.max(1, Number(error.retry_after_s ?? 1)) * 1000;
          this.notify({ type: "refused", room_id: item.room_id, error });
          this.changed(item.room_id);
          continue;
        }
        if (TRANSIENT.has(error.code)) {
          // Not connected, no answer, or the server is restarting: the same client_id again
          // once the connection is usable (right away if it still is, after a short pause).
          if (!connection.usable()) continue;
          await sleep(error.code === "timeout" ? 0 : 1_000);
          continue;
        }
        item.state = "failed";
        item.error = describe(error);
        this.changed(item.room_id);
        this.notify({ type: "refused", room_id: item.room_id, error });
      }
    } finally {
      this.pumping = false;
      this.save();
    }
  }

  private markAll(state: OutgoingState): void {
    const rooms = new Set<number>();
    for (const item of this.items) {
      if (item.state !== "failed" && item.state !== state) {
        item.state = state;
        rooms.add(item.room_id);
      }
    }
    for (const roomId of rooms) this.changed(roomId);
  }

  private changed(roomId: number): void {
    this.save();
    this.notify({ type: "changed", room_id: roomId });
  }

  private save(): void {
    store.set(KEY, this.items);
  }

  private notify(event: OutboxEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

function newClientId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  // crypto.randomUUID needs a secure context (https or localhost); fall back to random bytes.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export const outbox = new Outbox();
