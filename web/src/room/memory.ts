// What this tab remembers about rooms between visits to them: their messages (so coming back to a
// room re-joins with `since`), how far each was marked read, mutes, the reaction set, and which
// room is open. Kept while the tab lives; forgotten on sign-out.
import { store } from "../session";
import type { Message } from "../types";

interface RememberedMessages {
  messages: readonly Message[];
  hasMore: boolean;
}

const remembered = new Map<number, RememberedMessages>();
/** The newest message id marked read, by room (only ever moves forward, unless a post failed). */
export const lastMarkedRead = new Map<number, number>();

// The server's defaults for `reaction_emojis`, replaced by the set a `join` ack carries.
let reactionChoices: readonly string[] = ["👍", "❤️", "🙏", "💪", "🤗", "😢", "😂", "🎉"];
let openRoomId: number | null = null;

export function rememberedMessages(roomId: number): RememberedMessages | undefined {
  return remembered.get(roomId);
}

export function rememberMessages(roomId: number, messages: readonly Message[], hasMore: boolean): void {
  remembered.set(roomId, { messages, hasMore });
}

/** After a kick or a ban: nothing of the room is kept. */
export function forgetMessages(roomId: number): void {
  remembered.delete(roomId);
}

export function knownReactions(): readonly string[] {
  return reactionChoices;
}

export function rememberReactions(choices: readonly string[]): void {
  reactionChoices = choices;
}

/** My mute in a room, as its ISO end time (kept in sessionStorage, so a reload keeps it). */
export function rememberedMute(roomId: number): string | null {
  return store.get<Record<string, string>>("mutes", {})[roomId] ?? null;
}

export function rememberMute(roomId: number, until: string | null | undefined): void {
  const mutes = store.get<Record<string, string>>("mutes", {});
  if (until) mutes[roomId] = until;
  else delete mutes[roomId];
  store.set("mutes", mutes);
}

export function currentRoomId(): number | null {
  return openRoomId;
}

export function setOpenRoom(roomId: number | null): void {
  openRoomId = roomId;
}

export function forgetRooms(): void {
  remembered.clear();
  lastMarkedRead.clear();
  openRoomId = null;
}
