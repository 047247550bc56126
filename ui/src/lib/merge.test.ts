import { history, undo } from "@codemirror/commands";
import { ChangeSet, EditorSelection, EditorState, Transaction } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { applyRemote, createEditor, flashRanges, remoteHighlight, remoteSpec } from "./editor";
import {
  type Base,
  diffChanges,
  effectiveTitle,
  mergeFields,
  normalizeBody,
  rebaseBody,
  sameHeads,
} from "./merge";

/** An editor on `base` where the user made `edits` (each a ChangeSet spec), with the cursor at
 * `cursor` afterwards; returns the state and the composed pending changes. */
function typed(
  base: string,
  edits: { from: number; to?: number; insert?: string }[],
  cursor?: number,
) {
  let state = EditorState.create({ doc: base, extensions: [history(), remoteHighlight] });
  let pending = ChangeSet.empty(base.length);
  for (const e of edits) {
    const tr = state.update({ changes: e, userEvent: "input.type" });
    pending = pending.compose(tr.changes);
    state = tr.state;
  }
  if (cursor !== undefined) state = state.update({ selection: EditorSelection.cursor(cursor) }).state;
  return { state, pending };
}

/** Applies the remote text the way the editor does. */
function rebase(base: string, edits: Parameters<typeof typed>[1], remote: string, cursor?: number) {
  const t = typed(base, edits, cursor);
  const r = rebaseBody(base, t.pending, remote);
  const state = t.state.update(remoteSpec(r.remote, r.inserted)).state;
  return { ...r, state, before: t.state };
}

describe("diffChanges", () => {
  it("turns one text into the other", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["", "abc"],
      ["abc", ""],
      ["hello world", "hello brave new world"],
      ["line one\nline two\nline three", "line one\nline 2\nline three\nline four"],
      ["emoji 👍 here", "emoji 👎 here"],
    ];
    for (const [a, b] of cases) {
      const cs = diffChanges(a, b);
      expect(cs.length).toBe(a.length);
      expect(cs.apply(EditorState.create({ doc: a }).doc).toString()).toBe(b);
    }
  });
  it("is empty for equal texts", () => {
    expect(diffChanges("same", "same").empty).toBe(true);
  });
});

describe("rebaseBody", () => {
  const base = "alpha\nbravo\ncharlie\n";

  it("keeps the user's typing when the remote edit is before the cursor", () => {
    // User appends to the last line; elsewhere someone rewrote the first.
    const at = base.indexOf("charlie") + "charlie".length;
    const r = rebase(base, [{ from: at, insert: " delta" }], "ALPHA!\nbravo\ncharlie\n", at + 6);
    expect(r.state.doc.toString()).toBe("ALPHA!\nbravo\ncharlie delta\n");
    // The cursor stays after what the user typed, shifted by the remote insert.
    expect(r.state.selection.main.head).toBe(at + 6 + 1);
    // What is still unsaved, on top of the remote text, is exactly the user's typing.
    expect(r.pending.apply(EditorState.create({ doc: "ALPHA!\nbravo\ncharlie\n" }).doc).toString()).toBe(
      r.state.doc.toString(),
    );
  });

  it("keeps the user's typing when the remote edit is after the cursor", () => {
    const r = rebase(base, [{ from: 0, insert: "zero\n" }], "alpha\nbravo\ncharlie\necho\n", 5);
    expect(r.state.doc.toString()).toBe("zero\nalpha\nbravo\ncharlie\necho\n");
    expect(r.state.selection.main.head).toBe(5);
  });

  it("merges edits to the same line", () => {
    // User changes "bravo" → "bravo two"; remote changes "bravo" → "BRAVO".
    const at = base.indexOf("bravo") + 5;
    const r = rebase(base, [{ from: at, insert: " two" }], "alpha\nBRAVO\ncharlie\n", at + 4);
    expect(r.state.doc.toString()).toBe("alpha\nBRAVO two\ncharlie\n");
    expect(r.state.selection.main.head).toBe(at + 4);
  });

  it("keeps both when both insert at the same place (remote first)", () => {
    const at = base.length;
    const r = rebase(base, [{ from: at, insert: "mine" }], base + "theirs", at + 4);
    expect(r.state.doc.toString()).toBe(base + "theirsmine");
    expect(r.state.selection.main.head).toBe(r.state.doc.length);
  });

  it("keeps a remote insert inside text the user deleted", () => {
    const from = base.indexOf("bravo");
    const r = rebase(base, [{ from, to: from + 6 }], "alpha\nbravissimo\ncharlie\n");
    const text = r.state.doc.toString();
    expect(text.startsWith("alpha\n")).toBe(true);
    expect(text).toContain("issim");
    expect(text).not.toContain("bravo");
    expect(text.endsWith("charlie\n")).toBe(true);
  });

  it("survives a remote deletion of the text around the user's insert", () => {
    const at = base.indexOf("bravo") + 2;
    const r = rebase(base, [{ from: at, insert: "XX" }], "alpha\ncharlie\n");
    const text = r.state.doc.toString();
    expect(text).toContain("XX");
    expect(text).toContain("alpha\n");
    expect(text).toContain("charlie\n");
    expect(text).not.toContain("bravo");
  });

  it("keeps a local deletion next to a remote edit", () => {
    // User deletes "bravo\n"; remote changed "charlie" to "Charlie".
    const from = base.indexOf("bravo");
    const r = rebase(base, [{ from, to: from + 6 }], "alpha\nbravo\nCharlie\n");
    expect(r.state.doc.toString()).toBe("alpha\nCharlie\n");
  });

  it("reports the inserted ranges in the new text and highlights them", () => {
    const r = rebase(base, [{ from: 0, insert: ">> " }], "alpha\nbravo\nNEW\ncharlie\n");
    const text = r.state.doc.toString();
    expect(r.inserted.map((x) => text.slice(x.from, x.to)).join("")).toBe("NEW\n");
    expect(flashRanges(r.state).map((x) => text.slice(x.from, x.to)).join("")).toBe("NEW\n");
  });

  it("is not undone by the user's undo", () => {
    const t = typed(base, [{ from: 0, insert: "mine " }]);
    const r = rebaseBody(base, t.pending, base + "remote\n");
    let state = t.state.update(remoteSpec(r.remote, r.inserted)).state;
    expect(state.doc.toString()).toBe("mine " + base + "remote\n");
    undo({ state, dispatch: (tr: Transaction) => (state = tr.state) });
    expect(state.doc.toString()).toBe(base + "remote\n");
  });

  it("normalises CRLF from the node", () => {
    expect(normalizeBody("a\r\nb\rc")).toBe("a\nb\nc");
    const r = rebaseBody("a\nb", ChangeSet.empty(3), "a\r\nb\r\nc");
    expect(r.remote.apply(EditorState.create({ doc: "a\nb" }).doc).toString()).toBe("a\nb\nc");
  });

  it("reports the user's changes, not the remote ones, from a real editor view", () => {
    const seen: ChangeSet[] = [];
    const parent = document.createElement("div");
    document.body.append(parent);
    const view = createEditor(parent, base, { label: "body", testid: "note-body", onUserChange: (c) => seen.push(c) });
    expect(parent.querySelector('[data-testid="note-body"] .cm-content')).not.toBeNull();
    view.dispatch({ changes: { from: 0, insert: "x" }, selection: { anchor: 1 }, userEvent: "input.type" });
    expect(seen.length).toBe(1);
    const r = rebaseBody(base, seen[0], base + "y");
    applyRemote(view, r.remote, r.inserted);
    expect(seen.length).toBe(1);
    expect(view.state.doc.toString()).toBe("x" + base + "y");
    expect(view.state.selection.main.head).toBe(1);
    view.destroy();
    parent.remove();
  });
});

describe("fields", () => {
  const base: Base = { title: "Plan", body: "b", tags: ["a"], heads: ["h1"] };

  it("takes the remote title and tags when the user left them", () => {
    const m = mergeFields(base, { title: "Plan", tags: ["a"], body: "b" }, { title: "Plan v2", tags: ["a", "b"] });
    expect(m).toMatchObject({ title: "Plan v2", tags: ["a", "b"], keptTitle: false, keptTags: false });
  });

  it("keeps the user's title and tags when they changed them", () => {
    const m = mergeFields(base, { title: "My plan", tags: ["z"], body: "b" }, { title: "Plan v2", tags: ["b"] });
    expect(m).toMatchObject({ title: "My plan", tags: ["z"], keptTitle: true, keptTags: true });
  });

  it("derives a title from the body when none is typed", () => {
    expect(effectiveTitle("  Typed  ", "body")).toBe("Typed");
    expect(effectiveTitle("", "\n\n# First line\nsecond")).toBe("First line");
    expect(effectiveTitle("", "   ")).toBe("Untitled");
    expect(effectiveTitle("a\nb", "")).toBe("a b");
    expect([...effectiveTitle("", "x".repeat(500))].length).toBe(300);
  });

  it("compares heads as sets", () => {
    expect(sameHeads(["b", "a"], ["a", "b"])).toBe(true);
    expect(sameHeads(["a"], ["a", "b"])).toBe(false);
    expect(sameHeads([], [])).toBe(true);
  });
});
