// The CodeMirror 6 Markdown editor of a note's body: wrapping, undo history, Markdown syntax,
// and the short highlight that marks text a remote change inserted.

import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import {
  Annotation,
  type ChangeSet,
  Compartment,
  EditorState,
  type Extension,
  StateEffect,
  StateField,
  Text,
  Transaction,
} from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  EditorView,
  drawSelection,
  highlightActiveLine,
  keymap,
  placeholder,
} from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import type { Range } from "./merge";

/** How long the highlight of remotely inserted text lasts, in ms (the CSS fade matches). */
export const FLASH_MS = 1500;

/** Marks a transaction that brings in a change made elsewhere. */
export const remoteChange = Annotation.define<boolean>();

const addFlash = StateEffect.define<{ batch: number; ranges: Range[] }>({
  map: (v, changes) => ({
    batch: v.batch,
    ranges: v.ranges
      .map((r) => ({ from: changes.mapPos(r.from, 1), to: changes.mapPos(r.to, -1) }))
      .filter((r) => r.to > r.from),
  }),
});
const clearFlash = StateEffect.define<number>();

const flashField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(addFlash)) {
        const marks = e.value.ranges
          .filter((r) => r.to > r.from)
          .map((r) =>
            Decoration.mark({ class: "cm-remote-flash", batch: e.value.batch }).range(r.from, r.to),
          );
        deco = deco.update({ add: marks, sort: true });
      } else if (e.is(clearFlash)) {
        const batch = e.value;
        deco = deco.update({ filter: (_f, _t, d) => d.spec.batch !== batch });
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

const markdownStyle = HighlightStyle.define([
  { tag: t.heading1, fontWeight: "650", fontSize: "1.25em" },
  { tag: t.heading2, fontWeight: "650", fontSize: "1.12em" },
  { tag: [t.heading3, t.heading4, t.heading5, t.heading6], fontWeight: "650" },
  { tag: t.strong, fontWeight: "650" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strikethrough, textDecoration: "line-through" },
  { tag: t.link, color: "var(--accent-text)" },
  { tag: t.url, color: "var(--text-muted)" },
  { tag: t.monospace, fontFamily: "var(--font-mono)", fontSize: "0.93em" },
  { tag: [t.processingInstruction, t.meta], color: "var(--text-muted)" },
  { tag: t.quote, color: "var(--text-muted)" },
]);

const theme = EditorView.theme({
  "&": { color: "var(--text)", backgroundColor: "transparent", fontSize: "var(--size-body)" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--font-ui)", lineHeight: "1.6", overflow: "auto" },
  ".cm-content": { caretColor: "var(--text)", padding: "0 0 40vh", maxWidth: "72ch" },
  ".cm-line": { padding: "0" },
  ".cm-activeLine": { backgroundColor: "transparent" },
  "&.cm-focused .cm-cursor": { borderLeftColor: "var(--text)" },
  ".cm-selectionBackground, &.cm-focused .cm-selectionBackground, ::selection": {
    backgroundColor: "var(--selection) !important",
  },
  ".cm-placeholder": { color: "var(--text-muted)" },
});

/** Options of a new editor. */
export interface EditorOptions {
  /** The user changed the text (typing, paste, undo): not called for remote changes. */
  onUserChange: (changes: ChangeSet) => void;
  onBlur?: () => void;
  /** Accessible name of the text area. */
  label: string;
  /** `data-testid` of the editor's outer element. */
  testid?: string;
  placeholder?: string;
  extra?: Extension[];
}

/** A paragraph (lines between blank lines) longer than this turns Markdown highlighting off.
 *  The Markdown parser reads a paragraph's inline text in one go, in time that grows with its
 *  square on some text: a member's note of 20 KB of `[a](` took 344 ms to parse, 1 MB many
 *  minutes, all of it on the window's thread. Plain text shows such a note at once. */
export const HIGHLIGHT_PARAGRAPH_MAX = 16 * 1024;

/** Whether `doc` is highlighted as Markdown: no paragraph past [`HIGHLIGHT_PARAGRAPH_MAX`]. */
export function highlightable(doc: Text): boolean {
  let run = 0;
  const lines = doc.iterLines();
  for (lines.next(); !lines.done; lines.next()) {
    if (lines.value.trim() === "") {
      run = 0;
    } else {
      run += lines.value.length + 1;
      if (run > HIGHLIGHT_PARAGRAPH_MAX) return false;
    }
  }
  return true;
}

const language = new Compartment();
const HIGHLIGHTED: Extension = [markdown(), syntaxHighlighting(markdownStyle)];
const PLAIN: Extension = [];

/** Text inserted at once (a paste, a peer's change) past which highlighting is decided again. */
const RECHECK_INSERTED = 1024;

/** Turns highlighting off in the same transaction that brings a paragraph past the bound (and
 *  on again once none is), so that the parser never starts on it. While highlighting is on,
 *  only a large insertion is checked; while it is off, every change is (a pass over the lines,
 *  no parse). */
const highlightGuard = EditorState.transactionExtender.of((tr) => {
  if (!tr.docChanged) return null;
  let inserted = 0;
  tr.changes.iterChanges((_fa, _ta, _fb, _tb, text) => {
    inserted += text.length;
  });
  const on = language.get(tr.startState) === HIGHLIGHTED;
  if (on && inserted < RECHECK_INSERTED) return null;
  const want = highlightable(tr.newDoc);
  if (want === on) return null;
  return { effects: language.reconfigure(want ? HIGHLIGHTED : PLAIN) };
});

/** The editor's extensions, for a first text `doc`. */
export function extensions(opts: EditorOptions, doc: Text = Text.empty): Extension[] {
  return [
    history(),
    drawSelection(),
    highlightActiveLine(),
    EditorView.lineWrapping,
    language.of(highlightable(doc) ? HIGHLIGHTED : PLAIN),
    highlightGuard,
    keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
    flashField,
    theme,
    placeholder(opts.placeholder ?? ""),
    EditorView.contentAttributes.of({ "aria-label": opts.label, "aria-multiline": "true" }),
    EditorView.editorAttributes.of(opts.testid ? { "data-testid": opts.testid } : {}),
    EditorView.updateListener.of((u) => {
      for (const tr of u.transactions) {
        if (tr.docChanged && !tr.annotation(remoteChange)) opts.onUserChange(tr.changes);
      }
    }),
    EditorView.domEventHandlers({
      blur: () => {
        opts.onBlur?.();
        return false;
      },
    }),
    ...(opts.extra ?? []),
  ];
}

/** A new editor holding `doc`, inside `parent`. */
export function createEditor(parent: HTMLElement, doc: string, opts: EditorOptions): EditorView {
  // The text made once (split as CodeMirror splits it), for the state and the highlighting
  // decision both.
  const text = Text.of(doc.split(/\r\n?|\n/));
  return new EditorView({
    parent,
    state: EditorState.create({ doc: text, extensions: extensions(opts, text) }),
  });
}

let batches = 0;

/** Applies a change made elsewhere: not the user's, not undoable; the cursor and selection map
 * through it, and what it inserted is highlighted for a moment. */
export function applyRemote(view: EditorView, changes: ChangeSet, inserted: Range[]): void {
  const batch = ++batches;
  view.dispatch({
    changes,
    effects: inserted.length > 0 ? [addFlash.of({ batch, ranges: inserted })] : [],
    annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
  });
  if (inserted.length > 0) {
    setTimeout(() => {
      // The view may have closed meanwhile.
      try {
        view.dispatch({ effects: clearFlash.of(batch) });
      } catch {
        /* closed */
      }
    }, FLASH_MS + 100);
  }
}

/** The highlight of remote inserts, alone (for tests that drive an EditorState). */
export const remoteHighlight: Extension = flashField;

/** The highlighted ranges in `state` (for tests). */
export function flashRanges(state: EditorState): Range[] {
  const out: Range[] = [];
  state.field(flashField).between(0, state.doc.length, (from, to) => {
    out.push({ from, to });
  });
  return out;
}

/** `remoteChange` transaction spec parts, for tests driving an EditorState directly. */
export function remoteSpec(changes: ChangeSet, inserted: Range[]) {
  return {
    changes,
    effects: inserted.length > 0 ? [addFlash.of({ batch: ++batches, ranges: inserted })] : [],
    annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
  };
}
