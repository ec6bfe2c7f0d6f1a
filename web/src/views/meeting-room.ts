// The meeting page `#/meetings/{id}`: one session of a meeting series, with its title and state
// (lobby, live, ended: from the upcoming list and the meeting notices), the video call, the chat
// of the meeting's room beside it (the room view, mounted as it is), and the check-in while it
// is live. Everything Janus is in room/call.ts; this module is DOM and the server's API.
import "./meeting-room.css";
import { ApiError, get, post } from "../api";
import { connection } from "../connection";
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { meetingWhen } from "../format";
import { h, replaceChildren, uid } from "../h";
import { removeBanner } from "../notices";
import { currentUser, isStaff } from "../session";
import type { Meeting, Notice, Occurrence, VideoCallState, VideoEndedEvent, VideoHandEvent, VideoPass } from "../types";
// Only types here: janus.js and the adapter load with the call (a chunk of their own), not with
// every page of the app.
import type { Call, CallErrorKind, CallHandlers, JoinOptions } from "../room/call";
import {
  PHONE_WIDTH,
  activeSpeaker,
  applyHand,
  currentOccurrence,
  handsFromCall,
  handsWithout,
  layoutFor,
  sessionPhase,
  tileOrder,
  type Layout,
  type Participant,
  type RaisedHand,
  type SessionPhase,
} from "../room/call-model";
import { checkInForm, hasCheckedIn } from "./checkin";
import { button, errorBox, field, heading, loading, type View } from "./common";
import { safeHttpUrl } from "./meetings";
import { roomView } from "./room";

const DAYS = 14;
const TIME = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
// The session's status follows the clock; look again this often (notices may be missed offline).
const REFRESH_MS = 30_000;

/** What the server said about the video call of this session. */
type VideoState =
  | "idle" // not asked yet (outside the windows)
  | "checking"
  | "ready" // a pass came: the call can be joined
  | "none" // no media server here (not_found)
  | "closed" // outside the windows (meeting_closed)
  | "unavailable" // the media server is not answering: Try again
  | "refused"; // forbidden, banned: said in words, no way in

/** Where this browser is in the call. */
type CallPhase = "out" | "joining" | "in" | "ended" | "removed";

const CALL_STATUS: Record<CallPhase, string> = {
  out: "Not in the call",
  joining: "Joining…",
  in: "In the call",
  ended: "The call has ended.",
  removed: "A moderator removed you from this call.",
};

const MEDIA_ERRORS: readonly CallErrorKind[] = ["media_denied", "media_missing", "media_busy"];

interface RemoteMedia {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
}

interface Tile {
  feedId: number;
  figure: HTMLElement;
  name: HTMLElement;
  you: HTMLElement;
  hand: HTMLElement;
  muted: HTMLElement;
  media: HTMLElement;
  video: HTMLVideoElement;
  avatar: HTMLElement;
  audio: HTMLAudioElement | null;
  pin: HTMLButtonElement;
  mute: HTMLButtonElement | null;
  remove: HTMLButtonElement | null;
  shownVideo: MediaStreamTrack | null;
  shownAudio: MediaStreamTrack | null;
  participant: Participant;
}

export function meetingRoomView(meetingId: number, onLeave: (reason: string) => void): View {
  const me = currentUser();
  const staff = isStaff(me);
  let stopped = false;
  const offs: (() => void)[] = [];

  // ----- the session -----
  let occ: Occurrence | null = null;
  let series: Meeting | null = null;
  let phase: SessionPhase = "outside";
  // This page saw the session end: it says so until the next one opens its lobby.
  let sawEnd = false;

  const title = heading("Meeting");
  const when = h("p", { class: "meeting-when" });
  const sessionState = h("p", { role: "status", "aria-label": "Session", class: "session-state" });
  const errors = errorBox();
  const body = h("div", { class: "meeting-room-body" }, loading());

  // ----- the call: region `Video call` -----
  let video: VideoState = "idle";
  let closedText = "";
  let pass: VideoPass | null = null;
  // A pass fetched on opening the page and not used yet: the first join uses it.
  let passFresh = false;
  let callPhase: CallPhase = "out";
  // The session (its start) that the call's state is about.
  let callFor = "";
  let mediaFailed = false;
  let micModerated = false;
  let participants: Participant[] = [];
  let hands: RaisedHand[] = [];
  let pinned: number | null = null;
  let layout: Layout = layoutFor(window.innerWidth);
  let localVideo: MediaStreamTrack | null = null;
  const remote = new Map<number, RemoteMedia>();
  const tiles = new Map<number, Tile>();

  const callTitleId = uid("call");
  const callTitle = h("h2", { id: callTitleId, tabindex: "-1", class: "call-title" }, "Video call");
  const callStatus = h("p", { role: "status", class: "call-status" }, CALL_STATUS.out);
  const callNote = h("p", { class: "hint call-note" });
  const callErrors = errorBox();
  // A moderator's mute of this microphone, said where the microphone button is.
  const micNotice = h("div", { role: "alert", class: "call-notice", hidden: true });
  const joinVideo = button("Join with video", { class: "primary" });
  const joinAudio = button("Join with audio only");
  const listenOnly = button("Listen only");
  const tryAgain = button("Try again");
  const joinRow = h("div", { class: "call-join" }, joinVideo, joinAudio, listenOnly, tryAgain);
  const cameraButton = button("Turn camera off");
  const micButton = button("Mute microphone");
  const handButton = button("Raise hand");
  const leaveButton = button("Leave call", { class: "danger" });
  const controls = h("div", { class: "call-controls", hidden: true }, micButton, cameraButton, handButton, leaveButton);
  const stage = h("div", { class: "call-stage" });
  const strip = h("div", { class: "call-strip" });
  const tilesBox = h("div", { class: "call-tiles", "data-layout": layout, hidden: true }, stage, strip);
  const handsTitleId = uid("hands");
  const handsList = h("ol", { class: "hands-list", "aria-labelledby": handsTitleId });
  const handsEmpty = h("p", { class: "note" }, "No hands raised.");
  const handsBox = h(
    "section",
    { class: "call-hands", "aria-labelledby": handsTitleId, hidden: true },
    h("h3", { id: handsTitleId }, "Raised hands"),
    handsList,
    handsEmpty,
  );
  const modNote = h("p", { class: "note", "aria-live": "polite" });
  const endButton = button("End the call for everyone", { class: "danger" });
  const endRow = h("div", { class: "call-end", hidden: true }, endButton);
  const callRegion = h(
    "section",
    { class: "call card", role: "region", "aria-labelledby": callTitleId },
    callTitle,
    callStatus,
    h("p", { class: "call-private" }, "This call is never recorded."),
    callNote,
    callErrors.node,
    micNotice,
    joinRow,
    controls,
    tilesBox,
    handsBox,
    modNote,
    endRow,
  );
  // A server with no media server: no call, only the series' own video link if it has one.
  const noCall = h("section", { class: "call card no-call", "aria-label": "Video" });
  const callArea = h("div", { class: "meeting-call" }, callRegion);

  // ----- the chat: the room view, as it is -----
  let chat: View | null = null;
  const chatArea = h("div", { class: "meeting-chat" }, loading());

  // ----- the check-in -----
  const checkinTitleId = uid("checkin");
  const checkinSlot = h("div");
  const checkinArea = h(
    "section",
    { class: "meeting-checkin card", "aria-labelledby": checkinTitleId, hidden: true },
    h("h2", { id: checkinTitleId }, "Check in"),
    h("p", { class: "hint" }, "How are you arriving today? Your check-in goes to the clinicians."),
    checkinSlot,
  );
  // The call with the check-in under it; the chat beside them (below them on a phone).
  const callColumn = h("div", { class: "meeting-call-column" }, callArea, checkinArea);
  let checkinFor = "";
  let checkedInNow = false;

  let call: Call | null = null;
  let callLoading: Promise<Call> | null = null;
  const loadCall = (): Promise<Call> => {
    callLoading ??= import("../room/call").then(({ createCall }) => {
      call = createCall(handlers);
      return call;
    });
    // A failed load (offline) may be tried again.
    callLoading.catch(() => {
      callLoading = null;
    });
    return callLoading;
  };

  const handlers: CallHandlers = {
    participants(list) {
      const gone = participants.filter((p) => !list.some((q) => q.feedId === p.feedId));
      for (const p of gone) {
        remote.delete(p.feedId);
        if (pinned === p.feedId) pinned = null;
        // Someone who left the call has no hand up; leaving it oneself forgets nobody's hand.
        if (call?.joined()) hands = handsWithout(hands, p.feedId);
      }
      participants = [...list];
      drawTiles();
      if (gone.length) drawHands();
    },
    localVideo(track) {
      localVideo = track;
      drawTiles();
      drawCall();
    },
    remoteTrack(feedId, track, on) {
      const media = remote.get(feedId) ?? { audio: null, video: null };
      const kind = track.kind === "audio" ? "audio" : "video";
      if (on) media[kind] = track;
      else if (media[kind] === track) media[kind] = null;
      remote.set(feedId, media);
      drawTiles();
    },
    moderated(muted) {
      setMicModerated(muted);
    },
    ended(reason) {
      resetCall();
      if (reason === "removed") callPhase = "removed";
      else if (reason === "destroyed") callPhase = "ended";
      else {
        callPhase = "out";
        passFresh = false;
        callErrors.show("The connection to the call was lost. You can join again.");
      }
      drawCall();
      keepFocus();
    },
  };

  // ----- loading the session -----

  async function load(): Promise<void> {
    try {
      const [upcoming, meetings] = await Promise.all([
        get<{ occurrences: Occurrence[] }>(`/api/meetings/upcoming?days=${DAYS}`),
        series ? Promise.resolve(null) : get<{ meetings: Meeting[] }>("/api/meetings"),
      ]);
      if (stopped) return;
      errors.clear();
      if (meetings) series = meetings.meetings.find((m) => m.id === meetingId) ?? null;
      const found = currentOccurrence(upcoming.occurrences, meetingId);
      const roomId = found?.room_id ?? series?.room_id ?? null;
      if (roomId === null) {
        showMissing();
        return;
      }
      setOccurrence(found);
      mountChat(roomId);
    } catch (err) {
      if (!stopped) errors.show(describeAny(err));
    }
  }

  function showMissing(): void {
    title.textContent = "Meeting not found";
    document.title = "Meeting not found – peerrooms";
    sessionState.textContent = "There is no meeting at this address that is open to you.";
    replaceChildren(body, h("p", null, h("a", { href: "#/meetings" }, "Go to Meetings")));
  }

  function setOccurrence(found: Occurrence | null): void {
    const before = phase;
    occ = found;
    const next = sessionPhase(found);
    phase = next;
    if (next === "lobby" || next === "live") sawEnd = false;
    // The session closed without this page hearing its notice (offline, say): the call ends.
    if ((before === "lobby" || before === "live") && next === "outside") sessionEnded();
    // A session opening that is not the one the call was about: a new call, asked for afresh.
    if (found && (next === "lobby" || next === "live") && found.starts_at !== callFor) {
      callFor = found.starts_at;
      if (callPhase === "ended" || callPhase === "removed") callPhase = "out";
      if (callPhase === "out") {
        video = "idle";
        pass = null;
        passFresh = false;
        closedText = "";
        mediaFailed = false;
        callErrors.clear();
      }
    }
    if (!body.contains(callColumn)) replaceChildren(body, callColumn, chatArea);
    drawSession();
    if (phase === "lobby" || phase === "live") void checkVideo();
    drawCall();
    drawCheckin();
  }

  function drawSession(): void {
    const name = occ?.title ?? series?.title ?? "Meeting";
    setText(title, name);
    document.title = `${name} – peerrooms`;
    if (occ) {
      const at = meetingWhen(occ.starts_at, occ.ends_at);
      setText(when, `${at.date}, ${at.time}`);
    } else {
      setText(when, "");
    }
    when.hidden = !occ;
    sessionState.className = `session-state ${phase}`;
    setText(sessionState, sessionSentence());
  }

  function sessionSentence(): string {
    if (phase === "lobby" && occ) return `Lobby open: the session starts at ${TIME.format(new Date(occ.starts_at))}.`;
    if (phase === "live" && occ) return `Live now, until ${TIME.format(new Date(occ.ends_at))}.`;
    if (phase === "ended") return "This session has ended.";
    const ended = sawEnd ? "This session has ended. " : "";
    if (occ) {
      const opens = new Date(occ.lobby_opens_at);
      return `${ended}${sawEnd ? "The next lobby" : "The lobby"} opens ${DAY.format(opens)} at ${TIME.format(opens)}. Until then the chat is here to read.`;
    }
    return `${ended}No session of this meeting in the next ${DAYS} days.`;
  }

  function mountChat(roomId: number): void {
    if (chat) return;
    // One page, one top heading: the room's name is a heading of the second level here.
    chat = roomView(
      roomId,
      (reason) => {
        // Removed from the meeting's room (kicked or banned): out of the call at once, then away.
        endCallNow("out");
        onLeave(reason);
      },
      true,
    );
    replaceChildren(chatArea, chat.node);
  }

  // ----- the check-in -----

  function drawCheckin(): void {
    const live = phase === "live" && occ !== null;
    const key = occ ? `${occ.meeting_id}@${occ.starts_at}` : "";
    if (live && occ && key !== checkinFor) {
      checkinFor = key;
      checkedInNow = false;
      replaceChildren(
        checkinSlot,
        checkInForm(occ, () => {
          checkedInNow = true;
        }),
      );
    }
    // Members check in; once checked in (in this tab) the prompt stays away, except right
    // after, while it says thank you.
    checkinArea.hidden = !(live && occ && !staff && (checkedInNow || !hasCheckedIn(occ)));
  }

  // ----- the video pass -----

  async function fetchPass(): Promise<VideoPass | null> {
    try {
      const data = await post<{ video: VideoPass }>(`/api/meetings/${meetingId}/video`, {});
      if (stopped) return null;
      video = "ready";
      return data.video;
    } catch (err) {
      if (stopped) return null;
      const code = err instanceof ApiError ? err.error.code : "";
      if (code === "not_found") {
        video = "none";
      } else if (code === "meeting_closed") {
        // Outside the windows, or the call of this session was ended: the server says which.
        video = "closed";
        closedText = describeAny(err);
      } else if (code === "forbidden" || code === "banned") {
        video = "refused";
        callErrors.show(describeAny(err));
      } else {
        video = "unavailable";
        callErrors.show(
          code === "unavailable" || code === "internal"
            ? "The video call is not answering right now. Try again in a moment."
            : describeAny(err),
        );
      }
      return null;
    }
  }

  /** In the windows, ask for a pass once: it says whether there is a call here at all. */
  async function checkVideo(): Promise<void> {
    if (video !== "idle" && video !== "closed") return;
    if (callPhase === "ended" || callPhase === "removed") return;
    video = "checking";
    drawCall();
    const fresh = await fetchPass();
    if (stopped) return;
    if (fresh) {
      pass = fresh;
      passFresh = true;
    }
    drawCall();
  }

  async function retry(): Promise<void> {
    callErrors.clear();
    video = "idle";
    await checkVideo();
    keepFocus(joinVideo);
  }

  // ----- joining and leaving -----

  async function join(options: JoinOptions): Promise<void> {
    if (callPhase === "joining" || callPhase === "in") return;
    callErrors.clear();
    modNote.textContent = "";
    callPhase = "joining";
    drawCall();
    let usePass = passFresh ? pass : null;
    passFresh = false;
    if (!usePass) {
      usePass = await fetchPass();
      if (stopped || callPhase !== "joining") return;
      if (!usePass) {
        callPhase = "out";
        drawCall();
        keepFocus();
        return;
      }
      pass = usePass;
    }
    try {
      const loaded = await loadCall();
      if (stopped || callPhase !== "joining") return;
      await loaded.join(usePass, options);
      if (stopped || callPhase !== "joining") return;
      callPhase = "in";
      mediaFailed = false;
      micModerated = false;
      micNotice.hidden = true;
      drawCall();
      drawTiles();
      [micButton, cameraButton, leaveButton].find((b) => !b.hidden)?.focus();
      void seedHands();
    } catch (err) {
      if (stopped || callPhase !== "joining") return;
      const kind = callErrorKind(err);
      if (kind === "cancelled") return;
      callPhase = "out";
      callErrors.show(joinErrorText(kind, options));
      mediaFailed = MEDIA_ERRORS.includes(kind);
      if (kind === "unreachable" || kind === "refused") video = "unavailable";
      drawCall();
      keepFocus(mediaFailed ? (options.audioOnly ? listenOnly : joinAudio) : tryAgain);
    }
  }

  // Hands raised before one joined: `video_hand` events only tell of those raised after.
  async function seedHands(): Promise<void> {
    try {
      const { call: state } = await get<{ call: VideoCallState }>(`/api/meetings/${meetingId}/video`);
      if (stopped || callPhase !== "in") return;
      let seeded = handsFromCall(state.participants);
      for (const hand of hands) {
        seeded = applyHand(seeded, { feed_id: hand.feedId, user_id: hand.userId, display_name: hand.displayName, raised: true });
      }
      hands = seeded;
      drawHands();
    } catch {
      // Only the hands already up are missing; the next `video_hand` events still arrive.
    }
  }

  function joinErrorText(kind: CallErrorKind, options: JoinOptions): string {
    const what = options.audioOnly ? "microphone" : "camera or microphone";
    const offer = options.audioOnly ? "You can listen only." : "You can join with audio only, or listen only.";
    switch (kind) {
      case "media_denied":
        return `Your browser did not allow the ${what}. ${offer} To use ${options.audioOnly ? "it" : "them"}, allow ${options.audioOnly ? "it" : "them"} for this site in the browser's settings and join again.`;
      case "media_missing":
        return `No ${what} was found. ${offer}`;
      case "media_busy":
        return `The ${what} is in use by another program. Close it and join again. ${offer}`;
      case "unsupported":
        return "This browser cannot join video calls. A recent Chrome, Firefox, Safari or Edge can.";
      case "refused":
        return "The video call did not let you in. Try again in a moment.";
      default:
        return "The video call is not answering right now. Try again in a moment.";
    }
  }

  function cameraErrorText(kind: CallErrorKind): string {
    const stay = "You are still in the call.";
    if (kind === "media_denied") return `Your browser did not allow the camera. ${stay}`;
    if (kind === "media_missing") return `No camera was found. ${stay}`;
    if (kind === "media_busy") return `The camera is in use by another program. ${stay}`;
    return `The camera could not be turned on. ${stay} Try again in a moment.`;
  }

  /** Everything of the call on this page goes: tracks stopped, session closed, tiles gone. */
  function resetCall(): void {
    call?.leave();
    participants = [];
    remote.clear();
    localVideo = null;
    pinned = null;
    micModerated = false;
    micNotice.hidden = true;
    drawTiles();
  }

  /** Leave the call now and say why (`out`: just not in it). */
  function endCallNow(next: CallPhase): void {
    const wasIn = callPhase === "in" || callPhase === "joining";
    resetCall();
    if (wasIn || next !== "out") callPhase = next;
    drawCall();
    keepFocus();
  }

  function leave(): void {
    if (myHandUp()) void post(`/api/meetings/${meetingId}/video/hand`, { raised: false }).catch(() => {});
    if (me) hands = hands.filter((hand) => hand.userId !== me.id);
    resetCall();
    callPhase = "out";
    drawCall();
    drawHands();
    keepFocus(joinVideo);
  }

  function sessionEnded(): void {
    sawEnd = true;
    const wasIn = callPhase === "in" || callPhase === "joining";
    resetCall();
    hands = [];
    drawHands();
    if (wasIn || callPhase === "out") callPhase = "ended";
    video = "idle";
    passFresh = false;
  }

  // ----- camera, microphone, hand -----

  async function toggleCamera(): Promise<void> {
    if (!call) return;
    const on = !call.cameraOn();
    cameraButton.disabled = true;
    try {
      await call.setCamera(on);
    } catch (err) {
      const kind = callErrorKind(err);
      if (kind !== "cancelled") callErrors.show(cameraErrorText(kind));
    } finally {
      cameraButton.disabled = false;
      drawCall();
      drawTiles();
    }
  }

  function toggleMicrophone(): void {
    if (micModerated || !call) return;
    call.setMicrophone(!call.microphoneOn());
    drawCall();
  }

  function setMicModerated(muted: boolean): void {
    if (callPhase !== "in" && callPhase !== "joining") return;
    micModerated = muted;
    if (muted) call?.setMicrophone(false);
    micNotice.textContent = muted
      ? "A moderator muted your microphone."
      : "A moderator unmuted your microphone. You can turn it on again with Unmute microphone.";
    micNotice.hidden = false;
    drawCall();
  }

  const myHandUp = (): boolean => me !== null && hands.some((hand) => hand.userId === me.id);

  async function toggleHand(): Promise<void> {
    const raised = !myHandUp();
    handButton.disabled = true;
    try {
      await post(`/api/meetings/${meetingId}/video/hand`, { raised });
      if (stopped) return;
      // The `video_hand` event says the same a moment later.
      if (me && pass) hands = applyHand(hands, { feed_id: pass.feed_id, user_id: me.id, display_name: pass.display, raised });
      drawHands();
      drawTiles();
    } catch (err) {
      if (!stopped) callErrors.show(describeAny(err));
    } finally {
      handButton.disabled = false;
      drawCall();
    }
  }

  // ----- moderators -----

  function askReason(options: {
    title: string;
    text: string;
    confirmText: string;
    tone: "warn" | "danger";
    run(reason: string): Promise<unknown>;
    done(): void;
  }): void {
    const reason = h("textarea", { rows: "2", maxlength: "500" });
    const dialogErrors = errorBox();
    const yes = button(options.confirmText, { class: options.tone });
    const cancel = button("Cancel");
    const handle = openDialog({
      title: options.title,
      content: [
        h("p", null, options.text),
        field("Reason", reason, "Kept in the audit log; shown to staff only."),
        dialogErrors.node,
        h("div", { class: "dialog-actions" }, yes, cancel),
      ],
      initialFocus: reason,
    });
    cancel.addEventListener("click", () => handle.close());
    yes.addEventListener("click", async () => {
      dialogErrors.clear();
      yes.disabled = true;
      cancel.disabled = true;
      try {
        await options.run(reason.value.trim());
      } catch (err) {
        dialogErrors.show(describeAny(err));
        yes.disabled = false;
        cancel.disabled = false;
        return;
      }
      handle.close();
      options.done();
    });
  }

  function muteParticipant(p: Participant): void {
    const muted = !p.moderated;
    const name = p.display;
    askReason({
      title: muted ? `Mute ${name}'s microphone?` : `Unmute ${name}'s microphone?`,
      text: muted
        ? `${name} is not heard in the call until a moderator unmutes them. They are told a moderator muted them.`
        : `${name} can then turn their microphone on again.`,
      confirmText: muted ? "Mute" : "Unmute",
      tone: "warn",
      run: (reason) => post(`/api/meetings/${meetingId}/video/mute`, { feed_id: p.feedId, mid: p.audioMid ?? "", muted, reason }),
      done: () => {
        modNote.textContent = muted ? `${name} is muted in the call.` : `${name} is unmuted.`;
      },
    });
  }

  function removeParticipant(p: Participant): void {
    const name = p.display;
    askReason({
      title: `Remove ${name} from the call?`,
      text: `${name} leaves the call at once and cannot join it again. The chat is not changed.`,
      confirmText: "Remove",
      tone: "danger",
      run: (reason) => post(`/api/meetings/${meetingId}/video/remove`, { feed_id: p.feedId, reason }),
      done: () => {
        modNote.textContent = `${name} was removed from the call.`;
      },
    });
  }

  function endForEveryone(): void {
    askReason({
      title: "End the call for everyone?",
      text: "Everyone leaves the call at once. The chat stays open.",
      confirmText: "End the call",
      tone: "danger",
      run: (reason) => post(`/api/meetings/${meetingId}/video/end`, { reason }),
      // The `video_ended` event ends it here too; this page need not wait for it.
      done: () => endCallNow("ended"),
    });
  }

  // ----- drawing the call -----

  function drawCall(): void {
    if (video === "none") {
      drawNoCall();
      return;
    }
    if (!callArea.contains(callRegion)) replaceChildren(callArea, callRegion);
    const open = phase === "lobby" || phase === "live";
    const over = callPhase === "ended" || callPhase === "removed";
    setText(callStatus, CALL_STATUS[callPhase]);
    let note = "";
    if (!open && !over && occ) note = "The call opens with the lobby.";
    else if (!open && !over) note = "There is no call until the next session.";
    else if (video === "checking") note = "Getting the call ready…";
    else if (video === "closed") note = closedText || "The call opens with the lobby.";
    setText(callNote, note);
    callNote.hidden = note === "";

    const canJoin = open && !over && callPhase === "out" && video === "ready";
    joinVideo.hidden = !canJoin;
    joinAudio.hidden = !canJoin;
    listenOnly.hidden = !(canJoin && mediaFailed);
    tryAgain.hidden = !(open && !over && callPhase === "out" && video === "unavailable");
    joinRow.hidden = joinVideo.hidden && tryAgain.hidden;

    const inCall = callPhase === "in";
    // While joining, only `Leave call` (which gives up joining).
    controls.hidden = !(inCall || callPhase === "joining");
    handButton.hidden = !inCall;
    cameraButton.hidden = !inCall || !call?.hasCamera();
    setText(cameraButton, call?.cameraOn() ? "Turn camera off" : "Turn camera on");
    micButton.hidden = !inCall || !call?.hasMicrophone();
    setText(micButton, call?.microphoneOn() ? "Mute microphone" : "Unmute microphone");
    micButton.disabled = micModerated;
    setText(handButton, myHandUp() ? "Lower hand" : "Raise hand");
    tilesBox.hidden = !inCall;
    if (!inCall && callPhase !== "joining") micNotice.hidden = true;
    const callUsable = open && !over && video === "ready";
    handsBox.hidden = !(staff && (callUsable || inCall));
    endRow.hidden = !(staff && callUsable);
  }

  function drawNoCall(): void {
    const link = safeHttpUrl(occ?.video_url ?? series?.video_url);
    replaceChildren(
      noCall,
      h("h2", null, "Video"),
      h("p", null, "Video calls are not set up on this server."),
      link
        ? h(
            "p",
            null,
            "This group meets by video at its own link: ",
            h("a", { href: link, target: "_blank", rel: "noopener noreferrer", class: "button" }, "Video link"),
          )
        : null,
    );
    if (!callArea.contains(noCall)) replaceChildren(callArea, noCall);
  }

  function drawHands(): void {
    replaceChildren(handsList, ...hands.map((hand) => h("li", null, hand.displayName)));
    handsEmpty.hidden = hands.length > 0;
    setText(handButton, myHandUp() ? "Lower hand" : "Raise hand");
  }

  // ----- tiles -----

  function makeTile(p: Participant): Tile {
    const videoEl = h("video", { class: "tile-video", autoplay: true, playsinline: true, muted: true, "data-feed": p.feedId });
    // The property, not only the attribute: a muted video may always play by itself. Sound
    // comes from the <audio> element.
    videoEl.muted = true;
    const avatar = h(
      "div",
      { class: "tile-avatar", role: "img", "aria-label": p.display, "data-feed": p.feedId },
      h("span", { "aria-hidden": "true" }, initials(p.display)),
    );
    const name = h("figcaption", { class: "tile-name" }, p.display);
    const you = h("span", { class: "tag mine" }, "You");
    const hand = h("span", { class: "tile-hand" }, h("span", { "aria-hidden": "true" }, "✋ "), "Hand raised");
    const muted = h("span", { class: "tile-muted" }, "Muted by a moderator");
    const media = h("div", { class: "tile-media" }, avatar);
    const pin = button(`Pin ${p.display}`, { class: "small tile-pin", "aria-pressed": "false" });
    pin.addEventListener("click", () => togglePin(p.feedId));
    let mute: HTMLButtonElement | null = null;
    let remove: HTMLButtonElement | null = null;
    if (staff && !p.self) {
      mute = button(`Mute ${p.display}`, { class: "small warn", "aria-haspopup": "dialog" });
      remove = button(`Remove ${p.display} from the call`, { class: "small danger", "aria-haspopup": "dialog" });
      mute.addEventListener("click", () => {
        const current = tiles.get(p.feedId)?.participant;
        if (current) muteParticipant(current);
      });
      remove.addEventListener("click", () => {
        const current = tiles.get(p.feedId)?.participant;
        if (current) removeParticipant(current);
      });
    }
    const figure = h(
      "figure",
      { class: "tile", "data-tile": p.feedId },
      media,
      name,
      h("div", { class: "tile-badges" }, you, hand, muted),
      h("div", { class: "tile-actions" }, p.self ? null : pin, mute, remove),
    );
    // On a phone a tap on a tile shows it large (and a tap on the large one lets go).
    figure.addEventListener("click", (event) => {
      if (layout !== "speaker" || (event.target as HTMLElement).closest("button")) return;
      togglePin(p.feedId);
    });
    const tile: Tile = {
      feedId: p.feedId,
      figure,
      name,
      you,
      hand,
      muted,
      media,
      video: videoEl,
      avatar,
      audio: null,
      pin,
      mute,
      remove,
      shownVideo: null,
      shownAudio: null,
      participant: p,
    };
    tiles.set(p.feedId, tile);
    return tile;
  }

  function togglePin(feedId: number): void {
    pinned = pinned === feedId ? null : feedId;
    drawTiles();
  }

  function updateTile(tile: Tile, p: Participant, active: number | null): void {
    tile.participant = p;
    setText(tile.name, p.display);
    tile.avatar.setAttribute("aria-label", p.display);
    tile.you.hidden = !p.self;
    const handUp = hands.some((hand) => hand.feedId === p.feedId);
    tile.hand.hidden = !handUp;
    tile.muted.hidden = !p.moderated;
    tile.figure.classList.toggle("talking", p.talking);
    tile.figure.classList.toggle("active", layout === "speaker" && p.feedId === active);
    if (handUp) tile.figure.setAttribute("data-hand", "raised");
    else tile.figure.removeAttribute("data-hand");
    tile.pin.hidden = layout !== "speaker";
    setText(tile.pin, `Pin ${p.display}`);
    tile.pin.setAttribute("aria-pressed", String(pinned === p.feedId));
    if (tile.mute) {
      setText(tile.mute, `${p.moderated ? "Unmute" : "Mute"} ${p.display}`);
      // Someone who publishes no audio has nothing to mute.
      tile.mute.hidden = p.audioMid === null && !p.moderated;
    }
    if (tile.remove) setText(tile.remove, `Remove ${p.display} from the call`);

    // Video: one's own preview, or the received track; else the avatar.
    const track = p.self ? localVideo : remote.get(p.feedId)?.video ?? null;
    if (track !== tile.shownVideo) {
      tile.shownVideo = track;
      tile.video.srcObject = track ? new MediaStream([track]) : null;
      if (track) void tile.video.play().catch(() => {});
    }
    const shown = track ? tile.video : tile.avatar;
    if (tile.media.firstChild !== shown) replaceChildren(tile.media, shown);
    tile.figure.classList.toggle("self", p.self);

    // Sound: others only (one's own would echo).
    const audio = p.self ? null : remote.get(p.feedId)?.audio ?? null;
    if (audio !== tile.shownAudio) {
      tile.shownAudio = audio;
      if (audio) {
        tile.audio ??= h("audio", { autoplay: true, "data-audio-feed": p.feedId });
        tile.audio.srcObject = new MediaStream([audio]);
        if (!tile.audio.isConnected) tile.figure.append(tile.audio);
        void tile.audio.play().catch(() => {});
      } else if (tile.audio) {
        tile.audio.srcObject = null;
        tile.audio.remove();
        tile.audio = null;
      }
    }
  }

  function dropTile(tile: Tile): void {
    tile.video.srcObject = null;
    if (tile.audio) tile.audio.srcObject = null;
    tile.figure.remove();
    tiles.delete(tile.feedId);
  }

  function drawTiles(): void {
    const active = layout === "speaker" ? activeSpeaker(participants, pinned) : null;
    const ordered = tileOrder(participants, active, layout);
    const keep = new Set(ordered.map((p) => p.feedId));
    for (const tile of [...tiles.values()]) if (!keep.has(tile.feedId)) dropTile(tile);
    for (const p of ordered) updateTile(tiles.get(p.feedId) ?? makeTile(p), p, active);
    tilesBox.setAttribute("data-layout", layout);
    const figures = ordered.map((p) => tiles.get(p.feedId)!.figure);
    if (layout === "speaker") {
      place(stage, figures.slice(0, 1));
      place(strip, figures.slice(1));
    } else {
      place(stage, figures);
      place(strip, []);
    }
    strip.hidden = strip.childElementCount === 0;
  }

  // ----- what the server tells -----

  offs.push(
    connection.on("notice", (notice: Notice) => {
      if (stopped) return;
      const roomId = occ?.room_id ?? series?.room_id ?? null;
      if ((notice.kind === "kicked" || notice.kind === "banned") && roomId !== null && notice.room_id === roomId) {
        // Out of the meeting's room is out of its call, at once (the chat leaves the page next).
        endCallNow("out");
        return;
      }
      if (notice.meeting_id !== meetingId) return;
      const bannerKey = `${notice.kind}:${notice.room_id ?? ""}`;
      switch (notice.kind) {
        case "video_muted":
        case "video_unmuted":
          setMicModerated(notice.kind === "video_muted");
          // Said here, beside the microphone: one alert, not two.
          removeBanner(bannerKey);
          break;
        case "video_removed":
          endCallNow("removed");
          removeBanner(bannerKey);
          break;
        case "meeting_lobby_open":
        case "meeting_started":
          if (occ && notice.starts_at === occ.starts_at) {
            setOccurrence({ ...occ, status: notice.kind === "meeting_started" ? "live" : "lobby" });
          }
          void load();
          break;
        case "meeting_ended":
          sessionEnded();
          if (occ) setOccurrence({ ...occ, status: "ended" });
          void load();
          break;
        default:
          if (notice.kind.startsWith("meeting_")) void load();
      }
    }),
    connection.on("video_hand", (event: VideoHandEvent) => {
      if (stopped || event.meeting_id !== meetingId) return;
      hands = applyHand(hands, event);
      drawHands();
      drawTiles();
    }),
    connection.on("video_ended", (event: VideoEndedEvent) => {
      if (stopped || event.meeting_id !== meetingId) return;
      hands = [];
      drawHands();
      endCallNow("ended");
    }),
  );

  // ----- wiring -----

  joinVideo.addEventListener("click", () => void join({}));
  joinAudio.addEventListener("click", () => void join({ audioOnly: true }));
  // Nothing sent; the others are still seen and heard.
  listenOnly.addEventListener("click", () => void join({ listenOnly: true }));
  tryAgain.addEventListener("click", () => void retry());
  cameraButton.addEventListener("click", () => void toggleCamera());
  micButton.addEventListener("click", toggleMicrophone);
  handButton.addEventListener("click", () => void toggleHand());
  leaveButton.addEventListener("click", leave);
  endButton.addEventListener("click", endForEveryone);

  const narrow = window.matchMedia(`(max-width: ${PHONE_WIDTH - 0.02}px)`);
  const onWidth = (): void => {
    const next = layoutFor(window.innerWidth);
    if (next === layout) return;
    layout = next;
    drawTiles();
  };
  narrow.addEventListener("change", onWidth);
  offs.push(() => narrow.removeEventListener("change", onWidth));

  /** After a redraw hid the focused control, focus goes somewhere that makes sense. */
  function keepFocus(preferred?: HTMLElement): void {
    const active = document.activeElement as HTMLElement | null;
    const lost = !active || active === document.body || !active.isConnected || active.closest("[hidden]") !== null;
    if (preferred && !preferred.hidden && preferred.isConnected && preferred.closest("[hidden]") === null && (lost || callRegion.contains(active))) {
      preferred.focus();
    } else if (lost && callRegion.isConnected) {
      callTitle.focus();
    }
  }

  void load();
  const timer = window.setInterval(() => {
    if (document.visibilityState === "visible") void load();
  }, REFRESH_MS);

  drawHands();
  const node = h(
    "div",
    { class: "meeting-room-view" },
    h("div", { class: "meeting-room-head" }, title, when, sessionState, h("p", { class: "meeting-back" }, h("a", { href: "#/meetings" }, "All meetings"))),
    errors.node,
    body,
  );
  return {
    title: "Meeting",
    node,
    cleanup: () => {
      stopped = true;
      window.clearInterval(timer);
      for (const off of offs) off();
      // Never a camera left running after the page is gone.
      if (myHandUp()) void post(`/api/meetings/${meetingId}/video/hand`, { raised: false }).catch(() => {});
      call?.leave();
      for (const tile of [...tiles.values()]) dropTile(tile);
      chat?.cleanup?.();
      chat = null;
    },
  };
}

/** A CallError's kind; anything else thrown while joining counts as the call not answering. */
function callErrorKind(err: unknown): CallErrorKind {
  return err instanceof Error && "kind" in err ? (err as Error & { kind: CallErrorKind }).kind : "unreachable";
}

/** These children first, in this order, moving only what is out of place (a <video> moved
 * within the page keeps playing). */
function place(parent: HTMLElement, children: HTMLElement[]): void {
  // What else is in `parent` now is moved to the other container by the next call.
  children.forEach((child, index) => {
    if (parent.children[index] !== child) parent.insertBefore(child, parent.children[index] ?? null);
  });
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function initials(name: string): string {
  const letters = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => Array.from(word)[0] ?? "")
    .join("");
  return letters.toUpperCase() || "?";
}
