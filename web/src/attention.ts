// Getting the attention of someone who is not looking at the tab: the tab title (the unread
// count, and for staff an open alert not yet seen), and the bookkeeping behind it. Pure
// functions only; main.ts, state.ts and notices.ts do the work with the browser.
import type { Alert, Message, Room, RoomActivity, RoomMention } from "./types";

export const APP_NAME = "peerrooms";
/** Each screen's title ends with this: "Rooms – peerrooms". */
export const TITLE_SEPARATOR = " – ";

// ----- the tab title -----

/** What the title starts with for staff while an alert waits to be seen: a crisis alert wins
 * over a report. */
export type AlertAttention = "crisis" | "report" | null;

export const ALERT_TITLE: Record<Exclude<AlertAttention, null>, string> = {
  crisis: "⚠ Crisis alert",
  report: "⚠ Reported message",
};

/** A count as the title and badges say it: "99+" above 99. */
export function countText(count: number): string {
  return count > 99 ? "99+" : String(Math.max(0, Math.floor(count)));
}

/** The tab's title: "⚠ Crisis alert – (3) Rooms – peerrooms", each part only when it applies;
 * "(@3)" when some of the unread messages mention me or reply to me. `screen` is the screen's
 * own title ("Rooms – peerrooms"). */
export function tabTitle(screen: string, unread: number, alert: AlertAttention, mentions = 0): string {
  let title = screen;
  if (unread > 0) title = `(${mentions > 0 ? "@" : ""}${countText(unread)}) ${title}`;
  if (alert) title = `${ALERT_TITLE[alert]}${TITLE_SEPARATOR}${title}`;
  return title;
}

const ALERT_PREFIX = new RegExp(`^(${Object.values(ALERT_TITLE).join("|")})${TITLE_SEPARATOR}`);
const COUNT_PREFIX = /^\(@?\d+\+?\) /;

/** The screen's own title, from a title that may carry tabTitle's additions. */
export function screenTitle(title: string): string {
  return title.replace(ALERT_PREFIX, "").replace(COUNT_PREFIX, "");
}

// ----- unread counts -----

/** One room's unread count (and how many of those mention me or reply to me), and the
 * numbers of the live changes to it (0: none): the last change of any kind, and the last time
 * it was read here. `through`: the newest message the server's figures held (the room list's
 * `last_message_id`), so activity the list counted already is not counted again. */
export interface UnreadEntry {
  count: number;
  mentions?: number;
  changed: number;
  read: number;
  through?: number;
}

export type UnreadEntries = ReadonlyMap<number, UnreadEntry>;

export function totalUnread(entries: UnreadEntries): number {
  let total = 0;
  for (const entry of entries.values()) total += entry.count;
  return total;
}

export function totalMentions(entries: UnreadEntries): number {
  let total = 0;
  for (const entry of entries.values()) total += entry.mentions ?? 0;
  return total;
}

/** The counts of `GET /api/rooms`, fetched after change number `since` was made. A room
 * changed live since then keeps what it learned: read here meanwhile, it counts only what came
 * after the read (the answer may be older than the read); only messages came, the larger of
 * the two (the answer may or may not hold them). Rooms not in the answer are gone. */
export function countsFetched(
  entries: UnreadEntries,
  fetched: readonly Pick<Room, "id" | "unread_count" | "mention_count" | "last_message_id">[],
  since: number,
): Map<number, UnreadEntry> {
  const next = new Map<number, UnreadEntry>();
  for (const room of fetched) {
    const count = room.unread_count ?? 0;
    const mentions = room.mention_count ?? 0;
    const known = entries.get(room.id);
    const through = Math.max(known?.through ?? 0, room.last_message_id ?? 0);
    if (!known || known.changed <= since) {
      next.set(room.id, { count, mentions, changed: known?.changed ?? 0, read: known?.read ?? 0, through });
    } else if (known.read > since) next.set(room.id, { ...known, through });
    else next.set(room.id, { ...known, count: Math.max(known.count, count), mentions: Math.max(known.mentions ?? 0, mentions), through });
  }
  return next;
}

/** Whether a `message` event adds to its room's unread count: another person's message, not
 * in the room the person is reading right now (open, on screen and scrolled to the newest). */
export function messageCounts(
  message: Pick<Message, "room_id" | "author" | "deleted">,
  where: { meId: number | null; readingRoomId: number | null },
): boolean {
  if (message.deleted) return false;
  if (where.meId !== null && message.author?.id === where.meId) return false;
  return message.room_id !== where.readingRoomId;
}

/** One more unread message in a room (`forMe`: it mentions me or replies to me): change
 * number `change`. */
export function messageArrived(entries: UnreadEntries, roomId: number, change: number, forMe = false): Map<number, UnreadEntry> {
  return added(entries, roomId, change, 1, forMe ? 1 : 0);
}

/** Whether a `room_activity` or `room_mention` adds to its room's counts: not in the room
 * being read right now (its messages come as `message`), and newer than what the room list
 * counted already. */
export function activityCounts(
  told: Pick<RoomActivity, "room_id" | "message_id">,
  entries: UnreadEntries,
  readingRoomId: number | null,
): boolean {
  if (told.room_id === readingRoomId) return false;
  return told.message_id > (entries.get(told.room_id)?.through ?? 0);
}

/** `room_activity`: `count` more unread messages in a room, change number `change`. */
export function activityArrived(entries: UnreadEntries, activity: RoomActivity, change: number): Map<number, UnreadEntry> {
  return added(entries, activity.room_id, change, Math.max(0, activity.count), 0);
}

/** `room_mention`: one of a room's unread messages mentions me or replies to me. */
export function mentionArrived(entries: UnreadEntries, mention: RoomMention, change: number): Map<number, UnreadEntry> {
  return added(entries, mention.room_id, change, 0, 1);
}

function added(entries: UnreadEntries, roomId: number, change: number, count: number, mentions: number): Map<number, UnreadEntry> {
  const next = new Map(entries);
  const known = entries.get(roomId);
  next.set(roomId, {
    count: (known?.count ?? 0) + count,
    mentions: (known?.mentions ?? 0) + mentions,
    changed: change,
    read: known?.read ?? 0,
    through: known?.through ?? 0,
  });
  return next;
}

/** The room was read up to its newest message here: change number `change`. */
export function roomRead(entries: UnreadEntries, roomId: number, change: number): Map<number, UnreadEntry> {
  const next = new Map(entries);
  next.set(roomId, { count: 0, mentions: 0, changed: change, read: change, through: entries.get(roomId)?.through ?? 0 });
  return next;
}

// ----- alerts for staff -----

/** The alerts that arrived while staff were not looking at the console, by id. */
export type PendingAlerts = ReadonlyMap<number, Alert["kind"]>;

/** The pending alerts after the open list changed: those still open stay, `added` (new, or
 * raised again) joins unless the console is on screen (`seeing`). Opening the console
 * clears them all (`new Map()`). */
export function pendingAfter(
  pending: PendingAlerts,
  open: readonly Pick<Alert, "id">[],
  added: Pick<Alert, "id" | "kind"> | null,
  seeing: boolean,
): Map<number, Alert["kind"]> {
  const ids = new Set(open.map((alert) => alert.id));
  const next = new Map([...pending].filter(([id]) => ids.has(id)));
  if (added && !seeing && ids.has(added.id)) next.set(added.id, added.kind);
  return next;
}

export function alertAttention(pending: PendingAlerts): AlertAttention {
  const kinds = new Set(pending.values());
  if (kinds.has("crisis")) return "crisis";
  return kinds.size > 0 ? "report" : null;
}

/** What to do about alerts that just arrived (one batch: those of a connect come together):
 * a crisis alert sounds and shows a system notification; a report does neither. */
export function announcement(arrived: readonly Pick<Alert, "id" | "kind" | "raise_count">[]): {
  tone: boolean;
  notify: DesktopAlert | null;
} {
  const crises = arrived.filter((alert) => alert.kind === "crisis");
  const newest = crises[crises.length - 1];
  return { tone: newest !== undefined, notify: newest ? desktopAlert(newest, crises.length) : null };
}

/** A system notification. It names nobody and quotes nothing: it may show on a screen others
 * see (a lock screen, a shared desk), so the details stay in the console. */
export interface DesktopAlert {
  title: string;
  body: string;
  /** One per alert and raising: the same alert delivered again (a reload, a reconnect)
   * replaces its notification quietly; raised again, it shows anew. */
  tag: string;
}

export function desktopAlert(alert: Pick<Alert, "id" | "raise_count">, crises = 1): DesktopAlert {
  return {
    title: `${ALERT_TITLE.crisis}${TITLE_SEPARATOR}${APP_NAME}`,
    body:
      crises > 1
        ? `${crises} crisis alerts need a moderator. Open the moderator console to review them.`
        : "A crisis alert needs a moderator. Open the moderator console to review it.",
    tag: `peerrooms-alert-${alert.id}-${alert.raise_count ?? 1}`,
  };
}
