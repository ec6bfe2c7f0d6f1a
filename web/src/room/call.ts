// The video call: the one module that talks to Janus (janus.js, from the npm package
// janus-gateway). One Janus session per call with two handles on the video room plugin: the
// publisher (this browser's camera and microphone, and the room's news: who publishes, who
// left, who talks, who a moderator muted) and one multistream subscriber that receives every
// other participant's streams, changed with `subscribe` / `unsubscribe` as people come and go.
// The page (views/meeting-room.ts) gets participants and tracks through `CallHandlers` and
// draws them; what the messages mean is worked out in call-model.ts.
//
// This module owns the camera and microphone tracks (it asks for them itself and hands them to
// janus.js), so whatever ends the call, every track is stopped here.
import Janus, { type JanusJS } from "janus-gateway";
import adapter from "webrtc-adapter";
import type { VideoPass } from "../types";
import {
  feedsByMid,
  mergePublishers,
  readPublisherEvent,
  streamKey,
  streamsToSubscribe,
  withModeration,
  withSelf,
  withTalking,
  withoutParticipant,
  type JanusPublisher,
  type Participant,
  type StreamRef,
  type SubscriberStream,
} from "./call-model";

const VIDEOROOM = "janus.plugin.videoroom";
// How long each step of joining may take before the media server counts as not answering.
const STEP_TIMEOUT_MS = 20_000;
// A subscription refused (a publisher left between the list and the request): ask again once
// the list has settled.
const RESUBSCRIBE_MS = 1_000;
// A camera turned off sends nothing and tells nobody (its sender's track is replaced by none,
// with no renegotiation), and a receiving <video> would keep its last frame on screen. So the
// frames decoded per remote camera are counted every STALL_CHECK_MS; one with no new frame for
// STALL_MS is reported stopped (its tile shows the initials) until frames come again.
const STALL_CHECK_MS = 1_000;
const STALL_MS = 2_000;
// Small video: a group of fifteen on home connections.
const CAMERA: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 20 } };

export type CallErrorKind =
  /** No WebRTC here (an old browser, or a page not served over https). */
  | "unsupported"
  /** The browser (or the person) refused the camera or microphone. */
  | "media_denied"
  /** No camera or microphone found. */
  | "media_missing"
  /** The camera or microphone is in use by another program. */
  | "media_busy"
  /** The media server did not answer, or the connection to it failed. */
  | "unreachable"
  /** The media server refused this pass (token or room). */
  | "refused"
  /** `leave()` (or another `join`) came first. */
  | "cancelled";

export class CallError extends Error {
  readonly kind: CallErrorKind;

  constructor(kind: CallErrorKind, message: string = kind) {
    super(message);
    this.kind = kind;
  }
}

/** Why a call ended that this browser did not leave itself. */
export type CallEndReason = "removed" | "destroyed" | "lost";

export interface CallHandlers {
  /** Everyone in the call, oneself first; after every change. */
  participants(list: readonly Participant[]): void;
  /** The own camera's track, for the preview; null when the camera is off or not used. */
  localVideo(track: MediaStreamTrack | null): void;
  /** Another participant's track began (on) or stopped, for now or for good (off). */
  remoteTrack(feedId: number, track: MediaStreamTrack, on: boolean): void;
  /** Janus says a moderator muted (or unmuted) this browser's microphone. */
  moderated(muted: boolean): void;
  /** The call ended without this browser leaving: everything is torn down already. */
  ended(reason: CallEndReason): void;
}

export interface JoinOptions {
  /** Publish no video and receive no video (poor connections). */
  audioOnly?: boolean;
  /** Publish nothing (camera and microphone refused); receive as audioOnly says. */
  listenOnly?: boolean;
}

export interface Call {
  /** Join the pass's room: capture, connect, publish and subscribe. Rejects with a CallError;
   * after a rejection nothing is left running. */
  join(pass: VideoPass, options?: JoinOptions): Promise<void>;
  /** Leave at once: every track stopped, the peer connections closed, the session destroyed. */
  leave(): void;
  /** Camera off stops the camera (its light goes out); on asks for it again. */
  setCamera(on: boolean): Promise<void>;
  setMicrophone(on: boolean): void;
  joined(): boolean;
  feedId(): number | null;
  cameraOn(): boolean;
  microphoneOn(): boolean;
  /** Joined with a camera (false for audio only and listen only). */
  hasCamera(): boolean;
  hasMicrophone(): boolean;
}

let initialized: Promise<void> | null = null;

/** janus.js once per page, with the adapter passed in (janus.js would look for a global one). */
function initJanus(): Promise<void> {
  initialized ??= new Promise((resolve) => {
    Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies({ adapter }), callback: () => resolve() });
  });
  return initialized;
}

function stopTrack(track: MediaStreamTrack | null): void {
  try {
    track?.stop();
  } catch {
    /* already stopped */
  }
}

function mediaError(err: unknown): CallError {
  const name = err && typeof err === "object" && "name" in err ? String((err as { name: unknown }).name) : "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return new CallError("media_denied", name);
  }
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
    return new CallError("media_missing", name);
  }
  if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") return new CallError("media_busy", name);
  return new CallError("media_denied", name || String(err));
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => reject(new CallError("unreachable", `${what}: no answer`)), STEP_TIMEOUT_MS);
    promise.then(
      (value) => {
        window.clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        window.clearTimeout(timer);
        reject(err);
      },
    );
  });
}

type JoinedEvent = Extract<ReturnType<typeof readPublisherEvent>, { kind: "joined" }>;

export function createCall(handlers: CallHandlers): Call {
  // Every teardown starts a new generation: callbacks of an older call change nothing.
  let generation = 0;
  let session: Janus | null = null;
  let publisher: JanusJS.PluginHandle | null = null;
  let subscriber: JanusJS.PluginHandle | null = null;
  let subscriberState: "none" | "attaching" | "ready" = "none";
  // Streams asked for before the subscriber handle was ready.
  let pending: StreamRef[] = [];
  const subscribed = new Set<string>();
  let midFeeds = new Map<string, number>();
  let people: Participant[] = [];
  let pass: VideoPass | null = null;
  let privateId: number | null = null;
  let receiveVideo = true;
  let audioTrack: MediaStreamTrack | null = null;
  let videoTrack: MediaStreamTrack | null = null;
  let joinedWithCamera = false;
  let isJoined = false;
  let talkTick = 0;
  let joinWaiter: { resolve(event: JoinedEvent): void; reject(err: CallError): void } | null = null;
  let resubscribeTimer: number | undefined;
  let stallTimer: number | undefined;
  // Per subscriber mid: whose camera, its frames decoded when last counted, since when, and
  // whether it was reported stopped.
  const frames = new Map<string, { feedId: number; decoded: number; since: number; stopped: boolean }>();

  const current = (gen: number): boolean => gen === generation;

  function check(gen: number): void {
    if (!current(gen)) throw new CallError("cancelled");
  }

  function emitPeople(next: Participant[]): void {
    people = next;
    handlers.participants(people);
  }

  // ----- tearing down -----

  /** Stop everything this call holds. Safe to call at any point, any number of times. */
  function teardown(): void {
    generation += 1;
    window.clearTimeout(resubscribeTimer);
    window.clearInterval(stallTimer);
    frames.clear();
    joinWaiter?.reject(new CallError("cancelled"));
    joinWaiter = null;
    stopTrack(audioTrack);
    stopTrack(videoTrack);
    audioTrack = null;
    videoTrack = null;
    // Close the peer connections here too: destroy() does, but not if the session never opened.
    for (const handle of [publisher, subscriber]) {
      try {
        handle?.webrtcStuff?.pc?.close();
      } catch {
        /* closed already */
      }
    }
    const old = session;
    session = null;
    publisher = null;
    subscriber = null;
    subscriberState = "none";
    pending = [];
    subscribed.clear();
    midFeeds = new Map();
    privateId = null;
    isJoined = false;
    joinedWithCamera = false;
    if (old) {
      try {
        old.destroy({ cleanupHandles: true, notifyDestroyed: false });
      } catch {
        /* the connection is gone already */
      }
    }
    if (people.length) emitPeople([]);
  }

  /** The call ended from outside (removed, room destroyed, connection lost), joined or still
   * joining: a join under way gives up (its promise rejects with `cancelled`). */
  function endedBy(gen: number, reason: "removed" | "destroyed" | "lost"): void {
    if (!current(gen)) return;
    teardown();
    handlers.localVideo(null);
    handlers.ended(reason);
  }

  // ----- joining -----

  async function captureMedia(gen: number, video: boolean): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) throw new CallError("unsupported", "no getUserMedia");
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? CAMERA : false });
    } catch (err) {
      throw mediaError(err);
    }
    if (!current(gen)) {
      for (const track of stream.getTracks()) stopTrack(track);
      throw new CallError("cancelled");
    }
    audioTrack = stream.getAudioTracks()[0] ?? null;
    videoTrack = stream.getVideoTracks()[0] ?? null;
    joinedWithCamera = videoTrack !== null;
  }

  function connect(gen: number, p: VideoPass): Promise<Janus> {
    return new Promise((resolve, reject) => {
      let opened = false;
      const janus: Janus = new Janus({
        server: p.server,
        // Always a list, even an empty one: janus.js would otherwise use a public STUN server.
        iceServers: Array.isArray(p.ice_servers) ? p.ice_servers : [],
        token: p.token,
        destroyOnUnload: true,
        success: () => {
          opened = true;
          if (current(gen)) resolve(janus);
          else janus.destroy({ cleanupHandles: true, notifyDestroyed: false });
        },
        error: (error: unknown) => {
          const text = String(error);
          if (!opened) reject(new CallError(/unauthori[sz]ed|token/i.test(text) ? "refused" : "unreachable", text));
          else endedBy(gen, "lost");
        },
      });
    });
  }

  function attachPublisher(gen: number, janus: Janus, p: VideoPass): Promise<JanusJS.PluginHandle> {
    return new Promise((resolve, reject) => {
      janus.attach({
        plugin: VIDEOROOM,
        opaqueId: `peerrooms-${p.meeting_id}`,
        success: (handle) => resolve(handle),
        error: (error) => reject(new CallError("unreachable", String(error))),
        onmessage: (msg, jsep) => onPublisherMessage(gen, msg, jsep),
        iceState: (state) => {
          if (state === "failed" && isJoined) endedBy(gen, "lost");
        },
        // This module holds the local tracks and gives them to the page itself.
        onlocaltrack: () => {},
        onremotetrack: () => {},
      });
    });
  }

  function sendJoin(handle: JanusJS.PluginHandle, p: VideoPass): Promise<JoinedEvent> {
    return new Promise((resolve, reject) => {
      joinWaiter = { resolve, reject };
      handle.send({
        // The room's `allowed` list checks `token` in the join itself.
        message: { request: "join", ptype: "publisher", room: p.room, id: p.feed_id, display: p.display, token: p.token },
        error: (error) => reject(new CallError("unreachable", String(error))),
      });
    });
  }

  function publish(handle: JanusJS.PluginHandle): Promise<void> {
    const tracks: JanusJS.TrackOption[] = [];
    if (audioTrack) tracks.push({ type: "audio", capture: audioTrack, recv: false });
    if (videoTrack) tracks.push({ type: "video", capture: videoTrack, recv: false });
    const audio = audioTrack !== null;
    const video = videoTrack !== null;
    return new Promise((resolve, reject) => {
      handle.createOffer({
        tracks,
        success: (jsep) => {
          handle.send({ message: { request: "configure", audio, video }, jsep });
          resolve();
        },
        error: (error) => reject(new CallError("unreachable", String(error))),
      });
    });
  }

  async function join(p: VideoPass, options: JoinOptions = {}): Promise<void> {
    teardown();
    const gen = generation;
    pass = p;
    receiveVideo = !options.audioOnly;
    try {
      await initJanus();
      check(gen);
      if (!Janus.isWebrtcSupported()) throw new CallError("unsupported", "no WebRTC");
      if (!options.listenOnly) await captureMedia(gen, !options.audioOnly);
      const janus = await withTimeout(connect(gen, p), "session");
      check(gen);
      session = janus;
      const handle = await withTimeout(attachPublisher(gen, janus, p), "attach");
      check(gen);
      publisher = handle;
      const joined = await withTimeout(sendJoin(handle, p), "join");
      joinWaiter = null;
      check(gen);
      privateId = joined.privateId;
      isJoined = true;
      emitPeople(withSelf(mergePublishers([], joined.publishers, p.feed_id), p.feed_id, p.display));
      handlers.localVideo(videoTrack);
      subscribeTo(gen, joined.publishers);
      if (receiveVideo) stallTimer = window.setInterval(() => void checkStalls(gen), STALL_CHECK_MS);
      if (audioTrack || videoTrack) await withTimeout(publish(handle), "publish");
      check(gen);
    } catch (err) {
      // Nothing half-made stays: no camera left on, no session left open.
      if (current(gen)) {
        teardown();
        handlers.localVideo(null);
      }
      throw err instanceof CallError ? err : new CallError("unreachable", String(err));
    }
  }

  // ----- the publisher handle: the room's news -----

  function onPublisherMessage(gen: number, msg: JanusJS.Message, jsep?: JanusJS.JSEP): void {
    if (!current(gen) || !pass) return;
    const selfId = pass.feed_id;
    const event = readPublisherEvent(msg, selfId);
    switch (event.kind) {
      case "joined":
        joinWaiter?.resolve(event);
        break;
      case "error":
        // Refusals of the join matter; later ones (a configure, say) change nothing here.
        joinWaiter?.reject(new CallError("refused", event.text || `Janus error ${event.code ?? ""}`.trim()));
        break;
      case "publishers":
        emitPeople(mergePublishers(people, event.publishers, selfId));
        subscribeTo(gen, event.publishers);
        break;
      case "gone":
        forget(event.feedId);
        break;
      case "removed":
        endedBy(gen, "removed");
        return;
      case "destroyed":
        endedBy(gen, "destroyed");
        return;
      case "talking":
        talkTick += 1;
        emitPeople(withTalking(people, event.feedId, event.talking, talkTick));
        break;
      case "moderated":
        emitPeople(withModeration(people, event.feedId, event.mid, event.muted));
        if (event.feedId === selfId) {
          // Janus drops the audio already; the track goes quiet here too, so the page agrees.
          if (event.muted && audioTrack) audioTrack.enabled = false;
          handlers.moderated(event.muted);
        }
        break;
      default:
        break;
    }
    if (jsep && publisher) publisher.handleRemoteJsep({ jsep });
  }

  /** Someone left: their tile goes, and so do their streams in the subscription. */
  function forget(feedId: number): void {
    emitPeople(withoutParticipant(people, feedId));
    for (const key of [...subscribed]) if (key.startsWith(`${feedId}/`)) subscribed.delete(key);
    pending = pending.filter((stream) => stream.feed !== feedId);
    if (subscriber && subscriberState === "ready") {
      subscriber.send({ message: { request: "unsubscribe", streams: [{ feed: feedId }] } });
    }
  }

  // ----- the subscriber handle: everyone else's streams -----

  function subscribeTo(gen: number, publishers: readonly JanusPublisher[]): void {
    if (!pass) return;
    const fresh = streamsToSubscribe(publishers, subscribed, { audioOnly: !receiveVideo, selfId: pass.feed_id });
    request(gen, fresh);
  }

  function request(gen: number, fresh: StreamRef[]): void {
    if (fresh.length === 0) return;
    for (const stream of fresh) subscribed.add(streamKey(stream.feed, stream.mid));
    if (subscriber && subscriberState === "ready") {
      subscriber.send({ message: { request: "subscribe", streams: fresh } });
      return;
    }
    pending.push(...fresh);
    if (subscriberState === "none") attachSubscriber(gen);
  }

  function attachSubscriber(gen: number): void {
    const janus = session;
    const p = pass;
    if (!janus || !p) return;
    subscriberState = "attaching";
    janus.attach({
      plugin: VIDEOROOM,
      opaqueId: `peerrooms-${p.meeting_id}`,
      success: (handle) => {
        if (!current(gen)) return;
        subscriber = handle;
        const streams = pending;
        pending = [];
        const message: Record<string, unknown> = { request: "join", ptype: "subscriber", room: p.room, streams };
        // The room requires it (require_pvtid): it ties the subscription to this participant,
        // so a moderator's removal ends both.
        if (privateId !== null) message.private_id = privateId;
        handle.send({ message: message as JanusJS.PluginMessage["message"] });
      },
      error: () => endedBy(gen, "lost"),
      onmessage: (msg, jsep) => onSubscriberMessage(gen, msg, jsep),
      onremotetrack: (track, mid, on) => {
        if (!current(gen)) return;
        const feedId = midFeeds.get(String(mid));
        if (feedId !== undefined) handlers.remoteTrack(feedId, track, on);
      },
      iceState: (state) => {
        if (state === "failed" && isJoined) endedBy(gen, "lost");
      },
    });
  }

  function onSubscriberMessage(gen: number, msg: JanusJS.Message, jsep?: JanusJS.JSEP): void {
    if (!current(gen) || !subscriber || !pass) return;
    const event = msg.videoroom;
    if (msg.error !== undefined || msg.error_code !== undefined) {
      // The first join refused (a publisher left in between): start the subscription over
      // from who is publishing now. Later refusals (unsubscribing someone already gone) are
      // harmless.
      if (subscriberState === "attaching") resubscribe(gen);
      return;
    }
    if (event === "attached") {
      subscriberState = "ready";
      const waiting = pending;
      pending = [];
      if (waiting.length) subscriber.send({ message: { request: "subscribe", streams: waiting } });
    }
    if ((event === "attached" || event === "updated") && Array.isArray(msg.streams)) {
      midFeeds = feedsByMid(msg.streams as SubscriberStream[]);
    }
    if (jsep) {
      const handle = subscriber;
      const room = pass.room;
      handle.createAnswer({
        jsep,
        // Receive only: nothing of ours goes on this connection.
        tracks: [],
        success: (answer) => handle.send({ message: { request: "start", room }, jsep: answer }),
        error: () => endedBy(gen, "lost"),
      });
    }
  }

  function resubscribe(gen: number): void {
    const old = subscriber;
    subscriber = null;
    subscriberState = "none";
    pending = [];
    subscribed.clear();
    midFeeds = new Map();
    try {
      old?.detach();
    } catch {
      /* gone already */
    }
    window.clearTimeout(resubscribeTimer);
    resubscribeTimer = window.setTimeout(() => {
      if (!current(gen)) return;
      const streams: StreamRef[] = [];
      for (const p of people) {
        if (p.self) continue;
        if (p.audioMid) streams.push({ feed: p.feedId, mid: p.audioMid });
        if (p.videoMid && receiveVideo) streams.push({ feed: p.feedId, mid: p.videoMid });
      }
      request(gen, streams);
    }, RESUBSCRIBE_MS);
  }

  /** Remote cameras that stopped (or started again) decoding frames, told to the page. */
  async function checkStalls(gen: number): Promise<void> {
    const pc = subscriber?.webrtcStuff?.pc;
    if (!current(gen) || !pc) return;
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return; // closed meanwhile
    }
    if (!current(gen)) return;
    // Summed per mid: a line reused for someone else's camera may still list the old stream.
    const decoded = new Map<string, number>();
    report.forEach((stats: { type?: string; kind?: string; mid?: string; framesDecoded?: number }) => {
      if (stats.type !== "inbound-rtp" || stats.kind !== "video" || typeof stats.mid !== "string") return;
      decoded.set(stats.mid, (decoded.get(stats.mid) ?? 0) + (stats.framesDecoded ?? 0));
    });
    const now = performance.now();
    for (const [mid, count] of decoded) {
      const feedId = midFeeds.get(mid);
      const track = pc.getTransceivers().find((t) => t.mid === mid)?.receiver.track;
      if (feedId === undefined || !track) continue;
      const seen = frames.get(mid);
      // A line now carrying someone else's camera starts afresh.
      if (!seen || seen.feedId !== feedId || count !== seen.decoded) {
        frames.set(mid, { feedId, decoded: count, since: now, stopped: false });
        if (seen?.stopped) handlers.remoteTrack(feedId, track, true);
      } else if (!seen.stopped && now - seen.since >= STALL_MS) {
        seen.stopped = true;
        handlers.remoteTrack(feedId, track, false);
      }
    }
  }

  // ----- camera and microphone -----

  async function setCamera(on: boolean): Promise<void> {
    const handle = publisher;
    if (!handle || !isJoined || !joinedWithCamera) return;
    const gen = generation;
    if (!on) {
      if (!videoTrack) return;
      const old = videoTrack;
      videoTrack = null;
      handlers.localVideo(null);
      // The sender sends nothing; the camera itself is released (its light goes out).
      await new Promise<void>((resolve) =>
        handle.replaceTracks({
          tracks: [{ type: "video", remove: true, capture: false, recv: false }],
          success: () => resolve(),
          error: () => resolve(),
        }),
      );
      stopTrack(old);
      return;
    }
    if (videoTrack) return;
    let track: MediaStreamTrack | null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA });
      track = stream.getVideoTracks()[0] ?? null;
    } catch (err) {
      throw mediaError(err);
    }
    if (!current(gen) || !track) {
      stopTrack(track);
      throw new CallError("cancelled");
    }
    videoTrack = track;
    await new Promise<void>((resolve, reject) =>
      handle.replaceTracks({
        tracks: [{ type: "video", capture: track, recv: false }],
        success: () => resolve(),
        error: (error) => reject(new CallError("unreachable", String(error))),
      }),
    );
    if (!current(gen)) {
      stopTrack(track);
      throw new CallError("cancelled");
    }
    handlers.localVideo(track);
  }

  function setMicrophone(on: boolean): void {
    // Muting keeps the track (and the connection's audio line); only its samples go silent.
    if (audioTrack) audioTrack.enabled = on;
  }

  return {
    join,
    leave() {
      const wasJoined = isJoined || session !== null || audioTrack !== null || videoTrack !== null;
      teardown();
      if (wasJoined) handlers.localVideo(null);
    },
    setCamera,
    setMicrophone,
    joined: () => isJoined,
    feedId: () => (isJoined && pass ? pass.feed_id : null),
    cameraOn: () => videoTrack !== null && videoTrack.readyState === "live",
    microphoneOn: () => audioTrack !== null && audioTrack.enabled,
    hasCamera: () => joinedWithCamera,
    hasMicrophone: () => isJoined && audioTrack !== null,
  };
}
