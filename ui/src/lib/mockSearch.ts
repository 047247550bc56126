// The mock node's search and wiki links: a plain stand-in for the node's index, good enough to
// work on the palette and the links panel in a browser and in component tests. Words match
// case-insensitively anywhere in a word's start (a prefix), phrases as written; the filters
// `tag:`, `kind:`, `space:` and `author:` narrow the documents. No ranking beyond "title
// matches first, then newest", no misspellings.

import type { Hit, Kind } from "./bindings";

/** What the mock search reads of a document. */
export interface SearchDoc {
  id: string;
  kind: "note" | "question";
  title: string;
  body: string;
  tags: string[];
  author: string;
  space: string;
  updated_at: number;
}

export interface SearchNames {
  spaceName(id: string): string;
  /** The space named `name` (or an id prefix), null when none. */
  spaceId(name: string): string | null;
  authorName(member: string): string;
}

/** A query taken apart: free words and phrases, and the filters. */
export interface ParsedQuery {
  terms: string[];
  tags: string[];
  kinds: Kind[];
  spaces: string[];
  authors: string[];
}

/** Splits a query into words, `"phrases"` and `name:value` filters (a value may be quoted). */
export function parseSearch(query: string): ParsedQuery {
  const out: ParsedQuery = { terms: [], tags: [], kinds: [], spaces: [], authors: [] };
  const re = /(\w+):"([^"]*)"?|(\w+):(\S+)|"([^"]*)"?|(\S+)/g;
  for (const m of query.matchAll(re)) {
    const key = (m[1] ?? m[3])?.toLowerCase();
    const value = m[2] ?? m[4];
    if (key !== undefined && value !== undefined) {
      if (key === "tag") out.tags.push(value.toLowerCase());
      else if (key === "kind") {
        if (value === "note" || value === "question") out.kinds.push(value);
      } else if (key === "space") out.spaces.push(value);
      else if (key === "author") out.authors.push(value.toLowerCase());
      else out.terms.push(`${key}:${value}`.toLowerCase());
    } else if (m[5] !== undefined) {
      if (m[5].trim() !== "") out.terms.push(m[5].toLowerCase());
    } else if (m[6] !== undefined) {
      out.terms.push(m[6].toLowerCase());
    }
  }
  return out;
}

/** `[start, end)` ranges, in code points, where any term starts a word of `text`. */
function marksIn(text: string, terms: string[]): [number, number][] {
  const chars = Array.from(text);
  const lower = chars.map((c) => c.toLowerCase());
  const marks: [number, number][] = [];
  for (const term of terms) {
    const t = Array.from(term);
    for (let i = 0; i + t.length <= lower.length; i++) {
      if (i > 0 && /[\p{L}\p{N}]/u.test(lower[i - 1])) continue;
      let ok = true;
      for (let j = 0; j < t.length && ok; j++) ok = lower[i + j] === t[j];
      if (ok) marks.push([i, i + t.length]);
    }
  }
  marks.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const m of marks) {
    const last = merged[merged.length - 1];
    if (last && m[0] <= last[1]) last[1] = Math.max(last[1], m[1]);
    else merged.push([m[0], m[1]]);
  }
  return merged;
}

/** Most characters in a snippet. */
const SNIPPET_CHARS = 120;

/** One line of `body` around the first match (its start when none), with its marks. */
function snippetOf(body: string, terms: string[]): { snippet: string; marks: [number, number][] } {
  const lines = body.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.find((l) => marksIn(l, terms).length > 0) ?? lines[0] ?? "";
  let chars = Array.from(line);
  const first = marksIn(line, terms)[0];
  let start = 0;
  if (first && first[0] > SNIPPET_CHARS / 2) start = first[0] - 20;
  chars = chars.slice(start, start + SNIPPET_CHARS);
  const snippet = (start > 0 ? "…" : "") + chars.join("");
  return { snippet, marks: marksIn(snippet, terms) };
}

/** The documents of `docs` that match `query`, best first, at most `limit`. */
export function searchDocs(
  docs: SearchDoc[],
  query: string,
  limit: number,
  names: SearchNames,
): { items: Hit[]; total: number } {
  const q = parseSearch(query);
  const spaceIds = q.spaces.map((s) => names.spaceId(s));
  const found = docs.filter((d) => {
    if (q.kinds.length > 0 && !q.kinds.includes(d.kind)) return false;
    if (q.tags.some((t) => !d.tags.includes(t))) return false;
    if (spaceIds.length > 0 && !spaceIds.includes(d.space)) return false;
    if (q.authors.some((a) => !names.authorName(d.author).toLowerCase().includes(a))) return false;
    const text = `${d.title}\n${d.body}`;
    return q.terms.every((t) => marksIn(text, [t]).length > 0);
  });
  if (q.terms.length === 0 && q.tags.length === 0 && q.kinds.length === 0 && q.spaces.length === 0 && q.authors.length === 0) {
    return { items: [], total: 0 };
  }
  const scored = found.map((d) => ({ d, inTitle: marksIn(d.title, q.terms).length }));
  scored.sort((a, b) => b.inTitle - a.inTitle || b.d.updated_at - a.d.updated_at);
  const items = scored.slice(0, limit).map(({ d, inTitle }, i): Hit => {
    const { snippet, marks } = snippetOf(d.body, q.terms);
    return {
      id: d.id,
      kind: d.kind,
      title: d.title,
      title_marks: marksIn(d.title, q.terms),
      space: d.space,
      space_name: names.spaceName(d.space),
      snippet,
      snippet_marks: marks,
      tags: d.tags,
      author: d.author,
      updated_at: d.updated_at,
      score: scored.length - i + inTitle,
    };
  });
  return { items, total: found.length };
}

/** The targets of the `[[wiki links]]` in `body` (`[[target|label]]` and `[[target#part]]` name
 * `target`), in order. */
export function wikiTargets(body: string): string[] {
  const out: string[] = [];
  for (const m of body.matchAll(/\[\[([^\]\n]+)\]\]/g)) {
    const target = m[1].split("|")[0].split("#")[0].trim();
    if (target !== "") out.push(target);
  }
  return out;
}
