// Pinned messages (server/rooms/pins.py): what staff keep at the top of a room. The pure part
// keeps the list in step with what the room hears (an edit shows, a deletion takes the pin
// away); the bar draws it in the room's header: one line (the latest pin) that goes to its
// message when chosen, and the whole list behind a button.
import { h, replaceChildren, srOnly, uid } from "../h";
import type { Message, PublicUser } from "../types";
import { linked } from "./links";
import { excerptOf } from "./replies";

export interface Pin {
  message_id: number;
  room_id: number;
  author: PublicUser;
  /** The message's current text. */
  body: string;
  created_at: string;
  pinned_by: PublicUser;
  pinned_at: string;
}

/** `pins_changed`, and what `pin`, `unpin` and `pins` answer (with the room's id). */
export interface PinsEvent {
  room_id: number;
  pins: Pin[];
}

export interface PinsReply {
  pins: Pin[];
}

/** Going to a pinned message that this person may not read in the log (it was written before
 * the part of the room's history they can read): the pin is where they read it. */
export const PIN_OUT_OF_REACH_NOTE =
  "This pinned message is from before the part of this room's conversation you can read, so it is shown only in the pinned list.";

// ----- the list, kept in step with the room -----

export function isPinned(pins: readonly Pin[], messageId: number): boolean {
  return pins.some((pin) => pin.message_id === messageId);
}

/** The pins after an edit: a pinned message shows its new text (the same list otherwise). */
export function pinsAfterEdit(pins: readonly Pin[], message: Message): readonly Pin[] {
  const index = pins.findIndex((pin) => pin.message_id === message.id);
  if (index < 0 || message.deleted || pins[index].body === message.body) return pins;
  const next = [...pins];
  next[index] = { ...pins[index], body: message.body };
  return next;
}

/** The pins after a deletion: a deleted message is pinned no more (the same list otherwise). */
export function pinsAfterDeletion(pins: readonly Pin[], messageId: number): readonly Pin[] {
  return isPinned(pins, messageId) ? pins.filter((pin) => pin.message_id !== messageId) : pins;
}

/** A pin on one line: "Lee: Our agreements: what is said here…". */
export function pinLine(pin: Pin): string {
  return `${pin.author.display_name}: ${excerptOf(pin.body)}`;
}

// ----- the bar in the room's header -----

export interface PinsBarHandlers {
  /** Go to the pinned message in the log (loading older pages as needed). */
  goTo(messageId: number): void;
  unpin(messageId: number): void;
}

export interface PinsBar {
  node: HTMLElement;
  render(pins: readonly Pin[]): void;
}

export function createPinsBar(staff: boolean, handlers: PinsBarHandlers): PinsBar {
  const listId = uid("pins");
  const latest = h("button", { type: "button", class: "pin-latest" });
  const toggle = h("button", { type: "button", class: "small pins-toggle", "aria-expanded": "false", "aria-controls": listId });
  const list = h("ol", { class: "pins-list", id: listId, hidden: true });
  const node = h(
    "section",
    { class: "pins", "aria-label": "Pinned messages", hidden: true },
    h("div", { class: "pins-line" }, h("span", { class: "pins-label", "aria-hidden": "true" }, "Pinned"), latest, toggle),
    list,
  );
  let shown: readonly Pin[] = [];

  latest.addEventListener("click", () => {
    if (shown.length) handlers.goTo(shown[0].message_id);
  });
  toggle.addEventListener("click", () => setOpen(Boolean(list.hidden)));

  function setOpen(open: boolean): void {
    list.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    drawToggle();
  }

  function drawToggle(): void {
    toggle.textContent = list.hidden ? `All pinned (${shown.length})` : "Hide pinned";
  }

  function pinItem(pin: Pin): HTMLElement {
    const go = h("button", { type: "button", class: "small" }, "Go to message");
    go.addEventListener("click", () => handlers.goTo(pin.message_id));
    const actions = h("div", { class: "msg-actions" }, go);
    if (staff) {
      const unpin = h("button", { type: "button", class: "small" }, "Unpin", srOnly(` ${pin.author.display_name}'s message`));
      unpin.addEventListener("click", () => handlers.unpin(pin.message_id));
      actions.append(unpin);
    }
    return h(
      "li",
      { class: "pin", "data-id": String(pin.message_id) },
      h(
        "p",
        { class: "pin-head" },
        h("span", { class: "author" }, pin.author.display_name),
        h("span", { class: "pin-by" }, ` · pinned by ${pin.pinned_by.display_name}`),
      ),
      h("p", { class: "body" }, ...linked(pin.body)),
      actions,
    );
  }

  return {
    node,
    render(pins) {
      shown = pins;
      const focusInList = list.contains(document.activeElement);
      node.hidden = pins.length === 0;
      if (!pins.length) setOpen(false);
      if (pins.length) replaceChildren(latest, srOnly("Go to the latest pinned message: "), pinLine(pins[0]));
      replaceChildren(list, ...pins.map(pinItem));
      drawToggle();
      // A pin that went (unpinned here or elsewhere) took focus with it: it goes to the bar.
      if (focusInList && !list.contains(document.activeElement)) (pins.length ? toggle : latest).focus();
    },
  };
}
