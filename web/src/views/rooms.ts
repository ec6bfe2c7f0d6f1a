// The room list: each room I may enter, its unread and online counts. The list is read when
// the screen opens; after that it follows the tab's room list and unread counts (state.ts keeps
// them fresh on every screen), so it changes live.
import { countText } from "../attention";
import { describeAny } from "../errors";
import { h, replaceChildren, srOnly } from "../h";
import { loadRooms, onRoomsLoaded, unread } from "../state";
import type { Room } from "../types";
import { errorBox, heading, loading, type View } from "./common";

const KIND_TEXT: Record<Room["kind"], string> = {
  group: "Group room",
  peer: "Peer room",
  meeting: "Meeting room",
  support: "Private: only you and staff",
};

export function unreadText(count: number): string {
  return `${countText(count)} unread`;
}

/** Unread messages that mention me or reply to one of mine. */
export function mentionText(count: number): string {
  return count === 1 ? "1 mention" : `${countText(count)} mentions`;
}

/** Between two facts: a dot to the eye, a comma to a screen reader (which would otherwise run
 * them together: "Group room0 online"). */
function dot(): HTMLSpanElement {
  return h("span", { class: "dot" }, h("span", { "aria-hidden": "true" }, " · "), srOnly(", "));
}

export function roomsView(): View {
  const list = h("ul", { class: "room-list", "aria-label": "Rooms" });
  const errors = errorBox();
  const body = h("div", null, loading());
  let stopped = false;
  let shown: Room[] | null = null;

  const item = (room: Room): HTMLLIElement => {
    const count = unread.count(room.id);
    const mentions = count > 0 ? unread.mentions(room.id) : 0;
    return h(
      "li",
      { class: count > 0 ? "room-item has-unread" : "room-item" },
      h(
        "div",
        { class: "room-line" },
        h("a", { href: `#/rooms/${room.id}`, class: "room-link" }, room.name),
        count > 0 ? h("span", { class: "badge" }, unreadText(count)) : null,
        mentions > 0 ? h("span", { class: "badge mention-badge" }, mentionText(mentions)) : null,
      ),
      room.topic ? h("p", { class: "room-topic" }, room.topic) : null,
      h(
        "p",
        { class: "room-meta" },
        h("span", null, KIND_TEXT[room.kind] ?? "Room"),
        dot(),
        h("span", null, `${room.online_count} online`),
        room.locked ? [dot(), h("span", null, "Locked")] : null,
      ),
    );
  };

  const render = (rooms: Room[]): void => {
    shown = rooms;
    if (rooms.length === 0) {
      replaceChildren(body, h("p", { class: "note" }, "There are no rooms for you yet. Your program staff will add you to your group's room."));
      return;
    }
    // Drawn again as it changes: a room link that had the focus keeps it.
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && list.contains(active) ? active.getAttribute("href") : null;
    replaceChildren(list, ...rooms.map(item));
    if (list.parentElement !== body) replaceChildren(body, list);
    if (focused) list.querySelector<HTMLElement>(`a[href="${CSS.escape(focused)}"]`)?.focus();
  };

  const refresh = async (): Promise<void> => {
    try {
      await loadRooms();
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  };

  // Whoever read the list (this screen, or the tab's refresh on every screen), it is shown.
  const offLoaded = onRoomsLoaded((rooms) => {
    if (stopped) return;
    errors.clear();
    render(rooms);
  });
  const offUnread = unread.subscribe(() => {
    if (!stopped && shown) render(shown);
  });
  void refresh();

  const node = h("div", { class: "rooms" }, heading("Rooms"), errors.node, body);
  return {
    title: "Rooms",
    node,
    cleanup: () => {
      stopped = true;
      offLoaded();
      offUnread();
    },
  };
}
