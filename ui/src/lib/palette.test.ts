import { describe, expect, it } from "vitest";
import type { ListItem } from "./bindings";
import { commandText, isCommandQuery, markSegments, matches, paletteMatches, queryKind, withKind, type PaletteEntry } from "./palette";

function item(id: string, title: string, kind: "note" | "question" = "note"): ListItem {
  return { id, kind, title, tags: [], author: "m", space: "s", created_at: 0, updated_at: 0, answers: 0, accepted: false };
}

const cmds: PaletteEntry[] = [
  { id: "cmd:new-note", kind: "command", title: "New note" },
  { id: "cmd:ask", kind: "command", title: "Ask a question" },
];

describe("palette", () => {
  it("matches every word, in any order, ignoring case", () => {
    expect(matches("Restart the Ingest worker", "ingest restart")).toBe(true);
    expect(matches("Restart the Ingest worker", "ingest db")).toBe(false);
    expect(matches("anything", "  ")).toBe(true);
  });
  it("lists commands for an empty query", () => {
    expect(paletteMatches("", cmds, [item("1", "x")], []).map((e) => e.id)).toEqual(["cmd:new-note", "cmd:ask"]);
  });
  it("puts commands first, then titles that start with the query", () => {
    const notes = [item("n1", "Why note pins"), item("n2", "Note on deploys")];
    const qs = [item("q1", "Note taking?", "question")];
    const ids = paletteMatches("note", cmds, notes, qs).map((e) => e.id);
    expect(ids).toEqual(["cmd:new-note", "n2", "q1", "n1"]);
  });
});

describe("palette spaces", () => {
  const spaces = [
    { id: "space:a", kind: "space" as const, title: "Platform team" },
    { id: "space:b", kind: "space" as const, title: "Partner pilot" },
  ];

  it("lists spaces to switch to after the commands, matched by name or by 'space'", () => {
    const cmds = [{ id: "cmd:new-space", kind: "command" as const, title: "New space" }];
    expect(paletteMatches("", cmds, [], [], spaces).map((e) => e.id)).toEqual(["cmd:new-space", "space:a", "space:b"]);
    expect(paletteMatches("pilot", cmds, [], [], spaces).map((e) => e.id)).toEqual(["space:b"]);
    expect(paletteMatches("space", cmds, [], [], spaces).map((e) => e.id)).toEqual(["cmd:new-space", "space:a", "space:b"]);
  });
});

describe("palette search helpers", () => {
  it("cuts text into marked pieces by code point offsets", () => {
    expect(markSegments("Deploy checklist", [[0, 6]])).toEqual([
      { text: "Deploy", mark: true },
      { text: " checklist", mark: false },
    ]);
    // Astral characters count once (offsets are code points, not UTF-16 units).
    expect(markSegments("🚀 launch day", [[2, 8]])).toEqual([
      { text: "🚀 ", mark: false },
      { text: "launch", mark: true },
      { text: " day", mark: false },
    ]);
  });

  it("tolerates marks out of order, overlapping or out of bounds", () => {
    expect(markSegments("abcdef", [[4, 99], [0, 2], [1, 3], [5, 2]])).toEqual([
      { text: "abc", mark: true },
      { text: "d", mark: false },
      { text: "ef", mark: true },
    ]);
    expect(markSegments("", [])).toEqual([{ text: "", mark: false }]);
  });

  it("reads and sets the kind filter in the query", () => {
    expect(queryKind("deploy kind:question")).toBe("question");
    expect(queryKind("deploy")).toBe(null);
    expect(withKind("deploy kind:question", "note")).toBe("deploy kind:note ");
    expect(withKind("kind:note deploy", null)).toBe("deploy");
    expect(withKind("", "question")).toBe("kind:question ");
  });

  it("knows a command query", () => {
    expect(isCommandQuery("> export")).toBe(true);
    expect(commandText("> export")).toBe("export");
    expect(isCommandQuery("export")).toBe(false);
  });
});
