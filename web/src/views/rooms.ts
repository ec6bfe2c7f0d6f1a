// The room list: each room I may enter, its unread and online counts.
import { connection } from "../connection";
import { describeAny } from "../errors";
import { h, replaceChildren } from "../h";
import { loadRooms } from "../state";
import type { Room } from "../types";
import { errorBox, heading, loading, type View } from "./common";

// While the list is on screen, refresh the counts this often (they change in other rooms,
// whose live events this tab does not receive).
const REFRESH_MS = 20_000;

const KIND_TEXT: Record<Room["kind"], string> = {
  group: "Group room",
  peer: "Peer room",
  meeting: "Meeting room",
  support: "Private: only you and staff",
};

export function unreadText(count: number): string {
  return count > 99 ? "99+ unread" : `${count} unread`;
}

export function roomsView(): View {
  const list = h("ul", { class: "room-list", "aria-label": "Rooms" });
  const errors = errorBox();
  const body = h("div", null, loading());
  let stopped = false;

  const render = (rooms: Room[]): void => {
    if (rooms.length === 0) {
      replaceChildren(body, h("p", { class: "note" }, "There are no rooms for you yet. Your program staff will add you to your group's room."));
      return;
    }
    replaceChildren(
      list,
      ...rooms.map((room) => {
        const unread = room.unread_count ?? 0;
        return h(
          "li",
          { class: unread > 0 ? "room-item has-unread" : "room-item" },
          h(
            "div",
            { class: "room-line" },
            h("a", { href: `#/rooms/${room.id}`, class: "room-link" }, room.name),
            unread > 0 ? h("span", { class: "badge" }, unreadText(unread)) : null,
          ),
          room.topic ? h("p", { class: "room-topic" }, room.topic) : null,
          h(
            "p",
            { class: "room-meta" },
            h("span", null, KIND_TEXT[room.kind] ?? "Room"),
            h("span", { class: "dot", "aria-hidden": "true" }, " · "),
            h("span", null, `${room.online_count} online`),
            room.locked ? [h("span", { class: "dot", "aria-hidden": "true" }, " · "), h("span", null, "Locked")] : null,
          ),
        );
      }),
    );
    replaceChildren(body, list);
  };

  const refresh = async (): Promise<void> => {
    try {
      const rooms = await loadRooms();
      if (stopped) return;
      errors.clear();
      render(rooms);
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  };

  void refresh();
  const timer = window.setInterval(() => {
    if (document.visibilityState === "visible") void refresh();
  }, REFRESH_MS);
  const offConnect = connection.on("connect", () => void refresh());
  const onVisible = (): void => {
    if (document.visibilityState === "visible") void refresh();
  };
  document.addEventListener("visibilitychange", onVisible);

  const node = h("div", { class: "rooms" }, heading("Rooms"), errors.node, body);
  return {
    title: "Rooms",
    node,
    cleanup: () => {
      stopped = true;
      window.clearInterval(timer);
      offConnect();
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
