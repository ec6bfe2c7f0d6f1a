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

// ----- sounding and showing an alert when nobody is looking (staff) -----

// The tone: three short beeps, high-low-high, quiet enough not to startle.
const TONE_NOTES: readonly [offsetS: number, hertz: number][] = [
  [0, 880],
  [0.22, 660],
  [0.44, 880],
];
const BEEP_S = 0.16;
const TONE_GAIN = 0.25;
// After a tone, the audio output is let go (a running AudioContext keeps the sound card busy).
const AUDIO_IDLE_MS = 2_000;

let audio: AudioContext | null = null;
let audioUnlocked = false;
let audioIdleTimer: number | undefined;

function audioContextClass(): typeof AudioContext | undefined {
  const legacy = (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  return window.AudioContext ?? legacy;
}

function idleAudioLater(): void {
  window.clearTimeout(audioIdleTimer);
  audioIdleTimer = window.setTimeout(() => {
    if (audio?.state === "running") void audio.suspend().catch(() => {});
  }, AUDIO_IDLE_MS);
}

/** Browsers let a page make sound only after the person clicked or typed in it: on the first
 * click or key press while `wanted()` (staff, or not signed in yet), the audio is unlocked for
 * the tone. Nothing sounds then. */
export function unlockAudioOnFirstGesture(wanted: () => boolean): void {
  const gestures = ["click", "keydown"] as const;
  const stop = (): void => {
    for (const gesture of gestures) document.removeEventListener(gesture, unlock, true);
  };
  const unlock = (): void => {
    if (audioUnlocked || !wanted()) return;
    const AudioContextClass = audioContextClass();
    if (!AudioContextClass) return stop();
    try {
      audio ??= new AudioContextClass();
    } catch {
      return stop();
    }
    // Resumed within the gesture: from then on the page may resume it by itself.
    void audio
      .resume()
      .then(() => {
        audioUnlocked = true;
        stop();
        idleAudioLater();
      })
      .catch(() => {});
  };
  for (const gesture of gestures) document.addEventListener(gesture, unlock, true);
}

/** A short tone made on the spot (no sound file), if the page may make sound; answers whether
 * it was played. */
export function playAlertTone(): boolean {
  const context = audio;
  if (!context || !audioUnlocked) return false;
  try {
    void context.resume().catch(() => {});
    const start = context.currentTime + 0.05;
    for (const [offset, hertz] of TONE_NOTES) {
      const at = start + offset;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = hertz;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(TONE_GAIN, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + BEEP_S);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + BEEP_S + 0.02);
    }
  } catch {
    return false;
  }
  idleAudioLater();
  return true;
}

export type DesktopAlertsState = NotificationPermission | "unsupported";

export function desktopAlertsState(): DesktopAlertsState {
  return "Notification" in window ? Notification.permission : "unsupported";
}

/** Ask the browser's permission for system notifications (only ever from a button). */
export async function turnOnDesktopAlerts(): Promise<DesktopAlertsState> {
  if (!("Notification" in window)) return "unsupported";
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

/** A system notification, if the browser allows it; clicking it brings the tab forward and
 * calls `open`. */
export function showDesktopAlert(alert: { title: string; body: string; tag: string }, open: () => void): void {
  if (desktopAlertsState() !== "granted") return;
  try {
    const shown = new Notification(alert.title, { body: alert.body, tag: alert.tag });
    shown.onclick = () => {
      window.focus();
      open();
      shown.close();
    };
  } catch {
    // Where pages may not make notifications themselves (Chrome on Android wants a service
    // worker), the title, banner and tone still say it.
  }
}
