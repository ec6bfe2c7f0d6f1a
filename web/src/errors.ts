// Every refusal from the server, said in plain words.
import { ApiError } from "./api";
import { untilPhrase, pluralize } from "./format";
import type { WireError } from "./types";

export function describe(error: WireError): string {
  switch (error.code) {
    case "muted":
      return `You are muted in this room ${untilPhrase(error.until)}.`;
    case "banned":
      return `You are banned from this room ${untilPhrase(error.until)}.`;
    case "rate_limited": {
      const wait = Math.max(1, Math.ceil(Number(error.retry_after_s ?? 1)));
      return `You are sending messages too quickly. Wait ${pluralize(wait, "second")} and try again.`;
    }
    case "overloaded":
      return "The server is very busy. Your message will be sent again in a moment.";
    case "room_locked":
      return plain(error.message) || "This room is locked: only moderators can post right now.";
    case "meeting_closed":
      return (
        plain(error.message) ||
        "This meeting is not open right now. You can post here during its lobby and the meeting itself."
      );
    case "blocked":
      return `Your message was not sent: ${lowerFirst(stripField(error.message)) || "it contains something this room does not allow."}`;
    case "unauthorized":
      return error.message || "Your sign-in has ended. Please sign in again.";
    case "network":
    case "timeout":
      return error.message || "The server could not be reached. Check your connection and try again.";
    case "unavailable":
      return "The server is restarting. Try again in a moment.";
    case "internal":
      return "Something went wrong on the server. Try again in a moment.";
    default:
      return plain(error.message) || "That did not work. Try again.";
  }
}

// Server sentences may start with the field they are about ("invite_code: no invite has this
// code."): name the field as the form does.
const FIELD_LABELS: Record<string, string> = {
  invite_code: "Invite code",
  username: "Username",
  display_name: "Display name",
  password: "Password",
  body: "Message",
  reason: "Reason",
  minutes: "Minutes",
  slow_mode_s: "Slow mode (seconds)",
  history_visibility: "Earlier messages members can read",
  topic: "Topic",
  mood: "Mood",
  note: "Note",
  emoji: "Reaction",
  occurrence: "Occurrence",
};

const FIELD_PREFIX = /^([a-z_]+(?:\.[a-z_0-9]+)*):\s*/;

function stripField(text: string): string {
  return text.replace(FIELD_PREFIX, "");
}

function plain(text: string | undefined): string {
  if (!text) return "";
  const match = FIELD_PREFIX.exec(text);
  if (!match) return text;
  const field = match[1] ?? "";
  const label = FIELD_LABELS[field] ?? field.replace(/_/g, " ");
  const rest = text.slice(match[0].length);
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}: ${rest}`;
}

function lowerFirst(text: string): string {
  return text ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

export function describeAny(err: unknown): string {
  if (err instanceof ApiError) return describe(err.error);
  if (err && typeof err === "object" && "code" in err && "message" in err) {
    return describe(err as WireError);
  }
  return "Something went wrong. Try again.";
}
