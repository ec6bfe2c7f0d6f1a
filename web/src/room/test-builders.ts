// What the room's unit tests build their messages from (not part of the app).
import type { Message, PublicUser } from "../types";

export const ROOM_ID = 7;

/** Message `id` by `author` in room ROOM_ID, as the server sends one; `extra` changes any field. */
export function messageBy(author: PublicUser, id: number, extra: Partial<Message> = {}): Message {
  return {
    id,
    room_id: ROOM_ID,
    author,
    body: `message ${id}`,
    client_id: null,
    created_at: "2026-03-01T11:00:00Z",
    edited_at: null,
    deleted: false,
    reactions: {},
    ...extra,
  };
}
