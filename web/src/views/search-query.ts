// What a search is, as data: its address (so Back returns to its results), where a result
// leads, and what the status line says. No DOM, no I/O (search-query.test.ts).
import { pluralize } from "../format";
import type { PublicUser } from "../types";

export interface SnippetRun {
  text: string;
  match: boolean;
}

/** One result of GET /api/search. */
export interface SearchHit {
  message_id: number;
  room_id: number;
  room_name: string;
  author: PublicUser;
  created_at: string;
  snippet: SnippetRun[];
}

export interface SearchPage {
  results: SearchHit[];
  next_before: number | null;
}

export interface SearchQuery {
  q: string;
  roomId: number | null;
}

/** Results asked for at once. */
export const SEARCH_PAGE = 20;
/** What the server takes (server/rooms/search_models.py). */
export const MAX_QUERY_CHARS = 200;

/** The search's own address, so that Back from a result comes back to its results. */
export function searchHash(query: SearchQuery): string {
  const params = new URLSearchParams();
  if (query.q.trim()) params.set("q", query.q.trim());
  if (query.roomId !== null) params.set("room", String(query.roomId));
  const text = params.toString();
  return text ? `#/search?${text}` : "#/search";
}

/** The search an address's query string names. */
export function searchOf(queryString: string): SearchQuery {
  const params = new URLSearchParams(queryString);
  const room = params.get("room") ?? "";
  return { q: params.get("q") ?? "", roomId: /^\d+$/.test(room) ? Number(room) : null };
}

/** Where a result leads: its room, opened at the message. */
export function resultHash(hit: Pick<SearchHit, "room_id" | "message_id">): string {
  return `#/rooms/${hit.room_id}?message=${hit.message_id}`;
}

/** What the status line says once a search has answered. */
export function foundText(count: number, more: boolean): string {
  if (count === 0) return "No messages found.";
  return `${more ? "The newest " : ""}${pluralize(count, "message")} found${more ? "; more below." : "."}`;
}
