// What the window says about spaces, sync and the network: pure functions of the node's
// answers, so that every state has its words (and a test).

import type { NetworkState, Role, SpaceDetail, SpaceInfo, Status, SyncState } from "./bindings";
import { clockTime, fullTime } from "./time";

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A glyph for a space's sync state, so that colour is never the only signal. */
export function syncGlyph(sync: SyncState): string {
  switch (sync) {
    case "up_to_date":
      return "✓";
    case "syncing":
      return "↻";
    case "offline":
      return "○";
    case "removed":
    case "legacy":
      return "⊘";
    case "local":
      return "";
  }
}

/** A space's sync state in a few words (sidebar tooltips and screen readers). */
export function syncLabel(space: SpaceInfo, network: NetworkState): string {
  if (space.personal) return "this device only";
  if (space.sync === "removed") return "you were removed: nothing syncs";
  if (space.sync === "legacy") return "made by an older Tacit: nothing syncs";
  if (network.state === "failed") return "offline: the network did not start";
  if (network.state === "starting") return "connecting";
  switch (space.sync) {
    case "up_to_date":
      return `up to date with ${plural(space.connected, "member", "members")}`;
    case "syncing":
      return `syncing with ${plural(space.connected, "member", "members")}`;
    case "offline":
      return "offline: no member connected";
    case "local":
      return "this device only";
  }
}

/** The status bar's sentence about the selected space. It never claims more than the node
 * says: "up to date" only with a member connected and nothing left to exchange. `offlineSince`
 * is when the space was seen going offline, if this window saw it. */
export function syncText(space: SpaceInfo | null, network: NetworkState, offlineSince?: number): string {
  if (space === null || space.personal) return "This device only";
  if (space.sync === "removed") return "You were removed from this space — the copy here no longer syncs";
  if (space.sync === "legacy")
    return "Made by an older Tacit — its notes are kept here but no longer sync; share them in a new space";
  if (network.state === "failed") return "Offline — the network did not start";
  if (network.state === "starting") return "Connecting…";
  switch (space.sync) {
    case "up_to_date":
      return `Up to date with ${plural(space.connected, "member", "members")}`;
    case "syncing":
      return `Syncing with ${plural(space.connected, "member", "members")}…`;
    case "offline":
      return offlineSince === undefined
        ? "Offline — no member connected"
        : `Offline since ${clockTime(offlineSince)} — no member connected`;
    case "local":
      return "This device only";
  }
}

/** The status bar's words about the network: connected peers, or why there are none. */
export function peersText(status: Status | null, network: NetworkState): string {
  if (network.state === "failed") return "Sharing is off";
  if (network.state === "starting") return "Network starting";
  const n = status?.peers.length ?? 0;
  if (n === 0) {
    // Say why when the reason is known: behind a NAT with no relay holding a slot.
    const reserved = status?.relays.some((r) => r.state === "reserved") ?? false;
    if (status?.reachability === "private" && !reserved) {
      return status.relays.length === 0
        ? "No peers connected — behind a NAT, no relay known: add one in Settings"
        : "No peers connected — behind a NAT, no relay slot yet: see Settings";
    }
    return "No peers connected";
  }
  const relayed = status?.peers.filter((p) => p.via === "relayed").length ?? 0;
  const base = `${plural(n, "peer", "peers")} connected`;
  return relayed === 0 ? base : `${base} (${relayed} through a relay)`;
}

export const ROLES: { role: Role; label: string; what: string }[] = [
  { role: "reader", label: "Reader", what: "reads notes and questions" },
  { role: "editor", label: "Editor", what: "also writes notes, asks and answers" },
  { role: "owner", label: "Owner", what: "also invites and removes members" },
];

export function roleLabel(role: Role): string {
  return ROLES.find((r) => r.role === role)?.label ?? role;
}

/** Whether this role writes documents. */
export function canWrite(role: Role): boolean {
  return role === "owner" || role === "editor";
}

const DAY_MS = 24 * 3600_000;

/** The invitation expiry choices, in ms (`null`: never). */
export const EXPIRIES: { label: string; ms: number | null }[] = [
  { label: "1 day", ms: DAY_MS },
  { label: "7 days", ms: 7 * DAY_MS },
  { label: "30 days", ms: 30 * DAY_MS },
  { label: "Never", ms: null },
];

/** When a ticket stops working, in words. */
export function expiryText(expiresAt: number | null): string {
  return expiresAt === null ? "never expires" : `expires ${fullTime(expiresAt)}`;
}

/** The first characters of a member id, enough to tell people apart. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Who wrote a document, for list rows of a shared space: "you", a member's name, or (for a
 * member since removed, or nameless) the start of their id. `null` without a shared space's
 * members (the personal space holds only your own writing). */
export function authorName(detail: SpaceDetail | null, member: string): string | null {
  if (detail === null) return null;
  const m = detail.members.find((x) => x.member === member);
  if (m?.me) return "you";
  return m?.name || shortId(member);
}

/** What a failed join means for the person joining. */
export function joinErrorText(kind: string, message: string): string {
  switch (kind) {
    case "offline":
      return `Could not reach the person who invited you: ${message}. A ticket works while their Tacit is running and reachable from here; try again then, or ask for a new ticket.`;
    case "refused":
      return `The invitation was refused: ${message}`;
    default:
      return message;
  }
}

/** A name as people read it: letters and digits, lower case, compatibility forms folded (so
 *  "Acme  Payroll", "acme-payroll" and "Ａｃｍｅ Payroll" read alike). */
function nameKey(name: string): string {
  return name
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "");
}

/** A space of this home whose name reads like `name` but that is not `space`: an invitation
 *  to a space named like one the person knows may be a lure (a name is the inviter's word). */
export function namesakeOf(spaces: SpaceInfo[], space: string, name: string): SpaceInfo | null {
  const key = nameKey(name);
  if (key === "") return null;
  return spaces.find((s) => s.id !== space && nameKey(s.name) === key) ?? null;
}
