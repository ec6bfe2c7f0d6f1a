// A room: the pieces in room/ wired together. The state (room/state.ts) changes only through
// `dispatch`; after each change the page, the message log and the controller's timers catch up,
// and what the tab remembers about the room is kept (room/memory.ts).
import { outbox } from "../outbox";
import { currentUser, isStaff } from "../session";
import { rooms as roomCache } from "../state";
import type { PublicUser } from "../types";
import { createComposer } from "../room/composer";
import { createRoomController } from "../room/controller";
import {
  forgetMessages,
  knownReactions,
  rememberMessages,
  rememberReactions,
  rememberedMessages,
  rememberedMute,
  setOpenRoom,
} from "../room/memory";
import { createRoomPage } from "../room/page";
import { PIN_OUT_OF_REACH_NOTE } from "../room/pins";
import { createMessageList } from "../room/render";
import { initialRoomState, reduce, type RoomAction, type RoomState } from "../room/state";
import type { View } from "./common";
import { moderateButton } from "./moderate";

export { currentRoomId, forgetRooms, rememberMute } from "../room/memory";

/** Said when a search result's message cannot be shown in its room. */
export const FOUND_GONE_NOTE =
  "That message could not be shown here: it was deleted, or it is further back than the room goes at once. Scroll up to find it.";

/** A room; `openAt`: a message to go to once in it (a search result). */
export function roomView(
  roomId: number,
  onLeave: (reason: string) => void,
  embedded = false,
  openAt: number | null = null,
): View {
  const me = currentUser();
  const staff = isStaff(me);
  const cachedRoom = roomCache.get(roomId);
  const remembered = rememberedMessages(roomId);
  let state = initialRoomState({
    roomId,
    meId: me?.id ?? null,
    // A copy: the rooms list's entry is changed in place elsewhere.
    room: cachedRoom ? { ...cachedRoom } : null,
    messages: remembered?.messages,
    hasMore: remembered?.hasMore,
    outbox: outbox.forRoom(roomId),
    reactionChoices: knownReactions(),
    mutedUntil: rememberedMute(roomId),
    now: Date.now(),
  });
  // A closed view's late answers change nothing; after a kick or a ban nothing is remembered.
  let stopped = false;
  let remembering = true;
  setOpenRoom(roomId);

  const dispatch = (action: RoomAction): void => {
    if (stopped) return;
    const prev = state;
    state = reduce(prev, action);
    if (state === prev) return;
    remember(prev, state);
    page.render(prev, state);
    list.render(prev, state);
    composer.render(prev, state);
    controller.stateChanged(prev, state);
    if (pendingOpenAt !== null && state.status === "joined") goToOpenAt(pendingOpenAt);
  };

  // After the first join and the scroll to the newest message that follows it (this frame's,
  // then the join's own), never before: the message is gone to once.
  let pendingOpenAt = openAt;
  const goToOpenAt = (messageId: number): void => {
    pendingOpenAt = null;
    requestAnimationFrame(() => window.setTimeout(() => void controller.goToOriginal(messageId, FOUND_GONE_NOTE)));
  };

  const remember = (prev: RoomState, next: RoomState): void => {
    if (remembering && (prev.messages !== next.messages || prev.hasMore !== next.hasMore)) {
      rememberMessages(roomId, next.messages, next.hasMore);
    }
    if (prev.reactionChoices !== next.reactionChoices) rememberReactions(next.reactionChoices);
  };

  const memberMenu = (user: PublicUser, visibleLabel?: string): HTMLElement =>
    moderateButton(roomId, user, (text) => controller.note(text), visibleLabel);

  const list = createMessageList(
    { me, staff, memberMenu },
    {
      react: (messageId, emoji) => void controller.react(messageId, emoji),
      report: (message) => controller.report(message),
      reply: (messageId) => {
        dispatch({ type: "reply_started", messageId });
        composer.focus();
      },
      goToOriginal: (originalId) => void controller.goToOriginal(originalId),
      startEdit: (messageId) => dispatch({ type: "edit_started", messageId }),
      saveEdit: (original, text) => controller.saveEdit(original, text),
      cancelEdit: (messageId) => dispatch({ type: "edit_finished", messageId }),
      remove: (messageId) => void controller.remove(messageId),
      pin: (messageId, pinned) => void controller.pin(messageId, pinned),
      retry: (clientId) => controller.retry(clientId),
      discard: (clientId) => controller.discard(clientId),
      loadOlder: () => void controller.loadOlder(),
      scrolled: (position) => controller.scrolled(position),
    },
  );
  const composer = createComposer({
    roomId,
    state: () => state,
    dispatch,
    sent: () => list.scrollToBottom(),
  });
  const page = createRoomPage(
    {
      roomId,
      me,
      staff,
      embedded,
      memberMenu: (user) => memberMenu(user),
      pins: {
        goTo: (messageId) => void controller.goToOriginal(messageId, PIN_OUT_OF_REACH_NOTE),
        unpin: (messageId) => void controller.pin(messageId, false),
      },
    },
    { log: list.node, composer: composer.form, composerHint: composer.hint },
    state.room?.name ?? "Room",
  );
  const controller = createRoomController({
    roomId,
    state: () => state,
    dispatch,
    list,
    focusComposer: () => composer.focus(),
    removed: (reason) => {
      remembering = false;
      forgetMessages(roomId);
      onLeave(reason);
    },
  });

  page.render(null, state);
  list.render(null, state);
  composer.render(null, state);
  controller.start();
  // The node is attached after this returns; scroll once it has a size.
  requestAnimationFrame(() => {
    list.scrollToBottom();
    composer.autosize();
  });

  return {
    title: state.room?.name ?? "Room",
    node: page.node,
    cleanup: () => {
      controller.stop();
      stopped = true;
      setOpenRoom(null);
      list.stop();
    },
  };
}
