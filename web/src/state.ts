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

  constructor() {
    connection.on("alert", (alert: Alert) => {
      const isNew = !this.alerts.has(alert.id) || (alert.raise_count ?? 1) > 1;
      this.alerts.set(alert.id, alert);
      this.notify(isNew ? alert : null);
    });
    connection.on("alert_acknowledged", (alert: Alert) => this.remove(alert.id));
  }

  list(): Alert[] {
    return [...this.alerts.values()].sort((a, b) => a.id - b.id);
  }

  replaceAll(alerts: Alert[]): void {
    this.alerts.clear();
    for (const alert of alerts) if (alert.status === undefined || alert.status === "open") this.alerts.set(alert.id, alert);
    this.notify(null);
  }

  remove(id: number): void {
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
