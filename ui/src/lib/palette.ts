// The palette's pure parts: matching commands and spaces by their words, titles of the listed
// notes and questions (what the palette falls back to when the node's search fails), cutting a
// hit's text into marked pieces, and the `kind:` filter its toggles edit in the query.

import type { ListItem } from "./bindings";

export interface PaletteEntry {
  id: string;
  kind: "command" | "space" | "note" | "question";
  title: string;
  hint?: string;
}

/** Most results the palette shows. */
export const MAX_RESULTS = 50;

/** Whether every word of `query` occurs in `title` (case-insensitive); an empty query matches. */
export function matches(title: string, query: string): boolean {
  const t = title.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== "")
    .every((w) => t.includes(w));
}

/** Whether every word of `query` starts a word of `title` (case-insensitive): "exp md"
 * matches "Export … to Markdown…", "port" does not. An empty query matches. */
export function wordsStart(title: string, query: string): boolean {
  const words = title.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== "");
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== "")
    .every((q) => words.some((w) => w.startsWith(q)));
}

/** Entries for `query`: matching commands first, then notes and questions (newest first, as
 * listed); titles that start with the query rank before the rest. */
export function paletteMatches(
  query: string,
  commands: PaletteEntry[],
  notes: ListItem[],
  questions: ListItem[],
  spaces: PaletteEntry[] = [],
): PaletteEntry[] {
  const q = query.trim();
  const cmds = commands.filter((c) => matches(c.title, q));
  // Spaces match by "space", "go to" or their name.
  const spc = spaces.filter((s) => matches(`go to space ${s.title}`, q));
  if (q === "") return [...cmds, ...spc];
  const docs: PaletteEntry[] = [];
  for (const [items, kind] of [
    [notes, "note"],
    [questions, "question"],
  ] as const) {
    for (const item of items) {
      if (matches(item.title, q)) docs.push({ id: item.id, kind, title: item.title });
    }
  }
  const lower = q.toLowerCase();
  const starts = docs.filter((d) => d.title.toLowerCase().startsWith(lower));
  const rest = docs.filter((d) => !d.title.toLowerCase().startsWith(lower));
  return [...cmds, ...spc, ...starts, ...rest].slice(0, MAX_RESULTS);
}

// ---- search ------------------------------------------------------------------------------

/** A piece of text, marked (a match) or not. */
export interface Segment {
  text: string;
  mark: boolean;
}

/**
 * Cuts `text` into marked and unmarked pieces. `marks` are `[start, end)` offsets in Unicode
 * code points (as the node counts them); they come from the node and, through it, from peers, so
 * ranges out of order, overlapping or out of bounds are tolerated (clipped, merged).
 */
export function markSegments(text: string, marks: readonly (readonly [number, number])[]): Segment[] {
  const chars = Array.from(text);
  const ranges = marks
    .map(([s, e]) => [Math.max(0, Math.min(s, chars.length)), Math.max(0, Math.min(e, chars.length))] as [number, number])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const out: Segment[] = [];
  let at = 0;
  for (const [s, e] of ranges) {
    const start = Math.max(s, at);
    if (e <= start) continue;
    if (start > at) out.push({ text: chars.slice(at, start).join(""), mark: false });
    const last = out[out.length - 1];
    if (last?.mark && start === at) last.text += chars.slice(start, e).join("");
    else out.push({ text: chars.slice(start, e).join(""), mark: true });
    at = e;
  }
  if (at < chars.length || out.length === 0) out.push({ text: chars.slice(at).join(""), mark: false });
  return out;
}

/** A `kind:` filter the palette offers as a toggle. */
export type KindFilter = "note" | "question";

const KIND_TOKEN = /(^|\s)kind:(\S*)/gi;

/** The kind the query filters on (its last `kind:` filter), or null. */
export function queryKind(query: string): KindFilter | null {
  let kind: KindFilter | null = null;
  for (const m of query.matchAll(KIND_TOKEN)) {
    const v = m[2].toLowerCase();
    kind = v === "note" || v === "question" ? v : null;
  }
  return kind;
}

/** The query with its `kind:` filters replaced by `kind` (removed when null). */
export function withKind(query: string, kind: KindFilter | null): string {
  const rest = query.replace(KIND_TOKEN, " ").replace(/\s+/g, " ").trim();
  if (kind === null) return rest;
  return rest === "" ? `kind:${kind} ` : `${rest} kind:${kind} `;
}

/** Whether the query asks for commands only (`>` first). */
export function isCommandQuery(query: string): boolean {
  return query.trimStart().startsWith(">");
}

/** The words of a command query (after the `>`). */
export function commandText(query: string): string {
  return query.trimStart().replace(/^>\s*/, "");
}

const WHO = /^\s*who\s+(?:knows\b\s*(?:about\b\s*)?)?(.*)$/i;

/** Whether the query asks who knows about something ("who #tls", "who knows about tls"). */
export function isWhoQuery(query: string): boolean {
  return WHO.test(query);
}

/** The topic of a who query (tags and words; "" while none is typed yet), or null. */
export function whoTopic(query: string): string | null {
  const m = WHO.exec(query);
  return m ? m[1].trim() : null;
}

/** A who query for these tags: "who #tls #certs ". */
export function whoQueryFor(tags: readonly string[]): string {
  return `who ${tags.map((t) => `#${t}`).join(" ")}${tags.length > 0 ? " " : ""}`;
}
