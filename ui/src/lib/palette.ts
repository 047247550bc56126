// The command palette's matching: commands, spaces to switch to, then notes and questions
// (of the selected space) whose titles match.

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
