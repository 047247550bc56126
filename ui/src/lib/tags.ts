// Tags as the user types them ("rust, Async #db") and as the node stores them.
// Mirrors `tacit_core::text::normalize_tag` so that what the editor shows after a save is what
// the node holds: trimmed, a leading `#` removed, lowercase, de-duplicated in order.

/** Longest tag the node accepts, in characters. */
export const MAX_TAG_CHARS = 64;
/** Most tags on one document. */
export const MAX_TAGS = 32;

const VALID = /^[\p{L}\p{N}\-_/.]+$/u;

/** One tag as the node stores it, or null when the node would refuse it. */
export function normalizeTag(raw: string): string | null {
  let t = raw.trim();
  if (t.startsWith("#")) t = t.slice(1);
  t = t.toLowerCase();
  if (t.length === 0 || [...t].length > MAX_TAG_CHARS || !VALID.test(t)) return null;
  return t;
}

/** The result of reading a tags field. */
export interface ParsedTags {
  /** Normalised, de-duplicated, in the order typed. */
  tags: string[];
  /** Pieces the node would refuse, as typed. */
  invalid: string[];
}

/** Splits on commas and whitespace and normalises each piece. */
export function parseTags(text: string): ParsedTags {
  const tags: string[] = [];
  const invalid: string[] = [];
  for (const piece of text.split(/[\s,]+/)) {
    if (piece === "" || piece === "#") continue;
    const t = normalizeTag(piece);
    if (t === null) invalid.push(piece);
    else if (!tags.includes(t)) tags.push(t);
  }
  return { tags, invalid };
}

/** Tags as the text of a tags field. */
export function formatTags(tags: readonly string[]): string {
  return tags.join(", ");
}

/** Whether two tag lists hold the same tags (order ignored). */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((t) => s.has(t));
}

const INLINE = /(?<=^|\s)#([\p{L}\p{N}\-_/]+(?:\.[\p{L}\p{N}\-_/]+)*)/gu;

/**
 * Inline `#tags` in a Markdown body, normalised, de-duplicated, in order; at most MAX_TAGS.
 * Mirrors `tacit_core::markdown::inline_tags` closely enough for the editor to show them as the
 * user types (the node's reading is the one that counts): not in fenced code or `code spans`,
 * not a heading's `# `, not only digits (`#1`).
 */
export function inlineTags(body: string): string[] {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of body.split("\n")) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (marker) {
      if (fence === null) fence = marker[1][0];
      else if (marker[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null || /^( {4}|\t)/.test(line)) continue;
    const prose = line.replace(/`[^`]*`/g, (m) => " ".repeat(m.length));
    for (const m of prose.matchAll(INLINE)) {
      if (/^\p{N}+$/u.test(m[1])) continue;
      const t = normalizeTag(m[1]);
      if (t !== null && !out.includes(t)) {
        out.push(t);
        if (out.length === MAX_TAGS) return out;
      }
    }
  }
  return out;
}
