// Shapes the moderator console reads that types.ts does not name (docs/api/).
import type { AuditEntry, PublicUser } from "./types";

/** A mute or ban in force in a room (GET /api/rooms/{id}/mutes and /bans). `until` null: until
 * a moderator lifts it. */
export interface RoomRestriction {
  id: number;
  kind: "mute" | "ban";
  room_id: number;
  user: PublicUser | null;
  reason: string;
  created_by: PublicUser | null;
  created_at: string;
  until: string | null;
}

/** GET /api/audit: a page, newest first; `next_before` pages back (null: nothing older). */
export interface AuditPage {
  entries: AuditEntry[];
  next_before: number | null;
}

/** The audit log's filters as the API takes them; an empty string is no filter. `since` is
 * inclusive and `until` exclusive, both UTC ("2026-11-23T06:00:00Z"). */
export interface AuditFilters {
  user_id: string;
  room_id: string;
  action: string;
  since: string;
  until: string;
}
