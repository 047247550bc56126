import { ChangeSet, Text } from "@codemirror/state";
import { syntaxTree } from "@codemirror/language";
import { describe, expect, it } from "vitest";
import { HIGHLIGHT_PARAGRAPH_MAX, applyRemote, createEditor, highlightable } from "./editor";

// A member's note can hold a paragraph the Markdown parser takes minutes over (1 MB of `[a](`):
// the editor shows such a note as plain text instead of freezing the window. Not timed: a
// parse of it would not finish within the test's time.
describe("the editor on a hostile note", () => {
  const hostile = "Intro with **bold**.\n\n" + "[a](".repeat(256 * 1024);

  it("highlights no paragraph past the bound", () => {
    expect(highlightable(Text.of(["# Title", "", "x".repeat(HIGHLIGHT_PARAGRAPH_MAX - 10)]))).toBe(true);
    expect(highlightable(Text.of(hostile.split("\n")))).toBe(false);
    // Many short paragraphs are fine, however long the note.
    const many = Array.from({ length: 5_000 }, (_, i) => `Paragraph ${i}.\n`);
    expect(highlightable(Text.of(many.join("\n").split("\n")))).toBe(true);
  });

  it("opens such a note as plain text, and turns highlighting off when a peer's change brings one", () => {
    const parent = document.createElement("div");
    document.body.append(parent);
    const view = createEditor(parent, hostile, { label: "body", onUserChange: () => {} });
    expect(syntaxTree(view.state).length).toBe(0);
    view.destroy();

    const honest = createEditor(parent, "# Plan\n\nSome *text*.", { label: "body", onUserChange: () => {} });
    expect(syntaxTree(honest.state).length).toBeGreaterThan(0);
    const len = honest.state.doc.length;
    const change = ChangeSet.of({ from: len, insert: "\n\n" + "[a](".repeat(256 * 1024) }, len);
    applyRemote(honest, change, []);
    expect(syntaxTree(honest.state).length).toBe(0);
    honest.destroy();
    parent.remove();
  });
});
