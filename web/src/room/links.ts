// Web addresses in what people write, made links safely. Only http:// and https:// addresses
// become links, shown whole as written (nothing shortened that would hide where it goes), opened
// in a new tab that cannot reach back to this one (rel="noopener noreferrer"); the link goes
// where the browser's own URL parser takes it (an IDN as punycode). Every other scheme
// (javascript:, data:, vbscript:, file:, ftp:, mailto:, …) stays text. Links are built as
// elements with text in them, never from markup, and the server fetches nothing: no previews.
import { h, type Child } from "../h";

export type LinkToken = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

// Where an address may begin (not inside a word, as in "xhttp://"), and what ends it: white
// space, and the characters that quote or delimit it in text (`"`, `<`, `>`, `` ` ``).
const CANDIDATE = /(?<![\p{L}\p{N}_])https?:\/\/[^\s<>"`]+/giu;
// Said after an address, not part of it: "see https://x.org." links https://x.org.
const TRAILING = new Set([".", ",", ";", ":", "!", "?", "'"]);
const OPENER: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
// Invisible characters that can make an address read as another (direction overrides and
// marks, zero-width joiners): such an address stays text.
const INVISIBLE = /[\u00AD\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;

/** The text cut into plain runs and links, in order; joined, the runs give the text back. */
export function linkTokens(text: string): LinkToken[] {
  const tokens: LinkToken[] = [];
  let at = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index ?? 0;
    const address = withoutTrailing(match[0]);
    const href = safeHref(address);
    if (href === null) continue;
    if (start > at) tokens.push({ kind: "text", text: text.slice(at, start) });
    tokens.push({ kind: "link", text: address, href });
    at = start + address.length;
  }
  if (at < text.length || tokens.length === 0) tokens.push({ kind: "text", text: text.slice(at) });
  return tokens;
}

/** The address without the punctuation after it, nor a closing bracket it did not open. */
export function withoutTrailing(candidate: string): string {
  let end = candidate.length;
  while (end > 0) {
    const last = candidate[end - 1];
    const opener = OPENER[last];
    const kept = candidate.slice(0, end);
    if (TRAILING.has(last) || (opener !== undefined && count(kept, last) > count(kept, opener))) {
      end -= 1;
    } else {
      break;
    }
  }
  return candidate.slice(0, end);
}

/** Where the address leads, as the URL parser has it; null when it must stay text. */
export function safeHref(address: string): string | null {
  if (INVISIBLE.test(address)) return null;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!/[\p{L}\p{N}]/u.test(url.hostname)) return null;
  // "https://bank.example@evil.example" goes to evil.example: a user name hides the host.
  if (url.username || url.password) return null;
  return url.href;
}

function count(text: string, char: string): number {
  let found = 0;
  for (const each of text) if (each === char) found += 1;
  return found;
}

/** One link, as an element with its address as text. */
export function linkElement(token: { text: string; href: string }): HTMLAnchorElement {
  return h("a", { href: token.href, target: "_blank", rel: "noopener noreferrer", class: "text-link" }, token.text);
}

/** The text with its addresses as links; `text` draws each plain run (as text by default). */
export function linked(body: string, text: (run: string) => Child = (run) => run): Child[] {
  return linkTokens(body).map((token) => (token.kind === "link" ? linkElement(token) : text(token.text)));
}
