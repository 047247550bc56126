// Merging a note's remote changes into the editor without losing what the user typed.
//
// The editor keeps a *base*: the title, body, tags and heads last known to match the node.
// What the user typed since is `pending`, a CodeMirror ChangeSet from base.body to the editor's
// text (the composition of the user's transactions). When the note changed elsewhere (remote
// text R), the remote change is the diff base.body → R; mapped over `pending` it applies to the
// editor's text, and `pending` mapped over it becomes the user's changes on top of R. Both paths
// reach the same text, so unsaved typing survives and the other edit is never undone.

import { ChangeSet, Text } from "@codemirror/state";
import diff from "fast-diff";
import { sameTags } from "./tags";

/** Longest title the node accepts, in characters. */
export const MAX_TITLE_CHARS = 300;

/** What the editor last knew to match the node. */
export interface Base {
  title: string;
  body: string;
  tags: string[];
  heads: string[];
}

/** A range of the editor's text, [from, to). */
export interface Range {
  from: number;
  to: number;
}

/** The editor's text model: lines split on "\n" only (CodeMirror normalises "\r\n"). */
export function normalizeBody(body: string): string {
  return body.replace(/\r\n?/g, "\n");
}

/** A CodeMirror document for `text`. */
export function textOf(text: string): Text {
  return Text.of(normalizeBody(text).split("\n"));
}

/** The changes that turn `a` into `b`, as a character diff. */
export function diffChanges(a: string, b: string): ChangeSet {
  const specs: { from: number; to?: number; insert?: string }[] = [];
  let pos = 0;
  for (const [op, text] of diff(a, b)) {
    if (op === diff.EQUAL) {
      pos += text.length;
    } else if (op === diff.DELETE) {
      specs.push({ from: pos, to: pos + text.length });
      pos += text.length;
    } else {
      specs.push({ from: pos, insert: text });
    }
  }
  return ChangeSet.of(specs, a.length);
}

/** What rebasing the editor over a remote body gives. */
export interface Rebased {
  /** Apply to the editor's current text: brings in the remote change. */
  remote: ChangeSet;
  /** The user's unsaved changes, now from the remote body to the editor's new text. */
  pending: ChangeSet;
  /** Ranges of the editor's new text that the remote change inserted. */
  inserted: Range[];
}

/** Brings the change base → `remoteBody` into an editor whose text is `pending` applied to
 * `baseBody`. On an insert at the same place, the remote text goes first. */
export function rebaseBody(baseBody: string, pending: ChangeSet, remoteBody: string): Rebased {
  const remoteFromBase = diffChanges(baseBody, normalizeBody(remoteBody));
  const remote = remoteFromBase.map(pending, true);
  const mappedPending = pending.map(remoteFromBase, false);
  const inserted: Range[] = [];
  remote.iterChanges((_fromA, _toA, fromB, toB) => {
    if (toB > fromB) inserted.push({ from: fromB, to: toB });
  });
  return { remote, pending: mappedPending, inserted };
}

/** A title as the node stores it: trimmed, one line. */
export function normalizeTitle(title: string): string {
  return title.trim().replace(/[\r\n]+/g, " ");
}

/** The title a note is stored under: the typed title, else the body's first non-empty line
 * (without Markdown heading marks), else "Untitled". */
export function effectiveTitle(title: string, body: string): string {
  const typed = normalizeTitle(title);
  if (typed !== "") return clip(typed);
  for (const line of body.split("\n")) {
    const l = line.replace(/^\s{0,3}#{1,6}\s+/, "").trim();
    if (l !== "") return clip(l);
  }
  return "Untitled";
}

function clip(title: string): string {
  const chars = [...title];
  return chars.length > MAX_TITLE_CHARS ? chars.slice(0, MAX_TITLE_CHARS).join("") : title;
}

/** Whether the user changed the title since base. */
export function titleChanged(base: Base, title: string, body: string): boolean {
  return effectiveTitle(title, body) !== base.title;
}

/** The title and tags after a remote change: the remote value where the user left the field
 * as it was at base, the user's own where they changed it. */
export function mergeFields(
  base: Base,
  local: { title: string; tags: string[]; body: string },
  remote: { title: string; tags: string[] },
): { title: string; tags: string[]; keptTitle: boolean; keptTags: boolean } {
  const keptTitle = titleChanged(base, local.title, local.body);
  const keptTags = !sameTags(local.tags, base.tags);
  return {
    title: keptTitle ? local.title : remote.title,
    tags: keptTags ? local.tags : [...remote.tags],
    keptTitle,
    keptTags,
  };
}

/** Whether two head sets are the same (order ignored). */
export function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((h, i) => h === sb[i]);
}
