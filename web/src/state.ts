// What several screens share: the rooms I may enter and their unread counts, and (staff) the
// open alerts.
import { get } from "./api";
import {
  activityArrived,
  activityCounts,
  countsFetched,
  mentionArrived,
  messageArrived,
  messageCounts,
  roomRead,
  totalMentions,
  totalUnread,
  type UnreadEntry,
} from "./attention";
import { connection } from "./connection";
import { addressesMe } from "./room/replies";
import { currentUser } from "./session";
import type { Alert, Message, Room, RoomActivity, RoomMention } from "./types";

export const rooms = new Map<number, Room>();

type RoomsListener = (rooms: Room[]) => void;
const roomsListeners = new Set<RoomsListener>();

/** Read the room list (and with it every unread count) again; screens showing rooms hear of it
 * through onRoomsLoaded. */
export async function loadRooms(): Promise<Room[]> {
  const since = unread.mark();
  const data = await get<{ rooms: Room[] }>("/api/rooms");
  rooms.clear();
  for (const room of data.rooms) rooms.set(room.id, room);
  unread.fetched(data.rooms, since);
  for (const listener of [...roomsListeners]) listener(data.rooms);
  return data.rooms;
}

export function onRoomsLoaded(listener: RoomsListener): () => void {
  roomsListeners.add(listener);
  return () => roomsListeners.delete(listener);
}

export function roomName(id: number | null | undefined): string | undefined {
  return id === null || id === undefined ? undefined : rooms.get(id)?.name;
}

// ----- unread counts: one place for the whole tab -----

/** Every room's unread count. The server's figures (GET /api/rooms, read again by
 * keepRoomsFresh) are the base; a `message` event of someone else adds one unless its room is
 * being read on screen, and reading a room here sets it to none. A socket gets `message`
 * events only for the room it joined (the open one); of the other rooms it gets
 * `room_activity` (how many new messages) and `room_mention` (one of them is for me), which
 * add to their counts at once. */
class UnreadStore {
  private entries = new Map<number, UnreadEntry>();
  private listeners = new Set<() => void>();
  // Each live change gets the next number, so a list fetched meanwhile does not undo it.
  private changes = 0;
  private reading: { roomId: number; now: () => boolean } | null = null;

  constructor() {
    connection.on("message", (message: Message) => {
      const meId = currentUser()?.id ?? null;
      if (!messageCounts(message, { meId, readingRoomId: this.readingRoomId() })) return;
      this.entries = messageArrived(this.entries, message.room_id, ++this.changes, addressesMe(message, meId));
      this.notify();
    });
    connection.on("room_activity", (activity: RoomActivity) => {
      if (!activityCounts(activity, this.entries, this.readingRoomId())) return;
      this.entries = activityArrived(this.entries, activity, ++this.changes);
      this.notify();
    });
    connection.on("room_mention", (mention: RoomMention) => {
      if (!activityCounts(mention, this.entries, this.readingRoomId())) return;
      this.entries = mentionArrived(this.entries, mention, ++this.changes);
      this.notify();
    });
  }

  private readingRoomId(): number | null {
    return this.reading?.now() ? this.reading.roomId : null;
  }

  count(roomId: number): number {
    return this.entries.get(roomId)?.count ?? 0;
  }

  total(): number {
    return totalUnread(this.entries);
  }

  /** Of the unread messages of a room, those that mention me or reply to me. */
  mentions(roomId: number): number {
    return this.entries.get(roomId)?.mentions ?? 0;
  }

  totalMentions(): number {
    return totalMentions(this.entries);
  }

  /** Call before fetching the room list; pass the answer to `fetched` with the list. */
  mark(): number {
    return this.changes;
  }

  fetched(list: readonly Room[], since: number): void {
    this.entries = countsFetched(this.entries, list, since);
    this.notify();
  }

  /** The room was marked read up to its newest message. */
  read(roomId: number): void {
    this.entries = roomRead(this.entries, roomId, ++this.changes);
    this.notify();
  }

  /** The open room says whether it is being read right now (on screen, at its newest
   * message): its messages then count as read. Returns the way to stop. */
  watch(roomId: number, readingNow: () => boolean): () => void {
    const watching = { roomId, now: readingNow };
    this.reading = watching;
    return () => {
      if (this.reading === watching) this.reading = null;
    };
  }

  clear(): void {
    this.entries = new Map();
    this.reading = null;
    this.notify();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export const unread = new UnreadStore();

// While signed in, on every screen, the room list is read again this often while the tab is on
// screen, and less often while it is not. Unread counts move live (the events above): this is
// for the exact figures, online counts and rooms opened or closed to me.
export const ROOMS_REFRESH_MS = 60_000;
export const ROOMS_REFRESH_HIDDEN_MS = 120_000;

/** Keep the room list and unread counts fresh: every ROOMS_REFRESH_MS (ROOMS_REFRESH_HIDDEN_MS
 * while the tab is hidden), on every (re)connect and when the tab comes back into view.
 * Returns the way to stop. */
export function keepRoomsFresh(): () => void {
  let last = Date.now();
  const refresh = (): void => {
    last = Date.now();
    void loadRooms().catch(() => {});
  };
  const timer = window.setInterval(() => {
    const visible = document.visibilityState === "visible";
    if (visible || Date.now() - last >= ROOMS_REFRESH_HIDDEN_MS - 1_000) refresh();
  }, ROOMS_REFRESH_MS);
  const offConnect = connection.on("connect", refresh);
  const onVisible = (): void => {
    if (document.visibilityState === "visible") refresh();
  };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    window.clearInterval(timer);
    offConnect();
    document.removeEventListener("visibilitychange", onVisible);
  };
}

// ----- open alerts (moderators and admins) -----

type AlertListener = (alerts: Alert[], added: Alert | null) => void;

class AlertStore {
  private alerts = new Map<number, Alert>();
  private listeners = new Set<AlertListener>();
  // Each live change (an alert raised, acknowledged or removed here) gets the next number, so
  // a list fetched meanwhile does not undo what happened after the fetch was sent.
  private changes = 0;
  private changedAt = new Map<number, number>();

  constructor() {
    connection.on("alert", (alert: Alert) => {
      // New: not known here, or raised again since (the same raising delivered again on a
      // reconnect is not news).
      const known = this.alerts.get(alert.id);
      const isNew = !known || (alert.raise_count ?? 1) > (known.raise_count ?? 1);
      this.alerts.set(alert.id, alert);
      this.changedAt.set(alert.id, ++this.changes);
      this.notify(isNew ? alert : null);
    });
    connection.on("alert_acknowledged", (alert: Alert) => this.remove(alert.id));
  }

  list(): Alert[] {
    return [...this.alerts.values()].sort((a, b) => a.id - b.id);
  }

  /** Call before fetching the open alerts; pass the answer to replaceAll with the fetch. */
  mark(): number {
    return this.changes;
  }

  /** The open alerts as fetched; a live change since `since` (mark()) wins over the fetch. */
  replaceAll(alerts: Alert[], since = Number.POSITIVE_INFINITY): void {
    const changedLive = (id: number): boolean => (this.changedAt.get(id) ?? -1) > since;
    const next = new Map<number, Alert>();
    for (const [id, alert] of this.alerts) if (changedLive(id)) next.set(id, alert);
    for (const alert of alerts) {
      const open = alert.status === undefined || alert.status === "open";
      if (open && !changedLive(alert.id)) next.set(alert.id, alert);
    }
    this.alerts = next;
    this.notify(null);
  }

  remove(id: number): void {
    this.changedAt.set(id, ++this.changes);
    if (this.alerts.delete(id)) this.notify(null);
  }

  clear(): void {
    this.alerts.clear();
    this.notify(null);
  }

  subscribe(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(added: Alert | null): void {
    const list = this.list();
    for (const listener of [...this.listeners]) listener(list, added);
  }
}

export const alerts = new AlertStore();
