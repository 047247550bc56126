// What the window says about people, giving and the network: pure functions of the node's
// answers, so that every state has its words (and a test).

import type {
  Act,
  AnswerView,
  InboxItem,
  InboxKind,
  MemberInfo,
  Reachability,
  Record as MemberRecord,
  RelayState,
} from "./bindings";
import { plural } from "./spaces";
import { relativeTime, shortDate } from "./time";

export const DAY_MS = 24 * 3600_000;
/** The 90-9-1 rule of thumb: in most communities about one member in ten gives. */
export const RULE_OF_THUMB_SHARE = 0.1;
/** Routed questions a day when a profile says nothing (the node's `RoutingRules`). */
export const DEFAULT_QUESTIONS_PER_DAY = 3;
/** The most a profile can ask for (the node clips to it). */
export const MAX_QUESTIONS_PER_DAY = 50;
/** The range the node takes for "possibly stale after N days". */
export const STALE_DAYS_MIN = 1;
export const STALE_DAYS_MAX = 3650;

/** A share (0 to 1) as a whole percentage: "25%". */
export function percent(share: number): string {
  if (!Number.isFinite(share)) return "–";
  return `${Math.round(Math.max(0, Math.min(1, share)) * 100)}%`;
}

/** A record's figures with their labels, in the order a person page shows them. */
export function recordFigures(r: MemberRecord): { key: keyof MemberRecord; label: string; value: number }[] {
  return [
    { key: "answers", label: r.answers === 1 ? "answer" : "answers", value: r.answers },
    { key: "accepted", label: "accepted", value: r.accepted },
    { key: "thanks_received", label: r.thanks_received === 1 ? "thank received" : "thanks received", value: r.thanks_received },
    { key: "notes", label: r.notes === 1 ? "note" : "notes", value: r.notes },
    { key: "questions", label: r.questions === 1 ? "question" : "questions", value: r.questions },
    { key: "thanks_given", label: r.thanks_given === 1 ? "thank given" : "thanks given", value: r.thanks_given },
  ];
}

/** A record in one line: "4 answers (2 accepted) · 3 notes · 1 question", or what is missing. */
export function recordLine(r: MemberRecord): string {
  const parts: string[] = [];
  if (r.answers > 0) parts.push(`${plural(r.answers, "answer", "answers")}${r.accepted > 0 ? ` (${r.accepted} accepted)` : ""}`);
  if (r.notes > 0) parts.push(plural(r.notes, "note", "notes"));
  if (r.thanks_given > 0) parts.push(`${plural(r.thanks_given, "thank", "thanks")} given`);
  if (r.questions > 0) parts.push(plural(r.questions, "question", "questions"));
  return parts.length === 0 ? "Nothing shared here yet" : parts.join(" · ");
}

/** When a member's device was last seen from this one. */
export function lastSeenText(lastSeen: number | null, connected: boolean, now: number): string {
  if (connected) return "connected now";
  if (lastSeen === null) return "not seen from this device yet";
  return `last seen ${relativeTime(lastSeen, now)}`;
}

/** A member's connection, in words: "this device", "connected directly", "connected through a
 * relay", "not connected". */
export function presenceText(m: Pick<MemberInfo, "me" | "connected" | "via">): string {
  if (m.me) return "this device";
  if (!m.connected) return "not connected";
  return m.via === "relayed" ? "connected through a relay" : "connected directly";
}

/** How the inbox names each kind of item: a heading for its group and a few words for a row. */
export function inboxKindText(kind: InboxKind): { heading: string; short: string; glyph: string } {
  switch (kind) {
    case "routed":
      return { heading: "Asked of you", short: "asked of you", glyph: "?" };
    case "answer":
      return { heading: "Answers to your questions", short: "new answer", glyph: "↩" };
    case "followed":
      return { heading: "On tags you follow", short: "followed tag", glyph: "#" };
    case "stale":
      return { heading: "Is your answer still right?", short: "may be stale", glyph: "⟳" };
  }
}

/** The inbox's groups in the order they are shown. */
export const INBOX_ORDER: InboxKind[] = ["routed", "answer", "followed", "stale"];

/** What a toast (and a desktop notification) says about a new inbox item; null for kinds that
 * wait quietly in the inbox (followed tags, stale answers). */
export function inboxToast(item: InboxItem): { title: string; body: string } | null {
  const who = item.by_name || "Someone";
  if (item.kind === "routed") return { title: `${who} asked you`, body: item.title };
  if (item.kind === "answer") return { title: `${who} answered your question`, body: item.title };
  return null;
}

/** Whether this device can be dialled from outside, in words. */
export function reachabilityText(r: Reachability): { label: string; detail: string } {
  switch (r) {
    case "public":
      return { label: "Reachable from the internet", detail: "Other members can connect to this device directly." };
    case "private":
      return {
        label: "Behind a NAT or firewall",
        detail: "Members in other networks reach this device through a relay (and often directly after that).",
      };
    case "unknown":
      return {
        label: "Not known yet",
        detail: "Nobody has tried to connect from outside yet; this is found out once a peer or a relay is reached.",
      };
  }
}

/** A relay's reservation, in a few words. */
export function relayStateText(state: RelayState): string {
  switch (state) {
    case "offline":
      return "not used: the network is not running";
    case "pending":
      return "connecting…";
    case "reserved":
      return "holds a slot for this device";
    case "refused":
      return "refused";
    case "unreachable":
      return "not reachable";
    case "not_needed":
      return "not needed: this device is reachable directly";
  }
}

/** What a contribution was, in words. */
export function actText(act: Act, accepted: boolean): string {
  switch (act) {
    case "asked":
      return "asked";
    case "answered":
      return accepted ? "answered (accepted)" : "answered";
    case "wrote":
      return "wrote";
    case "thanked":
      return "thanked an answer on";
    case "confirmed":
      return "confirmed an answer on";
  }
}

/** An answer's freshness: the stamp ("Still right — confirmed by Bo, 3 Mar") when someone
 * confirmed it, and whether it is possibly stale (not confirmed for longer than
 * `staleAfterDays`). */
export function freshness(
  a: Pick<AnswerView, "created_at" | "fresh_since" | "confirmed_by">,
  staleAfterDays: number,
  now: number,
  nameOf: (member: string) => string,
): { confirmed: string | null; stale: boolean; staleText: string | null } {
  const since = Math.max(a.fresh_since || 0, a.created_at);
  const latest = a.confirmed_by.length > 0 ? a.confirmed_by.reduce((x, y) => (y[1] > x[1] ? y : x)) : null;
  const confirmed = latest ? `Still right — confirmed by ${nameOf(latest[0])}, ${shortDate(latest[1], now)}` : null;
  const age = now - since;
  const stale = staleAfterDays > 0 && age > staleAfterDays * DAY_MS;
  const days = Math.floor(age / DAY_MS);
  const staleText = stale
    ? `Possibly stale — ${latest ? "last confirmed" : "written"} ${plural(days, "day", "days")} ago`
    : null;
  return { confirmed, stale, staleText };
}

/** A routing round in words: "when asked", "a day later", "after 3 days". */
export function roundText(round: number): string {
  if (round === 0) return "when asked";
  if (round === 1) return "a day later";
  return `after ${round} days`;
}
