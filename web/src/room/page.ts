// The room page around the message log: a link past everything to the message box, the header
// (name, how many are here, topic, slow mode, a locked room), the error, status and muted alerts,
// who is typing, and who is here. DOM only, drawn from the state.
import { pluralize, untilPhrase } from "../format";
import { h, replaceChildren, uid } from "../h";
import { removeBanner } from "../notices";
import { isStaff } from "../session";
import type { Me, PublicUser } from "../types";
import { errorBox, heading, statusBox } from "../views/common";
import { followToggle } from "../views/notifications";
import { createPinsBar, type PinsBarHandlers } from "./pins";
import type { RoomState, Typist } from "./state";

// Said wherever posting is held back (a mute, a locked room): nobody in crisis is silenced, since
// the server lets a post with crisis language through to staff and answers with support.
const STILL_WRITE = "If you are struggling, you can still write here and staff will see it.";

export interface RoomPageContext {
  roomId: number;
  me: Me | null;
  staff: boolean;
  memberMenu(user: PublicUser): HTMLElement;
  /** What choosing a pin in the header does. */
  pins: PinsBarHandlers;
  // Inside another screen (the meeting page): the room's name is a second-level heading and
  // the screen keeps its own document title.
  embedded?: boolean;
}

export interface RoomPageParts {
  log: HTMLElement;
  composer: HTMLElement;
  composerHint: HTMLElement;
}

export interface RoomPage {
  node: HTMLElement;
  render(prev: RoomState | null, next: RoomState): void;
}

export function createRoomPage(context: RoomPageContext, parts: RoomPageParts, initialName: string): RoomPage {
  const { roomId, me, staff, embedded = false } = context;
  const title = embedded ? h("h2", { class: "room-title" }, initialName) : heading(initialName);
  // Said after the name ("Group A, 3 online"), not run into it.
  const presence = h("p", { class: "room-presence", id: uid("presence"), hidden: true });
  title.setAttribute("aria-describedby", presence.id);
  const skip = skipLink(parts.composer);
  const topic = h("p", { class: "room-topic" });
  const flags = h("p", { class: "room-flags" });
  const pins = createPinsBar(staff, context.pins);
  const errors = errorBox();
  const info = statusBox();
  // The one place a mute is said in the room (its notice, a refused send): one alert, not two.
  const mutedBox = h("div", { role: "alert", class: "muted-box", hidden: true });
  // A locked room, said calmly (a status, not an alert); the composer stays for the same reason.
  const pausedBox = h("p", { role: "status", class: "paused-box" });
  const typing = h("div", { role: "status", "aria-label": "Typing", class: "typing" });
  const peopleTitleId = uid("people");
  const peopleList = h("ul", { class: "people-list", "aria-labelledby": peopleTitleId });
  const peopleCount = h("span", { class: "count" });
  // Focusable: on a phone it is one row that scrolls sideways, which the arrow keys then can.
  const people = h(
    "section",
    { class: "people", "aria-labelledby": peopleTitleId, tabindex: "0" },
    h("h2", { class: "people-title" }, h("span", { id: peopleTitleId }, "Who's here"), " ", peopleCount),
    peopleList,
  );
  const chat = h(
    "section",
    { class: "chat", "aria-label": "Conversation" },
    errors.node,
    mutedBox,
    pausedBox,
    info.node,
    parts.log,
    typing,
    parts.composer,
    parts.composerHint,
  );
  const node = h(
    "div",
    { class: "room-view" },
    skip,
    h("div", { class: "room-head" }, h("div", { class: "room-head-line" }, title, presence, followToggle(roomId)), topic, flags, pins.node),
    h("div", { class: "room-body" }, chat, people),
  );

  function drawHead(state: RoomState): void {
    const room = state.room;
    if (!room) return;
    title.textContent = room.name;
    if (!embedded) document.title = `${room.name} – peerrooms`;
    topic.textContent = room.topic ?? "";
    topic.hidden = !room.topic;
    const parts: string[] = [];
    if (room.slow_mode_s > 0) parts.push(`Slow mode: one message every ${pluralize(room.slow_mode_s, "second")}.`);
    flags.textContent = parts.join(" ");
    flags.hidden = parts.length === 0;
  }

  /** A locked room; the way to reach staff is said once (the muted alert may say it). */
  function drawPaused(state: RoomState): void {
    let paused = "";
    if (state.room?.locked && staff) paused = "This room is locked: only moderators can post.";
    else if (state.room?.locked) paused = `A moderator has paused this room.${state.mutedUntil ? "" : ` ${STILL_WRITE}`}`;
    if (pausedBox.textContent !== paused) pausedBox.textContent = paused;
  }

  function drawMuted(state: RoomState): void {
    if (!state.mutedUntil) {
      mutedBox.hidden = true;
      mutedBox.textContent = "";
      return;
    }
    const text = [
      state.refusedWhileMuted ? "Your message was not sent." : "",
      `You are muted in this room ${untilPhrase(state.mutedUntil)}. You can still read.`,
      STILL_WRITE,
    ]
      .filter(Boolean)
      .join(" ");
    if (mutedBox.textContent !== text) mutedBox.textContent = text;
    mutedBox.hidden = false;
    // The banner of the same notice, if it came while another screen was open, goes.
    removeBanner(`muted:${roomId}`);
  }

  function drawTyping(state: RoomState): void {
    const text = typingSentence(state.typists);
    if (typing.textContent !== text) typing.textContent = text;
  }

  function drawPeople(state: RoomState): void {
    peopleCount.textContent = `(${state.online.length})`;
    presence.textContent = `${state.online.length} online`;
    presence.hidden = false;
    replaceChildren(
      peopleList,
      ...state.online.map((user) => {
        const isMe = me !== null && user.id === me.id;
        return h(
          "li",
          { class: "person" },
          h("span", { class: "person-name" }, user.display_name),
          user.pronouns ? h("span", { class: "person-pronouns" }, `(${user.pronouns})`) : null,
          isMe ? h("span", { class: "tag mine" }, "You") : null,
          isStaff(user) ? h("span", { class: "tag" }, "Staff") : null,
          staff && !isMe && !isStaff(user) ? context.memberMenu(user) : null,
          user.line ? h("span", { class: "person-line" }, user.line) : null,
        );
      }),
    );
  }

  function drawNotes(prev: RoomState | null, next: RoomState): void {
    if (!prev || prev.error !== next.error) {
      if (next.error) errors.show(next.error.text);
      else errors.clear();
    }
    if (!prev || prev.note !== next.note) {
      if (next.note) info.show(next.note.text);
      else info.clear();
    }
  }

  return {
    node,
    render(prev, next) {
      if (!prev || prev.room !== next.room) drawHead(next);
      if (!prev || prev.room !== next.room || prev.mutedUntil !== next.mutedUntil) drawPaused(next);
      if (!prev || prev.mutedUntil !== next.mutedUntil || prev.refusedWhileMuted !== next.refusedWhileMuted) drawMuted(next);
      if (!prev || prev.typists !== next.typists) drawTyping(next);
      if (!prev || prev.pins !== next.pins) pins.render(next.pins);
      // Who is here is known from the first join on; until then the list stays empty.
      if (prev && prev.online !== next.online) drawPeople(next);
      drawNotes(prev, next);
      if (!prev || prev.composerHidden !== next.composerHidden) {
        parts.composer.hidden = next.composerHidden;
        parts.composerHint.hidden = next.composerHidden;
        skip.hidden = next.composerHidden;
      }
    },
  };
}

/** The first thing to Tab to in the room: past the header and every message's menu, to the box
 * to write in (a link that moves focus; the address itself would be read as a route). */
function skipLink(composer: HTMLElement): HTMLElement {
  const box = composer.querySelector("textarea");
  const link = h("a", { href: box ? `#${box.id}` : "#", class: "skip-link room-skip" }, "Skip to message box");
  link.addEventListener("click", (event) => {
    event.preventDefault();
    box?.focus();
  });
  return link;
}

/** "Ana is typing…", "Ana and Bo are typing…", or "Several people are typing…". */
export function typingSentence(typists: readonly Typist[]): string {
  const names = typists.map((typist) => typist.name);
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length > 2) return "Several people are typing…";
  return "";
}
