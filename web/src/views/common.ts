// Pieces every screen uses.
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { h, uid, type Attrs, type Child } from "../h";

export interface View {
  title: string;
  node: HTMLElement;
  cleanup?: () => void;
}

export function heading(text: string): HTMLHeadingElement {
  return h("h1", { tabindex: "-1", class: "screen-title" }, text);
}

/** A region for errors: role="alert", hidden while empty (so it is not an empty landmark). */
export function errorBox(): { node: HTMLDivElement; show(text: string): void; clear(): void } {
  const node = h("div", { role: "alert", class: "error", hidden: true });
  return {
    node,
    show(text: string) {
      node.textContent = text;
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
  };
}

/** A polite status line ("Saved."), hidden while empty. */
export function statusBox(label?: string): { node: HTMLDivElement; show(text: string): void; clear(): void } {
  const node = h("div", { role: "status", class: "note", "aria-label": label });
  return {
    node,
    show(text: string) {
      node.textContent = text;
    },
    clear() {
      node.textContent = "";
    },
  };
}

/** A labelled form field: <label> + control, tied together by id. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement,
  hint?: string,
): HTMLDivElement {
  const id = control.id || uid("field");
  control.id = id;
  let hintNode: HTMLElement | null = null;
  if (hint) {
    const hintId = uid("hint");
    hintNode = h("p", { id: hintId, class: "hint" }, hint);
    control.setAttribute("aria-describedby", hintId);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

export function input(attrs: Attrs): HTMLInputElement {
  return h("input", attrs);
}

export function button(text: string, attrs: Attrs = {}, ...extra: Child[]): HTMLButtonElement {
  return h("button", { type: "button", ...attrs }, text, ...extra);
}

export function loading(text = "Loading…"): HTMLParagraphElement {
  return h("p", { class: "note" }, text);
}

export interface ConfirmOptions {
  title: string;
  /** What confirming does, in a sentence or a few nodes. */
  text: Child;
  confirmText: string;
  tone?: "primary" | "danger";
}

/** Ask, in a dialog of its own, to confirm one step; answers whether it was confirmed. Focus
 * starts on Cancel, so Enter pressed by habit does nothing it cannot take back. */
export function askToConfirm(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let confirmed = false;
    const yes = button(options.confirmText, { class: options.tone ?? "danger" });
    const no = button("Cancel");
    const handle = openDialog({
      title: options.title,
      content: [h("p", null, options.text), h("div", { class: "dialog-actions" }, yes, no)],
      initialFocus: no,
      className: "confirm-dialog",
      onClose: () => resolve(confirmed),
    });
    yes.addEventListener("click", () => {
      confirmed = true;
      handle.close();
    });
    no.addEventListener("click", () => handle.close());
  });
}

export interface ConfirmActionOptions extends ConfirmOptions {
  run: () => Promise<unknown>;
  done: () => Promise<void>;
}

/** A dialog asking to confirm one action that it then runs: a refusal is said in the dialog
 * (which stays open to try again or cancel); on success it closes and `done` follows. */
export function confirmAction(options: ConfirmActionOptions): void {
  const errors = errorBox();
  const yes = button(options.confirmText, { class: options.tone ?? "danger" });
  const cancel = button("Cancel");
  const handle = openDialog({
    title: options.title,
    content: [h("p", null, options.text), errors.node, h("div", { class: "dialog-actions" }, yes, cancel)],
  });
  cancel.addEventListener("click", () => handle.close());
  yes.addEventListener("click", async () => {
    errors.clear();
    yes.disabled = true;
    cancel.disabled = true;
    try {
      await options.run();
    } catch (err) {
      errors.show(describeAny(err));
      yes.disabled = false;
      cancel.disabled = false;
      return;
    }
    handle.close();
    await options.done();
  });
}

/** A link to hand over: a read-only box that selects itself, a `Copy link` button, and a
 * status saying it was copied (or, where the clipboard is closed, that the box is selected). */
export function linkToCopy(link: string, className: string): {
  box: HTMLInputElement;
  copy: HTMLButtonElement;
  copied: ReturnType<typeof statusBox>;
} {
  const box = input({ type: "text", readonly: true, value: link, class: className, spellcheck: "false" });
  box.addEventListener("focus", () => box.select());
  const copy = button("Copy link", { class: "small" });
  const copied = statusBox();
  copy.addEventListener("click", async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(link);
      copied.show("Link copied.");
    } catch {
      box.focus();
      box.select();
      copied.show("Copying is not possible here: the link is selected, copy it from the box.");
    }
  });
  return { box, copy, copied };
}

/** A date picked in a date field ("2026-11-23"), `addDays` later, at midnight in the browser's
 * time zone, as the API's UTC time ("2026-11-23T06:00:00Z"); null if it is no date. */
export function localMidnightUtc(date: string, addDays = 0): string | null {
  const match = /^(\d{4,})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return null;
  const day = new Date(2000, 0, 1);
  // setFullYear, not the constructor: it takes years below 100 as they are.
  day.setFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + addDays);
  day.setHours(0, 0, 0, 0);
  if (Number.isNaN(day.getTime())) return null;
  return day.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A table in a box that scrolls sideways when the screen is narrower than the table; the box
 * is a named region a keyboard can reach (and scroll with the arrow keys). */
export function table(label: string, caption: string, headers: string[], rows: Child[][]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    h(
      "table",
      null,
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, h("tr", null, ...headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", null, ...rows.map(tableRow)),
    ),
  );
}

export function tableRow(cells: Child[]): HTMLTableRowElement {
  return h("tr", null, ...cells.map((cell) => h("td", null, cell)));
}

/** A `Download CSV` style link to a file fetched with the sign-in (a header, not a cookie, so
 * a plain link could not carry it): disabled until `set` gives it an object URL, and each URL
 * revoked when the next replaces it (`set(null, "")` on leaving the screen). */
export function downloadLink(text: string): {
  node: HTMLAnchorElement;
  set(url: string | null, filename: string): void;
} {
  const node = h("a", { role: "link", "aria-disabled": "true", class: "button disabled" }, text);
  let current: string | null = null;
  const set = (url: string | null, filename: string): void => {
    if (current) URL.revokeObjectURL(current);
    current = url;
    if (url) {
      node.href = url;
      node.download = filename;
      node.removeAttribute("aria-disabled");
      node.removeAttribute("role");
      node.className = "button";
    } else {
      node.removeAttribute("href");
      node.removeAttribute("download");
      node.setAttribute("role", "link");
      node.setAttribute("aria-disabled", "true");
      node.className = "button disabled";
    }
  };
  return { node, set };
}

/** A file name's part made of a title ("Evening group" → "evening-group"). */
export function slug(text: string, otherwise = "meeting"): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || otherwise;
}
