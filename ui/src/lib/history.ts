// Words for versions and the trash, shared by the History panel and the Trash page.

import type { DiffLine, TrashItem, VersionInfo } from "./bindings";

/** What a version did, in a few words: "Created", "+12 −3", "Deleted", "Restored from the trash". */
export function versionSummary(v: VersionInfo): string {
  switch (v.kind) {
    case "created":
      return "Created";
    case "deleted":
      return "Deleted";
    case "restored":
      return "Restored from the trash";
    case "edited":
      if (v.added === 0 && v.removed === 0) return "Tags or links changed";
      return `+${v.added} −${v.removed}`;
  }
}

/** The summary spelled out for screen readers and tooltips. */
export function versionSummaryLong(v: VersionInfo): string {
  const changes = v.changes === 1 ? "1 change" : `${v.changes} changes`;
  if (v.kind !== "edited") return `${versionSummary(v)} (${changes})`;
  return `${v.added} characters added, ${v.removed} removed (${changes})`;
}

/** Who wrote a version: their name, else the start of their member id. */
export function authorName(name: string | null, member: string | null): string {
  if (name) return name;
  if (member) return member.slice(0, 8);
  return "Unknown";
}

/** How many lines a diff adds and removes. */
export function diffCounts(diff: DiffLine[]): { then: number; now: number } {
  let then = 0;
  let now = 0;
  for (const l of diff) {
    if (l.side === "then") then++;
    else if (l.side === "now") now++;
  }
  return { then, now };
}

/** "3 days left", "1 day left", "last day". */
export function daysLeftText(t: Pick<TrashItem, "days_left">): string {
  if (t.days_left <= 1) return "last day";
  return `${t.days_left} days left`;
}
