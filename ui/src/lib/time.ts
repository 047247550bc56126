// Relative times for lists and document headers ("2 min ago").

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `ms` (since the epoch) relative to `now`: "just now", "5 min ago", "3 h ago", "yesterday",
 * "4 days ago", then a date ("12 Mar", or "12 Mar 2023" in another year). A time in the
 * future (another device's clock) reads "just now". */
export function relativeTime(ms: number, now: number): string {
  const d = now - ms;
  if (d < 45_000) return "just now";
  if (d < HOUR) return `${Math.max(1, Math.round(d / MINUTE))} min ago`;
  if (d < DAY) return `${Math.floor(d / HOUR)} h ago`;
  const then = new Date(ms);
  const today = new Date(now);
  const days = calendarDaysBetween(then, today);
  if (days <= 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  const date = `${then.getDate()} ${MONTHS[then.getMonth()]}`;
  return then.getFullYear() === today.getFullYear() ? date : `${date} ${then.getFullYear()}`;
}

/** Whole local calendar days from `a` to `b`. */
function calendarDaysBetween(a: Date, b: Date): number {
  const da = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const db = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
  return Math.round((db - da) / DAY);
}

/** A full local date and time for tooltips: "28 Nov 2026, 21:19". Formatted by hand: every list
 * row has one, and `toLocaleString` builds an ICU formatter per call (measured: about 10 ms of
 * the first screen's mount). */
export function fullTime(ms: number): string {
  const t = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${t.getDate()} ${MONTHS[t.getMonth()]} ${t.getFullYear()}, ${pad(t.getHours())}:${pad(t.getMinutes())}`;
}

/** A local time of day, "10:42", for "offline since 10:42". */
export function clockTime(ms: number): string {
  const t = new Date(ms);
  return `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")}`;
}

/** A short local date, "3 Mar" (this year) or "3 Mar 2024", for stamps in running text. */
export function shortDate(ms: number, now: number): string {
  const t = new Date(ms);
  const date = `${t.getDate()} ${MONTHS[t.getMonth()]}`;
  return t.getFullYear() === new Date(now).getFullYear() ? date : `${date} ${t.getFullYear()}`;
}

/** A length of time in words, rounded to what matters: "40 s", "12 min", "3 h", "2 days". */
export function durationText(ms: number): string {
  const d = Math.max(0, ms);
  if (d < MINUTE) return `${Math.round(d / 1000)} s`;
  if (d < HOUR) return `${Math.round(d / MINUTE)} min`;
  if (d < DAY) {
    const h = d / HOUR;
    return `${h < 10 ? Math.round(h * 10) / 10 : Math.round(h)} h`;
  }
  const days = Math.round(d / DAY);
  return days === 1 ? "1 day" : `${days} days`;
}
