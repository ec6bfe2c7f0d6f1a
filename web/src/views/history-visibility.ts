// A room's history visibility (server/rooms/visibility.py) in the words staff choose it by:
// from when members, staff aside, may read what was said in the room.
import type { HistoryVisibility, Room } from "../types";

export const HISTORY_VISIBILITIES: readonly HistoryVisibility[] = ["since_joined", "since_session", "all"];

/** The choices as a select shows them. */
export const HISTORY_TEXT: Record<HistoryVisibility, string> = {
  since_joined: "From when each member joined",
  since_session: "The current session only",
  all: "Everything, for every member",
};

export const HISTORY_LABEL = "Earlier messages members can read";

export const HISTORY_HINT =
  "Someone who joins later sees what was said from when they joined (their cohort, or graduation for alumni rooms), " +
  "from when the current session's lobby opened, or everything. Moderators and admins always see everything. " +
  "A change applies the next time anyone opens the room.";

/** What a room of this kind gets when none is chosen (as the server decides it). */
export function defaultHistoryVisibility(kind: string): HistoryVisibility {
  if (kind === "group") return "since_joined";
  if (kind === "meeting") return "since_session";
  return "all";
}

/** The room's visibility: its own, or its kind's default from a server that does not say. */
export function historyVisibilityOf(room: Pick<Room, "kind" | "history_visibility"> | undefined): HistoryVisibility {
  if (!room) return "all";
  return room.history_visibility ?? defaultHistoryVisibility(room.kind);
}

/** The create form's "default" choice, named after what it gives for the kind chosen. */
export function defaultChoiceText(kind: string): string {
  return `Default for this kind: ${HISTORY_TEXT[defaultHistoryVisibility(kind)].toLowerCase()}`;
}
