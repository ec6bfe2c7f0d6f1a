// What several screens share: the rooms I may enter, and (staff) the open alerts.
import { get } from "./api";
import { connection } from "./connection";
import type { Alert, Room } from "./types";

export const rooms = new Map<number, Room>();

export async function loadRooms(): Promise<Room[]> {
  const data = await get<{ rooms: Room[] }>("/api/rooms");
  rooms.clear();
  for (const room of data.rooms) rooms.set(room.id, room);
  return data.rooms;
}

export function roomName(id: number | null | undefined): string | undefined {
  return id === null || id === undefined ? undefined : rooms.get(id)?.name;
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
      const isNew = !this.alerts.has(alert.id) || (alert.raise_count ?? 1) > 1;
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
