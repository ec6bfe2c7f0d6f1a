// Shapes of the wire contract (docs/api/: the REST API and every Socket.IO event).

export type Role = "patient" | "alumni" | "moderator" | "admin";

export interface PublicUser {
  id: number;
  display_name: string;
  role: Role;
  /** Where a room lists who is there (`join`'s `online`, `presence`): once the person set them. */
  pronouns?: string | null;
  line?: string | null;
}

/** How others see me (GET and PATCH /api/me/profile). */
export interface Profile {
  id: number;
  display_name: string;
  pronouns: string | null;
  line: string | null;
}

/** Someone in my rooms changed their alias, pronouns or line. */
export interface MemberChangedEvent {
  user_id: number;
  display_name: string;
  pronouns: string | null;
  line: string | null;
}

export interface Me extends PublicUser {
  username: string;
  cohort_ids: number[];
}

export type HistoryVisibility = "since_joined" | "all" | "since_session";

export interface Room {
  id: number;
  name: string;
  kind: "group" | "peer" | "meeting" | "support";
  audience: "cohort" | "alumni" | "everyone" | "person";
  cohort_id: number | null;
  /** Audience `person` (a private support conversation): the one member besides staff. */
  member_id?: number | null;
  topic: string | null;
  locked: boolean;
  slow_mode_s: number;
  online_count: number;
  contact_policy?: string;
  /** From when members (staff aside) may read the room's history (server/rooms/visibility.py). */
  history_visibility?: HistoryVisibility;
  /** Archived by staff: closed to members and to every post; only staff see it. */
  archived?: boolean;
  last_message_id?: number | null;
  unread_count?: number;
  /** Of the unread messages, those that mention me or reply to one of mine (GET /api/rooms). */
  mention_count?: number;
}

export interface Message {
  id: number;
  room_id: number;
  author: PublicUser;
  body: string;
  client_id: string | null;
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  reactions: Record<string, number>;
  /** The message this one replies to (server/rooms/replies.py); null or absent: none. */
  reply_to?: ReplyTo | null;
  /** Who it mentions (`@display name` in `body`). */
  mentions?: PublicUser[];
}

/** What a reply shows of its original, as this person may read it. */
export interface ReplyTo {
  id: number;
  /** Null when hidden, or the original is gone. */
  author: PublicUser | null;
  /** The start of its current text, on one line; "" when deleted or hidden. */
  excerpt: string;
  deleted: boolean;
  /** From before what this person may read of the room: nothing of it is shown. */
  hidden: boolean;
}

// ----- room events and acks (Socket.IO) -----

/** `room_activity`: messages stored in a room this socket is not in (docs/api/events/activity.md). */
export interface RoomActivity {
  room_id: number;
  /** The newest of them. */
  message_id: number;
  /** How many. */
  count: number;
}

/** `room_mention`: a message in a room this socket is not in mentions me or replies to me. */
export interface RoomMention {
  room_id: number;
  message_id: number;
}

/** The `join` ack: the room, who is in it, and its newest messages (or those after `since`). */
export interface JoinReply {
  room: Room;
  online: PublicUser[];
  messages: Message[];
  has_more: boolean;
  reaction_emojis?: string[];
}

/** The `history` ack: a page of older messages. */
export interface HistoryReply {
  messages: Message[];
  has_more: boolean;
}

/** The `send` and `edit` acks. */
export interface MessageReply {
  message: Message;
}

/** The `react` ack. */
export interface ReactReply {
  reactions: Record<string, number>;
}

export interface MessageDeletedEvent {
  id: number;
  room_id: number;
}

export interface ReactionsEvent {
  message_id: number;
  room_id: number;
  reactions: Record<string, number>;
}

export interface TypingEvent {
  room_id: number;
  user: PublicUser;
}

/** `status` is "online" or "offline". */
export interface PresenceEvent {
  room_id: number;
  user: PublicUser;
  status: string;
}

export interface WireError {
  code: string;
  message: string;
  retry_after_s?: number;
  until?: string | null;
  [extra: string]: unknown;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: WireError };

export interface Notice {
  kind: string;
  text: string;
  room_id?: number;
  until?: string | null;
  resources?: { name: string; contact: string }[];
  meeting_id?: number;
  starts_at?: string;
  ends_at?: string;
  video_url?: string | null;
}

export interface Alert {
  id: number;
  kind: "crisis" | "report";
  room_id: number | null;
  message_id: number | null;
  user: PublicUser | null;
  excerpt: string;
  created_at: string;
  status?: string;
  report_id?: number | null;
  raise_count?: number;
  raised_at?: string;
  /** A crisis alert's detection; null for a report. */
  category?: string | null;
  severity?: "urgent" | "emergency" | null;
  /** Who it reached when raised: on_duty, staff_online, on_call or nobody. */
  reached?: string;
  /** How many on the on-call list have been paged. */
  paged?: number;
  outcome?: string | null;
  note?: string;
  /** The private support conversation opened from it. */
  support_room_id?: number | null;
}

export interface Duty {
  on_duty: boolean;
  since: string | null;
  roster: { user: PublicUser | null; since: string; online: boolean }[];
  staff_online: number;
}

export interface Report {
  id: number;
  room_id: number;
  message_id: number | null;
  message: Message | null;
  author: PublicUser | null;
  reporter: PublicUser | null;
  reason: string;
  status: string;
  created_at: string;
}

export interface AuditEntry {
  id: number;
  actor: PublicUser | null;
  action: string;
  target_user: PublicUser | null;
  room_id: number | null;
  message_id: number | null;
  reason: string;
  created_at: string;
}

export interface Occurrence {
  meeting_id: number;
  title: string;
  room_id: number;
  starts_at: string;
  ends_at: string;
  lobby_opens_at: string;
  status: "scheduled" | "lobby" | "live" | "ended" | "cancelled";
  video_url?: string | null;
  moved_from?: string | null; // the start the schedule gave, when staff moved it
}

export interface Meeting {
  id: number;
  title: string;
  room_id: number;
  rrule: string;
  starts_at: string;
  timezone: string;
  duration_minutes: number;
  lobby_minutes: number;
  video_url: string | null;
}

export interface Attendee {
  user: PublicUser;
  first_joined_at: string | null;
  last_left_at: string | null;
  minutes_present: number;
  // Of minutes_present, those in the meeting's video call.
  minutes_in_call: number;
  late_minutes: number | null;
  checkin: { mood: number; note: string } | null;
}

// ----- people (staff: the coordinator's console) -----

export interface Cohort {
  id: number;
  name: string;
}

export type AccountStatus = "active" | "deactivated";

/** A person as staff see them (GET /api/users). `username` is in the answer for admins only. */
export interface Person {
  id: number;
  display_name: string;
  role: Role;
  cohort_ids: number[];
  status: AccountStatus;
  joined_at: string;
  graduated_at: string | null;
  last_sign_in_at: string | null;
  /** The last time the person was connected, posted or signed in (to the minute). */
  last_seen_at?: string | null;
  username?: string;
}

/** A mute or ban in force, as GET /api/users/{id} lists them. `until` null: until lifted. */
export interface Restriction {
  kind: "mute" | "ban";
  room_id: number;
  room_name: string;
  until: string | null;
}

export interface PersonDetail extends Person {
  restrictions: Restriction[];
  meetings_attended: number;
}

export interface PeoplePage {
  users: Person[];
  next_after: number | null;
}

/** POST /api/users/{id}/password-reset: a one-time code, and the path that carries it. */
export interface PasswordReset {
  code: string;
  expires_at: string;
  path: string;
}

// ----- invites (staff) -----

/** An invite code to register with (GET/POST /api/invites). `path` ("/#/register?code=…")
 * opens the registration page with the code filled in. */
export interface Invite {
  id: number;
  code: string;
  role: Role;
  cohort_id: number | null;
  max_uses: number;
  uses: number;
  expires_at: string;
  created_at: string;
  revoked: boolean;
  path: string;
}

// ----- video calls (POST /api/meetings/{id}/video and its events) -----

/** A pass into the Janus video room of a meeting's occurrence in its lobby or live window. */
export interface VideoPass {
  meeting_id: number;
  starts_at: string;
  ends_at: string;
  /** The Janus video room number. */
  room: number;
  /** The Janus token: for the session (`new Janus({token})`) and the room's allowed list. */
  token: string;
  /** The id this browser must publish as. */
  feed_id: number;
  /** The Janus WebSocket address. */
  server: string;
  /** Possibly empty: then no STUN or TURN server at all. */
  ice_servers: RTCIceServer[];
  /** The alias to show. */
  display: string;
  recorded: false;
}

/** Socket.IO `video_hand`: someone raised or lowered their hand in a meeting's call. */
export interface VideoHandEvent {
  meeting_id: number;
  feed_id: number;
  user_id: number;
  display_name: string;
  raised: boolean;
}

/** `GET /api/meetings/{id}/video`: who holds a pass into the open call, and raised hands. */
export interface VideoCallState {
  meeting_id: number;
  starts_at: string;
  room: number;
  participants: {
    feed_id: number;
    user_id: number;
    display_name: string;
    in_call: boolean;
    hand_raised_at: string | null;
  }[];
  recorded: boolean;
}

/** Socket.IO `video_ended`: a moderator ended a meeting's call for everyone. */
export interface VideoEndedEvent {
  meeting_id: number;
}

// ----- notifications away from the app (docs/notifications.md) -----

/** `GET`/`PATCH /api/me/notifications`, and the answer of every push and follow call. */
export interface NotificationSettings {
  /** Message text on the lock screen. */
  previews: boolean;
  /** Minutes before a session to be reminded; 0: never. */
  reminder_minutes: number;
  /** 24-hour times ("22:00") on `timezone`'s clock; null: no quiet hours. */
  quiet_start: string | null;
  quiet_end: string | null;
  timezone: string;
  /** Where reminders and the digest are mailed; null: no address. PATCH "" removes it. */
  email: string | null;
  /** Mail goes to `email` only once its owner followed the confirmation mail's link. */
  email_confirmed: boolean;
  /** Session reminders (and cancelled or moved sessions) by email. */
  email_reminders: boolean;
  /** A daily mail of what I missed: counts per room and my sessions, never message text. */
  email_digest: boolean;
  /** Whether this server sends email at all (an SMTP server is set). */
  email_available: boolean;
  /** How many browsers of mine take pushes. */
  push_devices: number;
  followed_room_ids: number[];
}
