// Times in the browser's own time zone and language.

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const meetingDate = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
});
const meetingTime = new Intl.DateTimeFormat(undefined, {
  hour: "numeric",
  minute: "2-digit",
  timeZoneName: "short",
});
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function sameDay(a: Date, b: Date): boolean {
  return (
    a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()
  );
}

/** A message time: "6:05 PM" today, "Nov 22, 6:05 PM" otherwise. */
export function shortTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return sameDay(date, new Date()) ? timeOnly.format(date) : dateTime.format(date);
}

export function fullTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : full.format(date);
}

/** When a mute or ban ends, as a phrase: "until 6:30 PM" / "until Nov 23, 9:00 AM". */
export function untilPhrase(iso: string | null | undefined): string {
  if (!iso) return "until a moderator lifts it";
  return `until ${shortTime(iso)}`;
}

export function meetingWhen(startIso: string, endIso: string): { date: string; time: string } {
  const start = new Date(startIso);
  const end = new Date(endIso);
  return {
    date: meetingDate.format(start),
    time: `${timeOnly.format(start)} – ${meetingTime.format(end)}`,
  };
}

/** Where a moved session was: "Monday, October 26, 6:00 PM". */
export function movedFrom(iso: string): string {
  const date = new Date(iso);
  return `${meetingDate.format(date)}, ${timeOnly.format(date)}`;
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
