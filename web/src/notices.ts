// `notice` events and other things said to the whole screen: the crisis-resources dialog, and
// banners (each an `alert`) in plain sentences.
import { openDialog, type DialogHandle } from "./dialog";
import { h, type Child } from "./h";
import { untilPhrase } from "./format";
import type { Notice } from "./types";

let area: HTMLElement | null = null;
let crisis: DialogHandle | null = null;
// How to take each keyed banner away.
const removers = new Map<string, () => void>();

export function setNoticeArea(element: HTMLElement): void {
  area = element;
}

/** Show a banner with role="alert" and a way to hide it. Returns a function that removes it. */
export function banner(content: Child[], options: { key?: string; tone?: "info" | "warn" } = {}): () => void {
  if (!area) return () => {};
  const key = options.key;
  if (key) {
    area.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  }
  const remove = (): void => {
    if (key && removers.get(key) === remove) removers.delete(key);
    if (!el.isConnected) return;
    const hadFocus = el.contains(document.activeElement);
    const next = el.nextElementSibling ?? el.previousElementSibling;
    el.remove();
    if (hadFocus) {
      const target = next?.querySelector("button") ?? document.querySelector("main h1");
      (target as HTMLElement | null)?.focus();
    }
  };
  const el = h(
    "div",
    { role: "alert", class: `banner banner-${options.tone ?? "info"}`, "data-key": options.key },
    h("div", { class: "banner-text" }, ...content),
    h("button", { type: "button", class: "banner-close small", onclick: remove }, "Hide notice"),
  );
  area.appendChild(el);
  if (key) removers.set(key, remove);
  return remove;
}

/** Take away the banner shown under `key`, when a screen now says the same thing itself. */
export function removeBanner(key: string): void {
  removers.get(key)?.();
}

export function clearBanners(): void {
  removers.clear();
  if (area) while (area.firstChild) area.removeChild(area.firstChild);
}

// "Call or text 988", "1-800-662-4357 (free, ...)", "Call 911": the numbers become tel: links.
const PHONE = /\+?\d[\d\s().-]*\d/g;

export function contactWithLinks(contact: string): Child[] {
  const parts: Child[] = [];
  let last = 0;
  for (const match of contact.matchAll(PHONE)) {
    const text = match[0];
    const digits = text.replace(/[^\d+]/g, "");
    if (digits.replace("+", "").length < 3) continue;
    const start = match.index ?? 0;
    parts.push(contact.slice(last, start));
    parts.push(h("a", { href: `tel:${digits}`, class: "tel" }, text));
    last = start + text.length;
  }
  parts.push(contact.slice(last));
  return parts;
}

export function showCrisisResources(notice: Notice): void {
  crisis?.close();
  const resources = notice.resources ?? [];
  const close = h("button", { type: "button", class: "primary" }, "Close");
  const handle = openDialog({
    title: "Support is available right now",
    className: "crisis",
    content: [
      h("p", { class: "crisis-text" }, notice.text),
      h(
        "ul",
        { class: "resources", "aria-label": "Crisis resources" },
        ...resources.map((resource) =>
          h(
            "li",
            null,
            h("strong", null, resource.name),
            h("span", { class: "contact" }, ...contactWithLinks(resource.contact)),
          ),
        ),
      ),
      h("div", { class: "dialog-actions" }, close),
    ],
    onClose: () => {
      if (crisis === handle) crisis = null;
    },
  });
  close.addEventListener("click", () => handle.close());
  crisis = handle;
}

/** The sentence for a notice other than crisis resources. */
export function noticeSentence(notice: Notice, roomName: string | undefined): string {
  const where = roomName ? ` in ${roomName}` : "";
  const from = roomName ? ` from ${roomName}` : " from this room";
  switch (notice.kind) {
    case "muted":
      return `You are muted${where} ${untilPhrase(notice.until)}.`;
    case "kicked":
      return `A moderator has removed you${from}. You can come back in when you are ready.`;
    case "banned":
      return `A moderator has banned you${from} ${untilPhrase(notice.until)}.`;
    case "graduated":
      return notice.text || "Congratulations on graduating! Your alumni rooms are open to you now.";
    default:
      return notice.text;
  }
}
